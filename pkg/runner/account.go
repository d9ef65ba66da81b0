package runner

import "github.com/aws/aws-sdk-go-v2/aws"

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
