package awsconfig_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
)

func acmClient(t *testing.T, o awsconfig.Options) *acm.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"CertificateSummaryList":[]}`))
	}))
	t.Cleanup(srv.Close)
	o.Region, o.EndpointURL = "eu-west-1", srv.URL
	o.Credentials = credentials.NewStaticCredentialsProvider("testing", "testing", "")
	cfg, err := awsconfig.Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return acm.NewFromConfig(cfg)
}

// TestLoadPacesByDefault: a config built without a Pacer still paces at
// pace.DefaultFraction (ListCertificates at 90% of 8/s, burst 1: the
// second call waits 139 ms); pace.Off() does not.
func TestLoadPacesByDefault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pacer *pace.Pacer
		paced bool
	}{{"default", nil, true}, {"off", pace.Off(), false}} {
		c := acmClient(t, awsconfig.Options{Pacer: tc.pacer})
		start := time.Now()
		for range 2 {
			if _, err := c.ListCertificates(context.Background(), &acm.ListCertificatesInput{}); err != nil {
				t.Fatal(err)
			}
		}
		fraction := pace.DefaultFraction
		if d, wait := time.Since(start), time.Duration(float64(time.Second)/(8*fraction)); tc.paced && d < wait {
			t.Errorf("%s: two ListCertificates in %v; at %v of 8/s the second waits %v", tc.name, d, pace.DefaultFraction, wait)
		}
		if tc.paced {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // paced, 20 calls take 3 s
		for range 20 {
			if _, err := c.ListCertificates(ctx, &acm.ListCertificatesInput{}); err != nil {
				t.Errorf("%s: %v", tc.name, err)
				break
			}
		}
		cancel()
	}
}

// TestConfigsOfOneAccountShareBuckets: configs built on one Pacer for two
// accounts (PaceKey; a RoleARN's account by default, see TestPaceKey) draw
// on two accounts' buckets, and two configs of one account on one.
func TestConfigsOfOneAccountShareBuckets(t *testing.T) {
	p, err := pace.New(0.01) // ListCertificates: one every 12.5 s
	if err != nil {
		t.Fatal(err)
	}
	call := func(c *acm.Client) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.ListCertificates(ctx, &acm.ListCertificatesInput{})
		return err
	}
	a := acmClient(t, awsconfig.Options{Pacer: p, PaceKey: "111111111111"})
	b := acmClient(t, awsconfig.Options{Pacer: p, PaceKey: "222222222222"})
	if err := call(a); err != nil {
		t.Fatal(err)
	}
	if err := call(b); err != nil {
		t.Errorf("another account's first call held back: %v", err)
	}
	if err := call(acmClient(t, awsconfig.Options{Pacer: p, PaceKey: "111111111111"})); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second config of the first account: %v; want it to share the account's bucket", err)
	}
}
