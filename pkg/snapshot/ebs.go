package snapshot

import "time"

// EBSDefaultKeyAlias is the AWS managed key EBS encrypts with when no key
// is named and the region's default key was never changed.
const EBSDefaultKeyAlias = "alias/aws/ebs"

// EBSVolumeType is the ASFF resource type of an EBS volume.
const EBSVolumeType = "AwsEc2Volume"

// EBSData is what the ebs collector read in one region.
type EBSData struct {
	// Volumes from DescribeVolumes; empty after a failed listing, with the
	// error recorded in Snapshot.Errors.
	Volumes []*EBSVolume
	// Defaults is the region's encryption-by-default setting; nil when the
	// collection did not read it (a run scoped to named volumes), so no
	// finding is made on it.
	Defaults *EBSDefaults
}

// EBSDefaults is the account's EBS encryption-by-default setting in one
// region. Each half comes from its own call and may be unknown alone.
type EBSDefaults struct {
	// EncryptionByDefault is GetEbsEncryptionByDefault's answer.
	EncryptionByDefault Fact[bool]
	// DefaultKMSKey is GetEbsDefaultKmsKeyId's answer: "alias/aws/ebs" while
	// the default key was never changed, else the key ARN.
	DefaultKMSKey Fact[string]
}

// EBSVolume is one volume from DescribeVolumes.
type EBSVolume struct {
	ID  string
	ARN string
	// Name is the volume's Name tag, if any.
	Name             string
	State            string // creating, available, in-use, deleting, deleted, error
	VolumeType       string
	SizeGiB          int32
	AvailabilityZone string
	SnapshotID       string
	CreateTime       time.Time
	Attachments      []EBSAttachment

	// Encrypted is unknown when the response omitted it.
	Encrypted Fact[bool]
	// KMSKeyID is the key as EC2 reported it (a key ARN); empty when the
	// volume is not encrypted.
	KMSKeyID string

	// Tags are the volume's tags (Name included), from DescribeVolumes; nil
	// when it has none.
	Tags Tags
}

// EBSAttachment is one attachment of a volume to an instance.
type EBSAttachment struct {
	InstanceID          string
	Device              string
	State               string
	AttachTime          time.Time
	DeleteOnTermination bool
}

// Gone reports a volume being deleted or already deleted: there is nothing
// left to fix, so it is not judged.
func (v *EBSVolume) Gone() bool { return v.State == "deleting" || v.State == "deleted" }

// DisplayName is the Name tag, or the volume ID.
func (v *EBSVolume) DisplayName() string {
	if v.Name != "" {
		return v.Name
	}
	return v.ID
}
