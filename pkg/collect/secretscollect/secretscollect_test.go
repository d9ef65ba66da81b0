package secretscollect_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/secretscollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "eu-west-1"

var clock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return clock }

// TestCollectAgainstMoto reads seeded secrets through the real client: one
// ListSecrets call for all of them, the one scheduled for deletion left out,
// and a key use recorded for each.
func TestCollectAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	mk := func(in *secretsmanager.CreateSecretInput) string {
		in.SecretString = aws.String("not-a-real-secret")
		out, err := sm.CreateSecret(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	plain := mk(&secretsmanager.CreateSecretInput{Name: aws.String("plain")})
	mk(&secretsmanager.CreateSecretInput{Name: aws.String("plain-other")})
	withCMK := mk(&secretsmanager.CreateSecretInput{Name: aws.String("app/with-cmk"), KmsKeyId: aws.String(keyARN), Description: aws.String("encrypted with a CMK"),
		Tags: []smtypes.Tag{{Key: aws.String("posture-auditor:exempt"), Value: aws.String("secretsmanager.rotation-enabled")}, {Key: aws.String("team"), Value: aws.String("payments")}}})
	rotatingARN := mk(&secretsmanager.CreateSecretInput{Name: aws.String("app/rotating")})
	// moto accepts rotation rules without a Lambda (AWS does not, except for
	// managed secrets) and records the rotation as done now.
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(rotatingARN), RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}}); err != nil {
		t.Fatal(err)
	}
	// moto derives OwningService from this tag, as AWS sets it on managed secrets.
	owned := mk(&secretsmanager.CreateSecretInput{Name: aws.String("rds!db-1"), Tags: []smtypes.Tag{{Key: aws.String("aws:secretsmanager:owningService"), Value: aws.String("rds")}}})
	retired := mk(&secretsmanager.CreateSecretInput{Name: aws.String("retired")})
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(retired), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	secretscollect.Collector{Now: fixedClock}.Collect(ctx, cfg, snap, collect.Scope{})

	if !snap.Complete(snapshot.SecretsManager) {
		t.Fatalf("collection not complete: %v", snap.Errors)
	}
	data := snap.SecretsManager
	if !data.CollectedAt.Equal(clock) {
		t.Errorf("CollectedAt %s, want %s", data.CollectedAt, clock)
	}
	if len(data.Secrets) != 5 || data.Secrets[retired] != nil {
		t.Fatalf("got %d secrets (retired listed: %v), want 5 without the one scheduled for deletion", len(data.Secrets), data.Secrets[retired] != nil)
	}
	if s := data.Secrets[plain]; s.Name != "plain" || s.KMSKeyID != "" || s.RotationEnabled || s.CreatedDate.IsZero() || s.LastAccessedDate != nil {
		t.Errorf("plain: %+v", s)
	}
	if s := data.Secrets[withCMK]; s.KMSKeyID != keyARN || s.Description != "encrypted with a CMK" {
		t.Errorf("with-cmk: %+v", s)
	}
	if s := data.Secrets[rotatingARN]; !s.RotationEnabled || s.Rotation.AutomaticallyAfterDays != 30 || s.LastRotatedDate == nil {
		t.Errorf("rotating: %+v", s)
	}
	if s := data.Secrets[owned]; s.OwningService != "rds" || !s.Owned() {
		t.Errorf("owned: %+v", s)
	}
	// Tags come with each ListSecrets entry, AWS's own included; no call of
	// their own (see the call counts below).
	for arn, want := range map[string]map[string]string{
		withCMK: {"posture-auditor:exempt": "secretsmanager.rotation-enabled", "team": "payments"},
		owned:   {"aws:secretsmanager:owningService": "rds"},
		plain:   nil,
	} {
		if got := data.Secrets[arn].Tags.Map(); !maps.Equal(got, want) {
			t.Errorf("%s tags %v, want %v", data.Secrets[arn].Name, got, want)
		}
	}
	uses := map[string]snapshot.KeyUse{}
	for _, u := range snap.KeyUses() {
		uses[u.ResourceARN] = u
	}
	if len(uses) != 5 || uses[withCMK].KeyRef != keyARN || uses[plain].KeyRef != "" ||
		uses[plain].DefaultAlias != "alias/aws/secretsmanager" || uses[plain].ResourceType != "AwsSecretsManagerSecret" {
		t.Errorf("key uses: %+v", uses)
	}
	if got := counter.Count("Secrets Manager", "ListSecrets"); got != 1 {
		t.Errorf("ListSecrets called %d times, want 1", got)
	}
	for _, c := range counter.Snapshot() {
		if c.Operation != "ListSecrets" {
			t.Errorf("unexpected call %s:%s", c.Service, c.Operation)
		}
	}

	// One secret by name, one by ARN: a name-filtered listing each, narrowed
	// to exact matches ("plain" is a prefix of "plain-other").
	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	one := snapshot.New(motoserver.Account, "aws", region)
	secretscollect.Collector{Now: fixedClock}.Collect(ctx, cfg, one, collect.Scope{ResourceIDs: []string{"plain", withCMK}})
	if len(one.SecretsManager.Secrets) != 2 || one.SecretsManager.Secrets[plain] == nil || one.SecretsManager.Secrets[withCMK] == nil {
		t.Fatalf("scoped read: %+v", one.SecretsManager.Secrets)
	}
	if got := one.SecretsManager.Secrets[withCMK].Tags.Map(); !maps.Equal(got, data.Secrets[withCMK].Tags.Map()) {
		t.Errorf("scoped read's tags %v, want those of the listing", got)
	}
	for _, c := range counter.Snapshot() {
		if c.Operation != "ListSecrets" {
			t.Errorf("unexpected scoped call %s:%s", c.Service, c.Operation)
		}
	}
	if got := counter.Count("Secrets Manager", "ListSecrets"); got != 2 {
		t.Errorf("scoped ListSecrets called %d times, want 2", got)
	}
}

// fakeSecrets serves n secrets, paging ListSecrets by MaxResults, and
// records the inputs it saw. Secret 0 carries every field ListSecrets can
// return, to test the mapping.
type fakeSecrets struct {
	*wirefake.Server
	mu     sync.Mutex
	inputs []map[string]any
}

func newFake(n int, fail func(call int) *wirefake.Error) *fakeSecrets {
	var secrets []map[string]any
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("app/secret-%04d", i)
		secrets = append(secrets, map[string]any{
			"ARN":         "arn:aws:secretsmanager:eu-west-1:111122223333:secret:" + name + "-AbCdEf",
			"Name":        name,
			"CreatedDate": 1.7e9,
		})
	}
	secrets[0] = map[string]any{
		"ARN":               "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-0-AbCdEf",
		"Name":              "rds!db-0",
		"Description":       "master password",
		"KmsKeyId":          "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"OwningService":     "rds",
		"PrimaryRegion":     "eu-central-1",
		"RotationEnabled":   true,
		"RotationLambdaARN": "arn:aws:lambda:eu-west-1:111122223333:function:rotate",
		"RotationRules":     map[string]any{"AutomaticallyAfterDays": 7, "ScheduleExpression": "cron(0 4 ? * SUN *)", "Duration": "2h"},
		"CreatedDate":       1.7e9,
		"LastChangedDate":   1.7001e9,
		"LastRotatedDate":   1.7002e9,
		"LastAccessedDate":  1.70208e9,
		"NextRotationDate":  1.7008e9,
		"Tags":              []any{map[string]any{"Key": "aws:rds:primaryDBInstanceArn", "Value": "arn:aws:rds:eu-west-1:111122223333:db:db-0"}},
	}
	f := &fakeSecrets{}
	calls := 0
	f.Server = wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		if op != "ListSecrets" {
			return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
		}
		f.mu.Lock()
		calls++
		call := calls
		f.inputs = append(f.inputs, in)
		f.mu.Unlock()
		if fail != nil {
			if err := fail(call); err != nil {
				return nil, err
			}
		}
		page, next := wirefake.Page(secrets, in, "MaxResults", "NextToken", 100)
		out := map[string]any{"SecretList": page}
		if next != "" {
			out["NextToken"] = next
		}
		return out, nil
	})
	return f
}

func fakeConfig(t *testing.T, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, region, counter)
}

// TestCollectPaginatesAndMapsEveryField pages through 250 secrets (three
// pages of 100) and checks every field the checks read is mapped.
func TestCollectPaginatesAndMapsEveryField(t *testing.T) {
	fake := newFake(250, nil)
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New("111122223333", "aws", region)
	secretscollect.Collector{Now: fixedClock}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})

	if !snap.Complete(snapshot.SecretsManager) {
		t.Fatalf("errors: %v", snap.Errors)
	}
	if got := len(snap.SecretsManager.Secrets); got != 250 {
		t.Fatalf("got %d secrets, want 250", got)
	}
	if got := counter.Count("Secrets Manager", "ListSecrets"); got != 3 {
		t.Errorf("ListSecrets pages: got %d, want 3", got)
	}
	for i, in := range fake.inputs {
		if in["MaxResults"] != float64(100) || in["IncludePlannedDeletion"] != false || in["Filters"] != nil {
			t.Errorf("page %d input: %v", i, in)
		}
	}
	if len(snap.KeyUses()) != 250 {
		t.Errorf("%d key uses, want 250", len(snap.KeyUses()))
	}

	s := snap.SecretsManager.Secrets["arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-0-AbCdEf"]
	ts := func(sec float64) time.Time { return time.Unix(int64(sec), 0).UTC() }
	switch {
	case s == nil:
		t.Fatal("secret 0 missing")
	case s.Name != "rds!db-0", s.Description != "master password", s.OwningService != "rds", s.PrimaryRegion != "eu-central-1",
		s.KMSKeyID != "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab":
		t.Errorf("identity fields: %+v", s)
	case !s.RotationEnabled, s.RotationLambdaARN != "arn:aws:lambda:eu-west-1:111122223333:function:rotate",
		s.Rotation != (snapshot.SecretRotationRules{AutomaticallyAfterDays: 7, ScheduleExpression: "cron(0 4 ? * SUN *)", Duration: "2h"}):
		t.Errorf("rotation fields: %+v", s)
	case !s.CreatedDate.Equal(ts(1.7e9)), !s.LastChangedDate.Equal(ts(1.7001e9)), !s.LastRotatedDate.Equal(ts(1.7002e9)),
		!s.LastAccessedDate.Equal(ts(1.70208e9)), s.DeletedDate != nil:
		t.Errorf("dates: %+v", s)
	case !maps.Equal(s.Tags.Map(), map[string]string{"aws:rds:primaryDBInstanceArn": "arn:aws:rds:eu-west-1:111122223333:db:db-0"}):
		t.Errorf("tags: %v", s.Tags)
	}
	if plain := snap.SecretsManager.Secrets["arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/secret-0249-AbCdEf"]; plain == nil ||
		plain.RotationEnabled || plain.LastRotatedDate != nil || plain.LastAccessedDate != nil || plain.Rotation != (snapshot.SecretRotationRules{}) {
		t.Errorf("last secret: %+v", plain)
	}
}

// TestCollectListDenied records the denied list and keeps no secret.
func TestCollectListDenied(t *testing.T) {
	fake := newFake(3, func(int) *wirefake.Error { return wirefake.AccessDenied("secretsmanager:ListSecrets") })
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	secretscollect.Collector{Now: fixedClock}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if len(snap.SecretsManager.Secrets) != 0 || len(snap.KeyUses()) != 0 {
		t.Errorf("got %d secrets after a denied ListSecrets", len(snap.SecretsManager.Secrets))
	}
	errs := snap.Errors[snapshot.SecretsManager]
	if len(errs) != 1 || errs[0].Operation != "ListSecrets" || errs[0].Code != "AccessDeniedException" || errs[0].Resource != "" {
		t.Errorf("errors: %+v", errs)
	}
	if !snap.Collected[snapshot.SecretsManager] || snap.Complete(snapshot.SecretsManager) {
		t.Error("a denied ListSecrets must leave Secrets Manager collected but incomplete")
	}
}

// TestCollectPageFailureKeepsNothing: a listing whose second page stays
// throttled through every retry is not a smaller list of secrets; nothing
// of it is kept.
func TestCollectPageFailureKeepsNothing(t *testing.T) {
	fake := newFake(250, func(call int) *wirefake.Error {
		if call >= 2 {
			return &wirefake.Error{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}
		}
		return nil
	})
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	secretscollect.Collector{Now: fixedClock}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if len(snap.SecretsManager.Secrets) != 0 || len(snap.KeyUses()) != 0 {
		t.Errorf("kept %d secrets of a failed listing", len(snap.SecretsManager.Secrets))
	}
	if errs := snap.Errors[snapshot.SecretsManager]; len(errs) != 1 || errs[0].Code != "ThrottlingException" {
		t.Errorf("errors: %+v", errs)
	}
}

// TestCollectScopedByNameAndPartialARN sends a name filter per requested
// secret and keeps exact matches only.
func TestCollectScopedByNameAndPartialARN(t *testing.T) {
	fake := newFake(12, nil)
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	partialARN := "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/secret-0003"
	secretscollect.Collector{Now: fixedClock}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap,
		collect.Scope{ResourceIDs: []string{"app/secret-0001", partialARN}})
	// The fake ignores filters, like a prefix filter matching many: the
	// collector must still keep exactly the two named.
	if got := len(snap.SecretsManager.Secrets); got != 2 {
		t.Fatalf("got %d secrets, want 2", got)
	}
	if snap.SecretsManager.Secrets[partialARN+"-AbCdEf"] == nil {
		t.Error("secret named by partial ARN missing")
	}
	want := []string{"app/secret-0001", "app/secret-0003"}
	for i, in := range fake.inputs {
		filters, _ := in["Filters"].([]any)
		f, _ := filters[0].(map[string]any)
		if len(filters) != 1 || f["Key"] != "name" || fmt.Sprint(f["Values"]) != "["+want[i]+"]" {
			t.Errorf("call %d filters: %v", i, in["Filters"])
		}
	}
}

// TestCollectNamedAbsentAgainstMoto: a name-filtered listing without an
// exact match marks the secret absent as the scope named it, with no error:
// a secret that never existed, one whose name is only a prefix of others,
// and one scheduled for deletion (ListSecrets leaves it out on purpose). An
// ARN of another region is not asked about here.
func TestCollectNamedAbsentAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	mk := func(name string) string {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("not-a-real-secret")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	plain := mk("plain")
	mk("plain-other")
	retired := mk("retired")
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(retired), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	elsewhere := "arn:aws:secretsmanager:us-east-1:" + motoserver.Account + ":secret:plain-AbCdEf"
	named := []string{"plain", plain, "plai", "never-created", "retired", retired, elsewhere}

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	secretscollect.Collector{Now: fixedClock}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: named})
	if !snap.Complete(snapshot.SecretsManager) {
		t.Fatalf("absent secrets are answers, not errors: %v", snap.Errors)
	}
	if len(snap.SecretsManager.Secrets) != 1 || snap.SecretsManager.Secrets[plain] == nil {
		t.Errorf("secrets: %+v", snap.SecretsManager.Secrets)
	}
	for id, want := range map[string]bool{"plain": false, plain: false, "plai": true, "never-created": true, "retired": true, retired: true, elsewhere: false} {
		if got := snap.Absent(snapshot.SecretsManager, id); got != want {
			t.Errorf("%s: absent %v, want %v", id, got, want)
		}
	}
	if got := counter.Count("Secrets Manager", "ListSecrets"); got != 6 {
		t.Errorf("ListSecrets called %d times, want 6 (none for another region)", got)
	}
}

// TestCollectNamedDeniedOrFailing: a named secret whose listing is denied or
// fails with a 5xx is an error naming it, never an absence.
func TestCollectNamedDeniedOrFailing(t *testing.T) {
	for _, failure := range []*wirefake.Error{
		wirefake.AccessDenied("secretsmanager:ListSecrets"),
		{Status: 503, Code: "InternalServiceError", Message: "unavailable"},
	} {
		fake := newFake(3, func(int) *wirefake.Error { return failure })
		snap := snapshot.New("111122223333", "aws", region)
		secretscollect.Collector{Now: fixedClock}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{"app/secret-0001"}})
		fake.Close()
		errs := snap.Errors[snapshot.SecretsManager]
		if len(errs) != 1 || errs[0].Resource != "app/secret-0001" || errs[0].Code != failure.Code || snap.Absent(snapshot.SecretsManager, "app/secret-0001") {
			t.Errorf("%s: errors %+v, absent %v", failure.Code, errs, snap.Absent(snapshot.SecretsManager, "app/secret-0001"))
		}
	}
}
