package check

import (
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// TestValidateRequiresRule: a check without its rule text is incomplete
// (docs/checks.md would have no rule to show).
func TestValidateRequiresRule(t *testing.T) {
	c := Check{
		ID: "x.y", Title: "t", Description: "d", Rule: "r", Severity: Low, ResourceType: "AwsAccount",
		Types: []string{"t"}, Remediation: "r", RemediationURL: "https://docs.aws.amazon.com/",
		RelatedRequirements: []string{"NIST.800-53.r5 SC-12"}, Services: []snapshot.Service{snapshot.KMS},
		Evaluate: func(*snapshot.Snapshot, Params) []Result { return nil },
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("complete check: %v", err)
	}
	c.Rule = ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "rule") {
		t.Errorf("check without a rule: %v", err)
	}
}
