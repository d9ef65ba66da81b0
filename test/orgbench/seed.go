package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

// smallAccount is what every member holds in each audited region (the
// trail only in the home region): 5 KMS keys (2 rotating, 1 not, 1
// asymmetric, 1 pending deletion), 3 secrets (rotating under a CMK, overdue,
// never rotated), 3 EBS volumes (CMK, unencrypted, AWS managed key), 2 ECR
// repositories (CMK, AES256), and in the home region one multi-region
// trail under the CMK. Security Hub is enabled in the region.
const smallAccount = "5 KMS keys, 3 secrets, 3 EBS volumes, 2 ECR repositories per region; 1 multi-region trail in the home region; Security Hub on"

// seedMember seeds one region of a member through cfg (the member's role
// assumed through the front, so moto keys everything by the member's
// account). gaps is the gap-filling proxy that serves that account.
func seedMember(ctx context.Context, cfg aws.Config, account string, home bool, gaps *gapfill.Proxy) error {
	if err := seed.EnableSecurityHub(ctx, cfg); err != nil {
		return err
	}
	k := kms.NewFromConfig(cfg)
	keys := map[string]string{}
	for _, s := range []struct {
		name   string
		spec   kmstypes.KeySpec
		usage  kmstypes.KeyUsageType
		rotate bool
	}{
		{"app", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, true},
		{"rotating", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, true},
		{"not-rotating", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, false},
		{"signing", kmstypes.KeySpecRsa2048, kmstypes.KeyUsageTypeSignVerify, false},
		{"retired", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, false},
	} {
		keyARN, err := seed.CreateKey(ctx, k, "alias/orgbench/"+s.name, s.spec, s.usage)
		if err != nil {
			return err
		}
		keys[s.name] = keyARN
		if s.rotate {
			if _, err := k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(seed.KeyID(keyARN))}); err != nil {
				return fmt.Errorf("enable rotation: %w", err)
			}
		}
	}
	if _, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(seed.KeyID(keys["retired"])), PendingWindowInDays: aws.Int32(30)}); err != nil {
		return fmt.Errorf("schedule key deletion: %w", err)
	}

	sm := secretsmanager.NewFromConfig(cfg)
	now := time.Now().UTC()
	daysAgo := func(n int) *time.Time { t := now.AddDate(0, 0, -n); return &t }
	for _, s := range []struct {
		name       string
		cmk        bool
		rotateDays int64
		fields     gapfill.SecretFields
	}{
		{"orgbench/rotating", true, 30, gapfill.SecretFields{LastAccessedDate: daysAgo(1)}},
		{"orgbench/overdue", true, 30, gapfill.SecretFields{CreatedDate: daysAgo(200), LastRotatedDate: daysAgo(100), LastAccessedDate: daysAgo(120)}},
		{"orgbench/never-rotated", false, 0, gapfill.SecretFields{CreatedDate: daysAgo(400)}},
	} {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(s.name), SecretString: aws.String("orgbench-placeholder")}
		if s.cmk {
			in.KmsKeyId = aws.String(keys["app"])
		}
		out, err := sm.CreateSecret(ctx, in)
		if err != nil {
			return fmt.Errorf("create secret %s: %w", s.name, err)
		}
		if s.rotateDays > 0 {
			if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: out.ARN,
				RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(s.rotateDays)}}); err != nil {
				return fmt.Errorf("rotate secret %s: %w", s.name, err)
			}
		}
		gaps.SetSecretFields(aws.ToString(out.ARN), s.fields)
	}

	e := ec2.NewFromConfig(cfg)
	for _, v := range []struct {
		name      string
		encrypted bool
		key       string
	}{{"cmk", true, keys["app"]}, {"unencrypted", false, ""}, {"aws-managed", true, ""}} {
		in := &ec2.CreateVolumeInput{AvailabilityZone: aws.String(cfg.Region + "a"), Size: aws.Int32(8), VolumeType: ec2types.VolumeTypeGp3,
			Encrypted: aws.Bool(v.encrypted), TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume,
				Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("orgbench-" + v.name)}}}}}
		if v.key != "" {
			in.KmsKeyId = aws.String(v.key)
		}
		if _, err := e.CreateVolume(ctx, in); err != nil {
			return fmt.Errorf("create volume %s: %w", v.name, err)
		}
	}

	r := ecr.NewFromConfig(cfg)
	for _, repo := range []struct {
		name string
		enc  *ecrtypes.EncryptionConfiguration
	}{
		{"cmk", &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(keys["app"])}},
		{"aes256", nil},
	} {
		if _, err := r.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("orgbench/" + repo.name), EncryptionConfiguration: repo.enc,
			ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable, ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}}); err != nil {
			return fmt.Errorf("create repository %s: %w", repo.name, err)
		}
	}

	if !home {
		return nil
	}
	// S3 bucket names are global in moto as in AWS: one per account.
	bucket := "orgbench-trail-" + account
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if cfg.Region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(cfg.Region)}
	}
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, in); err != nil {
		return fmt.Errorf("create trail bucket: %w", err)
	}
	ct := cloudtrail.NewFromConfig(cfg)
	trail, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("orgbench-main"), S3BucketName: aws.String(bucket),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true), KmsKeyId: aws.String(keys["app"])})
	if err != nil {
		return fmt.Errorf("create trail: %w", err)
	}
	if _, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: trail.Name, EventSelectors: []cttypes.EventSelector{
		{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true)}}}); err != nil {
		return fmt.Errorf("put event selectors: %w", err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: trail.Name}); err != nil {
		return fmt.Errorf("start logging: %w", err)
	}
	return nil
}
