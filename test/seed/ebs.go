package seed

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
)

func init() { register(seedEBS) }

// seedEBS creates three volumes, ebs/cmk under the demo CMK kms/app
// (PASSED), ebs/unencrypted (FAILED, HIGH; tagged
// posture-auditor:exempt=ebs.volume-cmk) and ebs/aws-managed encrypted
// without a key, so with the aws/ebs key (FAILED, MEDIUM), and then turns
// encryption by default on without changing the default key: the region's
// ebs.default-encryption is FAILED (LOW), encryption on with aws/ebs. The
// volumes come first because moto does not apply encryption by default to
// new volumes (AWS would, and would refuse none of these: each is explicit).
func seedEBS(ctx context.Context, cfg aws.Config, d Demo, _ *gapfill.Proxy) error {
	if d["kms/app"] == "" {
		return fmt.Errorf("seed EBS: the demo key kms/app must be seeded first")
	}
	c := ec2.NewFromConfig(cfg)
	for _, v := range []struct {
		name      string
		encrypted bool
		key       string
		exempt    string // the posture-auditor:exempt tag's value, if any
	}{
		{"cmk", true, d["kms/app"], ""},
		{"unencrypted", false, "", "ebs.volume-cmk"},
		{"aws-managed", true, "", ""},
	} {
		tags := []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("demo-" + v.name)}}
		if v.exempt != "" {
			tags = append(tags, ec2types.Tag{Key: aws.String(ExemptTagKey), Value: aws.String(v.exempt)})
		}
		in := &ec2.CreateVolumeInput{
			AvailabilityZone: aws.String(cfg.Region + "a"), Size: aws.Int32(8), VolumeType: ec2types.VolumeTypeGp3,
			Encrypted: aws.Bool(v.encrypted),
			TagSpecifications: []ec2types.TagSpecification{{
				ResourceType: ec2types.ResourceTypeVolume,
				Tags:         tags,
			}},
		}
		if v.key != "" {
			in.KmsKeyId = aws.String(v.key)
		}
		out, err := c.CreateVolume(ctx, in)
		if err != nil {
			return fmt.Errorf("create EBS volume %s: %w", v.name, err)
		}
		d["ebs/"+v.name] = ebsVolumeARN(cfg.Region, aws.ToString(out.VolumeId))
	}
	if _, err := c.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{}); err != nil {
		return fmt.Errorf("enable EBS encryption by default: %w", err)
	}
	return nil
}

// ebsVolumeARN is the ARN the auditor gives a volume of moto's account
// (moto's CreateVolume answer carries no VolumeArn).
func ebsVolumeARN(region, id string) string {
	return "arn:aws:ec2:" + region + ":" + motoserver.Account + ":volume/" + id
}
