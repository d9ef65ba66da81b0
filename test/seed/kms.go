package seed

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
)

// KMS seeds first, whatever the file order: other services' demo resources
// (ebs.go, ecr.go, cloudtrail.go sort before kms.go) are encrypted with
// kms/app.
func init() { seeders = append([]Seeder{seedKMS}, seeders...) }

// seedKMS creates kms/rotating, kms/not-rotating, kms/signing (asymmetric)
// and kms/retired (pending deletion), plus kms/app: a rotating key other
// services' demo resources are encrypted with.
func seedKMS(ctx context.Context, cfg aws.Config, d Demo, _ *gapfill.Proxy) error {
	c := kms.NewFromConfig(cfg)
	type spec struct {
		name   string
		spec   kmstypes.KeySpec
		usage  kmstypes.KeyUsageType
		rotate bool
	}
	for _, s := range []spec{
		{"rotating", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, true},
		{"not-rotating", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, false},
		{"signing", kmstypes.KeySpecRsa2048, kmstypes.KeyUsageTypeSignVerify, false},
		{"retired", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, true},
		{"app", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, true},
	} {
		arn, err := CreateKey(ctx, c, "alias/demo/"+s.name, s.spec, s.usage)
		if err != nil {
			return err
		}
		d["kms/"+s.name] = arn
		if s.rotate {
			if _, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(KeyID(arn))}); err != nil {
				return fmt.Errorf("enable rotation: %w", err)
			}
		}
	}
	// moto's ScheduleKeyDeletion accepts a key ID only, not a key ARN.
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(KeyID(d["kms/retired"])), PendingWindowInDays: aws.Int32(30)}); err != nil {
		return fmt.Errorf("schedule key deletion: %w", err)
	}
	return nil
}

// CreateKey creates a key with an alias and returns its ARN.
func CreateKey(ctx context.Context, c *kms.Client, alias string, spec kmstypes.KeySpec, usage kmstypes.KeyUsageType) (string, error) {
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Description: aws.String("posture-auditor demo: " + alias)})
	if err != nil {
		return "", fmt.Errorf("create key %s: %w", alias, err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("create alias %s: %w", alias, err)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// KeyID is the key ID at the end of a key ARN.
func KeyID(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }
