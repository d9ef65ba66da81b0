package pace

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBucketsAreKeyedByKeyRegionAndQuota: one limiter per (key, region,
// quota), shared by the operations of a shared quota and by every caller
// of the same Pacer; another account, region or quota gets its own.
func TestBucketsAreKeyedByKeyRegionAndQuota(t *testing.T) {
	p, err := New(0.5)
	if err != nil {
		t.Fatal(err)
	}
	get := func(key, region, svc, op string) any {
		b, ok := p.bucket(svc, op, false)
		if !ok {
			t.Fatalf("%s:%s not paced", svc, op)
		}
		return p.limiter(key, region, b)
	}
	base := get("", "eu-west-1", "CloudTrail", "DescribeTrails")
	if get("", "eu-west-1", "CloudTrail", "GetTrailStatus") != base || get("", "eu-west-1", "CloudTrail", "GetEventSelectors") != base {
		t.Error("CloudTrail's read operations must share one bucket")
	}
	if get("", "eu-west-1", "CloudTrail", "DescribeTrails") != base {
		t.Error("a second caller must get the same bucket")
	}
	for name, other := range map[string]any{
		"another region":  get("", "us-east-1", "CloudTrail", "DescribeTrails"),
		"another account": get("111122223333", "eu-west-1", "CloudTrail", "DescribeTrails"),
		"another quota":   get("", "eu-west-1", "ACM", "ListCertificates"),
	} {
		if other == base {
			t.Errorf("%s shares the bucket", name)
		}
	}
	// A bucket starts full: its burst goes at once, the next waits 1/rate.
	lim := p.limiter("", "eu-west-1", rdsAll)
	now := time.Now()
	for i := range 150 { // 0.5 × 300
		if d := lim.ReserveN(now, 1).DelayFrom(now); d != 0 {
			t.Fatalf("request %d of the burst waits %v", i, d)
		}
	}
	if d := lim.ReserveN(now, 1).DelayFrom(now); d < 160*time.Millisecond || d > 170*time.Millisecond {
		t.Errorf("after the burst, a request waits %v; want 1/6 s (0.5 × 12/s)", d)
	}
}

// TestWaitPastDeadlineFailsAtOnce: a wait longer than the context allows
// returns at once, as a deadline error that takes no token.
func TestWaitPastDeadlineFailsAtOnce(t *testing.T) {
	p, err := New(0.01) // ListCertificates: one every 12.5 s
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Wait(ctx, "", "eu-west-1", "ACM", "ListCertificates", false); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	err = p.Wait(dctx, "", "eu-west-1", "ACM", "ListCertificates", false)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("Wait = %v after %v; want a deadline error at once", err, time.Since(start))
	}
	// The refused wait took no token: the next one still waits 12.5 s, not 25.
	lim := p.limiter("", "eu-west-1", acmListCertificates)
	now := time.Now()
	if d := lim.ReserveN(now, 1).DelayFrom(now); d > 12500*time.Millisecond {
		t.Errorf("next wait %v: the cancelled reservation kept its token", d)
	}
}
