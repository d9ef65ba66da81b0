package findingstate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const (
	account = "123456789012"
	region  = "us-east-1"
)

func setup(t *testing.T) (*findingstate.Store, aws.Config, *awsconfig.CallCounter) {
	t.Helper()
	srv := motoserver.Fresh(t)
	counter := awsconfig.NewCallCounter()
	cfg, err := srv.Config(context.Background(), region, counter)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.CreateFindingStateTable(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return &findingstate.Store{Table: seed.FindingStateTable, Boilerplate: runner.Boilerplate}, cfg, counter
}

func finding(check, resource string, status types.ComplianceStatus, observed time.Time) types.AwsSecurityFinding {
	return types.AwsSecurityFinding{
		Id:           aws.String(asff.FindingID(check, account, region, resource)),
		GeneratorId:  aws.String(check),
		AwsAccountId: aws.String(account),
		CreatedAt:    aws.String(asff.Timestamp(observed.Add(-time.Hour))),
		UpdatedAt:    aws.String(asff.Timestamp(observed)),
		Compliance:   &types.Compliance{Status: status},
		RecordState:  types.RecordStateActive,
		Resources: []types.Resource{{Id: aws.String(resource), Type: aws.String("AwsKmsKey"), Details: &types.ResourceDetails{
			AwsKmsKey: &types.AwsKmsKeyDetails{KeyId: aws.String("k"), Description: aws.String("bulky details are not kept")}}}},
		ProductFields: map[string]string{asff.ObservedAtField: asff.Timestamp(observed), asff.FingerprintField: "fp-" + string(status)},
		Note:          &types.Note{Text: aws.String("the team's, never ours"), UpdatedBy: aws.String("alice"), UpdatedAt: aws.String("2026-01-01T00:00:00.000Z")},
	}
}

// TestFreshnessLifecycle: a new table is empty; reconciling makes the
// reconciled checks fresh (and only them); invalidating or ageing past
// ReconcileEvery makes them stale.
func TestFreshnessLifecycle(t *testing.T) {
	store, cfg, _ := setup(t)
	ctx := context.Background()
	both := []string{"kms.rotation", "kms.pending-deletion"}
	if f, err := store.Scope(ctx, cfg, account, region, both); err != nil || f != findingstate.Empty {
		t.Fatalf("new table: %s %v", f, err)
	}
	now := time.Now()
	if err := store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, nil, now); err != nil {
		t.Fatal(err)
	}
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f != findingstate.Fresh {
		t.Errorf("reconciled check: %s", f)
	}
	if f, _ := store.Scope(ctx, cfg, account, region, both); f != findingstate.Empty {
		t.Errorf("a check never reconciled is vouched for: %s", f)
	}
	if f, _ := store.Scope(ctx, cfg, account, "eu-west-1", []string{"kms.rotation"}); f != findingstate.Empty {
		t.Errorf("another region is vouched for: %s", f)
	}
	if err := store.Invalidate(ctx, cfg, account, region, []string{"kms.rotation"}); err != nil {
		t.Fatal(err)
	}
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f != findingstate.Stale {
		t.Errorf("invalidated: %s", f)
	}
	_ = store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, nil, now.Add(-8*24*time.Hour))
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f != findingstate.Stale {
		t.Errorf("reconciled 8 days ago: %s", f)
	}
}

// TestSaveLoadGetAndNewerObservationWins: records round-trip without
// resource details or the team's fields; Load returns the asked checks;
// Get reads by Id; an older observation never replaces a newer record.
func TestSaveLoadGetAndNewerObservationWins(t *testing.T) {
	store, cfg, counter := setup(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	keyA, keyB := "arn:aws:kms:us-east-1:123456789012:key/a", "arn:aws:kms:us-east-1:123456789012:key/b"
	var many []types.AwsSecurityFinding
	for i := range 130 { // more than one BatchGetItem (100 keys)
		many = append(many, finding("kms.rotation", keyA+string(rune('a'+i%26))+string(rune('a'+i/26)), types.ComplianceStatusPassed, t0))
	}
	many = append(many, finding("kms.pending-deletion", keyB, types.ComplianceStatusFailed, t0))
	if err := store.Save(ctx, cfg, account, region, many); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load(ctx, cfg, account, region, []string{"kms.rotation"})
	if err != nil || len(got) != 130 {
		t.Fatalf("Load: %d records, %v", len(got), err)
	}
	// Load reads records, not findings: every planning field, no finding.
	r := got[0]
	want := findingstate.RecordOf(many[slices.IndexFunc(many, func(f types.AwsSecurityFinding) bool { return aws.ToString(f.Id) == r.ID })], false)
	if r != want || r.Fingerprint == "" || r.CreatedAt == "" || r.Status == "" || r.ResourceID == "" {
		t.Errorf("Load record %+v, want %+v", r, want)
	}
	ids := []string{aws.ToString(many[0].Id), aws.ToString(many[130].Id), "posture-auditor/not/there"}
	for _, f := range many[1:120] {
		ids = append(ids, aws.ToString(f.Id))
	}
	full, err := store.Get(ctx, cfg, account, region, ids)
	if err != nil || len(full) != 121 {
		t.Fatalf("Get: %d records, %v", len(full), err)
	}
	// Get reads the findings as kept: without resource details or the
	// team's fields.
	if f := full[0]; f.Resources[0].Details != nil || f.Note != nil || f.ProductFields[asff.FingerprintField] == "" || aws.ToString(f.CreatedAt) == "" {
		t.Errorf("record kept the wrong fields: details %v note %v fields %v", f.Resources[0].Details, f.Note, f.ProductFields)
	}
	if counter.Count("DynamoDB", "BatchGetItem") != 2 {
		t.Errorf("Get of 122 Ids made %d BatchGetItem calls, want 2", counter.Count("DynamoDB", "BatchGetItem"))
	}

	// A re-check recorded FAILED at t0+10s; a sweep that read at t0+5s
	// saves PASSED: the re-check's record stays.
	later := finding("kms.pending-deletion", keyB, types.ComplianceStatusFailed, t0.Add(10*time.Second))
	earlier := finding("kms.pending-deletion", keyB, types.ComplianceStatusPassed, t0.Add(5*time.Second))
	if err := store.Save(ctx, cfg, account, region, []types.AwsSecurityFinding{later}); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, cfg, account, region, []types.AwsSecurityFinding{earlier}); err != nil {
		t.Fatal(err)
	}
	full, _ = store.Get(ctx, cfg, account, region, []string{aws.ToString(later.Id)})
	if len(full) != 1 || full[0].Compliance.Status != types.ComplianceStatusFailed {
		t.Errorf("an earlier observation replaced a later one: %+v", full)
	}
	// 131 records went in 2 transactions (100 actions at most).
	if n := counter.Count("DynamoDB", "TransactWriteItems"); n != 4 {
		t.Errorf("%d TransactWriteItems for saves of 131, 1 and 1 records, want 4", n)
	}

	// In one save, the record a newer one refuses is left out and the
	// others of its transaction are written (a transaction fails whole).
	newcomer := finding("kms.rotation", keyA+"-new", types.ComplianceStatusFailed, t0.Add(20*time.Second))
	changed := finding("kms.rotation", aws.ToString(many[0].Resources[0].Id), types.ComplianceStatusFailed, t0.Add(20*time.Second))
	if err := store.Save(ctx, cfg, account, region, []types.AwsSecurityFinding{newcomer, earlier, changed}); err != nil {
		t.Fatal(err)
	}
	full, err = store.Get(ctx, cfg, account, region, []string{aws.ToString(newcomer.Id), aws.ToString(earlier.Id), aws.ToString(changed.Id)})
	if err != nil || len(full) != 3 {
		t.Fatalf("Get: %d, %v", len(full), err)
	}
	for _, f := range full {
		want := types.ComplianceStatusFailed // newcomer and changed as saved; keyB's later record kept
		if f.Compliance.Status != want || (aws.ToString(f.Id) != aws.ToString(earlier.Id) && aws.ToString(f.UpdatedAt) != asff.Timestamp(t0.Add(20*time.Second))) {
			t.Errorf("%s: %s updated %s", aws.ToString(f.Id), f.Compliance.Status, aws.ToString(f.UpdatedAt))
		}
	}
}

// TestUnreachable: a missing table is an error, never an empty answer
// (which would read as "nothing stored" and reset first-seen times).
func TestUnreachable(t *testing.T) {
	_, cfg, _ := setup(t)
	store := &findingstate.Store{Table: "no-such-table"}
	ctx := context.Background()
	if _, err := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); err == nil {
		t.Error("Scope of a missing table answered")
	}
	if _, err := store.Load(ctx, cfg, account, region, []string{"kms.rotation"}); err == nil {
		t.Error("Load of a missing table answered")
	}
	if err := store.Save(ctx, cfg, account, region, []types.AwsSecurityFinding{finding("kms.rotation", "arn:aws:kms:us-east-1:123456789012:key/a", types.ComplianceStatusPassed, time.Now())}); err == nil {
		t.Error("Save to a missing table succeeded")
	}
}

// TestReconcileKeepsWhatWasWrittenDuringTheReadBack: a record another run
// saved after this reconciliation began reading Security Hub back is newer
// than what was read: neither deleted nor replaced.
func TestReconcileKeepsWhatWasWrittenDuringTheReadBack(t *testing.T) {
	store, cfg, _ := setup(t)
	ctx := context.Background()
	t0 := time.Now()
	readStart := t0
	old := finding("kms.rotation", "arn:aws:kms:us-east-1:123456789012:key/old", types.ComplianceStatusPassed, t0.Add(-time.Hour))
	if err := store.Save(ctx, cfg, account, region, []types.AwsSecurityFinding{old}); err != nil {
		t.Fatal(err)
	}
	// ...the read-back begins (readStart), a re-check imports and saves:
	time.Sleep(2 * time.Millisecond)
	readStart = time.Now()
	time.Sleep(2 * time.Millisecond)
	fresh := finding("kms.rotation", "arn:aws:kms:us-east-1:123456789012:key/new", types.ComplianceStatusFailed, time.Now())
	changed := finding("kms.rotation", "arn:aws:kms:us-east-1:123456789012:key/old", types.ComplianceStatusFailed, time.Now())
	if err := store.Save(ctx, cfg, account, region, []types.AwsSecurityFinding{fresh, changed}); err != nil {
		t.Fatal(err)
	}
	// ...the read-back saw neither (it held only the old version of "old").
	if err := store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, []types.AwsSecurityFinding{old}, readStart); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, cfg, account, region, []string{aws.ToString(fresh.Id), aws.ToString(old.Id)})
	if err != nil || len(got) != 2 {
		t.Fatalf("records written during the read-back: %d, %v", len(got), err)
	}
	for _, f := range got {
		if f.Compliance.Status != types.ComplianceStatusFailed {
			t.Errorf("%s replaced by the older read-back: %s", aws.ToString(f.Id), f.Compliance.Status)
		}
	}
	// A record written before the read-back and absent from it is deleted.
	gone := finding("kms.rotation", "arn:aws:kms:us-east-1:123456789012:key/gone", types.ComplianceStatusFailed, t0.Add(-time.Hour))
	if err := store.Save(ctx, cfg, account, region, []types.AwsSecurityFinding{gone}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if err := store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, []types.AwsSecurityFinding{old}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Get(ctx, cfg, account, region, []string{aws.ToString(gone.Id)}); len(got) != 0 {
		t.Errorf("a record Security Hub no longer holds survived reconciliation")
	}
}

// TestSuspendResume: an import in flight leaves its checks stale until
// Resume puts their original reconciliation times back.
func TestSuspendResume(t *testing.T) {
	store, cfg, counter := setup(t)
	ctx := context.Background()
	reconciled := time.Now().Add(-6 * 24 * time.Hour).Truncate(time.Millisecond)
	if err := store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, nil, reconciled); err != nil {
		t.Fatal(err)
	}
	before := counter.Count("DynamoDB", "TransactWriteItems")
	m, err := store.Suspend(ctx, cfg, account, region, []string{"kms.rotation", "kms.pending-deletion"})
	if err != nil {
		t.Fatal(err)
	}
	// A scope's markers are written together: one call, not one a check.
	if n := counter.Count("DynamoDB", "TransactWriteItems") - before; n != 1 || counter.Count("DynamoDB", "PutItem") != 0 {
		t.Errorf("Suspend of 2 checks: %d TransactWriteItems, %d PutItem; want 1 and 0", n, counter.Count("DynamoDB", "PutItem"))
	}
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f != findingstate.Stale {
		t.Errorf("suspended check: %s", f)
	}
	if err := store.Resume(ctx, cfg, account, region, m); err != nil {
		t.Fatal(err)
	}
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f != findingstate.Fresh {
		t.Errorf("resumed check: %s", f)
	}
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.pending-deletion"}); f == findingstate.Fresh {
		t.Errorf("a check never reconciled became fresh by Resume")
	}
	// The original time is back: a day later it is due again.
	store.ReconcileEvery = 6*24*time.Hour + time.Minute
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f != findingstate.Fresh {
		t.Errorf("resumed with a new time instead of the original: %s", f)
	}
	store.ReconcileEvery = 6*24*time.Hour - time.Minute
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f != findingstate.Stale {
		t.Errorf("resumed with a new time instead of the original: %s", f)
	}
}

// TestLoadRefusesRecordsOfAnOlderFormat: an item without the planning
// attributes (written before records had them) is not read as a record
// with empty fields, which would plan wrongly: Load says so, and the
// publisher reconciles from Security Hub, which rewrites the items.
func TestLoadRefusesRecordsOfAnOlderFormat(t *testing.T) {
	store, cfg, _ := setup(t)
	ctx := context.Background()
	f := finding("kms.rotation", "arn:aws:kms:us-east-1:123456789012:key/old", types.ComplianceStatusFailed, time.Now())
	body, err := json.Marshal(findingstate.Compact(f))
	if err != nil {
		t.Fatal(err)
	}
	_, err = dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(seed.FindingStateTable), Item: map[string]ddbtypes.AttributeValue{
		"scope": &ddbtypes.AttributeValueMemberS{Value: findingstate.PartitionKey(account, region, aws.ToString(f.Id))}, "id": &ddbtypes.AttributeValueMemberS{Value: aws.ToString(f.Id)},
		"check": &ddbtypes.AttributeValueMemberS{Value: "kms.rotation"}, "finding": &ddbtypes.AttributeValueMemberS{Value: string(body)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx, cfg, account, region, []string{"kms.rotation"}); !errors.Is(err, findingstate.ErrOldRecords) {
		t.Fatalf("Load of an old item: %v, want ErrOldRecords", err)
	}
	// Its finding still reads (uncompressed, as then written).
	if old, err := store.Get(ctx, cfg, account, region, []string{aws.ToString(f.Id)}); err != nil || len(old) != 1 || aws.ToString(old[0].Id) != aws.ToString(f.Id) {
		t.Fatalf("Get of an old item: %v, %v", old, err)
	}
	if err := store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, []types.AwsSecurityFinding{f}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load(ctx, cfg, account, region, []string{"kms.rotation"})
	if err != nil || len(got) != 1 || got[0] != findingstate.RecordOf(f, false) {
		t.Fatalf("after reconciling: %+v, %v", got, err)
	}
	// Rewritten slim and compressed: the finding is binary, smaller than its JSON.
	item, err := dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(seed.FindingStateTable), Key: map[string]ddbtypes.AttributeValue{
		"scope": &ddbtypes.AttributeValueMemberS{Value: findingstate.PartitionKey(account, region, aws.ToString(f.Id))}, "id": &ddbtypes.AttributeValueMemberS{Value: aws.ToString(f.Id)}}})
	if err != nil {
		t.Fatal(err)
	}
	z, ok := item.Item["findings"].(*ddbtypes.AttributeValueMemberB)
	if _, old := item.Item["finding"]; !ok || old || z == nil || len(z.Value) >= len(body) {
		t.Errorf("rewritten item: compressed %v (%d bytes of %d), uncompressed kept %v", ok, len(z.Value), len(body), old)
	}
	full, err := store.Get(ctx, cfg, account, region, []string{aws.ToString(f.Id)})
	if err != nil || len(full) != 1 || findingstate.RecordOf(full[0], false) != findingstate.RecordOf(f, false) {
		t.Fatalf("Get of the rewritten item: %+v, %v", full, err)
	}
}

// TestUnshardedRecordsAreMovedOnce: records of a version that kept a
// scope's records under one partition key (its markers without the shard
// count) are not planned from: the scope reads as written by an older
// version, Suspend does not put its markers back, and the reconciliation
// writes each held record to its shard and deletes what was left under the
// old key, after which every record is read once, from its shard.
func TestUnshardedRecordsAreMovedOnce(t *testing.T) {
	store, cfg, counter := setup(t)
	ctx := context.Background()
	api := dynamodb.NewFromConfig(cfg)
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var all []types.AwsSecurityFinding
	for i := range 40 {
		all = append(all, finding("kms.rotation", fmt.Sprintf("arn:aws:kms:us-east-1:123456789012:key/k%02d", i), types.ComplianceStatusFailed, t0))
	}
	if err := store.Save(ctx, cfg, account, region, all); err != nil {
		t.Fatal(err)
	}
	items := scan(t, api)
	partitions := map[string]bool{}
	for _, item := range items {
		partitions[item["scope"].(*ddbtypes.AttributeValueMemberS).Value] = true
	}
	if len(partitions) != findingstate.Shards {
		t.Fatalf("40 records lay under %d partition keys, want %d: %v", len(partitions), findingstate.Shards, partitions)
	}
	// Lay them out as the unsharded version did: every record under the
	// scope's key, and a marker without the shard count.
	for _, item := range items {
		if _, err := api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(seed.FindingStateTable),
			Key: map[string]ddbtypes.AttributeValue{"scope": item["scope"], "id": item["id"]}}); err != nil {
			t.Fatal(err)
		}
		item["scope"] = &ddbtypes.AttributeValueMemberS{Value: account + "#" + region}
		item["savedAt"] = &ddbtypes.AttributeValueMemberS{Value: "2026-12-01T12:00:00.000000000Z"}
		put(t, api, item)
	}
	put(t, api, map[string]ddbtypes.AttributeValue{
		"scope": &ddbtypes.AttributeValueMemberS{Value: account + "#" + region}, "id": &ddbtypes.AttributeValueMemberS{Value: "#reconciled#kms.rotation"},
		"reconciledAt": &ddbtypes.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)}})

	if f, err := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); err != nil || f != findingstate.Unsharded {
		t.Fatalf("unsharded scope: %q %v, want %q", f, err, findingstate.Unsharded)
	}
	m, err := store.Suspend(ctx, cfg, account, region, []string{"kms.rotation"})
	if err != nil || len(m) != 0 {
		t.Fatalf("Suspend took %v, %v: Resume would mark the unsharded records fresh", m, err)
	}
	if err := store.Resume(ctx, cfg, account, region, m); err != nil {
		t.Fatal(err)
	}
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f == findingstate.Fresh {
		t.Fatal("fresh after Suspend and Resume, without a reconciliation")
	}

	// Security Hub holds 30 of the 40; the other 10 are gone from it.
	held := all[:30]
	if err := store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, held, time.Now()); err != nil {
		t.Fatal(err)
	}
	if f, err := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); err != nil || f != findingstate.Fresh {
		t.Fatalf("after reconciling: %q %v", f, err)
	}
	got, err := store.Load(ctx, cfg, account, region, []string{"kms.rotation"})
	if err != nil || len(got) != len(held) {
		t.Fatalf("Load after reconciling: %d records, %v; want %d", len(got), err, len(held))
	}
	records := 0
	for _, item := range scan(t, api) {
		id := item["id"].(*ddbtypes.AttributeValueMemberS).Value
		if strings.HasPrefix(id, "#") {
			continue
		}
		records++
		if p := item["scope"].(*ddbtypes.AttributeValueMemberS).Value; p != findingstate.PartitionKey(account, region, id) {
			t.Errorf("%s left under %s", id, p)
		}
	}
	if records != len(held) {
		t.Errorf("%d records in the table, want %d", records, len(held))
	}
	if full, err := store.Get(ctx, cfg, account, region, []string{aws.ToString(held[0].Id), aws.ToString(all[35].Id)}); err != nil || len(full) != 1 {
		t.Errorf("Get of a held and a gone finding: %d, %v", len(full), err)
	}

	// The marker keeps its time under a name the unsharded version does
	// not know: run again (a rollback), it reconciles rather than plan
	// from the quarter of the records under the scope's own key.
	for _, item := range scan(t, api) {
		if id := item["id"].(*ddbtypes.AttributeValueMemberS).Value; strings.HasPrefix(id, "#") {
			if _, old := item["reconciledAt"]; old {
				t.Errorf("marker %s keeps reconciledAt, which an unsharded version would plan from", id)
			}
		}
	}
	queries := counter.Count("DynamoDB", "Query")
	if _, err := store.Load(ctx, cfg, account, region, []string{"kms.rotation"}); err != nil {
		t.Fatal(err)
	}
	if n := counter.Count("DynamoDB", "Query") - queries; n != findingstate.Shards {
		t.Errorf("Load made %d Query calls, want one a shard (%d)", n, findingstate.Shards)
	}

	// An unsharded version still running (a rollout) writes a record
	// under the scope's key during a reconciliation's read-back: the
	// reconciliation cannot tell it is older than what it read, so the
	// check stays unfresh; Load refuses such a record rather than skip it.
	readStart := time.Now()
	time.Sleep(10 * time.Millisecond)
	var stray map[string]ddbtypes.AttributeValue
	for _, item := range scan(t, api) {
		if p := item["scope"].(*ddbtypes.AttributeValueMemberS).Value; p != account+"#"+region {
			stray = item
			break
		}
	}
	if err := store.Invalidate(ctx, cfg, account, region, []string{"kms.rotation"}); err != nil {
		t.Fatal(err)
	}
	stray["scope"] = &ddbtypes.AttributeValueMemberS{Value: account + "#" + region}
	stray["savedAt"] = &ddbtypes.AttributeValueMemberS{Value: time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")}
	put(t, api, stray)
	if _, err := store.Load(ctx, cfg, account, region, []string{"kms.rotation"}); !errors.Is(err, findingstate.ErrOldRecords) {
		t.Errorf("Load with a record under the unsharded key: %v, want ErrOldRecords", err)
	}
	if err := store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, held, readStart); err == nil {
		t.Error("a reconciliation left a record written under the unsharded key during its read-back, and succeeded")
	}
	if f, _ := store.Scope(ctx, cfg, account, region, []string{"kms.rotation"}); f == findingstate.Fresh {
		t.Error("fresh with a record under the unsharded key")
	}
	// The next reconciliation (its read-back begun after) moves it.
	if err := store.Reconcile(ctx, cfg, account, region, []string{"kms.rotation"}, held, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Load(ctx, cfg, account, region, []string{"kms.rotation"}); err != nil || len(got) != len(held) {
		t.Errorf("Load after the next reconciliation: %d records, %v; want %d", len(got), err, len(held))
	}
}

func scan(t *testing.T, api *dynamodb.Client) []map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := api.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(seed.FindingStateTable)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

func put(t *testing.T, api *dynamodb.Client, item map[string]ddbtypes.AttributeValue) {
	t.Helper()
	if _, err := api.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(seed.FindingStateTable), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// TestSlimRecordsThroughDynamoDB: the findings asff.Map makes for every
// check, saved and read back by Id, say exactly what was kept (their
// fingerprints, which digest every field but the times, are equal, and so
// are the times), from records of 2 write units.
func TestSlimRecordsThroughDynamoDB(t *testing.T) {
	store, cfg, _ := setup(t)
	ctx := context.Background()
	now := time.Now()
	var saved []types.AwsSecurityFinding
	for _, c := range registry.All() {
		saved = append(saved, asff.Map(c, check.Result{CheckID: c.ID, ResourceARN: "arn:aws:kms:us-east-1:123456789012:key/" + c.ID, ResourceName: c.ID,
			Region: region, Status: check.Failed, Reason: "Found wanting"}, asff.Context{Account: account, Partition: "aws", ProductRegion: region, Now: now, ToolVersion: "test"}))
	}
	if err := store.Save(ctx, cfg, account, region, saved); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range saved {
		ids = append(ids, aws.ToString(f.Id))
	}
	got, err := store.Get(ctx, cfg, account, region, ids)
	if err != nil || len(got) != len(saved) {
		t.Fatalf("Get: %d of %d, %v", len(got), len(saved), err)
	}
	byID := map[string]types.AwsSecurityFinding{}
	for _, f := range got {
		byID[aws.ToString(f.Id)] = f
	}
	for _, f := range saved {
		want := findingstate.Compact(f)
		g := byID[aws.ToString(f.Id)]
		if asff.Fingerprint(g) != asff.Fingerprint(want) || aws.ToString(g.Title) == "" ||
			aws.ToString(g.CreatedAt) != aws.ToString(want.CreatedAt) || aws.ToString(g.LastObservedAt) != aws.ToString(want.LastObservedAt) {
			t.Errorf("%s read back differs:\n got %+v\nwant %+v", aws.ToString(f.Id), g, want)
		}
	}
	for _, item := range scan(t, dynamodb.NewFromConfig(cfg)) {
		if _, ok := item["findings"]; !ok {
			continue
		}
		if size := findingstate.ItemBytes(item); size > 1024 {
			t.Errorf("record %v of %d bytes: over 1 KB, 4 write units", item["id"], size)
		}
	}
}
