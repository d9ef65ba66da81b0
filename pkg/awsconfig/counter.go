package awsconfig

import (
	"context"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// CallCounter counts API calls by service and operation, once per logical
// call (retries are not counted), and the throttling responses those calls
// received (every attempt answered with a throttling error, retried or
// not). Tests use it to prove call budgets and the least-privilege policy;
// the runner reports it in the summary, and the run log and metrics read
// the throttles from there.
type CallCounter struct {
	mu        sync.Mutex
	counts    map[Call]int
	throttled map[Call]int
	// parts are the IAM actions of the parts of the transactions counted
	// (a DynamoDB transaction needs each write's own action).
	parts map[Call]map[string]bool
}

// Call names one API operation, e.g. {"KMS", "ListKeys"}; Service is the
// SDK's service ID.
type Call struct {
	Service   string `json:"service"`
	Operation string `json:"operation"`
}

// NewCallCounter returns an empty counter.
func NewCallCounter() *CallCounter {
	return &CallCounter{counts: map[Call]int{}, throttled: map[Call]int{}, parts: map[Call]map[string]bool{}}
}

// throttles classifies an attempt's error as the SDK's retryer does: by
// the throttling error codes (Throttling, ThrottlingException,
// TooManyRequestsException, RequestLimitExceeded, LimitExceededException,
// SlowDown, ...) or an unmodeled HTTP 429.
var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// IsThrottle reports whether err is a throttling response.
func IsThrottle(err error) bool {
	return err != nil && throttles.IsErrorThrottle(err) == aws.TrueTernary
}

func (c *CallCounter) middleware(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("postureCallCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			call := callOf(ctx)
			c.add(c.counts, call)
			if t, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
				c.addParts(call, t)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After); err != nil {
		return err
	}
	// The deserialize step runs once per attempt, inside the retry loop; as
	// its first middleware this one sees each attempt's error as decoded.
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("postureThrottleCounter",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if IsThrottle(err) {
				c.add(c.throttled, callOf(ctx))
			}
			return out, md, err
		}), middleware.Before)
}

func callOf(ctx context.Context) Call {
	return Call{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx)}
}

// addParts records the IAM actions a transaction's writes need.
func (c *CallCounter) addParts(call Call, t *dynamodb.TransactWriteItemsInput) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts[call] == nil {
		c.parts[call] = map[string]bool{}
	}
	for _, it := range t.TransactItems {
		switch {
		case it.Put != nil:
			c.parts[call]["dynamodb:PutItem"] = true
		case it.Delete != nil:
			c.parts[call]["dynamodb:DeleteItem"] = true
		case it.Update != nil:
			c.parts[call]["dynamodb:UpdateItem"] = true
		case it.ConditionCheck != nil:
			c.parts[call]["dynamodb:ConditionCheckItem"] = true
		}
	}
}

func (c *CallCounter) add(m map[Call]int, k Call) {
	c.mu.Lock()
	m[k]++
	c.mu.Unlock()
}

// Count returns how many times service:operation was called.
func (c *CallCounter) Count(service, operation string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[Call{service, operation}]
}

// Throttled returns how many attempts of service:operation were throttled.
func (c *CallCounter) Throttled(service, operation string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.throttled[Call{service, operation}]
}

// CallCount is one row of Snapshot.
type CallCount struct {
	Call
	Count int `json:"count"`
	// Throttled counts the attempts answered with a throttling error
	// (each retried, or the last one failing the call).
	Throttled int `json:"throttled,omitempty"`
	// Parts are the IAM actions of the parts of the calls, for a
	// transaction (sorted; empty otherwise): see IAMActions.
	Parts []string `json:"-"`
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
		cc := CallCount{Call: k, Count: n, Throttled: c.throttled[k]}
		for a := range c.parts[k] {
			cc.Parts = append(cc.Parts, a)
		}
		sort.Strings(cc.Parts)
		out = append(out, cc)
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
	prev := map[Call]CallCount{}
	for _, b := range before {
		prev[b.Call] = b
	}
	var out []CallCount
	for _, cc := range c.Snapshot() {
		p := prev[cc.Call]
		if n, t := cc.Count-p.Count, cc.Throttled-p.Throttled; n > 0 || t > 0 {
			// Parts are the counter's whole life's: a container's runs
			// are one function's, with one policy.
			out = append(out, CallCount{Call: cc.Call, Count: n, Throttled: t, Parts: cc.Parts})
		}
	}
	return out
}
