package secretschecks

import (
	"maps"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const (
	account   = "111122223333"
	region    = "eu-west-1"
	arnPrefix = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:"
	cmkID     = "1234abcd-12ab-34cd-56ef-1234567890ab"
	cmkARN    = "arn:aws:kms:eu-west-1:111122223333:key/" + cmkID
)

// now is the collection time of every test snapshot.
var now = at("2026-03-01 12:00")

var defaults = check.Params{RotationGraceDays: 1, MaxRotationAgeDays: 90, MaxUnusedDays: 90}

func tp(s string) *time.Time { t := at(s); return &t }

// secret is a customer secret created on 2025-06-01 09:00, never rotated,
// never retrieved, on the AWS managed key.
func secret(mod func(*snapshot.Secret)) *snapshot.Secret {
	s := &snapshot.Secret{ARN: arnPrefix + "app/db-AbCdEf", Name: "app/db", CreatedDate: at("2025-06-01 09:00")}
	if mod != nil {
		mod(s)
	}
	return s
}

// rotating is secret with Lambda rotation on the given rules, last rotated
// at lastRotated ("" for never).
func rotating(rules snapshot.SecretRotationRules, lastRotated string) func(*snapshot.Secret) {
	return func(s *snapshot.Secret) {
		s.RotationEnabled = true
		s.RotationLambdaARN = "arn:aws:lambda:eu-west-1:111122223333:function:rotate"
		s.Rotation = rules
		if lastRotated != "" {
			s.LastRotatedDate = tp(lastRotated)
		}
	}
}

func rdsManaged(s *snapshot.Secret) {
	s.Name, s.ARN = "rds!db-1", arnPrefix+"rds!db-1-XyZ123"
	s.OwningService = "rds"
	s.RotationEnabled = true
	s.Rotation = snapshot.SecretRotationRules{AutomaticallyAfterDays: 7}
	s.LastRotatedDate = tp("2026-02-25 03:00")
}

func snap(secrets ...*snapshot.Secret) *snapshot.Snapshot {
	s := snapshot.New(account, "aws", region)
	s.SecretsManager.CollectedAt = now
	s.SecretsManager.Secrets = map[string]*snapshot.Secret{}
	for _, sec := range secrets {
		s.SecretsManager.Secrets[sec.ARN] = sec
	}
	s.KMS.Keys = map[string]*snapshot.KMSKey{
		cmkID: {ID: cmkID, ARN: cmkARN, Aliases: []string{"alias/app"}, Manager: snapshot.ManagerCustomer, Described: true, State: "Enabled"},
	}
	s.KMS.Aliases = map[string]string{"alias/app": cmkID}
	return s
}

type want struct {
	status check.Status
	reason string
}

type row struct {
	name   string
	secret *snapshot.Secret
	want   *want // nil: not judged
}

func run(t *testing.T, c check.Check, p check.Params, rows []row) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			assertOne(t, c.Results(snap(tt.secret), p), tt.want, tt.secret.ARN)
		})
	}
}

func deleted(s *snapshot.Secret) { s.DeletedDate = tp("2026-02-28 00:00") }

func TestRotationEnabled(t *testing.T) {
	run(t, RotationEnabled, defaults, []row{
		{"lambda rotation", secret(rotating(snapshot.SecretRotationRules{ScheduleExpression: "rate(30 days)"}, "")), &want{check.Passed, "automatic rotation is on (rate(30 days))"}},
		{"rds managed rotation, no lambda", secret(rdsManaged), &want{check.Passed, "managed rotation by rds is on (every 7 days)"}},
		{"no rotation", secret(nil), &want{check.Failed, "automatic rotation is not enabled"}},
		{"rds managed rotation turned off", secret(func(s *snapshot.Secret) { rdsManaged(s); s.RotationEnabled = false }), &want{check.Failed, "managed rotation by rds is turned off"}},
		{"scheduled for deletion", secret(deleted), nil},
	})
}

func TestRotationSucceeding(t *testing.T) {
	thirtyDays := snapshot.SecretRotationRules{AutomaticallyAfterDays: 30}
	weekly := snapshot.SecretRotationRules{ScheduleExpression: "rate(7 days)"}
	run(t, RotationSucceeding, defaults, []row{
		{"rotated, next one not yet due", secret(rotating(snapshot.SecretRotationRules{ScheduleExpression: "rate(30 days)"}, "2026-02-10 08:00")),
			&want{check.Passed, "last rotated 2026-02-10 08:00 UTC; next rotation due by 2026-03-13 00:00 UTC (rate(30 days))"}},
		{"a due rotation did not happen", secret(rotating(thirtyDays, "2026-01-01 08:00")),
			&want{check.Failed, "last rotated 2026-01-01 08:00 UTC; the rotation due by 2026-02-01 00:00 UTC (every 30 days) has not happened"}},
		{"late within the grace", secret(rotating(thirtyDays, "2026-01-29 10:00")),
			&want{check.Passed, "last rotated 2026-01-29 10:00 UTC; the rotation due by 2026-03-01 00:00 UTC (every 30 days) is late but within the 1-day grace"}},
		{"never rotated, created recently", secret(func(s *snapshot.Secret) { rotating(weekly, "")(s); s.CreatedDate = at("2026-02-27 10:00") }),
			&want{check.Passed, "never rotated since creation on 2026-02-27 10:00 UTC; next rotation due by 2026-03-07 00:00 UTC (rate(7 days))"}},
		{"never rotated since an old creation", secret(rotating(weekly, "")),
			&want{check.Failed, "never rotated since creation on 2025-06-01 09:00 UTC; the rotation due by 2025-06-09 00:00 UTC (rate(7 days)) has not happened"}},
		{"cron schedule kept", secret(rotating(snapshot.SecretRotationRules{ScheduleExpression: "cron(0 16 1 * ? *)"}, "2026-02-01 16:20")),
			&want{check.Passed, "last rotated 2026-02-01 16:20 UTC; next rotation due by 2026-03-02 00:00 UTC (cron(0 16 1 * ? *))"}},
		{"cron schedule missed", secret(rotating(snapshot.SecretRotationRules{ScheduleExpression: "cron(0 16 1 * ? *)"}, "2026-01-01 16:20")),
			&want{check.Failed, "last rotated 2026-01-01 16:20 UTC; the rotation due by 2026-02-02 00:00 UTC (cron(0 16 1 * ? *)) has not happened"}},
		{"rds managed rotation on schedule", secret(rdsManaged),
			&want{check.Passed, "last rotated 2026-02-25 03:00 UTC; next rotation due by 2026-03-05 00:00 UTC (every 7 days)"}},
		{"rds managed rotation stalled", secret(func(s *snapshot.Secret) { rdsManaged(s); s.LastRotatedDate = tp("2026-01-05 03:00") }),
			&want{check.Failed, "last rotated 2026-01-05 03:00 UTC; the rotation due by 2026-01-13 00:00 UTC (every 7 days) has not happened"}},
		{"unreadable cron", secret(rotating(snapshot.SecretRotationRules{ScheduleExpression: "cron(0 16 1W * ? *)"}, "2026-02-01 16:00")),
			&want{check.NotAvailable, `cannot tell when rotation is due: schedule cron(0 16 1W * ? *): day-of-month: "1W" is not a value from 1 to 31`}},
		{"no schedule reported", secret(rotating(snapshot.SecretRotationRules{}, "2026-02-01 16:00")),
			&want{check.NotAvailable, "cannot tell when rotation is due: rotation is enabled but no rotation schedule was reported"}},
		{"no dates reported", secret(func(s *snapshot.Secret) { rotating(weekly, "")(s); s.CreatedDate = time.Time{} }),
			&want{check.NotAvailable, "neither a last rotation date nor a creation date was reported"}},
		{"rotation off: not judged", secret(nil), nil},
		{"scheduled for deletion", secret(func(s *snapshot.Secret) { rotating(weekly, "")(s); deleted(s) }), nil},
	})
}

func TestRotationSucceedingGraceAndDetails(t *testing.T) {
	late := secret(rotating(snapshot.SecretRotationRules{AutomaticallyAfterDays: 30}, "2026-01-29 10:00"))
	got := RotationSucceeding.Results(snap(late), check.Params{RotationGraceDays: 0})
	if got[0].Status != check.Failed || *got[0].Details.AwsSecretsManagerSecret.RotationOccurredWithinFrequency {
		t.Errorf("late with no grace: %s %+v", got[0].Status, got[0].Details.AwsSecretsManagerSecret)
	}
	got = RotationSucceeding.Results(snap(late), check.Params{RotationGraceDays: 1})
	if got[0].Status != check.Passed || !*got[0].Details.AwsSecretsManagerSecret.RotationOccurredWithinFrequency {
		t.Errorf("late within a day's grace: %s", got[0].Status)
	}
}

func TestRotatedRecently(t *testing.T) {
	off := func(last string) func(*snapshot.Secret) {
		return func(s *snapshot.Secret) { s.LastRotatedDate = tp(last) }
	}
	run(t, RotatedRecently, defaults, []row{
		{"rotated recently", secret(rotating(snapshot.SecretRotationRules{AutomaticallyAfterDays: 30}, "2026-02-10 08:00")), &want{check.Passed, "last rotated 19 days ago, on 2026-02-10"}},
		{"rotated exactly 90 days ago", secret(off("2025-12-01 12:00")), &want{check.Passed, "last rotated 90 days ago, on 2025-12-01"}},
		{"rotated too long ago", secret(off("2025-11-01 00:00")), &want{check.Failed, "last rotated 120 days ago, on 2025-11-01, more than the maximum of 90 days"}},
		{"never rotated, old", secret(nil), &want{check.Failed, "never rotated; created 273 days ago, on 2025-06-01, more than the maximum of 90 days"}},
		{"never rotated, new", secret(func(s *snapshot.Secret) { s.CreatedDate = at("2026-02-27 10:00") }), &want{check.Passed, "never rotated; created 2 days ago, on 2026-02-27"}},
		{"rds managed", secret(rdsManaged), &want{check.Passed, "last rotated 4 days ago, on 2026-02-25"}},
		{"no dates reported", secret(func(s *snapshot.Secret) { s.CreatedDate = time.Time{} }), &want{check.NotAvailable, "neither a last rotation date nor a creation date was reported"}},
		{"scheduled for deletion", secret(deleted), nil},
	})
	old := secret(off("2025-11-01 00:00"))
	if got := RotatedRecently.Results(snap(old), check.Params{MaxRotationAgeDays: 180}); got[0].Status != check.Passed {
		t.Errorf("120 days with a 180-day maximum: %s", got[0].Status)
	}
}

func TestUnused(t *testing.T) {
	accessed := func(d string) func(*snapshot.Secret) {
		return func(s *snapshot.Secret) { s.LastAccessedDate = tp(d + " 00:00") }
	}
	run(t, Unused, defaults, []row{
		{"retrieved recently", secret(accessed("2026-02-20")), &want{check.Passed, "last retrieved on 2026-02-20"}},
		// Day-granular: 2025-12-01 may mean 23:59 that day, 89.5 days ago.
		{"retrieved on the last day that counts", secret(accessed("2025-12-01")), &want{check.Passed, "last retrieved on 2025-12-01"}},
		{"retrieved a day too early", secret(accessed("2025-11-30")), &want{check.Failed, "last retrieved on 2025-11-30, more than 90 days ago"}},
		{"never retrieved, old", secret(nil), &want{check.Failed, "never retrieved since its creation 273 days ago, on 2025-06-01"}},
		{"never retrieved, new", secret(func(s *snapshot.Secret) { s.CreatedDate = at("2026-02-27 10:00") }), &want{check.Passed, "never retrieved, but created only 2 days ago, within the 90-day limit"}},
		{"never retrieved, no creation date", secret(func(s *snapshot.Secret) { s.CreatedDate = time.Time{} }), &want{check.NotAvailable, "never retrieved, and no creation date was reported"}},
		{"scheduled for deletion", secret(deleted), nil},
	})
	if got := Unused.Results(snap(secret(accessed("2025-11-30"))), check.Params{MaxUnusedDays: 120}); got[0].Status != check.Passed {
		t.Errorf("90 days idle with a 120-day limit: %s", got[0].Status)
	}
}

func TestUnknownCollectionTime(t *testing.T) {
	s := snap(secret(rotating(snapshot.SecretRotationRules{AutomaticallyAfterDays: 30}, "2026-02-10 08:00")))
	s.SecretsManager.CollectedAt = time.Time{}
	for _, c := range []check.Check{RotationSucceeding, RotatedRecently, Unused} {
		got := c.Results(s, defaults)
		if len(got) != 1 || got[0].Status != check.NotAvailable || got[0].Reason != "the collection time is unknown" {
			t.Errorf("%s: %+v", c.ID, got)
		}
	}
}

func TestCMK(t *testing.T) {
	key := func(ref string) func(*snapshot.Secret) { return func(s *snapshot.Secret) { s.KMSKeyID = ref } }
	const otherAccountKey = "arn:aws:kms:eu-west-1:444455556666:key/" + cmkID
	const unknownKey = "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
	run(t, CMK, nil, []row{
		{"customer managed key", secret(key(cmkARN)), &want{check.Passed, "encrypted with customer managed key alias/app"}},
		{"aws managed key (no key reported)", secret(nil), &want{check.Failed, "encrypted with the AWS managed key alias/aws/secretsmanager, not a customer managed key"}},
		{"key in another account", secret(key(otherAccountKey)), &want{check.Passed, "encrypted with customer managed key " + otherAccountKey}},
		{"key that could not be described", secret(key(unknownKey)), &want{check.NotAvailable, `key "` + unknownKey + `" could not be described`}},
		{"scheduled for deletion", secret(func(s *snapshot.Secret) { key(cmkARN)(s); deleted(s) }), nil},
	})

	s := snap(secret(nil), secret(func(s *snapshot.Secret) { s.ARN, s.KMSKeyID = arnPrefix+"b-123456", cmkARN }))
	got := CMK.Results(s, nil)
	if got[0].Severity != check.Medium || len(got[0].Related) != 0 {
		t.Errorf("AWS managed key: severity %q related %+v", got[0].Severity, got[0].Related)
	}
	if rel := got[1].Related; len(rel) != 1 || rel[0].Type != "AwsKmsKey" || rel[0].ARN != cmkARN {
		t.Errorf("customer managed key: related %+v", rel)
	}

	denied := snap(secret(key(unknownKey)))
	denied.KMS.Referenced = map[string]*snapshot.KMSKey{unknownKey: {ARN: unknownKey, DescribeReason: "DescribeKey failed: AccessDeniedException: no"}}
	if got := CMK.Results(denied, nil); got[0].Status != check.NotAvailable || got[0].Reason != "DescribeKey failed: AccessDeniedException: no" {
		t.Errorf("denied describe: %s %q", got[0].Status, got[0].Reason)
	}
}

// TestFailedListingYieldsNothing: a ListSecrets that failed leaves no
// secrets, so no check says anything (the scope is incomplete instead).
func TestFailedListingYieldsNothing(t *testing.T) {
	s := snapshot.New(account, "aws", region)
	s.Collected[snapshot.SecretsManager] = true
	s.Errors[snapshot.SecretsManager] = []snapshot.CollectionError{{Operation: "ListSecrets", Code: "AccessDeniedException"}}
	for _, c := range Checks() {
		if got := c.Results(s, defaults); len(got) != 0 {
			t.Errorf("%s: %d results with no secrets", c.ID, len(got))
		}
	}
}

func TestResultsAreSortedAndCarryDetails(t *testing.T) {
	b := secret(func(s *snapshot.Secret) { s.ARN, s.Name = arnPrefix+"b-123456", "b" })
	a := secret(func(s *snapshot.Secret) {
		rotating(snapshot.SecretRotationRules{ScheduleExpression: "rate(30 days)", AutomaticallyAfterDays: 30}, "2026-02-10 08:00")(s)
		s.Description, s.KMSKeyID = "db password", cmkARN
	})
	got := RotationEnabled.Results(snap(b, a), nil)
	if len(got) != 2 || got[0].ResourceARN != a.ARN || got[0].ResourceName != "app/db" || got[0].Region != region {
		t.Fatalf("results: %+v", got)
	}
	d := got[0].Details.AwsSecretsManagerSecret
	if d == nil || *d.Name != "app/db" || *d.Description != "db password" || *d.KmsKeyId != cmkARN || !*d.RotationEnabled ||
		*d.RotationLambdaArn != a.RotationLambdaARN || *d.RotationRules.AutomaticallyAfterDays != 30 || *d.Deleted ||
		d.RotationOccurredWithinFrequency != nil {
		t.Errorf("details: %+v", d)
	}
	if d := got[1].Details.AwsSecretsManagerSecret; d.KmsKeyId != nil || d.RotationRules != nil || *d.RotationEnabled {
		t.Errorf("details of a plain secret: %+v", d)
	}
}

func assertOne(t *testing.T, got []check.Result, w *want, arn string) {
	t.Helper()
	if w == nil {
		if len(got) != 0 {
			t.Fatalf("want no result, got %+v", got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("want 1 result, got %d: %+v", len(got), got)
	}
	r := got[0]
	if r.Status != w.status || r.Reason != w.reason || r.ResourceARN != arn || r.Region != region {
		t.Errorf("got %s %q on %s/%s\nwant %s %q on %s", r.Status, r.Reason, r.ResourceARN, r.Region, w.status, w.reason, arn)
	}
	if r.Details == nil || r.Details.AwsSecretsManagerSecret == nil {
		t.Error("result has no AwsSecretsManagerSecret details")
	}
}

// TestEveryCheckCarriesTheSecretsTags: each Secrets Manager check hands the
// judged secret's tags (from its ListSecrets entry) to every result, for
// ASFF Resources[0].Tags; an untagged secret's results have none.
func TestEveryCheckCarriesTheSecretsTags(t *testing.T) {
	tags := map[string]string{"posture-auditor:exempt": "secretsmanager.rotation-enabled", "team": "payments"}
	tagged := secret(func(s *snapshot.Secret) {
		rotating(snapshot.SecretRotationRules{AutomaticallyAfterDays: 30}, "2026-02-10 08:00")(s)
		s.LastAccessedDate = tp("2026-02-28 00:00")
		s.Tags = snapshot.TagsOf(tags)
	})
	bare := secret(func(s *snapshot.Secret) { s.ARN, s.Name = arnPrefix+"bare-123456", "bare" })
	for _, c := range Checks() {
		got := c.Results(snap(tagged, bare), defaults)
		if len(got) == 0 {
			t.Errorf("%s: no results", c.ID)
		}
		for _, r := range got {
			want := tags
			if r.ResourceARN == bare.ARN {
				want = nil
			}
			if !maps.Equal(r.Tags.Map(), want) || (want == nil) != (r.Tags == nil) {
				t.Errorf("%s %s (%s): tags %v, want %v", c.ID, r.ResourceName, r.Status, r.Tags, want)
			}
		}
	}
}
