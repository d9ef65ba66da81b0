package registry

import (
	"regexp"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
)

var idPattern = regexp.MustCompile(`^[a-z0-9]+\.[a-z0-9-]+$`)

func TestChecksHaveUniqueIDsAndCompleteMetadata(t *testing.T) {
	seen := map[string]bool{}
	thresholds := map[string]bool{}
	for _, c := range All() {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if !idPattern.MatchString(c.ID) {
			t.Errorf("%s: ID must look like service.rule", c.ID)
		}
		if seen[c.ID] {
			t.Errorf("duplicate check ID %s", c.ID)
		}
		seen[c.ID] = true
		// The rule is docs/checks.md's (and was README's table): one
		// paragraph of Markdown, so it renders after "Rule:" as written.
		if strings.TrimSpace(c.Rule) == "" {
			t.Errorf("%s: no Rule text", c.ID)
		}
		if strings.Contains(c.Rule, "\n") || c.Rule != strings.TrimSpace(c.Rule) {
			t.Errorf("%s: Rule must be one line without surrounding space: %q", c.ID, c.Rule)
		}
		if !strings.HasPrefix(c.RemediationURL, "https://docs.aws.amazon.com/") {
			t.Errorf("%s: remediation URL should point at AWS documentation: %s", c.ID, c.RemediationURL)
		}
		for _, th := range c.Thresholds {
			if thresholds[th.Name] {
				t.Errorf("%s: threshold %s declared twice", c.ID, th.Name)
			}
			thresholds[th.Name] = true
			if th.Env == "" || th.Parameter == "" || th.Default < th.Min || th.Default > th.Max || th.Description == "" {
				t.Errorf("%s: threshold %+v is incomplete", c.ID, th)
			}
		}
	}
}

// TestShippedIDsNeverChange pins the public contract: an ID may be added,
// never renamed or removed.
func TestShippedIDsNeverChange(t *testing.T) {
	have := map[string]bool{}
	for _, id := range IDs() {
		have[id] = true
	}
	for _, id := range []string{"cloudfront.viewer-tls", "cloudfront.viewer-https", "cloudfront.origin-https", "cloudfront.origin-tls", "cloudfront.hsts", "cloudtrail.encryption", "cloudtrail.multi-region-logging", "cloudtrail.log-validation", "acm.expiry", "acm.renewal", "acm.key-strength", "kms.rotation", "kms.pending-deletion", "kms.key-in-use-unhealthy", "ecr.repository-cmk", "ebs.volume-cmk", "ebs.default-encryption", "rds.instance-cmk", "rds.cluster-cmk", "rds.snapshot-cmk",
		"secretsmanager.rotation-enabled", "secretsmanager.rotation-succeeding", "secretsmanager.rotated-recently", "secretsmanager.unused", "secretsmanager.cmk"} {
		if !have[id] {
			t.Errorf("shipped check %s is missing", id)
		}
	}
}

func TestSelect(t *testing.T) {
	got, err := Select([]string{"kms.rotation", "kms.rotation"})
	if err != nil || len(got) != 1 || got[0].ID != "kms.rotation" {
		t.Fatalf("Select: %v %v", got, err)
	}
	if all, _ := Select(nil); len(all) != len(All()) {
		t.Errorf("empty selection must be all checks")
	}
	_, err = Select([]string{"kms.rotaton"})
	if err == nil || !strings.Contains(err.Error(), `unknown check ID "kms.rotaton"`) || !strings.Contains(err.Error(), "kms.rotation") {
		t.Errorf("unknown ID error: %v", err)
	}
}

func TestDefaultsResolve(t *testing.T) {
	p, err := check.ResolveParams(Thresholds(), func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range All() {
		for _, th := range c.Thresholds {
			if p.Int(th.Name) != th.Default {
				t.Errorf("%s default %d, resolved %d", th.Name, th.Default, p.Int(th.Name))
			}
		}
	}
}
