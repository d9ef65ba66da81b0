package runner

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
)

// ForAccount returns a Runner that audits another account of the
// organization (cfg carries that account's assumed-role credentials) in
// regions, sharing r's counter, collectors, publisher, home region and
// settings. The account and partition are given, not asked of STS: the
// role assumed names the account. r's publisher must keep its finding
// state with the central account's credentials, not cfg's.
func (r *Runner) ForAccount(cfg aws.Config, account, partition string, regions []string) *Runner {
	return &Runner{
		AWS:         cfg,
		Counter:     r.Counter,
		Regions:     regions,
		HomeRegion:  r.HomeRegion,
		Collectors:  r.Collectors,
		Publisher:   r.Publisher,
		ToolVersion: r.ToolVersion,
		Getenv:      r.Getenv,
		Now:         r.Now,
		MemoryLimit: r.MemoryLimit,
		who:         identity{account: account, partition: partition},
	}
}

// Transient reports an AWS error code a retry may mend (throttling, 5xx,
// timeouts, broken connections), as a re-check judges it.
func Transient(code string) bool { return transient(code) }

// Account returns the account r audits (asked of STS once per Runner).
func (r *Runner) Account(ctx context.Context) (string, error) {
	account, _, err := r.identify(ctx, awsconfig.ForRegion(r.AWS, r.home(r.Regions)))
	return account, err
}
