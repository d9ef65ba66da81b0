package seed

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// SecondRegion seeds a region whose account-level settings differ from the
// main demo region's, so a run over both shows each account-level check
// both ways: EBS encryption by default on with a customer managed key
// (ebs.default-encryption PASSED here, FAILED in the main region). It
// returns the default key's ARN as "kms/ebs-default". cfg must point at the
// gap-filling proxy, which serves GetEbsDefaultKmsKeyId (moto lacks it).
func SecondRegion(ctx context.Context, cfg aws.Config) (Demo, error) {
	d := Demo{}
	keyARN, err := CreateKey(ctx, kms.NewFromConfig(cfg), "alias/demo/ebs-default", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt)
	if err != nil {
		return d, err
	}
	d["kms/ebs-default"] = keyARN
	if _, err := kms.NewFromConfig(cfg).EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(KeyID(keyARN))}); err != nil {
		return d, fmt.Errorf("enable rotation: %w", err)
	}
	c := ec2.NewFromConfig(cfg)
	if _, err := c.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{}); err != nil {
		return d, fmt.Errorf("enable EBS encryption by default in %s: %w", cfg.Region, err)
	}
	if _, err := c.ModifyEbsDefaultKmsKeyId(ctx, &ec2.ModifyEbsDefaultKmsKeyIdInput{KmsKeyId: aws.String(keyARN)}); err != nil {
		return d, fmt.Errorf("set the EBS default key in %s: %w", cfg.Region, err)
	}
	return d, nil
}
