package endpoint

import (
	"net/http"
	"strconv"
	"strings"
)

func init() { register("cloudfront", serveCloudFront) }

const (
	cloudFrontAPI       = "/2020-05-31"
	cloudFrontNamespace = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
)

func cloudFrontOperation(r *http.Request) string {
	p := r.URL.Path
	switch {
	case r.Method != http.MethodGet:
		return r.Method + " " + p
	case p == cloudFrontAPI+"/distribution":
		return "ListDistributions"
	case strings.HasPrefix(p, cloudFrontAPI+"/distribution/") && !strings.Contains(strings.TrimPrefix(p, cloudFrontAPI+"/distribution/"), "/"):
		return "GetDistribution"
	case strings.HasPrefix(p, cloudFrontAPI+"/response-headers-policy/") && !strings.Contains(strings.TrimPrefix(p, cloudFrontAPI+"/response-headers-policy/"), "/"):
		return "GetResponseHeadersPolicy"
	}
	return r.Method + " " + p
}

// serveCloudFront answers CloudFront (REST-XML, global): ListDistributions
// (MaxItems up to 100, Marker: the results after that distribution ID,
// summaries complete as AWS returns them), GetDistribution and
// GetResponseHeadersPolicy.
func serveCloudFront(q *req) {
	a := q.s.Data
	switch q.op {
	case "ListDistributions":
		size := 100
		if v := q.r.URL.Query().Get("MaxItems"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				q.invalid("InvalidArgument", "MaxItems must be a positive integer")
				return
			}
			size = min(n, 100)
		}
		start := 0
		marker := q.r.URL.Query().Get("Marker")
		if marker != "" {
			d, ok := a.DistributionIndex(marker)
			if !ok {
				q.invalid("InvalidArgument", "Invalid marker")
				return
			}
			start = d + 1
		}
		end := min(start+size, a.N.Distributions)
		var b xb
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<DistributionList xmlns="` + cloudFrontNamespace + `">`)
		b.el("Marker", marker)
		if end < a.N.Distributions {
			b.el("NextMarker", a.Distribution(end-1).ID)
		}
		b.int("MaxItems", size).bool("IsTruncated", end < a.N.Distributions).int("Quantity", end-start)
		if end > start {
			b.open("Items")
			for d := start; d < end; d++ {
				x := a.Distribution(d)
				b.open("DistributionSummary")
				b.el("Id", x.ID).el("ARN", x.ARN).el("ETag", "E"+strings.ToUpper(digest("etag", d)[:13])).el("Status", "Deployed")
				b.el("LastModifiedTime", iso(x.LastModified)).el("DomainName", x.Domain)
				distributionBody(&b, x)
				b.bool("Staging", false)
				b.close("DistributionSummary")
			}
			b.close("Items")
		}
		b.close("DistributionList")
		q.xml(b.String())
	case "GetDistribution":
		id := strings.TrimPrefix(q.r.URL.Path, cloudFrontAPI+"/distribution/")
		d, ok := a.DistributionIndex(id)
		if !ok {
			q.fail(http.StatusNotFound, "NoSuchDistribution", "The specified distribution does not exist.")
			return
		}
		x := a.Distribution(d)
		var b xb
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Distribution xmlns="` + cloudFrontNamespace + `">`)
		b.el("Id", x.ID).el("ARN", x.ARN).el("Status", "Deployed").el("LastModifiedTime", iso(x.LastModified))
		b.int("InProgressInvalidationBatches", 0).el("DomainName", x.Domain)
		b.open("DistributionConfig").el("CallerReference", "largeaccount-"+x.ID).el("DefaultRootObject", "index.html")
		distributionBody(&b, x)
		b.close("DistributionConfig").close("Distribution")
		q.w.Header().Set("ETag", "E"+strings.ToUpper(digest("etag", d)[:13]))
		q.xml(b.String())
	case "GetResponseHeadersPolicy":
		id := strings.TrimPrefix(q.r.URL.Path, cloudFrontAPI+"/response-headers-policy/")
		body, ok := responseHeadersPolicies[id]
		if !ok {
			q.fail(http.StatusNotFound, "NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")
			return
		}
		q.w.Header().Set("ETag", "E"+strings.ToUpper(digest("rhp", id)[:13]))
		q.xml(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ResponseHeadersPolicy xmlns="` + cloudFrontNamespace + `"><Id>` + id +
			`</Id><LastModifiedTime>2024-01-01T00:00:00.000Z</LastModifiedTime><ResponseHeadersPolicyConfig>` + body + `</ResponseHeadersPolicyConfig></ResponseHeadersPolicy>`)
	default:
		q.unknownOperation()
	}
}

var responseHeadersPolicies = map[string]string{
	ManagedSecurityHeaders: `<Name>Managed-SecurityHeadersPolicy</Name><Comment>Adds a set of security headers to every response</Comment><SecurityHeadersConfig>` +
		`<XSSProtection><Override>false</Override><Protection>true</Protection><ModeBlock>true</ModeBlock></XSSProtection>` +
		`<FrameOptions><Override>false</Override><FrameOption>SAMEORIGIN</FrameOption></FrameOptions>` +
		`<ReferrerPolicy><Override>false</Override><ReferrerPolicy>strict-origin-when-cross-origin</ReferrerPolicy></ReferrerPolicy>` +
		`<ContentTypeOptions><Override>true</Override></ContentTypeOptions>` +
		`<StrictTransportSecurity><Override>false</Override><IncludeSubdomains>false</IncludeSubdomains><Preload>false</Preload><AccessControlMaxAgeSec>31536000</AccessControlMaxAgeSec></StrictTransportSecurity>` +
		`</SecurityHeadersConfig>`,
	ManagedSimpleCORS: `<Name>Managed-SimpleCORS</Name><Comment>Allows all origins for simple CORS requests</Comment><CorsConfig>` +
		`<AccessControlAllowOrigins><Quantity>1</Quantity><Items><Origin>*</Origin></Items></AccessControlAllowOrigins>` +
		`<AccessControlAllowHeaders><Quantity>0</Quantity></AccessControlAllowHeaders>` +
		`<AccessControlAllowMethods><Quantity>1</Quantity><Items><Method>ALL</Method></Items></AccessControlAllowMethods>` +
		`<AccessControlAllowCredentials>false</AccessControlAllowCredentials><OriginOverride>false</OriginOverride></CorsConfig>`,
	CustomHSTSPolicy: `<Name>strict-hsts</Name><Comment>two years, subdomains, preload</Comment><SecurityHeadersConfig>` +
		`<StrictTransportSecurity><Override>true</Override><IncludeSubdomains>true</IncludeSubdomains><Preload>true</Preload><AccessControlMaxAgeSec>63072000</AccessControlMaxAgeSec></StrictTransportSecurity>` +
		`</SecurityHeadersConfig>`,
	CustomNoHSTSPolicy: `<Name>frame-options-only</Name><Comment>no HSTS</Comment><CustomHeadersConfig><Quantity>1</Quantity><Items>` +
		`<ResponseHeadersPolicyCustomHeader><Header>X-Frame-Options</Header><Value>DENY</Value><Override>true</Override></ResponseHeadersPolicyCustomHeader>` +
		`</Items></CustomHeadersConfig>`,
}

// distributionBody writes what a DistributionSummary and a
// DistributionConfig share.
func distributionBody(b *xb, x Distribution) {
	b.open("Aliases").int("Quantity", len(x.Aliases))
	if len(x.Aliases) > 0 {
		b.open("Items")
		for _, al := range x.Aliases {
			b.el("CNAME", al)
		}
		b.close("Items")
	}
	b.close("Aliases")
	b.open("Origins").int("Quantity", len(x.Origins)).open("Items")
	for _, o := range x.Origins {
		b.open("Origin").el("Id", o.ID).el("DomainName", o.Domain).el("OriginPath", "")
		b.open("CustomHeaders").int("Quantity", 0).close("CustomHeaders")
		if o.Custom {
			b.open("CustomOriginConfig").int("HTTPPort", 80).int("HTTPSPort", 443).el("OriginProtocolPolicy", o.ProtocolPolicy)
			b.open("OriginSslProtocols").int("Quantity", len(o.SSLProtocols)).open("Items")
			for _, p := range o.SSLProtocols {
				b.el("SslProtocol", p)
			}
			b.close("Items").close("OriginSslProtocols")
			b.int("OriginReadTimeout", 30).int("OriginKeepaliveTimeout", 5).close("CustomOriginConfig")
		} else {
			b.open("S3OriginConfig").el("OriginAccessIdentity", "").close("S3OriginConfig")
			b.el("OriginAccessControlId", "E"+strings.ToUpper(digest("oac", o.Domain)[:13]))
		}
		b.int("ConnectionAttempts", 3).int("ConnectionTimeout", 10)
		b.open("OriginShield").bool("Enabled", false).close("OriginShield")
		b.close("Origin")
	}
	b.close("Items").close("Origins")
	b.open("OriginGroups").int("Quantity", 0).close("OriginGroups")
	behavior(b, "DefaultCacheBehavior", "", x.Origins[0].ID, x.DefaultViewer, x.DefaultRHP)
	b.open("CacheBehaviors").int("Quantity", len(x.Behaviors))
	if len(x.Behaviors) > 0 {
		b.open("Items")
		for _, c := range x.Behaviors {
			behavior(b, "CacheBehavior", c.Path, c.Origin, c.Viewer, c.RHP)
		}
		b.close("Items")
	}
	b.close("CacheBehaviors")
	b.open("CustomErrorResponses").int("Quantity", 0).close("CustomErrorResponses")
	b.el("Comment", "synthetic distribution "+strconv.Itoa(x.Index)).el("PriceClass", "PriceClass_100").bool("Enabled", x.Enabled)
	b.open("ViewerCertificate")
	if x.DefaultCert {
		b.bool("CloudFrontDefaultCertificate", true).el("SSLSupportMethod", "vip").el("MinimumProtocolVersion", x.MinProtocol).el("CertificateSource", "cloudfront")
	} else {
		b.el("ACMCertificateArn", x.CertARN).el("SSLSupportMethod", "sni-only").el("MinimumProtocolVersion", x.MinProtocol)
		b.el("Certificate", x.CertARN).el("CertificateSource", "acm")
	}
	b.close("ViewerCertificate")
	b.open("Restrictions").open("GeoRestriction").el("RestrictionType", "none").int("Quantity", 0).close("GeoRestriction").close("Restrictions")
	b.el("WebACLId", "").el("HttpVersion", "http2").bool("IsIPV6Enabled", true)
}

func behavior(b *xb, elem, path, origin, viewer, policy string) {
	b.open(elem)
	if path != "" {
		b.el("PathPattern", path)
	}
	b.el("TargetOriginId", origin)
	b.open("TrustedSigners").bool("Enabled", false).int("Quantity", 0).close("TrustedSigners")
	b.open("TrustedKeyGroups").bool("Enabled", false).int("Quantity", 0).close("TrustedKeyGroups")
	b.el("ViewerProtocolPolicy", viewer)
	b.open("AllowedMethods").int("Quantity", 2).open("Items").el("Method", "HEAD").el("Method", "GET").close("Items")
	b.open("CachedMethods").int("Quantity", 2).open("Items").el("Method", "HEAD").el("Method", "GET").close("Items").close("CachedMethods")
	b.close("AllowedMethods")
	b.bool("SmoothStreaming", false).bool("Compress", true)
	b.open("LambdaFunctionAssociations").int("Quantity", 0).close("LambdaFunctionAssociations")
	b.open("FunctionAssociations").int("Quantity", 0).close("FunctionAssociations")
	b.el("FieldLevelEncryptionId", "").el("CachePolicyId", "658327ea-f89d-4fab-a63d-7e88639e58f6")
	if policy != "" {
		b.el("ResponseHeadersPolicyId", policy)
	}
	b.close(elem)
}
