package seed

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
)

func init() { register(seedCloudTrail) }

// demoTrailBucket receives the demo trails' log files.
const demoTrailBucket = "posture-auditor-demo-trails"

// seedCloudTrail creates three trails delivering to one S3 bucket:
// cloudtrail/main, multi-region, encrypted with the demo CMK kms/app, log
// file validation on, logging all management events (it passes every
// CloudTrail check and makes the account pass cloudtrail.multi-region-logging);
// cloudtrail/plain, single-region, SSE-S3 only and without validation
// (fails cloudtrail.encryption and cloudtrail.log-validation); and
// cloudtrail/retired-key, encrypted with kms/retired, which is pending
// deletion (fails cloudtrail.encryption with HIGH severity). moto gives a
// new trail no event selectors (AWS gives it one logging all management
// events), so main's are set explicitly.
func seedCloudTrail(ctx context.Context, cfg aws.Config, d Demo, _ *gapfill.Proxy) error {
	if d["kms/app"] == "" || d["kms/retired"] == "" {
		return fmt.Errorf("seed CloudTrail: the demo keys kms/app and kms/retired must be seeded first")
	}
	bucket := &s3.CreateBucketInput{Bucket: aws.String(demoTrailBucket)}
	if cfg.Region != "us-east-1" {
		bucket.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(cfg.Region)}
	}
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, bucket); err != nil {
		return fmt.Errorf("create trail bucket: %w", err)
	}
	c := cloudtrail.NewFromConfig(cfg)
	for _, t := range []struct {
		name       string
		multi      bool
		key        string
		validation bool
	}{
		{"main", true, d["kms/app"], true},
		{"plain", false, "", false},
		{"retired-key", false, d["kms/retired"], true},
	} {
		in := &cloudtrail.CreateTrailInput{
			Name: aws.String("demo-" + t.name), S3BucketName: aws.String(demoTrailBucket),
			IsMultiRegionTrail: aws.Bool(t.multi), EnableLogFileValidation: aws.Bool(t.validation),
		}
		if t.key != "" {
			in.KmsKeyId = aws.String(t.key)
		}
		out, err := c.CreateTrail(ctx, in)
		if err != nil {
			return fmt.Errorf("create trail %s: %w", t.name, err)
		}
		if _, err := c.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: out.Name, EventSelectors: []cttypes.EventSelector{
			{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true)},
		}}); err != nil {
			return fmt.Errorf("put event selectors %s: %w", t.name, err)
		}
		if _, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: out.Name}); err != nil {
			return fmt.Errorf("start logging %s: %w", t.name, err)
		}
		d["cloudtrail/"+t.name] = aws.ToString(out.TrailARN)
	}
	return nil
}
