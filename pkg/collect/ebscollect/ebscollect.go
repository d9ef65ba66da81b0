// Package ebscollect reads the EBS posture of one region: every volume
// (DescribeVolumes, which carries encryption, key and tags) and the account's
// encryption-by-default setting (GetEbsEncryptionByDefault and
// GetEbsDefaultKmsKeyId).
package ebscollect

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
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

// Operations are the IAM actions of every call the collector can make: one
// per method of API, which TestOperationsMatchAPI keeps equal. docs/checks.md
// lists them under each check that reads this service.
var Operations = []string{"ec2:DescribeVolumes", "ec2:GetEbsEncryptionByDefault", "ec2:GetEbsDefaultKmsKeyId"}

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
// ARNs): they are described by ID without listing. The account-level
// setting is read in a full scan, and in a scoped run only when the scope
// asks for AccountSettings (alone, it lists no volume).
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(cfg)
	rec := collect.NewRecorder(snap, snapshot.EBS)
	if scope.All() || scope.AccountSettings {
		readSettings(ctx, api, rec, snap)
	}
	var volumes []*snapshot.EBSVolume
	switch {
	case scope.All():
		listed, err := listAll(ctx, api, snap)
		if err != nil {
			rec.Fail("DescribeVolumes", "", err)
			return
		}
		volumes = listed
	case len(scope.ResourceIDs) > 0:
		described := describeNamed(ctx, api, rec, snap, scope.ResourceIDs)
		in := collect.Interner{}
		for _, v := range described {
			volumes = append(volumes, fromAPI(snap, v, in))
		}
	}
	snap.EBS.Volumes = append(snap.EBS.Volumes, volumes...)
	for _, vol := range volumes {
		if vol.Encrypted.Known && vol.Encrypted.Value && !vol.Gone() {
			snap.AddKeyUse(snapshot.KeyUse{
				Service: snapshot.EBS, ResourceARN: vol.ARN, ResourceName: vol.DisplayName(),
				ResourceType: snapshot.EBSVolumeType, KeyRef: vol.KMSKeyID,
				DefaultAlias: snapshot.EBSDefaultKeyAlias,
			})
		}
	}
}

// readSettings reads the encryption-by-default setting into the snapshot,
// and records its key as a key use.
func readSettings(ctx context.Context, api API, rec *collect.Recorder, snap *snapshot.Snapshot) {
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

// listAll pages through every volume of the region, without filters,
// keeping each page's volumes as the snapshot holds them and dropping the
// page (a large account's raw pages would otherwise be held together). A
// page that fails fails the listing: a partial list would read as volumes
// that vanished.
func listAll(ctx context.Context, api API, snap *snapshot.Snapshot) ([]*snapshot.EBSVolume, error) {
	var out []*snapshot.EBSVolume
	in := collect.Interner{}
	p := ec2.NewDescribeVolumesPaginator(api, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Volumes {
			out = append(out, fromAPI(snap, v, in))
		}
	}
	return out, nil
}

// describeNamed describes the named volumes, 100 to a call (VolumeIds and
// MaxResults cannot be combined), and returns those that exist. One missing
// ID fails its whole call, so that call's IDs are then asked for one by one:
// the others are still read. Each named volume ends in exactly one outcome:
// returned; marked absent (its own call answered InvalidVolume.NotFound, or
// it came back deleting or deleted, which the sweep does not judge either);
// or a recorded error naming it.
func describeNamed(ctx context.Context, api API, rec *collect.Recorder, snap *snapshot.Snapshot, scoped []string) []ec2types.Volume {
	// The scope's spelling of each ID, to mark it absent as it was named.
	named := map[string][]string{}
	var ids []string
	for _, s := range scoped {
		id, here := volumeID(snap, s)
		if !here {
			continue // another region's or account's volume is not read here
		}
		if named[id] == nil {
			ids = append(ids, id)
		}
		named[id] = append(named[id], s)
	}
	absent := func(id string) {
		for _, s := range named[id] {
			snap.MarkAbsent(snapshot.EBS, s)
		}
	}
	var out []ec2types.Volume
	keep := func(got []ec2types.Volume) {
		for _, v := range got {
			if (&snapshot.EBSVolume{State: string(v.State)}).Gone() {
				absent(aws.ToString(v.VolumeId))
				continue
			}
			out = append(out, v)
		}
	}
	describeOne := func(id string) {
		one, err := api.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
		switch {
		case err == nil:
			keep(one.Volumes)
			if !returned(one.Volumes, id) {
				rec.Incomplete("DescribeVolumes", id, "volume")
			}
		case collect.ErrorCode(err) == notFound:
			absent(id)
		default:
			rec.Fail("DescribeVolumes", id, err)
		}
	}
	for start := 0; start < len(ids); start += idsPerCall {
		chunk := ids[start:min(start+idsPerCall, len(ids))]
		if len(chunk) == 1 {
			describeOne(chunk[0])
			continue
		}
		got, err := api.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: chunk})
		switch {
		case err == nil:
			keep(got.Volumes)
			for _, id := range chunk {
				if !returned(got.Volumes, id) {
					rec.Incomplete("DescribeVolumes", id, "volume")
				}
			}
		case collect.ErrorCode(err) == notFound:
			for _, id := range chunk {
				describeOne(id)
			}
		default:
			rec.Fail("DescribeVolumes", strings.Join(chunk, ","), err)
		}
	}
	return out
}

// returned reports whether the answer holds volume id. AWS answers a
// describe by ID with every volume or InvalidVolume.NotFound; an answer
// without one is not taken as "does not exist".
func returned(vols []ec2types.Volume, id string) bool {
	for _, v := range vols {
		if aws.ToString(v.VolumeId) == id {
			return true
		}
	}
	return false
}

// volumeID turns a volume ARN (arn:aws:ec2:<region>:<account>:volume/<id>)
// into its ID; anything else is taken as an ID.
func volumeID(snap *snapshot.Snapshot, id string) (string, bool) {
	if a, err := arn.Parse(id); err == nil && strings.HasPrefix(a.Resource, "volume/") {
		// Described here, another region's volume would answer NotFound
		// and read as gone.
		return strings.TrimPrefix(a.Resource, "volume/"), a.Region == snap.Region && a.AccountID == snap.Account
	}
	return id, true
}

func fromAPI(snap *snapshot.Snapshot, v ec2types.Volume, in collect.Interner) *snapshot.EBSVolume {
	vol := &snapshot.EBSVolume{
		ID:               aws.ToString(v.VolumeId),
		ARN:              aws.ToString(v.VolumeArn),
		State:            in.String(string(v.State)),
		VolumeType:       in.String(string(v.VolumeType)),
		SizeGiB:          aws.ToInt32(v.Size),
		AvailabilityZone: in.String(aws.ToString(v.AvailabilityZone)),
		SnapshotID:       aws.ToString(v.SnapshotId),
		CreateTime:       aws.ToTime(v.CreateTime),
		KMSKeyID:         in.String(aws.ToString(v.KmsKeyId)),
		Encrypted:        snapshot.UnknownFact[bool]("DescribeVolumes did not report whether the volume is encrypted"),
	}
	if vol.ARN == "" {
		vol.ARN = "arn:" + snap.Partition + ":ec2:" + snap.Region + ":" + snap.Account + ":volume/" + vol.ID
	}
	if v.Encrypted != nil {
		vol.Encrypted = snapshot.KnownFact(*v.Encrypted)
	}
	// DescribeVolumes returns each volume's tags: no DescribeTags call.
	vol.Tags = collect.Tags(v.Tags, func(t ec2types.Tag) (*string, *string) { return t.Key, t.Value })
	vol.Name, _ = vol.Tags.Get("Name")
	for _, a := range v.Attachments {
		vol.Attachments = append(vol.Attachments, snapshot.EBSAttachment{
			InstanceID:          aws.ToString(a.InstanceId),
			Device:              in.String(aws.ToString(a.Device)),
			State:               in.String(string(a.State)),
			AttachTime:          aws.ToTime(a.AttachTime),
			DeleteOnTermination: aws.ToBool(a.DeleteOnTermination),
		})
	}
	return vol
}
