package awsconfig

import (
	"context"
	"sort"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// CallCounter counts API calls by service and operation, once per logical
// call (retries are not counted). Tests use it to prove call budgets and the
// least-privilege policy; the runner reports it in the summary.
type CallCounter struct {
	mu     sync.Mutex
	counts map[Call]int
}

// Call names one API operation, e.g. {"KMS", "ListKeys"}; Service is the
// SDK's service ID.
type Call struct {
	Service   string `json:"service"`
	Operation string `json:"operation"`
}

// NewCallCounter returns an empty counter.
func NewCallCounter() *CallCounter { return &CallCounter{counts: map[Call]int{}} }

func (c *CallCounter) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("postureCallCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.add(Call{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx)})
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (c *CallCounter) add(k Call) {
	c.mu.Lock()
	c.counts[k]++
	c.mu.Unlock()
}

// Count returns how many times service:operation was called.
func (c *CallCounter) Count(service, operation string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[Call{service, operation}]
}

// CallCount is one row of Snapshot.
type CallCount struct {
	Call
	Count int `json:"count"`
}

// Snapshot returns all counts, sorted by service then operation.
func (c *CallCounter) Snapshot() []CallCount {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CallCount, 0, len(c.counts))
	for k, n := range c.counts {
		out = append(out, CallCount{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Operation < out[j].Operation
	})
	return out
}

// Total is the number of calls counted.
func (c *CallCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// Since returns the calls counted after before (an earlier Snapshot): what
// one run made, when a warm Lambda container's counter outlives runs.
func (c *CallCounter) Since(before []CallCount) []CallCount {
	prev := map[Call]int{}
	for _, b := range before {
		prev[b.Call] = b.Count
	}
	var out []CallCount
	for _, cc := range c.Snapshot() {
		if n := cc.Count - prev[cc.Call]; n > 0 {
			out = append(out, CallCount{cc.Call, n})
		}
	}
	return out
}
