package snapshot

import "time"

// ECRDefaultKeyAlias is the AWS managed key ECR encrypts a KMS repository
// with when no key is named.
const ECRDefaultKeyAlias = "alias/aws/ecr"

// ECRRepositoryType is the ASFF resource type of an ECR repository.
const ECRRepositoryType = "AwsEcrRepository"

// ECR encryption types, as DescribeRepositories spells them.
const (
	// ECRAES256 is server-side encryption with Amazon S3 managed keys: no
	// KMS key at all.
	ECRAES256 = "AES256"
	// ECRKMS and ECRKMSDSSE (dual-layer) encrypt with a KMS key: the one
	// named in KMSKey, else the AWS managed key alias/aws/ecr.
	ECRKMS     = "KMS"
	ECRKMSDSSE = "KMS_DSSE"
)

// ECRData is the private ECR repositories of one region's registry, from
// DescribeRepositories (which carries each one's encryption configuration,
// so no per-repository call is made). A failed listing leaves it empty, with
// the error recorded in Snapshot.Errors.
type ECRData struct {
	Repositories []*ECRRepository
}

// ECRRepository is one repository.
type ECRRepository struct {
	ARN        string
	Name       string
	URI        string
	RegistryID string
	CreatedAt  time.Time

	ImageTagMutability string
	ScanOnPush         bool

	// EncryptionType is AES256, KMS or KMS_DSSE; empty when the response
	// carried no encryption configuration, so the encryption is unknown.
	EncryptionType string
	// KMSKey is the key reference of a KMS or KMS_DSSE repository as ECR
	// reported it (AWS reports the key ARN, also for the AWS managed key);
	// empty means the AWS managed key.
	KMSKey string
}

// UsesKMS reports a repository encrypted with a KMS key.
func (r *ECRRepository) UsesKMS() bool {
	return r.EncryptionType == ECRKMS || r.EncryptionType == ECRKMSDSSE
}
