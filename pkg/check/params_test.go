package check

import (
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
		overrides map[string]int
		want      int
		err       string
	}{
		{"default", "", nil, 365, ""},
		{"environment", "180", nil, 180, ""},
		{"payload beats environment", "180", map[string]int{"maxDays": 90}, 90, ""},
		{"environment not a number", "a year", nil, 0, `MAX_DAYS="a year" is not a whole number`},
		{"environment out of range", "30", nil, 0, "MAX_DAYS=30 is outside 90..2560"},
		{"payload out of range", "", map[string]int{"maxDays": 5000}, 0, `"maxDays"=5000 is outside 90..2560`},
		{"unknown threshold", "", map[string]int{"maxDayz": 100}, 0, `unknown threshold "maxDayz"`},
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

func TestSeverityRaise(t *testing.T) {
	for in, want := range map[Severity]Severity{Low: Medium, Medium: High, High: Critical, Critical: Critical} {
		if got := in.Raise(); got != want {
			t.Errorf("%s.Raise() = %s, want %s", in, got, want)
		}
	}
}
