package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

// TestDemoSecretsManager runs the Secrets Manager checks over the demo
// account: each gives at least one PASSED and one FAILED, none is
// NOT_AVAILABLE, the secret scheduled for deletion is not judged, and the
// whole region is read with one ListSecrets call and nothing else from
// Secrets Manager.
func TestDemoSecretsManager(t *testing.T) {
	acct := seedDemo(t)
	demo := acct.demo
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"checks":["secretsmanager.rotation-enabled","secretsmanager.rotation-succeeding",`+
		`"secretsmanager.rotated-recently","secretsmanager.unused","secretsmanager.cmk"]}`))
	if err != nil {
		t.Fatal(err)
	}
	type verdict struct {
		status   check.Status
		severity string
	}
	got := map[string]verdict{}
	for _, f := range s.Findings {
		got[f.CheckID+" "+f.ResourceARN] = verdict{f.Status, f.Severity}
		if !strings.HasPrefix(f.CheckID, "secretsmanager.") {
			t.Errorf("unselected check ran: %s", f.CheckID)
		}
		if f.Status == check.NotAvailable {
			t.Errorf("%s %s: NOT_AVAILABLE: %s", f.CheckID, f.ResourceName, f.Reason)
		}
		if f.ResourceARN == demo["secrets/retired"] {
			t.Errorf("%s judged the secret scheduled for deletion", f.CheckID)
		}
	}
	passed, failed := verdict{check.Passed, "INFORMATIONAL"}, func(sev string) verdict { return verdict{check.Failed, sev} }
	want := map[string]verdict{
		"secretsmanager.rotation-enabled " + demo["secrets/rotating"]:    passed,
		"secretsmanager.rotation-enabled " + demo["secrets/rds-managed"]: passed,
		"secretsmanager.rotation-enabled " + demo["secrets/stale"]:       failed("MEDIUM"),
		"secretsmanager.rotation-enabled " + demo["secrets/new"]:         failed("MEDIUM"),

		"secretsmanager.rotation-succeeding " + demo["secrets/rotating"]:    passed,
		"secretsmanager.rotation-succeeding " + demo["secrets/rds-managed"]: passed,
		"secretsmanager.rotation-succeeding " + demo["secrets/overdue"]:     failed("MEDIUM"),

		"secretsmanager.rotated-recently " + demo["secrets/rotating"]: passed,
		"secretsmanager.rotated-recently " + demo["secrets/new"]:      passed,
		"secretsmanager.rotated-recently " + demo["secrets/overdue"]:  failed("MEDIUM"),
		"secretsmanager.rotated-recently " + demo["secrets/stale"]:    failed("MEDIUM"),

		"secretsmanager.unused " + demo["secrets/rotating"]:    passed,
		"secretsmanager.unused " + demo["secrets/rds-managed"]: passed,
		"secretsmanager.unused " + demo["secrets/new"]:         passed,
		"secretsmanager.unused " + demo["secrets/overdue"]:     failed("LOW"),
		"secretsmanager.unused " + demo["secrets/stale"]:       failed("LOW"),

		"secretsmanager.cmk " + demo["secrets/rotating"]:    passed,
		"secretsmanager.cmk " + demo["secrets/overdue"]:     passed,
		"secretsmanager.cmk " + demo["secrets/stale"]:       failed("MEDIUM"),
		"secretsmanager.cmk " + demo["secrets/rds-managed"]: failed("MEDIUM"),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	// Secrets without rotation are not judged by rotation-succeeding.
	for _, name := range []string{"secrets/stale", "secrets/new"} {
		if v, ok := got["secretsmanager.rotation-succeeding "+demo[name]]; ok {
			t.Errorf("rotation-succeeding judged %s, which has no rotation: %+v", name, v)
		}
	}
	if len(s.FailedScopes) != 0 {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
	if len(s.Published) != 1 || s.Published[0].Imported != len(s.Findings) || len(s.Published[0].Failed) != 0 {
		t.Errorf("published: %+v (findings %d)", s.Published, len(s.Findings))
	}
	for _, c := range counter.Snapshot() {
		if c.Service == "Secrets Manager" && (c.Operation != "ListSecrets" || c.Count != 1) {
			t.Errorf("Secrets Manager %s called %d times; want ListSecrets once and nothing else", c.Operation, c.Count)
		}
	}
	if counter.Count("Secrets Manager", "ListSecrets") != 1 {
		t.Errorf("ListSecrets called %d times, want 1", counter.Count("Secrets Manager", "ListSecrets"))
	}
}

// TestSecretsManagerListDenied: with ListSecrets denied, the Secrets
// Manager checks give no verdict and their scopes are reported failed with
// the AWS error, so nothing of theirs could be archived.
func TestSecretsManagerListDenied(t *testing.T) {
	srv := motoserver.Fresh(t)
	gaps, err := gapfill.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gaps.Close)
	cfg, err := srv.ConfigAt(context.Background(), gaps.URL, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.EnableSecurityHub(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	gaps.Deny("secretsmanager", "ListSecrets")
	r, _ := newRunner(t, srv, gaps.URL)
	s, err := r.Handle(context.Background(), []byte(`{"checks":["secretsmanager.rotation-enabled","secretsmanager.unused"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Findings) != 0 {
		t.Errorf("findings despite a denied ListSecrets: %+v", s.Findings)
	}
	if len(s.FailedScopes) != 2 {
		t.Fatalf("failed scopes: %+v", s.FailedScopes)
	}
	for _, sc := range s.FailedScopes {
		if sc.Complete || len(sc.Errors) != 1 || sc.Errors[0].Operation != "ListSecrets" || sc.Errors[0].Code != "AccessDeniedException" {
			t.Errorf("scope %+v", sc)
		}
	}
}
