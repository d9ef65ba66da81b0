// Package ebscollect reads the EBS posture of one region: every volume
// (DescribeVolumes, which carries encryption and key) and the account's
// encryption-by-default setting (GetEbsEncryptionByDefault and
// GetEbsDefaultKmsKeyId).
package ebscollect

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// API is the part of the EC2 client the collector uses; each method is one
// IAM action in template.yaml.
type API interface {
	DescribeVolumes(context.Context, *ec2.DescribeVolumesInput, ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	GetEbsEncryptionByDefault(context.Context, *ec2.GetEbsEncryptionByDefaultInput, ...func(*ec2.Options)) (*ec2.GetEbsEncryptionByDefaultOutput, error)
	GetEbsDefaultKmsKeyId(context.Context, *ec2.GetEbsDefaultKmsKeyIdInput, ...func(*ec2.Options)) (*ec2.GetEbsDefaultKmsKeyIdOutput, error)
}

// Collector is the EBS collector.
type Collector struct {
	// NewAPI builds the client; nil means ec2.NewFromConfig.
	NewAPI func(aws.Config) API
}

// Service implements collect.Collector.
func (Collector) Service() snapshot.Service { return snapshot.EBS }

const (
	// pageSize is DescribeVolumes' largest page. Paging also raises the
	// call's quota (20/s with MaxResults, 10/s without) and keeps each
	// answer small in accounts with thousands of volumes.
	pageSize = 500
	// idsPerCall bounds the VolumeIds of one scoped call.
	idsPerCall = 100
	// notFound is the error of a named volume that does not exist; it fails
	// the whole call, whatever the other IDs.
	notFound = "InvalidVolume.NotFound"
)

// Collect implements collect.Collector. A scope names volumes (IDs or
// ARNs): they are described by ID without listing, and the account-level
// setting, which no volume scope asks about, is not read.
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(cfg)
	rec := collect.NewRecorder(snap, snapshot.EBS)
	var volumes []ec2types.Volume
	if scope.All() {
		snap.EBS.Defaults = readDefaults(ctx, api, rec)
		if k := snap.EBS.Defaults.DefaultKMSKey; k.Known {
			// So that the KMS pass describes it when its own listing does
			// not cover it (another account or region): its health decides
			// whether new encrypted volumes can be created.
			snap.AddKeyUse(snapshot.KeyUse{
				Service: snapshot.EBS, ResourceARN: "AWS::::Account:" + snap.Account, ResourceName: "EBS encryption by default",
				ResourceType: "AwsAccount", KeyRef: k.Value, DefaultAlias: snapshot.EBSDefaultKeyAlias, Setting: true,
			})
		}
		listed, err := listAll(ctx, api)
		if err != nil {
			rec.Fail("DescribeVolumes", "", err)
			return
		}
		volumes = listed
	} else {
		volumes = describeNamed(ctx, api, rec, volumeIDs(scope.ResourceIDs))
	}
	for _, v := range volumes {
		vol := fromAPI(snap, v)
		snap.EBS.Volumes = append(snap.EBS.Volumes, vol)
		if vol.Encrypted.Known && vol.Encrypted.Value && !vol.Gone() {
			snap.AddKeyUse(snapshot.KeyUse{
				Service: snapshot.EBS, ResourceARN: vol.ARN, ResourceName: vol.DisplayName(),
				ResourceType: snapshot.EBSVolumeType, KeyRef: vol.KMSKeyID,
				DefaultAlias: snapshot.EBSDefaultKeyAlias,
			})
		}
	}
}

func (c Collector) api(cfg aws.Config) API {
	if c.NewAPI != nil {
		return c.NewAPI(cfg)
	}
	return ec2.NewFromConfig(cfg)
}

// readDefaults reads both halves of the encryption-by-default setting; a
// failed call leaves its half unknown with the reason.
func readDefaults(ctx context.Context, api API, rec *collect.Recorder) *snapshot.EBSDefaults {
	d := &snapshot.EBSDefaults{}
	if out, err := api.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{}); err != nil {
		rec.Fail("GetEbsEncryptionByDefault", "", err)
		d.EncryptionByDefault = snapshot.UnknownFact[bool](collect.Reason("GetEbsEncryptionByDefault", err))
	} else if out.EbsEncryptionByDefault == nil {
		d.EncryptionByDefault = snapshot.UnknownFact[bool](rec.Incomplete("GetEbsEncryptionByDefault", "", "value"))
	} else {
		d.EncryptionByDefault = snapshot.KnownFact(*out.EbsEncryptionByDefault)
	}
	if out, err := api.GetEbsDefaultKmsKeyId(ctx, &ec2.GetEbsDefaultKmsKeyIdInput{}); err != nil {
		rec.Fail("GetEbsDefaultKmsKeyId", "", err)
		d.DefaultKMSKey = snapshot.UnknownFact[string](collect.Reason("GetEbsDefaultKmsKeyId", err))
	} else {
		// AWS answers "alias/aws/ebs" while the default key was never
		// changed; an empty answer means the same.
		d.DefaultKMSKey = snapshot.KnownFact(aws.ToString(out.KmsKeyId))
	}
	return d
}

// listAll pages through every volume of the region, without filters. A page
// that fails fails the listing: a partial list would read as volumes that
// vanished.
func listAll(ctx context.Context, api API) ([]ec2types.Volume, error) {
	var out []ec2types.Volume
	p := ec2.NewDescribeVolumesPaginator(api, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Volumes...)
	}
	return out, nil
}

// describeNamed describes the named volumes, 100 to a call (VolumeIds and
// MaxResults cannot be combined). One missing ID fails its whole call, so
// that call's IDs are then asked for one by one: the others are still read,
// and the missing one is recorded.
func describeNamed(ctx context.Context, api API, rec *collect.Recorder, ids []string) []ec2types.Volume {
	var out []ec2types.Volume
	for start := 0; start < len(ids); start += idsPerCall {
		chunk := ids[start:min(start+idsPerCall, len(ids))]
		got, err := api.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: chunk})
		switch {
		case err == nil:
			out = append(out, got.Volumes...)
		case collect.ErrorCode(err) == notFound && len(chunk) > 1:
			for _, id := range chunk {
				one, err := api.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
				if err != nil {
					rec.Fail("DescribeVolumes", id, err)
					continue
				}
				out = append(out, one.Volumes...)
			}
		default:
			rec.Fail("DescribeVolumes", strings.Join(chunk, ","), err)
		}
	}
	return out
}

// volumeIDs turns volume ARNs (arn:aws:ec2:<region>:<account>:volume/<id>)
// into IDs; anything else is taken as an ID.
func volumeIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if i := strings.LastIndex(id, ":volume/"); i >= 0 {
			id = id[i+len(":volume/"):]
		}
		out = append(out, id)
	}
	return out
}

func fromAPI(snap *snapshot.Snapshot, v ec2types.Volume) *snapshot.EBSVolume {
	vol := &snapshot.EBSVolume{
		ID:               aws.ToString(v.VolumeId),
		ARN:              aws.ToString(v.VolumeArn),
		State:            string(v.State),
		VolumeType:       string(v.VolumeType),
		SizeGiB:          aws.ToInt32(v.Size),
		AvailabilityZone: aws.ToString(v.AvailabilityZone),
		SnapshotID:       aws.ToString(v.SnapshotId),
		CreateTime:       aws.ToTime(v.CreateTime),
		KMSKeyID:         aws.ToString(v.KmsKeyId),
		Encrypted:        snapshot.UnknownFact[bool]("DescribeVolumes did not report whether the volume is encrypted"),
	}
	if vol.ARN == "" {
		vol.ARN = "arn:" + snap.Partition + ":ec2:" + snap.Region + ":" + snap.Account + ":volume/" + vol.ID
	}
	if v.Encrypted != nil {
		vol.Encrypted = snapshot.KnownFact(*v.Encrypted)
	}
	for _, t := range v.Tags {
		if aws.ToString(t.Key) == "Name" {
			vol.Name = aws.ToString(t.Value)
		}
	}
	for _, a := range v.Attachments {
		vol.Attachments = append(vol.Attachments, snapshot.EBSAttachment{
			InstanceID:          aws.ToString(a.InstanceId),
			Device:              aws.ToString(a.Device),
			State:               string(a.State),
			AttachTime:          aws.ToTime(a.AttachTime),
			DeleteOnTermination: aws.ToBool(a.DeleteOnTermination),
		})
	}
	return vol
}
