// Package seed creates the demo account's resources through the SDK. The
// demo and the end-to-end tests share it, so what the demo shows is tested.
// Each service seeds from its own file, registered with register() in an
// init function; seeders run in file-name order.
package seed

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
)

// ExemptTagKey is the tag docs/suppression.md's automation rules match; one
// demo DB instance, volume and secret carry it (value: the check ID whose
// finding on them the rule suppresses).
const ExemptTagKey = "posture-auditor:exempt"

// Demo names the ARNs of what Account created, by a short name such as
// "kms/rotating", so tests can assert the finding of each resource.
type Demo map[string]string

// Seeder creates one service's demo resources in cfg's region. cfg points
// at the gap-filling proxy; a seeder that needs a field moto lacks stores
// it in gaps for the service's gapfill hook to serve.
type Seeder func(ctx context.Context, cfg aws.Config, d Demo, gaps *gapfill.Proxy) error

var seeders []Seeder

func register(s Seeder) { seeders = append(seeders, s) }

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

// Account seeds the demo account in cfg's region, through gaps.
func Account(ctx context.Context, cfg aws.Config, gaps *gapfill.Proxy) (Demo, error) {
	d := Demo{}
	for _, s := range seeders {
		if err := s(ctx, cfg, d, gaps); err != nil {
			return d, err
		}
	}
	return d, nil
}
