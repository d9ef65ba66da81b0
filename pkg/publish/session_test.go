package publish_test

// Regression tests of the check-by-check Session, from a review: each
// reproduces a way the streaming publisher could archive, count or mark
// fresh what it should not.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

type rvHub struct {
	mu      sync.Mutex
	sent    []types.AwsSecurityFinding
	failIDs map[string]bool
	held    []types.AwsSecurityFinding
}

func (h *rvHub) BatchImportFindings(_ context.Context, in *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := &securityhub.BatchImportFindingsOutput{}
	for _, f := range in.Findings {
		h.sent = append(h.sent, f)
		if h.failIDs[aws.ToString(f.Id)] {
			out.FailedFindings = append(out.FailedFindings, types.ImportFindingsError{Id: f.Id, ErrorCode: aws.String("InvalidInput"), ErrorMessage: aws.String("no")})
		}
	}
	out.FailedCount = aws.Int32(int32(len(out.FailedFindings)))
	out.SuccessCount = aws.Int32(int32(len(in.Findings) - len(out.FailedFindings)))
	return out, nil
}
func (h *rvHub) GetFindings(context.Context, *securityhub.GetFindingsInput, ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error) {
	return &securityhub.GetFindingsOutput{Findings: h.held}, nil
}

type rvState struct {
	records map[string][]findingstate.Record
	get     map[string]types.AwsSecurityFinding
}

func (s *rvState) Scope(context.Context, aws.Config, string, string, []string) (findingstate.Freshness, error) {
	return findingstate.Fresh, nil
}
func (s *rvState) Load(_ context.Context, _ aws.Config, _, _ string, checks []string) ([]findingstate.Record, error) {
	return append([]findingstate.Record(nil), s.records[checks[0]]...), nil
}
func (s *rvState) Get(_ context.Context, _ aws.Config, _, _ string, ids []string) ([]types.AwsSecurityFinding, error) {
	var out []types.AwsSecurityFinding
	for _, id := range ids {
		if f, ok := s.get[id]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}
func (s *rvState) Save(context.Context, aws.Config, string, string, []types.AwsSecurityFinding) error {
	return nil
}
func (s *rvState) BeginReconcile(aws.Config, string, string, []string, time.Time) *findingstate.Reconciliation {
	panic("not expected")
}
func (s *rvState) Invalidate(context.Context, aws.Config, string, string, []string) error { return nil }
func (s *rvState) Suspend(context.Context, aws.Config, string, string, []string) (findingstate.Markers, error) {
	return findingstate.Markers{}, nil
}
func (s *rvState) Resume(context.Context, aws.Config, string, string, findingstate.Markers) error {
	return nil
}

func rvFinding(check, arn string, status types.ComplianceStatus, observed time.Time) types.AwsSecurityFinding {
	ts := asff.Timestamp(observed)
	return types.AwsSecurityFinding{
		Id: aws.String(asff.FindingID(check, account, region, arn)), GeneratorId: aws.String(check),
		ProductArn: aws.String(asff.ProductARN("aws", region, account)), AwsAccountId: aws.String(account),
		SchemaVersion: aws.String("2018-10-08"), Title: aws.String("t"), Description: aws.String("d"),
		Types: []string{"Software and Configuration Checks"}, Severity: &types.Severity{Label: types.SeverityLabelHigh},
		CreatedAt: aws.String(ts), UpdatedAt: aws.String(ts), FirstObservedAt: aws.String(ts), LastObservedAt: aws.String(ts),
		Compliance: &types.Compliance{Status: status}, RecordState: types.RecordStateActive,
		Resources:     []types.Resource{{Id: aws.String(arn), Type: aws.String("Other")}},
		ProductFields: map[string]string{asff.ObservedAtField: ts, asff.FingerprintField: "fp" + string(status)},
	}
}

// A re-check saves a newer observation after the sweep Loaded the check's
// records: archiving the NEWER finding read by Get, with an UpdatedAt
// later than it, would make Security Hub accept the archive. It is left
// as superseded.
func TestSessionDoesNotArchiveAFindingObservedSinceItsRecordWasRead(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	sweepObs := now.Add(-10 * time.Minute)
	arn := "arn:aws:s3:::bucket"
	old := rvFinding("c1", arn, types.ComplianceStatusFailed, sweepObs.Add(-time.Hour))
	newer := rvFinding("c1", arn, types.ComplianceStatusFailed, now.Add(-time.Minute)) // re-check, after sweep began
	st := &rvState{records: map[string][]findingstate.Record{"c1": {findingstate.RecordOf(old, false)}},
		get: map[string]types.AwsSecurityFinding{aws.ToString(old.Id): newer}}
	hub := &rvHub{}
	pub := publish.Publisher{NewAPI: func(aws.Config) publish.API { return hub }, Limiters: publish.NewLimiters(), State: st, MaxRetries: -1}
	cfg := aws.Config{Region: region}
	s := pub.Begin(context.Background(), cfg, publish.Request{Account: account, Partition: "aws", Checks: []string{"c1"},
		Archivable: map[string]bool{"c1": true}, Now: now, ObservedAt: sweepObs, CheckByCheck: true})
	s.Check("c1")
	rep := s.Finish()
	t.Logf("report: archived=%d sent=%d imported=%d superseded=%d", rep.Archived, rep.Sent, rep.Imported, rep.Superseded)
	for _, f := range hub.sent {
		t.Logf("sent %s %s UpdatedAt=%s (stored newer UpdatedAt=%s) ObservedAt=%s", aws.ToString(f.Id), f.RecordState, aws.ToString(f.UpdatedAt), aws.ToString(newer.UpdatedAt), f.ProductFields[asff.ObservedAtField])
		if f.RecordState == types.RecordStateArchived && aws.ToString(f.UpdatedAt) > aws.ToString(newer.UpdatedAt) {
			t.Errorf("archive of a finding observed after the sweep, with UpdatedAt later than the newer observation: Security Hub accepts it")
		}
	}
	if rep.Archived != 0 || rep.Superseded != 1 {
		t.Errorf("archived %d, superseded %d; want 0 and 1", rep.Archived, rep.Superseded)
	}
}

// A kept FAILED finding due for refresh whose stored finding Get cannot
// return is counted kept once (and unreadable).
func TestSessionCountsAnUnreadableRefreshOnce(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	old := rvFinding("c1", "arn:aws:s3:::b", types.ComplianceStatusFailed, now.Add(-40*24*time.Hour))
	st := &rvState{records: map[string][]findingstate.Record{"c1": {findingstate.RecordOf(old, false)}}, get: map[string]types.AwsSecurityFinding{}}
	hub := &rvHub{}
	pub := publish.Publisher{NewAPI: func(aws.Config) publish.API { return hub }, Limiters: publish.NewLimiters(), State: st, MaxRetries: -1}
	s := pub.Begin(context.Background(), aws.Config{Region: region}, publish.Request{Account: account, Partition: "aws", Checks: []string{"c1"},
		Archivable: map[string]bool{}, Now: now, ObservedAt: now.Add(-time.Minute), CheckByCheck: true})
	rep := s.Finish()
	t.Logf("stored=%d kept=%d unreadable=%d", rep.Stored, rep.Kept, rep.Unreadable)
	if rep.Kept != rep.Stored || rep.Unreadable != 1 {
		t.Errorf("kept %d, unreadable %d, for %d stored finding(s)", rep.Kept, rep.Unreadable, rep.Stored)
	}
}

// orderedStore delays c2's Load until the session suspended the checks
// (the prefetch of c2 running while c1's first batch is imported).
type orderedStore struct {
	*findingstate.Store
	suspended chan struct{}
	once      sync.Once
}

func (o *orderedStore) Suspend(ctx context.Context, cfg aws.Config, a, r string, checks []string) (findingstate.Markers, error) {
	m, err := o.Store.Suspend(ctx, cfg, a, r, checks)
	o.once.Do(func() { close(o.suspended) })
	return m, err
}
func (o *orderedStore) Load(ctx context.Context, cfg aws.Config, a, r string, checks []string) ([]findingstate.Record, error) {
	if len(checks) == 1 && checks[0] == "c2" {
		<-o.suspended
	}
	return o.Store.Load(ctx, cfg, a, r, checks)
}

// Upgrade: c2's records are of the older format, markers fresh. c2 is read
// back from Security Hub after the session suspended its markers; it must
// not be reconciled (marked fresh) then, and must end stale.
func TestSessionLeavesACheckReadBackMidRunStale(t *testing.T) {
	srv := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := srv.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.CreateFindingStateTable(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	store := &findingstate.Store{Table: seed.FindingStateTable}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := store.Reconcile(ctx, cfg, account, region, []string{"c1", "c2"}, nil, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	oldF := rvFinding("c2", "arn:aws:s3:::old", types.ComplianceStatusFailed, now.Add(-2*time.Hour))
	body, _ := json.Marshal(findingstate.Compact(oldF))
	if _, err := dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(seed.FindingStateTable), Item: map[string]ddbtypes.AttributeValue{
		"scope": &ddbtypes.AttributeValueMemberS{Value: account + "#" + region}, "id": &ddbtypes.AttributeValueMemberS{Value: aws.ToString(oldF.Id)},
		"check": &ddbtypes.AttributeValueMemberS{Value: "c2"}, "finding": &ddbtypes.AttributeValueMemberS{Value: string(body)},
	}}); err != nil {
		t.Fatal(err)
	}
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"c1", "c2"}); f != findingstate.Fresh {
		t.Fatalf("setup: %s", f)
	}
	obs := now.Add(-time.Minute)
	c2new := rvFinding("c2", "arn:aws:s3:::old", types.ComplianceStatusPassed, obs)
	hub := &rvHub{held: []types.AwsSecurityFinding{oldF}, failIDs: map[string]bool{aws.ToString(c2new.Id): true}}
	ordered := &orderedStore{Store: store, suspended: make(chan struct{})}
	pub := publish.Publisher{NewAPI: func(aws.Config) publish.API { return hub }, Limiters: publish.NewLimiters(), State: ordered, MaxRetries: -1}
	s := pub.Begin(ctx, cfg, publish.Request{Account: account, Partition: "aws", Checks: []string{"c1", "c2"},
		Archivable: map[string]bool{"c1": true, "c2": true}, Now: now, ObservedAt: obs, CheckByCheck: true})
	s.Check("c1")
	for i := range 101 {
		s.Add(rvFinding("c1", "arn:aws:s3:::b"+string(rune('A'+i%26))+string(rune('a'+i/26)), types.ComplianceStatusPassed, obs))
	}
	s.Check("c2")
	s.Add(c2new)
	rep := s.Finish()
	t.Logf("report: stateSource=%q stateError=%q failed=%d sent=%d imported=%d", rep.StateSource, rep.StateError, len(rep.Failed), rep.Sent, rep.Imported)
	f1, _ := store.Scope(ctx, cfg, account, region, []string{"c1"})
	f2, _ := store.Scope(ctx, cfg, account, region, []string{"c2"})
	t.Logf("after a run with a failed import: c1 %s, c2 %s", f1, f2)
	if f2 == findingstate.Fresh {
		t.Errorf("c2's records could not be read and its import failed, but its marker is fresh: the next run would plan from records that may be wrong")
	}
}

// loadLog is an rvState that logs which checks' records were loaded.
type loadLog struct {
	*rvState
	mu    sync.Mutex
	loads []string
}

func (l *loadLog) Load(ctx context.Context, cfg aws.Config, a, r string, checks []string) ([]findingstate.Record, error) {
	l.mu.Lock()
	l.loads = append(l.loads, checks...)
	l.mu.Unlock()
	return l.rvState.Load(ctx, cfg, a, r, checks)
}

func (l *loadLog) loaded() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.loads...)
}

// The next check's records are read ahead of a small check, and taken
// when it comes (one read); ahead of a large check they are not read
// until it comes, so two large checks' records are never held at once.
func TestSessionReadsAheadOnlyOfASmallCheck(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for name, c := range map[string]struct {
		records   int
		readAhead bool
	}{
		"small": {1, true},
		"large": {publish.ReadAheadMaxRecords + 1, false},
	} {
		var stored []findingstate.Record
		for i := range c.records {
			stored = append(stored, findingstate.RecordOf(rvFinding("c1", fmt.Sprintf("arn:aws:s3:::b%d", i), types.ComplianceStatusPassed, now.Add(-time.Hour)), false))
		}
		st := &loadLog{rvState: &rvState{records: map[string][]findingstate.Record{"c1": stored}}}
		pub := publish.Publisher{NewAPI: func(aws.Config) publish.API { return &rvHub{} }, Limiters: publish.NewLimiters(), State: st, MaxRetries: -1}
		s := pub.Begin(context.Background(), aws.Config{Region: region}, publish.Request{Account: account, Partition: "aws", Checks: []string{"c1", "c2"},
			Archivable: map[string]bool{}, Now: now, ObservedAt: now, CheckByCheck: true, DryRun: true})
		s.Check("c1")
		s.ReadAhead("c2")
		deadline := time.Now().Add(2 * time.Second)
		for c.readAhead && len(st.loaded()) < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if !c.readAhead {
			time.Sleep(50 * time.Millisecond) // a read ahead would have started by now
		}
		if got, want := len(st.loaded()), map[bool]int{true: 2, false: 1}[c.readAhead]; got != want {
			t.Errorf("%s: %d reads before c2 came (%v), want %d", name, got, st.loaded(), want)
		}
		s.Check("c2")
		s.Finish()
		if got := st.loaded(); !slices.Equal(got, []string{"c1", "c2"}) {
			t.Errorf("%s: reads %v, want c1 then c2, each once", name, got)
		}
	}
}
