package snapshot

import "time"

// CloudFrontDistributionType is the ASFF resource type of a distribution.
const CloudFrontDistributionType = "AwsCloudFrontDistribution"

// CloudFrontData is what the cloudfront collector read. CloudFront is global:
// it is collected once, into the home region's snapshot. A failed listing
// leaves Distributions empty, with the error recorded in Snapshot.Errors.
type CloudFrontData struct {
	// Distributions are every distribution of the account, from
	// ListDistributions alone: AWS returns the viewer certificate, origins
	// and cache behaviours in each summary.
	Distributions []*CloudFrontDistribution
	// ResponseHeadersPolicies are the policies the cache behaviours name, by
	// policy ID, each read once however many behaviours share it. A policy
	// that could not be read is unknown, with the reason.
	ResponseHeadersPolicies map[string]Fact[ResponseHeadersPolicy]
}

// CloudFrontDistribution is one DistributionSummary.
type CloudFrontDistribution struct {
	ID         string
	ARN        string
	DomainName string
	Aliases    []string
	Status     string
	Enabled    bool
	WebACLID   string
	// LastModified is zero when the summary omitted it.
	LastModified time.Time

	// ViewerCertificate is nil when the summary did not carry one, so the
	// viewer TLS policy is unknown.
	ViewerCertificate *CloudFrontViewerCertificate
	Origins           []CloudFrontOrigin
	// OriginGroups maps an origin group ID to its member origin IDs: a cache
	// behaviour may target a group instead of an origin.
	OriginGroups map[string][]string
	// DefaultBehavior is nil when the summary did not carry one.
	DefaultBehavior *CloudFrontBehavior
	// Behaviors are the ordered cache behaviours, in precedence order.
	Behaviors []CloudFrontBehavior
}

// CloudFrontViewerCertificate is the certificate and TLS security policy
// viewers negotiate with.
type CloudFrontViewerCertificate struct {
	// CloudFrontDefault: the *.cloudfront.net certificate, which CloudFront
	// serves with TLSv1 as the minimum whatever MinimumProtocolVersion says.
	CloudFrontDefault      bool
	MinimumProtocolVersion string
	SSLSupportMethod       string
	ACMCertificateARN      string
	IAMCertificateID       string
	CertificateSource      string
}

// CloudFrontOrigin is one origin. Exactly one of Custom, S3 and VPC is set on
// AWS; an origin with none is of a kind the collector does not know.
type CloudFrontOrigin struct {
	ID         string
	DomainName string
	OriginPath string
	// Custom is set for custom origins (including S3 website endpoints).
	Custom *CloudFrontCustomOrigin
	// S3: an S3 REST origin (S3OriginConfig); CloudFront reaches it over
	// HTTPS by itself.
	S3 bool
	// VPC: a VPC origin, whose protocol settings live on the VPC origin
	// resource, not on the distribution.
	VPC bool
}

// CloudFrontCustomOrigin is how CloudFront connects to a custom origin.
type CloudFrontCustomOrigin struct {
	// ProtocolPolicy is http-only, match-viewer or https-only.
	ProtocolPolicy string
	// SSLProtocols are the protocols CloudFront may use towards the origin
	// (SSLv3, TLSv1, TLSv1.1, TLSv1.2); nil when the summary omitted them.
	SSLProtocols []string
	HTTPPort     int32
	HTTPSPort    int32
}

// CloudFrontBehavior is one cache behaviour, default or ordered.
type CloudFrontBehavior struct {
	// PathPattern is empty for the default cache behaviour.
	PathPattern    string
	TargetOriginID string
	// ViewerProtocolPolicy is allow-all, redirect-to-https or https-only.
	ViewerProtocolPolicy string
	// ResponseHeadersPolicyID is empty when no policy is attached.
	ResponseHeadersPolicyID string
}

// Default reports the default cache behaviour.
func (b CloudFrontBehavior) Default() bool { return b.PathPattern == "" }

// Name names the behaviour in a finding: its path pattern, or "default (*)".
func (b CloudFrontBehavior) Name() string {
	if b.Default() {
		return "default (*)"
	}
	return b.PathPattern
}

// AllBehaviors returns the default behaviour (when known) and the ordered
// ones.
func (d *CloudFrontDistribution) AllBehaviors() []CloudFrontBehavior {
	var out []CloudFrontBehavior
	if d.DefaultBehavior != nil {
		out = append(out, *d.DefaultBehavior)
	}
	return append(out, d.Behaviors...)
}

// Targets reports whether behaviour b sends requests to origin originID,
// directly or through an origin group.
func (d *CloudFrontDistribution) Targets(b CloudFrontBehavior, originID string) bool {
	if b.TargetOriginID == originID {
		return true
	}
	for _, member := range d.OriginGroups[b.TargetOriginID] {
		if member == originID {
			return true
		}
	}
	return false
}

// Name is the distribution's first alternate domain name, or its ID.
func (d *CloudFrontDistribution) Name() string {
	if len(d.Aliases) > 0 {
		return d.Aliases[0]
	}
	return d.ID
}

// ResponseHeadersPolicy is the part of a response headers policy the
// checks read.
type ResponseHeadersPolicy struct {
	ID   string
	Name string
	// HSTS is nil when the policy does not add Strict-Transport-Security.
	HSTS *StrictTransportSecurity
}

// StrictTransportSecurity is a policy's HSTS header.
type StrictTransportSecurity struct {
	MaxAgeSeconds     int64
	IncludeSubdomains bool
	Preload           bool
	// Override: the policy's header replaces one the origin sends.
	Override bool
	// FromCustomHeader: set through the policy's custom headers rather than
	// its security headers (MaxAgeSeconds is then parsed from the value).
	FromCustomHeader bool
	// Value is the custom header's value as the policy sets it; empty for
	// the security headers' HSTS.
	Value string
	// MaxAgeInvalid: the custom header has no max-age, or one that is not a
	// number of seconds. Browsers ignore such a header (RFC 6797 8.1), so it
	// gives no HSTS; MaxAgeSeconds is then meaningless.
	MaxAgeInvalid bool
}
