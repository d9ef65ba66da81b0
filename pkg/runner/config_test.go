package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
	"github.com/posture-auditor/posture-auditor/test/iampolicy"
)

func TestReimportAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true}, {"24", 24 * time.Hour, true}, {" 6 ", 6 * time.Hour, true}, {"0", -1, true}, {"1440", 1440 * time.Hour, true},
		{"-1", 0, false}, {"1441", 0, false}, {"1.5", 0, false}, {"a day", 0, false},
	} {
		got, err := reimportAfter(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("reimportAfter(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestQuotaFraction(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", pace.DefaultFraction, true}, {"  ", pace.DefaultFraction, true}, {"0.5", 0.5, true}, {" 1 ", 1, true}, {"0.05", 0.05, true}, {"1e-1", 0.1, true},
		{"0", 0, false}, {"-0.5", 0, false}, {"1.01", 0, false}, {"80%", 0, false}, {"NaN", 0, false}, {"Inf", 0, false}, {"half", 0, false},
	} {
		got, err := QuotaFraction(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("QuotaFraction(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestFromEnvironmentRefusesBadQuotaFraction: a bad QUOTA_FRACTION stops
// the function at start-up, naming the variable.
func TestFromEnvironmentRefusesBadQuotaFraction(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("QUOTA_FRACTION", "2")
	if _, err := FromEnvironment(context.Background()); err == nil || !strings.Contains(err.Error(), "QUOTA_FRACTION") {
		t.Fatalf("FromEnvironment with QUOTA_FRACTION=2: %v", err)
	}
}

// TestQuotaFractionMatchesTemplate: the SAM parameter defaults to what the
// code defaults to, allows only values the code accepts, and both functions
// pass it on as QUOTA_FRACTION.
func TestQuotaFractionMatchesTemplate(t *testing.T) {
	tmpl, err := iampolicy.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tmpl.Root["Parameters"].(map[string]any)["QuotaFraction"].(map[string]any)
	if p == nil {
		t.Fatal("template.yaml has no QuotaFraction parameter")
	}
	num := func(k string) float64 {
		f, err := strconv.ParseFloat(fmt.Sprint(p[k]), 64)
		if err != nil {
			t.Fatalf("QuotaFraction %s = %v", k, p[k])
		}
		return f
	}
	if num("Default") != pace.DefaultFraction {
		t.Errorf("QuotaFraction Default %v, code default %v", p["Default"], pace.DefaultFraction)
	}
	for _, k := range []string{"MinValue", "MaxValue"} {
		if _, err := QuotaFraction(fmt.Sprint(p[k])); err != nil {
			t.Errorf("QuotaFraction %s %v is refused by the code: %v", k, p[k], err)
		}
	}
	for _, fn := range []string{"AuditorFunction", "EventsFunction"} {
		_, props, err := tmpl.Resource(fn)
		if err != nil {
			t.Fatal(err)
		}
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if got := fmt.Sprint(vars["QUOTA_FRACTION"]); got != fmt.Sprint(map[string]any{"Ref": "QuotaFraction"}) {
			t.Errorf("%s sets QUOTA_FRACTION to %s, want !Ref QuotaFraction", fn, got)
		}
	}
}

func TestStateTableWriteUnits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", findingstate.DefaultTableWriteUnits, true}, {"4000", findingstate.DefaultTableWriteUnits, true}, {" 12000 ", 10800, true}, {"1", 0.9, true}, {"40000", 36000, true},
		{"0", 0, false}, {"-4000", 0, false}, {"40001", 0, false}, {"4e3", 0, false}, {"4000.5", 0, false}, {"lots", 0, false},
	} {
		got, err := StateTableWriteUnits(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("StateTableWriteUnits(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("STATE_TABLE_WRITE_UNITS", "many")
	if _, err := FromEnvironment(context.Background()); err == nil || !strings.Contains(err.Error(), "STATE_TABLE_WRITE_UNITS") {
		t.Fatalf("FromEnvironment with STATE_TABLE_WRITE_UNITS=many: %v", err)
	}
}

// TestStateTableWriteUnitsMatchesTemplate: the table is warmed to the
// parameter, every function that writes the table is told the same
// capacity (the parameter, or a new on-demand table's 4,000), and the code
// accepts every value the parameter allows.
func TestStateTableWriteUnitsMatchesTemplate(t *testing.T) {
	tmpl, err := iampolicy.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tmpl.Root["Parameters"].(map[string]any)["FindingStateWarmWriteUnits"].(map[string]any)
	if p == nil {
		t.Fatal("template.yaml has no FindingStateWarmWriteUnits parameter")
	}
	allowed, _ := p["AllowedValues"].([]any)
	for _, v := range allowed {
		if fmt.Sprint(v) == "0" {
			continue // no warm throughput: the functions are told 4000
		}
		if _, err := StateTableWriteUnits(fmt.Sprint(v)); err != nil {
			t.Errorf("allowed FindingStateWarmWriteUnits %v is refused by the code: %v", v, err)
		}
	}
	want := `{"Fn::If":["HasWarmStateTable",{"Ref":"FindingStateWarmWriteUnits"},"4000"]}`
	if got, _ := StateTableWriteUnits("4000"); got != findingstate.DefaultTableWriteUnits {
		t.Errorf("a new table's 4000 paces at %v, the code's default %v", got, findingstate.DefaultTableWriteUnits)
	}
	_, table, err := tmpl.Resource("FindingStateTable")
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := iampolicy.CompactJSON(table["WarmThroughput"]); js != `{"Fn::If":["HasWarmStateTable",{"WriteUnitsPerSecond":{"Ref":"FindingStateWarmWriteUnits"}},{"Ref":"AWS::NoValue"}]}` {
		t.Errorf("FindingStateTable WarmThroughput %s", js)
	}
	writers := 0
	for name, r := range tmpl.Root["Resources"].(map[string]any) {
		props, _ := r.(map[string]any)["Properties"].(map[string]any)
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if vars["FINDING_STATE_TABLE"] == nil {
			continue
		}
		writers++
		if js, _ := iampolicy.CompactJSON(vars["STATE_TABLE_WRITE_UNITS"]); js != want {
			t.Errorf("%s sets STATE_TABLE_WRITE_UNITS to %s, want %s", name, js, want)
		}
	}
	if writers != 3 {
		t.Errorf("%d functions have FINDING_STATE_TABLE, want 3 (auditor, events, worker)", writers)
	}
}

func TestParallelRegions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true}, {" 8 ", 8, true}, {"1", 1, true}, {"32", 32, true},
		{"0", 0, false}, {"33", 0, false}, {"-1", 0, false}, {"four", 0, false}, {"2.5", 0, false},
	} {
		got, err := parallelRegions(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parallelRegions(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("PARALLEL_REGIONS", "0")
	if _, err := FromEnvironment(context.Background()); err == nil || !strings.Contains(err.Error(), "PARALLEL_REGIONS") {
		t.Fatalf("FromEnvironment with PARALLEL_REGIONS=0: %v", err)
	}
}
