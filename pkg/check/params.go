package check

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Threshold is a tunable value a check reads, e.g. the maximum rotation
// period. It can be set by environment variable (from a SAM parameter) and
// overridden per run by the on-demand payload's "thresholds" object.
//
// A threshold is a whole number, or, when Choices is set, a named choice
// from an ordered list (weakest first), such as a TLS security policy name.
// A named choice is written by name in the environment and the payload;
// Default, Min and Max are indices into Choices, and Params holds the chosen
// index, so a check compares strengths as numbers.
type Threshold struct {
	// Name is the key in the payload's "thresholds" object.
	Name string
	// Env is the environment variable that sets the deployment default.
	Env string
	// Parameter is the template.yaml (SAM) parameter that sets Env.
	Parameter string
	Default   int
	Min, Max  int
	// Choices, when set, names the allowed values, weakest first.
	Choices     []string
	Description string
}

// Format writes v, a resolved value of t, as a user writes it.
func (t Threshold) Format(v int) string {
	if len(t.Choices) > 0 && v >= 0 && v < len(t.Choices) {
		return t.Choices[v]
	}
	return strconv.Itoa(v)
}

// Params are the resolved thresholds of one run, by Threshold.Name. A named
// choice resolves to its index in Threshold.Choices.
type Params map[string]int

// Int returns the named threshold; checks only ask for ones they declare, so
// a missing name is a programming error caught by the registry tests.
func (p Params) Int(name string) int {
	v, ok := p[name]
	if !ok {
		panic("check: undeclared threshold " + name)
	}
	return v
}

// Value is one threshold as the on-demand payload writes it: a whole number,
// or the name of a choice (a JSON string).
type Value struct {
	number int
	name   string
	// given is false for the zero Value, which is what a JSON null decodes
	// to: it matches no threshold.
	given, named bool
}

// Number is a whole-number threshold value.
func Number(n int) Value { return Value{number: n, given: true} }

// Named is a named-choice threshold value.
func Named(name string) Value { return Value{name: name, given: true, named: true} }

func (v Value) String() string {
	switch {
	case !v.given:
		return "null"
	case v.named:
		return strconv.Quote(v.name)
	}
	return strconv.Itoa(v.number)
}

// UnmarshalJSON accepts a whole number or a string; anything else is a
// *json.UnmarshalTypeError, so callers can name the offending field.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Value{}
		return nil
	}
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*v = Named(name)
		return nil
	}
	var n int
	err := json.Unmarshal(b, &n)
	if err == nil {
		*v = Number(n)
		return nil
	}
	what := "value"
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		what = te.Value
	}
	return &json.UnmarshalTypeError{Value: what, Type: reflect.TypeFor[Value]()}
}

// MarshalJSON writes the value back as it was given.
func (v Value) MarshalJSON() ([]byte, error) {
	switch {
	case !v.given:
		return []byte("null"), nil
	case v.named:
		return json.Marshal(v.name)
	}
	return json.Marshal(v.number)
}

// ResolveParams builds Params from defaults, then the environment, then the
// payload overrides. Unknown names, values of the wrong kind and
// out-of-range values are errors.
func ResolveParams(defs []Threshold, getenv func(string) string, overrides map[string]Value) (Params, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := Params{}
	byName := map[string]Threshold{}
	for _, d := range defs {
		byName[d.Name] = d
		v := d.Default
		if raw := getenv(d.Env); raw != "" {
			given := Named(raw)
			if len(d.Choices) == 0 {
				n, err := strconv.Atoi(raw)
				if err != nil {
					return nil, fmt.Errorf("environment variable %s=%q is not a whole number", d.Env, raw)
				}
				given = Number(n)
			}
			var err error
			if v, err = d.resolve(given); err != nil {
				return nil, fmt.Errorf("environment variable %s=%s %s", d.Env, given, err)
			}
		}
		p[d.Name] = v
	}
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown threshold %q", n)
		}
		v, err := d.resolve(overrides[n])
		if err != nil {
			return nil, fmt.Errorf("threshold %q=%s %s", n, overrides[n], err)
		}
		p[n] = v
	}
	return p, nil
}

// resolve checks a given value against the threshold's kind and range; the
// error completes a sentence naming the value.
func (t Threshold) resolve(given Value) (int, error) {
	if !given.given {
		return 0, fmt.Errorf("is not set")
	}
	if len(t.Choices) == 0 {
		if given.named {
			return 0, fmt.Errorf("is not a whole number")
		}
		if given.number < t.Min || given.number > t.Max {
			return 0, fmt.Errorf("is outside %d..%d", t.Min, t.Max)
		}
		return given.number, nil
	}
	allowed := t.Choices[t.Min : t.Max+1]
	i := slices.Index(t.Choices, given.name)
	if !given.named || i < t.Min || i > t.Max {
		return 0, fmt.Errorf("is not one of %s", strings.Join(allowed, ", "))
	}
	return i, nil
}
