package kmschecks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const (
	goodID    = "11111111-1111-1111-1111-111111111111"
	offID     = "22222222-2222-2222-2222-222222222222"
	dyingID   = "33333333-3333-3333-3333-333333333333"
	awsKeyID  = "44444444-4444-4444-4444-444444444444"
	goneID    = "55555555-5555-5555-5555-555555555555"
	foreignID = "66666666-6666-6666-6666-666666666666"
)

func inUseSnapshot(uses ...snapshot.KeyUse) *snapshot.Snapshot {
	s := snap(
		customerKey(goodID, func(k *snapshot.KMSKey) { k.Aliases = []string{"alias/app"} }),
		customerKey(offID, func(k *snapshot.KMSKey) { k.State = "Disabled" }),
		customerKey(dyingID, func(k *snapshot.KMSKey) { k.State = "PendingDeletion" }),
		&snapshot.KMSKey{ID: awsKeyID, ARN: arnPrefix + awsKeyID, Manager: snapshot.ManagerAWS, Aliases: []string{"alias/aws/rds"}},
	)
	s.KMS.Aliases = map[string]string{"alias/app": goodID, "alias/aws/rds": awsKeyID}
	s.KMS.Referenced = map[string]*snapshot.KMSKey{
		arnPrefix + goneID: {NotFound: true},
		"arn:aws:kms:eu-west-1:444455556666:key/" + foreignID: {DescribeReason: "DescribeKey failed: AccessDeniedException: not allowed"},
	}
	for _, u := range uses {
		s.AddKeyUse(u)
	}
	return s
}

func rdsUse(name, key string) snapshot.KeyUse {
	return snapshot.KeyUse{Service: snapshot.RDS, ResourceARN: "arn:aws:rds:eu-west-1:111122223333:db:" + name, ResourceName: name,
		ResourceType: "AwsRdsDbInstance", KeyRef: key, DefaultAlias: "alias/aws/rds"}
}

func TestKeyInUseUnhealthy(t *testing.T) {
	tests := []struct {
		name   string
		uses   []snapshot.KeyUse
		key    string // expected finding resource; "" = no finding
		status check.Status
		reason string
	}{
		{"enabled key", []snapshot.KeyUse{rdsUse("db1", arnPrefix+goodID)}, arnPrefix + goodID, check.Passed, "key is Enabled and protects 1 resource: rds db1"},
		{"disabled key", []snapshot.KeyUse{rdsUse("db1", offID)}, arnPrefix + offID, check.Failed, "key is Disabled and protects 1 resource: rds db1"},
		{"pending deletion", []snapshot.KeyUse{rdsUse("db1", dyingID), rdsUse("db2", arnPrefix+dyingID)}, arnPrefix + dyingID, check.Failed, "key is PendingDeletion and protects 2 resources: rds db1, rds db2"},
		{"deleted key", []snapshot.KeyUse{rdsUse("db1", goneID)}, arnPrefix + goneID, check.Failed, "key is Deleted and protects 1 resource: rds db1"},
		{"cross-account key not describable", []snapshot.KeyUse{rdsUse("db1", "arn:aws:kms:eu-west-1:444455556666:key/"+foreignID)}, "arn:aws:kms:eu-west-1:444455556666:key/" + foreignID, check.NotAvailable,
			"DescribeKey failed: AccessDeniedException: not allowed; it protects 1 resource: rds db1"},
		{"aws managed default key", []snapshot.KeyUse{rdsUse("db1", "")}, "", "", ""},
		{"aws managed key by id", []snapshot.KeyUse{rdsUse("db1", awsKeyID)}, "", "", ""},
		{"unrecognised reference", []snapshot.KeyUse{rdsUse("db1", "default_kms_key_id")}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := KeyInUseUnhealthy.Results(inUseSnapshot(tt.uses...), nil)
			if tt.key == "" {
				if len(got) != 0 {
					t.Fatalf("want no finding, got %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want 1 finding, got %d: %+v", len(got), got)
			}
			r := got[0]
			if r.ResourceARN != tt.key || r.Status != tt.status || r.Reason != tt.reason {
				t.Errorf("got %s %s %q, want %s %s %q", r.ResourceARN, r.Status, r.Reason, tt.key, tt.status, tt.reason)
			}
			if len(r.Related) != len(tt.uses) || r.Related[0].Type != "AwsRdsDbInstance" {
				t.Errorf("related resources: %+v", r.Related)
			}
		})
	}
}

// TestKeyInUseGroupsReferenceForms: alias, key ID and ARN of one key are
// one finding, and a long list of dependents is summarised.
func TestKeyInUseGroupsReferenceForms(t *testing.T) {
	uses := []snapshot.KeyUse{rdsUse("a", "alias/app"), rdsUse("b", goodID), rdsUse("c", arnPrefix+goodID), rdsUse("d", "arn:aws:kms:eu-west-1:111122223333:alias/app")}
	for i := 0; i < 4; i++ {
		uses = append(uses, rdsUse(fmt.Sprintf("e%d", i), goodID))
	}
	got := KeyInUseUnhealthy.Results(inUseSnapshot(uses...), nil)
	if len(got) != 1 || len(got[0].Related) != 8 {
		t.Fatalf("got %+v", got)
	}
	if !strings.HasSuffix(got[0].Reason, "8 resources: rds a, rds b, rds c, rds d, rds e0, 3 more") || got[0].ResourceName != "alias/app" {
		t.Errorf("reason %q name %q", got[0].Reason, got[0].ResourceName)
	}
}

// TestKeyInUseIgnoresSettings: the EBS default key is described like any
// key use, but protects no data, so it is no dependent here.
func TestKeyInUseIgnoresSettings(t *testing.T) {
	setting := snapshot.KeyUse{Service: snapshot.EBS, ResourceARN: "AWS::::Account:111122223333", ResourceType: "AwsAccount",
		KeyRef: offID, DefaultAlias: "alias/aws/ebs", Setting: true}
	if got := KeyInUseUnhealthy.Results(inUseSnapshot(setting), nil); len(got) != 0 {
		t.Errorf("a setting's disabled key is not a key in use: %+v", got)
	}
}
