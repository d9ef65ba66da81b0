package templates

import (
	"fmt"
	"sort"
	"strconv"
	"testing"

	"github.com/posture-auditor/posture-auditor/test/iampolicy"
)

const (
	homeTemplate      = "../../template.yaml"
	forwarderTemplate = "../../deploy/event-forwarder.yaml"
)

// forwarded maps each forwarder rule to the home rule whose pattern it copies.
// The Security Hub custom action (RecheckActionRule) is not forwarded: it is
// raised where the findings are, in the home region.
var forwarded = map[string]string{
	"ForwardApiCallRule":      "ApiCallRule",
	"ForwardNativeEventsRule": "NativeEventsRule",
}

func load(t *testing.T, path string) *iampolicy.Template {
	t.Helper()
	tmpl, err := iampolicy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestForwarderPatternsMatchTemplate: the forwarder must forward exactly the
// events the home rules act on, or a change in another region is either lost
// or forwarded for nothing.
func TestForwarderPatternsMatchTemplate(t *testing.T) {
	home, fwd := load(t, homeTemplate), load(t, forwarderTemplate)
	if got := fwd.ResourcesOfType("AWS::Events::Rule"); !sameSet(got, keys(forwarded)) {
		t.Fatalf("forwarder rules %v; this test compares %v: add the new rule to `forwarded`", got, keys(forwarded))
	}
	for fwdRule, homeRule := range forwarded {
		want, err := home.EventPattern(homeRule)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fwd.EventPattern(fwdRule)
		if err != nil {
			t.Fatal(err)
		}
		if iampolicy.Canonical(got) == iampolicy.Canonical(want) {
			continue
		}
		g, w := leaves(got), leaves(want)
		t.Errorf("deploy/event-forwarder.yaml %s differs from template.yaml %s:\n  only in the forwarder: %v\n  only in template.yaml: %v",
			fwdRule, homeRule, minus(g, w), minus(w, g))
	}
}

// TestEventPatternsWithinQuota: EventBridge refuses an event pattern longer
// than 2,048 characters (the default, adjustable "Event pattern size" quota);
// a rule that grows past it must be split, by service.
func TestEventPatternsWithinQuota(t *testing.T) {
	const maxPattern = 2048
	for _, path := range []string{homeTemplate, forwarderTemplate} {
		tmpl := load(t, path)
		for _, id := range tmpl.ResourcesOfType("AWS::Events::Rule") {
			p, err := tmpl.EventPattern(id)
			if err != nil {
				t.Fatal(err)
			}
			js, err := iampolicy.CompactJSON(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(js) > maxPattern {
				t.Errorf("%s %s: event pattern is %d characters, EventBridge allows %d", path, id, len(js), maxPattern)
			}
			for field, values := range leafLists(p, "") {
				if dup := duplicates(values); len(dup) > 0 {
					t.Errorf("%s %s: %s lists %v more than once", path, id, field, dup)
				}
			}
		}
	}
}

// TestEventsFunctionPolicyWithinAuditorPolicy: re-checking one resource never
// needs an action a sweep or an on-demand run does not (the auditor's policy
// is proven against the calls it makes in test/integration), and neither
// function may read secret values or use keys.
func TestEventsFunctionPolicyWithinAuditorPolicy(t *testing.T) {
	home := load(t, homeTemplate)
	auditor, err := home.Actions("AuditorFunction")
	if err != nil {
		t.Fatal(err)
	}
	events, err := home.Actions("EventsFunction")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 {
		t.Fatal("EventsFunction grants no actions")
	}
	if extra := minus(set(events), set(auditor)); len(extra) > 0 {
		t.Errorf("EventsFunction is granted %v, which AuditorFunction is not", extra)
	}
	for _, fn := range home.ResourcesOfType("AWS::Serverless::Function") {
		actions, err := home.Actions(fn)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range actions {
			switch a {
			case "secretsmanager:GetSecretValue", "kms:Decrypt", "kms:GenerateDataKey", "*":
				t.Errorf("%s is granted %s", fn, a)
			}
		}
	}
}

// TestFunctionsShareTemplateEnvironment: both functions judge by the same
// thresholds and regions; SAM cannot share one Environment between two
// functions outside Globals, so the block is duplicated and must stay equal
// (but for the events function's organization queue and excluded accounts,
// which only it uses,
// and the auditor's organization planner, which only it names).
func TestFunctionsShareTemplateEnvironment(t *testing.T) {
	home := load(t, homeTemplate)
	var envs []string
	for _, fn := range []string{"AuditorFunction", "EventsFunction"} {
		_, props, err := home.Resource(fn)
		if err != nil {
			t.Fatal(err)
		}
		env, ok := props["Environment"]
		if !ok {
			t.Fatalf("%s has no Environment", fn)
		}
		if fn == "AuditorFunction" {
			vars, _ := env.(map[string]any)["Variables"].(map[string]any)
			if vars["ORGANIZATION_PLANNER"] == nil {
				t.Error("AuditorFunction has no ORGANIZATION_PLANNER: in organization mode its on-demand runs would publish outside the message groups")
			}
			delete(vars, "ORGANIZATION_PLANNER")
		}
		if fn == "EventsFunction" {
			vars, _ := env.(map[string]any)["Variables"].(map[string]any)
			if vars["ORGANIZATION_QUEUE_URL"] == nil {
				t.Error("EventsFunction has no ORGANIZATION_QUEUE_URL: in organization mode other accounts' events would be dropped, and this account's re-checked beside its sweep")
			}
			if vars["EXCLUDED_ACCOUNTS"] == nil {
				t.Error("EventsFunction has no EXCLUDED_ACCOUNTS: excluded accounts' events would be queued")
			}
			delete(vars, "ORGANIZATION_QUEUE_URL")
			delete(vars, "EXCLUDED_ACCOUNTS")
		}
		js, err := iampolicy.CompactJSON(env) // order kept: no set semantics here
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, js)
	}
	if envs[0] != envs[1] {
		t.Errorf("AuditorFunction and EventsFunction environments differ:\n  %s\n  %s", envs[0], envs[1])
	}
}

// TestRecheckQueueTemplateTimeouts: AWS advises a source queue visibility
// timeout of at least six times the function timeout (room for Lambda to
// retry a throttled batch); Lambda refuses one shorter than the function's.
func TestRecheckQueueTemplateTimeouts(t *testing.T) {
	home := load(t, homeTemplate)
	_, fn, err := home.Resource("EventsFunction")
	if err != nil {
		t.Fatal(err)
	}
	timeout, ok := number(fn["Timeout"])
	if !ok {
		t.Fatalf("EventsFunction Timeout %v is not a literal number", fn["Timeout"])
	}
	_, queue, err := home.Resource("RecheckQueue")
	if err != nil {
		t.Fatal(err)
	}
	visibility, ok := number(queue["VisibilityTimeout"])
	if !ok {
		t.Fatalf("RecheckQueue VisibilityTimeout %v is not a literal number", queue["VisibilityTimeout"])
	}
	if visibility < 6*timeout {
		t.Errorf("RecheckQueue VisibilityTimeout %d < 6 x EventsFunction Timeout %d", visibility, timeout)
	}
}

// TestRecheckQueuePolicyAllowsEveryRule: EventBridge can deliver to the queue
// only from rules its policy names, and no rule of another stack may.
func TestRecheckQueuePolicyAllowsEveryRule(t *testing.T) {
	home := load(t, homeTemplate)
	var targeting []string
	for _, id := range home.ResourcesOfType("AWS::Events::Rule") {
		_, props, _ := home.Resource(id)
		targets, _ := props["Targets"].([]any)
		for _, tg := range targets {
			if m, ok := tg.(map[string]any); ok && iampolicy.Canonical(m["Arn"]) == iampolicy.Canonical(getAtt("RecheckQueue", "Arn")) {
				targeting = append(targeting, id)
			}
		}
	}
	if len(targeting) == 0 {
		t.Fatal("no rule targets RecheckQueue")
	}
	_, policy, err := home.Resource("RecheckQueuePolicy")
	if err != nil {
		t.Fatal(err)
	}
	stmts, _ := policy["PolicyDocument"].(map[string]any)["Statement"].([]any)
	var allowed []string
	for _, s := range stmts {
		stmt := s.(map[string]any)
		arns, _ := stmt["Condition"].(map[string]any)["ArnEquals"].(map[string]any)["aws:SourceArn"].([]any)
		for _, a := range arns {
			for _, id := range targeting {
				if iampolicy.Canonical(a) == iampolicy.Canonical(getAtt(id, "Arn")) {
					allowed = append(allowed, id)
				}
			}
		}
		if len(arns) == 0 {
			t.Errorf("RecheckQueuePolicy statement %v has no aws:SourceArn condition", stmt["Sid"])
		}
	}
	if !sameSet(allowed, targeting) {
		t.Errorf("rules targeting RecheckQueue %v, allowed by RecheckQueuePolicy %v", targeting, allowed)
	}
}

func getAtt(resource, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{resource, attr}}
}

func number(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

// leaves flattens a pattern into "path=value" strings, one per matcher
// ("detail.eventName=CreateKey", "detail.eventName={prefix:UpdateDistribution}").
func leaves(p map[string]any) map[string]bool {
	out := map[string]bool{}
	for field, values := range leafLists(p, "") {
		for _, v := range values {
			out[field+"="+v] = true
		}
	}
	return out
}

func leafLists(v any, path string) map[string][]string {
	out := map[string][]string{}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			for f, vals := range leafLists(e, p) {
				out[f] = append(out[f], vals...)
			}
		}
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok && len(m) == 1 {
				for op, arg := range m {
					out[path] = append(out[path], fmt.Sprintf("{%s:%v}", op, arg))
				}
				continue
			}
			out[path] = append(out[path], fmt.Sprint(e))
		}
	default:
		out[path] = append(out[path], fmt.Sprint(x))
	}
	return out
}

func duplicates(values []string) []string {
	seen, dup := map[string]int{}, []string{}
	for _, v := range values {
		seen[v]++
		if seen[v] == 2 {
			dup = append(dup, v)
		}
	}
	return dup
}

func set(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

func minus(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameSet(a, b []string) bool {
	sa, sb := set(a), set(b)
	return len(minus(sa, sb)) == 0 && len(minus(sb, sa)) == 0 && len(sa) == len(sb)
}

// TestFunctionsAgreeOnRegions: the planner queues a scope for the home
// region (global checks alone when the regions leave it out), the worker
// runs the global checks only there, the events function forwards global
// resources there, and the auditor reads them there: one HOME_REGION and
// one AUDIT_REGIONS for all, or a home scope would run nothing.
func TestFunctionsAgreeOnRegions(t *testing.T) {
	home := load(t, homeTemplate)
	for _, name := range []string{"HOME_REGION", "AUDIT_REGIONS"} {
		var first, firstFn string
		for _, fn := range []string{"AuditorFunction", "EventsFunction", "PlannerFunction", "WorkerFunction"} {
			_, props, err := home.Resource(fn)
			if err != nil {
				t.Fatal(err)
			}
			env, _ := props["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			if vars[name] == nil {
				t.Errorf("%s has no %s", fn, name)
				continue
			}
			js, err := iampolicy.CompactJSON(vars[name])
			if err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first, firstFn = js, fn
			} else if js != first {
				t.Errorf("%s: %s has %s, %s has %s", name, fn, js, firstFn, first)
			}
		}
	}
}
