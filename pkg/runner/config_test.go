package runner

import (
	"testing"
	"time"
)

func TestReimportAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true}, {"24", 24 * time.Hour, true}, {" 6 ", 6 * time.Hour, true}, {"0", -1, true}, {"1440", 1440 * time.Hour, true},
		{"-1", 0, false}, {"1441", 0, false}, {"1.5", 0, false}, {"a day", 0, false},
	} {
		got, err := reimportAfter(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("reimportAfter(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
