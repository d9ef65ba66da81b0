package cloudfrontchecks

import (
	"slices"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const arn = "arn:aws:cloudfront::111122223333:distribution/E1"

// dist is a distribution that passes every check; mod breaks it.
func dist(mod func(*snapshot.CloudFrontDistribution)) *snapshot.CloudFrontDistribution {
	d := &snapshot.CloudFrontDistribution{
		ID: "E1", ARN: arn, DomainName: "d1.cloudfront.net", Status: "Deployed", Enabled: true, Aliases: []string{"www.example.com"},
		ViewerCertificate: &snapshot.CloudFrontViewerCertificate{MinimumProtocolVersion: "TLSv1.2_2021", SSLSupportMethod: "sni-only", ACMCertificateARN: "arn:aws:acm:us-east-1:111122223333:certificate/c"},
		Origins: []snapshot.CloudFrontOrigin{
			{ID: "web", DomainName: "origin.example.com", Custom: &snapshot.CloudFrontCustomOrigin{ProtocolPolicy: "https-only", SSLProtocols: []string{"TLSv1.2"}, HTTPPort: 80, HTTPSPort: 443}},
			{ID: "bucket", DomainName: "b.s3.us-east-1.amazonaws.com", S3: true},
		},
		OriginGroups:    map[string][]string{},
		DefaultBehavior: &snapshot.CloudFrontBehavior{TargetOriginID: "web", ViewerProtocolPolicy: "redirect-to-https", ResponseHeadersPolicyID: "hsts"},
		Behaviors:       []snapshot.CloudFrontBehavior{{PathPattern: "/img/*", TargetOriginID: "bucket", ViewerProtocolPolicy: "https-only", ResponseHeadersPolicyID: "hsts"}},
	}
	if mod != nil {
		mod(d)
	}
	return d
}

func snap(dists ...*snapshot.CloudFrontDistribution) *snapshot.Snapshot {
	s := snapshot.New("111122223333", "aws", "us-east-1")
	s.CloudFront.Distributions = dists
	s.CloudFront.ResponseHeadersPolicies = map[string]snapshot.Fact[snapshot.ResponseHeadersPolicy]{
		"hsts":    snapshot.KnownFact(snapshot.ResponseHeadersPolicy{ID: "hsts", Name: "Managed-SecurityHeadersPolicy", HSTS: &snapshot.StrictTransportSecurity{MaxAgeSeconds: 31536000}}),
		"cors":    snapshot.KnownFact(snapshot.ResponseHeadersPolicy{ID: "cors", Name: "cors-only"}),
		"zero":    snapshot.KnownFact(snapshot.ResponseHeadersPolicy{ID: "zero", Name: "hsts-off", HSTS: &snapshot.StrictTransportSecurity{}}),
		"garbled": snapshot.KnownFact(snapshot.ResponseHeadersPolicy{ID: "garbled", Name: "hsts-typo", HSTS: &snapshot.StrictTransportSecurity{FromCustomHeader: true, MaxAgeInvalid: true, Value: "max-age=1y"}}),
		"private": snapshot.UnknownFact[snapshot.ResponseHeadersPolicy]("GetResponseHeadersPolicy failed: AccessDenied: no"),
	}
	return s
}

type want struct {
	status   check.Status
	reason   string
	severity check.Severity
}

func assertOne(t *testing.T, got []check.Result, w *want) {
	t.Helper()
	if w == nil {
		if len(got) != 0 {
			t.Fatalf("want no result, got %+v", got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("want 1 result, got %d: %+v", len(got), got)
	}
	r := got[0]
	if r.Status != w.status || r.Reason != w.reason || r.Severity != w.severity || r.ResourceARN != arn || r.Region != "us-east-1" || r.ResourceName != "www.example.com" {
		t.Errorf("got %s %q (severity %q) on %s/%s, want %s %q (severity %q)", r.Status, r.Reason, r.Severity, r.ResourceARN, r.Region, w.status, w.reason, w.severity)
	}
	if r.Details == nil || r.Details.AwsCloudFrontDistribution == nil {
		t.Error("result carries no AwsCloudFrontDistribution details")
	}
}

func defaultParams() check.Params {
	return check.Params{MinViewerTLSPolicy: slices.Index(ViewerTLSPolicies, "TLSv1.2_2021")}
}

func TestViewerTLS(t *testing.T) {
	policy := func(p string) func(*snapshot.CloudFrontDistribution) {
		return func(d *snapshot.CloudFrontDistribution) { d.ViewerCertificate.MinimumProtocolVersion = p }
	}
	tests := []struct {
		name string
		dist *snapshot.CloudFrontDistribution
		want *want
	}{
		{"TLSv1.2_2021", dist(nil), &want{check.Passed, "viewer security policy TLSv1.2_2021", ""}},
		{"TLSv1.2_2025 is newer", dist(policy("TLSv1.2_2025")), &want{check.Passed, "viewer security policy TLSv1.2_2025", ""}},
		{"TLSv1.3_2025 is newer", dist(policy("TLSv1.3_2025")), &want{check.Passed, "viewer security policy TLSv1.3_2025", ""}},
		{"TLSv1.2_2019 is older", dist(policy("TLSv1.2_2019")), &want{check.Failed, "viewer security policy TLSv1.2_2019 is older than the minimum TLSv1.2_2021", ""}},
		{"TLSv1_2016", dist(policy("TLSv1_2016")), &want{check.Failed, "viewer security policy TLSv1_2016 is older than the minimum TLSv1.2_2021", ""}},
		{"SSLv3 is high", dist(policy("SSLv3")), &want{check.Failed, "viewer security policy SSLv3 is older than the minimum TLSv1.2_2021", check.High}},
		{"default certificate", dist(func(d *snapshot.CloudFrontDistribution) {
			d.ViewerCertificate = &snapshot.CloudFrontViewerCertificate{CloudFrontDefault: true, MinimumProtocolVersion: "TLSv1.2_2021"}
		}), &want{check.Failed, "uses the default CloudFront certificate, which allows TLSv1 whatever the distribution asks for, older than the minimum TLSv1.2_2021", ""}},
		{"unknown future policy", dist(policy("TLSv1.3_2031")), &want{check.NotAvailable, `unknown viewer security policy "TLSv1.3_2031": it cannot be ranked against TLSv1.2_2021`, ""}},
		{"no viewer certificate in summary", dist(func(d *snapshot.CloudFrontDistribution) { d.ViewerCertificate = nil }), &want{check.NotAvailable, "the distribution summary carried no viewer certificate", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertOne(t, ViewerTLS.Results(snap(tt.dist), defaultParams()), tt.want)
		})
	}
}

func TestViewerTLSThreshold(t *testing.T) {
	d := dist(func(d *snapshot.CloudFrontDistribution) { d.ViewerCertificate.MinimumProtocolVersion = "TLSv1.2_2021" })
	strict := check.Params{MinViewerTLSPolicy: slices.Index(ViewerTLSPolicies, "TLSv1.3_2025")}
	if got := ViewerTLS.Results(snap(d), strict); got[0].Status != check.Failed || got[0].Reason != "viewer security policy TLSv1.2_2021 is older than the minimum TLSv1.3_2025" {
		t.Errorf("TLSv1.2_2021 against TLSv1.3_2025: %+v", got[0])
	}
	lax := check.Params{MinViewerTLSPolicy: slices.Index(ViewerTLSPolicies, "TLSv1.2_2018")}
	d.ViewerCertificate.MinimumProtocolVersion = "TLSv1.2_2019"
	if got := ViewerTLS.Results(snap(d), lax); got[0].Status != check.Passed {
		t.Errorf("TLSv1.2_2019 against TLSv1.2_2018: %+v", got[0])
	}
	// The default certificate is ranked as TLSv1 against the threshold like
	// any policy, whatever MinimumProtocolVersion it carries.
	defaultCert := dist(func(d *snapshot.CloudFrontDistribution) {
		d.ViewerCertificate = &snapshot.CloudFrontViewerCertificate{CloudFrontDefault: true, MinimumProtocolVersion: "TLSv1.2_2021"}
	})
	for _, tt := range []struct {
		minimum string
		status  check.Status
		reason  string
	}{
		{"TLSv1", check.Passed, "uses the default CloudFront certificate, which allows TLSv1 whatever the distribution asks for"},
		{"SSLv3", check.Passed, "uses the default CloudFront certificate, which allows TLSv1 whatever the distribution asks for"},
		{"TLSv1_2016", check.Failed, "uses the default CloudFront certificate, which allows TLSv1 whatever the distribution asks for, older than the minimum TLSv1_2016"},
	} {
		got := ViewerTLS.Results(snap(defaultCert), check.Params{MinViewerTLSPolicy: slices.Index(ViewerTLSPolicies, tt.minimum)})
		if got[0].Status != tt.status || got[0].Reason != tt.reason || got[0].Severity != "" {
			t.Errorf("default certificate against %s: %s %q (severity %q), want %s %q", tt.minimum, got[0].Status, got[0].Reason, got[0].Severity, tt.status, tt.reason)
		}
	}
	// The threshold is declared by name: the environment sets it by name.
	p, err := check.ResolveParams(ViewerTLS.Thresholds, func(k string) string {
		if k == "CLOUDFRONT_MIN_VIEWER_TLS_POLICY" {
			return "TLSv1.2_2025"
		}
		return ""
	}, nil)
	if err != nil || ViewerTLSPolicies[p.Int(MinViewerTLSPolicy)] != "TLSv1.2_2025" {
		t.Errorf("resolve by name: %v %v", p, err)
	}
	if _, err := check.ResolveParams(ViewerTLS.Thresholds, func(string) string { return "" }, map[string]check.Value{MinViewerTLSPolicy: check.Named("TLSv1.4_2030")}); err == nil {
		t.Error("an unknown policy name must be refused as a threshold")
	}
}

func TestViewerHTTPS(t *testing.T) {
	tests := []struct {
		name string
		dist *snapshot.CloudFrontDistribution
		want *want
	}{
		{"all https", dist(nil), &want{check.Passed, "all 2 cache behaviours require HTTPS", ""}},
		{"default allow-all", dist(func(d *snapshot.CloudFrontDistribution) { d.DefaultBehavior.ViewerProtocolPolicy = "allow-all" }),
			&want{check.Failed, "cache behaviours allowing plain HTTP (allow-all): default (*)", ""}},
		{"ordered allow-all", dist(func(d *snapshot.CloudFrontDistribution) { d.Behaviors[0].ViewerProtocolPolicy = "allow-all" }),
			&want{check.Failed, "cache behaviours allowing plain HTTP (allow-all): /img/*", ""}},
		{"no default behaviour in summary", dist(func(d *snapshot.CloudFrontDistribution) { d.DefaultBehavior = nil }),
			&want{check.NotAvailable, "the distribution summary carried no default cache behaviour", ""}},
		{"ordered allow-all even without default", dist(func(d *snapshot.CloudFrontDistribution) {
			d.DefaultBehavior = nil
			d.Behaviors[0].ViewerProtocolPolicy = "allow-all"
		}), &want{check.Failed, "cache behaviours allowing plain HTTP (allow-all): /img/*", ""}},
		// Only redirect-to-https and https-only are HTTPS: an empty or
		// unknown policy is never taken for one.
		{"empty policy on a behaviour", dist(func(d *snapshot.CloudFrontDistribution) { d.Behaviors[0].ViewerProtocolPolicy = "" }),
			&want{check.NotAvailable, `unknown viewer protocol policy on /img/* ("")`, ""}},
		{"unknown policy on the default behaviour", dist(func(d *snapshot.CloudFrontDistribution) { d.DefaultBehavior.ViewerProtocolPolicy = "https-preferred" }),
			&want{check.NotAvailable, `unknown viewer protocol policy on default (*) ("https-preferred")`, ""}},
		{"allow-all wins over an unknown policy", dist(func(d *snapshot.CloudFrontDistribution) {
			d.DefaultBehavior.ViewerProtocolPolicy = "allow-all"
			d.Behaviors[0].ViewerProtocolPolicy = ""
		}), &want{check.Failed, `cache behaviours allowing plain HTTP (allow-all): default (*); unknown viewer protocol policy on /img/* ("")`, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertOne(t, ViewerHTTPS.Results(snap(tt.dist), nil), tt.want) })
	}
}

func TestOriginHTTPS(t *testing.T) {
	web := func(policy string) func(*snapshot.CloudFrontDistribution) {
		return func(d *snapshot.CloudFrontDistribution) { d.Origins[0].Custom.ProtocolPolicy = policy }
	}
	tests := []struct {
		name string
		dist *snapshot.CloudFrontDistribution
		want *want
	}{
		{"https-only", dist(nil), &want{check.Passed, "custom origins reached over HTTPS only: web", ""}},
		{"http-only", dist(web("http-only")), &want{check.Failed, "custom origins reachable over plain HTTP: web (http-only)", ""}},
		{"match-viewer with HTTPS viewers", dist(web("match-viewer")), &want{check.Passed, "custom origins reached over HTTPS only: web", ""}},
		{"match-viewer with an HTTP viewer", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins[0].Custom.ProtocolPolicy = "match-viewer"
			d.DefaultBehavior.ViewerProtocolPolicy = "allow-all"
		}), &want{check.Failed, "custom origins reachable over plain HTTP: web (match-viewer, HTTP viewers on default (*))", ""}},
		{"match-viewer reached through an origin group", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins[0].Custom.ProtocolPolicy = "match-viewer"
			d.OriginGroups["group"] = []string{"bucket", "web"}
			d.Behaviors[0].TargetOriginID = "group"
			d.Behaviors[0].ViewerProtocolPolicy = "allow-all"
		}), &want{check.Failed, "custom origins reachable over plain HTTP: web (match-viewer, HTTP viewers on /img/*)", ""}},
		{"HTTP viewers of another origin do not matter", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins[0].Custom.ProtocolPolicy = "match-viewer"
			d.Behaviors[0].ViewerProtocolPolicy = "allow-all" // targets the S3 origin
		}), &want{check.Passed, "custom origins reached over HTTPS only: web", ""}},
		{"S3 and VPC origins only: not applicable", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins = []snapshot.CloudFrontOrigin{{ID: "bucket", S3: true}, {ID: "vpc", VPC: true}}
		}), nil},
		{"match-viewer without the default behaviour", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins[0].Custom.ProtocolPolicy = "match-viewer"
			d.DefaultBehavior = nil
		}), &want{check.NotAvailable, "the distribution summary carried no default cache behaviour", ""}},
		{"match-viewer with an empty viewer policy", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins[0].Custom.ProtocolPolicy = "match-viewer"
			d.DefaultBehavior.ViewerProtocolPolicy = ""
		}), &want{check.NotAvailable, `origins whose use of HTTPS cannot be judged: web (match-viewer, unknown viewer protocol policy on default (*) (""))`, ""}},
		{"empty origin protocol policy", dist(web("")), &want{check.NotAvailable, `origins whose use of HTTPS cannot be judged: web (unknown origin protocol policy "")`, ""}},
		{"unknown origin protocol policy", dist(web("https-preferred")), &want{check.NotAvailable, `origins whose use of HTTPS cannot be judged: web (unknown origin protocol policy "https-preferred")`, ""}},
		{"http-only wins over an unknown policy", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins[0].Custom.ProtocolPolicy = "http-only"
			d.Origins = append(d.Origins, snapshot.CloudFrontOrigin{ID: "api", Custom: &snapshot.CloudFrontCustomOrigin{}})
		}), &want{check.Failed, `custom origins reachable over plain HTTP: web (http-only); not judged: api (unknown origin protocol policy "")`, ""}},
		{"no origins in summary", dist(func(d *snapshot.CloudFrontDistribution) { d.Origins = nil }),
			&want{check.NotAvailable, "the distribution summary carried no origins", ""}},
		{"origin of an unknown kind", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins = []snapshot.CloudFrontOrigin{{ID: "bucket", S3: true}, {ID: "new"}}
		}), &want{check.NotAvailable, "origins whose use of HTTPS cannot be judged: new (origin of a kind the auditor does not know: neither custom, S3 nor VPC)", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertOne(t, OriginHTTPS.Results(snap(tt.dist), nil), tt.want) })
	}
}

func TestOriginTLS(t *testing.T) {
	protocols := func(p ...string) func(*snapshot.CloudFrontDistribution) {
		return func(d *snapshot.CloudFrontDistribution) { d.Origins[0].Custom.SSLProtocols = p }
	}
	tests := []struct {
		name string
		dist *snapshot.CloudFrontDistribution
		want *want
	}{
		{"TLSv1.2 only", dist(nil), &want{check.Passed, "custom origins allow TLSv1.2 only: web", ""}},
		{"TLSv1.1 allowed", dist(protocols("TLSv1.1", "TLSv1.2")), &want{check.Failed, "custom origins allowing deprecated protocols: web (TLSv1.1)", ""}},
		{"TLSv1 allowed", dist(protocols("TLSv1", "TLSv1.2")), &want{check.Failed, "custom origins allowing deprecated protocols: web (TLSv1)", ""}},
		{"SSLv3 allowed is high", dist(protocols("SSLv3", "TLSv1")), &want{check.Failed, "custom origins allowing deprecated protocols: web (SSLv3, TLSv1)", check.High}},
		{"protocols not in summary", dist(func(d *snapshot.CloudFrontDistribution) { d.Origins[0].Custom.SSLProtocols = nil }),
			&want{check.NotAvailable, "the distribution summary carried no origin SSL protocols for web", ""}},
		{"http-only origin never uses TLS: not applicable", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins[0].Custom = &snapshot.CloudFrontCustomOrigin{ProtocolPolicy: "http-only", SSLProtocols: []string{"SSLv3"}}
		}), nil},
		{"S3 origins only: not applicable", dist(func(d *snapshot.CloudFrontDistribution) { d.Origins = d.Origins[1:] }), nil},
		{"no origins in summary", dist(func(d *snapshot.CloudFrontDistribution) { d.Origins = nil }),
			&want{check.NotAvailable, "the distribution summary carried no origins", ""}},
		{"origin of an unknown kind", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins = []snapshot.CloudFrontOrigin{{ID: "bucket", S3: true}, {ID: "new"}}
		}), &want{check.NotAvailable, "new: origin of a kind the auditor does not know: neither custom, S3 nor VPC", ""}},
		{"weak protocols win over an unknown origin", dist(func(d *snapshot.CloudFrontDistribution) {
			d.Origins[0].Custom.SSLProtocols = []string{"TLSv1.1", "TLSv1.2"}
			d.Origins = append(d.Origins, snapshot.CloudFrontOrigin{ID: "new"})
		}), &want{check.Failed, "custom origins allowing deprecated protocols: web (TLSv1.1)", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertOne(t, OriginTLS.Results(snap(tt.dist), nil), tt.want) })
	}
}

func TestHSTS(t *testing.T) {
	ordered := func(id string) func(*snapshot.CloudFrontDistribution) {
		return func(d *snapshot.CloudFrontDistribution) { d.Behaviors[0].ResponseHeadersPolicyID = id }
	}
	tests := []struct {
		name string
		dist *snapshot.CloudFrontDistribution
		want *want
	}{
		{"every behaviour has HSTS", dist(nil), &want{check.Passed, "every cache behaviour sends HSTS through Managed-SecurityHeadersPolicy", ""}},
		{"no policy on a behaviour", dist(ordered("")), &want{check.Failed, "cache behaviours without HSTS: /img/* (no response headers policy)", ""}},
		{"policy without HSTS", dist(ordered("cors")), &want{check.Failed, "cache behaviours without HSTS: /img/* (policy cors-only has no Strict-Transport-Security)", ""}},
		{"HSTS with max-age 0", dist(ordered("zero")), &want{check.Failed, "cache behaviours without HSTS: /img/* (policy hsts-off sets max-age=0)", ""}},
		{"HSTS with an unparseable max-age", dist(ordered("garbled")), &want{check.Failed,
			`cache behaviours without HSTS: /img/* (policy hsts-typo sets Strict-Transport-Security "max-age=1y" with a missing or unparseable max-age, which browsers ignore)`, ""}},
		{"policy unreadable", dist(ordered("private")), &want{check.NotAvailable, "response headers policy unreadable: /img/*: GetResponseHeadersPolicy failed: AccessDenied: no", ""}},
		{"a known failure wins over an unreadable policy", dist(func(d *snapshot.CloudFrontDistribution) {
			d.DefaultBehavior.ResponseHeadersPolicyID = ""
			d.Behaviors[0].ResponseHeadersPolicyID = "private"
		}), &want{check.Failed, "cache behaviours without HSTS: default (*) (no response headers policy) (and 1 behaviours whose policy could not be read)", ""}},
		{"no default behaviour in summary", dist(func(d *snapshot.CloudFrontDistribution) { d.DefaultBehavior = nil }),
			&want{check.NotAvailable, "the distribution summary carried no default cache behaviour", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertOne(t, HSTS.Results(snap(tt.dist), nil), tt.want) })
	}
}

func TestMetadata(t *testing.T) {
	for _, c := range Checks() {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if !c.Global {
			t.Errorf("%s: CloudFront checks are global", c.ID)
		}
		if got := c.Results(snap(), defaultParams()); len(got) != 0 {
			t.Errorf("%s: %d results on no distributions", c.ID, len(got))
		}
	}
	th := ViewerTLS.Thresholds[0]
	if th.Format(th.Default) != "TLSv1.2_2021" {
		t.Errorf("default viewer policy threshold: %s", th.Format(th.Default))
	}
}

func TestDetailsAndOrder(t *testing.T) {
	second := dist(func(d *snapshot.CloudFrontDistribution) {
		d.ID, d.ARN = "E0", "arn:aws:cloudfront::111122223333:distribution/E0"
	})
	got := ViewerTLS.Results(snap(dist(nil), second), defaultParams())
	if len(got) != 2 || got[0].ResourceARN != second.ARN {
		t.Fatalf("results not sorted by ID: %+v", got)
	}
	d := got[1].Details.AwsCloudFrontDistribution
	if *d.DomainName != "d1.cloudfront.net" || *d.ViewerCertificate.MinimumProtocolVersion != "TLSv1.2_2021" || *d.ViewerCertificate.CloudFrontDefaultCertificate ||
		*d.DefaultCacheBehavior.ViewerProtocolPolicy != "redirect-to-https" || len(d.CacheBehaviors.Items) != 1 ||
		len(d.Origins.Items) != 2 || *d.Origins.Items[0].CustomOriginConfig.OriginSslProtocols.Quantity != 1 || d.Origins.Items[1].S3OriginConfig == nil {
		t.Errorf("details: %+v", d)
	}
}
