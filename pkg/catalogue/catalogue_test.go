package catalogue

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/collect/acmcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudfrontcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudtrailcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/ebscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/ecrcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/kmscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/rdscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/secretscollect"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// section is the part of a rendered catalogue about one check.
func section(t *testing.T, doc, id string) string {
	t.Helper()
	head := "\n## `" + id + "`\n"
	i := strings.Index(doc, head)
	if i < 0 {
		t.Fatalf("no section for %s", id)
	}
	rest := doc[i+len(head):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestRenderShowsEveryCheckField: each check's section carries its title,
// description, rule (verbatim), severity, resource type, scope, thresholds
// with defaults, ranges, environment variable and SAM parameter, controls,
// requirements, calls and remediation; the index and threshold table list
// it too.
func TestRenderShowsEveryCheckField(t *testing.T) {
	checks := registry.All()
	doc := string(Render(checks))
	for _, c := range checks {
		s := section(t, doc, c.ID)
		want := []string{
			"**" + escape(c.Title) + ".** " + escape(c.Description) + "\n",
			"**Rule:** " + c.Rule + "\n",
			"- **Severity:** `" + string(c.Severity) + "`\n",
			"- **Resource type:** `" + c.ResourceType + "`\n",
			"- **Nearest Security Hub controls:** " + controls(c) + "\n",
			"- **CIS / NIST 800-53:** " + list(c.RelatedRequirements, false) + "\n",
			"- **Remediation:** " + escape(c.Remediation) + "\n",
			"- **Documentation:** <" + c.RemediationURL + ">\n",
		}
		if c.Global {
			want = append(want, "global, once per account, in the home region")
		} else {
			want = append(want, "regional, in every audited region")
		}
		for _, call := range Calls(c) {
			want = append(want, "`"+call+"`")
		}
		for _, th := range c.Thresholds {
			want = append(want, fmt.Sprintf("  - `%s`: %s; default %s, %s; `%s` / `%s`\n",
				th.Name, escape(th.Description), defaultOf(th), rangeOf(th), th.Env, th.Parameter))
		}
		if len(c.Thresholds) == 0 {
			want = append(want, "- **Thresholds:** none\n")
		}
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: section lacks %q", c.ID, w)
			}
		}
		if !strings.Contains(doc, fmt.Sprintf("| [`%s`](#%s) | %s | %s |", c.ID, Anchor(c.ID), c.Title, c.Severity)) {
			t.Errorf("%s: not in the index", c.ID)
		}
		for _, th := range c.Thresholds {
			if !strings.Contains(doc, fmt.Sprintf("| `%s` | `%s` | `%s` / `%s` | %s | %s |", th.Name, c.ID, th.Env, th.Parameter, defaultOf(th), rangeOf(th))) {
				t.Errorf("%s: threshold %s not in the threshold table", c.ID, th.Name)
			}
		}
	}
	if n := strings.Count(doc, "\n## `"); n != len(checks) {
		t.Errorf("%d check sections for %d checks", n, len(checks))
	}
}

// TestRenderThresholdKinds: a number shows its range; a named choice its
// allowed names (only those between Min and Max) and its default by name.
func TestRenderThresholdKinds(t *testing.T) {
	c := check.Check{ID: "x.y", Title: "T", Rule: "r", Services: []snapshot.Service{snapshot.ACM}, Thresholds: []check.Threshold{
		{Name: "n", Env: "N", Parameter: "PN", Default: 5, Min: 1, Max: 9, Description: "a number"},
		{Name: "c", Env: "C", Parameter: "PC", Choices: []string{"a", "b", "c", "d"}, Default: 2, Min: 1, Max: 2, Description: "a choice"},
	}}
	doc := string(Render([]check.Check{c}))
	for _, want := range []string{
		"  - `n`: a number; default 5, 1–9; `N` / `PN`\n",
		"  - `c`: a choice; default `c`, one of `b`, `c` (weakest first; a string in the payload); `C` / `PC`\n",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("lacks %q in\n%s", want, doc)
		}
	}
}

// TestCallsDeriveFromCollectors: every service a check reads and every
// collector the runner has maps to its collector's operations, and between
// them they cover every operation any collector can call.
func TestCallsDeriveFromCollectors(t *testing.T) {
	for _, c := range registry.All() {
		for _, s := range c.Services {
			if _, ok := serviceCalls[s]; !ok {
				t.Errorf("%s reads %s, which has no calls listed", c.ID, s)
			}
		}
		if len(Calls(c)) == 0 {
			t.Errorf("%s needs no calls", c.ID)
		}
	}
	for _, col := range runner.Collectors() {
		if _, ok := serviceCalls[col.Service()]; !ok {
			t.Errorf("collector %T (%s) has no calls listed", col, col.Service())
		}
	}
	var all, mapped []string
	for _, ops := range [][]string{acmcollect.Operations, cloudfrontcollect.Operations, cloudtrailcollect.Operations,
		ebscollect.Operations, ecrcollect.Operations, kmscollect.Operations, rdscollect.Operations, secretscollect.Operations} {
		all = append(all, ops...)
	}
	for _, ops := range serviceCalls {
		mapped = append(mapped, ops...)
	}
	slices.Sort(all)
	slices.Sort(mapped)
	if all, mapped = slices.Compact(all), slices.Compact(mapped); !slices.Equal(all, mapped) {
		t.Errorf("calls listed for services %v, the collectors can call %v", mapped, all)
	}
}

func TestCalls(t *testing.T) {
	byID := map[string]check.Check{}
	for _, c := range registry.All() {
		byID[c.ID] = c
	}
	for id, want := range map[string][]string{
		"kms.rotation":                    {"kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListKeys"},
		"cloudtrail.log-validation":       {"cloudtrail:DescribeTrails"},
		"cloudtrail.multi-region-logging": {"cloudtrail:DescribeTrails", "cloudtrail:GetEventSelectors", "cloudtrail:GetTrailStatus"},
		"ecr.repository-cmk":              {"ecr:DescribeRepositories", "kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListKeys"},
		"cloudfront.hsts":                 {"cloudfront:GetDistribution", "cloudfront:GetResponseHeadersPolicy", "cloudfront:ListDistributions"},
	} {
		if got := Calls(byID[id]); !slices.Equal(got, want) {
			t.Errorf("%s: calls %v, want %v", id, got, want)
		}
	}
	// Referenced keys need the KMS listing first, as in the runner.
	if got := Calls(check.Check{ID: "x.y", Services: []snapshot.Service{snapshot.KMSReferenced}}); !slices.Equal(got, Calls(byID["kms.rotation"])) {
		t.Errorf("kms-referenced alone: %v", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `"s3"`) {
			t.Errorf("an unknown service must panic naming it: %v", r)
		}
	}()
	Calls(check.Check{ID: "x.y", Services: []snapshot.Service{"s3"}})
}

// TestAnchor matches GitHub's heading fragments.
func TestAnchor(t *testing.T) {
	for id, want := range map[string]string{
		"kms.rotation":                    "kmsrotation",
		"secretsmanager.rotation-enabled": "secretsmanagerrotation-enabled",
		"cloudtrail.multi-region-logging": "cloudtrailmulti-region-logging",
		"A b_c":                           "a-b_c",
	} {
		if got := Anchor(id); got != want {
			t.Errorf("Anchor(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"aws kms enable-key-rotation --key-id <key> [--days <n>]": `aws kms enable-key-rotation --key-id \<key\> \[--days \<n\>\]`,
		"AMAZON_ISSUED and TLSv1.2_2021":                          "AMAZON_ISSUED and TLSv1.2_2021",
		"_x_ *.cloudfront.net a|b `c` d\\e":                       `\_x\_ \*.cloudfront.net a\|b \` + "`c\\`" + ` d\\e`,
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSummaryTable(t *testing.T) {
	checks := registry.All()
	got := SummaryTable(checks, "docs/checks.md")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != len(checks)+2 {
		t.Fatalf("%d lines for %d checks:\n%s", len(lines), len(checks), got)
	}
	if want := "| [`kms.rotation`](docs/checks.md#kmsrotation) | KMS customer managed keys rotate their key material automatically | KMS.4 |"; lines[2] != want {
		t.Errorf("first row %q, want %q", lines[2], want)
	}
}

// TestUpdateREADME rewrites only between the markers, is idempotent, and
// refuses a README whose markers are missing, doubled or out of order.
func TestUpdateREADME(t *testing.T) {
	checks := registry.All()
	readme := "# x\n\nintro\n\n" + summaryBegin + "\nold table\n" + summaryEnd + "\n\nmiddle\n\n" +
		thresholdsBegin + "\n" + thresholdsEnd + "\n\nend\n"
	got, err := UpdateREADME([]byte(readme), checks)
	if err != nil {
		t.Fatal(err)
	}
	want := "# x\n\nintro\n\n" + summaryBegin + "\n\n" + SummaryTable(checks, DocPath) + "\n" + summaryEnd + "\n\nmiddle\n\n" +
		thresholdsBegin + "\n\n" + ThresholdTable(checks) + "\n" + thresholdsEnd + "\n\nend\n"
	if string(got) != want {
		t.Errorf("UpdateREADME:\n%s\nwant:\n%s", got, want)
	}
	again, err := UpdateREADME(got, checks)
	if err != nil || string(again) != string(got) {
		t.Errorf("second update changed the README (%v)", err)
	}
	for name, bad := range map[string]string{
		"missing":   "# x\n" + summaryBegin + "\n" + summaryEnd + "\n",
		"doubled":   readme + summaryBegin + "\n",
		"reordered": summaryEnd + "\n" + summaryBegin + "\n" + thresholdsBegin + "\n" + thresholdsEnd + "\n",
	} {
		if _, err := UpdateREADME([]byte(bad), checks); err == nil {
			t.Errorf("%s markers: no error", name)
		}
	}
}
