package keyref

import (
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const (
	acct   = "111122223333"
	region = "eu-west-1"
	id1    = "1234abcd-12ab-34cd-56ef-1234567890ab"
	id2    = "0987dcba-09fe-87dc-65ba-ab0987654321"
	awsID  = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

func TestParse(t *testing.T) {
	s := snapshot.New(acct, "aws", region)
	tests := []struct {
		raw  string
		want Ref
	}{
		{"", Ref{Form: Absent, Alias: "alias/aws/rds", Account: acct, Region: region}},
		{id1, Ref{Form: KeyID, KeyID: id1, Account: acct, Region: region}},
		{"mrk-1234abcd12ab34cd56ef1234567890ab", Ref{Form: KeyID, KeyID: "mrk-1234abcd12ab34cd56ef1234567890ab", Account: acct, Region: region}},
		{"arn:aws:kms:us-east-1:444455556666:key/" + id1, Ref{Form: KeyARN, KeyID: id1, Account: "444455556666", Region: "us-east-1"}},
		{"alias/app", Ref{Form: AliasName, Alias: "alias/app", Account: acct, Region: region}},
		{"arn:aws:kms:eu-west-1:111122223333:alias/aws/rds", Ref{Form: AliasARN, Alias: "alias/aws/rds", Account: acct, Region: region}},
		{"default_kms_key_id", Ref{Form: Unrecognised, Account: acct, Region: region}},
		{"arn:aws:s3:::bucket", Ref{Form: Unrecognised, Account: acct, Region: region}},
		{"arn:aws:kms:eu-west-1:111122223333:key/", Ref{Form: Unrecognised, Account: acct, Region: region}},
		{"alias/", Ref{Form: Unrecognised, Account: acct, Region: region}},
	}
	for _, tt := range tests {
		got := Parse(s, tt.raw, "alias/aws/rds")
		tt.want.Raw, tt.want.Partition = tt.raw, "aws"
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.raw, got, tt.want)
		}
	}
}

func snapWithKeys() *snapshot.Snapshot {
	s := snapshot.New(acct, "aws", region)
	s.KMS.Keys = map[string]*snapshot.KMSKey{
		id1:   {ID: id1, ARN: "arn:aws:kms:eu-west-1:111122223333:key/" + id1, Aliases: []string{"alias/app"}, Manager: snapshot.ManagerCustomer, Described: true, State: "Enabled"},
		id2:   {ID: id2, ARN: "arn:aws:kms:eu-west-1:111122223333:key/" + id2, Manager: snapshot.ManagerCustomer, Described: true, State: "PendingDeletion"},
		awsID: {ID: awsID, ARN: "arn:aws:kms:eu-west-1:111122223333:key/" + awsID, Aliases: []string{"alias/aws/rds"}, Manager: snapshot.ManagerAWS},
		"77777777-7777-7777-7777-777777777777": {ID: "77777777-7777-7777-7777-777777777777", ARN: "arn:aws:kms:eu-west-1:111122223333:key/77777777-7777-7777-7777-777777777777",
			DescribeReason: "DescribeKey failed: ThrottlingException: slow"},
	}
	s.KMS.Aliases = map[string]string{"alias/app": id1, "alias/aws/rds": awsID}
	s.KMS.Referenced = map[string]*snapshot.KMSKey{
		"arn:aws:kms:us-east-1:444455556666:key/" + id1:                                    {ARN: "arn:aws:kms:us-east-1:444455556666:key/" + id1, DescribeReason: "DescribeKey failed: AccessDeniedException: no"},
		"arn:aws:kms:eu-west-1:111122223333:key/" + "deadbeef-0000-0000-0000-000000000000": {NotFound: true},
		"arn:aws:kms:us-west-2:111122223333:key/" + id2:                                    {ID: id2, ARN: "arn:aws:kms:us-west-2:111122223333:key/" + id2, Manager: snapshot.ManagerCustomer, Described: true, State: "Disabled"},
	}
	return s
}

func TestResolve(t *testing.T) {
	s := snapWithKeys()
	tests := []struct {
		name, raw string
		manager   snapshot.KeyManager
		health    Health
		arn       string
	}{
		{"absent is the AWS managed key", "", snapshot.ManagerAWS, Enabled, "arn:aws:kms:eu-west-1:111122223333:key/" + awsID},
		{"aws alias name", "alias/aws/rds", snapshot.ManagerAWS, Enabled, "arn:aws:kms:eu-west-1:111122223333:key/" + awsID},
		{"aws managed key by id", awsID, snapshot.ManagerAWS, Enabled, "arn:aws:kms:eu-west-1:111122223333:key/" + awsID},
		{"key id", id1, snapshot.ManagerCustomer, Enabled, "arn:aws:kms:eu-west-1:111122223333:key/" + id1},
		{"key arn", "arn:aws:kms:eu-west-1:111122223333:key/" + id1, snapshot.ManagerCustomer, Enabled, "arn:aws:kms:eu-west-1:111122223333:key/" + id1},
		{"alias name", "alias/app", snapshot.ManagerCustomer, Enabled, "arn:aws:kms:eu-west-1:111122223333:key/" + id1},
		{"alias arn", "arn:aws:kms:eu-west-1:111122223333:alias/app", snapshot.ManagerCustomer, Enabled, "arn:aws:kms:eu-west-1:111122223333:key/" + id1},
		{"pending deletion", id2, snapshot.ManagerCustomer, PendingDeletion, "arn:aws:kms:eu-west-1:111122223333:key/" + id2},
		{"cross-account, denied", "arn:aws:kms:us-east-1:444455556666:key/" + id1, snapshot.ManagerCustomer, Unknown, "arn:aws:kms:us-east-1:444455556666:key/" + id1},
		{"own key deleted", "deadbeef-0000-0000-0000-000000000000", "", Deleted, ""},
		{"other region, described", "arn:aws:kms:us-west-2:111122223333:key/" + id2, snapshot.ManagerCustomer, Disabled, "arn:aws:kms:us-west-2:111122223333:key/" + id2},
		{"listed key whose describe failed", "77777777-7777-7777-7777-777777777777", "", Unknown, "arn:aws:kms:eu-west-1:111122223333:key/77777777-7777-7777-7777-777777777777"},
		{"unknown local alias", "alias/nope", "", Unknown, ""},
		{"unrecognised", "default_kms_key_id", "", Unknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := Resolve(s, Parse(s, tt.raw, "alias/aws/rds"))
			if k.Manager != tt.manager || k.Health != tt.health || k.ARN != tt.arn {
				t.Errorf("got manager %q health %s arn %q (reason %q), want %q %s %q", k.Manager, k.Health, k.ARN, k.Reason, tt.manager, tt.health, tt.arn)
			}
			if (k.Manager == "" || k.Health == Unknown) && k.Manager != snapshot.ManagerAWS && k.Reason == "" {
				t.Error("an unknown answer needs a reason")
			}
		})
	}
	if k := Resolve(s, Parse(s, "arn:aws:kms:us-east-1:444455556666:key/"+id1, "")); k.Reason != "DescribeKey failed: AccessDeniedException: no" {
		t.Errorf("cross-account reason: %q", k.Reason)
	}
	if k := Resolve(s, Parse(s, "77777777-7777-7777-7777-777777777777", "")); k.Reason != "DescribeKey failed: ThrottlingException: slow" || !Known(s, k.Ref) {
		t.Errorf("listed, undescribed key: reason %q known %v", k.Reason, Known(s, k.Ref))
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"", id1, "alias/x", "arn:aws:kms:eu-west-1:1:key/x", "arn:aws:kms:::alias/", "mrk-"} {
		f.Add(seed)
	}
	s := snapWithKeys()
	f.Fuzz(func(t *testing.T, raw string) {
		r := Parse(s, raw, "alias/aws/rds")
		k := Resolve(s, r)
		if k.Health == Unknown && k.Manager == "" && k.Reason == "" {
			t.Fatalf("unknown without reason for %q", raw)
		}
	})
}
