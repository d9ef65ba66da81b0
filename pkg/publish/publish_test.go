package publish_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"golang.org/x/time/rate"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/kmschecks"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const (
	region  = "us-east-1"
	account = motoserver.Account
)

// findings maps n kms.rotation results with the given status.
func findings(n int, status check.Status) []types.AwsSecurityFinding {
	out := make([]types.AwsSecurityFinding, n)
	ctx := asff.Context{Account: account, Partition: "aws", ProductRegion: region, Now: time.Now(), ToolVersion: "test"}
	for i := range out {
		r := check.Result{CheckID: "kms.rotation", ResourceARN: fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/%04d", account, i), Region: region, Status: status, Reason: "rotation"}
		out[i] = asff.Map(kmschecks.Rotation, r, ctx)
	}
	return out
}

// request is a publish of fs by the kms.rotation check, archivable.
func request(fs []types.AwsSecurityFinding) publish.Request {
	return publish.Request{
		Account: account, Partition: "aws", Findings: fs, Checks: []string{"kms.rotation"},
		Archivable: map[string]bool{"kms.rotation": true}, Now: time.Now(),
	}
}

// testPublisher has its own limiters (tests must not share the process's
// quota state) and fast retries. It imports every observation
// (ReimportAfter < 0), as the lifecycle tests expect;
// TestUnchangedFindingsAreNotReimported covers the default.
func testPublisher() publish.Publisher {
	return publish.Publisher{Limiters: publish.NewLimiters(), RetryBackoff: time.Millisecond, ReimportAfter: -1}
}

// TestUnchangedFindingsAreNotReimported: a second run that observes exactly
// what Security Hub holds imports nothing; once the findings are older
// than ReimportAfter they are imported again; a changed one at once.
func TestUnchangedFindingsAreNotReimported(t *testing.T) {
	hub := newSHFake(t)
	pub := testPublisher()
	pub.ReimportAfter = 0 // the default, 24 hours
	cfg := fakeConfig(t, hub.URL, nil)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(fs []types.AwsSecurityFinding, t time.Time) publish.Request {
		r := request(fs)
		r.Now = t
		return r
	}
	failedF := findings(150, check.Failed)
	if rep := pub.Publish(context.Background(), cfg, at(failedF, now)); rep.New != 150 || rep.Calls != 2 {
		t.Fatalf("run 1: %+v", summary(rep))
	}
	rep := pub.Publish(context.Background(), cfg, at(failedF, now.Add(time.Hour)))
	if rep.Unchanged != 150 || rep.Calls != 0 || rep.Sent != 0 {
		t.Fatalf("run 2, nothing changed: %+v", summary(rep))
	}
	changed := append(findings(1, check.Passed), failedF[1:]...)
	rep = pub.Publish(context.Background(), cfg, at(changed, now.Add(2*time.Hour)))
	if rep.Resolved != 1 || rep.Unchanged != 149 || rep.Sent != 1 {
		t.Fatalf("run 3, one fixed: %+v", summary(rep))
	}
	rep = pub.Publish(context.Background(), cfg, at(changed, now.Add(25*time.Hour)))
	if rep.Updated != 149 || rep.Unchanged != 1 || rep.Sent != 149 {
		t.Fatalf("run 4, a day later: %+v", summary(rep))
	}
}

func fakeConfig(t *testing.T, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, region, counter)
}

// motoHub is moto behind the gap-filling proxy, Security Hub enabled.
func motoHub(t *testing.T) (aws.Config, *gapfill.Proxy, *awsconfig.CallCounter) {
	srv := motoserver.Fresh(t)
	gaps, err := gapfill.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gaps.Close)
	counter := awsconfig.NewCallCounter()
	cfg, err := srv.ConfigAt(context.Background(), gaps.URL, region, counter)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.EnableSecurityHub(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, gaps, counter
}

func readAll(t *testing.T, cfg aws.Config) map[string]types.AwsSecurityFinding {
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

// TestPublish2500FindingsIn25Calls imports 2,500 findings into moto's
// Security Hub in 25 BatchImportFindings calls and reads every one back.
func TestPublish2500FindingsIn25Calls(t *testing.T) {
	cfg, _, counter := motoHub(t)
	fs := findings(2500, check.Failed)
	pub := testPublisher()
	rep := pub.Publish(context.Background(), cfg, request(fs))
	if rep.Sent != 2500 || rep.Imported != 2500 || rep.New != 2500 || rep.Calls != 25 || len(rep.Failed) != 0 || rep.Error != "" {
		t.Fatalf("report %+v", summary(rep))
	}
	if got := counter.Count("SecurityHub", "BatchImportFindings"); got != 25 {
		t.Errorf("BatchImportFindings calls: %d, want 25", got)
	}
	if got := counter.Count("SecurityHub", "GetFindings"); got != 1 {
		t.Errorf("GetFindings calls on an empty hub: %d, want 1", got)
	}
	stored := readAll(t, cfg)
	for _, f := range fs {
		s, ok := stored[*f.Id]
		if !ok {
			t.Fatalf("finding %s not in Security Hub", *f.Id)
		}
		if s.RecordState != types.RecordStateActive || s.Compliance.Status != types.ComplianceStatusFailed {
			t.Fatalf("stored %s: %s %s", *f.Id, s.RecordState, s.Compliance.Status)
		}
	}
}

// TestFailedFindingsAreRetriedThenReported: moto (through the gap-filling
// proxy) reports some Ids failed twice — they are retried and imported —
// and others on every attempt — they are reported with their error code
// and counted in the metric, never dropped silently.
func TestFailedFindingsAreRetriedThenReported(t *testing.T) {
	cfg, gaps, counter := motoHub(t)
	fs := findings(250, check.Failed)
	transient := map[string]int{*fs[3].Id: 2, *fs[150].Id: 1, *fs[249].Id: 2}
	permanent := map[string]int{*fs[10].Id: -1, *fs[200].Id: -1}
	gaps.FailImports("InternalException", transient)
	gaps.FailImports("InvalidInput", permanent)
	pub := testPublisher()
	rep := pub.Publish(context.Background(), cfg, request(fs))

	if rep.Imported != 248 || len(rep.Failed) != 2 {
		t.Fatalf("report %+v", summary(rep))
	}
	for _, f := range rep.Failed {
		if permanent[f.ID] == 0 || f.ErrorCode != "InvalidInput" || f.Action != publish.ActionNew {
			t.Errorf("failed %+v", f)
		}
	}
	// 3 calls, then retries: 5 findings (1 call), 4 (1 call), 2 (1 call);
	// the permanent failures give up after DefaultMaxRetries re-sends.
	if rep.Calls != 3+publish.DefaultMaxRetries || counter.Count("SecurityHub", "BatchImportFindings") != rep.Calls {
		t.Errorf("calls %d (counted %d)", rep.Calls, counter.Count("SecurityHub", "BatchImportFindings"))
	}
	stored := readAll(t, cfg)
	for id := range transient {
		if _, ok := stored[id]; !ok {
			t.Errorf("transiently failing %s was not imported after retries", id)
		}
	}
	for id := range permanent {
		if _, ok := stored[id]; ok {
			t.Errorf("permanently failing %s is stored", id)
		}
	}
	if rep.NotImported() != 2 {
		t.Errorf("not imported: %d, want 2", rep.NotImported())
	}
}

// TestGetFindingsFiltersAreSent: moto ignores Filters, so prove on the
// wire that GetFindings asks for our product, account, Id prefix and the
// run's checks only, and that findings the filters would have excluded
// (another tool's, another check's) are left alone even when returned.
func TestGetFindingsFiltersAreSent(t *testing.T) {
	hub := newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)
	// Another check's finding and another product's, already stored.
	other := findings(1, check.Failed)[0]
	other.GeneratorId = aws.String("kms.pending-deletion")
	other.Id = aws.String("posture-auditor/kms.pending-deletion/x")
	foreign := findings(1, check.Failed)[0]
	foreign.ProductArn = aws.String("arn:aws:securityhub:us-east-1::product/aws/guardduty")
	foreign.Id = aws.String("guardduty/x")
	seedReq := request([]types.AwsSecurityFinding{other, foreign})
	seedReq.Checks = nil // a plain import, no read
	pub.Publish(context.Background(), cfg, seedReq)

	rep := pub.Publish(context.Background(), cfg, request(findings(3, check.Failed)))
	if rep.Archived != 0 || rep.Stored != 0 || rep.New != 3 {
		t.Fatalf("other findings were taken for ours: %+v", summary(rep))
	}
	reads := hub.readBodies()
	if len(reads) != 1 {
		t.Fatalf("%d GetFindings calls", len(reads))
	}
	got, _ := json.Marshal(reads[0]["Filters"])
	for _, want := range []string{
		`"ProductArn":[{"Comparison":"EQUALS","Value":"arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"}]`,
		`"AwsAccountId":[{"Comparison":"EQUALS","Value":"123456789012"}]`,
		`"GeneratorId":[{"Comparison":"EQUALS","Value":"kms.rotation"}]`,
		`"Id":[{"Comparison":"PREFIX","Value":"posture-auditor/"}]`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("filters %s lack %s", got, want)
		}
	}
	if reads[0]["MaxResults"] != float64(100) {
		t.Errorf("MaxResults %v", reads[0]["MaxResults"])
	}
}

// TestGetFindingsIsPagedAndChunked: 250 stored findings read in 3 pages;
// 45 checks are asked for in chunks of at most 20 GeneratorId values.
func TestGetFindingsIsPagedAndChunked(t *testing.T) {
	hub := newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)
	pub.Publish(context.Background(), cfg, request(findings(250, check.Failed)))
	before := len(hub.readBodies())
	rep := pub.Publish(context.Background(), cfg, request(findings(250, check.Failed)))
	if rep.Stored != 250 || rep.Updated != 250 || rep.ReadCalls != 3 {
		t.Fatalf("report %+v", summary(rep))
	}
	reads := attempts(hub.readBodies()[before:])
	if len(reads) != 3 || reads[1]["NextToken"] != "100" || reads[2]["NextToken"] != "200" {
		t.Fatalf("pages: %v", reads)
	}

	hub2 := newSHFake(t)
	req := request(nil)
	req.Checks = nil
	for i := range 45 {
		req.Checks = append(req.Checks, fmt.Sprintf("check.%02d", i))
	}
	rep = pub.Publish(context.Background(), fakeConfig(t, hub2.URL, nil), req)
	if rep.ReadCalls != 3 {
		t.Fatalf("read calls %d", rep.ReadCalls)
	}
	var sizes []int
	for _, r := range attempts(hub2.readBodies()) {
		sizes = append(sizes, len(r["Filters"].(map[string]any)["GeneratorId"].([]any)))
	}
	if !slices.Equal(sizes, []int{20, 20, 5}) {
		t.Errorf("GeneratorId values per call: %v", sizes)
	}
}

// TestLifecycleOnTheWire: run 1 creates, run 2 (the key fixed) resolves
// with CreatedAt and FirstObservedAt as first stored and an UpdatedAt the
// fake (AWS semantics: stale updates are ignored) accepts even within the
// same millisecond, run 3 (resource gone) archives, run 4 reactivates. The
// team's Workflow and Note survive, and are never sent.
func TestLifecycleOnTheWire(t *testing.T) {
	hub := newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(fs []types.AwsSecurityFinding, t time.Time) publish.Request {
		r := request(fs)
		r.Now = t
		return r
	}
	failedF, passedF := findings(2, check.Failed), findings(2, check.Passed)
	id := *failedF[0].Id

	rep := pub.Publish(context.Background(), cfg, at(failedF, now))
	if rep.New != 2 || rep.Imported != 2 {
		t.Fatalf("run 1: %+v", summary(rep))
	}
	first := hub.get(id)
	hub.mu.Lock()
	hub.stored[id]["Workflow"] = map[string]any{"Status": "NOTIFIED"}
	hub.stored[id]["Note"] = map[string]any{"Text": "ticket SEC-42", "UpdatedBy": "alice", "UpdatedAt": "2026-05-01T12:30:00.000Z"}
	hub.mu.Unlock()

	// Run 2 in the same millisecond as run 1: the key is fixed.
	rep = pub.Publish(context.Background(), cfg, at([]types.AwsSecurityFinding{passedF[0], failedF[1]}, now))
	if rep.Resolved != 1 || rep.Updated != 1 || rep.Imported != 2 || hub.ignored != 0 {
		t.Fatalf("run 2: %+v (ignored by the hub: %d)", summary(rep), hub.ignored)
	}
	got := hub.get(id)
	if got["Compliance"].(map[string]any)["Status"] != "PASSED" || got["CreatedAt"] != first["CreatedAt"] || got["FirstObservedAt"] != first["FirstObservedAt"] {
		t.Fatalf("run 2 stored: %v %v %v (first %v)", got["Compliance"], got["CreatedAt"], got["FirstObservedAt"], first["CreatedAt"])
	}
	if !after(got["UpdatedAt"], first["UpdatedAt"]) {
		t.Errorf("UpdatedAt %v not after %v", got["UpdatedAt"], first["UpdatedAt"])
	}
	if got["Workflow"] == nil || got["Note"] == nil {
		t.Errorf("the team's Workflow/Note were lost: %v %v", got["Workflow"], got["Note"])
	}

	// Run 3: the resource is gone.
	rep = pub.Publish(context.Background(), cfg, at(failedF[1:], now.Add(time.Hour)))
	if rep.Archived != 1 || len(rep.ArchivedFindings) != 1 || rep.ArchivedFindings[0].ID != id {
		t.Fatalf("run 3: %+v", summary(rep))
	}
	if got = hub.get(id); got["RecordState"] != "ARCHIVED" || got["CreatedAt"] != first["CreatedAt"] {
		t.Fatalf("run 3 stored: %v %v", got["RecordState"], got["CreatedAt"])
	}

	// Run 4: seen again.
	rep = pub.Publish(context.Background(), cfg, at(passedF, now.Add(2*time.Hour)))
	if rep.Reactivated != 1 || rep.Imported != 2 {
		t.Fatalf("run 4: %+v", summary(rep))
	}
	if got = hub.get(id); got["RecordState"] != "ACTIVE" || got["CreatedAt"] != first["CreatedAt"] {
		t.Fatalf("run 4 stored: %v %v", got["RecordState"], got["CreatedAt"])
	}
	for _, k := range hub.sentKeys() {
		if k == "Workflow" || k == "Note" || k == "UserDefinedFields" || k == "VerificationState" || k == "WorkflowState" {
			t.Errorf("the publisher sent %s", k)
		}
	}
}

// TestIncompleteScopeArchivesNothing: a scope that errored (or was not
// scanned) keeps its findings exactly as stored: not even UpdatedAt moves.
func TestIncompleteScopeArchivesNothing(t *testing.T) {
	hub := newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)
	fs := findings(5, check.Failed)
	pub.Publish(context.Background(), cfg, request(fs))
	before := hub.get(*fs[0].Id)["UpdatedAt"]
	calls := hub.importCalls()

	req := request(nil) // nothing observed: the list call failed
	req.Archivable = map[string]bool{}
	rep := pub.Publish(context.Background(), cfg, req)
	if rep.Archived != 0 || rep.Kept != 5 || hub.importCalls() != calls {
		t.Fatalf("report %+v, import calls %d -> %d", summary(rep), calls, hub.importCalls())
	}
	if hub.get(*fs[0].Id)["RecordState"] != "ACTIVE" || hub.get(*fs[0].Id)["UpdatedAt"] != before {
		t.Error("a kept finding was touched")
	}
}

// TestDryRunPlansButImportsNothing: the dry run reads, and says what it
// would do, without a single import.
func TestDryRunPlansButImportsNothing(t *testing.T) {
	hub := newSHFake(t)
	pub := testPublisher()
	cfg := fakeConfig(t, hub.URL, nil)
	fs := findings(4, check.Failed)
	pub.Publish(context.Background(), cfg, request(fs))
	calls := hub.importCalls()

	passed := findings(4, check.Passed)
	req := request(append(passed[1:3], findings(6, check.Failed)[4:]...)) // 0 and 3 gone, 1 and 2 fixed, 4 and 5 new
	req.DryRun = true
	rep := pub.Publish(context.Background(), cfg, req)
	if !rep.DryRun || rep.Resolved != 2 || rep.New != 2 || rep.Archived != 2 || rep.Imported != 0 || rep.Calls != 0 {
		t.Fatalf("dry run: %+v", summary(rep))
	}
	if hub.importCalls() != calls {
		t.Errorf("dry run imported (%d calls)", hub.importCalls()-calls)
	}
}

// TestSecurityHubNotEnabled: InvalidAccessException on the read is
// reported once for the region; nothing is imported there.
func TestSecurityHubNotEnabled(t *testing.T) {
	hub := newSHFake(t)
	hub.refuse, hub.refuseStatus = "InvalidAccessException", 401
	pub := testPublisher()
	rep := pub.Publish(context.Background(), fakeConfig(t, hub.URL, nil), request(findings(120, check.Failed)))
	if !rep.SecurityHubNotEnabled || rep.Unpublished != 120 || rep.Imported != 0 || rep.Calls != 0 || len(rep.Failed) != 0 ||
		!strings.Contains(rep.Error, "Security Hub is not enabled in us-east-1") {
		t.Fatalf("report %+v", summary(rep))
	}
	if rep.NotImported() != 120 {
		t.Errorf("not imported: %d, want 120", rep.NotImported())
	}
}

// TestInvalidAccessOnImport: a hub that lets us read but fails every
// finding with InvalidAccess (AWS's answer when the integration is not
// enabled) stops after the first call and is reported as not enabled.
func TestInvalidAccessOnImport(t *testing.T) {
	hub := newSHFake(t)
	fs := findings(250, check.Failed)
	for _, f := range fs {
		hub.failIDs[*f.Id] = -1
	}
	hub.failCode = "InvalidAccess"
	pub := testPublisher()
	rep := pub.Publish(context.Background(), fakeConfig(t, hub.URL, nil), request(fs))
	if !rep.SecurityHubNotEnabled || rep.Calls != 1 || len(rep.Failed) != 250 || rep.Imported != 0 {
		t.Fatalf("report %+v", summary(rep))
	}
}

// TestUnlistedFailuresAreNotCountedAsImported: a 200 response whose
// FailedCount exceeds the findings it lists must not read as success.
func TestUnlistedFailuresAreNotCountedAsImported(t *testing.T) {
	hub := newSHFake(t)
	fs := findings(150, check.Failed)
	hub.failIDs[*fs[7].Id], hub.failIDs[*fs[8].Id], hub.failIDs[*fs[9].Id], hub.failIDs[*fs[120].Id] = 1, 1, 1, 1
	hub.hideFailed = true
	pub := testPublisher()
	rep := pub.Publish(context.Background(), fakeConfig(t, hub.URL, nil), request(fs))
	// One entry per call, counting every unnamed failure of that call.
	if rep.Imported != 146 || len(rep.Failed) != 2 || rep.Failed[0].ErrorCode != "UnreportedFailures" || rep.FailedCount() != 4 {
		t.Fatalf("report %+v, failed count %d", summary(rep), rep.FailedCount())
	}
	if rep.NotImported() != 4 {
		t.Errorf("not imported: %d; it must count every unimported finding", rep.NotImported())
	}
}

// TestReadErrorPublishesNothing: without the stored findings an import
// would reset first-seen times, so a failed read publishes nothing.
func TestReadErrorPublishesNothing(t *testing.T) {
	hub := newSHFake(t)
	hub.refuse, hub.refuseStatus = "AccessDeniedException", 403
	pub := testPublisher()
	rep := pub.Publish(context.Background(), fakeConfig(t, hub.URL, nil), request(findings(3, check.Failed)))
	if rep.SecurityHubNotEnabled || rep.Unpublished != 3 || rep.Calls != 0 || !strings.Contains(rep.Error, "AccessDeniedException") {
		t.Fatalf("report %+v", summary(rep))
	}
}

// TestLimiterConfiguration: the quotas, per (account, region).
func TestLimiterConfiguration(t *testing.T) {
	l := publish.NewLimiters()
	imp, read := l.Import(account, region), l.Read(account, region)
	if imp.Limit() != 10 || imp.Burst() != 30 || read.Limit() != 3 || read.Burst() != 6 {
		t.Fatalf("import %v/%d read %v/%d", imp.Limit(), imp.Burst(), read.Limit(), read.Burst())
	}
	if l.Import(account, region) != imp || l.Import(account, "eu-west-1") == imp || l.Import("444455556666", region) == imp {
		t.Error("limiters are not one per (account, region)")
	}
	if publish.DefaultLimiters.Import(account, region) != publish.DefaultLimiters.Import(account, region) {
		t.Error("the default limiters are not shared")
	}
	// At a share of the quotas (QUOTA_FRACTION): rate and burst both.
	at := publish.NewLimitersAt(0.9)
	if imp, read := at.Import(account, region), at.Read(account, region); imp.Limit() != 9 || imp.Burst() != 27 || read.Limit() < 2.69 || read.Limit() > 2.71 || read.Burst() != 5 {
		t.Errorf("at 0.9: import %v/%d read %v/%d", imp.Limit(), imp.Burst(), read.Limit(), read.Burst())
	}
	// On a fake clock: the burst of 30 goes at once, then one call every
	// 100 ms.
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 40 {
		d := imp.ReserveN(t0, 1).DelayFrom(t0)
		want := time.Duration(max(0, i-29)) * 100 * time.Millisecond
		if d < want-time.Millisecond || d > want+time.Millisecond {
			t.Fatalf("call %d waits %v, want %v", i+1, d, want)
		}
	}
	for i := range 8 {
		d := read.ReserveN(t0, 1).DelayFrom(t0)
		want := time.Duration(max(0, i-5)) * time.Second / 3
		if d < want-time.Millisecond || d > want+time.Millisecond {
			t.Fatalf("read %d waits %v, want %v", i+1, d, want)
		}
	}
}

// TestPublisherStaysWithinQuota: a fake enforcing 10 TPS burst 30 (plus
// one request of slack for float rounding) throttles past it, and the SDK
// may not retry (MaxAttempts 1): 3,500 findings (35 calls) publish with no
// throttling, because the limiter waits ~0.5 s.
func TestPublisherStaysWithinQuota(t *testing.T) {
	hub := newSHFake(t)
	hub.quota = rate.NewLimiter(10, 31)
	pub := testPublisher()
	start := time.Now()
	rep := pub.Publish(context.Background(), fakeConfig(t, hub.URL, nil), request(findings(3500, check.Failed)))
	elapsed := time.Since(start)
	if rep.Imported != 3500 || rep.Calls != 35 || len(rep.Failed) != 0 || hub.throttled != 0 {
		t.Fatalf("report %+v, throttled %d", summary(rep), hub.throttled)
	}
	if elapsed < 400*time.Millisecond {
		t.Errorf("35 calls took %v: the limiter did not pace them", elapsed)
	}
}

// TestOversizeFindingIsShrunkOrReported: a finding over 240 KB loses its
// resource details; one still too large is reported, not sent.
func TestOversizeFindingIsShrunkOrReported(t *testing.T) {
	fs := findings(2, check.Failed)
	big := strings.Repeat("x", 250*1000)
	fs[0].Resources[0].Details = &types.ResourceDetails{Other: map[string]string{"blob": big}}
	fs[1].ProductFields = map[string]string{"blob": big}
	hub := newSHFake(t)
	pub := testPublisher()
	rep := pub.Publish(context.Background(), fakeConfig(t, hub.URL, nil), request(fs))
	if rep.Imported != 1 || len(rep.Failed) != 1 || rep.Failed[0].ID != *fs[1].Id || rep.Failed[0].ErrorCode != "FindingSizeExceeded" {
		t.Fatalf("report %+v", summary(rep))
	}
	stored := hub.get(*fs[0].Id)
	if stored == nil || stored["ProductFields"].(map[string]any)["posture-auditor/Truncated"] == nil {
		t.Errorf("shrunk finding: %v", stored["ProductFields"])
	}
}

func TestBatchesRespectCountAndSize(t *testing.T) {
	changes := func(fs []types.AwsSecurityFinding) []publish.Change {
		out := make([]publish.Change, len(fs))
		for i, f := range fs {
			out[i] = publish.Change{Action: publish.ActionNew, Finding: f}
		}
		return out
	}
	if got := len(publish.Batches(changes(findings(250, check.Failed)))); got != 3 {
		t.Errorf("250 findings: %d batches", got)
	}
	if got := len(publish.Batches(changes(findings(100, check.Failed)))); got != 1 {
		t.Errorf("100 findings: %d batches", got)
	}
	big := findings(30, check.Failed)
	pad := strings.Repeat("x", 230*1024)
	for i := range big {
		big[i].ProductFields = map[string]string{"pad": pad}
	}
	for _, b := range publish.Batches(changes(big)) {
		size := 0
		for _, c := range b {
			size += publish.EncodedSize(c.Finding)
		}
		if size > publish.MaxBatchBytes {
			t.Errorf("batch of %d findings is %d bytes", len(b), size)
		}
	}
}

// summary is a report without its per-finding map, for failure messages.
func summary(r publish.Report) publish.Report {
	r.Actions = nil
	if len(r.Failed) > 5 {
		r.Failed = r.Failed[:5]
	}
	return r
}
