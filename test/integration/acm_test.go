package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
)

// TestDemoACM runs the ACM checks over the demo account: each gives a
// PASSED and a FAILED; the expiring certificate, served by a load balancer,
// fails one level up; renewal is read through the gap-filling proxy (moto
// has no RenewalSummary); and the scan makes one ListCertificates call and
// describes only the two issued AMAZON_ISSUED certificates.
func TestDemoACM(t *testing.T) {
	acct := seedDemo(t)
	demo := acct.demo
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"checks":["acm.expiry","acm.renewal","acm.key-strength"]}`))
	if err != nil {
		t.Fatal(err)
	}
	type verdict struct {
		status   check.Status
		severity string
	}
	got := map[string]verdict{}
	reasons := map[string]string{}
	for _, f := range s.Findings {
		got[f.CheckID+" "+f.ResourceARN] = verdict{f.Status, f.Severity}
		reasons[f.CheckID+" "+f.ResourceARN] = f.Reason
		if !strings.HasPrefix(f.CheckID, "acm.") {
			t.Errorf("unselected check ran: %s", f.CheckID)
		}
		if f.Status == check.NotAvailable {
			t.Errorf("%s %s: NOT_AVAILABLE: %s", f.CheckID, f.ResourceName, f.Reason)
		}
	}
	passed := verdict{check.Passed, "INFORMATIONAL"}
	want := map[string]verdict{
		"acm.expiry " + demo["acm/amazon-issued"]:       passed,
		"acm.expiry " + demo["acm/rsa-1024"]:            passed,
		"acm.expiry " + demo["acm/expiring"]:            {check.Failed, "HIGH"}, // MEDIUM, raised: in use
		"acm.renewal " + demo["acm/amazon-issued"]:      passed,
		"acm.renewal " + demo["acm/renewal-failed"]:     {check.Failed, "MEDIUM"},
		"acm.key-strength " + demo["acm/amazon-issued"]: passed,
		"acm.key-strength " + demo["acm/expiring"]:      passed, // ECDSA P-256: listed only because every key type is asked for
		"acm.key-strength " + demo["acm/rsa-1024"]:      {check.Failed, "HIGH"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v (%s)", k, got[k], w, reasons[k])
		}
	}
	for _, name := range []string{"acm/rsa-1024", "acm/expiring"} {
		if v, ok := got["acm.renewal "+demo[name]]; ok {
			t.Errorf("imported %s judged by acm.renewal: %+v", name, v)
		}
	}
	if reason := reasons["acm.renewal "+demo["acm/renewal-failed"]]; reason != "managed renewal failed (CAA_ERROR)" {
		t.Errorf("renewal reason: %q", reason)
	}
	if len(s.FailedScopes) != 0 {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
	if len(s.Published) != 1 || s.Published[0].Imported != len(s.Findings) || len(s.Published[0].Failed) != 0 {
		t.Errorf("published: %+v (findings %d)", s.Published, len(s.Findings))
	}
	for op, want := range map[string]int{"ListCertificates": 1, "DescribeCertificate": 2} {
		if n := counter.Count("ACM", op); n != want {
			t.Errorf("%s called %d times, want %d", op, n, want)
		}
	}
}
