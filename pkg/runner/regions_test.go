package runner

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/regions"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
	"github.com/posture-auditor/posture-auditor/test/iampolicy"
)

func TestAuditRegions(t *testing.T) {
	tests := []struct {
		name, audit, excluded string
		want                  regions.Request
		err                   string
	}{
		{"unset is the function's region", "", "", regions.Request{Named: []string{"us-east-1"}}, ""},
		{"all", "all", "", regions.Request{All: true}, ""},
		{"all, spaced", " all ", "", regions.Request{All: true}, ""},
		{"all minus exclusions", "all", "ap-east-1, me-south-1,ap-east-1", regions.Request{All: true, Excluded: []string{"ap-east-1", "me-south-1"}}, ""},
		{"a list, deduplicated", "eu-west-1,us-east-1,eu-west-1", "", regions.Request{Named: []string{"eu-west-1", "us-east-1"}}, ""},
		{"all among names", "all,us-east-1", "", regions.Request{}, `AUDIT_REGIONS: "all" must stand alone`},
		{"all in capitals", "ALL", "", regions.Request{}, `AUDIT_REGIONS: malformed region "ALL"`},
		{"malformed name", "us-east", "", regions.Request{}, `AUDIT_REGIONS: malformed region "us-east"`},
		{"exclusions with a list", "us-east-1,eu-west-1", "eu-west-1", regions.Request{}, "EXCLUDED_REGIONS applies only to AUDIT_REGIONS=all"},
		{"exclusions with the default", "", "eu-west-1", regions.Request{}, "EXCLUDED_REGIONS applies only to AUDIT_REGIONS=all"},
		{"malformed exclusion", "all", "eu-west", regions.Request{}, `EXCLUDED_REGIONS: malformed region "eu-west"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auditRegions(tt.audit, tt.excluded, "us-east-1")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestRegionRequest: the payload's regions win over the deployment's;
// the deployment's exclusions apply to "all" from either.
func TestRegionRequest(t *testing.T) {
	named := &Runner{Regions: []string{"us-east-1"}}
	all := &Runner{AllRegions: true, ExcludedRegions: []string{"ap-east-1"}}
	tests := []struct {
		name string
		r    *Runner
		req  trigger.Request
		want regions.Request
	}{
		{"configured names", named, trigger.Request{}, regions.Request{Named: []string{"us-east-1"}}},
		{"configured all", all, trigger.Request{}, regions.Request{All: true, Excluded: []string{"ap-east-1"}}},
		{"payload names over configured all", all, trigger.Request{Regions: []string{"eu-west-1"}}, regions.Request{Named: []string{"eu-west-1"}}},
		{"payload all over configured names", named, trigger.Request{AllRegions: true}, regions.Request{All: true}},
		{"payload all keeps the exclusions", all, trigger.Request{AllRegions: true}, regions.Request{All: true, Excluded: []string{"ap-east-1"}}},
	}
	for _, tt := range tests {
		if got := tt.r.regionRequest(tt.req); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestNotRechecked: a re-check reads a configured region, or with "all"
// any region not excluded.
func TestNotRechecked(t *testing.T) {
	named := &run{Runner: &Runner{Regions: []string{"us-east-1", "eu-west-1"}}}
	all := &run{Runner: &Runner{AllRegions: true, ExcludedRegions: []string{"ap-east-1"}}}
	for _, tc := range []struct {
		x      *run
		region string
		want   string
	}{
		{named, "eu-west-1", ""},
		{named, "us-west-2", "region us-west-2 is not audited by this deployment (AUDIT_REGIONS: us-east-1,eu-west-1)"},
		{all, "us-west-2", ""},
		{all, "ap-east-1", "region ap-east-1 is excluded by this deployment (EXCLUDED_REGIONS: ap-east-1)"},
	} {
		if got := tc.x.notRechecked(tc.region); got != tc.want {
			t.Errorf("notRechecked(%s) = %q, want %q", tc.region, got, tc.want)
		}
	}
}

// TestRegionParametersMatchTemplate: AuditRegions' default is one the code
// reads as "all"; ExcludedRegions' pattern accepts what the code accepts;
// both functions pass both on; the stack refuses exclusions without "all",
// as the functions do.
func TestRegionParametersMatchTemplate(t *testing.T) {
	tmpl, err := iampolicy.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	params, _ := tmpl.Root["Parameters"].(map[string]any)
	audit, _ := params["AuditRegions"].(map[string]any)
	if got, err := auditRegions(fmt.Sprint(audit["Default"]), "", "us-east-1"); err != nil || !got.All {
		t.Errorf("AuditRegions Default %v reads as %+v, %v; want all", audit["Default"], got, err)
	}
	excluded, _ := params["ExcludedRegions"].(map[string]any)
	pattern, err := regexp.Compile(fmt.Sprint(excluded["AllowedPattern"]))
	if err != nil || excluded["Default"] != "" {
		t.Fatalf("ExcludedRegions: pattern %v (%v), default %v", excluded["AllowedPattern"], err, excluded["Default"])
	}
	// The template may be stricter than the code (no spaces, no empty
	// entries), never laxer: what it lets through must start the functions.
	for _, v := range []string{"", "ap-east-1", "ap-east-1,me-south-1", "us-gov-west-1,cn-north-1"} {
		if _, err := auditRegions("all", v, "us-east-1"); !pattern.MatchString(v) || err != nil {
			t.Errorf("ExcludedRegions %q: template pattern matches %v, code error %v; want both to accept", v, pattern.MatchString(v), err)
		}
	}
	for _, v := range []string{"ap-east", "AP-EAST-1", "all", "ap-east-1,foo", "ap-east-1;me-south-1"} {
		if _, err := auditRegions("all", v, "us-east-1"); pattern.MatchString(v) || err == nil {
			t.Errorf("ExcludedRegions %q: template pattern matches %v, code error %v; want both to refuse", v, pattern.MatchString(v), err)
		}
	}
	for _, fn := range []string{"AuditorFunction", "EventsFunction"} {
		_, props, err := tmpl.Resource(fn)
		if err != nil {
			t.Fatal(err)
		}
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if got := fmt.Sprint(vars["EXCLUDED_REGIONS"]); got != fmt.Sprint(map[string]any{"Ref": "ExcludedRegions"}) {
			t.Errorf("%s sets EXCLUDED_REGIONS to %s, want !Ref ExcludedRegions", fn, got)
		}
	}
	rules, _ := tmpl.Root["Rules"].(map[string]any)
	rule, _ := rules["ExcludedRegionsNeedAll"].(map[string]any)
	wantCond := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "ExcludedRegions"}, ""}}}}
	wantAssert := map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AuditRegions"}, regions.All}}
	asserts, _ := rule["Assertions"].([]any)
	if !reflect.DeepEqual(rule["RuleCondition"], wantCond) || len(asserts) != 1 || !reflect.DeepEqual(asserts[0].(map[string]any)["Assert"], wantAssert) {
		t.Errorf("rule ExcludedRegionsNeedAll = %#v; want: when ExcludedRegions is set, AuditRegions equals %q", rule, regions.All)
	}
}
