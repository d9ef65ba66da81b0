package snapshot

import "time"

// KeyManager says who manages a KMS key.
type KeyManager string

const (
	ManagerCustomer KeyManager = "CUSTOMER"
	ManagerAWS      KeyManager = "AWS"
)

// KMSData is the KMS keys of one region.
type KMSData struct {
	// Keys by key ID: the region's own keys, from ListKeys.
	Keys map[string]*KMSKey
	// Aliases maps alias name (alias/...) to target key ID.
	Aliases map[string]string
	// Referenced holds keys that resources point at but ListKeys did not
	// return (another account or region, or a single-resource run), by the
	// reference as written; each was described once.
	Referenced map[string]*KMSKey
}

// KMSKey is one KMS key as the collector saw it. Attributes that come from
// DescribeKey are only meaningful when Described is true.
type KMSKey struct {
	ID      string
	ARN     string
	Aliases []string
	// Manager is known from an alias/aws/* alias without any describe call,
	// or from DescribeKey.
	Manager KeyManager

	// Described is false when DescribeKey failed (DescribeReason says why) or
	// was skipped because the key is AWS managed.
	Described      bool
	DescribeReason string
	// NotFound: DescribeKey answered that the account's own key does not
	// exist (it was deleted); set only for keys described by reference.
	NotFound bool

	State            string // Enabled, Disabled, PendingDeletion, ...
	Spec             string // SYMMETRIC_DEFAULT, RSA_2048, HMAC_256, ...
	Usage            string // ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC
	Origin           string // AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE
	CustomKeyStoreID string
	CreationDate     time.Time
	DeletionDate     *time.Time
	Description      string

	// Rotation is only collected for keys where automatic rotation applies
	// (see RotationApplies); otherwise it stays unknown with a reason.
	Rotation Fact[KeyRotation]
}

// KeyRotation is the answer of GetKeyRotationStatus.
type KeyRotation struct {
	Enabled    bool
	PeriodDays int
}

// PendingDeletion reports a key scheduled for deletion.
func (k *KMSKey) PendingDeletion() bool {
	return k.State == "PendingDeletion" || k.State == "PendingReplicaDeletion"
}

// RotationApplies reports whether automatic rotation can be enabled on the
// key: customer managed, symmetric encryption, key material from KMS, not in
// a custom key store. Asymmetric, HMAC, imported and custom-store keys cannot
// rotate automatically, so judging them would be a false finding.
func (k *KMSKey) RotationApplies() bool {
	return k.Described &&
		k.Manager == ManagerCustomer &&
		k.Spec == "SYMMETRIC_DEFAULT" &&
		k.Usage == "ENCRYPT_DECRYPT" &&
		k.Origin == "AWS_KMS" &&
		k.CustomKeyStoreID == ""
}

// Name is the key's first alias, or its ID.
func (k *KMSKey) Name() string {
	if len(k.Aliases) > 0 {
		return k.Aliases[0]
	}
	return k.ID
}
