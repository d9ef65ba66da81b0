package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/regions"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

// TestDiscoveryAgainstMoto: through the real EC2 client, discovery keeps
// what moto lists as enabled in the account's partition, and a run asked
// for every region audits exactly those, less the exclusions.
func TestDiscoveryAgainstMoto(t *testing.T) {
	srv := motoserver.Shared(t)
	cfg, err := srv.Config(context.Background(), region, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := ec2.NewFromConfig(cfg)
	raw, err := client.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var listedElsewhere, notOptedIn int
	for _, r := range raw.Regions {
		if regions.PartitionOf(*r.RegionName) != "aws" {
			listedElsewhere++
		}
		if *r.OptInStatus == "not-opted-in" {
			notOptedIn++
		}
	}
	// What makes the filter matter here: moto lists both, AWS neither.
	if listedElsewhere == 0 || notOptedIn == 0 {
		t.Fatalf("moto listed %d regions of other partitions and %d not opted in; this test expects both", listedElsewhere, notOptedIn)
	}
	enabled, err := regions.Enabled(context.Background(), client, "aws")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(enabled, "us-east-1") || !slices.Contains(enabled, "eu-west-1") {
		t.Errorf("enabled %v lacks us-east-1 or eu-west-1", enabled)
	}
	for _, r := range enabled {
		if strings.HasPrefix(r, "cn-") || strings.HasPrefix(r, "us-gov-") {
			t.Errorf("enabled lists %s, of another partition", r)
		}
	}
	if len(enabled) != len(raw.Regions)-listedElsewhere-notOptedIn {
		t.Errorf("enabled %d of %d listed (%d of other partitions, %d not opted in)", len(enabled), len(raw.Regions), listedElsewhere, notOptedIn)
	}

	r, counter := newRunner(t, srv, srv.URL)
	r.Regions, r.AllRegions, r.ExcludedRegions = nil, true, []string{"eu-west-1", "ap-south-1"}
	s, err := r.Handle(context.Background(), []byte(`{"checks":["kms.pending-deletion"],"dryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(enabled), func(r string) bool { return r == "eu-west-1" || r == "ap-south-1" })
	if !slices.Equal(s.Regions, want) {
		t.Errorf("audited %v, want the enabled regions less the excluded: %v", s.Regions, want)
	}
	if n := counter.Count("EC2", "DescribeRegions"); n != 1 {
		t.Errorf("%d DescribeRegions calls, want 1 per run", n)
	}
	if len(s.FailedScopes) != 0 {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
}

// regionsFake answers EC2 DescribeRegions as AWS does (the account's
// enabled regions, with their opt-in statuses), or with an error, and passes
// every other request on to moto (through the gap-filling proxy), noting the region it was signed for.
type regionsFake struct {
	*httptest.Server
	mu      sync.Mutex
	listed  [][2]string // name, opt-in status
	errCode string      // answer DescribeRegions with this EC2 error
	// failIn answers DescribeRegions signed for a region with an error
	// code (AuthFailure: what a region the account has not enabled says).
	failIn map[string]string
	signed map[string]int
	// signedService counts requests by "region service" (SigV4 names).
	signedService map[string]int
}

var signedRegion = regexp.MustCompile(`Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/`)

func newRegionsFake(t *testing.T, motoURL string, listed ...[2]string) *regionsFake {
	t.Helper()
	// In front of the gap-filling proxy, so every other call is answered
	// as in the other tests.
	gaps, err := gapfill.New(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gaps.Close)
	up, err := url.Parse(gaps.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := &regionsFake{listed: listed, signed: map[string]int{}, signedService: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") == "DescribeRegions" {
			f.describeRegions(w, r, form)
			return
		}
		if m := signedRegion.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			f.mu.Lock()
			f.signed[m[1]]++
			f.signedService[m[1]+" "+m[2]]++
			f.mu.Unlock()
		}
		out, _ := http.NewRequest(r.Method, up.Scheme+"://"+up.Host+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = vs
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *regionsFake) describeRegions(w http.ResponseWriter, r *http.Request, form url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	code := f.errCode
	if m := signedRegion.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		f.signedService[m[1]+" ec2:DescribeRegions"]++
		if c := f.failIn[m[1]]; c != "" {
			code = c
		}
	}
	if code != "" {
		status := http.StatusForbidden
		switch code {
		case "RequestLimitExceeded":
			status = http.StatusServiceUnavailable
		case "AuthFailure":
			status = http.StatusUnauthorized
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>fake: %s</Message></Error></Errors><RequestID>regions-fake</RequestID></Response>`, code, code)
		return
	}
	// AllRegions false: AWS lists the enabled regions only.
	wirefake.DescribeRegions(w, f.listed, form.Get("AllRegions") == "true")
}

func (f *regionsFake) signedFor() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.signed {
		out[k] = v
	}
	return out
}

// accountRegions is an account as AWS describes it: two default regions,
// one opt-in region opted in to, one not.
var accountRegions = [][2]string{
	{"us-east-1", "opt-in-not-required"}, {"eu-west-1", "opt-in-not-required"},
	{"af-south-1", "opted-in"}, {"ap-east-1", "not-opted-in"},
}

// TestAllRegionsAuditsTheOptedIn: an opted-in region is audited, one not
// opted in to is not (and never called), and an excluded one is left out.
func TestAllRegionsAuditsTheOptedIn(t *testing.T) {
	srv := motoserver.Shared(t)
	fake := newRegionsFake(t, srv.URL, accountRegions...)
	r, _ := newRunner(t, srv, fake.URL)
	r.Regions, r.AllRegions, r.ExcludedRegions = nil, true, []string{"eu-west-1"}
	s, err := r.Handle(context.Background(), []byte(`{"checks":["kms.pending-deletion"],"dryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"af-south-1", "us-east-1"}; !slices.Equal(s.Regions, want) {
		t.Errorf("audited %v, want %v", s.Regions, want)
	}
	signed := fake.signedFor()
	for _, rg := range []string{"ap-east-1", "eu-west-1"} {
		if signed[rg] > 0 {
			t.Errorf("%d calls in %s, which the run does not audit", signed[rg], rg)
		}
	}
	if signed["af-south-1"] == 0 {
		t.Errorf("no call in af-south-1, an opted-in region: %v", signed)
	}
}

// TestNamedRegionNotEnabled: a region named in the payload that the account
// has not enabled is one failed scope and one notice; nothing is read,
// published or archived there, and the other region runs as usual.
func TestNamedRegionNotEnabled(t *testing.T) {
	srv := motoserver.Shared(t)
	fake := newRegionsFake(t, srv.URL, accountRegions...)
	r, _ := newRunner(t, srv, fake.URL)
	s, err := r.Handle(context.Background(), []byte(`{"regions":["ap-east-1","us-east-1"],"checks":["kms.pending-deletion"],"dryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Regions, []string{"us-east-1"}) {
		t.Errorf("audited %v, want [us-east-1]", s.Regions)
	}
	var there []runner.Scope
	for _, sc := range s.FailedScopes {
		if sc.Region == "ap-east-1" {
			there = append(there, sc)
		}
	}
	if len(there) != 1 || len(there[0].Errors) != 1 || there[0].Errors[0].Code != runner.RegionNotEnabled || there[0].Complete {
		t.Fatalf("failed scopes in ap-east-1: %+v; want one, %s", there, runner.RegionNotEnabled)
	}
	if len(s.FailedScopes) != 1 {
		t.Errorf("failed scopes %+v, want only ap-east-1's", s.FailedScopes)
	}
	notices := 0
	for _, n := range s.Notices {
		if strings.Contains(n, "ap-east-1") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d notices name ap-east-1, want 1: %v", notices, s.Notices)
	}
	for _, rep := range append(s.WouldPublish, s.Published...) {
		if rep.Region == "ap-east-1" {
			t.Errorf("a publish plan for ap-east-1: %+v", rep)
		}
	}
	for _, f := range s.Findings {
		if f.Region == "ap-east-1" {
			t.Errorf("a finding in ap-east-1: %+v", f)
		}
	}
	if n := fake.signedFor()["ap-east-1"]; n != 0 {
		t.Errorf("%d calls in ap-east-1, which is not enabled", n)
	}
}

// TestDiscoveryFailureFailsTheRun: a denied or throttled DescribeRegions
// is the run's error, not a run of no regions: nothing is read or published.
func TestDiscoveryFailureFailsTheRun(t *testing.T) {
	srv := motoserver.Shared(t)
	for _, code := range []string{"UnauthorizedOperation", "RequestLimitExceeded"} {
		for _, payload := range []string{`{}`, `{"regions":["us-east-1"]}`, `{"regions":["all"]}`} {
			fake := newRegionsFake(t, srv.URL, accountRegions...)
			fake.errCode = code
			r, counter := newRunner(t, srv, fake.URL)
			r.Regions, r.AllRegions = nil, true
			s, err := r.Handle(context.Background(), []byte(payload))
			if err == nil || s != nil || !strings.Contains(err.Error(), "ec2:DescribeRegions") || !strings.Contains(err.Error(), code) {
				t.Errorf("%s, %s: summary %v, err %v; want the run's error naming ec2:DescribeRegions and %s", code, payload, s, err, code)
			}
			for _, c := range counter.Snapshot() {
				if c.Service != "STS" && !(c.Service == "EC2" && c.Operation == "DescribeRegions") {
					t.Errorf("%s, %s: called %s:%s after discovery failed", code, payload, c.Service, c.Operation)
				}
			}
			if n := len(fake.signedFor()); n > 1 { // STS GetCallerIdentity, in the home region
				t.Errorf("%s, %s: calls signed for %v", code, payload, fake.signedFor())
			}
		}
	}
}

// TestHomeRegionAuditedForGlobalChecks: global services (CloudFront) are
// read in the home region even when the configured regions leave it out
// (named elsewhere, or excluded from all), and only they are read there; a
// request naming its regions gets those alone; a home region the account
// has not enabled is reported, as a named one is.
func TestHomeRegionAuditedForGlobalChecks(t *testing.T) {
	// Fresh: other tests' distributions in the shared emulator would add
	// their own failed scopes.
	srv := motoserver.Fresh(t)
	const payload = `{"checks":["kms.pending-deletion","cloudfront.viewer-tls"],"dryRun":true}`
	for _, c := range []struct {
		name, payload, home string
		configure           func(*runner.Runner)
		globalIn            string // where CloudFront is read ("": nowhere)
		regional            []string
		notEnabled          string
	}{
		{"home not named", payload, "us-east-1", func(r *runner.Runner) { r.Regions = []string{"eu-west-1"} }, "us-east-1", []string{"eu-west-1"}, ""},
		{"home excluded from all", payload, "us-east-1", func(r *runner.Runner) {
			r.Regions, r.AllRegions, r.ExcludedRegions = nil, true, []string{"us-east-1"}
		}, "us-east-1", []string{"af-south-1", "eu-west-1"}, ""},
		{"home among the regions", payload, "us-east-1", func(r *runner.Runner) { r.Regions = []string{"eu-west-1", "us-east-1"} }, "us-east-1", []string{"eu-west-1", "us-east-1"}, ""},
		{"regions named by the request", `{"regions":["eu-west-1"],"checks":["kms.pending-deletion","cloudfront.viewer-tls"],"dryRun":true}`, "us-east-1",
			func(r *runner.Runner) { r.Regions = []string{"eu-west-1"} }, "", []string{"eu-west-1"}, ""},
		{"home not enabled", payload, "ap-east-1", func(r *runner.Runner) { r.Regions = []string{"eu-west-1"} }, "", []string{"eu-west-1"}, "ap-east-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newRegionsFake(t, srv.URL, accountRegions...)
			// A region the account has not enabled refuses every call, the
			// discovery's too: it is asked elsewhere.
			fake.failIn = map[string]string{"ap-east-1": "AuthFailure"}
			r, _ := newRunner(t, srv, fake.URL)
			r.HomeRegion = c.home
			c.configure(r)
			s, err := r.Handle(context.Background(), []byte(c.payload))
			if err != nil {
				t.Fatal(err)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			for _, rg := range []string{"us-east-1", "eu-west-1", "af-south-1", "ap-east-1"} {
				// CloudFront's API is signed for us-east-1, whatever the home.
				if cf := fake.signedService[rg+" cloudfront"]; (rg == c.globalIn) != (cf > 0) {
					t.Errorf("%d CloudFront calls signed for %s; want them only for %q", cf, rg, c.globalIn)
				}
				if kms := fake.signedService[rg+" kms"]; slices.Contains(c.regional, rg) != (kms > 0) {
					t.Errorf("%d KMS calls in %s; want them only in %v", kms, rg, c.regional)
				}
			}
			var failed []string
			for _, sc := range s.FailedScopes {
				for _, e := range sc.Errors {
					failed = append(failed, sc.Region+" "+e.Code)
				}
			}
			want := []string(nil)
			if c.notEnabled != "" {
				want = []string{c.notEnabled + " " + runner.RegionNotEnabled}
			}
			if !slices.Equal(failed, want) {
				t.Errorf("failed scopes %v, want %v", failed, want)
			}
		})
	}
}

// TestRecheckOfAGlobalResourceOutsideTheRegions: a CloudFront
// distribution's event is re-checked in the home region even when the
// configured regions leave it out; a regional resource of that region is
// skipped, as its sweep would not read it.
func TestRecheckOfAGlobalResourceOutsideTheRegions(t *testing.T) {
	srv := motoserver.Fresh(t)
	r, _ := newRunner(t, srv, srv.URL)
	r.Regions, r.HomeRegion = []string{"eu-west-1"}, "us-east-1"
	s, err := r.Handle(context.Background(), []byte(`{"dryRun":true,"resources":[`+
		`"arn:aws:cloudfront::`+motoserver.Account+`:distribution/E2EXAMPLE0001",`+
		`"arn:aws:kms:us-east-1:`+motoserver.Account+`:key/1234abcd-12ab-34cd-56ef-1234567890ab"]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]runner.TargetResult{}
	for _, tr := range s.Resources {
		got[string(tr.Resource.Kind)] = tr
	}
	if d := got["cloudfront-distribution"]; d.Outcome == runner.Skipped || d.Outcome == "" {
		t.Errorf("distribution: %+v, want it re-checked in the home region", d)
	}
	if k := got["kms-key"]; k.Outcome != runner.Skipped || !strings.Contains(k.Reason, "not audited") {
		t.Errorf("key in us-east-1: %+v, want it skipped (AUDIT_REGIONS eu-west-1)", k)
	}
}

// TestGlobalOnlyHomeScopePublishesOnlyGlobalChecks: a published run (not
// a dry run) whose regions leave the home region out audits the global
// checks there and archives nothing else of it: the home region's
// regional findings, made by an earlier run that audited it, stay ACTIVE.
func TestGlobalOnlyHomeScopePublishesOnlyGlobalChecks(t *testing.T) {
	srv := motoserver.Fresh(t)
	fake := newRegionsFake(t, srv.URL, accountRegions...)
	ctx := context.Background()
	home, err := srv.ConfigAt(ctx, fake.URL, "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range []string{"us-east-1", "eu-west-1"} {
		cfg, err := srv.ConfigAt(ctx, fake.URL, rg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := seed.EnableSecurityHub(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	key, err := kms.NewFromConfig(home).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("rotation off, in the home region")})
	if err != nil {
		t.Fatal(err)
	}
	const checks = `"checks":["kms.rotation","cloudfront.viewer-tls"]`
	r, _ := newRunner(t, srv, fake.URL)
	r.HomeRegion = "us-east-1"
	// An earlier run that audited the home region: the key's finding.
	r.Regions = []string{"us-east-1"}
	if _, err := r.Handle(ctx, []byte(`{`+checks+`}`)); err != nil {
		t.Fatal(err)
	}
	keyFinding := func() types.AwsSecurityFinding {
		for _, f := range hub(t, home) {
			if aws.ToString(f.GeneratorId) == "kms.rotation" && aws.ToString(f.Resources[0].Id) == aws.ToString(key.KeyMetadata.Arn) {
				return f
			}
		}
		t.Fatal("no kms.rotation finding of the key in us-east-1")
		return types.AwsSecurityFinding{}
	}
	if f := keyFinding(); f.RecordState != types.RecordStateActive {
		t.Fatalf("after the run of us-east-1: %s", f.RecordState)
	}
	// Now the regions leave the home region out: us-east-1 is audited for
	// CloudFront alone; the key's finding is neither read nor archived.
	r.Regions = []string{"eu-west-1"}
	kmsCalls := func() int {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return fake.signedService["us-east-1 kms"]
	}
	before := kmsCalls()
	s, err := r.Handle(ctx, []byte(`{`+checks+`}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := kmsCalls() - before; n != 0 {
		t.Errorf("%d KMS calls in us-east-1 by a run auditing it for global checks only", n)
	}
	if f := keyFinding(); f.RecordState != types.RecordStateActive {
		t.Errorf("the home region's kms.rotation finding is %s after a run that audited it for global checks only", f.RecordState)
	}
	for _, rep := range s.Published {
		if rep.Region == "us-east-1" && rep.Archived != 0 {
			t.Errorf("us-east-1: %d archived", rep.Archived)
		}
	}
	if !slices.Contains(s.Regions, "us-east-1") || s.Lifecycle.Archived != 0 {
		t.Errorf("regions %v, lifecycle %+v", s.Regions, s.Lifecycle)
	}
}
