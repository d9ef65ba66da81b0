package suppression

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/rdschecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/secretschecks"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/iampolicy"
)

const (
	templatePath = "../../deploy/suppression-rule.yaml"
	docPath      = "../../docs/suppression.md"
	ruleID       = "SuppressionRule"
	exemptKey    = "posture-auditor:exempt"
	account      = "111122223333"
	region       = "eu-west-1"
)

// noValue stands for AWS::NoValue while rendering: the key holding it goes.
type noValue struct{}

// render evaluates the template's rule for the given parameters (defaults
// filled in) into the properties CloudFormation would send.
func render(t *testing.T, tmpl *iampolicy.Template, params map[string]any) map[string]any {
	t.Helper()
	declared, _ := tmpl.Root["Parameters"].(map[string]any)
	values := map[string]any{}
	for name, p := range declared {
		if d, ok := p.(map[string]any)["Default"]; ok {
			values[name] = d
		}
	}
	for k, v := range params {
		if _, ok := declared[k]; !ok {
			t.Fatalf("the template has no parameter %s", k)
		}
		values[k] = v
	}
	for name := range declared {
		if _, ok := values[name]; !ok {
			t.Fatalf("parameter %s has no value", name)
		}
	}
	conditions, _ := tmpl.Root["Conditions"].(map[string]any)
	var eval func(v any) any
	eval = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				for fn, arg := range x {
					switch fn {
					case "Ref":
						if arg == "AWS::NoValue" {
							return noValue{}
						}
						val, ok := values[arg.(string)]
						if !ok {
							t.Fatalf("Ref to unknown %v", arg)
						}
						return val
					case "Fn::Sub":
						return regexp.MustCompile(`\$\{([A-Za-z:]+)\}`).ReplaceAllStringFunc(arg.(string), func(m string) string {
							val, ok := values[m[2:len(m)-1]]
							if !ok {
								t.Fatalf("Sub of unknown %s", m)
							}
							return fmt.Sprint(val)
						})
					case "Fn::Equals":
						args := arg.([]any)
						return fmt.Sprint(eval(args[0])) == fmt.Sprint(eval(args[1]))
					case "Fn::If":
						args := arg.([]any)
						cond, ok := conditions[args[0].(string)]
						if !ok {
							t.Fatalf("unknown condition %v", args[0])
						}
						if eval(cond).(bool) {
							return eval(args[1])
						}
						return eval(args[2])
					}
					if strings.HasPrefix(fn, "Fn::") {
						t.Fatalf("render does not know %s", fn)
					}
				}
			}
			out := map[string]any{}
			for k, e := range x {
				if r := eval(e); r != (noValue{}) {
					out[k] = r
				}
			}
			return out
		case []any:
			var out []any
			for _, e := range x {
				if r := eval(e); r != (noValue{}) {
					out = append(out, r)
				}
			}
			return out
		}
		return v
	}
	typ, props, err := tmpl.Resource(ruleID)
	if err != nil || typ != "AWS::SecurityHub::AutomationRule" {
		t.Fatalf("%s: %s %v", ruleID, typ, err)
	}
	return eval(props).(map[string]any)
}

// docRule is the create-automation-rule input docs/suppression.md gives: its
// first JSON block.
func docRule(t *testing.T) map[string]any {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/suppression.md has no JSON block")
	}
	var rule map[string]any
	if err := json.Unmarshal(m[1], &rule); err != nil {
		t.Fatalf("the doc's rule is not JSON: %v", err)
	}
	return rule
}

// input decodes a rule into the SDK's CreateAutomationRuleInput, refusing
// any field the API does not have.
func input(t *testing.T, rule map[string]any) *securityhub.CreateAutomationRuleInput {
	t.Helper()
	b, _ := json.Marshal(rule)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in securityhub.CreateAutomationRuleInput
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("not a CreateAutomationRule input: %v\n%s", err, b)
	}
	return &in
}

// TestTemplateIsTheDocumentedRule: the template rendered for
// rds.instance-cmk is exactly the CLI input the doc gives, and it is valid
// CreateAutomationRule input whose action suppresses with a note.
func TestTemplateIsTheDocumentedRule(t *testing.T) {
	tmpl, err := iampolicy.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, tmpl, map[string]any{"CheckId": "rds.instance-cmk"})
	want := docRule(t)
	if iampolicy.Canonical(got) != iampolicy.Canonical(want) {
		t.Errorf("deploy/suppression-rule.yaml rendered for rds.instance-cmk differs from the doc's rule:\n template %s\n doc      %s",
			iampolicy.Canonical(got), iampolicy.Canonical(want))
	}
	in := input(t, want)
	if len(in.Actions) != 1 || in.Actions[0].Type != types.AutomationRulesActionTypeFindingFieldsUpdate {
		t.Fatalf("actions: %+v", in.Actions)
	}
	u := in.Actions[0].FindingFieldsUpdate
	if u == nil || u.Workflow == nil || u.Workflow.Status != types.WorkflowStatusSuppressed || u.Note == nil ||
		!strings.Contains(aws.ToString(u.Note.Text), exemptKey+"=rds.instance-cmk") || len(aws.ToString(u.Note.Text)) > 512 {
		t.Errorf("the action must suppress with a note naming the tag: %+v", u)
	}
	if u.Severity != nil || u.Types != nil || u.VerificationState != "" || aws.ToBool(in.IsTerminal) {
		t.Errorf("the rule must only suppress and annotate, and not be terminal: %+v", in)
	}
}

// TestEveryCheckIDMakesARule: the template accepts every registered check
// ID and "all", and renders each into valid input.
func TestEveryCheckIDMakesARule(t *testing.T) {
	tmpl, err := iampolicy.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	p := tmpl.Root["Parameters"].(map[string]any)["CheckId"].(map[string]any)
	allowed := regexp.MustCompile(p["AllowedPattern"].(string))
	for _, id := range append(registry.IDs(), "all") {
		if !allowed.MatchString(id) {
			t.Errorf("CheckId %q is refused by AllowedPattern %s", id, allowed)
		}
		in := input(t, render(t, tmpl, map[string]any{"CheckId": id}))
		if len(aws.ToString(in.RuleName)) > 256 {
			t.Errorf("%s: rule name too long", id)
		}
	}
	for _, bad := range []string{"", "RDS", "rds instance", "rds.instance-cmk,rds.cluster-cmk"} {
		if allowed.MatchString(bad) {
			t.Errorf("AllowedPattern accepts %q", bad)
		}
	}
}

// matches applies an automation rule's criteria to a finding as Security
// Hub does: every criterion field must match (AND); within a field, any one
// EQUALS or PREFIX filter matching is enough (OR). A map filter on
// ResourceTags matches when any resource of the finding has the tag.
func matches(t *testing.T, c *types.AutomationRulesFindingFilters, f types.AwsSecurityFinding) bool {
	t.Helper()
	known := map[string]bool{"ProductName": true, "GeneratorId": true, "ResourceTags": true, "ResourceId": true}
	v := reflect.ValueOf(*c)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if fv := v.Field(i); fv.Kind() == reflect.Slice && fv.Len() > 0 && !known[name] {
			t.Fatalf("this matcher does not know the criterion %s", name)
		}
	}
	str := func(filters []types.StringFilter, values ...string) bool {
		if len(filters) == 0 {
			return true
		}
		for _, fl := range filters {
			for _, val := range values {
				switch fl.Comparison {
				case types.StringFilterComparisonEquals:
					if val == aws.ToString(fl.Value) {
						return true
					}
				case types.StringFilterComparisonPrefix:
					if strings.HasPrefix(val, aws.ToString(fl.Value)) {
						return true
					}
				default:
					t.Fatalf("this matcher does not know %s", fl.Comparison)
				}
			}
		}
		return false
	}
	tags := func(filters []types.MapFilter) bool {
		if len(filters) == 0 {
			return true
		}
		for _, fl := range filters {
			if fl.Comparison != types.MapFilterComparisonEquals {
				t.Fatalf("this matcher does not know %s", fl.Comparison)
			}
			for _, r := range f.Resources {
				if val, ok := r.Tags[aws.ToString(fl.Key)]; ok && val == aws.ToString(fl.Value) {
					return true
				}
			}
		}
		return false
	}
	var ids []string
	for _, r := range f.Resources {
		ids = append(ids, aws.ToString(r.Id))
	}
	return str(c.ProductName, aws.ToString(f.ProductName)) && str(c.GeneratorId, aws.ToString(f.GeneratorId)) &&
		str(c.ResourceId, ids...) && tags(c.ResourceTags)
}

// findings maps every result of c over s, as the runner does.
func findings(c check.Check, s *snapshot.Snapshot) []types.AwsSecurityFinding {
	ctx := asff.Context{Account: account, Partition: "aws", ProductRegion: region, Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), ToolVersion: "test"}
	var out []types.AwsSecurityFinding
	for _, r := range c.Results(s, check.Params{secretschecks.RotationGraceDays: 1, secretschecks.MaxRotationAgeDays: 90, secretschecks.MaxUnusedDays: 90}) {
		if r.Region == "" {
			r.Region = s.Region
		}
		out = append(out, asff.Map(c, r, ctx))
	}
	return out
}

func rdsSnapshot(tags map[string]string) *snapshot.Snapshot {
	s := snapshot.New(account, "aws", region)
	s.RDS.Instances = []*snapshot.RDSInstance{{ARN: "arn:aws:rds:eu-west-1:111122223333:db:billing", Identifier: "billing",
		Engine: "postgres", StorageEncrypted: snapshot.KnownFact(false), Tags: snapshot.TagsOf(tags)}}
	return s
}

// secretSnapshot holds one rotating secret, which every Secrets Manager
// check judges.
func secretSnapshot(tags map[string]string) *snapshot.Snapshot {
	s := snapshot.New(account, "aws", region)
	s.SecretsManager.CollectedAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	arn := "arn:aws:secretsmanager:eu-west-1:111122223333:secret:legacy-AbCdEf"
	rotated := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	s.SecretsManager.Secrets = map[string]*snapshot.Secret{arn: {ARN: arn, Name: "legacy", CreatedDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		RotationEnabled: true, RotationLambdaARN: "arn:aws:lambda:eu-west-1:111122223333:function:rotate",
		Rotation: snapshot.SecretRotationRules{AutomaticallyAfterDays: 30}, LastRotatedDate: &rotated, Tags: snapshot.TagsOf(tags)}}
	return s
}

// TestRuleMatchesTheToolsFindings: the documented rule, and the template
// rendered for other checks and for "all", suppress exactly the findings of
// their check on resources tagged for it, as asff.Map makes them.
func TestRuleMatchesTheToolsFindings(t *testing.T) {
	tmpl, err := iampolicy.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	rule := func(checkID string) *types.AutomationRulesFindingFilters {
		return input(t, render(t, tmpl, map[string]any{"CheckId": checkID})).Criteria
	}
	doc := input(t, docRule(t)).Criteria
	exempt := func(v string) map[string]string { return map[string]string{exemptKey: v, "team": "payments"} }
	type tc struct {
		name     string
		criteria *types.AutomationRulesFindingFilters
		check    check.Check
		snap     *snapshot.Snapshot
		want     bool
	}
	cases := []tc{
		{"doc rule, instance tagged for it", doc, rdschecks.InstanceCMK, rdsSnapshot(exempt("rds.instance-cmk")), true},
		{"doc rule, untagged instance", doc, rdschecks.InstanceCMK, rdsSnapshot(nil), false},
		{"doc rule, instance tagged for another check", doc, rdschecks.InstanceCMK, rdsSnapshot(exempt("rds.cluster-cmk")), false},
		{"doc rule, instance tagged all", doc, rdschecks.InstanceCMK, rdsSnapshot(exempt("all")), false},
		{"all rule, instance tagged all", rule("all"), rdschecks.InstanceCMK, rdsSnapshot(exempt("all")), true},
		{"all rule, instance tagged for one check", rule("all"), rdschecks.InstanceCMK, rdsSnapshot(exempt("rds.instance-cmk")), false},
	}
	// A secret is judged by five checks: a tag for one suppresses that one.
	for _, c := range secretschecks.Checks() {
		cases = append(cases,
			tc{"rotation-enabled rule, " + c.ID, rule("secretsmanager.rotation-enabled"), c, secretSnapshot(exempt("secretsmanager.rotation-enabled")), c.ID == "secretsmanager.rotation-enabled"},
			tc{"all rule, " + c.ID, rule("all"), c, secretSnapshot(exempt("all")), true},
		)
	}
	for _, tt := range cases {
		fs := findings(tt.check, tt.snap)
		if len(fs) == 0 {
			t.Errorf("%s: no finding", tt.name)
		}
		for _, f := range fs {
			if got := matches(t, tt.criteria, f); got != tt.want {
				t.Errorf("%s: rule matches %v, want %v (tags %v)", tt.name, got, tt.want, f.Resources[0].Tags)
			}
			other := f
			other.ProductName = aws.String("Other product")
			if matches(t, tt.criteria, other) {
				t.Errorf("%s: the rule matches another product's finding", tt.name)
			}
		}
	}
}

// TestDocNamesEveryResourceTypeAndCheck: the doc's table says, for every
// resource type a check reports, whether its findings carry tags.
func TestDocNamesEveryResourceTypeAndCheck(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if m := regexp.MustCompile("^\\| `(Aws[A-Za-z0-9]+)` \\|(.*)$").FindStringSubmatch(line); m != nil {
			rows[m[1]] = m[2]
		}
	}
	want := map[string][]string{snapshot.RDSClusterSnapshotType: {rdschecks.SnapshotCMK.ID}}
	for _, c := range registry.All() {
		want[c.ResourceType] = append(want[c.ResourceType], c.ID)
	}
	for typ, ids := range want {
		row, ok := rows[typ]
		if !ok {
			t.Errorf("docs/suppression.md has no row for %s", typ)
			continue
		}
		if !strings.Contains(row, "| yes |") && !strings.Contains(row, "| no |") {
			t.Errorf("%s: the row says neither yes nor no: %s", typ, row)
		}
		for _, id := range ids {
			if !strings.Contains(row, "`"+id+"`") {
				t.Errorf("%s: the row does not name %s", typ, id)
			}
		}
	}
}
