// Package memlimit fits the Go heap to the memory a Lambda function has, and
// measures how close a run came to it. Without a limit the Go collector lets
// the heap grow to twice what is live before collecting, which a 256 MB
// function does not have room for; with one it collects harder as the heap
// nears the limit, and a run that still outgrows it is said, not silent.
package memlimit

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
)

// Share is the part of the function's memory given to the Go runtime's
// limit. The rest is what the limit does not count but Lambda does: the
// binary's own resident pages (about 40 MB of this one's, measured: a
// sweep of the large benchmark account peaked at 229 MB RSS with a 217 MB
// limit).
const Share = 0.75

// Apply sets, in Lambda (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, in MB), the Go
// memory limit unless GOMEMLIMIT is set and the collector's target unless
// GOGC is set, and returns the limit in force in bytes (math.MaxInt64 when
// there is none, outside Lambda).
func Apply(getenv func(string) string) int64 {
	if getenv == nil {
		getenv = os.Getenv
	}
	mb, err := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	inLambda := err == nil && mb > 0
	if inLambda && getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(float64(mb) * Share * (1 << 20)))
	}
	if inLambda && getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	return debug.SetMemoryLimit(-1)
}

// GCPercent is the collector's target in Lambda (Go's default is 100: a
// heap may grow to twice what is live before a collection). A sweep spends
// its time waiting on AWS's request quotas, so collecting more often costs
// it little, and keeps its peak far lower: on the large benchmark account,
// 159 and 169 MB RSS instead of 225 and 231, the unchanged account's sweep
// as fast, the fresh account's 13% slower (BENCHMARKS.md).
const GCPercent = 25

// Gauge keeps the highest heap in use it sampled.
type Gauge struct {
	peak atomic.Uint64
}

// Sample reads the heap in use now (a stop-the-world read of a few
// microseconds: call it at a run's high points, not per finding).
func (g *Gauge) Sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	for {
		old := g.peak.Load()
		if m.HeapAlloc <= old || g.peak.CompareAndSwap(old, m.HeapAlloc) {
			return
		}
	}
}

// Peak is the highest heap in use sampled, in bytes.
func (g *Gauge) Peak() uint64 { return g.peak.Load() }

// Warning is the notice for a run whose heap came within warnAt of limit
// (bytes; math.MaxInt64 or less than 1 means no limit), or "".
func Warning(peak uint64, limit int64) string {
	if limit <= 0 || limit == math.MaxInt64 || float64(peak) < WarnAt*float64(limit) {
		return ""
	}
	return fmt.Sprintf("memory: the heap reached %d MB of the %d MB this function gives it: an account this size is near the largest its MemorySize can audit (README, \"How large an account\"); raise MemorySize before a sweep runs out of memory and publishes nothing", peak>>20, limit>>20)
}

// WarnAt is the share of the limit past which a run warns.
const WarnAt = 0.75
