package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
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

// BenchmarkEventToFinding measures, over 100 single-resource events per
// iteration, the time from an event's arrival at the events function (one
// SQS message: no batching window) to Security Hub accepting the re-judged
// findings (BatchImportFindings answered): the handler's whole path against
// moto behind the gap-filling proxy, one region. Four kinds are cycled: a
// key whose rotation is really toggled before each of its events (its
// finding must flip, and is checked to), a repository, a secret and a
// volume. Reported: median and p95 latency in ms, and AWS calls per event
// (Security Hub and the finding state table included). "back-to-back" sends
// the next event as soon as one is done; "spaced" leaves 400 ms between
// events. Run with -benchtime 1x.
func BenchmarkEventToFinding(b *testing.B) {
	for _, gap := range []time.Duration{0, 400 * time.Millisecond} {
		name := "back-to-back"
		if gap > 0 {
			name = "spaced"
		}
		b.Run(name, func(b *testing.B) { benchmarkEventToFinding(b, gap) })
	}
}

func benchmarkEventToFinding(b *testing.B, gap time.Duration) {
	a := newLifecycleAccount(b)
	a.run(b, `{}`)
	key := a.demo["kms/rotating"]
	kmsc := kms.NewFromConfig(a.cfg)
	repo := a.demo["ecr/cmk"]
	kinds := []func(i int) map[string]any{
		func(i int) map[string]any {
			name := "DisableKeyRotation"
			var err error
			if i%2 == 1 {
				name = "EnableKeyRotation"
				_, err = kmsc.EnableKeyRotation(context.Background(), &kms.EnableKeyRotationInput{KeyId: aws.String(keyID(key))})
			} else {
				_, err = kmsc.DisableKeyRotation(context.Background(), &kms.DisableKeyRotationInput{KeyId: aws.String(keyID(key))})
			}
			if err != nil {
				b.Fatal(err)
			}
			return apiCall("aws.kms", name, map[string]any{"keyId": keyID(key)}, map[string]any{"keyId": key})
		},
		func(int) map[string]any {
			return apiCall("aws.ecr", "CreateRepository", map[string]any{"repositoryName": "demo/cmk"}, map[string]any{"repository": map[string]any{"repositoryArn": repo}})
		},
		func(int) map[string]any {
			return apiCall("aws.secretsmanager", "UpdateSecret", map[string]any{"secretId": a.demo["secrets/rotating"]}, map[string]any{"arn": a.demo["secrets/rotating"]})
		},
		func(int) map[string]any {
			return apiCall("aws.ec2", "CreateVolume", map[string]any{"size": "8"}, map[string]any{"volumeId": a.demo["ebs/cmk"][strings.LastIndex(a.demo["ebs/cmk"], "/")+1:]})
		},
	}
	const events = 100
	r, counter := newRunner(b, a.srv, a.endpoint)
	// Quota pacing of its own, as a fresh Lambda container has: the
	// sub-benchmarks must not share one bucket.
	r.Publisher.Limiters = publish.NewLimiters()
	// Every event's findings are imported, changed or not: the latency
	// measured is to Security Hub accepting them.
	r.Publisher.ReimportAfter = -1
	h := eventhandler.Handler{Engine: r}
	b.ResetTimer()
	for range b.N {
		latencies := make([]time.Duration, 0, events)
		calls := counter.Total()
		for i := range events {
			kind := i % len(kinds)
			b.StopTimer()
			ev := kinds[kind](i / len(kinds))
			raw := sqsBatch(b, ev)
			time.Sleep(gap)
			b.StartTimer()
			start := time.Now()
			res, err := h.Handle(context.Background(), raw)
			latencies = append(latencies, time.Since(start))
			if err != nil || len(res.BatchItemFailures) != 0 || res.Summary.Lifecycle.Imported == 0 {
				b.Fatalf("event %d: %v %+v", i, err, res)
			}
			if kind == 0 {
				want := types.ComplianceStatusFailed
				if (i/len(kinds))%2 == 1 {
					want = types.ComplianceStatusPassed
				}
				b.StopTimer()
				if f := stored(b, a, "kms.rotation", key); f.Compliance.Status != want {
					b.Fatalf("event %d: kms.rotation is %s, want %s", i, f.Compliance.Status, want)
				}
				b.StartTimer()
			}
		}
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*95/100].Microseconds())/1000, "p95-ms")
		b.ReportMetric(float64(counter.Total()-calls)/events, "calls/event")
	}
}

// BenchmarkSweepsOfAnUnchangedAccount runs two published sweeps of the demo
// account (one region) and reports, for each, the findings imported and the
// Security Hub calls: the first imports everything, the second (nothing
// changed, less than a day later) only what changed. Run with -benchtime 1x.
func BenchmarkSweepsOfAnUnchangedAccount(b *testing.B) {
	for range b.N {
		b.StopTimer()
		a := newLifecycleAccount(b)
		r, counter := newRunner(b, a.srv, a.endpoint)
		r.Publisher.Limiters = publish.NewLimiters()
		b.StartTimer()
		for i, name := range []string{"first", "second"} {
			before := counter.Snapshot()
			s, err := r.Handle(context.Background(), []byte(`{}`))
			if err != nil {
				b.Fatal(err)
			}
			imports, reads := 0, 0
			for _, c := range counter.Since(before) {
				switch c.Operation {
				case "BatchImportFindings":
					imports += c.Count
				case "GetFindings":
					reads += c.Count
				}
			}
			b.ReportMetric(float64(s.Lifecycle.Imported), name+"-imported")
			b.ReportMetric(float64(s.Lifecycle.Unchanged), name+"-unchanged")
			b.ReportMetric(float64(imports), name+"-BatchImportFindings")
			b.ReportMetric(float64(reads), name+"-GetFindings")
			if i == 1 && s.Lifecycle.Imported != 0 {
				b.Fatalf("second sweep of an unchanged account imported %d", s.Lifecycle.Imported)
			}
		}
	}
}
