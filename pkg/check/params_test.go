package check

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestResolveParams(t *testing.T) {
	defs := []Threshold{{Name: "maxDays", Env: "MAX_DAYS", Default: 365, Min: 90, Max: 2560}}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "MAX_DAYS" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name      string
		env       string
		overrides map[string]Value
		want      int
		err       string
	}{
		{"default", "", nil, 365, ""},
		{"environment", "180", nil, 180, ""},
		{"payload beats environment", "180", map[string]Value{"maxDays": Number(90)}, 90, ""},
		{"environment not a number", "a year", nil, 0, `MAX_DAYS="a year" is not a whole number`},
		{"environment out of range", "30", nil, 0, "MAX_DAYS=30 is outside 90..2560"},
		{"payload out of range", "", map[string]Value{"maxDays": Number(5000)}, 0, `"maxDays"=5000 is outside 90..2560`},
		{"payload name for a number", "", map[string]Value{"maxDays": Named("90")}, 0, `"maxDays"="90" is not a whole number`},
		{"unknown threshold", "", map[string]Value{"maxDayz": Number(100)}, 0, `unknown threshold "maxDayz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ResolveParams(defs, env(tt.env), tt.overrides)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || p.Int("maxDays") != tt.want {
				t.Fatalf("got %v %v, want %d", p, err, tt.want)
			}
		})
	}
}

// TestResolveNamedChoice: a choice threshold is set by name, resolves to its
// index, and refuses numbers, unknown names and names outside Min..Max.
func TestResolveNamedChoice(t *testing.T) {
	defs := []Threshold{{Name: "minPolicy", Env: "MIN_POLICY", Choices: []string{"weak", "fair", "strong", "future"}, Default: 1, Min: 0, Max: 2}}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "MIN_POLICY" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name      string
		env       string
		overrides map[string]Value
		want      int
		err       string
	}{
		{"default", "", nil, 1, ""},
		{"environment", "strong", nil, 2, ""},
		{"payload beats environment", "strong", map[string]Value{"minPolicy": Named("weak")}, 0, ""},
		{"environment unknown name", "stronger", nil, 0, `MIN_POLICY="stronger" is not one of weak, fair, strong`},
		{"environment name out of range", "future", nil, 0, `MIN_POLICY="future" is not one of weak, fair, strong`},
		{"payload number", "", map[string]Value{"minPolicy": Number(2)}, 0, `"minPolicy"=2 is not one of weak, fair, strong`},
		{"payload names are case-sensitive", "", map[string]Value{"minPolicy": Named("Strong")}, 0, `"minPolicy"="Strong" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ResolveParams(defs, env(tt.env), tt.overrides)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || p.Int("minPolicy") != tt.want {
				t.Fatalf("got %v %v, want %d", p, err, tt.want)
			}
			if got := defs[0].Format(p.Int("minPolicy")); got != defs[0].Choices[tt.want] {
				t.Errorf("Format: %s", got)
			}
		})
	}
}

func TestValueJSON(t *testing.T) {
	var m map[string]Value
	if err := json.Unmarshal([]byte(`{"a":180,"b":"TLSv1.2_2021"}`), &m); err != nil {
		t.Fatal(err)
	}
	if m["a"] != Number(180) || m["b"] != Named("TLSv1.2_2021") {
		t.Fatalf("decoded %+v", m)
	}
	out, _ := json.Marshal(m)
	if string(out) != `{"a":180,"b":"TLSv1.2_2021"}` {
		t.Errorf("round trip: %s", out)
	}
	var payload struct {
		Thresholds map[string]Value `json:"thresholds"`
	}
	for _, bad := range []string{`{"thresholds":{"a":90.5}}`, `{"thresholds":{"a":true}}`, `{"thresholds":{"a":[1]}}`} {
		var typeErr *json.UnmarshalTypeError
		if err := json.Unmarshal([]byte(bad), &payload); !errors.As(err, &typeErr) || typeErr.Field != "thresholds" {
			t.Errorf("%s: err %v, want a type error naming the thresholds field", bad, err)
		}
	}
	// null decodes to the zero Value, which no threshold accepts.
	if err := json.Unmarshal([]byte(`{"thresholds":{"maxDays":null}}`), &payload); err != nil {
		t.Fatal(err)
	}
	_, err := ResolveParams([]Threshold{{Name: "maxDays", Env: "X", Default: 365, Min: 90, Max: 2560}}, func(string) string { return "" }, payload.Thresholds)
	if err == nil || !strings.Contains(err.Error(), `"maxDays"=null is not set`) {
		t.Errorf("null threshold: %v", err)
	}
}

func TestSeverityRaise(t *testing.T) {
	for in, want := range map[Severity]Severity{Low: Medium, Medium: High, High: Critical, Critical: Critical} {
		if got := in.Raise(); got != want {
			t.Errorf("%s.Raise() = %s, want %s", in, got, want)
		}
	}
}
