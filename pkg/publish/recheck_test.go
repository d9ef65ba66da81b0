package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
)

// Times of the re-check tests: t0 an old sweep, then tRun a run's reads,
// then tNowRC the run's clock at publish.
var (
	t0     = time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC) // within RefreshAfter of tNowRC
	tRun   = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	tNowRC = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
)

func ts(t time.Time) string { return asff.Timestamp(t) }

// rcFinding is a finding of check about resource (Resources[0]) in region
// us-east-1 of the test account, as asff.Map makes it, observed at
// observed (zero: without the ObservedAt field) and last updated at
// updated (zero: observed).
func rcFinding(check, resource string, status types.ComplianceStatus, state types.RecordState, observed, updated time.Time) types.AwsSecurityFinding {
	if updated.IsZero() {
		updated = observed
	}
	if updated.IsZero() {
		updated = t0
	}
	pf := map[string]string{"ProviderName": asff.ProductName}
	if !observed.IsZero() {
		pf[publish.ObservedAtField] = ts(observed)
	}
	return types.AwsSecurityFinding{
		SchemaVersion:   aws.String(asff.SchemaVersion),
		Id:              aws.String(asff.FindingID(check, account, region, resource)),
		ProductArn:      aws.String(asff.ProductARN("aws", region, account)),
		GeneratorId:     aws.String(check),
		AwsAccountId:    aws.String(account),
		Region:          aws.String(region),
		Title:           aws.String(check),
		Description:     aws.String(check),
		Types:           []string{"Software and Configuration Checks"},
		CreatedAt:       aws.String(ts(t0)),
		FirstObservedAt: aws.String(ts(t0)),
		LastObservedAt:  aws.String(ts(updated)),
		UpdatedAt:       aws.String(ts(updated)),
		Severity:        &types.Severity{Label: types.SeverityLabelHigh, Original: aws.String("HIGH")},
		Compliance:      &types.Compliance{Status: status},
		RecordState:     state,
		Resources:       []types.Resource{{Id: aws.String(resource), Type: aws.String("AwsKmsKey")}},
		ProductFields:   pf,
	}
}

const (
	rcKeyA = "arn:aws:kms:us-east-1:123456789012:key/a"
	rcKeyB = "arn:aws:kms:us-east-1:123456789012:key/b"
	rcKeyC = "arn:aws:kms:us-east-1:123456789012:key/c"
)

// TestPlanForObservedAt: a stored finding read later than this run's
// observation wins: it is neither replaced nor archived; an equal or
// earlier one, or one without the field, is handled as before.
func TestPlanForObservedAt(t *testing.T) {
	failed, passed := types.ComplianceStatusFailed, types.ComplianceStatusPassed
	active, archived := types.RecordStateActive, types.RecordStateArchived
	later, earlier := tRun.Add(time.Minute), tRun.Add(-time.Minute)
	cases := []struct {
		name       string
		stored     types.AwsSecurityFinding
		observed   []types.AwsSecurityFinding // of the same Id
		archivable bool
		observedAt time.Time // the run's
		// want: the single change's action ("" none), and how many stored
		// findings are superseded / kept.
		action           publish.Action
		superseded, kept int
	}{
		{name: "observed: stored read later is superseded, not replaced",
			stored:   rcFinding("kms.rotation", rcKeyA, passed, active, later, later),
			observed: []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{})}, observedAt: tRun,
			superseded: 1},
		{name: "observed: superseded even when the run's observedAt is zero",
			stored:     rcFinding("kms.rotation", rcKeyA, passed, active, later, later),
			observed:   []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{})},
			superseded: 1},
		{name: "observed: superseded rather than kept failed",
			stored:   rcFinding("kms.rotation", rcKeyA, failed, active, later, later),
			observed: []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, types.ComplianceStatusNotAvailable, "", tRun, time.Time{})}, observedAt: tRun,
			superseded: 1},
		{name: "observed: stored read at the same time is replaced",
			stored:   rcFinding("kms.rotation", rcKeyA, failed, active, tRun, tRun),
			observed: []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, passed, "", tRun, time.Time{})}, observedAt: tRun,
			action: publish.ActionResolved},
		{name: "observed: stored read earlier is replaced",
			stored:   rcFinding("kms.rotation", rcKeyA, failed, active, earlier, earlier),
			observed: []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{})}, observedAt: tRun,
			action: publish.ActionUpdated},
		{name: "observed: stored without the field is replaced",
			stored:   rcFinding("kms.rotation", rcKeyA, failed, active, time.Time{}, later),
			observed: []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{})}, observedAt: tRun,
			action: publish.ActionUpdated},
		{name: "observed: an observation without the field replaces as before",
			stored:   rcFinding("kms.rotation", rcKeyA, failed, active, later, later),
			observed: []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, failed, "", time.Time{}, tRun)}, observedAt: tRun,
			action: publish.ActionUpdated},
		{name: "observed: archived stored read later is superseded too",
			stored:   rcFinding("kms.rotation", rcKeyA, failed, archived, later, later),
			observed: []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{})}, observedAt: tRun,
			superseded: 1},
		{name: "unobserved: stored read after the run's reads is not archived",
			stored: rcFinding("kms.rotation", rcKeyA, failed, active, later, later), archivable: true, observedAt: tRun,
			superseded: 1},
		{name: "unobserved: nor kept (and so never refreshed) when not archivable",
			stored: rcFinding("kms.rotation", rcKeyA, failed, active, later, later), observedAt: tRun,
			superseded: 1},
		{name: "unobserved: stored read at the run's time is archived",
			stored: rcFinding("kms.rotation", rcKeyA, failed, active, tRun, tRun), archivable: true, observedAt: tRun,
			action: publish.ActionArchived},
		{name: "unobserved: stored read earlier is archived",
			stored: rcFinding("kms.rotation", rcKeyA, failed, active, earlier, earlier), archivable: true, observedAt: tRun,
			action: publish.ActionArchived},
		{name: "unobserved: stored without the field is archived",
			stored: rcFinding("kms.rotation", rcKeyA, failed, active, time.Time{}, later), archivable: true, observedAt: tRun,
			action: publish.ActionArchived},
		{name: "unobserved: zero observedAt (MakePlan) archives as before",
			stored: rcFinding("kms.rotation", rcKeyA, failed, active, later, later), archivable: true,
			action: publish.ActionArchived},
		{name: "unobserved: stored read earlier, not archivable, is kept",
			stored: rcFinding("kms.rotation", rcKeyA, failed, active, earlier, earlier), observedAt: tRun,
			kept: 1},
		{name: "unobserved: already archived, read later: nothing",
			stored: rcFinding("kms.rotation", rcKeyA, failed, archived, later, later), archivable: true, observedAt: tRun},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arch := func(types.AwsSecurityFinding) bool { return tc.archivable }
			p := publish.PlanFor([]types.AwsSecurityFinding{tc.stored}, tc.observed, arch, tNowRC, tc.observedAt)
			if len(p.Superseded) != tc.superseded || len(p.Kept) != tc.kept {
				t.Errorf("superseded %d, kept %d; want %d, %d", len(p.Superseded), len(p.Kept), tc.superseded, tc.kept)
			}
			if tc.superseded == 1 && p.Superseded[0].ID != aws.ToString(tc.stored.Id) {
				t.Errorf("superseded %s", p.Superseded[0].ID)
			}
			if tc.action == "" {
				if len(p.Changes) != 0 || len(p.KeptFailed) != 0 {
					t.Fatalf("changes %+v keptFailed %d, want none", p.Changes, len(p.KeptFailed))
				}
				return
			}
			if len(p.Changes) != 1 || p.Changes[0].Action != tc.action {
				t.Fatalf("changes %+v, want one %s", p.Changes, tc.action)
			}
			got, old := p.Changes[0].Finding, tc.stored
			if !after(aws.ToString(got.UpdatedAt), aws.ToString(old.UpdatedAt)) {
				t.Errorf("UpdatedAt %s not after stored %s", aws.ToString(got.UpdatedAt), aws.ToString(old.UpdatedAt))
			}
		})
	}
}

// TestPlanForObservedAtPerFinding: one plan mixes the rule per finding.
func TestPlanForObservedAtPerFinding(t *testing.T) {
	failed := types.ComplianceStatusFailed
	active := types.RecordStateActive
	stored := []types.AwsSecurityFinding{
		rcFinding("kms.rotation", rcKeyA, failed, active, tRun.Add(time.Second), time.Time{}),              // newer: superseded
		rcFinding("kms.rotation", rcKeyB, failed, active, tRun.Add(-time.Second), time.Time{}),             // older: archived
		rcFinding("kms.pending-deletion", rcKeyA, failed, active, tRun.Add(time.Millisecond), time.Time{}), // newer by 1 ms
	}
	p := publish.PlanFor(stored, nil, func(types.AwsSecurityFinding) bool { return true }, tNowRC, tRun)
	if len(p.Superseded) != 2 || len(p.Changes) != 1 || p.Changes[0].Action != publish.ActionArchived ||
		aws.ToString(p.Changes[0].Finding.Id) != aws.ToString(stored[1].Id) {
		t.Fatalf("superseded %d changes %+v", len(p.Superseded), p.Changes)
	}
}

// TestUpdatedAtIsTheObservationTime: an observed finding's UpdatedAt (and
// LastObservedAt) is when its resource was read when that is earlier than
// now, so that Security Hub keeps the later observation of two racing
// paths, but always strictly later than what is stored.
func TestUpdatedAtIsTheObservationTime(t *testing.T) {
	failed := types.ComplianceStatusFailed
	active := types.RecordStateActive
	cases := []struct {
		name     string
		stored   *types.AwsSecurityFinding
		observed types.AwsSecurityFinding
		action   publish.Action
		updated  string
		created  string
	}{
		{name: "new: every timestamp is the observation time",
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{}),
			action:   publish.ActionNew, updated: ts(tRun), created: ts(tRun)},
		{name: "new: an observation after now (clock skew) is clamped to now",
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", tNowRC.Add(time.Hour), time.Time{}),
			action:   publish.ActionNew, updated: ts(tNowRC), created: ts(tNowRC)},
		{name: "new: no observation time: now",
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", time.Time{}, tRun),
			action:   publish.ActionNew, updated: ts(tNowRC), created: ts(tNowRC)},
		{name: "new: sub-millisecond observation time is written in milliseconds",
			observed: withObservedAt(rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{}), "2026-03-04T05:00:00.1234567Z"),
			action:   publish.ActionNew, updated: "2026-03-04T05:00:00.123Z", created: "2026-03-04T05:00:00.123Z"},
		{name: "update: stored earlier than the observation: the observation time",
			stored:   ptr(rcFinding("kms.rotation", rcKeyA, failed, active, t0, t0)),
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{}),
			action:   publish.ActionUpdated, updated: ts(tRun), created: ts(t0)},
		{name: "update: stored imported after the observation: one millisecond after the stored",
			stored:   ptr(rcFinding("kms.rotation", rcKeyA, failed, active, tRun.Add(-time.Hour), tRun.Add(2*time.Minute))),
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{}),
			action:   publish.ActionUpdated, updated: ts(tRun.Add(2*time.Minute + time.Millisecond)), created: ts(t0)},
		{name: "update: stored UpdatedAt equal to the observation: one millisecond later",
			stored:   ptr(rcFinding("kms.rotation", rcKeyA, failed, active, tRun, tRun)),
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{}),
			action:   publish.ActionUpdated, updated: ts(tRun.Add(time.Millisecond)), created: ts(t0)},
		{name: "update: stored without the field, imported after the observation",
			stored:   ptr(rcFinding("kms.rotation", rcKeyA, failed, active, time.Time{}, tRun.Add(time.Second))),
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{}),
			action:   publish.ActionUpdated, updated: ts(tRun.Add(time.Second + time.Millisecond)), created: ts(t0)},
		{name: "update: an observation after now: now",
			stored:   ptr(rcFinding("kms.rotation", rcKeyA, failed, active, t0, t0)),
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", tNowRC.Add(time.Hour), time.Time{}),
			action:   publish.ActionUpdated, updated: ts(tNowRC), created: ts(t0)},
		{name: "reactivation: the observation time",
			stored:   ptr(rcFinding("kms.rotation", rcKeyA, failed, types.RecordStateArchived, t0, t0)),
			observed: rcFinding("kms.rotation", rcKeyA, failed, "", tRun, time.Time{}),
			action:   publish.ActionReactivated, updated: ts(tRun), created: ts(t0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stored []types.AwsSecurityFinding
			if tc.stored != nil {
				stored = append(stored, *tc.stored)
			}
			p := publish.PlanFor(stored, []types.AwsSecurityFinding{tc.observed}, func(types.AwsSecurityFinding) bool { return true }, tNowRC, tRun)
			if len(p.Changes) != 1 || p.Changes[0].Action != tc.action {
				t.Fatalf("changes %+v, want one %s", p.Changes, tc.action)
			}
			f := p.Changes[0].Finding
			got := []string{aws.ToString(f.UpdatedAt), aws.ToString(f.LastObservedAt), aws.ToString(f.CreatedAt)}
			want := []string{tc.updated, tc.updated, tc.created}
			if !slices.Equal(got, want) {
				t.Errorf("UpdatedAt, LastObservedAt, CreatedAt = %v, want %v", got, want)
			}
			if tc.stored != nil && !after(aws.ToString(f.UpdatedAt), aws.ToString(tc.stored.UpdatedAt)) {
				t.Errorf("UpdatedAt %s not strictly after stored %s", aws.ToString(f.UpdatedAt), aws.ToString(tc.stored.UpdatedAt))
			}
			if tc.stored == nil && aws.ToString(f.CreatedAt) != aws.ToString(f.UpdatedAt) {
				t.Errorf("a new finding's CreatedAt %s differs from UpdatedAt %s", aws.ToString(f.CreatedAt), aws.ToString(f.UpdatedAt))
			}
		})
	}
}

// TestLaterObservationWinsOnTheWire: a re-check read the key after the
// sweep did. Whichever path imports last, the hub (AWS semantics: an update
// whose UpdatedAt is not later is ignored) ends with the re-check's view.
func TestLaterObservationWinsOnTheWire(t *testing.T) {
	failed, passed := types.ComplianceStatusFailed, types.ComplianceStatusPassed
	sweepRead, recheckRead := tRun, tRun.Add(30*time.Second)
	old := rcFinding("kms.rotation", rcKeyA, failed, types.RecordStateActive, t0, t0)
	sweepObs := rcFinding("kms.rotation", rcKeyA, failed, "", sweepRead, time.Time{})
	recheckObs := rcFinding("kms.rotation", rcKeyA, passed, "", recheckRead, time.Time{})
	id := aws.ToString(old.Id)
	all := func(types.AwsSecurityFinding) bool { return true }

	// Both paths read back the old finding before either imported; the
	// re-check imports first, then the sweep.
	hub := newSHFake(t)
	hub.seed(toMap(t, old))
	recheck := publish.PlanFor([]types.AwsSecurityFinding{old}, []types.AwsSecurityFinding{recheckObs}, all, recheckRead.Add(time.Second), recheckRead)
	sweep := publish.PlanFor([]types.AwsSecurityFinding{old}, []types.AwsSecurityFinding{sweepObs}, all, recheckRead.Add(time.Minute), sweepRead)
	hub.seed(toMap(t, recheck.Changes[0].Finding))
	hub.seed(toMap(t, sweep.Changes[0].Finding))
	if got := hub.get(id)["Compliance"].(map[string]any)["Status"]; got != "PASSED" || hub.ignored != 1 {
		t.Errorf("racing imports: stored %v, ignored %d; want the re-check's PASSED, the sweep's update ignored", got, hub.ignored)
	}

	// The sweep reads back after the re-check imported: superseded,
	// nothing sent.
	hub = newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)
	hub.seed(toMap(t, old))
	rep := pub.Publish(context.Background(), cfg, publish.Request{Account: account, Partition: "aws", Findings: []types.AwsSecurityFinding{recheckObs},
		Targets: []publish.Target{{ResourceARN: rcKeyA, Checks: []string{"kms.rotation"}, Confirmed: true}}, Now: recheckRead.Add(time.Second), ObservedAt: recheckRead})
	if rep.Resolved != 1 || rep.Imported != 1 {
		t.Fatalf("re-check: %+v", summary(rep))
	}
	calls := hub.importCalls()
	rep = pub.Publish(context.Background(), cfg, publish.Request{Account: account, Partition: "aws", Findings: []types.AwsSecurityFinding{sweepObs},
		Checks: []string{"kms.rotation"}, Archivable: map[string]bool{"kms.rotation": true}, Now: recheckRead.Add(time.Minute), ObservedAt: sweepRead})
	if rep.Superseded != 1 || rep.Updated != 0 || hub.importCalls() != calls {
		t.Errorf("sweep after the re-check: %+v, import calls %d -> %d", summary(rep), calls, hub.importCalls())
	}
	if got := hub.get(id)["Compliance"].(map[string]any)["Status"]; got != "PASSED" {
		t.Errorf("stored %v after the sweep, want the re-check's PASSED", got)
	}
}

// TestTargetedPublish: a re-check's publish reads and changes only the
// stored findings of its targets, of the checks evaluated for each.
func TestTargetedPublish(t *testing.T) {
	failed, passed := types.ComplianceStatusFailed, types.ComplianceStatusPassed
	active := types.RecordStateActive
	hub := newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)

	aRotation := rcFinding("kms.rotation", rcKeyA, failed, active, t0, t0)
	aPending := rcFinding("kms.pending-deletion", rcKeyA, failed, active, t0, t0)
	aInUse := rcFinding("kms.key-in-use-unhealthy", rcKeyA, failed, active, t0, t0) // not a check of A's target
	bRotation := rcFinding("kms.rotation", rcKeyB, failed, active, t0, t0)
	bPending := rcFinding("kms.pending-deletion", rcKeyB, failed, active, t0, t0) // not a check of B's target
	cRotation := rcFinding("kms.rotation", rcKeyC, failed, active, t0, t0)        // not a target, same check
	// A volume's finding naming key A as a related resource: the
	// ResourceId filter matches it, but it is not A's finding.
	vol := "arn:aws:ec2:us-east-1:123456789012:volume/vol-1"
	volume := rcFinding("kms.rotation", vol, failed, active, t0, t0)
	volume.Resources = append(volume.Resources, types.Resource{Id: aws.String(rcKeyA), Type: aws.String("AwsKmsKey")})
	// Another product's finding on key A.
	foreign := rcFinding("kms.rotation", rcKeyA, failed, active, t0, t0)
	foreign.Id = aws.String("guardduty/" + rcKeyA)
	foreign.ProductArn = aws.String("arn:aws:securityhub:us-east-1::product/aws/guardduty")
	// Another account's finding on key A (same product path shape).
	otherAccount := rcFinding("kms.rotation", rcKeyA, failed, active, t0, t0)
	otherAccount.Id = aws.String(asff.FindingID("kms.rotation", "210987654321", region, rcKeyA))
	otherAccount.AwsAccountId = aws.String("210987654321")

	untouched := []types.AwsSecurityFinding{aInUse, bRotation, bPending, cRotation, volume, foreign, otherAccount}
	for _, f := range append([]types.AwsSecurityFinding{aRotation, aPending}, untouched...) {
		hub.seed(toMap(t, f))
	}
	before := map[string]map[string]any{}
	for _, f := range untouched {
		before[aws.ToString(f.Id)] = hub.get(aws.ToString(f.Id))
	}

	req := publish.Request{
		Account: account, Partition: "aws", Now: tNowRC, ObservedAt: tRun,
		Findings: []types.AwsSecurityFinding{rcFinding("kms.rotation", rcKeyA, passed, "", tRun, time.Time{})},
		Targets: []publish.Target{
			{ResourceARN: rcKeyA, Checks: []string{"kms.rotation", "kms.pending-deletion"}, Confirmed: true},
			{ResourceARN: rcKeyB, Checks: []string{"kms.rotation"}},
		},
		// Unused in a re-check: they would otherwise make C's finding ours.
		Checks: []string{"kms.rotation"}, Archivable: map[string]bool{"kms.rotation": true},
	}
	rep := pub.Publish(context.Background(), cfg, req)
	if rep.Error != "" || rep.Stored != 3 || rep.Resolved != 1 || rep.Archived != 1 || rep.Kept != 1 || rep.Imported != 2 || rep.ReadCalls != 1 {
		t.Fatalf("report %+v", summary(rep))
	}
	if len(rep.ArchivedFindings) != 1 || rep.ArchivedFindings[0].ID != aws.ToString(aPending.Id) || rep.ArchivedFindings[0].ResourceARN != rcKeyA {
		t.Errorf("archived %+v, want A's kms.pending-deletion", rep.ArchivedFindings)
	}
	if got := hub.get(aws.ToString(aPending.Id))["RecordState"]; got != "ARCHIVED" {
		t.Errorf("unobserved finding of the confirmed target: %v, want ARCHIVED", got)
	}
	if got := hub.get(aws.ToString(aRotation.Id)); got["Compliance"].(map[string]any)["Status"] != "PASSED" || got["UpdatedAt"] != ts(tRun) {
		t.Errorf("observed finding: %v %v", got["Compliance"], got["UpdatedAt"])
	}
	for id, was := range before {
		if got := hub.get(id); !reflect.DeepEqual(got, was) {
			t.Errorf("%s changed:\n%v\nwas\n%v", id, got, was)
		}
	}
	var sent []string
	hub.mu.Lock()
	for _, b := range hub.imports {
		for _, fd := range b {
			sent = append(sent, fd["Id"].(string))
		}
	}
	hub.mu.Unlock()
	sort.Strings(sent)
	if want := []string{aws.ToString(aPending.Id), aws.ToString(aRotation.Id)}; !slices.Equal(sent, sorted(want)) {
		t.Errorf("imported %v, want %v", sent, want)
	}

	reads := attempts(hub.readBodies())
	if len(reads) != 1 {
		t.Fatalf("%d GetFindings calls", len(reads))
	}
	filters, _ := json.Marshal(reads[0]["Filters"])
	for _, want := range []string{
		`"ResourceId":[{"Comparison":"EQUALS","Value":"` + rcKeyA + `"},{"Comparison":"EQUALS","Value":"` + rcKeyB + `"}]`,
		`"ProductArn":[{"Comparison":"EQUALS","Value":"` + asff.ProductARN("aws", region, account) + `"}]`,
		`"AwsAccountId":[{"Comparison":"EQUALS","Value":"` + account + `"}]`,
		`"Id":[{"Comparison":"PREFIX","Value":"posture-auditor/"}]`,
	} {
		if !strings.Contains(string(filters), want) {
			t.Errorf("filters %s lack %s", filters, want)
		}
	}
}

// TestTargetedPublishUnconfirmedKeepsEverything: a target that could not
// be read whole archives nothing, even with every check evaluated.
func TestTargetedPublishUnconfirmedKeepsEverything(t *testing.T) {
	hub := newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)
	stored := rcFinding("kms.rotation", rcKeyA, types.ComplianceStatusFailed, types.RecordStateActive, t0, t0)
	hub.seed(toMap(t, stored))
	was := hub.get(aws.ToString(stored.Id))
	rep := pub.Publish(context.Background(), cfg, publish.Request{Account: account, Partition: "aws", Now: tNowRC, ObservedAt: tRun,
		Targets: []publish.Target{{ResourceARN: rcKeyA, Checks: []string{"kms.rotation"}}}})
	if rep.Stored != 1 || rep.Kept != 1 || rep.Archived != 0 || hub.importCalls() != 0 {
		t.Fatalf("report %+v, import calls %d", summary(rep), hub.importCalls())
	}
	if got := hub.get(aws.ToString(stored.Id)); !reflect.DeepEqual(got, was) {
		t.Errorf("kept finding changed: %v", got)
	}
}

// TestTargetedPublishChunksResourceIds: 25 targets (one named twice) are
// read in two calls of at most 20 ResourceId values, each ARN once.
func TestTargetedPublishChunksResourceIds(t *testing.T) {
	hub := newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)
	var targets []publish.Target
	var arns []string
	for i := range 25 {
		a := fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/%04d", account, i)
		arns = append(arns, a)
		targets = append(targets, publish.Target{ResourceARN: a, Checks: []string{"kms.rotation"}, Confirmed: true})
	}
	targets = append(targets, publish.Target{ResourceARN: arns[3], Checks: []string{"kms.pending-deletion"}, Confirmed: true})
	// A few stored findings, some of targets and some not, all on one page.
	for i := 20; i < 30; i++ {
		hub.seed(toMap(t, rcFinding("kms.rotation", fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/%04d", account, i), types.ComplianceStatusFailed, types.RecordStateActive, t0, t0)))
	}
	rep := pub.Publish(context.Background(), cfg, publish.Request{Account: account, Partition: "aws", Now: tNowRC, ObservedAt: tRun, Targets: targets})
	if rep.ReadCalls != 2 || rep.Stored != 5 || rep.Archived != 5 || rep.Error != "" {
		t.Fatalf("report %+v", summary(rep))
	}
	reads := attempts(hub.readBodies())
	if len(reads) != 2 {
		t.Fatalf("%d GetFindings calls", len(reads))
	}
	var sizes []int
	var asked []string
	for _, r := range reads {
		f := r["Filters"].(map[string]any)
		ids := f["ResourceId"].([]any)
		sizes = append(sizes, len(ids))
		for _, v := range ids {
			asked = append(asked, v.(map[string]any)["Value"].(string))
		}
		if _, ok := f["GeneratorId"]; ok {
			t.Errorf("a re-check's read filters by GeneratorId: %v", f["GeneratorId"])
		}
	}
	if !slices.Equal(sizes, []int{20, 5}) {
		t.Errorf("ResourceId values per call: %v", sizes)
	}
	if !slices.Equal(sorted(asked), sorted(arns)) {
		t.Errorf("asked for %v, want each of %v once", asked, arns)
	}
}

// TestDependents: what a key protects is read from its active
// kms.key-in-use-unhealthy finding.
func TestDependents(t *testing.T) {
	active, archived := types.RecordStateActive, types.RecordStateArchived
	inUse := func(key string, state types.RecordState, related ...types.Resource) types.AwsSecurityFinding {
		f := rcFinding(publish.KeyInUseCheck, key, types.ComplianceStatusFailed, state, t0, t0)
		f.Resources = append(f.Resources, related...)
		return f
	}
	vol := types.Resource{Id: aws.String("arn:aws:ec2:us-east-1:123456789012:volume/vol-1"), Type: aws.String("AwsEc2Volume")}
	repo := types.Resource{Id: aws.String("arn:aws:ecr:us-east-1:123456789012:repository/team/app"), Type: aws.String("AwsEcrRepository")}
	other := types.Resource{Id: aws.String("arn:aws:rds:us-east-1:123456789012:db:d"), Type: aws.String("AwsRdsDbInstance")}
	keyD := "arn:aws:kms:us-east-1:123456789012:key/d"
	keyE := "arn:aws:kms:us-east-1:123456789012:key/e"

	hub := newSHFake(t)
	// Before key A's finding: another key's, and key A's kms.rotation
	// finding, which names no dependents.
	hub.seed(toMap(t, inUse(rcKeyB, active, other)))
	hub.seed(toMap(t, rcFinding("kms.rotation", rcKeyA, types.ComplianceStatusFailed, active, t0, t0)))
	hub.seed(toMap(t, inUse(rcKeyA, active, vol, repo)))
	hub.seed(toMap(t, inUse(rcKeyC, archived, other)))
	hub.seed(toMap(t, inUse(keyD, active)))
	// Key E's finding under another product.
	foreign := inUse(keyE, active, other)
	foreign.ProductArn = aws.String("arn:aws:securityhub:us-east-1::product/aws/guardduty")
	hub.seed(toMap(t, foreign))
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)

	cases := []struct {
		name, key string
		want      []publish.Related
	}{
		{"active finding: its related resources", rcKeyA, []publish.Related{{Type: "AwsEc2Volume", ARN: aws.ToString(vol.Id)}, {Type: "AwsEcrRepository", ARN: aws.ToString(repo.Id)}}},
		{"archived finding: none", rcKeyC, nil},
		{"finding with no related resources: none", keyD, nil},
		{"no finding: none", "arn:aws:kms:us-east-1:123456789012:key/none", nil},
		{"another product's finding: none", keyE, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := len(hub.readBodies())
			got, err := pub.Dependents(context.Background(), cfg, account, "aws", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			reads := attempts(hub.readBodies()[n:])
			if len(reads) != 1 {
				t.Fatalf("%d GetFindings calls", len(reads))
			}
			filters, _ := json.Marshal(reads[0]["Filters"])
			for _, want := range []string{
				`"Id":[{"Comparison":"EQUALS","Value":"` + asff.FindingID(publish.KeyInUseCheck, account, region, tc.key) + `"}]`,
				`"RecordState":[{"Comparison":"EQUALS","Value":"ACTIVE"}]`,
				`"ProductArn":[{"Comparison":"EQUALS","Value":"` + asff.ProductARN("aws", region, account) + `"}]`,
			} {
				if !strings.Contains(string(filters), want) {
					t.Errorf("filters %s lack %s", filters, want)
				}
			}
		})
	}
}

// errAPI answers every GetFindings with err.
type errAPI struct {
	publish.API
	err error
}

func (e errAPI) GetFindings(context.Context, *securityhub.GetFindingsInput, ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error) {
	return nil, e.err
}

func TestDependentsErrors(t *testing.T) {
	sentinel := errors.New("injected GetFindings failure")
	pub := testPublisher()
	pub.NewAPI = func(aws.Config) publish.API { return errAPI{err: sentinel} }
	deps, err := pub.Dependents(context.Background(), aws.Config{Region: region}, account, "aws", rcKeyA)
	if err != sentinel || deps != nil {
		t.Errorf("got %v, %v; want the API's error as is", deps, err)
	}

	hub := newSHFake(t)
	hub.refuse, hub.refuseStatus = "InvalidAccessException", 401
	pub = testPublisher()
	deps, err = pub.Dependents(context.Background(), fakeConfig(t, hub.URL, nil), account, "aws", rcKeyA)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidAccessException" || deps != nil {
		t.Errorf("got %v, %v; want the InvalidAccessException", deps, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pub.Dependents(ctx, fakeConfig(t, newSHFake(t).URL, nil), account, "aws", rcKeyA); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func withObservedAt(f types.AwsSecurityFinding, v string) types.AwsSecurityFinding {
	pf := map[string]string{}
	for k, x := range f.ProductFields {
		pf[k] = x
	}
	pf[publish.ObservedAtField] = v
	f.ProductFields = pf
	return f
}

func ptr[T any](v T) *T { return &v }

func sorted(xs []string) []string {
	out := slices.Clone(xs)
	sort.Strings(out)
	return out
}

// TestArchiveIsStampedWithTheObservation: an archive carries the run's
// observation time, as UpdatedAt (so a later observation racing it wins in
// Security Hub) and as ObservedAt (so a run that read the resource earlier
// cannot bring it back).
func TestArchiveIsStampedWithTheObservation(t *testing.T) {
	observed := t0.Add(time.Hour)
	now := observed.Add(time.Minute)
	stored := rcFinding("kms.rotation", rcKeyA, types.ComplianceStatusFailed, types.RecordStateActive, t0, t0)
	plan := publish.PlanFor([]types.AwsSecurityFinding{stored}, nil, func(types.AwsSecurityFinding) bool { return true }, now, observed)
	if len(plan.Changes) != 1 || plan.Changes[0].Action != publish.ActionArchived {
		t.Fatalf("plan: %+v", plan.Changes)
	}
	gone := plan.Changes[0].Finding
	if got := aws.ToString(gone.UpdatedAt); got != ts(observed) {
		t.Errorf("UpdatedAt %s, want the observation %s", got, ts(observed))
	}
	if got := gone.ProductFields[publish.ObservedAtField]; got != ts(observed) {
		t.Errorf("ObservedAt %s, want %s", got, ts(observed))
	}
	// A run that read the resource before the archiving run did must not
	// reactivate it.
	stale := rcFinding("kms.rotation", rcKeyA, types.ComplianceStatusFailed, types.RecordStateActive, observed.Add(-time.Second), time.Time{})
	again := publish.PlanFor([]types.AwsSecurityFinding{gone}, []types.AwsSecurityFinding{stale}, func(types.AwsSecurityFinding) bool { return true }, now, observed.Add(-time.Second))
	if len(again.Changes) != 0 || len(again.Superseded) != 1 {
		t.Errorf("an earlier observation reactivated an archived finding: %+v", again.Changes)
	}
}
