package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// callTimer times whole calls (retries included) by service and operation:
// the planner's, and Lambda's pollers' ReceiveMessage (what the queue costs
// the run, as opposed to the workers).
type callTimer struct {
	mu    sync.Mutex
	calls map[string][]time.Duration
}

func newCallTimer() *callTimer { return &callTimer{calls: map[string][]time.Duration{}} }

func (c *callTimer) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("orgbenchCallTimer",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			k := awsmiddleware.GetServiceID(ctx) + ":" + awsmiddleware.GetOperationName(ctx)
			c.mu.Lock()
			c.calls[k] = append(c.calls[k], time.Since(start))
			c.mu.Unlock()
			return out, md, err
		}), middleware.After)
}

// summary is "SQS:SendMessageBatch 5 calls, 12ms each on average, 30ms at
// most; ..." for the operations named (all when none are).
func (c *callTimer) summary(ops ...string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	for k := range c.calls {
		if len(ops) == 0 || containsString(ops, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		d := c.calls[k]
		var sum, most time.Duration
		for _, x := range d {
			sum += x
			most = max(most, x)
		}
		parts = append(parts, fmt.Sprintf("%s %d x %s on average (%s at most; %s in all)", k, len(d), (sum/time.Duration(len(d))).Round(time.Millisecond/10),
			most.Round(time.Millisecond/10), sum.Round(time.Millisecond)))
	}
	return strings.Join(parts, "; ")
}

// all are every call's duration, of every operation.
func (c *callTimer) all() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, d := range c.calls {
		out = append(out, d...)
	}
	return out
}

// withTimer returns cfg's copy whose calls c times (cfg's own API options
// are not touched: its slice is copied).
func withTimer(cfg aws.Config, c *callTimer) aws.Config {
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), c.middleware)
	return cfg
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// quantiles returns the 0th, 50th, 90th and 100th percentiles of ds.
func quantiles(ds []time.Duration) [4]time.Duration {
	var q [4]time.Duration
	if len(ds) == 0 {
		return q
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s)-1)+0.5))] }
	return [4]time.Duration{s[0], at(0.5), at(0.9), s[len(s)-1]}
}

func fmtQuantiles(q [4]time.Duration) string {
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("min %s, median %s, p90 %s, max %s", r(q[0]), r(q[1]), r(q[2]), r(q[3]))
}
