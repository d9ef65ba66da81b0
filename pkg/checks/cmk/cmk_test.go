package cmk

import (
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

func TestJudge(t *testing.T) {
	const cmkID = "1234abcd-12ab-34cd-56ef-1234567890ab"
	s := snapshot.New("111122223333", "aws", "eu-west-1")
	s.KMS.Keys = map[string]*snapshot.KMSKey{
		cmkID: {ID: cmkID, ARN: "arn:aws:kms:eu-west-1:111122223333:key/" + cmkID, Aliases: []string{"alias/app"}, Manager: snapshot.ManagerCustomer, Described: true, State: "Enabled"},
	}
	s.KMS.Aliases = map[string]string{"alias/app": cmkID}
	tests := []struct {
		name      string
		encrypted bool
		key       string
		status    check.Status
		severity  check.Severity
		reason    string
	}{
		{"unencrypted", false, "", check.Failed, check.High, "not encrypted"},
		{"default key", true, "", check.Failed, check.Medium, "encrypted with the AWS managed key alias/aws/rds, not a customer managed key"},
		{"aws alias arn", true, "arn:aws:kms:eu-west-1:111122223333:alias/aws/rds", check.Failed, check.Medium, "encrypted with the AWS managed key alias/aws/rds, not a customer managed key"},
		{"cmk by arn", true, "arn:aws:kms:eu-west-1:111122223333:key/" + cmkID, check.Passed, "", "encrypted with customer managed key alias/app"},
		{"cmk by alias", true, "alias/app", check.Passed, "", "encrypted with customer managed key alias/app"},
		{"cross-account cmk", true, "arn:aws:kms:eu-west-1:444455556666:key/" + cmkID, check.Passed, "", "encrypted with customer managed key arn:aws:kms:eu-west-1:444455556666:key/" + cmkID},
		{"undescribable local key", true, "0987dcba-09fe-87dc-65ba-ab0987654321", check.NotAvailable, "", `key "0987dcba-09fe-87dc-65ba-ab0987654321" could not be described`},
		{"unrecognised reference", true, "default_kms_key_id", check.NotAvailable, "", `unrecognised KMS key reference "default_kms_key_id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(s, tt.encrypted, tt.key, "alias/aws/rds")
			if v.Status != tt.status || v.Severity != tt.severity || v.Reason != tt.reason {
				t.Errorf("got %s %s %q, want %s %s %q", v.Status, v.Severity, v.Reason, tt.status, tt.severity, tt.reason)
			}
		})
	}
}
