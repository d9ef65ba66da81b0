package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

const cloudFrontAndCloudTrailChecks = `"cloudfront.viewer-tls","cloudfront.viewer-https","cloudfront.origin-https","cloudfront.origin-tls","cloudfront.hsts",` +
	`"cloudtrail.encryption","cloudtrail.log-validation","cloudtrail.multi-region-logging"`

type verdict struct {
	status   check.Status
	severity string
}

func verdicts(t *testing.T, s *runner.Summary) map[string]verdict {
	t.Helper()
	got := map[string]verdict{}
	for _, f := range s.Findings {
		got[f.CheckID+" "+f.ResourceARN] = verdict{f.Status, f.Severity}
	}
	return got
}

// TestDemoCloudFrontAndCloudTrail runs the CloudFront and CloudTrail checks
// over the demo account: every check gives a PASSED and a FAILED (the
// account-wide multi-region-logging passes in the demo and fails once the
// demo's only multi-region trail stops), with the calls AWS would need:
// one ListDistributions, one GetResponseHeadersPolicy per distinct policy,
// DescribeTrails once per collection, and status and selectors for the one
// multi-region trail only.
func TestDemoCloudFrontAndCloudTrail(t *testing.T) {
	acct := seedDemo(t)
	demo := acct.demo
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"checks":[`+cloudFrontAndCloudTrailChecks+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := verdicts(t, s)
	for _, f := range s.Findings {
		if f.Status == check.NotAvailable {
			t.Errorf("%s %s: NOT_AVAILABLE: %s", f.CheckID, f.ResourceName, f.Reason)
		}
	}
	account := "AWS::::Account:123456789012"
	strict, legacy := demo["cloudfront/strict"], demo["cloudfront/legacy"]
	if !strings.HasPrefix(strict, "arn:aws:cloudfront::123456789012:distribution/") {
		t.Fatalf("distribution ARN %q", strict)
	}
	want := map[string]verdict{
		"cloudfront.viewer-tls " + strict:                         {check.Passed, "INFORMATIONAL"},
		"cloudfront.viewer-tls " + legacy:                         {check.Failed, "MEDIUM"},
		"cloudfront.viewer-https " + strict:                       {check.Passed, "INFORMATIONAL"},
		"cloudfront.viewer-https " + legacy:                       {check.Failed, "MEDIUM"},
		"cloudfront.origin-https " + strict:                       {check.Passed, "INFORMATIONAL"},
		"cloudfront.origin-https " + legacy:                       {check.Failed, "MEDIUM"},
		"cloudfront.origin-tls " + strict:                         {check.Passed, "INFORMATIONAL"},
		"cloudfront.origin-tls " + legacy:                         {check.Failed, "MEDIUM"},
		"cloudfront.hsts " + strict:                               {check.Passed, "INFORMATIONAL"},
		"cloudfront.hsts " + legacy:                               {check.Failed, "LOW"},
		"cloudtrail.encryption " + demo["cloudtrail/main"]:        {check.Passed, "INFORMATIONAL"},
		"cloudtrail.encryption " + demo["cloudtrail/plain"]:       {check.Failed, "MEDIUM"},
		"cloudtrail.encryption " + demo["cloudtrail/retired-key"]: {check.Failed, "HIGH"},
		"cloudtrail.log-validation " + demo["cloudtrail/main"]:    {check.Passed, "INFORMATIONAL"},
		"cloudtrail.log-validation " + demo["cloudtrail/plain"]:   {check.Failed, "LOW"},
		"cloudtrail.multi-region-logging " + account:              {check.Passed, "INFORMATIONAL"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	if len(s.Findings) != 17 {
		t.Errorf("%d findings, want 17 (10 CloudFront, 7 CloudTrail): %+v", len(s.Findings), got)
	}
	if len(s.FailedScopes) != 0 {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
	if len(s.Published) != 1 || s.Published[0].Imported != len(s.Findings) || len(s.Published[0].Failed) != 0 {
		t.Errorf("published: %+v (findings %d)", s.Published, len(s.Findings))
	}
	for _, c := range []struct {
		service, op string
		want        int
	}{
		{"CloudFront", "ListDistributions", 1},
		{"CloudFront", "GetResponseHeadersPolicy", 2}, // the managed policy (shared) and the custom one
		{"CloudTrail", "DescribeTrails", 2},           // the region's trails, and the account-wide view
		{"CloudTrail", "GetTrailStatus", 1},           // the one multi-region trail
		{"CloudTrail", "GetEventSelectors", 1},
	} {
		if n := counter.Count(c.service, c.op); n != c.want {
			t.Errorf("%s:%s called %d times, want %d", c.service, c.op, n, c.want)
		}
	}

	// The viewer TLS threshold is a policy name, overridable per run.
	s, err = r.Handle(context.Background(), []byte(`{"checks":["cloudfront.viewer-tls"],"dryRun":true,"thresholds":{"cloudfrontMinViewerTlsPolicy":"TLSv1.3_2025"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v := verdicts(t, s)["cloudfront.viewer-tls "+strict]; v.status != check.Failed {
		t.Errorf("TLSv1.2_2021 against a TLSv1.3_2025 minimum: %+v", v)
	}
	for _, bad := range []string{`"TLSv1.4_2031"`, `6`} {
		if _, err := r.Handle(context.Background(), []byte(`{"checks":["cloudfront.viewer-tls"],"dryRun":true,"thresholds":{"cloudfrontMinViewerTlsPolicy":`+bad+`}}`)); err == nil ||
			!strings.Contains(err.Error(), "is not one of SSLv3, TLSv1,") {
			t.Errorf("threshold %s: err %v", bad, err)
		}
	}

	// The only multi-region trail stops logging: the account fails.
	cfg, err := acct.srv.ConfigAt(context.Background(), acct.endpoint, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloudtrail.NewFromConfig(cfg).StopLogging(context.Background(), &cloudtrail.StopLoggingInput{Name: aws.String("demo-main")}); err != nil {
		t.Fatal(err)
	}
	s, err = r.Handle(context.Background(), []byte(`{"checks":["cloudtrail.multi-region-logging"],"dryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Findings) != 1 || s.Findings[0].ResourceARN != account || s.Findings[0].Status != check.Failed || s.Findings[0].Severity != "HIGH" ||
		s.Findings[0].Reason != "no multi-region trail logs all management events: demo-main: not logging" {
		t.Errorf("after StopLogging: %+v", s.Findings)
	}

	// Its status cannot be read: no verdict, and the scope is incomplete.
	acct.gaps.Deny("cloudtrail", "GetTrailStatus")
	s, err = r.Handle(context.Background(), []byte(`{"checks":["cloudtrail.multi-region-logging"],"dryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Findings) != 1 || s.Findings[0].Status != check.NotAvailable || !strings.Contains(s.Findings[0].Reason, "GetTrailStatus failed: AccessDeniedException") {
		t.Errorf("status denied: %+v", s.Findings)
	}
	if len(s.FailedScopes) != 1 || s.FailedScopes[0].CheckID != "cloudtrail.multi-region-logging" {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
}

// TestCloudFrontDeniedListing: a denied ListDistributions gives no CloudFront
// finding, and marks every CloudFront scope incomplete (nothing archived).
func TestCloudFrontDeniedListing(t *testing.T) {
	acct := seedDemo(t)
	acct.gaps.Deny("cloudfront", "GET /2020-05-31/distribution")
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"checks":["cloudfront.viewer-tls","cloudfront.hsts"],"dryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Findings) != 0 {
		t.Errorf("findings after a denied listing: %+v", s.Findings)
	}
	if len(s.FailedScopes) != 2 {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
	if n := counter.Count("CloudFront", "GetResponseHeadersPolicy"); n != 0 {
		t.Errorf("GetResponseHeadersPolicy called %d times after a denied listing", n)
	}
}
