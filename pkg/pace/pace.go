// Package pace paces AWS calls client-side at a fraction of AWS's documented
// request quotas, so that a scan's speed is set by the quotas and not by
// throttling errors: throttling is not the control loop, and retries stay
// for real transient errors.
//
// A quota is a token bucket AWS keeps per account, region and operation (or
// group of operations sharing it). A Pacer holds one client-side token bucket
// per (key, region, quota), where key names the account or credentials whose
// quotas the calls draw on, and every goroutine and every config built from
// the same Pacer shares them. Each bucket runs at fraction × the documented
// rate, leaving the rest for the account's own workloads. Operations without
// a documented quota are not paced.
package pace

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/time/rate"
)

// DefaultFraction is the share of each quota a scan uses unless told
// otherwise: 90%. The rest is left to the account's own workloads, which
// share the quotas; the quotas a scan spends most time on (ACM
// DescribeCertificate, CloudTrail reads, RDS) are ones workloads seldom call,
// while the busy ones (KMS cryptographic operations, GetSecretValue) are
// quotas a scan never touches. It is also a margin for our clock and AWS's
// buckets not agreeing to the millisecond. A sweep bound by one quota then
// takes about 1/0.9 = 1.11 times the quota-bound minimum (0.8 would take 1.25
// times); a deployment that shares quotas with heavy callers sets less.
const DefaultFraction = 0.9

// Pacer paces calls per (key, region, quota). Its zero value is not usable:
// build one with New. A nil *Pacer paces nothing.
type Pacer struct {
	fraction float64
	off      bool

	mu      sync.Mutex
	buckets map[bucketKey]*rate.Limiter
}

type bucketKey struct{ key, region, bucket string }

// New returns a Pacer running every quota at fraction of its documented
// rate (and burst). fraction must be in (0, 1].
func New(fraction float64) (*Pacer, error) {
	if err := ValidFraction(fraction); err != nil {
		return nil, err
	}
	return &Pacer{fraction: fraction, buckets: map[bucketKey]*rate.Limiter{}}, nil
}

// ValidFraction reports why fraction cannot be a quota fraction, or nil.
func ValidFraction(fraction float64) error {
	if !(fraction > 0 && fraction <= 1) { // also refuses NaN
		return fmt.Errorf("quota fraction %v is not in (0, 1]", fraction)
	}
	return nil
}

// Off returns a Pacer that paces nothing: for tools and tests that want the
// SDK's own retries only.
func Off() *Pacer { return &Pacer{off: true} }

// Fraction is the share of each quota the Pacer uses (0 when off).
func (p *Pacer) Fraction() float64 {
	if p == nil || p.off {
		return 0
	}
	return p.fraction
}

// Limit returns the client-side rate and burst of service:operation, and
// false when the operation is not paced.
func (p *Pacer) Limit(service, operation string) (rate.Limit, int, bool) {
	b, ok := p.bucket(service, operation, false)
	if !ok {
		return 0, 0, false
	}
	r, burst := b.Scaled(p.fraction)
	return r, burst, true
}

func (p *Pacer) bucket(service, operation string, unpaged bool) (Bucket, bool) {
	if p == nil || p.off {
		return Bucket{}, false
	}
	if unpaged {
		if b, ok := LookupUnpaged(service, operation); ok {
			return b, true
		}
	}
	return Lookup(service, operation)
}

// limiter returns the shared limiter of (key, region, b), made on first use
// with a full bucket.
func (p *Pacer) limiter(key, region string, b Bucket) *rate.Limiter {
	k := bucketKey{key, region, b.Name}
	p.mu.Lock()
	defer p.mu.Unlock()
	lim, ok := p.buckets[k]
	if !ok {
		lim = rate.NewLimiter(b.Scaled(p.fraction))
		p.buckets[k] = lim
	}
	return lim
}

// Wait blocks until one call of service:operation may go for key in region,
// and returns at once for an operation that is not paced. unpaged says the
// call names neither pagination nor a filter (EC2 keeps a smaller quota for
// those). A wait that ctx ends, or that would outlast ctx's deadline, takes
// no token and returns an error wrapping ctx's error (context.Canceled or
// context.DeadlineExceeded): the caller's error code for it is a timeout,
// and the SDK does not retry it.
func (p *Pacer) Wait(ctx context.Context, key, region, service, operation string, unpaged bool) error {
	b, ok := p.bucket(service, operation, unpaged)
	if !ok {
		return nil
	}
	lim := p.limiter(key, region, b)
	now := time.Now()
	r := lim.ReserveN(now, 1) // burst ≥ 1: always OK
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Before(now.Add(delay)) {
		r.CancelAt(now)
		return canceled(b, delay, context.DeadlineExceeded)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return canceled(b, delay, ctx.Err())
	}
}

// canceled is the error of a wait ctx ended. aws.RequestCanceledError tells
// the SDK's retryer not to retry it, and unwraps to err.
func canceled(b Bucket, delay time.Duration, err error) error {
	return &aws.RequestCanceledError{Err: fmt.Errorf("paced at %s, the call would have waited %v: %w", b.Name, delay.Round(time.Millisecond), err)}
}
