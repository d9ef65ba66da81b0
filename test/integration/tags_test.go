package integration

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

// TestTaggedFindingsReachSecurityHub scans the demo account and reads back
// what Security Hub holds: the findings on the demo DB instance, volume and
// secret tagged posture-auditor:exempt carry the resource's tags in
// Resources[0].Tags (what docs/suppression.md's automation rules match), and
// are published as any other (ACTIVE, workflow untouched: the tool hides
// nothing itself). The tags cost no call: each service's list or describe
// is made once, as before, and no tagging operation is called at all.
func TestTaggedFindingsReachSecurityHub(t *testing.T) {
	acct := seedDemo(t)
	demo := acct.demo
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.FailedScopes) != 0 || len(s.Published) != 1 || len(s.Published[0].Failed) != 0 {
		t.Fatalf("failed scopes %+v, published %+v", s.FailedScopes, s.Published)
	}

	cfg, err := acct.srv.ConfigAt(context.Background(), acct.endpoint, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	held := hub(t, cfg)
	finding := func(checkID, arn string) types.AwsSecurityFinding {
		t.Helper()
		f, ok := held[asff.FindingID(checkID, motoserver.Account, region, arn)]
		if !ok {
			t.Fatalf("Security Hub holds no %s finding for %s", checkID, arn)
		}
		return f
	}
	for _, tc := range []struct {
		check, resource string
		tags            map[string]string // nil: an untagged resource
	}{
		{"rds.instance-cmk", demo["rds/plain-db"], map[string]string{seed.ExemptTagKey: "rds.instance-cmk", "team": "demo"}},
		{"ebs.volume-cmk", demo["ebs/unencrypted"], map[string]string{seed.ExemptTagKey: "ebs.volume-cmk", "Name": "demo-unencrypted"}},
		{"secretsmanager.rotation-enabled", demo["secrets/stale"], map[string]string{seed.ExemptTagKey: "secretsmanager.rotation-enabled"}},
		// Every check on a tagged resource carries its tags, not only the
		// one the tag names: the rule decides what to suppress.
		{"secretsmanager.unused", demo["secrets/stale"], map[string]string{seed.ExemptTagKey: "secretsmanager.rotation-enabled"}},
		// An owning service's own tag is a tag too.
		{"secretsmanager.rotation-enabled", demo["secrets/rds-managed"], map[string]string{"aws:secretsmanager:owningService": "rds"}},
		{"rds.instance-cmk", demo["rds/cmk-db"], nil},
		{"ebs.volume-cmk", demo["ebs/cmk"], map[string]string{"Name": "demo-cmk"}},
		// Keys: no call the KMS collector makes returns tags.
		{"kms.rotation", demo["kms/not-rotating"], nil},
	} {
		f := finding(tc.check, tc.resource)
		got := f.Resources[0].Tags
		if !maps.Equal(got, tc.tags) || (tc.tags == nil) != (got == nil) {
			t.Errorf("%s on %s: Resources[0].Tags %v, want %v", tc.check, tc.resource, got, tc.tags)
		}
		if f.RecordState != types.RecordStateActive || (f.Workflow != nil && f.Workflow.Status == types.WorkflowStatusSuppressed) {
			t.Errorf("%s on %s: record state %s, workflow %+v: the tool itself suppresses nothing", tc.check, tc.resource, f.RecordState, f.Workflow)
		}
	}
	if f := finding("rds.instance-cmk", demo["rds/plain-db"]); f.Compliance == nil || f.Compliance.Status != types.ComplianceStatusFailed {
		t.Errorf("the exempt-tagged DB instance's finding must still say FAILED: %+v", f.Compliance)
	}

	// No call for tags: one list or describe per kind, as before, and no
	// tagging operation of any service.
	for _, c := range []struct{ service, op string }{
		{"RDS", "DescribeDBInstances"}, {"RDS", "DescribeDBClusters"}, {"RDS", "DescribeDBSnapshots"}, {"RDS", "DescribeDBClusterSnapshots"},
		{"EC2", "DescribeVolumes"}, {"Secrets Manager", "ListSecrets"},
	} {
		if n := counter.Count(c.service, c.op); n != 1 {
			t.Errorf("%s:%s called %d times, want 1", c.service, c.op, n)
		}
	}
	for _, c := range counter.Snapshot() {
		if strings.Contains(c.Operation, "Tag") {
			t.Errorf("a tagging call was made: %s:%s x%d", c.Service, c.Operation, c.Count)
		}
	}
}
