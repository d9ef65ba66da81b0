package kmschecks

import (
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const arnPrefix = "arn:aws:kms:eu-west-1:111122223333:key/"

func customerKey(id string, mod func(*snapshot.KMSKey)) *snapshot.KMSKey {
	k := &snapshot.KMSKey{
		ID: id, ARN: arnPrefix + id, Manager: snapshot.ManagerCustomer, Described: true,
		State: "Enabled", Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Origin: "AWS_KMS",
		Rotation: snapshot.KnownFact(snapshot.KeyRotation{Enabled: true, PeriodDays: 365}),
	}
	if mod != nil {
		mod(k)
	}
	return k
}

func snap(keys ...*snapshot.KMSKey) *snapshot.Snapshot {
	s := snapshot.New("111122223333", "aws", "eu-west-1")
	s.KMS.Keys = map[string]*snapshot.KMSKey{}
	for _, k := range keys {
		s.KMS.Keys[k.ID] = k
	}
	return s
}

type want struct {
	status check.Status
	reason string
}

func TestRotation(t *testing.T) {
	params := check.Params{MaxRotationPeriodDays: 365}
	tests := []struct {
		name string
		key  *snapshot.KMSKey
		want *want // nil: not applicable, no result
	}{
		{"rotating yearly", customerKey("a", nil), &want{check.Passed, "automatic rotation every 365 days"}},
		{"rotating every 90 days", customerKey("a", func(k *snapshot.KMSKey) { k.Rotation.Value.PeriodDays = 90 }), &want{check.Passed, "automatic rotation every 90 days"}},
		{"rotation disabled", customerKey("a", func(k *snapshot.KMSKey) { k.Rotation.Value.Enabled = false }), &want{check.Failed, "automatic key rotation is disabled"}},
		{"disabled key still judged", customerKey("a", func(k *snapshot.KMSKey) { k.State = "Disabled"; k.Rotation.Value.Enabled = false }), &want{check.Failed, "automatic key rotation is disabled"}},
		{"period too long", customerKey("a", func(k *snapshot.KMSKey) { k.Rotation.Value.PeriodDays = 730 }), &want{check.Failed, "rotation period is 730 days, longer than the maximum of 365"}},
		{"rotation status denied", customerKey("a", func(k *snapshot.KMSKey) {
			k.Rotation = snapshot.UnknownFact[snapshot.KeyRotation]("GetKeyRotationStatus failed: AccessDeniedException: denied")
		}), &want{check.NotAvailable, "GetKeyRotationStatus failed: AccessDeniedException: denied"}},
		{"describe denied", &snapshot.KMSKey{ID: "a", ARN: arnPrefix + "a", DescribeReason: "DescribeKey failed: AccessDeniedException: no"}, &want{check.NotAvailable, "DescribeKey failed: AccessDeniedException: no"}},
		{"asymmetric", customerKey("a", func(k *snapshot.KMSKey) {
			k.Spec, k.Usage = "RSA_2048", "SIGN_VERIFY"
			k.Rotation = snapshot.Fact[snapshot.KeyRotation]{}
		}), nil},
		{"asymmetric encryption", customerKey("a", func(k *snapshot.KMSKey) { k.Spec = "RSA_4096"; k.Rotation = snapshot.Fact[snapshot.KeyRotation]{} }), nil},
		{"hmac", customerKey("a", func(k *snapshot.KMSKey) { k.Spec, k.Usage = "HMAC_256", "GENERATE_VERIFY_MAC" }), nil},
		{"imported material", customerKey("a", func(k *snapshot.KMSKey) { k.Origin = "EXTERNAL" }), nil},
		{"cloudhsm key store", customerKey("a", func(k *snapshot.KMSKey) { k.Origin, k.CustomKeyStoreID = "AWS_CLOUDHSM", "cks-1" }), nil},
		{"external key store", customerKey("a", func(k *snapshot.KMSKey) { k.Origin, k.CustomKeyStoreID = "EXTERNAL_KEY_STORE", "cks-2" }), nil},
		{"pending deletion", customerKey("a", func(k *snapshot.KMSKey) { k.State = "PendingDeletion"; k.Rotation.Value.Enabled = false }), nil},
		{"key usage not reported", customerKey("a", func(k *snapshot.KMSKey) { k.Usage = "" }), &want{check.NotAvailable, "DescribeKey did not report the key spec, usage and origin, so whether automatic rotation applies is unknown"}},
		{"origin not reported", customerKey("a", func(k *snapshot.KMSKey) { k.Origin = "" }), &want{check.NotAvailable, "DescribeKey did not report the key spec, usage and origin, so whether automatic rotation applies is unknown"}},
		{"aws managed by alias", &snapshot.KMSKey{ID: "a", ARN: arnPrefix + "a", Manager: snapshot.ManagerAWS, Aliases: []string{"alias/aws/ebs"}}, nil},
		{"aws managed by describe", customerKey("a", func(k *snapshot.KMSKey) { k.Manager = snapshot.ManagerAWS; k.Rotation.Value.Enabled = false }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Rotation.Results(snap(tt.key), params)
			assertOne(t, got, tt.want, tt.key.ARN)
		})
	}
}

func TestRotationThreshold(t *testing.T) {
	key := customerKey("a", func(k *snapshot.KMSKey) { k.Rotation.Value.PeriodDays = 400 })
	if got := Rotation.Results(snap(key), check.Params{MaxRotationPeriodDays: 365}); got[0].Status != check.Failed {
		t.Errorf("400 days with max 365: %s", got[0].Status)
	}
	if got := Rotation.Results(snap(key), check.Params{MaxRotationPeriodDays: 730}); got[0].Status != check.Passed {
		t.Errorf("400 days with max 730: %s", got[0].Status)
	}
}

func TestPendingDeletion(t *testing.T) {
	when := time.Date(2026, 12, 27, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		key  *snapshot.KMSKey
		want *want
	}{
		{"enabled", customerKey("a", nil), &want{check.Passed, "key is Enabled"}},
		{"disabled", customerKey("a", func(k *snapshot.KMSKey) { k.State = "Disabled" }), &want{check.Passed, "key is Disabled"}},
		{"pending deletion", customerKey("a", func(k *snapshot.KMSKey) { k.State = "PendingDeletion"; k.DeletionDate = &when }), &want{check.Failed, "key is scheduled for deletion on 2026-12-27"}},
		{"pending replica deletion", customerKey("a", func(k *snapshot.KMSKey) { k.State = "PendingReplicaDeletion" }), &want{check.Failed, "key is scheduled for deletion"}},
		{"asymmetric pending deletion", customerKey("a", func(k *snapshot.KMSKey) { k.Spec, k.Usage, k.State = "ECC_NIST_P256", "SIGN_VERIFY", "PendingDeletion" }), &want{check.Failed, "key is scheduled for deletion"}},
		{"describe throttled", &snapshot.KMSKey{ID: "a", ARN: arnPrefix + "a", DescribeReason: "DescribeKey failed: ThrottlingException: slow"}, &want{check.NotAvailable, "DescribeKey failed: ThrottlingException: slow"}},
		{"aws managed", &snapshot.KMSKey{ID: "a", ARN: arnPrefix + "a", Manager: snapshot.ManagerAWS}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertOne(t, PendingDeletion.Results(snap(tt.key), nil), tt.want, tt.key.ARN)
		})
	}
}

func TestEmptySnapshotYieldsNothing(t *testing.T) {
	for _, c := range Checks() {
		if got := c.Results(snap(), check.Params{MaxRotationPeriodDays: 365}); len(got) != 0 {
			t.Errorf("%s: %d results on no keys", c.ID, len(got))
		}
	}
}

func TestResultsAreSortedAndCarryDetails(t *testing.T) {
	s := snap(customerKey("b", nil), customerKey("a", func(k *snapshot.KMSKey) { k.Aliases = []string{"alias/app"} }))
	got := Rotation.Results(s, check.Params{MaxRotationPeriodDays: 365})
	if len(got) != 2 || got[0].ResourceARN != arnPrefix+"a" || got[0].ResourceName != "alias/app" {
		t.Fatalf("results: %+v", got)
	}
	d := got[0].Details.AwsKmsKey
	if d == nil || *d.KeyId != "a" || *d.KeyManager != "CUSTOMER" || !*d.KeyRotationStatus || *d.AWSAccountId != "111122223333" {
		t.Errorf("details: %+v", d)
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
	if r.Status != w.status || r.Reason != w.reason || r.ResourceARN != arn || r.Region != "eu-west-1" {
		t.Errorf("got %s %q on %s/%s, want %s %q on %s", r.Status, r.Reason, r.ResourceARN, r.Region, w.status, w.reason, arn)
	}
}
