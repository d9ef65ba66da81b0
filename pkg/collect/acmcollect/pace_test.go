package acmcollect_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/acmcollect"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

// TestConcurrentCollectsShareTheQuota: the collector no longer paces
// itself; the config's pacer does, per account and region. Two Collects of
// one region running at once (a sweep and a re-check in a warm container)
// share ACM's DescribeCertificate quota (10/s), which an endpoint enforcing
// it (a bucket of one second's worth, refilled at 10/s) never has to
// throttle: 12 describes reach it at the default 90%, one every 111 ms, so
// the last arrives at least 1.22 s after the start (a per-Collect pacer
// would have sent both sets at once, twice the quota).
func TestConcurrentCollectsShareTheQuota(t *testing.T) {
	const issued = 6
	quota := rate.NewLimiter(10, 10)
	var mu sync.Mutex
	var describes []time.Time
	throttled := 0
	summaries := make([]map[string]any, issued)
	for i := range summaries {
		summaries[i] = map[string]any{"CertificateArn": fakeARN(i), "DomainName": fmt.Sprintf("c%d.example.com", i),
			"Type": "AMAZON_ISSUED", "Status": "ISSUED", "KeyAlgorithm": "RSA-2048"}
	}
	fake := wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		switch op {
		case "ListCertificates":
			return map[string]any{"CertificateSummaryList": summaries}, nil
		case "DescribeCertificate":
			mu.Lock()
			defer mu.Unlock()
			if !quota.Allow() {
				throttled++
				return nil, &wirefake.Error{Code: "ThrottlingException", Message: "Rate exceeded"}
			}
			describes = append(describes, time.Now())
			return map[string]any{"Certificate": map[string]any{"CertificateArn": in["CertificateArn"], "Type": "AMAZON_ISSUED",
				"Status": "ISSUED", "KeyAlgorithm": "RSA-2048", "InUseBy": []string{}}}, nil
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	cfg := fakeConfig(t, fake.URL, counter) // built by awsconfig.Load: paced at the default fraction

	start := time.Now()
	snaps := []*snapshot.Snapshot{snapshot.New(fakeAccount, "aws", region), snapshot.New(fakeAccount, "aws", region)}
	var wg sync.WaitGroup
	for _, snap := range snaps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acmcollect.Collector{Workers: 8}.Collect(context.Background(), cfg, snap, collect.Scope{})
		}()
	}
	wg.Wait()

	for i, snap := range snaps {
		if len(snap.Errors) != 0 || len(snap.ACM.Certificates) != issued {
			t.Fatalf("collect %d: %d certificates, errors %v", i, len(snap.ACM.Certificates), snap.Errors)
		}
		for arn, c := range snap.ACM.Certificates {
			if !c.Described || !c.Renewal.Known {
				t.Errorf("collect %d: %s not described", i, arn)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if throttled != 0 || counter.Throttled("ACM", "DescribeCertificate") != 0 {
		t.Errorf("the endpoint throttled %d DescribeCertificate attempts; pacing must keep within the quota", throttled)
	}
	if len(describes) != 2*issued {
		t.Fatalf("%d describes, want %d", len(describes), 2*issued)
	}
	last := describes[len(describes)-1]
	fraction := pace.DefaultFraction
	if want := time.Duration(float64(2*issued-1) / (10 * fraction) * float64(time.Second)); last.Sub(start) < want {
		t.Errorf("%d describes of two Collects arrived within %v; sharing %v of 10/s they take at least %v", 2*issued, last.Sub(start), pace.DefaultFraction, want)
	}
}
