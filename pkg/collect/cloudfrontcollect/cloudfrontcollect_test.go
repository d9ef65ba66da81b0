package cloudfrontcollect_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudfrontcollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

// region is deliberately not us-east-1: the CloudFront client must sign for
// us-east-1 whatever region the snapshot is for.
const region = "eu-west-1"

const securityHeadersPolicy = "67f7725c-6f97-4210-82d7-5512b31e9d03" // AWS managed, includes HSTS

// TestCollectAgainstMoto reads distributions through the real client from
// moto behind the gap-filling proxy (moto's summaries lack the
// configuration AWS returns in them), with one ListDistributions and one
// GetResponseHeadersPolicy per distinct policy.
func TestCollectAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	gaps, err := gapfill.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer gaps.Close()
	ctx := context.Background()
	seedCfg, err := moto.ConfigAt(ctx, gaps.URL, "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	gaps.PutResponseHeadersPolicy("custom-no-hsts", gapfill.ResponseHeadersPolicy{Name: "cors-only"})
	cf := cloudfront.NewFromConfig(seedCfg)
	create := func(ref string, cert *cftypes.ViewerCertificate, behaviors []cftypes.CacheBehavior, policy string) string {
		cfg := &cftypes.DistributionConfig{
			CallerReference: aws.String(ref), Comment: aws.String(ref), Enabled: aws.Bool(true),
			Aliases: &cftypes.Aliases{Quantity: aws.Int32(1), Items: []string{ref + ".example.com"}},
			Origins: &cftypes.Origins{Quantity: aws.Int32(2), Items: []cftypes.Origin{
				{Id: aws.String("web"), DomainName: aws.String("origin.example.com"), CustomOriginConfig: &cftypes.CustomOriginConfig{
					HTTPPort: aws.Int32(80), HTTPSPort: aws.Int32(443), OriginProtocolPolicy: cftypes.OriginProtocolPolicyHttpsOnly,
					OriginSslProtocols: &cftypes.OriginSslProtocols{Quantity: aws.Int32(2), Items: []cftypes.SslProtocol{"TLSv1.1", "TLSv1.2"}},
				}},
				{Id: aws.String("bucket"), DomainName: aws.String("assets.s3.us-east-1.amazonaws.com"), S3OriginConfig: &cftypes.S3OriginConfig{OriginAccessIdentity: aws.String("")}},
			}},
			DefaultCacheBehavior: &cftypes.DefaultCacheBehavior{
				TargetOriginId: aws.String("web"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyRedirectToHttps,
				CachePolicyId: aws.String("658327ea-f89d-4fab-a63d-7e88639e58f6"), ResponseHeadersPolicyId: aws.String(policy),
			},
			ViewerCertificate: cert,
		}
		if len(behaviors) > 0 {
			cfg.CacheBehaviors = &cftypes.CacheBehaviors{Quantity: aws.Int32(int32(len(behaviors))), Items: behaviors}
		}
		out, err := cf.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: cfg})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Distribution.Id)
	}
	strict := create("strict", &cftypes.ViewerCertificate{
		ACMCertificateArn: aws.String("arn:aws:acm:us-east-1:123456789012:certificate/1"), SSLSupportMethod: cftypes.SSLSupportMethodSniOnly,
		MinimumProtocolVersion: cftypes.MinimumProtocolVersionTLSv122021, CloudFrontDefaultCertificate: aws.Bool(false),
	}, []cftypes.CacheBehavior{{
		PathPattern: aws.String("/img/*"), TargetOriginId: aws.String("bucket"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyAllowAll,
		CachePolicyId: aws.String("658327ea-f89d-4fab-a63d-7e88639e58f6"), ResponseHeadersPolicyId: aws.String("custom-no-hsts"),
	}}, securityHeadersPolicy)
	defaultCert := create("default-cert", &cftypes.ViewerCertificate{CloudFrontDefaultCertificate: aws.Bool(true)}, nil, securityHeadersPolicy)

	counter := awsconfig.NewCallCounter()
	cfg, err := moto.ConfigAt(ctx, gaps.URL, region, counter)
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot.New(motoserver.Account, "aws", region)
	cloudfrontcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{})

	if !snap.Complete(snapshot.CloudFront) {
		t.Fatalf("collection not complete: %v", snap.Errors)
	}
	byID := map[string]*snapshot.CloudFrontDistribution{}
	for _, d := range snap.CloudFront.Distributions {
		byID[d.ID] = d
	}
	if len(byID) != 2 {
		t.Fatalf("got %d distributions, want 2", len(byID))
	}
	s := byID[strict]
	if want := "arn:aws:cloudfront::123456789012:distribution/" + strict; s.ARN != want {
		t.Errorf("ARN %q, want %q", s.ARN, want)
	}
	if s.Name() != "strict.example.com" || !s.Enabled {
		t.Errorf("name %q enabled %v", s.Name(), s.Enabled)
	}
	if vc := s.ViewerCertificate; vc == nil || vc.CloudFrontDefault || vc.MinimumProtocolVersion != "TLSv1.2_2021" {
		t.Errorf("viewer certificate: %+v", vc)
	}
	if len(s.Origins) != 2 || s.Origins[0].Custom == nil || s.Origins[0].Custom.ProtocolPolicy != "https-only" ||
		strings.Join(s.Origins[0].Custom.SSLProtocols, ",") != "TLSv1.1,TLSv1.2" || s.Origins[1].Custom != nil || !s.Origins[1].S3 {
		t.Errorf("origins: %+v", s.Origins)
	}
	if s.DefaultBehavior == nil || s.DefaultBehavior.ViewerProtocolPolicy != "redirect-to-https" || s.DefaultBehavior.ResponseHeadersPolicyID != securityHeadersPolicy {
		t.Errorf("default behaviour: %+v", s.DefaultBehavior)
	}
	if len(s.Behaviors) != 1 || s.Behaviors[0].PathPattern != "/img/*" || s.Behaviors[0].ViewerProtocolPolicy != "allow-all" {
		t.Errorf("behaviours: %+v", s.Behaviors)
	}
	if vc := byID[defaultCert].ViewerCertificate; vc == nil || !vc.CloudFrontDefault {
		t.Errorf("default certificate: %+v", vc)
	}
	managed := snap.CloudFront.ResponseHeadersPolicies[securityHeadersPolicy]
	if !managed.Known || managed.Value.HSTS == nil || managed.Value.HSTS.MaxAgeSeconds != 31536000 {
		t.Errorf("managed policy: %+v", managed)
	}
	if custom := snap.CloudFront.ResponseHeadersPolicies["custom-no-hsts"]; !custom.Known || custom.Value.HSTS != nil || custom.Value.Name != "cors-only" {
		t.Errorf("custom policy: %+v", custom)
	}
	// Two distributions share the managed policy: it is read once.
	for op, want := range map[string]int{"ListDistributions": 1, "GetResponseHeadersPolicy": 2} {
		if got := counter.Count("CloudFront", op); got != want {
			t.Errorf("%s called %d times, want %d", op, got, want)
		}
	}
	if total := counter.Total(); total != 3 {
		t.Errorf("%d calls in all, want 3: %+v", total, counter.Snapshot())
	}

	// One distribution by ID, one by ARN: GetDistribution each, mapped
	// exactly as the listing maps its summary, then its policies.
	for _, id := range []string{strict, s.ARN} {
		counter := awsconfig.NewCallCounter()
		cfg, _ := moto.ConfigAt(ctx, gaps.URL, region, counter)
		one := snapshot.New(motoserver.Account, "aws", region)
		cloudfrontcollect.Collector{}.Collect(ctx, cfg, one, collect.Scope{ResourceIDs: []string{id}})
		if !one.Complete(snapshot.CloudFront) || one.Absent(snapshot.CloudFront, id) {
			t.Fatalf("%s: errors %v", id, one.Errors)
		}
		if len(one.CloudFront.Distributions) != 1 || !reflect.DeepEqual(one.CloudFront.Distributions[0], s) {
			for _, d := range one.CloudFront.Distributions {
				t.Errorf("%s: GetDistribution mapped\n%+v\nthe listing mapped\n%+v", id, *d, *s)
			}
		}
		if len(one.CloudFront.ResponseHeadersPolicies) != 2 {
			t.Errorf("%s: policies %+v", id, one.CloudFront.ResponseHeadersPolicies)
		}
		// 1 + its two distinct policies, and no listing.
		for op, want := range map[string]int{"GetDistribution": 1, "GetResponseHeadersPolicy": 2, "ListDistributions": 0} {
			if got := counter.Count("CloudFront", op); got != want {
				t.Errorf("%s: %s called %d times, want %d", id, op, got, want)
			}
		}
		if n := counter.Total(); n > 3 {
			t.Errorf("%s: %d calls, want at most 1 + 2 policies: %+v", id, n, counter.Snapshot())
		}
	}
}

// TestCollectScopedAgainstMoto: a distribution CloudFront answers
// NoSuchDistribution for is marked absent as named, with no error; a
// denied GetDistribution is an error naming it, never absent; a policy
// entry keeps the distributions that use the policy in any cache
// behaviour, and is never marked absent.
func TestCollectScopedAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	gaps, err := gapfill.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer gaps.Close()
	ctx := context.Background()
	seedCfg, err := moto.ConfigAt(ctx, gaps.URL, "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	gaps.PutResponseHeadersPolicy("custom-no-hsts", gapfill.ResponseHeadersPolicy{Name: "cors-only"})
	cf := cloudfront.NewFromConfig(seedCfg)
	create := func(ref, defaultPolicy, orderedPolicy string) string {
		cfg := &cftypes.DistributionConfig{
			CallerReference: aws.String(ref), Comment: aws.String(ref), Enabled: aws.Bool(true),
			Origins: &cftypes.Origins{Quantity: aws.Int32(1), Items: []cftypes.Origin{{Id: aws.String("web"), DomainName: aws.String("origin.example.com"),
				CustomOriginConfig: &cftypes.CustomOriginConfig{HTTPPort: aws.Int32(80), HTTPSPort: aws.Int32(443), OriginProtocolPolicy: cftypes.OriginProtocolPolicyHttpsOnly}}}},
			DefaultCacheBehavior: &cftypes.DefaultCacheBehavior{TargetOriginId: aws.String("web"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyHttpsOnly,
				CachePolicyId: aws.String("658327ea-f89d-4fab-a63d-7e88639e58f6"), ResponseHeadersPolicyId: aws.String(defaultPolicy)},
			ViewerCertificate: &cftypes.ViewerCertificate{CloudFrontDefaultCertificate: aws.Bool(true)},
		}
		if orderedPolicy != "" {
			cfg.CacheBehaviors = &cftypes.CacheBehaviors{Quantity: aws.Int32(1), Items: []cftypes.CacheBehavior{{
				PathPattern: aws.String("/api/*"), TargetOriginId: aws.String("web"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyHttpsOnly,
				CachePolicyId: aws.String("658327ea-f89d-4fab-a63d-7e88639e58f6"), ResponseHeadersPolicyId: aws.String(orderedPolicy),
			}}}
		}
		out, err := cf.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: cfg})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Distribution.Id)
	}
	byDefault := create("by-default", "custom-no-hsts", "")
	byOrdered := create("by-ordered", securityHeadersPolicy, "custom-no-hsts")
	create("unrelated", securityHeadersPolicy, "")

	read := func(ids ...string) (*snapshot.Snapshot, *awsconfig.CallCounter) {
		t.Helper()
		counter := awsconfig.NewCallCounter()
		cfg, err := moto.ConfigAt(ctx, gaps.URL, region, counter)
		if err != nil {
			t.Fatal(err)
		}
		snap := snapshot.New(motoserver.Account, "aws", region)
		cloudfrontcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: ids})
		return snap, counter
	}

	t.Run("absent", func(t *testing.T) {
		gone, goneARN := "E0NOSUCHDIST0", "arn:aws:cloudfront::"+motoserver.Account+":distribution/E0NOSUCHDIST1"
		otherAccount := "arn:aws:cloudfront::999999999999:distribution/" + byDefault
		snap, counter := read(gone, goneARN, otherAccount)
		if !snap.Complete(snapshot.CloudFront) || len(snap.CloudFront.Distributions) != 0 {
			t.Fatalf("errors %v, distributions %+v", snap.Errors, snap.CloudFront.Distributions)
		}
		if !snap.Absent(snapshot.CloudFront, gone) || !snap.Absent(snapshot.CloudFront, goneARN) || snap.Absent(snapshot.CloudFront, otherAccount) {
			t.Errorf("absent: %v %v %v", snap.Absent(snapshot.CloudFront, gone), snap.Absent(snapshot.CloudFront, goneARN), snap.Absent(snapshot.CloudFront, otherAccount))
		}
		if counter.Count("CloudFront", "GetDistribution") != 2 || counter.Total() != 2 {
			t.Errorf("calls: %+v", counter.Snapshot())
		}
	})

	t.Run("denied", func(t *testing.T) {
		gaps.Deny("cloudfront", "GET /2020-05-31/distribution/")
		defer gaps.Allow("cloudfront", "GET /2020-05-31/distribution/")
		snap, _ := read(byDefault, "E0NOSUCHDIST0")
		for _, id := range []string{byDefault, "E0NOSUCHDIST0"} {
			if snap.Absent(snapshot.CloudFront, id) {
				t.Errorf("%s marked absent after a denied GetDistribution", id)
			}
		}
		errs := map[string]snapshot.CollectionError{}
		for _, e := range snap.Errors[snapshot.CloudFront] {
			errs[e.Resource] = e
		}
		if len(errs) != 2 || errs[byDefault].Operation != "GetDistribution" || errs[byDefault].Code != "AccessDenied" || errs["E0NOSUCHDIST0"].Code != "AccessDenied" {
			t.Errorf("errors: %+v", snap.Errors[snapshot.CloudFront])
		}
	})

	t.Run("policy", func(t *testing.T) {
		entry, unused := "response-headers-policy/custom-no-hsts", "response-headers-policy/unused"
		snap, counter := read(entry, unused)
		if !snap.Complete(snapshot.CloudFront) {
			t.Fatalf("errors: %v", snap.Errors)
		}
		got := map[string]bool{}
		for _, d := range snap.CloudFront.Distributions {
			got[d.ID] = true
		}
		if len(got) != 2 || !got[byDefault] || !got[byOrdered] {
			t.Errorf("distributions using the policy: %v, want %s (default behaviour) and %s (ordered behaviour)", got, byDefault, byOrdered)
		}
		if snap.Absent(snapshot.CloudFront, entry) || snap.Absent(snapshot.CloudFront, unused) {
			t.Error("a policy entry is never marked absent")
		}
		for op, want := range map[string]int{"ListDistributions": 1, "GetDistribution": 0, "GetResponseHeadersPolicy": 2} {
			if n := counter.Count("CloudFront", op); n != want {
				t.Errorf("%s called %d times, want %d", op, n, want)
			}
		}

		// Named too: the distribution is read once, kept once.
		snap, _ = read(entry, byDefault)
		if len(snap.CloudFront.Distributions) != 2 {
			t.Errorf("distribution named and matched: %+v", snap.CloudFront.Distributions)
		}

		gaps.Deny("cloudfront", "GET /2020-05-31/distribution")
		defer gaps.Allow("cloudfront", "GET /2020-05-31/distribution")
		snap, _ = read(entry)
		if errs := snap.Errors[snapshot.CloudFront]; len(errs) != 1 || errs[0].Operation != "ListDistributions" || errs[0].Resource != entry || snap.Absent(snapshot.CloudFront, entry) {
			t.Errorf("denied listing for a policy entry: %+v", errs)
		}
	})
}

// fakeCloudFront speaks CloudFront's REST-XML API for ListDistributions
// (paged by MaxItems/Marker, which moto ignores) and
// GetResponseHeadersPolicy. It records the signing region of every call.
type fakeCloudFront struct {
	*httptest.Server
	n            int
	denyList     bool
	deniedPolicy string
	// policyBody, when it names a policy, is the XML inside that policy's
	// <ResponseHeadersPolicy> element, in place of the generated one.
	policyBody map[string]string

	mu      sync.Mutex
	calls   map[string]int
	regions map[string]bool
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/[^/]+/([^/]+)/cloudfront/aws4_request`)

func newFakeCloudFront(n int) *fakeCloudFront {
	f := &fakeCloudFront{n: n, calls: map[string]int{}, regions: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *fakeCloudFront) count(op string, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		f.regions[m[1]] = true
	}
}

func (f *fakeCloudFront) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func accessDenied(w http.ResponseWriter, action string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: %s</Message></Error><RequestId>fake</RequestId></ErrorResponse>`, action)
}

// policyOf gives every tenth distribution its own custom policy and the
// rest the managed SecurityHeadersPolicy, so policies are shared.
func policyOf(i int) string {
	if i%10 == 0 {
		return fmt.Sprintf("custom-%d", i/10)
	}
	return securityHeadersPolicy
}

func (f *fakeCloudFront) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/2020-05-31/distribution":
		f.count("ListDistributions", r)
		if f.denyList {
			accessDenied(w, "cloudfront:ListDistributions")
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("MaxItems"))
		if limit <= 0 || limit > 100 {
			limit = 100
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("Marker"))
		end := min(start+limit, f.n)
		var items strings.Builder
		for i := start; i < end; i++ {
			fmt.Fprintf(&items, `<DistributionSummary><Id>E%06d</Id><ARN>arn:aws:cloudfront::111122223333:distribution/E%06d</ARN><Status>Deployed</Status>`+
				`<LastModifiedTime>2025-01-01T00:00:00Z</LastModifiedTime><DomainName>d%d.cloudfront.net</DomainName><Aliases><Quantity>0</Quantity></Aliases>`+
				`<Origins><Quantity>1</Quantity><Items><Origin><Id>o</Id><DomainName>o.example.com</DomainName><CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort>`+
				`<OriginProtocolPolicy>https-only</OriginProtocolPolicy><OriginSslProtocols><Quantity>1</Quantity><Items><SslProtocol>TLSv1.2</SslProtocol></Items></OriginSslProtocols></CustomOriginConfig></Origin></Items></Origins>`+
				`<OriginGroups><Quantity>0</Quantity></OriginGroups>`+
				`<DefaultCacheBehavior><TargetOriginId>o</TargetOriginId><ViewerProtocolPolicy>https-only</ViewerProtocolPolicy><ResponseHeadersPolicyId>%s</ResponseHeadersPolicyId></DefaultCacheBehavior>`+
				`<CacheBehaviors><Quantity>0</Quantity></CacheBehaviors><Comment></Comment><PriceClass>PriceClass_All</PriceClass><Enabled>true</Enabled>`+
				`<ViewerCertificate><CloudFrontDefaultCertificate>false</CloudFrontDefaultCertificate><ACMCertificateArn>arn:aws:acm:us-east-1:111122223333:certificate/c</ACMCertificateArn>`+
				`<SSLSupportMethod>sni-only</SSLSupportMethod><MinimumProtocolVersion>TLSv1.2_2021</MinimumProtocolVersion></ViewerCertificate>`+
				`<Restrictions><GeoRestriction><RestrictionType>none</RestrictionType><Quantity>0</Quantity></GeoRestriction></Restrictions>`+
				`<WebACLId></WebACLId><HttpVersion>http2</HttpVersion><IsIPV6Enabled>true</IsIPV6Enabled><Staging>false</Staging></DistributionSummary>`,
				i, i, i, policyOf(i))
		}
		next := ""
		if end < f.n {
			next = "<NextMarker>" + strconv.Itoa(end) + "</NextMarker>"
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<?xml version="1.0"?><DistributionList xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Marker>%s</Marker>%s<MaxItems>%d</MaxItems><IsTruncated>%t</IsTruncated><Quantity>%d</Quantity><Items>%s</Items></DistributionList>`,
			r.URL.Query().Get("Marker"), next, limit, end < f.n, end-start, items.String())
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/2020-05-31/distribution/"):
		f.count("GetDistribution", r)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>unavailable</Message></Error><RequestId>fake</RequestId></ErrorResponse>`)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/2020-05-31/response-headers-policy/"):
		f.count("GetResponseHeadersPolicy", r)
		id := strings.TrimPrefix(r.URL.Path, "/2020-05-31/response-headers-policy/")
		if id == f.deniedPolicy {
			accessDenied(w, "cloudfront:GetResponseHeadersPolicy")
			return
		}
		hsts := ""
		if id == securityHeadersPolicy {
			hsts = `<SecurityHeadersConfig><StrictTransportSecurity><Override>false</Override><IncludeSubdomains>false</IncludeSubdomains><Preload>false</Preload><AccessControlMaxAgeSec>31536000</AccessControlMaxAgeSec></StrictTransportSecurity></SecurityHeadersConfig>`
		}
		custom := ""
		if id == "custom-1" { // HSTS as a custom header
			custom = `<CustomHeadersConfig><Quantity>1</Quantity><Items><ResponseHeadersPolicyCustomHeader><Header>strict-transport-security</Header><Value>max-age=63072000; includeSubDomains; preload</Value><Override>true</Override></ResponseHeadersPolicyCustomHeader></Items></CustomHeadersConfig>`
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("ETag", "E1")
		if body, ok := f.policyBody[id]; ok {
			fmt.Fprintf(w, `<?xml version="1.0"?><ResponseHeadersPolicy xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">%s</ResponseHeadersPolicy>`, body)
			return
		}
		fmt.Fprintf(w, `<?xml version="1.0"?><ResponseHeadersPolicy xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>%s</Id><LastModifiedTime>2025-01-01T00:00:00Z</LastModifiedTime><ResponseHeadersPolicyConfig><Name>%s</Name>%s%s</ResponseHeadersPolicyConfig></ResponseHeadersPolicy>`,
			id, id, hsts, custom)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func fakeConfig(t *testing.T, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, region, counter)
}

// TestCollectPaginatesAndKeepsDeniedPolicyUnknown pages through 250
// distributions (3 pages of 100), reads each distinct policy once, and
// keeps a policy whose read was denied unknown with the reason.
func TestCollectPaginatesAndKeepsDeniedPolicyUnknown(t *testing.T) {
	fake := newFakeCloudFront(250)
	fake.deniedPolicy = "custom-2"
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New("111122223333", "aws", region)
	cloudfrontcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})

	if got := len(snap.CloudFront.Distributions); got != 250 {
		t.Fatalf("got %d distributions, want 250", got)
	}
	if got := fake.Calls("ListDistributions"); got != 3 {
		t.Errorf("ListDistributions pages: %d, want 3", got)
	}
	// 25 custom policies (every tenth distribution) + the managed one.
	if got := counter.Count("CloudFront", "GetResponseHeadersPolicy"); got != 26 {
		t.Errorf("GetResponseHeadersPolicy: %d, want 26 (once per distinct policy)", got)
	}
	if len(fake.regions) != 1 || !fake.regions["us-east-1"] {
		t.Errorf("CloudFront calls signed for %v, want us-east-1 only", fake.regions)
	}
	last := snap.CloudFront.Distributions[249]
	if last.ID != "E000249" || last.ViewerCertificate == nil || last.ViewerCertificate.MinimumProtocolVersion != "TLSv1.2_2021" || last.DomainName != "d249.cloudfront.net" {
		t.Errorf("last distribution: %+v", last)
	}
	denied := snap.CloudFront.ResponseHeadersPolicies["custom-2"]
	if denied.Known {
		t.Fatalf("denied policy read as known: %+v", denied)
	}
	if want := "GetResponseHeadersPolicy failed: AccessDenied: User is not authorized to perform: cloudfront:GetResponseHeadersPolicy"; denied.Reason != want {
		t.Errorf("reason %q, want %q", denied.Reason, want)
	}
	if h := snap.CloudFront.ResponseHeadersPolicies["custom-1"].Value.HSTS; h == nil || !h.FromCustomHeader || h.MaxAgeSeconds != 63072000 || !h.IncludeSubdomains || !h.Preload || !h.Override {
		t.Errorf("HSTS from a custom header: %+v", h)
	}
	if errs := snap.Errors[snapshot.CloudFront]; len(errs) != 1 || errs[0].Operation != "GetResponseHeadersPolicy" || errs[0].Resource != "custom-2" || errs[0].Code != "AccessDenied" {
		t.Errorf("errors: %+v", errs)
	}
	if snap.Complete(snapshot.CloudFront) {
		t.Error("a denied policy read must make the scope incomplete")
	}
}

// TestCollectListDenied records the failed list and keeps no distribution.
func TestCollectListDenied(t *testing.T) {
	fake := newFakeCloudFront(3)
	fake.denyList = true
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	cloudfrontcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if len(snap.CloudFront.Distributions) != 0 {
		t.Errorf("got %d distributions after a denied list", len(snap.CloudFront.Distributions))
	}
	if errs := snap.Errors[snapshot.CloudFront]; len(errs) != 1 || errs[0].Operation != "ListDistributions" || errs[0].Resource != "" || errs[0].Code != "AccessDenied" {
		t.Errorf("errors: %+v", errs)
	}
	if fake.Calls("GetResponseHeadersPolicy") != 0 {
		t.Error("no policy may be read when the list failed")
	}
	if !snap.Collected[snapshot.CloudFront] || snap.Complete(snapshot.CloudFront) {
		t.Error("a failed list must leave CloudFront collected but incomplete")
	}
}

// TestIncompletePoliciesAreRecorded: a policy answered without its
// configuration, or with HSTS lacking its required max-age, is unknown and
// recorded as a collection error (the scope is incomplete); an HSTS custom
// header whose max-age cannot be parsed is kept, marked invalid, not read as
// max-age=0.
func TestIncompletePoliciesAreRecorded(t *testing.T) {
	fake := newFakeCloudFront(60) // custom-0 .. custom-5 and the managed policy
	custom := func(value string) string {
		return `<Id>x</Id><ResponseHeadersPolicyConfig><Name>custom</Name><CustomHeadersConfig><Quantity>1</Quantity><Items><ResponseHeadersPolicyCustomHeader>` +
			`<Header>Strict-Transport-Security</Header><Value>` + value + `</Value><Override>false</Override></ResponseHeadersPolicyCustomHeader></Items></CustomHeadersConfig></ResponseHeadersPolicyConfig>`
	}
	fake.policyBody = map[string]string{
		"custom-1": `<Id>custom-1</Id>`, // no ResponseHeadersPolicyConfig
		"custom-2": `<Id>custom-2</Id><ResponseHeadersPolicyConfig><Name>n</Name><SecurityHeadersConfig><StrictTransportSecurity><Override>false</Override></StrictTransportSecurity></SecurityHeadersConfig></ResponseHeadersPolicyConfig>`,
		"custom-3": custom("max-age=one-year; includeSubDomains"),
		"custom-4": custom("includeSubDomains; preload"),
		"custom-5": custom(`max-age="0"`),
	}
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	cloudfrontcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	policies := snap.CloudFront.ResponseHeadersPolicies

	for id, reason := range map[string]string{
		"custom-1": "GetResponseHeadersPolicy returned no policy configuration",
		"custom-2": "GetResponseHeadersPolicy returned no Strict-Transport-Security max-age",
	} {
		if p := policies[id]; p.Known || p.Reason != reason {
			t.Errorf("%s: %+v, want unknown with %q", id, p, reason)
		}
	}
	errs := snap.Errors[snapshot.CloudFront]
	if len(errs) != 2 {
		t.Fatalf("errors: %+v, want one per incomplete policy", errs)
	}
	for _, e := range errs {
		if e.Operation != "GetResponseHeadersPolicy" || e.Code != collect.IncompleteResponse || (e.Resource != "custom-1" && e.Resource != "custom-2") {
			t.Errorf("error: %+v", e)
		}
	}
	if snap.Complete(snapshot.CloudFront) {
		t.Error("an incomplete policy answer must make the scope incomplete")
	}
	for id, want := range map[string]snapshot.StrictTransportSecurity{
		"custom-3": {FromCustomHeader: true, IncludeSubdomains: true, MaxAgeInvalid: true, Value: "max-age=one-year; includeSubDomains"},
		"custom-4": {FromCustomHeader: true, IncludeSubdomains: true, Preload: true, MaxAgeInvalid: true, Value: "includeSubDomains; preload"},
		"custom-5": {FromCustomHeader: true, Value: `max-age="0"`},
	} {
		p := policies[id]
		if !p.Known || p.Value.HSTS == nil || *p.Value.HSTS != want {
			t.Errorf("%s: %+v, want HSTS %+v", id, p, want)
		}
	}
}

func TestControlRegion(t *testing.T) {
	if cloudfrontcollect.ControlRegion("aws") != "us-east-1" || cloudfrontcollect.ControlRegion("aws-cn") != "cn-northwest-1" {
		t.Error("control regions")
	}
}

// TestGetDistributionServerError: a persistent 5xx on a named
// distribution's GetDistribution is an error naming it, never an absence.
func TestGetDistributionServerError(t *testing.T) {
	fake := newFakeCloudFront(3)
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	cloudfrontcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{"E000001"}})
	errs := snap.Errors[snapshot.CloudFront]
	if len(errs) != 1 || errs[0].Operation != "GetDistribution" || errs[0].Resource != "E000001" || errs[0].Code != "ServiceUnavailable" {
		t.Errorf("errors: %+v", errs)
	}
	if snap.Absent(snapshot.CloudFront, "E000001") || len(snap.CloudFront.Distributions) != 0 || fake.Calls("ListDistributions") != 0 {
		t.Errorf("absent %v, distributions %+v, %d listings", snap.Absent(snapshot.CloudFront, "E000001"), snap.CloudFront.Distributions, fake.Calls("ListDistributions"))
	}
}
