package ebschecks

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const (
	account   = "111122223333"
	region    = "eu-west-1"
	keyPrefix = "arn:aws:kms:eu-west-1:111122223333:key/"
	cmkID     = "1234abcd-12ab-34cd-56ef-1234567890ab"
	awsKeyID  = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" // the aws/ebs key, as ListKeys + ListAliases see it
	goneID    = "0987dcba-09fe-87dc-65ba-ab0987654321"
	// Customer managed keys in bad health, for the default key.
	disabledID = "22222222-2222-2222-2222-222222222222"
	pendingID  = "33333333-3333-3333-3333-333333333333"
	unusableID = "44444444-4444-4444-4444-444444444444"
	deletedID  = "55555555-5555-5555-5555-555555555555"
)

// kmsSnapshot holds a customer managed key alias/app and the AWS managed key
// alias/aws/ebs, as the KMS collector leaves them.
func kmsSnapshot() *snapshot.Snapshot {
	s := snapshot.New(account, "aws", region)
	s.KMS.Keys = map[string]*snapshot.KMSKey{
		cmkID:      {ID: cmkID, ARN: keyPrefix + cmkID, Aliases: []string{"alias/app"}, Manager: snapshot.ManagerCustomer, Described: true, State: "Enabled"},
		awsKeyID:   {ID: awsKeyID, ARN: keyPrefix + awsKeyID, Aliases: []string{"alias/aws/ebs"}, Manager: snapshot.ManagerAWS},
		disabledID: {ID: disabledID, ARN: keyPrefix + disabledID, Aliases: []string{"alias/off"}, Manager: snapshot.ManagerCustomer, Described: true, State: "Disabled"},
		pendingID:  {ID: pendingID, ARN: keyPrefix + pendingID, Manager: snapshot.ManagerCustomer, Described: true, State: "PendingDeletion"},
		unusableID: {ID: unusableID, ARN: keyPrefix + unusableID, Manager: snapshot.ManagerCustomer, Described: true, State: "PendingImport"},
	}
	s.KMS.Aliases = map[string]string{"alias/app": cmkID, "alias/aws/ebs": awsKeyID, "alias/off": disabledID}
	// The account's own key, gone (DescribeKey by reference said NotFound).
	s.KMS.Referenced = map[string]*snapshot.KMSKey{keyPrefix + deletedID: {NotFound: true, DescribeReason: "DescribeKey failed: NotFoundException: gone"}}
	return s
}

func volume(id string, encrypted snapshot.Fact[bool], key string) *snapshot.EBSVolume {
	return &snapshot.EBSVolume{
		ID: id, ARN: "arn:aws:ec2:eu-west-1:111122223333:volume/" + id, State: "in-use", VolumeType: "gp3",
		SizeGiB: 8, Encrypted: encrypted, KMSKeyID: key,
	}
}

var (
	yes = snapshot.KnownFact(true)
	no  = snapshot.KnownFact(false)
)

func TestVolumeCMK(t *testing.T) {
	tests := []struct {
		name     string
		vol      *snapshot.EBSVolume
		status   check.Status // "": not judged
		severity check.Severity
		reason   string
	}{
		{"customer managed key", volume("vol-1", yes, keyPrefix+cmkID), check.Passed, "", "encrypted with customer managed key alias/app"},
		{"unencrypted", volume("vol-1", no, ""), check.Failed, check.High, "not encrypted"},
		{"aws/ebs by key ARN", volume("vol-1", yes, keyPrefix+awsKeyID), check.Failed, check.Medium, "encrypted with the AWS managed key alias/aws/ebs, not a customer managed key"},
		{"encrypted, no key reported", volume("vol-1", yes, ""), check.Failed, check.Medium, "encrypted with the AWS managed key alias/aws/ebs, not a customer managed key"},
		{"cross-account key", volume("vol-1", yes, "arn:aws:kms:eu-west-1:444455556666:key/"+cmkID), check.Passed, "", "encrypted with customer managed key arn:aws:kms:eu-west-1:444455556666:key/" + cmkID},
		{"key not described", volume("vol-1", yes, keyPrefix+goneID), check.NotAvailable, "", `key "` + keyPrefix + goneID + `" could not be described`},
		{"encryption not reported", volume("vol-1", snapshot.UnknownFact[bool]("DescribeVolumes did not report whether the volume is encrypted"), ""), check.NotAvailable, "", "DescribeVolumes did not report whether the volume is encrypted"},
		{"being deleted", func() *snapshot.EBSVolume { v := volume("vol-1", no, ""); v.State = "deleting"; return v }(), "", "", ""},
		{"deleted", func() *snapshot.EBSVolume { v := volume("vol-1", no, ""); v.State = "deleted"; return v }(), "", "", ""},
		{"error state still judged", func() *snapshot.EBSVolume { v := volume("vol-1", no, ""); v.State = "error"; return v }(), check.Failed, check.High, "not encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := kmsSnapshot()
			s.EBS.Volumes = []*snapshot.EBSVolume{tt.vol}
			got := VolumeCMK.Results(s, nil)
			if tt.status == "" {
				if len(got) != 0 {
					t.Fatalf("judged a gone volume: %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d results, want 1", len(got))
			}
			r := got[0]
			if r.Status != tt.status || r.Severity != tt.severity || r.Reason != tt.reason {
				t.Errorf("got %s %s %q\nwant %s %s %q", r.Status, r.Severity, r.Reason, tt.status, tt.severity, tt.reason)
			}
			if r.CheckID != "ebs.volume-cmk" || r.ResourceARN != tt.vol.ARN || r.ResourceName != "vol-1" || r.Region != region {
				t.Errorf("result identity: %+v", r)
			}
		})
	}
}

func TestVolumeDetails(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := volume("vol-2", yes, keyPrefix+cmkID)
	v.Name, v.SnapshotID, v.CreateTime = "db-data", "snap-1", created
	v.Attachments = []snapshot.EBSAttachment{{InstanceID: "i-1", Device: "/dev/xvdf", State: "attached", AttachTime: created, DeleteOnTermination: true}}
	s := kmsSnapshot()
	s.EBS.Volumes = []*snapshot.EBSVolume{volume("vol-3", no, ""), v}
	got := VolumeCMK.Results(s, nil)
	if len(got) != 2 || got[0].ResourceName != "db-data" || got[1].ResourceName != "vol-3" {
		t.Fatalf("results must be sorted by ARN and named by the Name tag: %+v", got)
	}
	d := got[0].Details.AwsEc2Volume
	if d == nil || aws.ToString(d.VolumeId) != "vol-2" || !aws.ToBool(d.Encrypted) || aws.ToString(d.KmsKeyId) != keyPrefix+cmkID ||
		aws.ToInt32(d.Size) != 8 || aws.ToString(d.Status) != "in-use" || aws.ToString(d.VolumeType) != "gp3" ||
		aws.ToString(d.SnapshotId) != "snap-1" || aws.ToString(d.CreateTime) != "2026-01-02T03:04:05.000Z" ||
		aws.ToString(d.DeviceName) != "/dev/xvdf" || len(d.Attachments) != 1 || aws.ToString(d.Attachments[0].InstanceId) != "i-1" ||
		!aws.ToBool(d.Attachments[0].DeleteOnTermination) || aws.ToString(d.Attachments[0].AttachTime) != "2026-01-02T03:04:05.000Z" {
		t.Errorf("details: %+v", d)
	}
	if got[1].Details.AwsEc2Volume.KmsKeyId != nil {
		t.Error("an unencrypted volume has no key in its details")
	}
}

func TestDefaultEncryption(t *testing.T) {
	denied := func(op string) string {
		return op + " failed: UnauthorizedOperation: You are not authorized to perform this operation."
	}
	tests := []struct {
		name     string
		on       snapshot.Fact[bool]
		key      snapshot.Fact[string]
		status   check.Status
		severity check.Severity
		reason   string
	}{
		{"on with customer managed key ARN", yes, snapshot.KnownFact(keyPrefix + cmkID), check.Passed, "", "EBS encryption by default is on, with customer managed key alias/app as the default key"},
		{"on with customer managed alias", yes, snapshot.KnownFact("alias/app"), check.Passed, "", "EBS encryption by default is on, with customer managed key alias/app as the default key"},
		// GetEbsDefaultKmsKeyId's answer while the default key was never changed.
		{"on with aws/ebs, never changed", yes, snapshot.KnownFact("alias/aws/ebs"), check.Failed, check.Low, "EBS encryption by default is on, but the default key is the AWS managed key alias/aws/ebs, not a customer managed key"},
		{"on with aws/ebs by key ARN", yes, snapshot.KnownFact(keyPrefix + awsKeyID), check.Failed, check.Low, "EBS encryption by default is on, but the default key is the AWS managed key alias/aws/ebs, not a customer managed key"},
		{"on, empty key answer", yes, snapshot.KnownFact(""), check.Failed, check.Low, "EBS encryption by default is on, but the default key is the AWS managed key alias/aws/ebs, not a customer managed key"},
		{"off", no, snapshot.KnownFact(keyPrefix + cmkID), check.Failed, check.Medium, "EBS encryption by default is off: new volumes are unencrypted unless each request asks for encryption"},
		{"off, key denied: still off", no, snapshot.UnknownFact[string](denied("GetEbsDefaultKmsKeyId")), check.Failed, check.Medium, "EBS encryption by default is off: new volumes are unencrypted unless each request asks for encryption"},
		{"setting denied", snapshot.UnknownFact[bool](denied("GetEbsEncryptionByDefault")), snapshot.KnownFact(keyPrefix + cmkID), check.NotAvailable, "", denied("GetEbsEncryptionByDefault")},
		{"both denied", snapshot.UnknownFact[bool](denied("GetEbsEncryptionByDefault")), snapshot.UnknownFact[string](denied("GetEbsDefaultKmsKeyId")), check.NotAvailable, "", denied("GetEbsEncryptionByDefault")},
		{"on, key denied", yes, snapshot.UnknownFact[string](denied("GetEbsDefaultKmsKeyId")), check.NotAvailable, "", "EBS encryption by default is on, but the default key is unknown: " + denied("GetEbsDefaultKmsKeyId")},
		{"on, key not described", yes, snapshot.KnownFact(keyPrefix + goneID), check.NotAvailable, "", `EBS encryption by default is on; default key: key "` + keyPrefix + goneID + `" could not be described`},
		// A default key that cannot encrypt: new volumes encrypted by
		// default cannot be created.
		{"on, default key disabled", yes, snapshot.KnownFact(keyPrefix + disabledID), check.Failed, check.High,
			"EBS encryption by default is on, but the default key alias/off is disabled: new volumes encrypted by default cannot be created"},
		{"on, default key pending deletion", yes, snapshot.KnownFact(keyPrefix + pendingID), check.Failed, check.High,
			"EBS encryption by default is on, but the default key " + pendingID + " is pending deletion: new volumes encrypted by default cannot be created"},
		{"on, default key unusable", yes, snapshot.KnownFact(keyPrefix + unusableID), check.Failed, check.High,
			"EBS encryption by default is on, but the default key " + unusableID + " is unusable: new volumes encrypted by default cannot be created"},
		{"on, default key deleted", yes, snapshot.KnownFact(keyPrefix + deletedID), check.Failed, check.High,
			"EBS encryption by default is on, but the default key " + keyPrefix + deletedID + " is deleted: new volumes encrypted by default cannot be created"},
		{"off, default key disabled: off is the finding", no, snapshot.KnownFact(keyPrefix + disabledID), check.Failed, check.Medium,
			"EBS encryption by default is off: new volumes are unencrypted unless each request asks for encryption"},
		// A customer managed key whose health is unknown: the CMK question
		// is answered, the health is not invented.
		{"on, cross-account key of unknown health", yes, snapshot.KnownFact("arn:aws:kms:eu-west-1:444455556666:key/" + cmkID), check.Passed, "",
			"EBS encryption by default is on, with customer managed key arn:aws:kms:eu-west-1:444455556666:key/" + cmkID + ` as the default key; its health could not be read: key "arn:aws:kms:eu-west-1:444455556666:key/` + cmkID + `" could not be described`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := kmsSnapshot()
			s.EBS.Defaults = &snapshot.EBSDefaults{EncryptionByDefault: tt.on, DefaultKMSKey: tt.key}
			got := DefaultEncryption.Results(s, nil)
			if len(got) != 1 {
				t.Fatalf("%d results, want 1", len(got))
			}
			r := got[0]
			if r.Status != tt.status || r.Severity != tt.severity || r.Reason != tt.reason {
				t.Errorf("got %s %s %q\nwant %s %s %q", r.Status, r.Severity, r.Reason, tt.status, tt.severity, tt.reason)
			}
			if r.CheckID != "ebs.default-encryption" || r.ResourceARN != "AWS::::Account:111122223333" || r.Region != region {
				t.Errorf("result identity: %+v", r)
			}
		})
	}
}

func TestDefaultEncryptionDetails(t *testing.T) {
	s := kmsSnapshot()
	s.EBS.Defaults = &snapshot.EBSDefaults{EncryptionByDefault: yes, DefaultKMSKey: snapshot.KnownFact("alias/aws/ebs")}
	d := DefaultEncryption.Results(s, nil)[0].Details
	if d == nil || d.Other["EbsEncryptionByDefault"] != "true" || d.Other["EbsDefaultKmsKeyId"] != "alias/aws/ebs" {
		t.Errorf("details: %+v", d)
	}
	s.EBS.Defaults = &snapshot.EBSDefaults{EncryptionByDefault: snapshot.UnknownFact[bool]("x"), DefaultKMSKey: snapshot.UnknownFact[string]("y")}
	if d := DefaultEncryption.Results(s, nil)[0].Details; d != nil {
		t.Errorf("nothing known, yet details: %+v", d)
	}
}

// TestNotReadNoResults: a run scoped to named volumes does not read the
// setting, and must not report on it; an empty region has no volume results.
func TestNotReadNoResults(t *testing.T) {
	s := kmsSnapshot()
	for _, c := range Checks() {
		if got := c.Results(s, nil); len(got) != 0 {
			t.Errorf("%s: %d results on an unread region", c.ID, len(got))
		}
	}
}

func TestMetadata(t *testing.T) {
	for _, c := range Checks() {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	}
}

// TestVolumeResultsCarryTags: ebs.volume-cmk hands each volume's tags (read
// with DescribeVolumes) to its result, whatever the verdict; the account's
// encryption-by-default finding is about no taggable resource and has none.
func TestVolumeResultsCarryTags(t *testing.T) {
	s := kmsSnapshot()
	tagged := volume("vol-a", no, "")
	tagged.Tags = snapshot.TagsOf(map[string]string{"Name": "scratch", "posture-auditor:exempt": "ebs.volume-cmk"})
	unknown := volume("vol-b", snapshot.UnknownFact[bool]("DescribeVolumes did not report whether the volume is encrypted"), "")
	unknown.Tags = snapshot.TagsOf(map[string]string{"team": "ops"})
	bare := volume("vol-c", yes, keyPrefix+cmkID)
	s.EBS.Volumes = []*snapshot.EBSVolume{bare, unknown, tagged}
	s.EBS.Defaults = &snapshot.EBSDefaults{EncryptionByDefault: yes, DefaultKMSKey: snapshot.KnownFact("alias/aws/ebs")}

	got := VolumeCMK.Results(s, nil)
	if len(got) != 3 {
		t.Fatalf("%d results", len(got))
	}
	for _, r := range got {
		want := map[string]*snapshot.EBSVolume{tagged.ARN: tagged, unknown.ARN: unknown, bare.ARN: bare}[r.ResourceARN].Tags
		if !slices.Equal(r.Tags, want) || (want == nil) != (r.Tags == nil) {
			t.Errorf("%s (%s): tags %v, want %v", r.ResourceARN, r.Status, r.Tags, want)
		}
	}
	for _, r := range DefaultEncryption.Results(s, nil) {
		if r.Tags != nil {
			t.Errorf("account setting result has tags: %v", r.Tags)
		}
	}
}
