// Package awsconfig builds the one aws.Config every client is made from:
// region, credentials (optionally an assumed role), retry policy, endpoint
// override for tests, client-side pacing at AWS's request quotas
// (pkg/pace), and a call counter. Nothing else in the code knows
// whether it talks to AWS or to an emulator.
package awsconfig

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/posture-auditor/posture-auditor/pkg/pace"
)

// Options select what Load builds. The zero value uses the SDK's standard
// environment (AWS_REGION, credentials chain, AWS_ENDPOINT_URL).
type Options struct {
	Region string
	// RoleARN, when set, is assumed with STS (for member-account scans).
	RoleARN     string
	ExternalID  string
	SessionName string
	// EndpointURL overrides every service endpoint (tests, the demo). When
	// empty, AWS_ENDPOINT_URL from the environment still applies.
	EndpointURL string
	// MaxAttempts bounds retries of throttled, 5xx and broken-connection
	// calls (default 8).
	MaxAttempts int
	// MaxBackoff caps the wait between retries (default 20s; tests use a
	// few milliseconds).
	MaxBackoff time.Duration
	// Counter, when set, counts every call by service and operation.
	Counter *CallCounter
	// Credentials, when set, replace the default chain (tests, the demo).
	Credentials aws.CredentialsProvider
	// Pacer paces every attempt of every call at a fraction of AWS's
	// documented request quotas, per (PaceKey, region, quota); operations
	// without a documented quota are not paced. nil means a new Pacer at
	// pace.DefaultFraction, shared by this config and every regional copy
	// of it (ForRegion). Pass one Pacer to each Load of a process whose
	// configs draw on the same account's quotas; pace.Off() paces nothing.
	Pacer *pace.Pacer
	// PaceKey names the account whose quotas the calls draw on: "" for the
	// function's own account; when empty with RoleARN set, the role's
	// account ID.
	PaceKey string
	// HTTPClient, when set, carries the calls (NewHTTPClient): one client
	// for every member's config keeps the connections to each regional
	// endpoint open from one member to the next (a request's signature,
	// not its connection, says whose it is). nil: a new one.
	HTTPClient aws.HTTPClient
}

// NewHTTPClient is the HTTP client Load gives a config: tens of idle
// connections a host.
func NewHTTPClient() aws.HTTPClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		// A sweep keeps tens of calls in flight to one endpoint (the
		// finding state's writes behind the imports): with the SDK's 10
		// idle connections a host, the others would be closed after each
		// call and dialled again, buffers and TLS handshakes each time.
		t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	})
}

// maxIdleConnsPerHost covers the calls a run keeps in flight to one host.
const maxIdleConnsPerHost = 64

// Load builds the config. It makes no AWS call (assuming a role is lazy).
func Load(ctx context.Context, o Options) (aws.Config, error) {
	maxAttempts := o.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = 8
	}
	maxBackoff := o.MaxBackoff
	if maxBackoff == 0 {
		maxBackoff = 20 * time.Second
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = maxAttempts
				so.MaxBackoff = maxBackoff
				// Throttling is paced by client-side limiters; a scan must not
				// give up on a quota burst because a retry token bucket ran dry.
				so.RateLimiter = noRetryQuota{}
			})
		}),
	}
	client := o.HTTPClient
	if client == nil {
		client = NewHTTPClient()
	}
	loaders = append(loaders, config.WithHTTPClient(client))
	if o.Region != "" {
		loaders = append(loaders, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		loaders = append(loaders, config.WithCredentialsProvider(o.Credentials))
	}
	if o.EndpointURL != "" {
		loaders = append(loaders, config.WithBaseEndpoint(o.EndpointURL))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set AWS_REGION")
	}
	if o.RoleARN != "" {
		name := o.SessionName
		if name == "" {
			name = "posture-auditor"
		}
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), o.RoleARN, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = name
			if o.ExternalID != "" {
				ao.ExternalID = aws.String(o.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	pacer := o.Pacer
	if pacer == nil {
		if pacer, err = pace.New(pace.DefaultFraction); err != nil {
			return aws.Config{}, err
		}
	}
	// After the AssumeRole client above: AssumeRole is called with the base
	// credentials, against the base account's STS quota, once an hour.
	cfg.APIOptions = append(cfg.APIOptions, pacer.APIOption(paceKey(o)))
	if o.Counter != nil {
		cfg.APIOptions = append(cfg.APIOptions, o.Counter.middleware)
	}
	return cfg, nil
}

// paceKey is the account whose quotas o's calls draw on.
func paceKey(o Options) string {
	if o.PaceKey != "" || o.RoleARN == "" {
		return o.PaceKey
	}
	if a, err := arn.Parse(o.RoleARN); err == nil && a.AccountID != "" {
		return a.AccountID
	}
	return o.RoleARN
}

// ForRegion returns a copy of cfg for another region, sharing credentials,
// retry policy, pacer (its buckets are per region) and counter.
func ForRegion(cfg aws.Config, region string) aws.Config {
	c := cfg.Copy()
	c.Region = region
	return c
}

// EndpointFromEnv returns AWS_ENDPOINT_URL, for callers that report where
// they are pointed.
func EndpointFromEnv() string { return os.Getenv("AWS_ENDPOINT_URL") }

type noRetryQuota struct{}

func (noRetryQuota) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRetryQuota) AddTokens(uint) error { return nil }
