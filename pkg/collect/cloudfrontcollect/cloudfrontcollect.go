// Package cloudfrontcollect reads the account's CloudFront distributions:
// ListDistributions (whose summaries carry the viewer certificate, origins
// and cache behaviours, so no distribution is described), then
// GetResponseHeadersPolicy once per distinct policy the behaviours name.
package cloudfrontcollect

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
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
}

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

// Collect implements collect.Collector. A scope restricted to resource IDs
// (distribution IDs or ARNs) still lists, then keeps only those: the list
// is what carries the configuration, and GetDistribution would need a
// permission a full scan does not.
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(awsconfig.ForRegion(cfg, ControlRegion(snap.Partition)))
	rec := collect.NewRecorder(snap, snapshot.CloudFront)
	snap.CloudFront.ResponseHeadersPolicies = map[string]snapshot.Fact[snapshot.ResponseHeadersPolicy]{}

	dists, err := listDistributions(ctx, api)
	if err != nil {
		rec.Fail("ListDistributions", "", err)
		return
	}
	if !scope.All() {
		dists = restrict(dists, scope.ResourceIDs)
	}
	snap.CloudFront.Distributions = dists

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
			out = append(out, distribution(s))
		}
	}
	return out, nil
}

func restrict(dists []*snapshot.CloudFrontDistribution, ids []string) []*snapshot.CloudFrontDistribution {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []*snapshot.CloudFrontDistribution
	for _, d := range dists {
		if want[d.ID] || want[d.ARN] {
			out = append(out, d)
		}
	}
	return out
}

// distribution maps one DistributionSummary.
func distribution(s cftypes.DistributionSummary) *snapshot.CloudFrontDistribution {
	d := &snapshot.CloudFrontDistribution{
		ID:           aws.ToString(s.Id),
		ARN:          aws.ToString(s.ARN),
		DomainName:   aws.ToString(s.DomainName),
		Status:       aws.ToString(s.Status),
		Enabled:      aws.ToBool(s.Enabled),
		WebACLID:     aws.ToString(s.WebACLId),
		LastModified: aws.ToTime(s.LastModifiedTime),
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
