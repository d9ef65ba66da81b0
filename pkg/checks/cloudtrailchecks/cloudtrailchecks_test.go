package cloudtrailchecks

import (
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const (
	account  = "111122223333"
	region   = "us-east-1"
	trailARN = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"
	cmkID    = "1234abcd-12ab-34cd-56ef-1234567890ab"
	cmkARN   = "arn:aws:kms:us-east-1:111122223333:key/" + cmkID
)

func trail(mod func(*snapshot.CloudTrailTrail)) *snapshot.CloudTrailTrail {
	t := &snapshot.CloudTrailTrail{
		Name: "main", ARN: trailARN, HomeRegion: region, MultiRegion: snapshot.KnownFact(true), LogFileValidation: snapshot.KnownFact(true), KMSKeyID: cmkARN,
		S3BucketName: "trail-bucket", IncludeGlobalServiceEvents: true,
		Logging:          snapshot.KnownFact(true),
		ManagementEvents: snapshot.KnownFact(snapshot.ManagementEventCoverage{Read: true, Write: true}),
	}
	if mod != nil {
		mod(t)
	}
	return t
}

// snap holds one customer managed key, cmkID, in state keyState.
func snap(keyState string, trails ...*snapshot.CloudTrailTrail) *snapshot.Snapshot {
	s := snapshot.New(account, "aws", region)
	s.KMS.Keys = map[string]*snapshot.KMSKey{cmkID: {ID: cmkID, ARN: cmkARN, Aliases: []string{"alias/trails"}, Manager: snapshot.ManagerCustomer, Described: true, State: keyState}}
	s.KMS.Aliases = map[string]string{"alias/trails": cmkID}
	s.CloudTrail.Trails = trails
	return s
}

type want struct {
	status   check.Status
	severity check.Severity
	reason   string
}

func assertOne(t *testing.T, got []check.Result, w want, arn string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("want 1 result, got %d: %+v", len(got), got)
	}
	r := got[0]
	if r.Status != w.status || r.Severity != w.severity || r.Reason != w.reason || r.ResourceARN != arn || r.Region != region {
		t.Errorf("got %s %q %q on %s/%s, want %s %q %q", r.Status, r.Severity, r.Reason, r.ResourceARN, r.Region, w.status, w.severity, w.reason)
	}
}

func TestEncryption(t *testing.T) {
	key := func(ref string) func(*snapshot.CloudTrailTrail) {
		return func(t *snapshot.CloudTrailTrail) { t.KMSKeyID = ref }
	}
	tests := []struct {
		name     string
		keyState string
		trail    *snapshot.CloudTrailTrail
		want     want
	}{
		{"healthy customer key", "Enabled", trail(nil), want{check.Passed, "", "log files are encrypted with healthy customer managed key alias/trails"}},
		{"no KMS key", "Enabled", trail(key("")), want{check.Failed, "", "log files are encrypted with SSE-S3 only, not with a KMS key"}},
		{"disabled key", "Disabled", trail(nil), want{check.Failed, check.High, "log files are encrypted with key alias/trails, which is disabled: CloudTrail cannot encrypt new log files"}},
		{"key pending deletion", "PendingDeletion", trail(nil), want{check.Failed, check.High, "log files are encrypted with key alias/trails, which is pending deletion: CloudTrail cannot encrypt new log files"}},
		{"key unusable", "PendingImport", trail(nil), want{check.Failed, check.High, "log files are encrypted with key alias/trails, which is unusable: CloudTrail cannot encrypt new log files"}},
		{"cross-account key of unknown health", "Enabled", trail(key("arn:aws:kms:us-east-1:444455556666:key/" + cmkID)),
			want{check.NotAvailable, "", `customer managed key arn:aws:kms:us-east-1:444455556666:key/` + cmkID + `: health unknown: key "arn:aws:kms:us-east-1:444455556666:key/` + cmkID + `" could not be described`}},
		{"local key not described", "Enabled", trail(key("arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321")),
			want{check.NotAvailable, "", `key "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321" could not be described`}},
		{"AWS managed key", "Enabled", trail(key("alias/aws/cloudtrail")), want{check.Failed, check.Medium, "encrypted with the AWS managed key alias/aws/cloudtrail, not a customer managed key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertOne(t, Encryption.Results(snap(tt.keyState, tt.trail), nil), tt.want, trailARN)
		})
	}
}

func TestEncryptionDeletedKey(t *testing.T) {
	s := snap("Enabled", trail(func(t *snapshot.CloudTrailTrail) {
		t.KMSKeyID = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
	}))
	s.KMS.Referenced = map[string]*snapshot.KMSKey{
		"arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321": {NotFound: true, DescribeReason: "DescribeKey failed: NotFoundException: gone"},
	}
	assertOne(t, Encryption.Results(s, nil), want{check.Failed, check.High,
		"log files are encrypted with key arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321, which is deleted: CloudTrail cannot encrypt new log files"}, trailARN)
}

func TestLogValidation(t *testing.T) {
	assertOne(t, LogValidation.Results(snap("Enabled", trail(nil)), nil), want{check.Passed, "", "log file validation is enabled"}, trailARN)
	off := trail(func(t *snapshot.CloudTrailTrail) { t.LogFileValidation = snapshot.KnownFact(false) })
	assertOne(t, LogValidation.Results(snap("Enabled", off), nil), want{check.Failed, "", "log file validation is disabled"}, trailARN)
	// A field DescribeTrails omitted is unknown, never "disabled".
	missing := trail(func(t *snapshot.CloudTrailTrail) {
		t.LogFileValidation = snapshot.UnknownFact[bool]("DescribeTrails returned no LogFileValidationEnabled")
	})
	assertOne(t, LogValidation.Results(snap("Enabled", missing), nil), want{check.NotAvailable, "", "DescribeTrails returned no LogFileValidationEnabled"}, trailARN)
	if d := LogValidation.Results(snap("Enabled", missing), nil)[0].Details.AwsCloudTrailTrail; d.LogFileValidationEnabled != nil {
		t.Errorf("an unknown LogFileValidationEnabled must stay out of the details: %v", *d.LogFileValidationEnabled)
	}
	if got := LogValidation.Results(snap("Enabled"), nil); len(got) != 0 {
		t.Errorf("no trails: %+v", got)
	}
}

func TestMultiRegionLogging(t *testing.T) {
	named := func(name string, mod func(*snapshot.CloudTrailTrail)) *snapshot.CloudTrailTrail {
		return trail(func(t *snapshot.CloudTrailTrail) {
			t.Name, t.ARN = name, "arn:aws:cloudtrail:eu-west-1:111122223333:trail/"+name
			if mod != nil {
				mod(t)
			}
		})
	}
	notLogging := func(t *snapshot.CloudTrailTrail) { t.Logging = snapshot.KnownFact(false) }
	writesOnly := func(t *snapshot.CloudTrailTrail) {
		t.ManagementEvents = snapshot.KnownFact(snapshot.ManagementEventCoverage{Write: true})
	}
	statusDenied := func(t *snapshot.CloudTrailTrail) {
		t.Logging = snapshot.UnknownFact[bool]("GetTrailStatus failed: AccessDeniedException: no")
	}
	selectorsDenied := func(t *snapshot.CloudTrailTrail) {
		t.ManagementEvents = snapshot.UnknownFact[snapshot.ManagementEventCoverage]("GetEventSelectors failed: AccessDeniedException: no")
	}
	known := func(ts ...*snapshot.CloudTrailTrail) snapshot.Fact[[]*snapshot.CloudTrailTrail] {
		return snapshot.KnownFact(ts)
	}
	tests := []struct {
		name   string
		trails snapshot.Fact[[]*snapshot.CloudTrailTrail]
		want   want
	}{
		{"one logging trail", known(named("a", nil)), want{check.Passed, "", "multi-region trails logging all management events: a"}},
		{"one good among bad", known(named("a", notLogging), named("b", nil)), want{check.Passed, "", "multi-region trails logging all management events: b"}},
		{"no multi-region trail", known(), want{check.Failed, "", "the account has no multi-region trail"}},
		{"not logging", known(named("a", notLogging)), want{check.Failed, "", "no multi-region trail logs all management events: a: not logging"}},
		{"writes only", known(named("a", writesOnly)), want{check.Failed, "", "no multi-region trail logs all management events: a: records write-only management events only"}},
		{"no management events and stopped", known(named("a", func(t *snapshot.CloudTrailTrail) {
			notLogging(t)
			t.ManagementEvents = snapshot.KnownFact(snapshot.ManagementEventCoverage{})
		})), want{check.Failed, "", "no multi-region trail logs all management events: a: not logging, records no management events"}},
		{"only candidate's status denied", known(named("a", statusDenied)),
			want{check.NotAvailable, "", "no multi-region trail is known to log all management events; unreadable: a: GetTrailStatus failed: AccessDeniedException: no"}},
		{"only candidate's selectors denied", known(named("a", selectorsDenied)),
			want{check.NotAvailable, "", "no multi-region trail is known to log all management events; unreadable: a: GetEventSelectors failed: AccessDeniedException: no"}},
		{"denied selectors but known stopped: failed", known(named("a", func(t *snapshot.CloudTrailTrail) { notLogging(t); selectorsDenied(t) })),
			want{check.Failed, "", "no multi-region trail logs all management events: a: not logging"}},
		{"one unreadable, one failing", known(named("a", statusDenied), named("b", notLogging)),
			want{check.NotAvailable, "", "no multi-region trail is known to log all management events; unreadable: a: GetTrailStatus failed: AccessDeniedException: no; failing: b: not logging"}},
		// The AWS Config rule behind CloudTrail.1 is NON_COMPLIANT for a
		// trail excluding management event sources.
		{"KMS events excluded", known(named("a", func(t *snapshot.CloudTrailTrail) {
			t.ManagementEvents = snapshot.KnownFact(snapshot.ManagementEventCoverage{Read: true, Write: true, Excluded: []string{"kms.amazonaws.com"}})
		})), want{check.Failed, "", "no multi-region trail logs all management events: a: records all management events, excluding those of kms.amazonaws.com"}},
		{"excluding trail beside a full one", known(named("a", func(t *snapshot.CloudTrailTrail) {
			t.ManagementEvents = snapshot.KnownFact(snapshot.ManagementEventCoverage{Read: true, Write: true, Excluded: []string{"kms.amazonaws.com", "rdsdata.amazonaws.com"}})
		}), named("b", nil)), want{check.Passed, "", "multi-region trails logging all management events: b"}},
		{"whether multi-region unknown", known(named("a", func(t *snapshot.CloudTrailTrail) {
			reason := "whether it is multi-region is unknown: DescribeTrails returned no IsMultiRegionTrail"
			t.MultiRegion = snapshot.UnknownFact[bool]("DescribeTrails returned no IsMultiRegionTrail")
			t.Logging, t.ManagementEvents = snapshot.UnknownFact[bool](reason), snapshot.UnknownFact[snapshot.ManagementEventCoverage](reason)
		})), want{check.NotAvailable, "", "no multi-region trail is known to log all management events; unreadable: a: whether it is multi-region is unknown: DescribeTrails returned no IsMultiRegionTrail"}},
		{"listing denied", snapshot.UnknownFact[[]*snapshot.CloudTrailTrail]("DescribeTrails failed: AccessDeniedException: no"),
			want{check.NotAvailable, "", "DescribeTrails failed: AccessDeniedException: no"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := snap("Enabled")
			s.CloudTrail.MultiRegionTrails = tt.trails
			got := MultiRegionLogging.Results(s, nil)
			assertOne(t, got, tt.want, "AWS::::Account:111122223333")
			if got[0].ResourceName != account || got[0].Details != nil {
				t.Errorf("account result: %+v", got[0])
			}
		})
	}
}

func TestMetadataAndDetails(t *testing.T) {
	for _, c := range Checks() {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	}
	if !MultiRegionLogging.Global || Encryption.Global || LogValidation.Global {
		t.Error("only the account-wide check is global")
	}
	got := Encryption.Results(snap("Enabled", trail(nil)), nil)
	d := got[0].Details.AwsCloudTrailTrail
	if d == nil || *d.Name != "main" || *d.KmsKeyId != cmkARN || !*d.IsMultiRegionTrail || !*d.LogFileValidationEnabled || *d.HomeRegion != region || d.SnsTopicArn != nil {
		t.Errorf("details: %+v", d)
	}
}
