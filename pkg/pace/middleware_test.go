package pace_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

// arrivals records when the fake endpoint received each request, by
// operation.
type arrivals struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (a *arrivals) add(op string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at == nil {
		a.at = map[string][]time.Time{}
	}
	a.at[op] = append(a.at[op], time.Now())
}

func (a *arrivals) of(op string) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at[op]...)
}

// fake is a JSON endpoint (KMS, ACM) that records arrivals; fail, when
// set, answers an attempt with an error instead.
func fake(t *testing.T, rec *arrivals, fail func(op string, n int) *wirefake.Error) *wirefake.Server {
	t.Helper()
	srv := wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		rec.add(op)
		if fail != nil {
			if err := fail(op, len(rec.of(op))); err != nil {
				return nil, err
			}
		}
		switch op {
		case "DescribeKey":
			return map[string]any{"KeyMetadata": map[string]any{"KeyId": in["KeyId"], "Arn": "arn:aws:kms:eu-west-1:111122223333:key/" + in["KeyId"].(string)}}, nil
		case "ListResourceTags":
			return map[string]any{"Tags": []any{}, "Truncated": false}, nil
		case "ListCertificates":
			return map[string]any{"CertificateSummaryList": []any{}}, nil
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
	t.Cleanup(srv.Close)
	return srv
}

func config(t *testing.T, url, region string, p *pace.Pacer, o awsconfig.Options) aws.Config {
	t.Helper()
	o.Region, o.EndpointURL, o.Pacer = region, url, p
	o.Credentials = credentials.NewStaticCredentialsProvider("testing", "testing", "")
	if o.MaxBackoff == 0 {
		o.MaxBackoff = time.Millisecond
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 3
	}
	cfg, err := awsconfig.Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func pacer(t *testing.T, fraction float64) *pace.Pacer {
	t.Helper()
	p, err := pace.New(fraction)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConcurrentCallsAreSpreadAtTheRate: 41 concurrent DescribeKey calls
// through a real KMS client, paced at 4% of the 2000/s quota (80/s, burst
// 1), reach the endpoint one slot apart. The bounds are ones load cannot
// break: a request never arrives before its slot (the k-th no earlier than
// k/80 s after the start), so the span is at least 0.5 s and no window
// holds more requests than its slots; only the upper bound on the span
// allows for a slow machine, generously.
func TestConcurrentCallsAreSpreadAtTheRate(t *testing.T) {
	const n, rps = 41, 80.0
	rec := &arrivals{}
	c := kms.NewFromConfig(config(t, fake(t, rec, nil).URL, "eu-west-1", pacer(t, rps/2000), awsconfig.Options{}))
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(string(rune('a' + i%26)))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	at := rec.of("DescribeKey")
	if len(at) != n {
		t.Fatalf("%d requests arrived, want %d", len(at), n)
	}
	last := at[0]
	for _, a := range at {
		if a.After(last) {
			last = a
		}
	}
	want := time.Duration(float64(n-1) / rps * float64(time.Second))
	if span := last.Sub(start); span < want || span > want+3*time.Second {
		t.Errorf("%d calls at %v/s took %v; want at least %v (and not much more)", n, rps, span, want)
	}
	// No window [start, start+w] holds more than the slots in it.
	for _, w := range []time.Duration{0, 100 * time.Millisecond, 250 * time.Millisecond, 400 * time.Millisecond} {
		in := 0
		for _, a := range at {
			if !a.After(start.Add(w)) {
				in++
			}
		}
		if slots := 1 + int(w.Seconds()*rps); in > slots {
			t.Errorf("%d requests arrived in the first %v; at %v/s, burst 1, at most %d may", in, w, rps, slots)
		}
	}
}

// TestRetriesArePaced: the pacer sits after the SDK's retry middleware, so
// every attempt waits for a token, not only the first.
func TestRetriesArePaced(t *testing.T) {
	rec := &arrivals{}
	failFirst := func(op string, n int) *wirefake.Error {
		if n <= 3 {
			return &wirefake.Error{Status: 500, Code: "InternalFailure", Message: "try again"}
		}
		return nil
	}
	c := kms.NewFromConfig(config(t, fake(t, rec, failFirst).URL, "eu-west-1", pacer(t, 0.01), awsconfig.Options{MaxAttempts: 5})) // 20/s
	start := time.Now()
	if _, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	at := rec.of("DescribeKey")
	if len(at) != 4 {
		t.Fatalf("%d attempts, want 4", len(at))
	}
	for i, a := range at {
		if slot := time.Duration(i) * 50 * time.Millisecond; a.Sub(start) < slot {
			t.Errorf("attempt %d arrived after %v, before its slot at %v: retries are not paced", i+1, a.Sub(start), slot)
		}
	}
}

// TestCancelledWaitEndsTheCall: a call waiting for its token ends when its
// context is cancelled, with the context's error (a Timeout to the
// collectors), without reaching the endpoint or being retried; a wait that
// would outlast the deadline fails at once.
func TestCancelledWaitEndsTheCall(t *testing.T) {
	rec := &arrivals{}
	c := acm.NewFromConfig(config(t, fake(t, rec, nil).URL, "eu-west-1", pacer(t, 0.01), awsconfig.Options{MaxAttempts: 8})) // ListCertificates: 0.08/s
	if _, err := c.ListCertificates(context.Background(), &acm.ListCertificatesInput{}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.ListCertificates(ctx, &acm.ListCertificatesInput{})
	if !errors.Is(err, context.Canceled) || collect.ErrorCode(err) != "Timeout" {
		t.Fatalf("cancelled wait: %v (code %s); want context.Canceled, recorded as Timeout", err, collect.ErrorCode(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the cancelled call took %v; its wait was 12.5 s", d)
	}

	dctx, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	start = time.Now()
	_, err = c.ListCertificates(dctx, &acm.ListCertificatesInput{})
	if !errors.Is(err, context.DeadlineExceeded) || collect.ErrorCode(err) != "Timeout" {
		t.Fatalf("wait past the deadline: %v (code %s)", err, collect.ErrorCode(err))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a wait that cannot end before the deadline took %v; it must fail at once", d)
	}
	if got := len(rec.of("ListCertificates")); got != 1 {
		t.Errorf("the endpoint saw %d ListCertificates; the waits that ended must not reach it", got)
	}
}

// TestUnknownOperationsAreNotDelayed: an operation without a documented
// quota goes at once however slow the pacer, while a paced one waits.
func TestUnknownOperationsAreNotDelayed(t *testing.T) {
	rec := &arrivals{}
	c := kms.NewFromConfig(config(t, fake(t, rec, nil).URL, "eu-west-1", pacer(t, 0.0001), awsconfig.Options{})) // DescribeKey: one every 5 s
	start := time.Now()
	for range 30 {
		if _, err := c.ListResourceTags(context.Background(), &kms.ListResourceTagsInput{KeyId: aws.String("k")}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("30 unpaced calls took %v", d)
	}
	if _, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("k")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second DescribeKey at 0.2/s: %v; want it held back", err)
	}
}

// TestConfigsShareBucketsPerKeyAndRegion: a regional copy of a config
// (ForRegion) in the same region shares its buckets; another region, or a
// config of another account built on the same Pacer, does not.
func TestConfigsShareBucketsPerKeyAndRegion(t *testing.T) {
	rec := &arrivals{}
	url := fake(t, rec, nil).URL
	p := pacer(t, 0.01) // ListCertificates: one every 12.5 s, burst 1
	base := config(t, url, "eu-west-1", p, awsconfig.Options{})
	member := config(t, url, "eu-west-1", p, awsconfig.Options{PaceKey: "111122223333"})
	call := func(cfg aws.Config) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := acm.NewFromConfig(cfg).ListCertificates(ctx, &acm.ListCertificatesInput{})
		return err
	}
	for name, cfg := range map[string]aws.Config{
		"base":             base,
		"another region":   awsconfig.ForRegion(base, "us-east-1"),
		"another account":  member,
		"member elsewhere": awsconfig.ForRegion(member, "us-east-1"),
	} {
		if err := call(cfg); err != nil {
			t.Errorf("%s: first call held back: %v", name, err)
		}
	}
	if err := call(awsconfig.ForRegion(base, "eu-west-1")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a copy of the base config in its region: %v; want it to wait on the base's bucket", err)
	}
}

// TestUnpaginatedDescribeVolumesUsesTheSmallerBucket: through a real EC2
// client, a DescribeVolumes naming neither MaxResults nor a filter draws on
// EC2's smaller unfiltered-and-unpaginated bucket, a paged one on the
// regular bucket.
func TestUnpaginatedDescribeVolumesUsesTheSmallerBucket(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><volumeSet/></DescribeVolumesResponse>`))
	}))
	t.Cleanup(srv.Close)
	// At 2%: unpaged 0.2/s burst 1; paged 0.4/s burst 2.
	c := ec2.NewFromConfig(config(t, srv.URL, "eu-west-1", pacer(t, 0.02), awsconfig.Options{}))
	call := func(in *ec2.DescribeVolumesInput) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.DescribeVolumes(ctx, in)
		return err
	}
	unpaged := &ec2.DescribeVolumesInput{VolumeIds: []string{"vol-1"}}
	if err := call(unpaged); err != nil {
		t.Fatal(err)
	}
	if err := call(unpaged); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second unpaginated call: %v; want it held back (burst 1)", err)
	}
	for i, in := range []*ec2.DescribeVolumesInput{
		{MaxResults: aws.Int32(500)},
		{Filters: []ec2types.Filter{{Name: aws.String("encrypted"), Values: []string{"false"}}}},
	} {
		if err := call(in); err != nil {
			t.Errorf("paged or filtered call %d held back by the unpaginated bucket: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Errorf("endpoint saw %d calls, want 3", calls)
	}
}
