package check

import (
	"fmt"
	"os"
	"sort"
	"strconv"
)

// Threshold is a tunable number a check reads, e.g. the maximum rotation
// period. It can be set by environment variable (from a SAM parameter) and
// overridden per run by the on-demand payload's "thresholds" object.
type Threshold struct {
	// Name is the key in the payload's "thresholds" object.
	Name string
	// Env is the environment variable that sets the deployment default.
	Env         string
	Default     int
	Min, Max    int
	Description string
}

// Params are the resolved thresholds of one run, by Threshold.Name.
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

// ResolveParams builds Params from defaults, then the environment, then the
// payload overrides. Unknown names and out-of-range values are errors.
func ResolveParams(defs []Threshold, getenv func(string) string, overrides map[string]int) (Params, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := Params{}
	byName := map[string]Threshold{}
	for _, d := range defs {
		byName[d.Name] = d
		v := d.Default
		if raw := getenv(d.Env); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil {
				return nil, fmt.Errorf("environment variable %s=%q is not a whole number", d.Env, raw)
			}
			v = n
		}
		if v < d.Min || v > d.Max {
			return nil, fmt.Errorf("environment variable %s=%d is outside %d..%d", d.Env, v, d.Min, d.Max)
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
		v := overrides[n]
		if v < d.Min || v > d.Max {
			return nil, fmt.Errorf("threshold %q=%d is outside %d..%d", n, v, d.Min, d.Max)
		}
		p[n] = v
	}
	return p, nil
}
