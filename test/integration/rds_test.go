package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
)

// TestDemoRDS runs the RDS checks over the demo account: each gives a
// PASSED and a FAILED, the default-encrypted instance reads as the AWS
// managed key (through the gap-filling proxy, as on AWS), and the scan makes
// one call per RDS list.
func TestDemoRDS(t *testing.T) {
	acct := seedDemo(t)
	demo := acct.demo
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"checks":["rds.instance-cmk","rds.cluster-cmk","rds.snapshot-cmk"]}`))
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
		if !strings.HasPrefix(f.CheckID, "rds.") {
			t.Errorf("unselected check ran: %s", f.CheckID)
		}
		if f.Status == check.NotAvailable {
			t.Errorf("%s %s: NOT_AVAILABLE: %s", f.CheckID, f.ResourceName, f.Reason)
		}
	}
	want := map[string]verdict{
		"rds.instance-cmk " + demo["rds/cmk-db"]:                 {check.Passed, "INFORMATIONAL"},
		"rds.instance-cmk " + demo["rds/plain-db"]:               {check.Failed, "HIGH"},
		"rds.instance-cmk " + demo["rds/default-db"]:             {check.Failed, "MEDIUM"},
		"rds.cluster-cmk " + demo["rds/cmk-cluster"]:             {check.Passed, "INFORMATIONAL"},
		"rds.cluster-cmk " + demo["rds/plain-cluster"]:           {check.Failed, "HIGH"},
		"rds.snapshot-cmk " + demo["rds/cmk-db-snapshot"]:        {check.Passed, "INFORMATIONAL"},
		"rds.snapshot-cmk " + demo["rds/plain-db-snapshot"]:      {check.Failed, "HIGH"},
		"rds.snapshot-cmk " + demo["rds/cmk-cluster-snapshot"]:   {check.Passed, "INFORMATIONAL"},
		"rds.snapshot-cmk " + demo["rds/plain-cluster-snapshot"]: {check.Failed, "HIGH"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	if len(s.FailedScopes) != 0 {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
	if len(s.Published) != 1 || s.Published[0].Imported != len(s.Findings) || len(s.Published[0].Failed) != 0 {
		t.Errorf("published: %+v (findings %d)", s.Published, len(s.Findings))
	}
	for _, op := range []string{"DescribeDBInstances", "DescribeDBClusters", "DescribeDBSnapshots", "DescribeDBClusterSnapshots"} {
		if n := counter.Count("RDS", op); n != 1 {
			t.Errorf("%s called %d times, want 1", op, n)
		}
	}
}
