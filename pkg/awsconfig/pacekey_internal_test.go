package awsconfig

import "testing"

func TestPaceKey(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, ""},
		{Options{PaceKey: "x"}, "x"},
		{Options{RoleARN: "arn:aws:iam::111122223333:role/audit"}, "111122223333"},
		{Options{RoleARN: "arn:aws:iam::111122223333:role/audit", PaceKey: "own"}, "own"},
		{Options{RoleARN: "not-an-arn"}, "not-an-arn"},
	} {
		if got := paceKey(tc.o); got != tc.want {
			t.Errorf("paceKey(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}
