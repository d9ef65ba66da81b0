package kmscollect_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/kmscollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// BenchmarkCollect1000Keys collects 1,000 keys (1 ListKeys page, 11
// ListAliases pages, 999 DescribeKey, 999 GetKeyRotationStatus) from the
// wire fake on loopback: the client-side cost of a large region.
func BenchmarkCollect1000Keys(b *testing.B) {
	benchCollect(b, 1000, 0, []int{1, 8})
}

// BenchmarkCollect200KeysWith5msLatency adds 5 ms to every answer, a
// conservative in-region AWS round trip, to show what the bounded
// per-key concurrency buys on a real network.
func BenchmarkCollect200KeysWith5msLatency(b *testing.B) {
	benchCollect(b, 200, 5*time.Millisecond, []int{1, 8, 16})
}

func benchCollect(b *testing.B, keys int, latency time.Duration, workerCounts []int) {
	for _, workers := range workerCounts {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			fake := fakeKMS(keys, nil, nil)
			defer fake.Close()
			if latency > 0 {
				inner := fake.Config.Handler
				fake.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					time.Sleep(latency)
					inner.ServeHTTP(w, r)
				})
			}
			cfg := fakeConfig(b, fake.URL, nil)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				snap := snapshot.New("111122223333", "aws", region)
				kmscollect.Collector{Workers: workers}.Collect(context.Background(), cfg, snap, collect.Scope{})
				if len(snap.KMS.Keys) != keys {
					b.Fatal(len(snap.KMS.Keys))
				}
			}
		})
	}
}
