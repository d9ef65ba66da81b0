package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/runlog"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

// The finding lifecycle end to end: the demo account in moto's Security Hub
// through the gap-filling proxy, the runner exactly as the Lambda builds
// it. "Fixed" is the demo key kms/not-rotating getting rotation; "deleted"
// is a secret of this test's own, deleted without recovery (it is gone
// from ListSecrets at once, as in AWS).

const goneSecret = "lifecycle/gone"

// lifecycleAccount is the demo account plus the secret that will be deleted.
type lifecycleAccount struct {
	demoAccount
	cfg       aws.Config
	secretARN string
}

func newLifecycleAccount(t testing.TB) lifecycleAccount {
	t.Helper()
	acct := seedDemo(t)
	cfg, err := acct.srv.ConfigAt(context.Background(), acct.endpoint, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(goneSecret), SecretString: aws.String("placeholder"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return lifecycleAccount{demoAccount: acct, cfg: cfg, secretARN: aws.ToString(out.ARN)}
}

// run runs the auditor once, as the Lambda does (through pkg/runlog), and
// returns its summary and the metric documents (EMF) of the run.
func (a lifecycleAccount) run(t testing.TB, payload string) (*runner.Summary, string) {
	t.Helper()
	r, _ := newRunner(t, a.srv, a.endpoint)
	var metrics bytes.Buffer
	r.Publisher.RetryBackoff = time.Millisecond
	s, err := runlog.New(runlog.Options{Metrics: &metrics}).Runs(r.Handle)(context.Background(), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return s, metrics.String()
}

func (a lifecycleAccount) deleteSecret(t *testing.T) {
	t.Helper()
	if _, err := secretsmanager.NewFromConfig(a.cfg).DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
		SecretId: aws.String(a.secretARN), ForceDeleteWithoutRecovery: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
}

func (a lifecycleAccount) fixKey(t *testing.T) {
	t.Helper()
	if _, err := kms.NewFromConfig(a.cfg).EnableKeyRotation(context.Background(), &kms.EnableKeyRotationInput{
		KeyId: aws.String(seed.KeyID(a.demo["kms/not-rotating"])),
	}); err != nil {
		t.Fatal(err)
	}
}

// hub reads every finding Security Hub holds in cfg's region.
func hub(t testing.TB, cfg aws.Config) map[string]types.AwsSecurityFinding {
	t.Helper()
	out := map[string]types.AwsSecurityFinding{}
	p := securityhub.NewGetFindingsPaginator(securityhub.NewFromConfig(cfg), &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Findings {
			out[aws.ToString(f.Id)] = f
		}
	}
	return out
}

// findingOf returns the summary row of (check, resource).
func findingOf(t *testing.T, s *runner.Summary, checkID, resourceARN string) runner.FindingSummary {
	t.Helper()
	for _, f := range s.Findings {
		if f.CheckID == checkID && f.ResourceARN == resourceARN {
			return f
		}
	}
	t.Fatalf("no %s finding for %s", checkID, resourceARN)
	return runner.FindingSummary{}
}

// idsOf returns the Ids of the stored findings about resourceARN.
func idsOf(stored map[string]types.AwsSecurityFinding, resourceARN string) []string {
	var out []string
	for id, f := range stored {
		if len(f.Resources) > 0 && aws.ToString(f.Resources[0].Id) == resourceARN {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func archivedIDs(stored map[string]types.AwsSecurityFinding) []string {
	var out []string
	for id, f := range stored {
		if f.RecordState == types.RecordStateArchived {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// TestLifecycleFixedThenDeleted: run 1 imports; the key is fixed and run 2
// shows its finding PASSED with its original CreatedAt/FirstObservedAt and
// a later UpdatedAt; the secret is deleted and run 3 archives its findings,
// and only those; run 4 (nothing changed) archives nothing more.
func TestLifecycleFixedThenDeleted(t *testing.T) {
	a := newLifecycleAccount(t)
	keyARN := a.demo["kms/not-rotating"]

	s1, _ := a.run(t, `{}`)
	keyFinding := findingOf(t, s1, "kms.rotation", keyARN)
	secretFinding := findingOf(t, s1, "secretsmanager.rotation-enabled", a.secretARN)
	if keyFinding.Status != check.Failed || keyFinding.Action != publish.ActionNew || secretFinding.Status != check.Failed {
		t.Fatalf("run 1: key %+v secret %+v", keyFinding, secretFinding)
	}
	if len(s1.Published) != 1 || s1.Published[0].Imported != len(s1.Findings) || len(s1.Published[0].Failed) != 0 || s1.Lifecycle.New != len(s1.Findings) {
		t.Fatalf("run 1 published %+v lifecycle %+v (%d findings)", s1.Published, s1.Lifecycle, len(s1.Findings))
	}
	stored1 := hub(t, a.cfg)
	first := stored1[keyFinding.FindingID]
	if first.Compliance == nil || first.Compliance.Status != types.ComplianceStatusFailed || first.RecordState != types.RecordStateActive {
		t.Fatalf("run 1 stored: %+v", first)
	}
	secretIDs := idsOf(stored1, a.secretARN)
	if len(secretIDs) == 0 {
		t.Fatal("no stored finding for the secret")
	}

	a.fixKey(t)
	s2, _ := a.run(t, `{}`)
	if f := findingOf(t, s2, "kms.rotation", keyARN); f.Status != check.Passed || f.Action != publish.ActionResolved {
		t.Fatalf("run 2: %+v", f)
	}
	if s2.Lifecycle.Resolved < 1 || s2.Lifecycle.New != 0 || s2.Lifecycle.Archived != 0 {
		t.Errorf("run 2 lifecycle %+v", s2.Lifecycle)
	}
	got := hub(t, a.cfg)[keyFinding.FindingID]
	if got.Compliance.Status != types.ComplianceStatusPassed || got.RecordState != types.RecordStateActive {
		t.Fatalf("run 2 stored: %s %s", got.Compliance.Status, got.RecordState)
	}
	if aws.ToString(got.CreatedAt) != aws.ToString(first.CreatedAt) || aws.ToString(got.FirstObservedAt) != aws.ToString(first.FirstObservedAt) {
		t.Errorf("first seen moved: CreatedAt %s -> %s, FirstObservedAt %s -> %s",
			aws.ToString(first.CreatedAt), aws.ToString(got.CreatedAt), aws.ToString(first.FirstObservedAt), aws.ToString(got.FirstObservedAt))
	}
	if !laterTS(t, got.UpdatedAt, first.UpdatedAt) || !laterTS(t, got.LastObservedAt, first.LastObservedAt) {
		t.Errorf("UpdatedAt %s / LastObservedAt %s not later than %s / %s", aws.ToString(got.UpdatedAt), aws.ToString(got.LastObservedAt),
			aws.ToString(first.UpdatedAt), aws.ToString(first.LastObservedAt))
	}

	a.deleteSecret(t)
	s3, _ := a.run(t, `{}`)
	stored3 := hub(t, a.cfg)
	if archived := archivedIDs(stored3); !slices.Equal(archived, secretIDs) {
		t.Fatalf("run 3 archived %v, want exactly the secret's findings %v", archived, secretIDs)
	}
	if s3.Lifecycle.Archived != len(secretIDs) || len(s3.Published[0].ArchivedFindings) != len(secretIDs) {
		t.Errorf("run 3 lifecycle %+v archived %+v", s3.Lifecycle, s3.Published[0].ArchivedFindings)
	}
	if f := stored3[secretFinding.FindingID]; aws.ToString(f.CreatedAt) != aws.ToString(stored1[secretFinding.FindingID].CreatedAt) {
		t.Errorf("archived finding lost its CreatedAt")
	}

	s4, _ := a.run(t, `{}`)
	if s4.Lifecycle.Archived != 0 || !slices.Equal(archivedIDs(hub(t, a.cfg)), secretIDs) {
		t.Errorf("run 4 lifecycle %+v", s4.Lifecycle)
	}
}

// TestAccessDeniedOnAListCallArchivesNothingOfThatService: the secret is
// deleted, but ListSecrets is denied in that run: none of Secrets
// Manager's findings is archived or even touched, the summary names the
// failed scopes, and the other services still publish. When the
// permission is back, the deleted secret's findings are archived.
func TestAccessDeniedOnAListCallArchivesNothingOfThatService(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	stored1 := hub(t, a.cfg)

	a.deleteSecret(t)
	a.gaps.Deny("secretsmanager", "ListSecrets")
	s2, _ := a.run(t, `{}`)
	stored2 := hub(t, a.cfg)
	if archived := archivedIDs(stored2); len(archived) != 0 {
		t.Fatalf("archived after a denied ListSecrets: %v", archived)
	}
	secretsFindings, kmsUpdated := 0, 0
	for id, f := range stored2 {
		was := stored1[id]
		switch {
		case strings.HasPrefix(aws.ToString(f.GeneratorId), "secretsmanager."):
			secretsFindings++
			if aws.ToString(f.UpdatedAt) != aws.ToString(was.UpdatedAt) || f.RecordState != types.RecordStateActive {
				t.Errorf("%s touched: UpdatedAt %s -> %s, %s", id, aws.ToString(was.UpdatedAt), aws.ToString(f.UpdatedAt), f.RecordState)
			}
		case strings.HasPrefix(aws.ToString(f.GeneratorId), "kms."):
			if laterTS(t, f.UpdatedAt, was.UpdatedAt) {
				kmsUpdated++
			}
		}
	}
	if secretsFindings == 0 || kmsUpdated == 0 {
		t.Fatalf("secrets findings %d, kms findings updated %d", secretsFindings, kmsUpdated)
	}
	if s2.Lifecycle.Kept != secretsFindings {
		t.Errorf("kept %d, want the %d Secrets Manager findings", s2.Lifecycle.Kept, secretsFindings)
	}
	named := false
	for _, sc := range s2.FailedScopes {
		if sc.Region == region && sc.CheckID == "secretsmanager.rotation-enabled" {
			for _, e := range sc.Errors {
				named = named || (e.Operation == "ListSecrets" && e.Code == "AccessDeniedException")
			}
		}
	}
	if !named {
		t.Errorf("summary does not name the failed scope: %+v", s2.FailedScopes)
	}
	if !strings.Contains(strings.Join(s2.Notices, "\n"), "kept active, not archived") {
		t.Errorf("notices: %v", s2.Notices)
	}

	a.gaps.Allow("secretsmanager", "ListSecrets")
	s3, _ := a.run(t, `{}`)
	if archived := archivedIDs(hub(t, a.cfg)); len(archived) == 0 || !slices.Equal(archived, idsOf(stored1, a.secretARN)) {
		t.Errorf("after the permission is back, archived %v, want %v (lifecycle %+v)", archived, idsOf(stored1, a.secretARN), s3.Lifecycle)
	}
}

// TestRunRestrictedToOneCheckArchivesNothingElse: a kms.rotation-only run
// after the secret is deleted reads and touches kms.rotation findings only.
func TestRunRestrictedToOneCheckArchivesNothingElse(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	stored1 := hub(t, a.cfg)
	a.deleteSecret(t)

	s2, _ := a.run(t, `{"checks":["kms.rotation"]}`)
	stored2 := hub(t, a.cfg)
	if archived := archivedIDs(stored2); len(archived) != 0 {
		t.Fatalf("a kms.rotation-only run archived %v", archived)
	}
	rotation := 0
	for id, f := range stored2 {
		was := stored1[id]
		if aws.ToString(f.GeneratorId) == "kms.rotation" {
			rotation++
			// Observed again: imported if it changed, else left as it is
			// (imported less than a day ago).
			if action := findingAction(s2, id); action != publish.ActionUnchanged && !laterTS(t, f.UpdatedAt, was.UpdatedAt) {
				t.Errorf("%s (%s) not updated by a kms.rotation run", id, action)
			}
		} else if aws.ToString(f.UpdatedAt) != aws.ToString(was.UpdatedAt) {
			t.Errorf("%s (%s) touched by a kms.rotation-only run", id, aws.ToString(f.GeneratorId))
		}
	}
	if rep := s2.Published[0]; rep.Stored != rotation || rep.Updated+rep.Resolved+rep.Unchanged != rotation || rep.Kept != 0 {
		t.Errorf("report %+v, want %d kms.rotation findings read and updated", rep, rotation)
	}
}

// TestSecurityHubDisabledInOneRegion: Security Hub is enabled in us-east-1
// only; a run over us-east-1 and eu-west-1 publishes us-east-1's findings
// and names eu-west-1, once, in the summary.
func TestSecurityHubDisabledInOneRegion(t *testing.T) {
	a := newLifecycleAccount(t)
	euCfg, err := a.srv.ConfigAt(context.Background(), a.endpoint, "eu-west-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.CreateKey(context.Background(), kms.NewFromConfig(euCfg), "alias/demo/eu", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt); err != nil {
		t.Fatal(err)
	}
	s, _ := a.run(t, `{"regions":["us-east-1","eu-west-1"]}`)
	if !slices.Equal(s.SecurityHubNotEnabled, []string{"eu-west-1"}) {
		t.Fatalf("securityHubNotEnabled %v", s.SecurityHubNotEnabled)
	}
	perRegion := map[string]int{}
	for _, f := range s.Findings {
		perRegion[f.Region]++
	}
	byRegion := map[string]publish.Report{}
	for _, rep := range s.Published {
		byRegion[rep.Region] = rep
	}
	us, eu := byRegion["us-east-1"], byRegion["eu-west-1"]
	if us.SecurityHubNotEnabled || us.Imported != perRegion["us-east-1"] || len(us.Failed) != 0 || us.Error != "" {
		t.Errorf("us-east-1: %+v", us)
	}
	if !eu.SecurityHubNotEnabled || perRegion["eu-west-1"] == 0 || eu.Unpublished != perRegion["eu-west-1"] || eu.Calls != 0 {
		t.Errorf("eu-west-1: %+v (%d findings)", eu, perRegion["eu-west-1"])
	}
	notices := strings.Join(s.Notices, "\n")
	if strings.Count(notices, "Security Hub is not enabled in eu-west-1") != 1 {
		t.Errorf("notices: %s", notices)
	}
	stored := hub(t, a.cfg)
	for _, f := range s.Findings {
		if _, ok := stored[f.FindingID]; ok != (f.Region == "us-east-1") {
			t.Errorf("%s (%s): in us-east-1's Security Hub: %v", f.FindingID, f.Region, ok)
		}
	}
}

// TestDryRunSaysWhatItWouldDo: after a real run, the key is fixed and the
// secret deleted; a dry run reports one resolved and the secret's findings
// archived, and changes nothing in Security Hub.
func TestDryRunSaysWhatItWouldDo(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	stored1 := hub(t, a.cfg)
	a.fixKey(t)
	a.deleteSecret(t)

	r, counter := newRunner(t, a.srv, a.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"dryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if !s.DryRun || len(s.Published) != 0 || len(s.WouldPublish) != 1 || counter.Count("SecurityHub", "BatchImportFindings") != 0 {
		t.Fatalf("dry run published: %+v, BatchImportFindings %d", s.Published, counter.Count("SecurityHub", "BatchImportFindings"))
	}
	l := s.Lifecycle
	if l.Resolved != 1 || l.Archived != len(idsOf(stored1, a.secretARN)) || l.New != 0 || l.Imported != 0 || l.Updated == 0 {
		t.Errorf("dry run lifecycle %+v", l)
	}
	if f := findingOf(t, s, "kms.rotation", a.demo["kms/not-rotating"]); f.Action != publish.ActionResolved {
		t.Errorf("dry run action %q", f.Action)
	}
	stored2 := hub(t, a.cfg)
	for id, f := range stored2 {
		if aws.ToString(f.UpdatedAt) != aws.ToString(stored1[id].UpdatedAt) || f.RecordState != stored1[id].RecordState {
			t.Errorf("dry run changed %s", id)
		}
	}
	out, _ := json.Marshal(s)
	for _, want := range []string{`"wouldPublish"`, `"resolved":1`, `"archivedFindings"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("summary lacks %s", want)
		}
	}
}

// TestPermanentlyFailingFindingIsReported: Security Hub keeps refusing
// one finding (injected through the proxy): the summary lists it with its
// error code, the rest of the run is imported.
func TestPermanentlyFailingFindingIsReported(t *testing.T) {
	a := newLifecycleAccount(t)
	s1, _ := a.run(t, `{"dryRun":true}`)
	bad := findingOf(t, s1, "kms.rotation", a.demo["kms/not-rotating"]).FindingID
	a.gaps.FailImports("InvalidInput", map[string]int{bad: -1})

	s, metrics := a.run(t, `{}`)
	rep := s.Published[0]
	if len(rep.Failed) != 1 || rep.Failed[0].ID != bad || rep.Failed[0].ErrorCode != "InvalidInput" || rep.Imported != len(s.Findings)-1 {
		t.Fatalf("report: failed %+v imported %d of %d", rep.Failed, rep.Imported, len(s.Findings))
	}
	if s.Lifecycle.Failed != 1 || !strings.Contains(strings.Join(s.Notices, "\n"), "1 findings were not imported after retries (InvalidInput x1)") {
		t.Errorf("lifecycle %+v notices %v", s.Lifecycle, s.Notices)
	}
	if _, ok := hub(t, a.cfg)[bad]; ok {
		t.Error("the failing finding is stored")
	}
	if !strings.Contains(metrics, `"ImportFailures":1,`) || !strings.Contains(metrics, `"Namespace":"PostureAuditor"`) {
		t.Errorf("metric documents: %s", metrics)
	}
}

func laterTS(t *testing.T, a, b *string) bool {
	t.Helper()
	ta, err1 := time.Parse(time.RFC3339Nano, aws.ToString(a))
	tb, err2 := time.Parse(time.RFC3339Nano, aws.ToString(b))
	if err1 != nil || err2 != nil {
		t.Fatalf("timestamps %q %q", aws.ToString(a), aws.ToString(b))
	}
	return ta.After(tb)
}

// findingAction is what the run did with finding id.
func findingAction(s *runner.Summary, id string) publish.Action {
	for _, f := range s.Findings {
		if f.FindingID == id {
			return f.Action
		}
	}
	return ""
}

// TestSteadyStateSweepImportsNothing: a second sweep of an unchanged
// account imports nothing (every finding unchanged and younger than a day);
// a change is imported at once.
func TestSteadyStateSweepImportsNothing(t *testing.T) {
	a := newLifecycleAccount(t)
	first, _ := a.run(t, `{}`)
	if first.Lifecycle.New == 0 {
		t.Fatalf("first sweep imported nothing: %+v", first.Lifecycle)
	}
	second, _ := a.run(t, `{}`)
	l := second.Lifecycle
	if l.Imported != 0 || l.Unchanged != first.Lifecycle.New || l.Archived != 0 {
		t.Errorf("unchanged account, second sweep: %+v (first imported %d)", l, first.Lifecycle.New)
	}
	for _, p := range second.Published {
		if p.Calls != 0 || p.ReadCalls != 0 || !strings.HasPrefix(p.StateSource, "finding state table") {
			t.Errorf("%s: %d BatchImportFindings and %d GetFindings calls for an unchanged account (state: %s)", p.Region, p.Calls, p.ReadCalls, p.StateSource)
		}
	}
	a.fixKey(t)
	third, _ := a.run(t, `{}`)
	// The fix resolves kms.rotation; the key's other findings carry its
	// rotation status in their resource details, so they changed too.
	l3 := third.Lifecycle
	if l3.Resolved != 1 || l3.Imported != l3.Resolved+l3.Updated || l3.Updated > 5 || l3.Unchanged < first.Lifecycle.New-6 {
		t.Errorf("one key fixed: %+v", l3)
	}
	for _, f := range third.Findings {
		if f.Action == publish.ActionUpdated && !strings.Contains(f.ResourceARN, seed.KeyID(a.demo["kms/not-rotating"])) {
			t.Errorf("%s %s re-imported though nothing about it changed", f.CheckID, f.ResourceARN)
		}
	}
}

// TestFindingStateUnreachableFallsBack: a finding state table that cannot
// be read (missing, denied) makes the run read Security Hub back, publish
// as before, and say so; nothing is lost or reset.
func TestFindingStateUnreachableFallsBack(t *testing.T) {
	a := newLifecycleAccount(t)
	first, _ := a.run(t, `{}`)
	r, counter := newRunner(t, a.srv, a.endpoint)
	r.Publisher.State = &findingstate.Store{Table: "no-such-table"}
	s, err := r.Handle(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Published[0]
	if p.StateError == "" || !strings.Contains(p.StateSource, "could not be read") || counter.Count("SecurityHub", "GetFindings") == 0 {
		t.Errorf("unreachable state: %+v", p)
	}
	if l := s.Lifecycle; l.New != 0 || l.Archived != 0 || l.Unchanged != first.Lifecycle.New {
		t.Errorf("fallback run: %+v (first imported %d)", l, first.Lifecycle.New)
	}
	said := false
	for _, n := range s.Notices {
		said = said || strings.Contains(n, "finding state table")
	}
	if !said {
		t.Errorf("the summary does not say the state table failed: %v", s.Notices)
	}
}

// TestImportFailureLeavesStateToReconcile: when Security Hub does not take
// a finding, the finding state is left unsure for its checks, and the next
// run reconciles it from Security Hub instead of planning from records.
func TestImportFailureLeavesStateToReconcile(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	key := a.demo["kms/not-rotating"]
	a.fixKey(t) // kms.rotation of the key changes: it will be imported
	id := asffID("kms.rotation", key)
	a.gaps.FailImports("InvalidInput", map[string]int{id: -1})
	s, _ := a.run(t, `{"checks":["kms.rotation"]}`)
	if s.Published[0].FailedCount() != 1 {
		t.Fatalf("the planted failure did not happen: %+v", s.Published[0])
	}
	store := &findingstate.Store{Table: seed.FindingStateTable, Region: region, Boilerplate: runner.Boilerplate}
	if f, err := store.Scope(context.Background(), a.cfg, "123456789012", region, []string{"kms.rotation"}); err != nil || f == findingstate.Fresh {
		t.Errorf("after a failed import the state is %s (%v), want it left to reconcile", f, err)
	}
	a.gaps.FailImports("InvalidInput", map[string]int{id: 0})
	s, _ = a.run(t, `{"checks":["kms.rotation"]}`)
	p := s.Published[0]
	if !strings.Contains(p.StateSource, "reconciling") || p.ReadCalls == 0 || p.Resolved != 1 {
		t.Errorf("next run: %+v", p)
	}
}

func asffID(checkID, resourceARN string) string {
	return asff.FindingID(checkID, "123456789012", region, resourceARN)
}

// panickingCollector stands for a bug in a collector.
type panickingCollector struct{ collect.Collector }

func (panickingCollector) Collect(context.Context, aws.Config, *snapshot.Snapshot, collect.Scope) {
	panic("collector bug")
}

// TestCollectorPanicFailsItsScopesAndArchivesNothing: a sweep whose
// Secrets Manager collector panics (after a secret was deleted, so an
// archive would be due) reports the scopes of the checks reading it failed
// with the panic, archives and imports nothing of theirs, and publishes
// the other checks as usual.
func TestCollectorPanicFailsItsScopesAndArchivesNothing(t *testing.T) {
	a := newLifecycleAccount(t)
	first, _ := a.run(t, `{}`)
	before := hub(t, a.cfg)
	a.deleteSecret(t)

	r, _ := newRunner(t, a.srv, a.endpoint)
	for i, c := range r.Collectors {
		if c.Service() == snapshot.SecretsManager {
			r.Collectors[i] = panickingCollector{c}
		}
	}
	s, err := r.Handle(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, sc := range s.FailedScopes {
		if sc.Errors[0].Code == "Panic" && sc.Errors[0].Message == "collector bug" {
			failed = append(failed, sc.CheckID)
		}
	}
	if len(failed) == 0 || len(failed) != len(s.FailedScopes) || !slices.ContainsFunc(failed, func(id string) bool { return strings.HasPrefix(id, "secretsmanager.") }) {
		t.Errorf("failed scopes %v of %+v", failed, s.FailedScopes)
	}
	if l := s.Lifecycle; l.Archived != 0 || l.Unchanged == 0 || l.Unchanged+l.Kept+l.KeptFailed < first.Lifecycle.New-1 {
		t.Errorf("lifecycle %+v after %+v", l, first.Lifecycle)
	}
	after := hub(t, a.cfg)
	for id, f := range before {
		if g := after[id]; aws.ToString(f.GeneratorId) != "" && strings.HasPrefix(aws.ToString(f.GeneratorId), "secretsmanager.") &&
			(g.RecordState != f.RecordState || aws.ToString(g.UpdatedAt) != aws.ToString(f.UpdatedAt)) {
			t.Errorf("%s changed though its scope failed", id)
		}
	}
}

// TestCheckWithNoResourcesLeftArchivesAll: a sweep read check by check
// still settles a check that made no finding at all: once every
// repository is deleted, every ECR finding is archived.
func TestCheckWithNoResourcesLeftArchivesAll(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	api := ecr.NewFromConfig(a.cfg)
	repos, err := api.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{})
	if err != nil || len(repos.Repositories) == 0 {
		t.Fatalf("repositories %v, %v", repos, err)
	}
	var want []string
	for _, r := range repos.Repositories {
		if _, err := api.DeleteRepository(context.Background(), &ecr.DeleteRepositoryInput{RepositoryName: r.RepositoryName, Force: true}); err != nil {
			t.Fatal(err)
		}
		want = append(want, asff.FindingID("ecr.repository-cmk", account, region, aws.ToString(r.RepositoryArn)))
	}
	s, _ := a.run(t, `{}`)
	if s.Published[0].StateSource != "finding state table, check by check" {
		t.Fatalf("state source %q: the sweep did not read check by check", s.Published[0].StateSource)
	}
	if s.Lifecycle.Archived != len(want) {
		t.Errorf("archived %d, want the %d repositories' findings", s.Lifecycle.Archived, len(want))
	}
	held := hub(t, a.cfg)
	for _, id := range want {
		if held[id].RecordState != types.RecordStateArchived {
			t.Errorf("%s is %s, want ARCHIVED", id, held[id].RecordState)
		}
	}
}

// waitingCollector holds its collection back until ready says so (or a
// timeout passes, noted in timedOut).
type waitingCollector struct {
	collect.Collector
	ready    func() bool
	timedOut *atomic.Bool
}

func (w waitingCollector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	deadline := time.Now().Add(20 * time.Second)
	for !w.ready() {
		if time.Now().After(deadline) {
			w.timedOut.Store(true)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.Collector.Collect(ctx, cfg, snap, scope)
}

// TestChecksStartBeforeTheSlowestCollectorEnds: a check is evaluated as
// soon as the services it reads are collected. ACM's collection is held
// back until another check's stored records have been read (a DynamoDB
// Query, made when a check's evaluation starts): if evaluation waited for
// every collector, that would never happen.
func TestChecksStartBeforeTheSlowestCollectorEnds(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`) // the finding state is fresh after this: checks read it one by one
	r, counter := newRunner(t, a.srv, a.endpoint)
	var timedOut atomic.Bool
	for i, c := range r.Collectors {
		if c.Service() == snapshot.ACM {
			r.Collectors[i] = waitingCollector{Collector: c, timedOut: &timedOut,
				ready: func() bool { return counter.Count("DynamoDB", "Query") > 0 }}
		}
	}
	s, err := r.Handle(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if timedOut.Load() {
		t.Error("no check was evaluated while ACM was still being collected")
	}
	if len(s.FailedScopes) != 0 || s.Lifecycle.Unchanged == 0 || s.Lifecycle.Archived != 0 {
		t.Errorf("failed scopes %+v, lifecycle %+v", s.FailedScopes, s.Lifecycle)
	}
	for _, c := range s.Checks {
		if strings.HasPrefix(c, "acm.") && len(s.Counts[c]) == 0 {
			t.Errorf("%s made no finding after its collector was held back", c)
		}
	}
}
