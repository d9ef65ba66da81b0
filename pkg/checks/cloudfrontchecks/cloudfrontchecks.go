// Package cloudfrontchecks holds the checks on CloudFront distributions: the
// TLS viewers and origins negotiate, HTTPS on every cache behaviour and
// towards every custom origin, and HSTS. CloudFront is global: every check
// here is evaluated once, in the home region.
package cloudfrontchecks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Checks are this package's checks, in registry order.
func Checks() []check.Check {
	return []check.Check{ViewerTLS, ViewerHTTPS, OriginHTTPS, OriginTLS, HSTS}
}

// ViewerTLSPolicies are CloudFront's viewer security policies, weakest
// first. A policy not listed here (one AWS adds later) cannot be ordered
// and is reported NOT_AVAILABLE, never guessed.
var ViewerTLSPolicies = []string{
	"SSLv3", "TLSv1", "TLSv1_2016", "TLSv1.1_2016", "TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025",
}

// MinViewerTLSPolicy is the threshold name for cloudfront.viewer-tls: the
// weakest viewer security policy that passes, by name.
const MinViewerTLSPolicy = "cloudfrontMinViewerTlsPolicy"

// defaultCertificatePolicy is what CloudFront enforces on its default
// *.cloudfront.net certificate, whatever the distribution asks for.
const defaultCertificatePolicy = "TLSv1"

var (
	findingTypes = []string{"Software and Configuration Checks/AWS Security Best Practices"}
	inTransit    = []string{"NIST.800-53.r5 SC-8", "NIST.800-53.r5 SC-8(1)", "NIST.800-53.r5 SC-13", "NIST.800-53.r5 SC-23", "PCI DSS v4.0.1/4.2.1"}
	services     = []snapshot.Service{snapshot.CloudFront}
)

// ViewerTLS is cloudfront.viewer-tls (Security Hub CloudFront.15 and
// CloudFront.7).
var ViewerTLS = check.Check{
	ID:    "cloudfront.viewer-tls",
	Title: "CloudFront distributions require a modern TLS security policy from viewers",
	Description: "A distribution's viewer security policy sets the oldest TLS version and ciphers viewers may use. " +
		"It should be at least the configured policy (default TLSv1.2_2021). A distribution on the default " +
		"*.cloudfront.net certificate is held to TLSv1 whatever it asks for, so it is ranked as TLSv1 (and fails " +
		"the default minimum).",
	Rule: "a distribution's viewer security policy (`MinimumProtocolVersion`) is at least " +
		"`cloudfrontMinViewerTlsPolicy` (default `TLSv1.2_2021`), in the order SSLv3 < TLSv1 < " +
		"TLSv1_2016 < TLSv1.1_2016 < TLSv1.2_2018 < TLSv1.2_2019 < TLSv1.2_2021 < TLSv1.2_2025 < " +
		"TLSv1.3_2025. The default `*.cloudfront.net` certificate is held to TLSv1 and ranked as " +
		"TLSv1 against the minimum (FAILED with the default minimum). SSLv3 is HIGH. A policy name " +
		"not in that list is NOT_AVAILABLE (not guessed). Global: evaluated once, in the home region.",
	Severity:     check.Medium,
	ResourceType: snapshot.CloudFrontDistributionType,
	Types:        findingTypes,
	Remediation: "Serve the distribution with a custom certificate (ACM, us-east-1) and set the viewer certificate's " +
		"MinimumProtocolVersion to TLSv1.2_2021 or newer (aws cloudfront update-distribution).",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-viewer-protocols-ciphers.html",
	SecurityHubControls: []string{"CloudFront.15", "CloudFront.7"},
	RelatedRequirements: inTransit,
	Services:            services,
	Global:              true,
	Thresholds: []check.Threshold{{
		Name: MinViewerTLSPolicy, Env: "CLOUDFRONT_MIN_VIEWER_TLS_POLICY", Parameter: "CloudFrontMinViewerTlsPolicy",
		Choices: ViewerTLSPolicies, Default: slices.Index(ViewerTLSPolicies, "TLSv1.2_2021"), Min: 0, Max: len(ViewerTLSPolicies) - 1,
		Description: "weakest viewer security policy (MinimumProtocolVersion) that passes, by name",
	}},
	Evaluate: evaluateViewerTLS,
}

func evaluateViewerTLS(s *snapshot.Snapshot, p check.Params) []check.Result {
	minimum := p.Int(MinViewerTLSPolicy)
	var out []check.Result
	for _, d := range sorted(s) {
		r := result(s, d)
		vc := d.ViewerCertificate
		policy := ""
		if vc != nil {
			policy = vc.MinimumProtocolVersion
		}
		rank := slices.Index(ViewerTLSPolicies, policy)
		switch {
		case vc == nil:
			r.Status, r.Reason = check.NotAvailable, "the distribution summary carried no viewer certificate"
		case vc.CloudFrontDefault:
			// Ranked like any policy: TLSv1, whatever the distribution asks for.
			r.Reason = "uses the default CloudFront certificate, which allows " + defaultCertificatePolicy + " whatever the distribution asks for"
			if slices.Index(ViewerTLSPolicies, defaultCertificatePolicy) < minimum {
				r.Status = check.Failed
				r.Reason += ", older than the minimum " + ViewerTLSPolicies[minimum]
			} else {
				r.Status = check.Passed
			}
		case rank < 0:
			r.Status = check.NotAvailable
			r.Reason = fmt.Sprintf("unknown viewer security policy %q: it cannot be ranked against %s", policy, ViewerTLSPolicies[minimum])
		case rank < minimum:
			r.Status = check.Failed
			r.Reason = fmt.Sprintf("viewer security policy %s is older than the minimum %s", policy, ViewerTLSPolicies[minimum])
			if rank == 0 {
				r.Severity = check.High // SSLv3
			}
		default:
			r.Status, r.Reason = check.Passed, "viewer security policy "+policy
		}
		out = append(out, r)
	}
	return out
}

// ViewerHTTPS is cloudfront.viewer-https (Security Hub CloudFront.3).
var ViewerHTTPS = check.Check{
	ID:    "cloudfront.viewer-https",
	Title: "CloudFront distributions require HTTPS from viewers on every cache behaviour",
	Description: "Every cache behaviour, the default one and each ordered one, should redirect HTTP to HTTPS or " +
		"accept HTTPS only. A behaviour with viewer protocol policy allow-all serves content over plain HTTP.",
	Rule: "every cache behaviour, default or ordered, has viewer protocol policy `redirect-to-https` or " +
		"`https-only`: `allow-all` FAILED, naming the behaviours; an empty or unknown policy " +
		"NOT_AVAILABLE",
	Severity:     check.Medium,
	ResourceType: snapshot.CloudFrontDistributionType,
	Types:        findingTypes,
	Remediation: "Set ViewerProtocolPolicy to redirect-to-https or https-only on the default cache behaviour and on " +
		"every ordered cache behaviour.",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-https-viewers-to-cloudfront.html",
	SecurityHubControls: []string{"CloudFront.3"},
	RelatedRequirements: inTransit,
	Services:            services,
	Global:              true,
	Evaluate:            evaluateViewerHTTPS,
}

func evaluateViewerHTTPS(s *snapshot.Snapshot, _ check.Params) []check.Result {
	var out []check.Result
	for _, d := range sorted(s) {
		r := result(s, d)
		var plain, unknown []string
		for _, b := range d.AllBehaviors() {
			switch viewerProtocol(b.ViewerProtocolPolicy) {
			case viewerHTTP:
				plain = append(plain, b.Name())
			case viewerUnknown:
				unknown = append(unknown, fmt.Sprintf("%s (%q)", b.Name(), b.ViewerProtocolPolicy))
			}
		}
		switch {
		case len(plain) > 0:
			r.Status, r.Reason = check.Failed, "cache behaviours allowing plain HTTP (allow-all): "+strings.Join(plain, ", ")
			if len(unknown) > 0 {
				r.Reason += "; unknown viewer protocol policy on " + strings.Join(unknown, ", ")
			}
		case len(unknown) > 0:
			r.Status, r.Reason = check.NotAvailable, "unknown viewer protocol policy on "+strings.Join(unknown, ", ")
		case d.DefaultBehavior == nil:
			r.Status, r.Reason = check.NotAvailable, "the distribution summary carried no default cache behaviour"
		default:
			r.Status = check.Passed
			r.Reason = fmt.Sprintf("all %d cache behaviours require HTTPS", len(d.AllBehaviors()))
		}
		out = append(out, r)
	}
	return out
}

// OriginHTTPS is cloudfront.origin-https (Security Hub CloudFront.9).
var OriginHTTPS = check.Check{
	ID:    "cloudfront.origin-https",
	Title: "CloudFront distributions use HTTPS to their custom origins",
	Description: "Custom origins should be reached over HTTPS only: origin protocol policy https-only, or " +
		"match-viewer where every cache behaviour sending requests to that origin accepts HTTPS only from viewers " +
		"(redirect-to-https or https-only). S3 REST and VPC origins are not judged; distributions without custom " +
		"origins get no finding.",
	Rule: "every custom origin is reached over HTTPS: `https-only`, or `match-viewer` where every behaviour " +
		"targeting it (directly or through an origin group) is `redirect-to-https` or `https-only`; " +
		"`http-only` FAILED; an empty or unknown origin or viewer protocol policy, an origin of " +
		"unknown kind, or a summary without origins NOT_AVAILABLE. Distributions with only S3 REST or " +
		"VPC origins get no finding.",
	Severity:     check.Medium,
	ResourceType: snapshot.CloudFrontDistributionType,
	Types:        findingTypes,
	Remediation: "Set the custom origin's OriginProtocolPolicy to https-only (the origin needs a certificate its " +
		"domain name matches), or keep match-viewer and make every behaviour that targets it redirect to HTTPS.",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-https-cloudfront-to-custom-origin.html",
	SecurityHubControls: []string{"CloudFront.9"},
	RelatedRequirements: inTransit,
	Services:            services,
	Global:              true,
	Evaluate:            evaluateOriginHTTPS,
}

func evaluateOriginHTTPS(s *snapshot.Snapshot, _ check.Params) []check.Result {
	var out []check.Result
	for _, d := range sorted(s) {
		r := result(s, d)
		if len(d.Origins) == 0 {
			// AWS always returns a distribution's origins.
			r.Status, r.Reason = check.NotAvailable, noOrigins
			out = append(out, r)
			continue
		}
		var plain, unknown, custom []string
		for _, o := range d.Origins {
			if o.Custom == nil {
				if !o.S3 && !o.VPC {
					unknown = append(unknown, o.ID+" ("+unknownOriginKind+")")
				}
				continue
			}
			custom = append(custom, o.ID)
			switch o.Custom.ProtocolPolicy {
			case "https-only":
			case "http-only":
				plain = append(plain, o.ID+" (http-only)")
			case "match-viewer":
				var viaHTTP, unsure []string
				for _, b := range d.AllBehaviors() {
					if !d.Targets(b, o.ID) {
						continue
					}
					switch viewerProtocol(b.ViewerProtocolPolicy) {
					case viewerHTTP:
						viaHTTP = append(viaHTTP, b.Name())
					case viewerUnknown:
						unsure = append(unsure, fmt.Sprintf("%s (%q)", b.Name(), b.ViewerProtocolPolicy))
					}
				}
				if len(viaHTTP) > 0 {
					plain = append(plain, fmt.Sprintf("%s (match-viewer, HTTP viewers on %s)", o.ID, strings.Join(viaHTTP, ", ")))
				}
				if len(unsure) > 0 {
					unknown = append(unknown, fmt.Sprintf("%s (match-viewer, unknown viewer protocol policy on %s)", o.ID, strings.Join(unsure, ", ")))
				}
			default:
				unknown = append(unknown, fmt.Sprintf("%s (unknown origin protocol policy %q)", o.ID, o.Custom.ProtocolPolicy))
			}
		}
		if len(custom) == 0 && len(unknown) == 0 {
			continue // only S3 REST or VPC origins: not applicable
		}
		switch {
		case len(plain) > 0:
			r.Status, r.Reason = check.Failed, "custom origins reachable over plain HTTP: "+strings.Join(plain, "; ")
			if len(unknown) > 0 {
				r.Reason += "; not judged: " + strings.Join(unknown, "; ")
			}
		case len(unknown) > 0:
			r.Status, r.Reason = check.NotAvailable, "origins whose use of HTTPS cannot be judged: "+strings.Join(unknown, "; ")
		case d.DefaultBehavior == nil && originMatchesViewer(d):
			r.Status, r.Reason = check.NotAvailable, "the distribution summary carried no default cache behaviour"
		default:
			r.Status, r.Reason = check.Passed, "custom origins reached over HTTPS only: "+strings.Join(custom, ", ")
		}
		out = append(out, r)
	}
	return out
}

// noOrigins is the reason for a distribution whose summary had no origins:
// AWS always returns them, so their absence is missing data, not a
// distribution without origins.
const noOrigins = "the distribution summary carried no origins"

// unknownOriginKind names an origin that is neither custom, S3 nor VPC: one
// AWS added after the collector was written.
const unknownOriginKind = "origin of a kind the auditor does not know: neither custom, S3 nor VPC"

// viewerAccess is what a viewer protocol policy means for plain HTTP.
type viewerAccess int

const (
	viewerHTTPS   viewerAccess = iota // redirect-to-https, https-only
	viewerHTTP                        // allow-all
	viewerUnknown                     // empty, or a value AWS added later
)

// viewerProtocol classifies a cache behaviour's ViewerProtocolPolicy: only
// the two values known to require HTTPS count as HTTPS; anything else than
// allow-all is unknown, never taken for HTTPS.
func viewerProtocol(policy string) viewerAccess {
	switch policy {
	case "redirect-to-https", "https-only":
		return viewerHTTPS
	case "allow-all":
		return viewerHTTP
	}
	return viewerUnknown
}

func originMatchesViewer(d *snapshot.CloudFrontDistribution) bool {
	for _, o := range d.Origins {
		if o.Custom != nil && o.Custom.ProtocolPolicy == "match-viewer" {
			return true
		}
	}
	return false
}

// deprecatedOriginProtocols are the origin SSL protocols that fail
// cloudfront.origin-tls: stricter than CloudFront.10, which flags SSLv3 only.
var deprecatedOriginProtocols = []string{"SSLv3", "TLSv1", "TLSv1.1"}

// OriginTLS is cloudfront.origin-tls (Security Hub CloudFront.10, stricter).
var OriginTLS = check.Check{
	ID:    "cloudfront.origin-tls",
	Title: "CloudFront distributions do not allow deprecated TLS versions towards custom origins",
	Description: "The SSL/TLS protocols CloudFront may use with a custom origin should include none of SSLv3, " +
		"TLSv1 and TLSv1.1 (stricter than Security Hub CloudFront.10, which flags SSLv3). Origins reached over " +
		"HTTP only are judged by cloudfront.origin-https; S3 REST and VPC origins are not judged.",
	Rule: "no custom origin reached over HTTPS allows SSLv3, TLSv1 or TLSv1.1 (SSLv3: HIGH); a summary " +
		"without origins or an origin of unknown kind NOT_AVAILABLE",
	Severity:     check.Medium,
	ResourceType: snapshot.CloudFrontDistributionType,
	Types:        findingTypes,
	Remediation: "Set the custom origin's OriginSslProtocols to TLSv1.2 only (the origin must support TLS 1.2, " +
		"which every current server does).",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-ciphers-cloudfront-to-origin.html",
	SecurityHubControls: []string{"CloudFront.10"},
	RelatedRequirements: inTransit,
	Services:            services,
	Global:              true,
	Evaluate:            evaluateOriginTLS,
}

func evaluateOriginTLS(s *snapshot.Snapshot, _ check.Params) []check.Result {
	var out []check.Result
	for _, d := range sorted(s) {
		if len(d.Origins) == 0 {
			r := result(s, d)
			r.Status, r.Reason = check.NotAvailable, noOrigins
			out = append(out, r)
			continue
		}
		var judged, weak, unknown, unknownKind []string
		for _, o := range d.Origins {
			if o.Custom == nil && !o.S3 && !o.VPC {
				unknownKind = append(unknownKind, o.ID)
				continue
			}
			if o.Custom == nil || o.Custom.ProtocolPolicy == "http-only" {
				continue // no TLS towards this origin at all
			}
			judged = append(judged, o.ID)
			if o.Custom.SSLProtocols == nil {
				unknown = append(unknown, o.ID)
				continue
			}
			var bad []string
			for _, p := range o.Custom.SSLProtocols {
				if slices.Contains(deprecatedOriginProtocols, p) {
					bad = append(bad, p)
				}
			}
			if len(bad) > 0 {
				weak = append(weak, fmt.Sprintf("%s (%s)", o.ID, strings.Join(bad, ", ")))
			}
		}
		if len(judged) == 0 && len(unknownKind) == 0 {
			continue
		}
		r := result(s, d)
		switch {
		case len(weak) > 0:
			r.Status, r.Reason = check.Failed, "custom origins allowing deprecated protocols: "+strings.Join(weak, "; ")
			for _, w := range weak {
				if strings.Contains(w, "SSLv3") {
					r.Severity = check.High
				}
			}
		case len(unknown) > 0 || len(unknownKind) > 0:
			var why []string
			if len(unknown) > 0 {
				why = append(why, "the distribution summary carried no origin SSL protocols for "+strings.Join(unknown, ", "))
			}
			for _, id := range unknownKind {
				why = append(why, id+": "+unknownOriginKind)
			}
			r.Status, r.Reason = check.NotAvailable, strings.Join(why, "; ")
		default:
			r.Status, r.Reason = check.Passed, "custom origins allow TLSv1.2 only: "+strings.Join(judged, ", ")
		}
		out = append(out, r)
	}
	return out
}

// HSTS is cloudfront.hsts.
var HSTS = check.Check{
	ID:    "cloudfront.hsts",
	Title: "CloudFront distributions send Strict-Transport-Security on every cache behaviour",
	Description: "Every cache behaviour should attach a response headers policy that adds the " +
		"Strict-Transport-Security header (with a max-age above zero), so browsers never fall back to HTTP. " +
		"Managed policies such as SecurityHeadersPolicy include it.",
	Rule: "every cache behaviour has a response headers policy that adds `Strict-Transport-Security` with a " +
		"max-age above 0 (managed policies such as SecurityHeadersPolicy are read by ID like custom " +
		"ones); a behaviour without a policy, with a policy lacking HSTS, or with an HSTS custom " +
		"header whose max-age is missing or unparseable (browsers ignore such a header) is named in " +
		"the FAILED reason; an unreadable or incomplete policy is NOT_AVAILABLE. LOW.",
	Severity:     check.Low,
	ResourceType: snapshot.CloudFrontDistributionType,
	Types:        findingTypes,
	Remediation: "Attach a response headers policy with Strict-Transport-Security to every cache behaviour, e.g. " +
		"the managed SecurityHeadersPolicy (67f7725c-6f97-4210-82d7-5512b31e9d03) or a custom policy with " +
		"SecurityHeadersConfig.StrictTransportSecurity.",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-response-headers-policies.html",
	RelatedRequirements: []string{"NIST.800-53.r5 SC-8", "NIST.800-53.r5 SC-23"},
	Services:            services,
	Global:              true,
	Evaluate:            evaluateHSTS,
}

func evaluateHSTS(s *snapshot.Snapshot, _ check.Params) []check.Result {
	var out []check.Result
	for _, d := range sorted(s) {
		r := result(s, d)
		var missing, unread, names []string
		for _, b := range d.AllBehaviors() {
			id := b.ResponseHeadersPolicyID
			if id == "" {
				missing = append(missing, b.Name()+" (no response headers policy)")
				continue
			}
			policy, ok := s.CloudFront.ResponseHeadersPolicies[id]
			switch {
			case !ok:
				unread = append(unread, b.Name()+": policy "+id+" not read")
			case !policy.Known:
				unread = append(unread, b.Name()+": "+policy.Reason)
			case policy.Value.HSTS == nil:
				missing = append(missing, fmt.Sprintf("%s (policy %s has no Strict-Transport-Security)", b.Name(), policyName(policy.Value)))
			case policy.Value.HSTS.MaxAgeInvalid:
				// Browsers ignore such a header: no HSTS, for a reason read.
				missing = append(missing, fmt.Sprintf("%s (policy %s sets Strict-Transport-Security %q with a missing or unparseable max-age, which browsers ignore)",
					b.Name(), policyName(policy.Value), policy.Value.HSTS.Value))
			case policy.Value.HSTS.MaxAgeSeconds <= 0:
				missing = append(missing, fmt.Sprintf("%s (policy %s sets max-age=0)", b.Name(), policyName(policy.Value)))
			default:
				names = append(names, policyName(policy.Value))
			}
		}
		switch {
		case len(missing) > 0:
			r.Status, r.Reason = check.Failed, "cache behaviours without HSTS: "+strings.Join(missing, "; ")
			if len(unread) > 0 {
				r.Reason += fmt.Sprintf(" (and %d behaviours whose policy could not be read)", len(unread))
			}
		case len(unread) > 0:
			r.Status, r.Reason = check.NotAvailable, "response headers policy unreadable: "+strings.Join(unread, "; ")
		case d.DefaultBehavior == nil:
			r.Status, r.Reason = check.NotAvailable, "the distribution summary carried no default cache behaviour"
		default:
			slices.Sort(names)
			r.Status, r.Reason = check.Passed, "every cache behaviour sends HSTS through "+strings.Join(slices.Compact(names), ", ")
		}
		out = append(out, r)
	}
	return out
}

func policyName(p snapshot.ResponseHeadersPolicy) string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

func sorted(s *snapshot.Snapshot) []*snapshot.CloudFrontDistribution {
	out := append([]*snapshot.CloudFrontDistribution(nil), s.CloudFront.Distributions...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func result(s *snapshot.Snapshot, d *snapshot.CloudFrontDistribution) check.Result {
	return check.Result{
		ResourceARN:  d.ARN,
		ResourceName: d.Name(),
		Region:       s.Region,
		Details:      &check.ResourceDetails{AwsCloudFrontDistribution: Details(d)},
	}
}

// Details is the ASFF AwsCloudFrontDistribution details object of d.
func Details(d *snapshot.CloudFrontDistribution) *shtypes.AwsCloudFrontDistributionDetails {
	out := &shtypes.AwsCloudFrontDistributionDetails{DomainName: str(d.DomainName), Status: str(d.Status), WebAclId: str(d.WebACLID)}
	if !d.LastModified.IsZero() {
		out.LastModifiedTime = aws.String(d.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if vc := d.ViewerCertificate; vc != nil {
		out.ViewerCertificate = &shtypes.AwsCloudFrontDistributionViewerCertificate{
			CloudFrontDefaultCertificate: aws.Bool(vc.CloudFrontDefault),
			MinimumProtocolVersion:       str(vc.MinimumProtocolVersion),
			SslSupportMethod:             str(vc.SSLSupportMethod),
			AcmCertificateArn:            str(vc.ACMCertificateARN),
			IamCertificateId:             str(vc.IAMCertificateID),
			CertificateSource:            str(vc.CertificateSource),
		}
	}
	if len(d.Origins) > 0 {
		out.Origins = &shtypes.AwsCloudFrontDistributionOrigins{}
		for _, o := range d.Origins {
			item := shtypes.AwsCloudFrontDistributionOriginItem{Id: str(o.ID), DomainName: str(o.DomainName), OriginPath: str(o.OriginPath)}
			if c := o.Custom; c != nil {
				item.CustomOriginConfig = &shtypes.AwsCloudFrontDistributionOriginCustomOriginConfig{
					OriginProtocolPolicy: str(c.ProtocolPolicy), HttpPort: aws.Int32(c.HTTPPort), HttpsPort: aws.Int32(c.HTTPSPort),
				}
				if c.SSLProtocols != nil {
					item.CustomOriginConfig.OriginSslProtocols = &shtypes.AwsCloudFrontDistributionOriginSslProtocols{
						Items: c.SSLProtocols, Quantity: aws.Int32(int32(len(c.SSLProtocols))),
					}
				}
			}
			if o.S3 {
				item.S3OriginConfig = &shtypes.AwsCloudFrontDistributionOriginS3OriginConfig{}
			}
			out.Origins.Items = append(out.Origins.Items, item)
		}
	}
	if b := d.DefaultBehavior; b != nil {
		out.DefaultCacheBehavior = &shtypes.AwsCloudFrontDistributionDefaultCacheBehavior{ViewerProtocolPolicy: str(b.ViewerProtocolPolicy)}
	}
	if len(d.Behaviors) > 0 {
		out.CacheBehaviors = &shtypes.AwsCloudFrontDistributionCacheBehaviors{}
		for _, b := range d.Behaviors {
			out.CacheBehaviors.Items = append(out.CacheBehaviors.Items, shtypes.AwsCloudFrontDistributionCacheBehavior{ViewerProtocolPolicy: str(b.ViewerProtocolPolicy)})
		}
	}
	return out
}

// str is nil for an empty string, so absent fields stay out of the finding.
func str(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
