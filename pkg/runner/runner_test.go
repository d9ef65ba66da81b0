package runner

import (
	"context"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/check"
)

func TestCollectionContextLeavesTimeToPublish(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ left, want time.Duration }{
		{15 * time.Minute, 13 * time.Minute}, // reserve capped at 2 minutes
		{4 * time.Minute, 3 * time.Minute},   // a quarter of what is left
	} {
		ctx, cancel := context.WithDeadline(context.Background(), now.Add(tt.left))
		cctx, ccancel := collectionContext(ctx, now)
		d, _ := cctx.Deadline()
		if got := d.Sub(now); got != tt.want {
			t.Errorf("%v left: collection gets %v, want %v", tt.left, got, tt.want)
		}
		ccancel()
		cancel()
	}
	cctx, ccancel := collectionContext(context.Background(), now)
	defer ccancel()
	if _, ok := cctx.Deadline(); ok {
		t.Error("no deadline in, no deadline out")
	}
}

func TestPublishContextLeavesTimeForTheSummary(t *testing.T) {
	deadline := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	pctx, pcancel := publishContext(ctx)
	defer pcancel()
	if d, _ := pctx.Deadline(); !d.Equal(deadline.Add(-summaryReserve)) {
		t.Errorf("publish deadline %v, want %v", d, deadline.Add(-summaryReserve))
	}
}

func TestCapFindingsDropsPassedFirst(t *testing.T) {
	var fs []FindingSummary
	for i := 0; i < 10; i++ {
		st := check.Passed
		if i%3 == 0 {
			st = check.Failed
		}
		fs = append(fs, FindingSummary{FindingID: string(rune('a' + i)), Status: st})
	}
	got, omitted := capFindings(fs, 6)
	failed := 0
	for _, f := range got {
		if f.Status == check.Failed {
			failed++
		}
	}
	if len(got) != 6 || omitted != 4 || failed != 4 || got[0].FindingID != "a" {
		t.Errorf("kept %d (failed %d), omitted %d: %+v", len(got), failed, omitted, got)
	}
	if got, omitted := capFindings(fs, 20); len(got) != 10 || omitted != 0 {
		t.Errorf("under the cap: %d kept, %d omitted", len(got), omitted)
	}
}

func TestCapFindingsKeepsFailedBeforeNotAvailable(t *testing.T) {
	fs := []FindingSummary{
		{FindingID: "na1", Status: check.NotAvailable}, {FindingID: "p1", Status: check.Passed},
		{FindingID: "na2", Status: check.NotAvailable}, {FindingID: "f1", Status: check.Failed}, {FindingID: "f2", Status: check.Failed},
	}
	got, omitted := capFindings(fs, 3)
	if omitted != 2 || len(got) != 3 || got[0].FindingID != "na1" || got[1].FindingID != "f1" || got[2].FindingID != "f2" {
		t.Errorf("omitted %d, kept %+v", omitted, got)
	}
}
