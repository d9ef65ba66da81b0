package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/catalogue"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/test/iampolicy"
)

const (
	root     = "../.."
	template = root + "/template.yaml"
)

// firstDifference names the first line where got and want differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  committed: %q\n  generated: %q", i+1, gl, wl)
		}
	}
	return "(no line differs)"
}

// TestCommittedDocsAreCurrent: docs/checks.md and README.md's generated
// tables are what `make docs` makes of the registry, so a change to a
// check's metadata (rule, severity, thresholds, controls, services,
// remediation) or to a collector's calls that is not regenerated fails here.
func TestCommittedDocsAreCurrent(t *testing.T) {
	checks := registry.All()
	committed, err := os.ReadFile(filepath.Join(root, catalogue.DocPath))
	if err != nil {
		t.Fatalf("%v: run `make docs`", err)
	}
	if want := catalogue.Render(checks); string(committed) != string(want) {
		t.Errorf("%s is out of date with the checks' metadata: run `make docs`\nfirst difference at %s",
			catalogue.DocPath, firstDifference(string(committed), string(want)))
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := catalogue.UpdateREADME(readme, checks)
	if err != nil {
		t.Fatal(err)
	}
	if string(readme) != string(want) {
		t.Errorf("README.md's generated tables are out of date with the checks' metadata: run `make docs`\nfirst difference at %s",
			firstDifference(string(readme), string(want)))
	}
}

// TestThresholdsMatchTemplate: the SAM parameter each threshold names exists
// in template.yaml with the same default and range (or allowed names), and
// both functions pass it on as the threshold's environment variable; the
// catalogue tells operators to set it there.
func TestThresholdsMatchTemplate(t *testing.T) {
	tmpl, err := iampolicy.Load(template)
	if err != nil {
		t.Fatal(err)
	}
	params, _ := tmpl.Root["Parameters"].(map[string]any)
	for _, th := range registry.Thresholds() {
		p, ok := params[th.Parameter].(map[string]any)
		if !ok {
			t.Errorf("%s: template.yaml has no parameter %q", th.Name, th.Parameter)
			continue
		}
		if len(th.Choices) > 0 {
			allowed := fmt.Sprint(th.Choices[th.Min : th.Max+1])
			if p["Default"] != th.Choices[th.Default] || fmt.Sprint(p["AllowedValues"]) != allowed {
				t.Errorf("%s: parameter %s has Default %v, AllowedValues %v; the threshold %q, %s",
					th.Name, th.Parameter, p["Default"], p["AllowedValues"], th.Choices[th.Default], allowed)
			}
		} else if p["Default"] != th.Default || p["MinValue"] != th.Min || p["MaxValue"] != th.Max {
			t.Errorf("%s: parameter %s has Default %v, MinValue %v, MaxValue %v; the threshold %d, %d, %d",
				th.Name, th.Parameter, p["Default"], p["MinValue"], p["MaxValue"], th.Default, th.Min, th.Max)
		}
		for _, fn := range []string{"AuditorFunction", "EventsFunction"} {
			_, props, err := tmpl.Resource(fn)
			if err != nil {
				t.Fatal(err)
			}
			env, _ := props["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			if got := fmt.Sprint(vars[th.Env]); got != fmt.Sprint(map[string]any{"Ref": th.Parameter}) {
				t.Errorf("%s: %s sets %s to %s, want !Ref %s", th.Name, fn, th.Env, got, th.Parameter)
			}
		}
	}
}

// TestCallsAreGranted: every AWS call the catalogue lists for a check is
// granted to AuditorFunction, as the catalogue says.
func TestCallsAreGranted(t *testing.T) {
	granted, err := iampolicy.Actions(template, "AuditorFunction")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range registry.All() {
		for _, call := range catalogue.Calls(c) {
			if !slices.Contains(granted, call) {
				t.Errorf("%s needs %s, which template.yaml does not grant AuditorFunction", c.ID, call)
			}
		}
	}
}

// TestRunWritesBothFiles: the command writes the catalogue and rewrites
// the README's blocks, and leaves files that are current untouched.
func TestRunWritesBothFiles(t *testing.T) {
	dir := t.TempDir()
	out, readme := filepath.Join(dir, "checks.md"), filepath.Join(dir, "README.md")
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(readme, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(out, readme); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != string(catalogue.Render(registry.All())) {
		t.Error("the written catalogue is not Render's")
	}
	want, _ := catalogue.UpdateREADME(src, registry.All())
	if got, _ := os.ReadFile(readme); string(got) != string(want) {
		t.Error("the README was not updated")
	}
	before, _ := os.Stat(out)
	if err := run(out, readme); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(out); !after.ModTime().Equal(before.ModTime()) {
		t.Error("a current catalogue was written again")
	}
	if err := os.WriteFile(readme, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(out, readme); err == nil || !strings.Contains(err.Error(), readme) {
		t.Errorf("a README without markers: %v", err)
	}
}
