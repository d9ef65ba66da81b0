// Package seed creates the demo account's resources through the SDK. The
// demo and the end-to-end tests share it, so what the demo shows is tested.
package seed

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
)

// Demo names what Account created.
type Demo struct {
	RotatingKeyARN        string
	NonRotatingKeyARN     string
	AsymmetricKeyARN      string
	PendingDeletionKeyARN string
}

// EnableSecurityHub turns Security Hub on in cfg's region.
func EnableSecurityHub(ctx context.Context, cfg aws.Config) error {
	_, err := securityhub.NewFromConfig(cfg).EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{
		EnableDefaultStandards: aws.Bool(false),
	})
	if err != nil {
		return fmt.Errorf("enable Security Hub in %s: %w", cfg.Region, err)
	}
	return nil
}

// Account seeds the demo account in cfg's region.
func Account(ctx context.Context, cfg aws.Config) (Demo, error) {
	c := kms.NewFromConfig(cfg)
	var d Demo
	var err error
	if d.RotatingKeyARN, err = createKey(ctx, c, "alias/demo/rotating", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt); err != nil {
		return d, err
	}
	if _, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &d.RotatingKeyARN}); err != nil {
		return d, fmt.Errorf("enable rotation: %w", err)
	}
	if d.NonRotatingKeyARN, err = createKey(ctx, c, "alias/demo/not-rotating", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt); err != nil {
		return d, err
	}
	if d.AsymmetricKeyARN, err = createKey(ctx, c, "alias/demo/signing", kmstypes.KeySpecRsa2048, kmstypes.KeyUsageTypeSignVerify); err != nil {
		return d, err
	}
	if d.PendingDeletionKeyARN, err = createKey(ctx, c, "alias/demo/retired", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt); err != nil {
		return d, err
	}
	if _, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &d.PendingDeletionKeyARN}); err != nil {
		return d, fmt.Errorf("enable rotation: %w", err)
	}
	// moto's ScheduleKeyDeletion accepts a key ID only, not a key ARN.
	if _, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID(d.PendingDeletionKeyARN)), PendingWindowInDays: aws.Int32(30)}); err != nil {
		return d, fmt.Errorf("schedule key deletion: %w", err)
	}
	return d, nil
}

func createKey(ctx context.Context, c *kms.Client, alias string, spec kmstypes.KeySpec, usage kmstypes.KeyUsageType) (string, error) {
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Description: aws.String("posture-auditor demo: " + alias)})
	if err != nil {
		return "", fmt.Errorf("create key %s: %w", alias, err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("create alias %s: %w", alias, err)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// keyID is the key ID at the end of a key ARN.
func keyID(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }
