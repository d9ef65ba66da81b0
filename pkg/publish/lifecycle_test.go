package publish

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
)

const (
	tAccount = "111122223333"
	tRegion  = "eu-west-1"
)

var (
	tProduct = asff.ProductARN("aws", tRegion, tAccount)
	tNow     = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
)

// lf builds a finding as asff.Map would, with the given timestamps (all the
// same when only created is given).
func lf(check, resource string, status types.ComplianceStatus, state types.RecordState, created, updated string) types.AwsSecurityFinding {
	if updated == "" {
		updated = created
	}
	return types.AwsSecurityFinding{
		Id:              aws.String(asff.FindingID(check, tAccount, tRegion, resource)),
		ProductArn:      aws.String(tProduct),
		GeneratorId:     aws.String(check),
		AwsAccountId:    aws.String(tAccount),
		Region:          aws.String(tRegion),
		CreatedAt:       aws.String(created),
		FirstObservedAt: aws.String(created),
		LastObservedAt:  aws.String(updated),
		UpdatedAt:       aws.String(updated),
		Compliance:      &types.Compliance{Status: status},
		RecordState:     state,
		Resources:       []types.Resource{{Id: aws.String(resource), Type: aws.String("AwsKmsKey")}},
		ProductFields:   map[string]string{"ProviderName": "posture-auditor"},
	}
}

func everyScope(string) bool { return true }
func noScope(string) bool    { return false }

func only(t *testing.T, p Plan) Change {
	t.Helper()
	if len(p.Changes) != 1 {
		t.Fatalf("%d changes, want 1: %+v", len(p.Changes), p.Changes)
	}
	return p.Changes[0]
}

const (
	past     = "2025-01-02T03:04:05.000Z"
	pastLate = "2026-03-01T00:00:00.000Z"
	nowTS    = "2026-03-04T05:06:07.890Z"
)

func TestMakePlan(t *testing.T) {
	const keyA = "arn:aws:kms:eu-west-1:111122223333:key/a"
	failed, passed := types.ComplianceStatusFailed, types.ComplianceStatusPassed
	active, archived := types.RecordStateActive, types.RecordStateArchived
	cases := []struct {
		name       string
		stored     []types.AwsSecurityFinding
		observed   []types.AwsSecurityFinding
		archivable func(string) bool
		// want: the single change's action and timestamps; "" action
		// means no change at all.
		action                    Action
		created, first, updated   string
		lastObserved, recordState string
		kept                      int
	}{
		{
			name:     "new finding: every timestamp is now, ACTIVE sent explicitly",
			observed: []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, "", "1999-01-01T00:00:00.000Z", "")},
			action:   ActionNew, created: nowTS, first: nowTS, updated: nowTS, lastObserved: nowTS, recordState: "ACTIVE",
		},
		{
			name:     "fixed resource: resolved, PASSED, first seen kept",
			stored:   []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, active, past, pastLate)},
			observed: []types.AwsSecurityFinding{lf("kms.rotation", keyA, passed, "", nowTS, "")},
			action:   ActionResolved, created: past, first: past, updated: nowTS, lastObserved: nowTS, recordState: "ACTIVE",
		},
		{
			name:     "still failing: updated, first seen kept",
			stored:   []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, active, past, pastLate)},
			observed: []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, "", nowTS, "")},
			action:   ActionUpdated, created: past, first: past, updated: nowTS, lastObserved: nowTS, recordState: "ACTIVE",
		},
		{
			name:     "two runs in the same millisecond: UpdatedAt still strictly later",
			stored:   []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, active, past, nowTS)},
			observed: []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, "", nowTS, "")},
			action:   ActionUpdated, created: past, first: past, updated: "2026-03-04T05:06:07.891Z", lastObserved: "2026-03-04T05:06:07.891Z", recordState: "ACTIVE",
		},
		{
			name:     "stored UpdatedAt ahead of our clock: one millisecond after it",
			stored:   []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, active, past, "2026-03-04T05:06:09.5Z")},
			observed: []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, "", nowTS, "")},
			action:   ActionUpdated, created: past, first: past, updated: "2026-03-04T05:06:09.501Z", lastObserved: "2026-03-04T05:06:09.501Z", recordState: "ACTIVE",
		},
		{
			name:     "resource seen again after archiving: reactivated, first seen kept",
			stored:   []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, archived, past, pastLate)},
			observed: []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, "", nowTS, "")},
			action:   ActionReactivated, created: past, first: past, updated: nowTS, lastObserved: nowTS, recordState: "ACTIVE",
		},
		{
			name:       "gone resource in a complete scope: archived; last observed stays",
			stored:     []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, active, past, pastLate)},
			archivable: everyScope,
			action:     ActionArchived, created: past, first: past, updated: nowTS, lastObserved: pastLate, recordState: "ARCHIVED",
		},
		{
			name:       "gone resource in an incomplete or unscanned scope: kept, untouched",
			stored:     []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, active, past, pastLate)},
			archivable: noScope,
			kept:       1,
		},
		{
			name:       "archivable scope is per check: another check's scope failed",
			stored:     []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, active, past, pastLate)},
			archivable: func(c string) bool { return c == "kms.pending-deletion" },
			kept:       1,
		},
		{
			name:       "already archived and still gone: nothing sent again",
			stored:     []types.AwsSecurityFinding{lf("kms.rotation", keyA, failed, archived, past, pastLate)},
			archivable: everyScope,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arch := tc.archivable
			if arch == nil {
				arch = noScope
			}
			p := MakePlan(tc.stored, tc.observed, arch, tNow)
			if len(p.Kept) != tc.kept {
				t.Errorf("kept %d, want %d", len(p.Kept), tc.kept)
			}
			if tc.action == "" {
				if len(p.Changes) != 0 {
					t.Fatalf("changes %+v, want none", p.Changes)
				}
				return
			}
			c := only(t, p)
			f := c.Finding
			got := []string{string(c.Action), aws.ToString(f.CreatedAt), aws.ToString(f.FirstObservedAt), aws.ToString(f.UpdatedAt), aws.ToString(f.LastObservedAt), string(f.RecordState)}
			want := []string{string(tc.action), tc.created, tc.first, tc.updated, tc.lastObserved, tc.recordState}
			for i, name := range []string{"action", "CreatedAt", "FirstObservedAt", "UpdatedAt", "LastObservedAt", "RecordState"} {
				if got[i] != want[i] {
					t.Errorf("%s = %q, want %q", name, got[i], want[i])
				}
			}
			if len(tc.stored) > 0 {
				if old := aws.ToString(tc.stored[0].UpdatedAt); !later(t, aws.ToString(f.UpdatedAt), old) {
					t.Errorf("UpdatedAt %s is not later than stored %s", aws.ToString(f.UpdatedAt), old)
				}
			}
		})
	}
}

func later(t *testing.T, a, b string) bool {
	ta, ok1 := parseTimestamp(a)
	tb, ok2 := parseTimestamp(b)
	if !ok1 || !ok2 {
		t.Fatalf("unparseable %q %q", a, b)
	}
	return ta.After(tb)
}

// TestCustomerFieldsAreNeverSent: Workflow, Note, UserDefinedFields and
// VerificationState belong to the security team; neither an update nor an
// archive carries them, even when the stored finding (or, by mistake, the
// mapped one) has them. Security Hub's own ProductFields are dropped too.
func TestCustomerFieldsAreNeverSent(t *testing.T) {
	withTeamFields := func(f types.AwsSecurityFinding) types.AwsSecurityFinding {
		f.Workflow = &types.Workflow{Status: types.WorkflowStatusSuppressed}
		f.WorkflowState = types.WorkflowStateResolved
		f.Note = &types.Note{Text: aws.String("accepted risk"), UpdatedBy: aws.String("alice"), UpdatedAt: aws.String(past)}
		f.UserDefinedFields = map[string]string{"ticket": "SEC-1"}
		f.VerificationState = types.VerificationStateBenignPositive
		f.ProductFields = map[string]string{"ProviderName": "posture-auditor", "aws/securityhub/FindingId": "x", "aws/securityhub/ProductName": "Default"}
		return f
	}
	stored := []types.AwsSecurityFinding{
		withTeamFields(lf("kms.rotation", "k1", types.ComplianceStatusFailed, types.RecordStateActive, past, pastLate)),
		withTeamFields(lf("kms.rotation", "k2", types.ComplianceStatusFailed, types.RecordStateActive, past, pastLate)),
	}
	observed := []types.AwsSecurityFinding{withTeamFields(lf("kms.rotation", "k1", types.ComplianceStatusPassed, "", nowTS, ""))}
	p := MakePlan(stored, observed, everyScope, tNow)
	if len(p.Changes) != 2 || p.Changes[0].Action != ActionResolved || p.Changes[1].Action != ActionArchived {
		t.Fatalf("plan %+v", p.Changes)
	}
	for _, c := range p.Changes {
		f := c.Finding
		if f.Workflow != nil || f.WorkflowState != "" || f.Note != nil || f.UserDefinedFields != nil || f.VerificationState != "" {
			t.Errorf("%s carries the team's fields: %+v %q %+v %v %q", c.Action, f.Workflow, f.WorkflowState, f.Note, f.UserDefinedFields, f.VerificationState)
		}
	}
	if _, ok := p.Changes[1].Finding.ProductFields["aws/securityhub/FindingId"]; ok {
		t.Error("archive re-sends Security Hub's own ProductFields")
	}
	if p.Changes[1].Finding.ProductFields["ProviderName"] != "posture-auditor" {
		t.Error("archive lost the provider's ProductFields")
	}
}

func TestOwnerOwnsOnlyItsFindings(t *testing.T) {
	o := Owner{ProductARN: tProduct, Account: tAccount, Checks: []string{"kms.rotation"}}
	mine := lf("kms.rotation", "k1", types.ComplianceStatusFailed, types.RecordStateActive, past, "")
	if !o.Owns(mine) {
		t.Fatal("own finding not owned")
	}
	other := map[string]func(*types.AwsSecurityFinding){
		"another product": func(f *types.AwsSecurityFinding) {
			f.ProductArn = aws.String("arn:aws:securityhub:eu-west-1::product/aws/guardduty")
		},
		"another account":   func(f *types.AwsSecurityFinding) { f.AwsAccountId = aws.String("444455556666") },
		"another check":     func(f *types.AwsSecurityFinding) { f.GeneratorId = aws.String("kms.pending-deletion") },
		"another tool's Id": func(f *types.AwsSecurityFinding) { f.Id = aws.String("custom-tool/kms.rotation/k1") },
	}
	for name, mutate := range other {
		f := mine
		mutate(&f)
		if o.Owns(f) {
			t.Errorf("%s: owned", name)
		}
	}
}

func TestDuplicateIdsAreReported(t *testing.T) {
	a := lf("kms.rotation", "k1", types.ComplianceStatusFailed, "", nowTS, "")
	b := lf("kms.rotation", "k1", types.ComplianceStatusPassed, "", nowTS, "")
	p := MakePlan(nil, []types.AwsSecurityFinding{a, b}, everyScope, tNow)
	if len(p.Changes) != 1 || len(p.Duplicates) != 1 || p.Changes[0].Finding.Compliance.Status != types.ComplianceStatusPassed {
		t.Fatalf("plan %+v duplicates %v", p.Changes, p.Duplicates)
	}
}

func TestNextUpdate(t *testing.T) {
	cases := []struct{ stored, want string }{
		{"", nowTS},                                               // nothing stored
		{"2026-03-04T05:06:07.000Z", nowTS},                       // same second, earlier millisecond: now
		{nowTS, "2026-03-04T05:06:07.891Z"},                       // same millisecond
		{"2026-03-04T05:06:07.8905Z", "2026-03-04T05:06:07.891Z"}, // sub-millisecond precision stored
		{"2026-03-04T06:00:00Z", "2026-03-04T06:00:00.001Z"},      // stored ahead of us
		{"not a time", nowTS},
	}
	for _, c := range cases {
		got := asff.Timestamp(NextUpdate(types.AwsSecurityFinding{UpdatedAt: aws.String(c.stored)}, tNow))
		if got != c.want {
			t.Errorf("stored %q: %s, want %s", c.stored, got, c.want)
		}
	}
}

// BenchmarkMerge plans a region of 10,000 stored findings against 10,000
// observations: half updated, a quarter new, a quarter archived.
func BenchmarkMerge(b *testing.B) {
	const n = 10_000
	stored := make([]types.AwsSecurityFinding, 0, n)
	observed := make([]types.AwsSecurityFinding, 0, n)
	for i := range n {
		stored = append(stored, lf("kms.rotation", fmt.Sprintf("key/%05d", i), types.ComplianceStatusFailed, types.RecordStateActive, past, pastLate))
		observed = append(observed, lf("kms.rotation", fmt.Sprintf("key/%05d", i+n/4), types.ComplianceStatusPassed, "", nowTS, ""))
	}
	b.ReportAllocs()
	for b.Loop() {
		p := MakePlan(stored, observed, everyScope, tNow)
		if len(p.Changes) != n+n/4 {
			b.Fatalf("%d changes", len(p.Changes))
		}
	}
}

// TestNotAvailableNeverHidesAKnownFailure: a resource that was FAILED and
// could not be read this time stays FAILED, untouched; a PASSED one may go
// NOT_AVAILABLE (the unknown is then visible), and an archived one comes
// back with what was observed.
func TestNotAvailableNeverHidesAKnownFailure(t *testing.T) {
	const key = "arn:aws:kms:eu-west-1:111122223333:key/a"
	na := types.ComplianceStatusNotAvailable
	stored := lf("kms.rotation", key, types.ComplianceStatusFailed, types.RecordStateActive, past, pastLate)
	p := MakePlan([]types.AwsSecurityFinding{stored}, []types.AwsSecurityFinding{lf("kms.rotation", key, na, "", nowTS, "")}, everyScope, tNow)
	if len(p.Changes) != 0 || len(p.KeptFailed) != 1 || len(p.Kept) != 0 {
		t.Fatalf("FAILED then NOT_AVAILABLE: changes %+v, keptFailed %d, kept %d", p.Changes, len(p.KeptFailed), len(p.Kept))
	}
	// The same, last updated long ago: re-imported unchanged so Security Hub
	// does not delete it, still FAILED, LastObservedAt untouched.
	stale := lf("kms.rotation", key, types.ComplianceStatusFailed, types.RecordStateActive, past, "")
	c := only(t, MakePlan([]types.AwsSecurityFinding{stale}, []types.AwsSecurityFinding{lf("kms.rotation", key, na, "", nowTS, "")}, everyScope, tNow))
	if c.Action != ActionRefreshed || c.Finding.Compliance.Status != types.ComplianceStatusFailed || c.Finding.RecordState != types.RecordStateActive ||
		aws.ToString(c.Finding.LastObservedAt) != past || aws.ToString(c.Finding.UpdatedAt) != nowTS {
		t.Errorf("stale kept-failed: %s %s %s last observed %s updated %s", c.Action, c.Finding.Compliance.Status, c.Finding.RecordState,
			aws.ToString(c.Finding.LastObservedAt), aws.ToString(c.Finding.UpdatedAt))
	}
	wasPassed := lf("kms.rotation", key, types.ComplianceStatusPassed, types.RecordStateActive, past, "")
	if c := only(t, MakePlan([]types.AwsSecurityFinding{wasPassed}, []types.AwsSecurityFinding{lf("kms.rotation", key, na, "", nowTS, "")}, everyScope, tNow)); c.Action != ActionUpdated || c.Finding.Compliance.Status != na {
		t.Errorf("PASSED then NOT_AVAILABLE: %s %s", c.Action, c.Finding.Compliance.Status)
	}
	wasArchived := lf("kms.rotation", key, types.ComplianceStatusFailed, types.RecordStateArchived, past, "")
	if c := only(t, MakePlan([]types.AwsSecurityFinding{wasArchived}, []types.AwsSecurityFinding{lf("kms.rotation", key, na, "", nowTS, "")}, everyScope, tNow)); c.Action != ActionReactivated {
		t.Errorf("archived FAILED then NOT_AVAILABLE: %s", c.Action)
	}
}

// TestKeptFindingsAreRefreshedBeforeSecurityHubDeletesThem: a stored finding
// whose scope may not archive is left alone while recent, and re-imported
// unchanged once RefreshAfter old.
func TestKeptFindingsAreRefreshedBeforeSecurityHubDeletesThem(t *testing.T) {
	const key = "arn:aws:kms:eu-west-1:111122223333:key/a"
	recent := lf("kms.rotation", key, types.ComplianceStatusFailed, types.RecordStateActive, past, pastLate)
	if p := MakePlan([]types.AwsSecurityFinding{recent}, nil, noScope, tNow); len(p.Changes) != 0 || len(p.Kept) != 1 {
		t.Fatalf("recent kept finding: %+v", p.Changes)
	}
	old := lf("kms.rotation", key, types.ComplianceStatusFailed, types.RecordStateActive, past, "")
	c := only(t, MakePlan([]types.AwsSecurityFinding{old}, nil, noScope, tNow))
	if c.Action != ActionRefreshed || c.Finding.RecordState != types.RecordStateActive || c.Finding.Compliance.Status != types.ComplianceStatusFailed {
		t.Errorf("stale kept finding: %s %s %s", c.Action, c.Finding.RecordState, c.Finding.Compliance.Status)
	}
}

// TestDuplicateObservationsLastWinsBeforeDeciding: [PASSED, NOT_AVAILABLE]
// for one stored FAILED finding is one decision on the last observation.
func TestDuplicateObservationsLastWinsBeforeDeciding(t *testing.T) {
	const key = "arn:aws:kms:eu-west-1:111122223333:key/a"
	stored := lf("kms.rotation", key, types.ComplianceStatusFailed, types.RecordStateActive, past, pastLate)
	p := MakePlan([]types.AwsSecurityFinding{stored}, []types.AwsSecurityFinding{
		lf("kms.rotation", key, types.ComplianceStatusPassed, "", nowTS, ""),
		lf("kms.rotation", key, types.ComplianceStatusNotAvailable, "", nowTS, ""),
	}, everyScope, tNow)
	if len(p.Changes) != 0 || len(p.KeptFailed) != 1 || len(p.Duplicates) != 1 {
		t.Errorf("changes %d keptFailed %d duplicates %v", len(p.Changes), len(p.KeptFailed), p.Duplicates)
	}
}

// TestOnlyKnownProblemsAreRefreshed: a kept PASSED finding is left to
// Security Hub's expiry, and an unreadable UpdatedAt never triggers a
// refresh on every run.
func TestOnlyKnownProblemsAreRefreshed(t *testing.T) {
	const key = "arn:aws:kms:eu-west-1:111122223333:key/a"
	passed := lf("kms.rotation", key, types.ComplianceStatusPassed, types.RecordStateActive, past, "")
	if p := MakePlan([]types.AwsSecurityFinding{passed}, nil, noScope, tNow); len(p.Changes) != 0 || len(p.Kept) != 1 {
		t.Errorf("stale kept PASSED finding: %+v", p.Changes)
	}
	garbled := lf("kms.rotation", key, types.ComplianceStatusFailed, types.RecordStateActive, "not a time", "")
	if p := MakePlan([]types.AwsSecurityFinding{garbled}, nil, noScope, tNow); len(p.Changes) != 0 {
		t.Errorf("kept finding with an unreadable UpdatedAt: %+v", p.Changes)
	}
}
