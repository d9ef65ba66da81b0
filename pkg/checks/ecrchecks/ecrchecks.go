// Package ecrchecks holds the check on the encryption at rest of ECR
// repositories. It asks the shared question of pkg/checks/cmk (encrypted,
// and with a customer managed key?) after one ECR-specific step: a
// repository on AES256 is encrypted, but with Amazon S3 managed keys, not
// with any KMS key, so there is no key to judge.
package ecrchecks

import (
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/cmk"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Checks are this package's checks, in registry order.
func Checks() []check.Check { return []check.Check{RepositoryCMK} }

// RepositoryCMKID is ecr.repository-cmk's ID, a public contract.
const RepositoryCMKID = "ecr.repository-cmk"

// RepositoryCMK is ecr.repository-cmk (Security Hub ECR.5, AWS Config
// ecr-repository-cmk-encryption-enabled).
var RepositoryCMK = check.Check{
	ID:    RepositoryCMKID,
	Title: "ECR repositories are encrypted at rest with a customer managed KMS key",
	Description: "A private ECR repository should be encrypted with a customer managed KMS key (encryption type KMS or " +
		"KMS_DSSE). A repository on AES256 (Amazon S3 managed keys) or on the AWS managed key aws/ecr fails with MEDIUM " +
		"severity: its images are encrypted, but under a key the account cannot restrict with its own key policy, audit " +
		"per use, or disable in an incident.",
	Rule: "a private ECR repository is encrypted with a customer managed key (encryption type `KMS` or " +
		"`KMS_DSSE`): `AES256` (Amazon S3 managed keys, no KMS key) FAILED (MEDIUM), the AWS managed " +
		"key `aws/ecr` (KMS with no key named) FAILED (MEDIUM). Read from `DescribeRepositories` " +
		"alone.",
	Severity:     check.Medium,
	ResourceType: snapshot.ECRRepositoryType,
	Types: []string{
		"Software and Configuration Checks/AWS Security Best Practices",
		"Effects/Data Exposure",
	},
	Remediation: "A repository's encryption cannot be changed after it is created. Create a new repository with a " +
		"customer managed key (aws ecr create-repository --repository-name <name> --encryption-configuration " +
		"encryptionType=KMS,kmsKey=<key-arn>), push the images to it, point workloads at it and delete the old repository.",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html",
	SecurityHubControls: []string{"ECR.5"},
	RelatedRequirements: []string{
		"NIST.800-53.r5 SC-12(2)", "NIST.800-53.r5 SC-13", "NIST.800-53.r5 SC-28", "NIST.800-53.r5 SC-28(1)",
		"NIST.800-53.r5 CM-3(6)", "NIST.800-53.r5 SC-7(10)", "NIST.800-53.r5 CA-9(1)", "NIST.800-53.r5 SI-7(6)",
		"NIST.800-53.r5 AU-9",
	},
	Services: []snapshot.Service{snapshot.ECR, snapshot.KMS, snapshot.KMSReferenced},
	Stream:   evaluateRepositories,
}

func evaluateRepositories(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	repos := append([]*snapshot.ECRRepository(nil), s.ECR.Repositories...)
	sort.Slice(repos, func(i, j int) bool { return repos[i].ARN < repos[j].ARN })
	for _, repo := range repos {
		v := Judge(s, repo)
		emit(check.Result{
			CheckID: RepositoryCMKID, ResourceARN: repo.ARN, ResourceName: repo.Name, Region: s.Region,
			Status: v.Status, Severity: v.Severity, Reason: v.Reason,
			Details: &check.ResourceDetails{AwsEcrRepository: RepositoryDetails(repo)},
		})
	}
}

// Judge is cmk.Judge for a repository: AES256 is encrypted without any KMS
// key, so it fails before there is a key to resolve; KMS and KMS_DSSE are
// judged by their key (none named: the AWS managed key aws/ecr).
func Judge(s *snapshot.Snapshot, repo *snapshot.ECRRepository) cmk.Verdict {
	switch {
	case repo.EncryptionType == snapshot.ECRAES256:
		return cmk.Verdict{
			Status: check.Failed, Severity: check.Medium,
			Reason: "encrypted with AES256 (Amazon S3 managed keys), not with a KMS key: no customer managed key protects its images",
		}
	case repo.UsesKMS():
		return cmk.Judge(s, true, repo.KMSKey, snapshot.ECRDefaultKeyAlias)
	case repo.EncryptionType == "":
		return cmk.Verdict{Status: check.NotAvailable, Reason: "DescribeRepositories reported no encryption configuration"}
	}
	return cmk.Verdict{Status: check.NotAvailable, Reason: "unrecognised encryption type " + repo.EncryptionType}
}

// RepositoryDetails is the ASFF AwsEcrRepository details object. ASFF has no
// field for the encryption configuration: the finding's reason names it.
func RepositoryDetails(repo *snapshot.ECRRepository) *shtypes.AwsEcrRepositoryDetails {
	d := &shtypes.AwsEcrRepositoryDetails{
		Arn:                        aws.String(repo.ARN),
		RepositoryName:             aws.String(repo.Name),
		ImageScanningConfiguration: &shtypes.AwsEcrRepositoryImageScanningConfigurationDetails{ScanOnPush: aws.Bool(repo.ScanOnPush)},
	}
	if repo.ImageTagMutability != "" {
		d.ImageTagMutability = aws.String(repo.ImageTagMutability)
	}
	return d
}
