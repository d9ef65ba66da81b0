package seed

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
)

func init() { register(seedECR) }

// seedECR creates three repositories: ecr/cmk under the demo CMK kms/app
// (PASSED), ecr/aes256 on ECR's default AES256 (FAILED) and ecr/aws-managed
// with encryption type KMS and no key, so the AWS managed key aws/ecr
// (FAILED; the gap-filling proxy makes moto report that key, as AWS does).
func seedECR(ctx context.Context, cfg aws.Config, d Demo, _ *gapfill.Proxy) error {
	if d["kms/app"] == "" {
		return fmt.Errorf("seed ECR: the demo key kms/app must be seeded first")
	}
	c := ecr.NewFromConfig(cfg)
	for _, r := range []struct {
		name string
		enc  *ecrtypes.EncryptionConfiguration
	}{
		{"cmk", &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(d["kms/app"])}},
		{"aes256", nil},
		{"aws-managed", &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms}},
	} {
		out, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{
			RepositoryName: aws.String("demo/" + r.name), EncryptionConfiguration: r.enc,
			ImageTagMutability:         ecrtypes.ImageTagMutabilityImmutable,
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true},
		})
		if err != nil {
			return fmt.Errorf("create ECR repository %s: %w", r.name, err)
		}
		d["ecr/"+r.name] = aws.ToString(out.Repository.RepositoryArn)
	}
	return nil
}
