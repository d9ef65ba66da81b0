package memlimit

import (
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int64
	}{
		{"Lambda 256 MB", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, heapOf(256)},
		{"Lambda 1769 MB", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769"}, heapOf(1769)},
		// GOMEMLIMIT is the operator's: the runtime applied it, Apply keeps it.
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "100MiB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, math.MaxInt64},
		{"outside Lambda", map[string]string{}, math.MaxInt64},
		{"GOGC set", map[string]string{"GOGC": "200", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, heapOf(256)},
		{"malformed size", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			debug.SetGCPercent(100)
			if got := Apply(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("Apply = %d, want %d", got, tc.want)
			}
			// The GC target follows Lambda too, unless GOGC says otherwise.
			wantGC := 100
			if _, err := strconv.Atoi(tc.env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]); err == nil && tc.env["GOGC"] == "" {
				wantGC = GCPercent
			}
			if got := debug.SetGCPercent(100); got != wantGC {
				t.Errorf("GC percent %d, want %d", got, wantGC)
			}
		})
	}
}

func TestWarning(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		peak  uint64
		limit int64
		warns bool
	}{
		{100 * mb, 217 * mb, false},
		{163 * mb, 217 * mb, true},
		{300 * mb, math.MaxInt64, false}, // no limit: nothing to be near
		{300 * mb, 0, false},
	} {
		w := Warning(tc.peak, tc.limit)
		if (w != "") != tc.warns {
			t.Errorf("Warning(%d MB, %d MB) = %q", tc.peak/mb, tc.limit/mb, w)
		}
		if w != "" && !strings.Contains(w, "MemorySize") {
			t.Errorf("warning does not say what to do: %q", w)
		}
	}
}

func TestGaugeKeepsThePeak(t *testing.T) {
	var g Gauge
	g.Sample()
	first := g.Peak()
	if first == 0 {
		t.Fatal("no heap sampled")
	}
	g.peak.Store(first * 1000)
	g.Sample() // a lower heap does not lower the peak
	if g.Peak() != first*1000 {
		t.Errorf("peak %d, want %d", g.Peak(), first*1000)
	}
}

// heapOf is the limit Apply sets for a function of mb megabytes.
func heapOf(mb float64) int64 { return int64(mb * Share * (1 << 20)) }
