package seed

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
)

func init() { register(seedCloudFront) }

const (
	// managedSecurityHeadersPolicy is AWS's managed SecurityHeadersPolicy
	// (it adds Strict-Transport-Security); managedCachingOptimized is the
	// managed CachingOptimized cache policy.
	managedSecurityHeadersPolicy = "67f7725c-6f97-4210-82d7-5512b31e9d03"
	managedCachingOptimized      = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	// demoCORSOnlyPolicy is a custom response headers policy without HSTS;
	// moto has no response headers policies, so the proxy serves it.
	demoCORSOnlyPolicy = "8f1b4c2d-3e5a-4b6c-9d7e-0a1b2c3d4e5f"
	// DemoCORSOnlyPolicy is the policy the "legacy" distribution uses.
	DemoCORSOnlyPolicy = demoCORSOnlyPolicy
)

// seedCloudFront creates two distributions. cloudfront/strict passes every
// CloudFront check: an ACM certificate with TLSv1.2_2021, HTTPS-only
// behaviours with the managed SecurityHeadersPolicy, an https-only custom
// origin limited to TLSv1.2 and an S3 origin. cloudfront/legacy fails every
// one: the default certificate (TLSv1), a default behaviour that allows
// HTTP and sends requests to a match-viewer origin accepting TLSv1 and
// TLSv1.1, and a response headers policy without HSTS.
func seedCloudFront(ctx context.Context, cfg aws.Config, d Demo, gaps *gapfill.Proxy) error {
	gaps.PutResponseHeadersPolicy(demoCORSOnlyPolicy, gapfill.ResponseHeadersPolicy{Name: "demo-cors-only"})
	c := cloudfront.NewFromConfig(cfg)
	customOrigin := func(id string, policy cftypes.OriginProtocolPolicy, protocols ...cftypes.SslProtocol) cftypes.Origin {
		return cftypes.Origin{Id: aws.String(id), DomainName: aws.String(id + ".demo.example.com"), CustomOriginConfig: &cftypes.CustomOriginConfig{
			HTTPPort: aws.Int32(80), HTTPSPort: aws.Int32(443), OriginProtocolPolicy: policy,
			OriginSslProtocols: &cftypes.OriginSslProtocols{Quantity: aws.Int32(int32(len(protocols))), Items: protocols},
		}}
	}
	for _, dist := range []struct {
		name      string
		aliases   []string
		cert      *cftypes.ViewerCertificate
		origins   []cftypes.Origin
		def       *cftypes.DefaultCacheBehavior
		behaviors []cftypes.CacheBehavior
	}{
		{
			name:    "strict",
			aliases: []string{"www.demo.example.com"},
			cert: &cftypes.ViewerCertificate{
				ACMCertificateArn: aws.String("arn:aws:acm:us-east-1:123456789012:certificate/demo-strict"), CloudFrontDefaultCertificate: aws.Bool(false),
				SSLSupportMethod: cftypes.SSLSupportMethodSniOnly, MinimumProtocolVersion: cftypes.MinimumProtocolVersionTLSv122021,
			},
			origins: []cftypes.Origin{
				customOrigin("app", cftypes.OriginProtocolPolicyHttpsOnly, cftypes.SslProtocolTLSv12),
				{Id: aws.String("assets"), DomainName: aws.String("posture-auditor-demo-assets.s3.us-east-1.amazonaws.com"), S3OriginConfig: &cftypes.S3OriginConfig{OriginAccessIdentity: aws.String("")}},
			},
			def: &cftypes.DefaultCacheBehavior{TargetOriginId: aws.String("app"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyRedirectToHttps,
				CachePolicyId: aws.String(managedCachingOptimized), ResponseHeadersPolicyId: aws.String(managedSecurityHeadersPolicy)},
			behaviors: []cftypes.CacheBehavior{{PathPattern: aws.String("/static/*"), TargetOriginId: aws.String("assets"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyHttpsOnly,
				CachePolicyId: aws.String(managedCachingOptimized), ResponseHeadersPolicyId: aws.String(managedSecurityHeadersPolicy)}},
		},
		{
			name:    "legacy",
			cert:    &cftypes.ViewerCertificate{CloudFrontDefaultCertificate: aws.Bool(true)},
			origins: []cftypes.Origin{customOrigin("legacy-app", cftypes.OriginProtocolPolicyMatchViewer, cftypes.SslProtocolTLSv1, cftypes.SslProtocolTLSv11, cftypes.SslProtocolTLSv12)},
			def: &cftypes.DefaultCacheBehavior{TargetOriginId: aws.String("legacy-app"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyAllowAll,
				CachePolicyId: aws.String(managedCachingOptimized), ResponseHeadersPolicyId: aws.String(demoCORSOnlyPolicy)},
		},
	} {
		config := &cftypes.DistributionConfig{
			CallerReference: aws.String("posture-auditor-demo-" + dist.name), Comment: aws.String("posture-auditor demo: " + dist.name),
			Enabled: aws.Bool(true), ViewerCertificate: dist.cert, DefaultCacheBehavior: dist.def,
			Origins: &cftypes.Origins{Quantity: aws.Int32(int32(len(dist.origins))), Items: dist.origins},
			Aliases: &cftypes.Aliases{Quantity: aws.Int32(int32(len(dist.aliases))), Items: dist.aliases},
		}
		if len(dist.behaviors) > 0 {
			config.CacheBehaviors = &cftypes.CacheBehaviors{Quantity: aws.Int32(int32(len(dist.behaviors))), Items: dist.behaviors}
		}
		out, err := c.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: config})
		if err != nil {
			return fmt.Errorf("create distribution %s: %w", dist.name, err)
		}
		d["cloudfront/"+dist.name] = aws.ToString(out.Distribution.ARN)
	}
	return nil
}
