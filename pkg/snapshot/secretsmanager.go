package snapshot

import "time"

// SecretsManagerDefaultKeyAlias is the AWS managed key Secrets Manager
// encrypts with when a secret names no key (secrets are always encrypted).
const SecretsManagerDefaultKeyAlias = "alias/aws/secretsmanager"

// SecretType is the ASFF resource type of a secret.
const SecretType = "AwsSecretsManagerSecret"

// SecretsManagerData is what the secretsmanager collector read in one
// region. Everything comes from ListSecrets: its entries carry the rotation,
// access, key and ownership fields, so no secret is described one by one
// and no secret value is ever read. A failed listing leaves Secrets empty,
// with the error recorded in Snapshot.Errors.
type SecretsManagerData struct {
	// CollectedAt is when the listing started. The age and schedule checks
	// measure against it, not the wall clock, so they stay pure and their
	// tests deterministic.
	CollectedAt time.Time
	// Secrets by ARN. Secrets scheduled for deletion are not listed (see
	// secretscollect).
	Secrets map[string]*Secret
}

// Secret is one secret's metadata, as ListSecrets reported it.
type Secret struct {
	ARN         string
	Name        string
	Description string
	// KMSKeyID is the key ARN AWS reports; empty means the AWS managed key
	// aws/secretsmanager.
	KMSKeyID string
	// OwningService names the service that created and manages the secret
	// ("rds" for an RDS managed master password); empty for the customer's
	// own secrets.
	OwningService string
	// PrimaryRegion is set on a replica of a secret from another region.
	PrimaryRegion string

	// RotationEnabled is whether scheduled rotation is on. For a secret an
	// owning service rotates (managed rotation, no Lambda) it reports that
	// service's rotation.
	RotationEnabled   bool
	RotationLambdaARN string
	Rotation          SecretRotationRules

	CreatedDate     time.Time
	LastChangedDate *time.Time
	// LastRotatedDate is when a rotation last completed; nil if the secret
	// never rotated (AWS also omits it once rotation is turned off).
	LastRotatedDate *time.Time
	// LastAccessedDate is day-granular (midnight UTC of the day the value
	// was last retrieved in this region); nil if it never was.
	LastAccessedDate *time.Time
	// DeletedDate is set on a secret scheduled for deletion.
	DeletedDate *time.Time

	// Tags are the secret's tags, from its ListSecrets entry (AWS's own,
	// such as aws:secretsmanager:owningService, included); nil when it has
	// none.
	Tags Tags
}

// SecretRotationRules is RotationRules as reported. ListSecrets fills
// AutomaticallyAfterDays from the schedule after each successful rotation,
// so a secret with a ScheduleExpression may carry both.
type SecretRotationRules struct {
	// AutomaticallyAfterDays is 0 when absent.
	AutomaticallyAfterDays int64
	// ScheduleExpression is a rate() or cron() expression, UTC.
	ScheduleExpression string
	// Duration is the rotation window length ("3h"); empty means the
	// default window.
	Duration string
}

// Owned reports a secret created and managed by another AWS service.
func (s *Secret) Owned() bool { return s.OwningService != "" }
