package org

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
	"github.com/posture-auditor/posture-auditor/pkg/regions"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

// Environment of the organization functions (template.yaml sets them).
const (
	EnvQueueURL         = "ORGANIZATION_QUEUE_URL"
	EnvAuditRegions     = "AUDIT_REGIONS"
	EnvExcludedAccounts = "EXCLUDED_ACCOUNTS"
	EnvMemberRoleName   = "MEMBER_ROLE_NAME"
	EnvMemberExternalID = "MEMBER_ROLE_EXTERNAL_ID"
	EnvStateTable       = "FINDING_STATE_TABLE"
	EnvQuotaFraction    = "QUOTA_FRACTION"
	EnvHomeRegion       = "HOME_REGION"
	EnvStateTableUnits  = "STATE_TABLE_WRITE_UNITS"
)

// PlannerFromEnvironment builds the planner: ORGANIZATION_QUEUE_URL,
// AUDIT_REGIONS (a list, or "all"; empty: the function's region),
// EXCLUDED_ACCOUNTS (comma-separated 12-digit IDs) and HOME_REGION (global
// services; empty: the function's region), with the function's
// own credentials. A bad value stops the function before any AWS call.
func PlannerFromEnvironment(ctx context.Context, getenv func(string) string) (*Planner, error) {
	queueURL := strings.TrimSpace(getenv(EnvQueueURL))
	if queueURL == "" {
		return nil, fmt.Errorf("%s is not set: the planner needs the organization queue", EnvQueueURL)
	}
	excluded, err := ParseAccountList(getenv(EnvExcludedAccounts))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvExcludedAccounts, err)
	}
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Counter: awsconfig.NewCallCounter()})
	if err != nil {
		return nil, err
	}
	auditRegions := runner.SplitList(getenv(EnvAuditRegions))
	if len(auditRegions) == 0 {
		auditRegions = []string{cfg.Region}
	}
	auditRegions, err = ParseRegions(auditRegions)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvAuditRegions, err)
	}
	home, err := runner.HomeRegion(getenv(EnvHomeRegion), cfg.Region)
	if err != nil {
		return nil, err
	}
	return &Planner{
		Organizations: organizations.NewFromConfig(cfg),
		Queue:         Queue{API: sqs.NewFromConfig(cfg), URL: queueURL},
		Regions:       auditRegions,
		Excluded:      excluded,
		HomeRegion:    home,
	}, nil
}

// WorkerFromEnvironment builds the worker: the runner's environment
// (runner.FromEnvironment: thresholds, HOME_REGION, QUOTA_FRACTION, ...),
// MEMBER_ROLE_NAME and MEMBER_ROLE_EXTERNAL_ID (the role assumed in each
// member), EXCLUDED_ACCOUNTS (never audited), ORGANIZATION_QUEUE_URL (for expanding "all" regions, less the
// runner's EXCLUDED_REGIONS), and FINDING_STATE_TABLE, read and written with the
// central account's credentials, never a member's.
func WorkerFromEnvironment(ctx context.Context, getenv func(string) string) (*Worker, error) {
	roleName := strings.TrimSpace(getenv(EnvMemberRoleName))
	if roleName == "" {
		return nil, fmt.Errorf("%s is not set: the worker assumes that role in each member account", EnvMemberRoleName)
	}
	queueURL := strings.TrimSpace(getenv(EnvQueueURL))
	if queueURL == "" {
		return nil, fmt.Errorf("%s is not set: the worker queues the regions of a member", EnvQueueURL)
	}
	excluded, err := ParseAccountList(getenv(EnvExcludedAccounts))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvExcludedAccounts, err)
	}
	fraction, err := runner.QuotaFraction(getenv(EnvQuotaFraction))
	if err != nil {
		return nil, err
	}
	tableUnits, err := runner.StateTableWriteUnits(getenv(EnvStateTableUnits))
	if err != nil {
		return nil, err
	}
	// One pacer for every member: a warm container's runs against one
	// member draw on that member's buckets, as they draw on its quotas.
	pacer, err := pace.New(fraction)
	if err != nil {
		return nil, err
	}
	base, err := runner.FromEnvironment(ctx)
	if err != nil {
		return nil, err
	}
	central := base.AWS
	partition := regions.PartitionOf(central.Region)
	// No table is a nil interface, not a nil *Store in it.
	base.Publisher.State = nil
	if state := CentralState(getenv(EnvStateTable), central); state != nil {
		state.TableWriteUnits = tableUnits
		base.Publisher.State = state
	}
	members := &Members{
		Options:    awsconfig.Options{Counter: base.Counter, Pacer: pacer},
		Partition:  partition,
		RoleName:   roleName,
		ExternalID: getenv(EnvMemberExternalID),
	}
	queue := sqs.NewFromConfig(central)
	return &Worker{
		Base:      base,
		Partition: partition,
		Member:    members.Config,
		RoleARN:   members.RoleARN,
		Queue:     Queue{API: queue, URL: queueURL},
		Discover:  DiscoverRegions(partition, base.ExcludedRegions),
		Excluded:  excluded,
		Postpone:  Postponer(queue, queueURL),
	}, nil
}

// Postponer sets a received message's visibility on the queue (the
// worker's Postpone); nil without a queue.
func Postponer(api *sqs.Client, queueURL string) func(context.Context, string, time.Duration) error {
	if queueURL == "" {
		return nil
	}
	return func(ctx context.Context, receiptHandle string, after time.Duration) error {
		_, err := api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: int32(after.Seconds())})
		return err
	}
}

// CentralState is the finding state table with the central account's
// credentials: a member run's config carries the member's, which the
// table (in the central account) does not trust. nil without a table.
func CentralState(table string, central aws.Config) *findingstate.Store {
	table = strings.TrimSpace(table)
	if table == "" {
		return nil
	}
	return &findingstate.Store{Table: table, Region: central.Region, Boilerplate: runner.Boilerplate, NewAPI: func(aws.Config) findingstate.API {
		return dynamodb.NewFromConfig(central)
	}}
}

// DiscoverRegions returns the regions enabled in the account whose config
// it is given (ec2:DescribeRegions through the member role), less excluded.
func DiscoverRegions(partition string, excluded []string) func(context.Context, aws.Config) ([]string, error) {
	return func(ctx context.Context, cfg aws.Config) ([]string, error) {
		enabled, err := regions.EnabledFrom(ctx, partition, []string{cfg.Region}, func(region string) regions.API {
			return ec2.NewFromConfig(awsconfig.ForRegion(cfg, region))
		})
		if err != nil {
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) && ctx.Err() == nil {
				// An answer listing no enabled region: asking again will not help.
				return nil, Permanent(err)
			}
			return nil, err
		}
		sel, err := regions.Resolve(regions.Request{All: true, Excluded: excluded}, enabled)
		if err != nil {
			return nil, Permanent(err) // every enabled region excluded
		}
		return sel.Audit, nil
	}
}

// ForwarderFromEnvironment is the events function's forwarder in
// organization mode (ORGANIZATION_QUEUE_URL set; EXCLUDED_ACCOUNTS are
// skipped, never queued), with r's credentials; nil otherwise: other
// accounts' events are then skipped.
func ForwarderFromEnvironment(r *runner.Runner, getenv func(string) string) (eventhandler.Forwarder, error) {
	queueURL := strings.TrimSpace(getenv(EnvQueueURL))
	if queueURL == "" {
		return nil, nil
	}
	excluded, err := ParseAccountList(getenv(EnvExcludedAccounts))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvExcludedAccounts, err)
	}
	return Forwarder{Runner: r, Queue: Queue{API: sqs.NewFromConfig(r.AWS), URL: queueURL}, Excluded: excluded}, nil
}
