package templates

import (
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/test/iampolicy"
)

const memberRoleTemplate = "../../deploy/member-role.yaml"

// centralOnly are the AuditorFunction's actions on the central account's
// own resources: the finding state table, which the worker reads and writes
// with its own credentials, never through a member's role.
func centralOnly(action string) bool { return strings.HasPrefix(action, "dynamodb:") }

// TestMemberRoleGrantsWhatTheWorkerCalls: the member role grants exactly
// what AuditorFunction is granted in its own account, less the central
// finding state table. AuditorFunction's grants are proven equal to the
// calls its code makes (test/integration, TestTemplateGrantsExactlyTheCallsMade,
// which checks the member role against those calls too); the worker runs
// the same code against a member. Never a secret value or a key use.
func TestMemberRoleGrantsWhatTheWorkerCalls(t *testing.T) {
	auditor, err := load(t, homeTemplate).Actions("AuditorFunction")
	if err != nil {
		t.Fatal(err)
	}
	member, err := load(t, memberRoleTemplate).Actions("MemberRole")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, a := range auditor {
		if !centralOnly(a) {
			want[a] = true
		}
	}
	for _, a := range []string{"ec2:DescribeRegions", "securityhub:BatchImportFindings", "securityhub:GetFindings"} {
		if !want[a] {
			t.Errorf("AuditorFunction is not granted %s, which a member run needs", a)
		}
	}
	got := set(member)
	if missing, extra := minus(want, got), minus(got, want); len(missing) > 0 || len(extra) > 0 {
		t.Errorf("deploy/member-role.yaml MemberRole differs from what the code calls in an audited account:\n  not granted: %v\n  granted, never called: %v", missing, extra)
	}
	for _, a := range member {
		if strings.Contains(a, "*") || a == "secretsmanager:GetSecretValue" || strings.HasPrefix(a, "kms:Decrypt") || strings.HasPrefix(a, "kms:GenerateDataKey") {
			t.Errorf("MemberRole is granted %s", a)
		}
	}
}

// TestMemberRoleTrustsOnlyTheWorker: one statement, sts:AssumeRole by the
// worker's role ARN in the auditor account, with the external ID, and the
// organization condition exactly when OrganizationId is given.
func TestMemberRoleTrustsOnlyTheWorker(t *testing.T) {
	tmpl := load(t, memberRoleTemplate)
	if _, ok := tmpl.Root["Transform"]; ok {
		t.Error("deploy/member-role.yaml has a Transform: StackSets need plain CloudFormation")
	}
	_, props, err := tmpl.Resource("MemberRole")
	if err != nil {
		t.Fatal(err)
	}
	if got := iampolicy.Canonical(props["RoleName"]); got != `{"Ref":"RoleName"}` {
		t.Errorf("RoleName %s, want the RoleName parameter", got)
	}
	stmts, _ := props["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(stmts) != 1 {
		t.Fatalf("trust policy has %d statements, want 1", len(stmts))
	}
	stmt, _ := stmts[0].(map[string]any)
	principal := iampolicy.Canonical(stmt["Principal"])
	if want := `{"AWS":{"Fn::Sub":"arn:${AWS::Partition}:iam::${AuditorAccountId}:role/${WorkerRoleName}"}}`; principal != want {
		t.Errorf("trust principal %s, want %s (the worker's role, by ARN)", principal, want)
	}
	if stmt["Effect"] != "Allow" || stmt["Action"] != "sts:AssumeRole" {
		t.Errorf("trust statement %v %v, want Allow sts:AssumeRole", stmt["Effect"], stmt["Action"])
	}
	externalID := map[string]any{"sts:ExternalId": map[string]any{"Ref": "ExternalId"}}
	withOrg := map[string]any{"sts:ExternalId": map[string]any{"Ref": "ExternalId"}, "aws:PrincipalOrgID": map[string]any{"Ref": "OrganizationId"}}
	want := map[string]any{"Fn::If": []any{"HasOrganization", map[string]any{"StringEquals": withOrg}, map[string]any{"StringEquals": externalID}}}
	if got := iampolicy.Canonical(stmt["Condition"]); got != iampolicy.Canonical(want) {
		t.Errorf("trust condition %s, want %s", got, iampolicy.Canonical(want))
	}
	conds, _ := tmpl.Root["Conditions"].(map[string]any)
	if got, want := iampolicy.Canonical(conds["HasOrganization"]), `{"Fn::Not":[{"Fn::Equals":[{"Ref":"OrganizationId"},""]}]}`; got != want {
		t.Errorf("HasOrganization = %s, want %s", got, want)
	}
	params, _ := tmpl.Root["Parameters"].(map[string]any)
	if p, _ := params["ExternalId"].(map[string]any); p["NoEcho"] != true || p["Default"] != nil {
		t.Errorf("ExternalId parameter %v: want NoEcho and no default", p)
	}
}

// TestOrganizationEventsPolicy: with OrganizationId set, the home default
// bus accepts PutEvents from principals of that organization and no one
// else; without it (one account), nothing is created.
func TestOrganizationEventsPolicy(t *testing.T) {
	home := load(t, homeTemplate)
	params, _ := home.Root["Parameters"].(map[string]any)
	if p, _ := params["OrganizationId"].(map[string]any); p == nil || p["Default"] != "" {
		t.Fatalf("OrganizationId parameter %v: want a default of \"\" (one account)", p)
	}
	policies := home.ResourcesOfType("AWS::Events::EventBusPolicy")
	if len(policies) != 1 || policies[0] != "OrganizationEventsPolicy" {
		t.Fatalf("event bus policies %v, want OrganizationEventsPolicy alone", policies)
	}
	res, _ := home.Root["Resources"].(map[string]any)["OrganizationEventsPolicy"].(map[string]any)
	conds, _ := home.Root["Conditions"].(map[string]any)
	if res["Condition"] != "HasOrganization" || iampolicy.Canonical(conds["HasOrganization"]) != `{"Fn::Not":[{"Fn::Equals":[{"Ref":"OrganizationId"},""]}]}` {
		t.Errorf("OrganizationEventsPolicy condition %v = %s, want created only when OrganizationId is set", res["Condition"], iampolicy.Canonical(conds[res["Condition"].(string)]))
	}
	_, props, err := home.Resource("OrganizationEventsPolicy")
	if err != nil {
		t.Fatal(err)
	}
	if props["EventBusName"] != "default" {
		t.Errorf("EventBusName %v, want default (where ApiCallRule and NativeEventsRule listen)", props["EventBusName"])
	}
	for _, legacy := range []string{"Action", "Principal", "Condition"} {
		if _, ok := props[legacy]; ok {
			t.Errorf("legacy property %s set beside Statement", legacy)
		}
	}
	stmt, _ := props["Statement"].(map[string]any)
	want := map[string]any{
		"Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
		"Resource":  map[string]any{"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"},
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": map[string]any{"Ref": "OrganizationId"}}},
	}
	if got := iampolicy.Canonical(stmt); got != iampolicy.Canonical(want) {
		t.Errorf("OrganizationEventsPolicy statement\n  %s\nwant\n  %s", got, iampolicy.Canonical(want))
	}
}
