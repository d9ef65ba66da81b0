// Package emfcheck validates CloudWatch Embedded Metric Format documents
// against the structure the specification documents, for tests: a line
// CloudWatch Logs cannot extract is not an error anywhere else, it is a
// metric that silently never exists.
//
// What is checked (each a MUST of the specification, or a CloudWatch
// limit): the line is one JSON object; its _aws member is an object of
// exactly Timestamp (an integer of milliseconds) and CloudWatchMetrics (a
// non-empty array of MetricDirectives); a MetricDirective has exactly
// Namespace (1 to 1,024 characters, not AWS/...), Dimensions (at least one
// DimensionSet of 0 to 30 distinct keys of 1 to 250 characters) and Metrics
// (1 to 100 MetricDefinitions of Name, a CloudWatch Unit and an optional
// StorageResolution of 1 or 60); every dimension key is a top-level member
// whose value is a string of 1 to 1,024 characters; every metric name is a
// top-level member whose value is a number or an array of at most 100
// numbers, and is not also a dimension; a document is at most 256 KB
// (CloudWatch Logs' event size; the specification allows 1 MB where the
// log group does).
package emfcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxBytes is the largest document accepted.
const MaxBytes = 256 * 1024

var units = map[string]bool{}

func init() {
	for _, u := range strings.Split("Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes "+
		"Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second "+
		"Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second "+
		"Terabits/Second Count/Second None", " ") {
		units[u] = true
	}
}

// IsEMF reports whether line claims to be an EMF document (a JSON object
// with an _aws member), as CloudWatch Logs decides which lines to extract.
func IsEMF(line []byte) bool {
	var root map[string]json.RawMessage
	if json.Unmarshal(line, &root) != nil {
		return false
	}
	_, ok := root["_aws"]
	return ok
}

// Document is a validated document: its directives and members.
type Document struct {
	Timestamp  int64
	Directives []Directive
	// Members are the root's members other than _aws, as decoded.
	Members map[string]any
}

// Directive is one MetricDirective.
type Directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []Metric
}

// Metric is one MetricDefinition.
type Metric struct{ Name, Unit string }

// Validate checks one line (without its newline) and returns the
// document, or every problem found.
func Validate(line []byte) (*Document, error) {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(line) > MaxBytes {
		fail("document is %d bytes, more than %d", len(line), MaxBytes)
	}
	if bytes.ContainsAny(line, "\n\r") {
		fail("document spans lines: CloudWatch Logs reads one event a line")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	meta, ok := root["_aws"].(map[string]any)
	if !ok {
		return nil, errors.New("no _aws object")
	}
	doc := &Document{Members: map[string]any{}}
	for k, v := range root {
		if k != "_aws" {
			doc.Members[k] = v
		}
	}
	for k := range meta {
		if k != "Timestamp" && k != "CloudWatchMetrics" {
			fail("_aws has a member %q the specification does not define", k)
		}
	}
	if ts, ok := meta["Timestamp"].(json.Number); !ok {
		fail("_aws.Timestamp missing or not a number")
	} else if n, err := ts.Int64(); err != nil || n <= 0 {
		fail("_aws.Timestamp %s is not a positive integer of milliseconds", ts)
	} else {
		doc.Timestamp = n
	}
	list, ok := meta["CloudWatchMetrics"].([]any)
	if !ok || len(list) == 0 {
		fail("_aws.CloudWatchMetrics missing, not an array, or empty")
	}
	for i, raw := range list {
		d, problems := directive(raw, root)
		for _, p := range problems {
			fail("CloudWatchMetrics[%d]: %s", i, p)
		}
		doc.Directives = append(doc.Directives, d)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return doc, nil
}

func directive(raw any, root map[string]any) (Directive, []string) {
	var d Directive
	var problems []string
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	obj, ok := raw.(map[string]any)
	if !ok {
		return d, []string{"not an object"}
	}
	for k := range obj {
		if k != "Namespace" && k != "Dimensions" && k != "Metrics" {
			fail("member %q the specification does not define", k)
		}
	}
	d.Namespace, _ = obj["Namespace"].(string)
	if n := len(d.Namespace); n == 0 || n > 1024 {
		fail("Namespace missing, not a string, or not 1 to 1024 characters")
	}
	if strings.HasPrefix(d.Namespace, "AWS/") {
		fail("Namespace %q: AWS/ is reserved", d.Namespace)
	}
	dimensionKeys := map[string]bool{}
	sets, ok := obj["Dimensions"].([]any)
	if !ok || len(sets) == 0 {
		fail("Dimensions missing, not an array, or empty (an empty DimensionSet, [[]], publishes without dimension)")
	}
	for i, rawSet := range sets {
		set, ok := rawSet.([]any)
		if !ok {
			fail("Dimensions[%d] is not an array", i)
			continue
		}
		if len(set) > 30 {
			fail("Dimensions[%d] has %d keys, more than 30", i, len(set))
		}
		var keys []string
		seen := map[string]bool{}
		for _, rk := range set {
			k, ok := rk.(string)
			if !ok || len(k) == 0 || len(k) > 250 {
				fail("Dimensions[%d]: key %v is not a string of 1 to 250 characters", i, rk)
				continue
			}
			if seen[k] {
				fail("Dimensions[%d]: key %q twice", i, k)
			}
			seen[k] = true
			dimensionKeys[k] = true
			keys = append(keys, k)
			v, present := root[k]
			s, isString := v.(string)
			switch {
			case !present:
				fail("dimension %q is not a top-level member", k)
			case !isString:
				fail("dimension %q: value %v is not a string", k, v)
			case len(s) == 0 || len(s) > 1024:
				fail("dimension %q: value is not 1 to 1024 characters", k)
			}
		}
		d.Dimensions = append(d.Dimensions, keys)
	}
	metrics, ok := obj["Metrics"].([]any)
	if !ok || len(metrics) == 0 || len(metrics) > 100 {
		fail("Metrics missing, not an array, or not 1 to 100 definitions")
	}
	names := map[string]bool{}
	for i, rm := range metrics {
		m, ok := rm.(map[string]any)
		if !ok {
			fail("Metrics[%d] is not an object", i)
			continue
		}
		for k := range m {
			if k != "Name" && k != "Unit" && k != "StorageResolution" {
				fail("Metrics[%d]: member %q the specification does not define", i, k)
			}
		}
		name, _ := m["Name"].(string)
		if len(name) == 0 || len(name) > 1024 {
			fail("Metrics[%d]: Name missing, not a string, or not 1 to 1024 characters", i)
			continue
		}
		if names[name] {
			fail("metric %q defined twice", name)
		}
		names[name] = true
		unit := "None"
		if u, present := m["Unit"]; present {
			unit, _ = u.(string)
			if !units[unit] {
				fail("metric %q: Unit %v is not a CloudWatch unit", name, u)
			}
		}
		if r, present := m["StorageResolution"]; present {
			if n, ok := r.(json.Number); !ok || (n.String() != "1" && n.String() != "60") {
				fail("metric %q: StorageResolution %v is not 1 or 60", name, r)
			}
		}
		if dimensionKeys[name] {
			fail("metric %q is also a dimension", name)
		}
		switch v := root[name].(type) {
		case json.Number:
		case []any:
			if len(v) == 0 || len(v) > 100 {
				fail("metric %q: %d values, not 1 to 100", name, len(v))
			}
			for _, x := range v {
				if _, ok := x.(json.Number); !ok {
					fail("metric %q: value %v is not a number", name, x)
				}
			}
		case nil:
			fail("metric %q is not a top-level member", name)
		default:
			fail("metric %q: value %v is not a number or an array of numbers", name, v)
		}
		d.Metrics = append(d.Metrics, Metric{Name: name, Unit: unit})
	}
	return d, problems
}

// Split separates output (log lines and EMF documents, as a function
// writes them to stdout in Lambda) into the documents, each validated, and
// the other lines. It fails on the first invalid document.
func Split(output []byte) (docs []*Document, other [][]byte, err error) {
	for _, line := range bytes.Split(output, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !IsEMF(line) {
			other = append(other, line)
			continue
		}
		d, err := Validate(line)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid EMF document %s: %w", line, err)
		}
		docs = append(docs, d)
	}
	return docs, other, nil
}

// Value returns the document's value of a metric or dimension member as a
// string (numbers in their JSON form).
func (d *Document) Value(member string) string {
	switch v := d.Members[member].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// Has reports whether the document publishes metric under exactly the
// dimension keys dims (in any order) in namespace.
func (d *Document) Has(namespace, metric string, dims ...string) bool {
	for _, dir := range d.Directives {
		if dir.Namespace != namespace {
			continue
		}
		defined := false
		for _, m := range dir.Metrics {
			defined = defined || m.Name == metric
		}
		if !defined {
			continue
		}
		for _, set := range dir.Dimensions {
			if sameKeys(set, dims) {
				return true
			}
		}
	}
	return false
}

func sameKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]bool{}
	for _, k := range a {
		in[k] = true
	}
	for _, k := range b {
		if !in[k] {
			return false
		}
	}
	return true
}
