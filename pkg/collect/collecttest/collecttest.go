// Package collecttest holds what the collectors' tests share: the check
// that a collector's Operations list is exactly the IAM actions of its API
// interface, and a recorder of the calls a collector makes.
package collecttest

import (
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
)

// IAMActions returns the IAM actions of the methods of api, an interface
// type whose every method is one operation of the SDK client of serviceID
// (the SDK package's ServiceID, e.g. "Secrets Manager"), sorted.
func IAMActions(api reflect.Type, serviceID string) []string {
	if api.Kind() != reflect.Interface {
		panic("collecttest: " + api.String() + " is not an interface type")
	}
	out := make([]string, 0, api.NumMethod())
	for i := range api.NumMethod() {
		out = append(out, awsconfig.Call{Service: serviceID, Operation: api.Method(i).Name}.IAMAction())
	}
	slices.Sort(out)
	return out
}

// CheckOperations fails t unless ops names each IAM action of api's methods
// exactly once, and nothing else.
func CheckOperations(t testing.TB, api reflect.Type, serviceID string, ops []string) {
	t.Helper()
	want := IAMActions(api, serviceID)
	if len(want) == 0 {
		t.Fatalf("%s has no methods", api)
	}
	if got := Sorted(ops); !slices.Equal(got, want) {
		t.Errorf("Operations = %v, want the IAM actions of %s's methods: %v", got, api, want)
	}
}

// Sorted returns a sorted copy of ops.
func Sorted(ops []string) []string {
	out := slices.Clone(ops)
	slices.Sort(out)
	return out
}

// Calls records the operations a fake API was asked for.
type Calls struct {
	mu  sync.Mutex
	ops map[string]bool
}

// Add records one call of operation (an IAM action).
func (c *Calls) Add(operation string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops == nil {
		c.ops = map[string]bool{}
	}
	c.ops[operation] = true
}

// Operations returns the distinct operations recorded, sorted.
func (c *Calls) Operations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.ops))
	for op := range c.ops {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}
