package seed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
)

func init() { register(seedSecretsManager) }

// seedSecretsManager creates the demo secrets (values are placeholders,
// never read by the auditor):
//
//	secrets/rotating     rotation every 30 days, just rotated, demo CMK, retrieved yesterday
//	secrets/overdue      rotation every 30 days, last rotated 100 days ago (created 200), demo CMK, retrieved 120 days ago
//	secrets/stale        no rotation, created 400 days ago, never retrieved, aws/secretsmanager,
//	                     tagged posture-auditor:exempt=secretsmanager.rotation-enabled
//	secrets/rds-managed  owned by RDS (managed rotation every 7 days, no Lambda), just rotated, retrieved today, aws/secretsmanager
//	secrets/new          no rotation, created now, never retrieved, aws/secretsmanager
//	secrets/retired      scheduled for deletion: not listed, so never judged
//
// moto 5.2 cannot make a secret old or report LastAccessedDate, so the
// dates are set through the gap-filling proxy (gapfill.SecretFields).
// moto's RotateSecret accepts rotation rules without a Lambda (AWS does so
// only for managed secrets) and records the rotation as done at once: that
// is how rotation is switched on here; a Lambda ARN would make moto invoke
// a function that does not exist.
func seedSecretsManager(ctx context.Context, cfg aws.Config, d Demo, gaps *gapfill.Proxy) error {
	if gaps == nil {
		return errors.New("seed secrets: needs the gap-filling proxy")
	}
	c := secretsmanager.NewFromConfig(cfg)
	now := time.Now().UTC()
	daysAgo := func(n int) *time.Time { t := now.AddDate(0, 0, -n); return &t }
	type spec struct {
		name, secretName string
		cmk              bool
		rotateDays       int64
		tags             []smtypes.Tag
		fields           gapfill.SecretFields
	}
	for _, s := range []spec{
		{name: "rotating", secretName: "demo/app/rotating", cmk: true, rotateDays: 30,
			fields: gapfill.SecretFields{LastAccessedDate: daysAgo(1)}},
		{name: "overdue", secretName: "demo/app/overdue", cmk: true, rotateDays: 30,
			fields: gapfill.SecretFields{CreatedDate: daysAgo(200), LastRotatedDate: daysAgo(100), LastAccessedDate: daysAgo(120)}},
		{name: "stale", secretName: "demo/legacy/stale",
			// Tagged for the automation rule of docs/suppression.md.
			tags:   []smtypes.Tag{{Key: aws.String(ExemptTagKey), Value: aws.String("secretsmanager.rotation-enabled")}},
			fields: gapfill.SecretFields{CreatedDate: daysAgo(400)}},
		{name: "rds-managed", secretName: "rds!db-demo-managed", rotateDays: 7,
			// The tag AWS puts on a managed secret; moto derives OwningService from it.
			tags:   []smtypes.Tag{{Key: aws.String("aws:secretsmanager:owningService"), Value: aws.String("rds")}},
			fields: gapfill.SecretFields{LastAccessedDate: &now}},
		{name: "new", secretName: "demo/app/new"},
		{name: "retired", secretName: "demo/app/retired"},
	} {
		in := &secretsmanager.CreateSecretInput{
			Name:         aws.String(s.secretName),
			Description:  aws.String("posture-auditor demo: " + s.name),
			SecretString: aws.String("demo-placeholder-not-a-secret"),
			Tags:         s.tags,
		}
		if s.cmk {
			in.KmsKeyId = aws.String(d["kms/app"])
		}
		out, err := c.CreateSecret(ctx, in)
		if err != nil {
			return fmt.Errorf("create secret %s: %w", s.secretName, err)
		}
		arn := aws.ToString(out.ARN)
		d["secrets/"+s.name] = arn
		if s.rotateDays > 0 {
			if _, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
				SecretId:      aws.String(arn),
				RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(s.rotateDays)},
			}); err != nil {
				return fmt.Errorf("turn on rotation of %s: %w", s.secretName, err)
			}
		}
		gaps.SetSecretFields(arn, s.fields)
	}
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(d["secrets/retired"]), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		return fmt.Errorf("schedule deletion of demo/app/retired: %w", err)
	}
	return nil
}
