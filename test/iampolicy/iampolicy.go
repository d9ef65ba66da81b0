// Package iampolicy reads a CloudFormation/SAM template the way the tests need
// it: the IAM actions a function's inline policies grant, and the event
// pattern of a rule. CloudFormation's short-form tags (!Ref, !GetAtt, !Sub,
// !If, ...) become their long forms ({"Ref": ...}, {"Fn::GetAtt": [...]}), so
// a template parses whole and intrinsic values can be compared like any other.
package iampolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed template: its top-level sections as plain Go values
// (map[string]any, []any, string, int, float64, bool, nil).
type Template struct {
	Path string
	Root map[string]any
}

// Load parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses template text; name is used in errors only.
func Parse(name string, data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	v, err := value(&doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a template (top level is %T)", name, v)
	}
	return &Template{Path: name, Root: root}, nil
}

// Resource returns a resource's Type and Properties.
func (t *Template) Resource(logicalID string) (typ string, props map[string]any, err error) {
	resources, _ := t.Root["Resources"].(map[string]any)
	r, ok := resources[logicalID].(map[string]any)
	if !ok {
		return "", nil, fmt.Errorf("%s: no resource %q", t.Path, logicalID)
	}
	typ, _ = r["Type"].(string)
	props, _ = r["Properties"].(map[string]any)
	return typ, props, nil
}

// ResourcesOfType returns the logical IDs of every resource of type typ, sorted.
func (t *Template) ResourcesOfType(typ string) []string {
	resources, _ := t.Root["Resources"].(map[string]any)
	var ids []string
	for id, r := range resources {
		if m, ok := r.(map[string]any); ok && m["Type"] == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Actions returns the sorted, de-duplicated IAM actions that the inline policy
// documents in a SAM function's Policies, or an AWS::IAM::Role's inline
// Policies (PolicyDocument), allow (Effect Allow; SAM policy templates and
// managed policy names are not inline statements and are skipped).
func (t *Template) Actions(logicalID string) ([]string, error) {
	typ, props, err := t.Resource(logicalID)
	if err != nil {
		return nil, err
	}
	if typ != "AWS::Serverless::Function" && typ != "AWS::IAM::Role" {
		return nil, fmt.Errorf("%s: %s is a %s, not an AWS::Serverless::Function or AWS::IAM::Role", t.Path, logicalID, typ)
	}
	var policies []any
	switch p := props["Policies"].(type) {
	case nil:
	case []any:
		policies = p
	default:
		policies = []any{p}
	}
	seen := map[string]bool{}
	for i, p := range policies {
		doc, ok := p.(map[string]any)
		if !ok {
			continue // a managed policy name or ARN
		}
		if typ == "AWS::IAM::Role" {
			// An inline policy of a role: {PolicyName, PolicyDocument}.
			if doc, ok = doc["PolicyDocument"].(map[string]any); !ok {
				return nil, fmt.Errorf("%s: %s Policies[%d] has no PolicyDocument mapping", t.Path, logicalID, i)
			}
		}
		stmts, ok := doc["Statement"]
		if !ok {
			continue // a SAM policy template such as {SQSPollerPolicy: ...}
		}
		list, ok := stmts.([]any)
		if !ok {
			list = []any{stmts}
		}
		for j, s := range list {
			stmt, ok := s.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: %s Policies[%d].Statement[%d] is not a mapping", t.Path, logicalID, i, j)
			}
			if stmt["Effect"] != "Allow" {
				continue
			}
			actions, err := strings1(stmt["Action"])
			if err != nil {
				return nil, fmt.Errorf("%s: %s Policies[%d].Statement[%d].Action: %w", t.Path, logicalID, i, j, err)
			}
			for _, a := range actions {
				seen[a] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

// EventPattern returns an AWS::Events::Rule's EventPattern as plain Go values
// (a JSON string pattern is decoded too).
func (t *Template) EventPattern(logicalID string) (map[string]any, error) {
	typ, props, err := t.Resource(logicalID)
	if err != nil {
		return nil, err
	}
	if typ != "AWS::Events::Rule" {
		return nil, fmt.Errorf("%s: %s is a %s, not an AWS::Events::Rule", t.Path, logicalID, typ)
	}
	switch p := props["EventPattern"].(type) {
	case map[string]any:
		return p, nil
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(p), &m); err != nil {
			return nil, fmt.Errorf("%s: %s EventPattern: %w", t.Path, logicalID, err)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("%s: %s has no EventPattern", t.Path, logicalID)
	}
}

// Actions is Load(templatePath) then Actions(logicalID).
func Actions(templatePath, logicalID string) ([]string, error) {
	t, err := Load(templatePath)
	if err != nil {
		return nil, err
	}
	return t.Actions(logicalID)
}

// Canonical renders v as compact JSON with object keys sorted (as
// encoding/json does) and every array sorted, so two patterns that match the
// same events in any order compare equal as strings. The argument lists of
// intrinsic functions ({"Fn::If": [...]}, {"Fn::GetAtt": [...]}) keep their
// order: it is their meaning.
func Canonical(v any) string {
	b, err := json.Marshal(sorted(v))
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// CompactJSON is v as EventBridge would be sent it: compact JSON, keys sorted.
// Its length is what counts against EventBridge's event pattern size quota.
func CompactJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func sorted(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if args, ok := e.([]any); ok && (k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")) {
				kept := make([]any, len(args))
				for i, a := range args {
					kept[i] = sorted(a)
				}
				out[k] = kept
				continue
			}
			out[k] = sorted(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		keys := make([]string, len(x))
		for i, e := range x {
			out[i] = sorted(e)
			b, _ := json.Marshal(out[i])
			keys[i] = string(b)
		}
		sort.Sort(byKey{out, keys})
		return out
	default:
		return v
	}
}

type byKey struct {
	v    []any
	keys []string
}

func (b byKey) Len() int           { return len(b.v) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.v[i], b.v[j] = b.v[j], b.v[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

// strings1 reads an IAM Action value: one string or a list of strings.
func strings1(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a string", e)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%v is neither a string nor a list", v)
	}
}

// value converts a YAML node to plain Go values, turning CloudFormation short
// tags into their long forms.
func value(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return value(n.Content[0])
	case yaml.AliasNode:
		return value(n.Alias)
	case yaml.ScalarNode:
		if isShortTag(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			e, err := value(c)
			if err != nil {
				return nil, err
			}
			list = append(list, e)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			e, err := value(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = e
		}
		v = m
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
	}
	if !isShortTag(n.Tag) {
		return v, nil
	}
	return longForm(n, v)
}

// isShortTag reports whether tag is a local tag such as !Ref (not a standard
// !!str/!!int/... tag).
func isShortTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

func longForm(n *yaml.Node, v any) (any, error) {
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref":
		return map[string]any{"Ref": v}, nil
	case "Condition":
		return map[string]any{"Condition": v}, nil
	case "GetAtt":
		// !GetAtt Resource.Attribute (attribute may itself contain dots), or
		// !GetAtt [Resource, Attribute].
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q has no attribute", n.Line, s)
			}
			return map[string]any{"Fn::GetAtt": []any{res, attr}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	case "And", "Base64", "Cidr", "Contains", "EachMemberEquals", "EachMemberIn", "Equals",
		"FindInMap", "GetAZs", "If", "ImportValue", "Join", "Length", "Not", "Or", "RefAll",
		"Select", "Split", "Sub", "ToJsonString", "Transform", "ValueOf", "ValueOfAll":
		return map[string]any{"Fn::" + name: v}, nil
	default:
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
}
