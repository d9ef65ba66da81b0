package ecrchecks

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const (
	account   = "111122223333"
	region    = "eu-west-1"
	keyPrefix = "arn:aws:kms:eu-west-1:111122223333:key/"
	cmkID     = "1234abcd-12ab-34cd-56ef-1234567890ab"
	awsKeyID  = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" // the aws/ecr key, as ListKeys + ListAliases see it
	goneID    = "0987dcba-09fe-87dc-65ba-ab0987654321"
)

// kmsSnapshot holds a customer managed key alias/app and the AWS managed key
// alias/aws/ecr, as the KMS collector leaves them.
func kmsSnapshot(repos ...*snapshot.ECRRepository) *snapshot.Snapshot {
	s := snapshot.New(account, "aws", region)
	s.KMS.Keys = map[string]*snapshot.KMSKey{
		cmkID:    {ID: cmkID, ARN: keyPrefix + cmkID, Aliases: []string{"alias/app"}, Manager: snapshot.ManagerCustomer, Described: true, State: "Enabled"},
		awsKeyID: {ID: awsKeyID, ARN: keyPrefix + awsKeyID, Aliases: []string{"alias/aws/ecr"}, Manager: snapshot.ManagerAWS},
	}
	s.KMS.Aliases = map[string]string{"alias/app": cmkID, "alias/aws/ecr": awsKeyID}
	s.ECR.Repositories = repos
	return s
}

func repo(name, encType, key string) *snapshot.ECRRepository {
	return &snapshot.ECRRepository{
		ARN: "arn:aws:ecr:eu-west-1:111122223333:repository/" + name, Name: name, RegistryID: account,
		ImageTagMutability: "IMMUTABLE", ScanOnPush: true, EncryptionType: encType, KMSKey: key,
	}
}

func TestRepositoryCMK(t *testing.T) {
	tests := []struct {
		name     string
		repo     *snapshot.ECRRepository
		status   check.Status
		severity check.Severity
		reason   string
	}{
		{"customer managed key by ARN", repo("app", "KMS", keyPrefix+cmkID), check.Passed, "", "encrypted with customer managed key alias/app"},
		{"dual-layer with customer managed key", repo("app", "KMS_DSSE", keyPrefix+cmkID), check.Passed, "", "encrypted with customer managed key alias/app"},
		{"customer managed key by alias", repo("app", "KMS", "alias/app"), check.Passed, "", "encrypted with customer managed key alias/app"},
		{"cross-account key", repo("app", "KMS", "arn:aws:kms:eu-west-1:444455556666:key/"+cmkID), check.Passed, "", "encrypted with customer managed key arn:aws:kms:eu-west-1:444455556666:key/" + cmkID},
		{"AES256", repo("app", "AES256", ""), check.Failed, check.Medium, "encrypted with AES256 (Amazon S3 managed keys), not with a KMS key: no customer managed key protects its images"},
		// What AWS reports for a KMS repository created without a key.
		{"aws/ecr by key ARN", repo("app", "KMS", keyPrefix+awsKeyID), check.Failed, check.Medium, "encrypted with the AWS managed key alias/aws/ecr, not a customer managed key"},
		{"KMS, no key named", repo("app", "KMS", ""), check.Failed, check.Medium, "encrypted with the AWS managed key alias/aws/ecr, not a customer managed key"},
		{"dual-layer, no key named", repo("app", "KMS_DSSE", ""), check.Failed, check.Medium, "encrypted with the AWS managed key alias/aws/ecr, not a customer managed key"},
		{"key not described", repo("app", "KMS", keyPrefix+goneID), check.NotAvailable, "", `key "` + keyPrefix + goneID + `" could not be described`},
		{"no encryption configuration", repo("app", "", ""), check.NotAvailable, "", "DescribeRepositories reported no encryption configuration"},
		{"unknown encryption type", repo("app", "QUANTUM", ""), check.NotAvailable, "", "unrecognised encryption type QUANTUM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RepositoryCMK.Results(kmsSnapshot(tt.repo), nil)
			if len(got) != 1 {
				t.Fatalf("%d results, want 1", len(got))
			}
			r := got[0]
			if r.Status != tt.status || r.Severity != tt.severity || r.Reason != tt.reason {
				t.Errorf("got %s %s %q\nwant %s %s %q", r.Status, r.Severity, r.Reason, tt.status, tt.severity, tt.reason)
			}
			if r.CheckID != "ecr.repository-cmk" || r.ResourceARN != tt.repo.ARN || r.ResourceName != "app" || r.Region != region {
				t.Errorf("result identity: %+v", r)
			}
		})
	}
}

func TestDeniedKeyDescribeIsNotAVerdict(t *testing.T) {
	s := kmsSnapshot(repo("app", "KMS", keyPrefix+goneID))
	s.KMS.Referenced = map[string]*snapshot.KMSKey{keyPrefix + goneID: {ARN: keyPrefix + goneID, DescribeReason: "DescribeKey failed: AccessDeniedException: denied"}}
	r := RepositoryCMK.Results(s, nil)[0]
	if r.Status != check.NotAvailable || r.Reason != "DescribeKey failed: AccessDeniedException: denied" {
		t.Errorf("got %s %q", r.Status, r.Reason)
	}
}

func TestNoRepositoriesNoResults(t *testing.T) {
	if got := RepositoryCMK.Results(kmsSnapshot(), nil); len(got) != 0 {
		t.Errorf("%d results for a registry without repositories", len(got))
	}
}

func TestResultsAreSortedAndCarryDetails(t *testing.T) {
	got := RepositoryCMK.Results(kmsSnapshot(repo("zeta", "AES256", ""), repo("alpha/svc", "KMS", keyPrefix+cmkID)), nil)
	if len(got) != 2 || got[0].ResourceName != "alpha/svc" || got[1].ResourceName != "zeta" {
		t.Fatalf("order: %+v", got)
	}
	d := got[0].Details.AwsEcrRepository
	if d == nil || aws.ToString(d.Arn) != "arn:aws:ecr:eu-west-1:111122223333:repository/alpha/svc" ||
		aws.ToString(d.RepositoryName) != "alpha/svc" || aws.ToString(d.ImageTagMutability) != "IMMUTABLE" ||
		d.ImageScanningConfiguration == nil || !aws.ToBool(d.ImageScanningConfiguration.ScanOnPush) {
		t.Errorf("details: %+v", d)
	}
}

func TestMetadata(t *testing.T) {
	for _, c := range Checks() {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	}
}
