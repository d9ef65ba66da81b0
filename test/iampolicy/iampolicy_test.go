package iampolicy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sample = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Conditions:
  HasTopic: !Not [!Equals [!Ref Topic, ""]]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          REGION: !If [HasRegion, !Ref Region, !Ref AWS::Region]
      Policies:
        - AWSLambdaBasicExecutionRole
        - SQSPollerPolicy:
            QueueName: !GetAtt Queue.QueueName
        - Version: "2012-10-17"
          Statement:
            - Sid: Read
              Effect: Allow
              Action:
                - kms:ListAliases
                - kms:DescribeKey
              Resource: "*"
            - Sid: One
              Effect: Allow
              Action: securityhub:BatchImportFindings
              Resource: !Sub "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/${AWS::AccountId}/default"
            - Sid: Again
              Effect: Allow
              Action: [kms:DescribeKey]
              Resource: "*"
            - Sid: Never
              Effect: Deny
              Action: kms:Decrypt
              Resource: "*"
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        Statement:
          Effect: Allow
          Action: ec2:DescribeVolumes
          Resource: "*"
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.securityhub]
        detail:
          eventName:
            - CreateKey
            - prefix: UpdateDistribution
        resources:
          - !GetAtt Target.ActionTargetArn
  JSONRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: '{"source":["aws.kms"],"detail-type":["KMS CMK Rotation"]}'
  Queue:
    Type: AWS::SQS::Queue
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {AWS: arn:aws:iam::111122223333:role/worker}
            Action: sts:AssumeRole
      ManagedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
      Policies:
        - PolicyName: read
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [ec2:DescribeRegions, kms:ListKeys]
                Resource: "*"
              - Effect: Deny
                Action: kms:Decrypt
                Resource: "*"
        - PolicyName: import
          PolicyDocument:
            Statement:
              Effect: Allow
              Action: securityhub:BatchImportFindings
              Resource: "*"
`

func parseSample(t *testing.T) *Template {
	t.Helper()
	tmpl, err := Parse("sample.yaml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestActionsInlineStatementsOnly(t *testing.T) {
	got, err := parseSample(t).Actions("Fn")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kms:DescribeKey", "kms:ListAliases", "securityhub:BatchImportFindings"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Actions(Fn) = %v, want %v (sorted, de-duplicated, Allow only, no managed policies or SAM policy templates)", got, want)
	}
}

func TestActionsSinglePolicyAndStatementMapping(t *testing.T) {
	got, err := parseSample(t).Actions("Other")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ec2:DescribeVolumes"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Actions(Other) = %v, want %v", got, want)
	}
}

// TestActionsOfARole: a role's inline policies count (Allow only), its
// trust policy and managed policies do not.
func TestActionsOfARole(t *testing.T) {
	got, err := parseSample(t).Actions("Role")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ec2:DescribeRegions", "kms:ListKeys", "securityhub:BatchImportFindings"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Actions(Role) = %v, want %v", got, want)
	}
	bad, err := Parse("bad.yaml", []byte("Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies:\n        - PolicyName: p\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Actions("R"); err == nil || !strings.Contains(err.Error(), "PolicyDocument") {
		t.Errorf("a role policy without a document: %v", err)
	}
}

func TestActionsRefusesWhatIsNotAFunction(t *testing.T) {
	tmpl := parseSample(t)
	for _, id := range []string{"Rule", "Missing"} {
		if _, err := tmpl.Actions(id); err == nil {
			t.Errorf("Actions(%s): no error", id)
		}
	}
}

func TestShortTagsBecomeLongForms(t *testing.T) {
	tmpl := parseSample(t)
	_, props, err := tmpl.Resource("Fn")
	if err != nil {
		t.Fatal(err)
	}
	env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
	want := map[string]any{"Fn::If": []any{"HasRegion", map[string]any{"Ref": "Region"}, map[string]any{"Ref": "AWS::Region"}}}
	if !reflect.DeepEqual(env["REGION"], want) {
		t.Errorf("!If: got %#v, want %#v", env["REGION"], want)
	}
	cond := tmpl.Root["Conditions"].(map[string]any)["HasTopic"]
	wantCond := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Topic"}, ""}}}}
	if !reflect.DeepEqual(cond, wantCond) {
		t.Errorf("!Not/!Equals: got %#v, want %#v", cond, wantCond)
	}
	pattern, err := tmpl.EventPattern("Rule")
	if err != nil {
		t.Fatal(err)
	}
	wantRes := []any{map[string]any{"Fn::GetAtt": []any{"Target", "ActionTargetArn"}}}
	if !reflect.DeepEqual(pattern["resources"], wantRes) {
		t.Errorf("!GetAtt: got %#v, want %#v", pattern["resources"], wantRes)
	}
}

func TestEventPatternMappingAndJSONString(t *testing.T) {
	tmpl := parseSample(t)
	p, err := tmpl.EventPattern("Rule")
	if err != nil {
		t.Fatal(err)
	}
	names := p["detail"].(map[string]any)["eventName"].([]any)
	want := []any{"CreateKey", map[string]any{"prefix": "UpdateDistribution"}}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("eventName = %#v, want %#v", names, want)
	}
	j, err := tmpl.EventPattern("JSONRule")
	if err != nil {
		t.Fatal(err)
	}
	if got := Canonical(j); got != `{"detail-type":["KMS CMK Rotation"],"source":["aws.kms"]}` {
		t.Errorf("JSON string pattern: %s", got)
	}
	for _, id := range []string{"Fn", "Queue", "Missing"} {
		if _, err := tmpl.EventPattern(id); err == nil {
			t.Errorf("EventPattern(%s): no error", id)
		}
	}
}

func TestCanonicalIgnoresOrderNotContent(t *testing.T) {
	a := map[string]any{"source": []any{"aws.kms", "aws.acm"}, "detail": map[string]any{"eventName": []any{map[string]any{"prefix": "X"}, "B", "A"}}}
	b := map[string]any{"detail": map[string]any{"eventName": []any{"A", map[string]any{"prefix": "X"}, "B"}}, "source": []any{"aws.acm", "aws.kms"}}
	if Canonical(a) != Canonical(b) {
		t.Errorf("same pattern, different order:\n%s\n%s", Canonical(a), Canonical(b))
	}
	c := map[string]any{"detail": map[string]any{"eventName": []any{"A", "X", "B"}}, "source": []any{"aws.acm", "aws.kms"}}
	if Canonical(a) == Canonical(c) {
		t.Errorf("prefix X and exact X compare equal: %s", Canonical(c))
	}
	yes := map[string]any{"Fn::If": []any{"Cond", map[string]any{"Ref": "B"}, map[string]any{"Ref": "A"}}}
	no := map[string]any{"Fn::If": []any{"Cond", map[string]any{"Ref": "A"}, map[string]any{"Ref": "B"}}}
	if Canonical(yes) == Canonical(no) {
		t.Errorf("!If branches swapped compare equal: %s", Canonical(yes))
	}
	if got := Canonical(yes); got != `{"Fn::If":["Cond",{"Ref":"B"},{"Ref":"A"}]}` {
		t.Errorf("intrinsic arguments reordered: %s", got)
	}
}

func TestCompactJSONDoesNotEscape(t *testing.T) {
	got, err := CompactJSON(map[string]any{"b": []any{"<x>&"}, "a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":1,"b":["<x>&"]}`; got != want {
		t.Errorf("CompactJSON = %s, want %s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"unknown tag":   "Resources:\n  X: !Bogus y\n",
		"duplicate key": "Resources:\n  X: 1\n  X: 2\n",
		"not a mapping": "- a\n- b\n",
		"bad yaml":      "a: [\n",
		"getatt no dot": "Resources:\n  X: !GetAtt Queue\n",
	} {
		if _, err := Parse(name, []byte(text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLoadAndWrappers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	acts, err := Actions(path, "Other")
	if err != nil || len(acts) != 1 {
		t.Errorf("Actions: %v %v", acts, err)
	}
	if loaded, err := Load(path); err != nil {
		t.Error(err)
	} else if _, err := loaded.EventPattern("JSONRule"); err != nil {
		t.Error(err)
	}
	if _, err := Actions(filepath.Join(t.TempDir(), "missing.yaml"), "Fn"); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	tmpl := parseSample(t)
	if got := tmpl.ResourcesOfType("AWS::Events::Rule"); !reflect.DeepEqual(got, []string{"JSONRule", "Rule"}) {
		t.Errorf("ResourcesOfType = %v", got)
	}
}
