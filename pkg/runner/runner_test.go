package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
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

// keep feeds rows to a rowKeeper of max rows, in the order given.
func keep(max int, fs []FindingSummary) ([]FindingSummary, int) {
	k := newRowKeeper(max)
	for _, f := range fs {
		k.add(f)
	}
	return k.rows()
}

func TestRowKeeperDropsPassedFirst(t *testing.T) {
	var fs []FindingSummary
	for i := 9; i >= 0; i-- { // arrival order is not the reply's order
		st := check.Passed
		if i%3 == 0 {
			st = check.Failed
		}
		fs = append(fs, FindingSummary{ResourceARN: string(rune('a' + i)), Status: st})
	}
	got, omitted := keep(6, fs)
	var arns string
	for _, f := range got {
		arns += f.ResourceARN
	}
	// The 4 FAILED (a, d, g, j) and the first 2 PASSED (b, c), in order.
	if arns != "abcdgj" || omitted != 4 {
		t.Errorf("kept %q, omitted %d", arns, omitted)
	}
	if got, omitted := keep(20, fs); len(got) != 10 || omitted != 0 {
		t.Errorf("under the cap: %d kept, %d omitted", len(got), omitted)
	}
}

func TestRowKeeperKeepsFailedBeforeNotAvailable(t *testing.T) {
	fs := []FindingSummary{
		{ResourceARN: "na1", Status: check.NotAvailable}, {ResourceARN: "p1", Status: check.Passed},
		{ResourceARN: "na2", Status: check.NotAvailable}, {ResourceARN: "f2", Status: check.Failed}, {ResourceARN: "f1", Status: check.Failed},
	}
	got, omitted := keep(3, fs)
	if omitted != 2 || len(got) != 3 || got[0].ResourceARN != "f1" || got[1].ResourceARN != "f2" || got[2].ResourceARN != "na1" {
		t.Errorf("omitted %d, kept %+v", omitted, got)
	}
}

// TestRowKeeperEqualsSortThenCap: streaming rows through the keeper gives
// what sorting every row and capping would, for any arrival order.
func TestRowKeeperEqualsSortThenCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []check.Status{check.Passed, check.Failed, check.NotAvailable}
	for trial := range 200 {
		n, max := rng.IntN(60), rng.IntN(25)
		var fs []FindingSummary
		for i := range n {
			fs = append(fs, FindingSummary{CheckID: fmt.Sprint("c", rng.IntN(3)), Region: fmt.Sprint("r", rng.IntN(2)),
				ResourceARN: fmt.Sprint("arn-", i), Status: statuses[rng.IntN(3)]})
		}
		got, omitted := keep(max, fs)
		// The reference: every row sorted, then the first max by status rank.
		all := slices.Clone(fs)
		sortFindings(all)
		var want []FindingSummary
		for r := range 3 {
			for _, f := range all {
				if rank(f.Status) == r && len(want) < max {
					want = append(want, f)
				}
			}
		}
		sortFindings(want)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) || omitted != n-len(want) {
			t.Fatalf("trial %d (n %d, max %d): got %v omitted %d, want %v", trial, n, max, got, omitted, want)
		}
	}
}

func TestInParallelRunsEachOnceAtMostLimitAtATime(t *testing.T) {
	for _, c := range []struct{ n, limit int }{{0, 4}, {1, 4}, {17, 4}, {3, 1}, {5, 0}} {
		var mu sync.Mutex
		running, most := 0, 0
		ran := make([]int, c.n)
		inParallel(c.n, c.limit, func(i int) {
			mu.Lock()
			running++
			most = max(most, running)
			ran[i]++
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
		})
		for i, n := range ran {
			if n != 1 {
				t.Errorf("n=%d limit=%d: fn(%d) ran %d times", c.n, c.limit, i, n)
			}
		}
		if want := min(max(c.limit, 1), c.n); most != want {
			t.Errorf("n=%d limit=%d: %d at once, want %d", c.n, c.limit, most, want)
		}
	}
}

// A service with no endpoint in a region is said once, with the checks it
// leaves unavailable; other errors are not.
func TestNotOfferedIsSaidOncePerService(t *testing.T) {
	gone := func(svc snapshot.Service, op string) snapshot.CollectionError {
		return snapshot.CollectionError{Service: svc, Region: "xx-new-1", Operation: op, Code: collect.EndpointNotFound, Message: "no such host"}
	}
	scopes := []Scope{
		{Region: "xx-new-1", CheckID: "ecr.repository-cmk", Errors: []snapshot.CollectionError{gone(snapshot.ECR, "DescribeRepositories"), gone(snapshot.ECR, "DescribeRepositories")}},
		{Region: "xx-new-1", CheckID: "kms.key-in-use-unhealthy", Errors: []snapshot.CollectionError{gone(snapshot.ECR, "DescribeRepositories")}},
		{Region: "xx-new-1", CheckID: "kms.rotation", Errors: []snapshot.CollectionError{{Service: snapshot.KMS, Code: "AccessDeniedException"}}},
		{Region: "xx-new-1", CheckID: "acm.expiry", Complete: true},
	}
	got := notOffered(scopes)
	if len(got) != 1 || !strings.Contains(got[0], "xx-new-1: ecr has no endpoint") || !strings.Contains(got[0], "ecr.repository-cmk, kms.key-in-use-unhealthy") {
		t.Errorf("notices %q", got)
	}
}

// TestOrganizationModeRefusesPublishingRunsHere: in organization mode the
// worker audits this account, one run per scope; an on-demand run here
// that would publish is refused before any AWS call, naming the planner;
// a dry run goes on (here, to the account's identification).
func TestOrganizationModeRefusesPublishingRunsHere(t *testing.T) {
	asked := 0
	r := &Runner{
		OrganizationPlanner: "posture-auditor-PlannerFunction-abc", Regions: []string{"eu-west-1"},
		Identity: func(context.Context, aws.Config) (string, string, error) {
			asked++
			return "", "", errors.New("identification reached")
		},
		Getenv: func(string) string { return "" },
	}
	for _, payload := range []string{`{}`, `{"regions":["eu-west-1"],"checks":["kms.rotation"]}`,
		`{"resources":["arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]}`} {
		s, err := r.Handle(context.Background(), []byte(payload))
		if err == nil || s != nil || !strings.Contains(err.Error(), "posture-auditor-PlannerFunction-abc") || !strings.Contains(err.Error(), "organization mode") {
			t.Errorf("%s: summary %v, err %v; want the refusal naming the planner", payload, s, err)
		}
	}
	if asked != 0 {
		t.Errorf("a refused run asked STS who it is %d times", asked)
	}
	if _, err := r.Handle(context.Background(), []byte(`{"dryRun":true}`)); err == nil || !strings.Contains(err.Error(), "identification reached") {
		t.Errorf("dry run: %v, want it to run (to the identification)", err)
	}
}
