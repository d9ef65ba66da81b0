// Package collect defines what a collector is and the helpers every
// collector shares: turning AWS errors into recorded collection errors, and
// bounded fan-out of per-resource calls.
package collect

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Scope narrows a collection. The zero value reads every resource.
//
// A scoped collection (not All) reads the named resources only, and for each
// one leaves exactly one of three outcomes in the snapshot: the resource
// itself; snap.MarkAbsent(service, id) when AWS answered that it does not
// exist (a NotFound error, or a filtered read that matched nothing), which
// is an answer and not an error; or a recorded error naming it. A re-check
// archives a resource's findings only on the second outcome.
type Scope struct {
	// ResourceIDs, when set, names the only resources to read (IDs or ARNs,
	// as the service's describe call accepts them). Each absent one is
	// marked with exactly this string.
	ResourceIDs []string
	// AccountSettings asks for the service's account-level settings (EBS
	// encryption by default) without listing its resources. Alone, it reads
	// only the settings; with ResourceIDs, both.
	AccountSettings bool
}

// All reports whether the scope is the whole service.
func (s Scope) All() bool { return len(s.ResourceIDs) == 0 && !s.AccountSettings }

// Collector reads one service in one region into the snapshot. It never
// fails as a whole: every AWS error is recorded in snap.Errors so the checks
// can say NOT_AVAILABLE and the publisher knows not to archive.
type Collector interface {
	Service() snapshot.Service
	Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope Scope)
}

// ReferenceDescriber is a collector with a second pass, run after every
// collector of the region: the KMS collector describes the keys resources
// point at that its own listing did not cover.
type ReferenceDescriber interface {
	DescribeReferenced(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot)
}

// ErrorCode returns the AWS error code of err ("AccessDeniedException", ...),
// or a generic code for transport errors and cancellations.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "Timeout"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return EndpointNotFound
	}
	return "RequestError"
}

// EndpointNotFound is the code of a call whose endpoint's name does not
// resolve: the service is not offered in the region (a new or opt-in
// region can lack some). It is not transient: retrying does not help.
const EndpointNotFound = "EndpointNotFound"

// ErrorMessage is the AWS error message, or err's text.
func ErrorMessage(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorMessage()
	}
	return err.Error()
}

// Reason is a one-line explanation of err for a NOT_AVAILABLE finding.
func Reason(operation string, err error) string {
	return operation + " failed: " + ErrorCode(err) + ": " + ErrorMessage(err)
}

// Recorder appends collection errors to a snapshot; it is safe for
// concurrent use (the snapshot guards its maps).
type Recorder struct {
	snap    *snapshot.Snapshot
	service snapshot.Service
}

// NewRecorder marks svc as collected in snap and returns its recorder.
func NewRecorder(snap *snapshot.Snapshot, svc snapshot.Service) *Recorder {
	snap.MarkCollected(svc)
	return &Recorder{snap: snap, service: svc}
}

// Fail records a failed call. resource is empty for list calls.
func (r *Recorder) Fail(operation, resource string, err error) {
	e := snapshot.CollectionError{
		Service:   r.service,
		Region:    r.snap.Region,
		Operation: operation,
		Resource:  resource,
		Code:      ErrorCode(err),
		Message:   ErrorMessage(err),
	}
	r.snap.AddError(e)
}

// IncompleteResponse is the error code recorded for a call that answered
// without a value AWS always returns.
const IncompleteResponse = "IncompleteResponse"

// Incomplete records a call that answered without a value AWS always
// returns (what): like a failed call, the value is unknown and the scope
// incomplete, so nothing is archived on it. It returns the reason for the
// unknown value.
func (r *Recorder) Incomplete(operation, resource, what string) string {
	reason := operation + " returned no " + what
	r.Fail(operation, resource, &smithy.GenericAPIError{Code: IncompleteResponse, Message: reason})
	return reason
}

// Indexes returns 0..n-1, for ForEach over parallel slices.
func Indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// ForEach runs fn over items with at most workers in flight. Per-resource
// describe calls are independent, and their quotas (KMS DescribeKey 2000/s)
// are far above what a handful of workers can reach.
func ForEach[T any](ctx context.Context, workers int, items []T, fn func(context.Context, T)) {
	if workers < 1 {
		workers = 1
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	// No early exit on cancellation: fn's call then fails fast and records
	// the error, so no item silently goes missing.
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func(it T) {
			defer func() { <-sem; wg.Done() }()
			fn(ctx, it)
		}(it)
	}
	wg.Wait()
}

// Tags turns the tag list a list or describe answer carried into
// snapshot.Tags; nil when it carried none. kv reads one tag's key and value
// (the SDKs have one Tag type per service). A tag without a key is skipped;
// a missing value is the empty string; of a key listed twice, the last
// value is kept.
func Tags[T any](tags []T, kv func(T) (key, value *string)) snapshot.Tags {
	out := make(snapshot.Tags, 0, len(tags))
	for _, t := range tags {
		k, v := kv(t)
		if aws.ToString(k) == "" {
			continue
		}
		out = append(out, snapshot.Tag{Key: *k, Value: aws.ToString(v)})
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortStableFunc(out, func(a, b snapshot.Tag) int { return strings.Compare(a.Key, b.Key) })
	kept := out[:0]
	for i, t := range out {
		if i+1 < len(out) && out[i+1].Key == t.Key {
			continue // a later value of the same key wins
		}
		kept = append(kept, t)
	}
	return slices.Clip(kept)
}

// Interner hands out one copy of each distinct string: the values most
// resources of a listing share (availability zone, state, type, key ARN)
// are then held once, not once per resource. Not safe for concurrent use:
// one per listing.
type Interner map[string]string

// String returns the interned copy of s.
func (in Interner) String(s string) string {
	if c, ok := in[s]; ok {
		return c
	}
	in[s] = s
	return s
}
