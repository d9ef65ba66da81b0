package integration

import (
	"context"
	"testing"
)

// BenchmarkDryRunSweepOfTheDemoAccount runs a full dry-run sweep of the
// seeded demo account (moto behind the gap-filling proxy, one region) and
// reports the AWS calls one sweep makes: the cost side of "cheaper to run".
// Wall time here is moto's, not AWS's.
func BenchmarkDryRunSweepOfTheDemoAccount(b *testing.B) {
	acct := seedDemo(b)
	r, counter := newRunner(b, acct.srv, acct.endpoint)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Handle(context.Background(), []byte(`{"dryRun":true}`)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(counter.Total())/float64(b.N), "calls/sweep")
}
