package collecttest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

type fakeAPI interface {
	ListThings(context.Context) error
	DescribeThing(context.Context) error
}

// recorder is a testing.TB that keeps the failures it is told about.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestIAMActions(t *testing.T) {
	got := IAMActions(reflect.TypeFor[fakeAPI](), "Secrets Manager")
	if want := []string{"secretsmanager:DescribeThing", "secretsmanager:ListThings"}; !slices.Equal(got, want) {
		t.Errorf("IAMActions = %v, want %v", got, want)
	}
}

// TestCheckOperationsCatchesDrift: a list missing a method, naming one the
// interface lacks, naming one twice or in the wrong service fails; the exact
// list in any order passes.
func TestCheckOperationsCatchesDrift(t *testing.T) {
	api := reflect.TypeFor[fakeAPI]()
	for _, tc := range []struct {
		ops  []string
		fail bool
	}{
		{[]string{"secretsmanager:ListThings", "secretsmanager:DescribeThing"}, false},
		{[]string{"secretsmanager:DescribeThing", "secretsmanager:ListThings"}, false},
		{[]string{"secretsmanager:ListThings"}, true},
		{[]string{"secretsmanager:ListThings", "secretsmanager:DescribeThing", "secretsmanager:GetThing"}, true},
		{[]string{"secretsmanager:ListThings", "secretsmanager:DescribeThing", "secretsmanager:ListThings"}, true},
		{[]string{"kms:ListThings", "kms:DescribeThing"}, true},
	} {
		r := &recorder{TB: t}
		CheckOperations(r, api, "Secrets Manager", tc.ops)
		if failed := len(r.errors) > 0; failed != tc.fail {
			t.Errorf("%v: failed %v, want %v (%v)", tc.ops, failed, tc.fail, r.errors)
		}
	}
}

func TestCalls(t *testing.T) {
	var c Calls
	c.Add("kms:ListKeys")
	c.Add("kms:DescribeKey")
	c.Add("kms:ListKeys")
	if got := c.Operations(); !slices.Equal(got, []string{"kms:DescribeKey", "kms:ListKeys"}) {
		t.Errorf("Operations = %v", got)
	}
}
