package emfcheck

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// valid is the specification's own example.
const valid = `{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"lambda-function-metrics","Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds","StorageResolution":60}]}]},"functionVersion":"$LATEST","time":100,"requestId":"989ffbf8-9ace-4817-a57c-e4dd734019ee"}`

func TestSpecificationExampleIsValid(t *testing.T) {
	d, err := Validate([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if d.Timestamp != 1574109732004 || !d.Has("lambda-function-metrics", "time", "functionVersion") || d.Value("time") != "100" {
		t.Errorf("document %+v", d)
	}
	if _, err := Validate([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":[1,2.5]}`)); err != nil {
		t.Errorf("empty dimension set, no unit, array of values: %v", err)
	}
}

// mutate decodes the valid example, changes it, and encodes it again.
func mutate(t *testing.T, change func(root, directive map[string]any)) string {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal([]byte(valid), &root); err != nil {
		t.Fatal(err)
	}
	dir := root["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	change(root, dir)
	b, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInvalidDocumentsAreRefused(t *testing.T) {
	many := func(n int, f func(i int) any) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	cases := map[string]string{
		"not json":         `_aws`,
		"trailing data":    valid + ` {}`,
		"two lines":        strings.Replace(valid, `,"time":100`, ",\n\"time\":100", 1),
		"no _aws":          `{"time":1}`,
		"no timestamp":     mutate(t, func(r, _ map[string]any) { delete(r["_aws"].(map[string]any), "Timestamp") }),
		"seconds":          mutate(t, func(r, _ map[string]any) { r["_aws"].(map[string]any)["Timestamp"] = 1.5 }),
		"extra _aws":       mutate(t, func(r, _ map[string]any) { r["_aws"].(map[string]any)["Foo"] = 1 }),
		"no directives":    mutate(t, func(r, _ map[string]any) { r["_aws"].(map[string]any)["CloudWatchMetrics"] = []any{} }),
		"no namespace":     mutate(t, func(_, d map[string]any) { delete(d, "Namespace") }),
		"AWS namespace":    mutate(t, func(_, d map[string]any) { d["Namespace"] = "AWS/Lambda" }),
		"no dimensions":    mutate(t, func(_, d map[string]any) { d["Dimensions"] = []any{} }),
		"flat dimensions":  mutate(t, func(_, d map[string]any) { d["Dimensions"] = []any{"functionVersion"} }),
		"missing member":   mutate(t, func(r, _ map[string]any) { delete(r, "functionVersion") }),
		"number dimension": mutate(t, func(r, _ map[string]any) { r["functionVersion"] = 1 }),
		"empty dimension":  mutate(t, func(r, _ map[string]any) { r["functionVersion"] = "" }),
		"31 dimensions": mutate(t, func(r, d map[string]any) {
			d["Dimensions"] = []any{many(31, func(i int) any { k := fmt.Sprint("d", i); r[k] = "v"; return k })}
		}),
		"101 metrics": mutate(t, func(r, d map[string]any) {
			d["Metrics"] = many(101, func(i int) any { k := fmt.Sprint("m", i); r[k] = i; return map[string]any{"Name": k} })
		}),
		"no metrics":       mutate(t, func(_, d map[string]any) { d["Metrics"] = []any{} }),
		"bad unit":         mutate(t, func(_, d map[string]any) { d["Metrics"].([]any)[0].(map[string]any)["Unit"] = "Millis" }),
		"bad resolution":   mutate(t, func(_, d map[string]any) { d["Metrics"].([]any)[0].(map[string]any)["StorageResolution"] = 5 }),
		"metric missing":   mutate(t, func(r, _ map[string]any) { delete(r, "time") }),
		"string metric":    mutate(t, func(r, _ map[string]any) { r["time"] = "100" }),
		"nested metric":    mutate(t, func(r, _ map[string]any) { r["time"] = map[string]any{"v": 1} }),
		"101 values":       mutate(t, func(r, _ map[string]any) { r["time"] = many(101, func(i int) any { return i }) }),
		"metric dimension": mutate(t, func(_, d map[string]any) { d["Metrics"] = []any{map[string]any{"Name": "functionVersion"}} }),
		"defined twice": mutate(t, func(_, d map[string]any) {
			d["Metrics"] = []any{map[string]any{"Name": "time"}, map[string]any{"Name": "time"}}
		}),
		"too large":         mutate(t, func(r, _ map[string]any) { r["padding"] = strings.Repeat("x", MaxBytes) }),
		"unknown directive": mutate(t, func(_, d map[string]any) { d["Dimension"] = d["Dimensions"] }),
	}
	for name, line := range cases {
		if _, err := Validate([]byte(line)); err == nil {
			t.Errorf("%s: accepted %.200s", name, line)
		}
	}
}

func TestSplit(t *testing.T) {
	out := `{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"run finished"}` + "\n" + valid + "\n\n"
	docs, other, err := Split([]byte(out))
	if err != nil || len(docs) != 1 || len(other) != 1 {
		t.Fatalf("docs %d other %d err %v", len(docs), len(other), err)
	}
	if _, _, err := Split([]byte(strings.Replace(valid, `"time":100`, `"time":"x"`, 1))); err == nil {
		t.Error("an invalid document was split out")
	}
}
