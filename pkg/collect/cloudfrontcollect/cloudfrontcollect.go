// Package cloudfrontcollect reads the account's CloudFront distributions:
// ListDistributions (whose summaries carry the viewer certificate, origins
// and cache behaviours, so no distribution is described), then
// GetResponseHeadersPolicy once per distinct policy the behaviours name. A
// scoped run reads each named distribution with GetDistribution instead of
// listing them all.
package cloudfrontcollect

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// API is the part of the CloudFront client the collector uses; each method
// is one IAM action in template.yaml.
type API interface {
	ListDistributions(context.Context, *cloudfront.ListDistributionsInput, ...func(*cloudfront.Options)) (*cloudfront.ListDistributionsOutput, error)
	GetResponseHeadersPolicy(context.Context, *cloudfront.GetResponseHeadersPolicyInput, ...func(*cloudfront.Options)) (*cloudfront.GetResponseHeadersPolicyOutput, error)
	// GetDistribution reads one distribution, for a scoped run only.
	GetDistribution(context.Context, *cloudfront.GetDistributionInput, ...func(*cloudfront.Options)) (*cloudfront.GetDistributionOutput, error)
}

// Operations are the IAM actions of every call the collector can make: one
// per method of API, which TestOperationsMatchAPI keeps equal. docs/checks.md
// lists them under each check that reads this service.
var Operations = []string{"cloudfront:ListDistributions", "cloudfront:GetResponseHeadersPolicy", "cloudfront:GetDistribution"}

// Collector is the CloudFront collector.
type Collector struct {
	// Workers bounds concurrent GetResponseHeadersPolicy calls (default 4).
	Workers int
	// NewAPI builds the client; nil means cloudfront.NewFromConfig.
	NewAPI func(aws.Config) API
}

// Service implements collect.Collector.
func (Collector) Service() snapshot.Service { return snapshot.CloudFront }

// pageSize is ListDistributions' largest MaxItems.
const pageSize = 100

// ControlRegion is the region CloudFront's global API is signed for, in
// the snapshot's partition: whatever region the run is in, the client must
// use it.
func ControlRegion(partition string) string {
	if partition == "aws-cn" {
		return "cn-northwest-1"
	}
	return "us-east-1"
}

// Collect implements collect.Collector. A scope names distributions (IDs
// or ARNs), each read with GetDistribution, or response headers policies
// ("response-headers-policy/<id>"), for which the distributions are listed
// and those whose cache behaviours use the policy kept (see collectScoped).
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(awsconfig.ForRegion(cfg, ControlRegion(snap.Partition)))
	rec := collect.NewRecorder(snap, snapshot.CloudFront)
	snap.CloudFront.ResponseHeadersPolicies = map[string]snapshot.Fact[snapshot.ResponseHeadersPolicy]{}

	if !scope.All() {
		c.collectScoped(ctx, api, rec, snap, scope.ResourceIDs)
		return
	}
	dists, err := listDistributions(ctx, api)
	if err != nil {
		rec.Fail("ListDistributions", "", err)
		return
	}
	snap.CloudFront.Distributions = dists
	c.readPolicies(ctx, api, rec, snap, dists)
}

// readPolicies reads, once each, the response headers policies the
// distributions' cache behaviours name.
func (c Collector) readPolicies(ctx context.Context, api API, rec *collect.Recorder, snap *snapshot.Snapshot, dists []*snapshot.CloudFrontDistribution) {
	var ids []string
	seen := map[string]bool{}
	for _, d := range dists {
		for _, b := range d.AllBehaviors() {
			if id := b.ResponseHeadersPolicyID; id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	var mu sync.Mutex
	collect.ForEach(ctx, c.workers(), ids, func(ctx context.Context, id string) {
		p := readPolicy(ctx, api, rec, id)
		mu.Lock()
		snap.CloudFront.ResponseHeadersPolicies[id] = p
		mu.Unlock()
	})
}

// PolicyScopePrefix marks a scope entry that names a response headers
// policy ("response-headers-policy/<policyId>"): the run re-reads the
// distributions whose cache behaviours use it.
const PolicyScopePrefix = "response-headers-policy/"

// noSuchDistribution is CloudFront's answer for a distribution that does
// not exist (deleted, or never created).
const noSuchDistribution = "NoSuchDistribution"

// collectScoped reads what the scope names. A distribution (ID, or ARN
// arn:<partition>:cloudfront::<account>:distribution/<id>) is read with
// GetDistribution, one call each, and ends in exactly one outcome: in the
// snapshot; marked absent as named when CloudFront answered
// NoSuchDistribution; or a recorded error naming it. A policy entry (the
// PolicyScopePrefix form, or a response headers policy ARN) lists the
// distributions, as a full scan does, and keeps those that use the policy in
// any cache behaviour; it is never marked absent (a policy no distribution
// uses leaves nothing to re-judge). The policies the kept distributions
// name are then read as in a full scan: a scoped read of one distribution
// costs 1 + its distinct policies calls. An ARN of another account is not
// this account's to read.
func (c Collector) collectScoped(ctx context.Context, api API, rec *collect.Recorder, snap *snapshot.Snapshot, entries []string) {
	var named, policyEntries []string
	var distIDs []string
	policies := map[string]bool{}
	for _, e := range entries {
		kind, id, ok := parseEntry(snap, e)
		switch {
		case !ok:
			continue
		case kind == "response-headers-policy":
			policyEntries = append(policyEntries, e)
			policies[id] = true
		default:
			named = append(named, e)
			distIDs = append(distIDs, id)
		}
	}

	var dists []*snapshot.CloudFrontDistribution
	have := map[string]bool{}
	keep := func(d *snapshot.CloudFrontDistribution) {
		if !have[d.ID] {
			have[d.ID] = true
			dists = append(dists, d)
		}
	}

	got := make([]*snapshot.CloudFrontDistribution, len(distIDs))
	gone := make([]bool, len(distIDs))
	collect.ForEach(ctx, c.workers(), collect.Indexes(len(distIDs)), func(ctx context.Context, i int) {
		out, err := api.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String(distIDs[i])})
		switch {
		case err == nil && out.Distribution != nil:
			if out.Distribution.DistributionConfig == nil {
				// Kept, with its configuration unknown: every check on it
				// says NOT_AVAILABLE.
				rec.Incomplete("GetDistribution", named[i], "distribution configuration")
			}
			got[i] = fromDistribution(out.Distribution).distribution()
		case err == nil:
			rec.Incomplete("GetDistribution", named[i], "distribution")
		case collect.ErrorCode(err) == noSuchDistribution:
			gone[i] = true
		default:
			rec.Fail("GetDistribution", named[i], err)
		}
	})
	for i, d := range got {
		if gone[i] {
			snap.MarkAbsent(snapshot.CloudFront, named[i])
		}
		if d != nil {
			keep(d)
		}
	}

	if len(policyEntries) > 0 {
		listed, err := listDistributions(ctx, api)
		if err != nil {
			rec.Fail("ListDistributions", strings.Join(policyEntries, ","), err)
		}
		for _, d := range listed {
			if usesAny(d, policies) {
				keep(d)
			}
		}
	}

	snap.CloudFront.Distributions = dists
	c.readPolicies(ctx, api, rec, snap, dists)
}

// parseEntry sorts a scope entry: ("response-headers-policy", policy ID) or
// ("distribution", distribution ID). It reports false for an ARN of another
// account or partition, or of a CloudFront resource not read here.
func parseEntry(snap *snapshot.Snapshot, e string) (kind, id string, ok bool) {
	if id, ok := strings.CutPrefix(e, PolicyScopePrefix); ok {
		return "response-headers-policy", id, id != ""
	}
	if !strings.HasPrefix(e, "arn:") {
		return "distribution", e, e != ""
	}
	a, err := arn.Parse(e)
	if err != nil || a.Service != "cloudfront" || a.Partition != snap.Partition || a.AccountID != snap.Account {
		return "", "", false
	}
	kind, id, _ = strings.Cut(a.Resource, "/")
	if (kind != "distribution" && kind != "response-headers-policy") || id == "" {
		return "", "", false
	}
	return kind, id, true
}

// usesAny reports whether a cache behaviour of d uses one of policies.
func usesAny(d *snapshot.CloudFrontDistribution, policies map[string]bool) bool {
	for _, b := range d.AllBehaviors() {
		if policies[b.ResponseHeadersPolicyID] {
			return true
		}
	}
	return false
}

func (c Collector) api(cfg aws.Config) API {
	if c.NewAPI != nil {
		return c.NewAPI(cfg)
	}
	return cloudfront.NewFromConfig(cfg)
}

func (c Collector) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return 4
}

func listDistributions(ctx context.Context, api API) ([]*snapshot.CloudFrontDistribution, error) {
	var out []*snapshot.CloudFrontDistribution
	p := cloudfront.NewListDistributionsPaginator(api, &cloudfront.ListDistributionsInput{MaxItems: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		if page.DistributionList == nil {
			continue
		}
		for _, s := range page.DistributionList.Items {
			out = append(out, fromSummary(s).distribution())
		}
	}
	return out, nil
}

// fields are what a DistributionSummary (ListDistributions) and a
// Distribution with its DistributionConfig (GetDistribution) both carry of
// what the checks read: one mapping serves both reads.
type fields struct {
	ID, ARN, DomainName, Status, WebACLID *string
	Enabled                               *bool
	LastModified                          *time.Time
	Aliases                               *cftypes.Aliases
	ViewerCertificate                     *cftypes.ViewerCertificate
	Origins                               *cftypes.Origins
	OriginGroups                          *cftypes.OriginGroups
	DefaultCacheBehavior                  *cftypes.DefaultCacheBehavior
	CacheBehaviors                        *cftypes.CacheBehaviors
}

func fromSummary(s cftypes.DistributionSummary) fields {
	return fields{
		ID: s.Id, ARN: s.ARN, DomainName: s.DomainName, Status: s.Status, WebACLID: s.WebACLId,
		Enabled: s.Enabled, LastModified: s.LastModifiedTime, Aliases: s.Aliases,
		ViewerCertificate: s.ViewerCertificate, Origins: s.Origins, OriginGroups: s.OriginGroups,
		DefaultCacheBehavior: s.DefaultCacheBehavior, CacheBehaviors: s.CacheBehaviors,
	}
}

func fromDistribution(d *cftypes.Distribution) fields {
	f := fields{ID: d.Id, ARN: d.ARN, DomainName: d.DomainName, Status: d.Status, LastModified: d.LastModifiedTime}
	if c := d.DistributionConfig; c != nil {
		f.WebACLID, f.Enabled, f.Aliases = c.WebACLId, c.Enabled, c.Aliases
		f.ViewerCertificate, f.Origins, f.OriginGroups = c.ViewerCertificate, c.Origins, c.OriginGroups
		f.DefaultCacheBehavior, f.CacheBehaviors = c.DefaultCacheBehavior, c.CacheBehaviors
	}
	return f
}

// distribution maps the fields into the snapshot's model.
func (s fields) distribution() *snapshot.CloudFrontDistribution {
	d := &snapshot.CloudFrontDistribution{
		ID:           aws.ToString(s.ID),
		ARN:          aws.ToString(s.ARN),
		DomainName:   aws.ToString(s.DomainName),
		Status:       aws.ToString(s.Status),
		Enabled:      aws.ToBool(s.Enabled),
		WebACLID:     aws.ToString(s.WebACLID),
		LastModified: aws.ToTime(s.LastModified),
		OriginGroups: map[string][]string{},
	}
	if s.Aliases != nil {
		d.Aliases = s.Aliases.Items
	}
	if vc := s.ViewerCertificate; vc != nil {
		d.ViewerCertificate = &snapshot.CloudFrontViewerCertificate{
			CloudFrontDefault:      aws.ToBool(vc.CloudFrontDefaultCertificate),
			MinimumProtocolVersion: string(vc.MinimumProtocolVersion),
			SSLSupportMethod:       string(vc.SSLSupportMethod),
			ACMCertificateARN:      aws.ToString(vc.ACMCertificateArn),
			IAMCertificateID:       aws.ToString(vc.IAMCertificateId),
			CertificateSource:      string(vc.CertificateSource),
		}
	}
	if s.Origins != nil {
		for _, o := range s.Origins.Items {
			d.Origins = append(d.Origins, origin(o))
		}
	}
	if s.OriginGroups != nil {
		for _, g := range s.OriginGroups.Items {
			var members []string
			if g.Members != nil {
				for _, m := range g.Members.Items {
					members = append(members, aws.ToString(m.OriginId))
				}
			}
			d.OriginGroups[aws.ToString(g.Id)] = members
		}
	}
	if b := s.DefaultCacheBehavior; b != nil {
		d.DefaultBehavior = &snapshot.CloudFrontBehavior{
			TargetOriginID:          aws.ToString(b.TargetOriginId),
			ViewerProtocolPolicy:    string(b.ViewerProtocolPolicy),
			ResponseHeadersPolicyID: aws.ToString(b.ResponseHeadersPolicyId),
		}
	}
	if s.CacheBehaviors != nil {
		for _, b := range s.CacheBehaviors.Items {
			d.Behaviors = append(d.Behaviors, snapshot.CloudFrontBehavior{
				PathPattern:             aws.ToString(b.PathPattern),
				TargetOriginID:          aws.ToString(b.TargetOriginId),
				ViewerProtocolPolicy:    string(b.ViewerProtocolPolicy),
				ResponseHeadersPolicyID: aws.ToString(b.ResponseHeadersPolicyId),
			})
		}
	}
	return d
}

func origin(o cftypes.Origin) snapshot.CloudFrontOrigin {
	out := snapshot.CloudFrontOrigin{
		ID:         aws.ToString(o.Id),
		DomainName: aws.ToString(o.DomainName),
		OriginPath: aws.ToString(o.OriginPath),
		S3:         o.S3OriginConfig != nil,
		VPC:        o.VpcOriginConfig != nil,
	}
	if c := o.CustomOriginConfig; c != nil {
		custom := &snapshot.CloudFrontCustomOrigin{
			ProtocolPolicy: string(c.OriginProtocolPolicy),
			HTTPPort:       aws.ToInt32(c.HTTPPort),
			HTTPSPort:      aws.ToInt32(c.HTTPSPort),
		}
		if c.OriginSslProtocols != nil {
			custom.SSLProtocols = []string{}
			for _, p := range c.OriginSslProtocols.Items {
				custom.SSLProtocols = append(custom.SSLProtocols, string(p))
			}
		}
		out.Custom = custom
	}
	return out
}

// readPolicy reads one response headers policy; a failure leaves it
// unknown with the reason (a managed policy is read the same way).
func readPolicy(ctx context.Context, api API, rec *collect.Recorder, id string) snapshot.Fact[snapshot.ResponseHeadersPolicy] {
	out, err := api.GetResponseHeadersPolicy(ctx, &cloudfront.GetResponseHeadersPolicyInput{Id: aws.String(id)})
	if err != nil {
		rec.Fail("GetResponseHeadersPolicy", id, err)
		return snapshot.UnknownFact[snapshot.ResponseHeadersPolicy](collect.Reason("GetResponseHeadersPolicy", err))
	}
	p := snapshot.ResponseHeadersPolicy{ID: id}
	if out.ResponseHeadersPolicy == nil || out.ResponseHeadersPolicy.ResponseHeadersPolicyConfig == nil {
		return snapshot.UnknownFact[snapshot.ResponseHeadersPolicy](rec.Incomplete("GetResponseHeadersPolicy", id, "policy configuration"))
	}
	cfg := out.ResponseHeadersPolicy.ResponseHeadersPolicyConfig
	p.Name = aws.ToString(cfg.Name)
	if sec := cfg.SecurityHeadersConfig; sec != nil && sec.StrictTransportSecurity != nil {
		h := sec.StrictTransportSecurity
		if h.AccessControlMaxAgeSec == nil {
			// A required field: its absence is not max-age=0.
			return snapshot.UnknownFact[snapshot.ResponseHeadersPolicy](rec.Incomplete("GetResponseHeadersPolicy", id, "Strict-Transport-Security max-age"))
		}
		p.HSTS = &snapshot.StrictTransportSecurity{
			MaxAgeSeconds:     int64(aws.ToInt32(h.AccessControlMaxAgeSec)),
			IncludeSubdomains: aws.ToBool(h.IncludeSubdomains),
			Preload:           aws.ToBool(h.Preload),
			Override:          aws.ToBool(h.Override),
		}
	}
	if p.HSTS == nil && cfg.CustomHeadersConfig != nil {
		for _, h := range cfg.CustomHeadersConfig.Items {
			if strings.EqualFold(aws.ToString(h.Header), "Strict-Transport-Security") {
				p.HSTS = parseHSTS(aws.ToString(h.Value))
				p.HSTS.Override = aws.ToBool(h.Override)
			}
		}
	}
	return snapshot.KnownFact(p)
}

// parseHSTS reads a Strict-Transport-Security header value
// ("max-age=31536000; includeSubDomains; preload"). A value without exactly
// one max-age of decimal seconds is marked MaxAgeInvalid: browsers ignore it
// (RFC 6797 6.1, 8.1), so it must not read as max-age=0 or as valid.
func parseHSTS(value string) *snapshot.StrictTransportSecurity {
	h := &snapshot.StrictTransportSecurity{FromCustomHeader: true, Value: value}
	maxAges := 0
	for _, part := range strings.Split(value, ";") {
		part = strings.TrimSpace(part)
		name, v, _ := strings.Cut(part, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "max-age":
			maxAges++
			n, ok := deltaSeconds(v)
			h.MaxAgeSeconds = n
			h.MaxAgeInvalid = h.MaxAgeInvalid || !ok
		case "includesubdomains":
			h.IncludeSubdomains = true
		case "preload":
			h.Preload = true
		}
	}
	if maxAges != 1 {
		h.MaxAgeInvalid = true
	}
	return h
}

// deltaSeconds parses an HSTS max-age value: decimal digits, optionally
// quoted. A value too large for int64 is still a valid, very long max-age.
func deltaSeconds(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return math.MaxInt64, true
	}
	return n, true
}
