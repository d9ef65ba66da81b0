package org

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
)

// Members builds the config of each member account once per container:
// the member role assumed with the central account's credentials (lazily,
// and again before the session expires), every call paced by the one
// Pacer of Options, so every run against a member shares its buckets.
type Members struct {
	// Options are the base options (counter, pacer, endpoint, retries,
	// credentials); RoleARN, ExternalID and SessionName are set per member.
	Options    awsconfig.Options
	Partition  string
	RoleName   string
	ExternalID string

	mu   sync.Mutex
	cfgs map[string]aws.Config
	// client carries every member's calls (unless Options has one): a
	// container auditing member after member reuses its connections.
	client aws.HTTPClient
}

// SessionName is the role session name of every member run (in the
// member's CloudTrail as the caller).
const SessionName = "posture-auditor-worker"

// RoleARN is the member role's ARN in account.
func (m *Members) RoleARN(account string) string { return RoleARN(m.Partition, account, m.RoleName) }

// Config returns the member's config. It makes no AWS call.
func (m *Members) Config(ctx context.Context, account string) (aws.Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cfg, ok := m.cfgs[account]; ok {
		return cfg, nil
	}
	o := m.Options
	o.RoleARN, o.ExternalID, o.SessionName = m.RoleARN(account), m.ExternalID, SessionName
	if o.HTTPClient == nil {
		if m.client == nil {
			m.client = awsconfig.NewHTTPClient()
		}
		o.HTTPClient = m.client
	}
	cfg, err := awsconfig.Load(ctx, o)
	if err != nil {
		return aws.Config{}, err
	}
	if m.cfgs == nil {
		m.cfgs = map[string]aws.Config{}
	}
	m.cfgs[account] = cfg
	return cfg, nil
}
