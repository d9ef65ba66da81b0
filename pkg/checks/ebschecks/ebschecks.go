// Package ebschecks holds the checks on EBS encryption at rest: every
// volume, and the region's encryption-by-default setting. Both ask the
// shared question of pkg/checks/cmk (encrypted, and with a customer managed
// key?), which is stricter than Security Hub's EC2.3 and EC2.7: they accept
// the AWS managed key aws/ebs, a key the account cannot restrict with its
// own key policy, share across accounts with a snapshot, or disable in an
// incident.
package ebschecks

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/cmk"
	"github.com/posture-auditor/posture-auditor/pkg/keyref"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Checks are this package's checks, in registry order.
func Checks() []check.Check { return []check.Check{VolumeCMK, DefaultEncryption} }

// Check IDs, a public contract.
const (
	VolumeCMKID         = "ebs.volume-cmk"
	DefaultEncryptionID = "ebs.default-encryption"
)

var findingTypes = []string{
	"Software and Configuration Checks/AWS Security Best Practices",
	"Effects/Data Exposure",
}

// nist are the NIST 800-53 references Security Hub gives EC2.3 and EC2.7,
// plus SC-12(2) for keys the organisation manages.
var nist = []string{
	"NIST.800-53.r5 CA-9(1)", "NIST.800-53.r5 CM-3(6)", "NIST.800-53.r5 SC-12(2)", "NIST.800-53.r5 SC-13",
	"NIST.800-53.r5 SC-28", "NIST.800-53.r5 SC-28(1)", "NIST.800-53.r5 SC-7(10)", "NIST.800-53.r5 SI-7(6)",
}

// VolumeCMK is ebs.volume-cmk (Security Hub EC2.3, made stricter: every
// volume, attached or not, and a customer managed key).
var VolumeCMK = check.Check{
	ID:    VolumeCMKID,
	Title: "EBS volumes are encrypted with a customer managed KMS key",
	Description: "Every EBS volume, attached or not, should be encrypted with a customer managed KMS key; its snapshots " +
		"and the volumes made from them inherit that key. An unencrypted volume fails with HIGH severity; a volume " +
		"encrypted with the AWS managed key aws/ebs fails with MEDIUM severity. Volumes being deleted are not judged.",
	Rule: "every EBS volume, attached or not, is encrypted with a customer managed key: unencrypted FAILED " +
		"(HIGH), `aws/ebs` FAILED (MEDIUM). Volumes being deleted are not judged.",
	Severity:     check.High,
	ResourceType: snapshot.EBSVolumeType,
	Types:        findingTypes,
	Remediation: "Encryption cannot be changed on an existing volume. Snapshot it, copy the snapshot with a customer " +
		"managed key (aws ec2 copy-snapshot --encrypted --kms-key-id <key>), create a volume from the copy, swap it in " +
		"for the old one and delete the old volume. Turn on encryption by default with a customer managed key so new " +
		"volumes start that way.",
	RemediationURL:      "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html",
	SecurityHubControls: []string{"EC2.3"},
	RelatedRequirements: nist,
	Services:            []snapshot.Service{snapshot.EBS, snapshot.KMS, snapshot.KMSReferenced},
	Stream:              evaluateVolumes,
}

func evaluateVolumes(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	vols := append([]*snapshot.EBSVolume(nil), s.EBS.Volumes...)
	sort.Slice(vols, func(i, j int) bool { return vols[i].ARN < vols[j].ARN })
	for _, v := range vols {
		if v.Gone() {
			continue
		}
		r := check.Result{
			CheckID: VolumeCMKID, ResourceARN: v.ARN, ResourceName: v.DisplayName(), Region: s.Region,
			Details: &check.ResourceDetails{AwsEc2Volume: VolumeDetails(v)}, Tags: v.Tags,
		}
		if !v.Encrypted.Known {
			r.Status, r.Reason = check.NotAvailable, v.Encrypted.Reason
		} else {
			verdict := cmk.Judge(s, v.Encrypted.Value, v.KMSKeyID, snapshot.EBSDefaultKeyAlias)
			r.Status, r.Severity, r.Reason = verdict.Status, verdict.Severity, verdict.Reason
		}
		emit(r)
	}
}

// VolumeDetails is the ASFF AwsEc2Volume details object.
func VolumeDetails(v *snapshot.EBSVolume) *shtypes.AwsEc2VolumeDetails {
	d := &shtypes.AwsEc2VolumeDetails{
		VolumeId: aws.String(v.ID),
		Size:     aws.Int32(v.SizeGiB),
		Status:   aws.String(v.State),
	}
	if v.Encrypted.Known {
		d.Encrypted = aws.Bool(v.Encrypted.Value)
	}
	if v.KMSKeyID != "" {
		d.KmsKeyId = aws.String(v.KMSKeyID)
	}
	if v.VolumeType != "" {
		d.VolumeType = aws.String(v.VolumeType)
	}
	if v.SnapshotID != "" {
		d.SnapshotId = aws.String(v.SnapshotID)
	}
	if !v.CreateTime.IsZero() {
		d.CreateTime = aws.String(timestamp(v.CreateTime))
	}
	for _, a := range v.Attachments {
		att := shtypes.AwsEc2VolumeAttachment{
			InstanceId:          aws.String(a.InstanceID),
			DeleteOnTermination: aws.Bool(a.DeleteOnTermination),
			Status:              aws.String(a.State),
		}
		if !a.AttachTime.IsZero() {
			att.AttachTime = aws.String(timestamp(a.AttachTime))
		}
		d.Attachments = append(d.Attachments, att)
		if d.DeviceName == nil && a.Device != "" {
			d.DeviceName = aws.String(a.Device)
		}
	}
	return d
}

// DefaultEncryption is ebs.default-encryption (Security Hub EC2.7, made
// stricter: the default key must be customer managed too).
var DefaultEncryption = check.Check{
	ID:    DefaultEncryptionID,
	Title: "EBS encryption by default is on in every audited region, with a customer managed KMS key",
	Description: "With encryption by default on, every new EBS volume and snapshot copy in the region is encrypted, with " +
		"the region's default KMS key unless the request names another. The setting is per region. Off fails with " +
		"MEDIUM severity. On with the AWS managed key aws/ebs as the default key fails with LOW severity: new volumes " +
		"are encrypted, and each one that ends up on aws/ebs is reported by ebs.volume-cmk itself. On with a default " +
		"key that is disabled, pending deletion, deleted or otherwise unusable fails with HIGH severity: new volumes " +
		"encrypted by default cannot be created. A customer managed default key whose state could not be read passes, " +
		"and the reason says so.",
	Rule: "per region, EBS encryption by default is on and the default key is customer managed: off FAILED " +
		"(MEDIUM), on with `aws/ebs` FAILED (LOW: new volumes are encrypted, and each one on " +
		"`aws/ebs` is reported by `ebs.volume-cmk`); on with a default key that is disabled, pending " +
		"deletion, deleted or otherwise unusable FAILED (HIGH: new volumes encrypted by default " +
		"cannot be created); a customer managed default key whose health could not be read PASSES, " +
		"with that said in the reason. The resource is the account (`AwsAccount`, " +
		"`AWS::::Account:<id>`, as Security Hub names it); the finding `Id` carries the region.",
	Severity:     check.Medium,
	ResourceType: "AwsAccount",
	Types:        findingTypes,
	Remediation: "In each region: aws ec2 enable-ebs-encryption-by-default, then aws ec2 modify-ebs-default-kms-key-id " +
		"--kms-key-id <customer-managed-key-arn>. Existing volumes are not changed; re-encrypt them as ebs.volume-cmk says. " +
		"For an unusable default key, enable it or cancel its deletion (aws kms cancel-key-deletion), or point the " +
		"default at a healthy key.",
	RemediationURL:      "https://docs.aws.amazon.com/ebs/latest/userguide/encryption-by-default.html",
	SecurityHubControls: []string{"EC2.7"},
	RelatedRequirements: append([]string{
		"CIS AWS Foundations Benchmark v5.0.0/5.1.1", "CIS AWS Foundations Benchmark v3.0.0/2.2.1",
		"CIS AWS Foundations Benchmark v1.4.0/2.2.1",
	}, nist...),
	Services: []snapshot.Service{snapshot.EBS, snapshot.KMS, snapshot.KMSReferenced},
	Evaluate: evaluateDefaults,
}

// AccountResourceID is how Security Hub's own control findings name an
// account (Resources[].Id of type AwsAccount). It carries no region: the
// finding Id does (asff.FindingID), so each region has its own finding.
func AccountResourceID(account string) string { return "AWS::::Account:" + account }

func evaluateDefaults(s *snapshot.Snapshot, _ check.Params) []check.Result {
	d := s.EBS.Defaults
	if d == nil {
		return nil // not read in this run (scoped to named volumes)
	}
	r := check.Result{
		CheckID: DefaultEncryptionID, ResourceARN: AccountResourceID(s.Account),
		ResourceName: "EBS encryption by default", Region: s.Region,
	}
	if other := defaultsDetails(d); len(other) > 0 {
		r.Details = &check.ResourceDetails{Other: other}
	}
	switch {
	case !d.EncryptionByDefault.Known:
		r.Status, r.Reason = check.NotAvailable, d.EncryptionByDefault.Reason
	case !d.EncryptionByDefault.Value:
		// The verdict stands whatever the default key is, so an unreadable
		// key does not hide it.
		r.Status, r.Severity = check.Failed, check.Medium
		r.Reason = "EBS encryption by default is off: new volumes are unencrypted unless each request asks for encryption"
	case !d.DefaultKMSKey.Known:
		r.Status, r.Reason = check.NotAvailable, "EBS encryption by default is on, but the default key is unknown: "+d.DefaultKMSKey.Reason
	default:
		v := cmk.Judge(s, true, d.DefaultKMSKey.Value, snapshot.EBSDefaultKeyAlias)
		// Read-only use of the key: the default key protects no data, so it
		// is no key use (kms.key-in-use-unhealthy stays about data).
		k := v.Key
		name := k.Name()
		if name == "" {
			name = d.DefaultKMSKey.Value // a deleted key's record has no ID to name it by
		}
		switch {
		case k.Health.Unhealthy():
			r.Status, r.Severity = check.Failed, check.High
			r.Reason = "EBS encryption by default is on, but the default key " + name + " is " + health(k.Health) +
				": new volumes encrypted by default cannot be created"
		case v.Status == check.Passed:
			r.Status = check.Passed
			r.Reason = "EBS encryption by default is on, with customer managed key " + name + " as the default key"
			if k.Health != keyref.Enabled {
				r.Reason += "; its health could not be read"
				if k.Reason != "" {
					r.Reason += ": " + k.Reason
				}
			}
		case v.Status == check.Failed:
			r.Status, r.Severity = check.Failed, check.Low
			r.Reason = "EBS encryption by default is on, but the default key is the AWS managed key " + v.Key.Name() +
				", not a customer managed key"
		default:
			r.Status, r.Reason = check.NotAvailable, "EBS encryption by default is on; default key: "+v.Reason
		}
	}
	return []check.Result{r}
}

func health(h keyref.Health) string {
	switch h {
	case keyref.PendingDeletion:
		return "pending deletion"
	case keyref.Unavailable:
		return "unusable"
	}
	return strings.ToLower(string(h))
}

// defaultsDetails names the setting in ASFF's free-form Other details, as
// ASFF has no details type for account settings.
func defaultsDetails(d *snapshot.EBSDefaults) map[string]string {
	m := map[string]string{}
	if d.EncryptionByDefault.Known {
		m["EbsEncryptionByDefault"] = strconv.FormatBool(d.EncryptionByDefault.Value)
	}
	if d.DefaultKMSKey.Known && d.DefaultKMSKey.Value != "" {
		m["EbsDefaultKmsKeyId"] = d.DefaultKMSKey.Value
	}
	return m
}

// timestamp formats t as ASFF date fields want it.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
