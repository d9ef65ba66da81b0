package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/awsevent"
	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

// samplesSkipped are the samples acknowledged without any AWS call.
var samplesSkipped = map[string]bool{
	"kms-disable-key-failed.json":                    true, // the call failed: nothing changed
	"cloudfront-create-response-headers-policy.json": true, // a new policy is used by nothing yet
}

// TestEverySampleEvent feeds every sample in events/ through the events
// function's real aws-lambda-go handler path against the demo account in
// moto. The samples' identifiers are AWS's documentation ones; each is
// rewritten to a demo resource of the same kind, so the re-check reads a
// real one. For each sample: no batch item failure; a single-resource
// event costs at most 5 AWS calls besides Security Hub; every demo resource
// it names has a finding observed by this re-check in Security Hub.
func TestEverySampleEvent(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	d := a.demo
	after := func(s, sep string) string { return s[strings.LastIndex(s, sep)+len(sep):] }
	rewrite := strings.NewReplacer(
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-password-AbCdEf", d["secrets/rotating"],
		"prod/db-password", strings.TrimSuffix(after(d["secrets/rotating"], "secret:"), d["secrets/rotating"][len(d["secrets/rotating"])-7:]),
		"8c3a47e2-5f1d-4b6a-9e0c-2d7f81a6b394", after(firstWithPrefix(d, "acm/"), "certificate/"),
		"4d2e9b71-0a3c-4f58-b6e1-7c95a0d3f2e8", after(nthWithPrefix(d, "acm/", 1), "certificate/"),
		"1234abcd-12ab-34cd-56ef-1234567890ab", keyID(d["kms/app"]),
		"0987dcba-09fe-87dc-65ba-ab0987654321", keyID(d["kms/not-rotating"]),
		"c9b2a5e1-7f3d-4e8a-9b6c-2d1e0f3a4b5c", seed.DemoCORSOnlyPolicy,
		"vol-0fedcba9876543210", after(d["ebs/unencrypted"], "volume/"),
		"E2QWRUHEXAMPLE", after(d["cloudfront/strict"], "distribution/"),
		"management-events", after(d["cloudtrail/main"], "trail/"),
		"aurora-snap-1", after(d["rds/cmk-cluster-snapshot"], "cluster-snapshot:"),
		"manual-snap-1", after(d["rds/cmk-db-snapshot"], "snapshot:"),
		"aurora-cluster-1", after(d["rds/cmk-cluster"], "cluster:"),
		"database-1-replica", after(d["rds/plain-db"], "db:"),
		"database-1", after(d["rds/cmk-db"], "db:"),
		"team/app", after(d["ecr/cmk"], "repository/"),
		"vol-0123456789abcdef0", after(d["ebs/cmk"], "volume/"),
	)
	exists := map[string]bool{}
	for _, v := range d {
		exists[v] = true
	}

	files, _ := filepath.Glob("../../events/eventbridge/*.json")
	files = append(files, "../../events/sqs-batch.json")
	if len(files) < 60 {
		t.Fatalf("found %d samples", len(files))
	}
	asserted := 0
	var calls []awsconfig.CallCount
	defer func() {
		// Every sample together exercises every read the events function
		// can make: its policy must grant exactly those.
		assertGrantsExactly(t, "EventsFunction", calls)
		// Guards the rewrite table: most samples must land on a demo resource.
		if asserted < 50 {
			t.Errorf("only %d sample targets were checked against Security Hub", asserted)
		}
	}()
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			raw = []byte(rewrite.Replace(string(raw)))
			targets := sampleTargets(t, raw)

			r, counter := newRunner(t, a.srv, a.endpoint)
			r.Publisher.RetryBackoff = time.Millisecond
			// Every re-check imports what it read, so that this test sees
			// it in Security Hub (unchanged findings are otherwise left
			// alone for a day: TestSteadyStateSweepImportsNothing).
			r.Publisher.ReimportAfter = -1
			start := time.Now().Truncate(time.Millisecond)
			// The function functions/events gives lambda.Start (less its logging).
			h := eventhandler.Handler{Engine: r}
			reply, err := lambda.NewHandler(func(ctx context.Context, ev json.RawMessage) (*eventhandler.Response, error) {
				return eventhandler.Reply(h.Handle(ctx, ev))
			}).Invoke(context.Background(), raw)
			if err != nil {
				t.Fatalf("handler error: %v", err)
			}
			var resp eventhandler.Response
			if err := json.Unmarshal(reply, &resp); err != nil || resp.BatchItemFailures == nil {
				t.Fatalf("reply %s is not a partial batch response (%v)", reply, err)
			}
			calls = append(calls, counter.Snapshot()...)
			t.Logf("calls: %d besides Security Hub, %d in all: %s", nonHubCalls(counter), counter.Total(), callList(counter))
			if len(resp.BatchItemFailures) != 0 {
				t.Fatalf("batch item failures: %s", reply)
			}
			if samplesSkipped[name] {
				if len(targets) != 0 || counter.Total() != 0 {
					t.Errorf("acknowledged sample made %d calls for %d targets", counter.Total(), len(targets))
				}
				return
			}
			if len(targets) == 0 {
				t.Fatal("the sample names nothing to re-check")
			}
			if len(targets) == 1 && !targets[0].Dependents {
				if n := nonHubCalls(counter); n > 5 {
					t.Errorf("%d calls besides Security Hub for one resource: %+v", n, counter.Snapshot())
				}
			}
			held := hub(t, a.cfg)
			checked := 0
			defer func() {
				// The rewrite table must land every sample on a demo resource.
				if checked == 0 {
					t.Errorf("none of the sample's resources is in the demo account: %+v", targets)
				}
			}()
			for _, tg := range targets {
				if tg.Ref.Kind == resource.ResponseHeadersPolicy {
					// The distribution that uses the demo's policy is re-judged.
					tg.Ref.ARN = d["cloudfront/legacy"]
				}
				if !exists[tg.Ref.ARN] && tg.Ref.Kind != resource.EBSDefaults && tg.Ref.Kind != resource.TrailCoverage {
					continue // a resource the demo account lacks: read as gone
				}
				if tg.Ref.Region != "" && tg.Ref.Region != region {
					continue // a region this deployment does not audit
				}
				asserted++
				checked++
				if !observedSince(held, tg.Ref.ARN, start) {
					t.Errorf("no finding on %s observed by this re-check", tg.Ref)
				}
			}
		})
	}
}

func sampleTargets(t *testing.T, raw []byte) []resource.Target {
	t.Helper()
	var batch struct {
		Records []struct{ Body string } `json:"Records"`
	}
	bodies := [][]byte{raw}
	if json.Unmarshal(raw, &batch) == nil && len(batch.Records) > 0 {
		bodies = nil
		for _, r := range batch.Records {
			bodies = append(bodies, []byte(r.Body))
		}
	}
	var out []resource.Target
	for _, b := range bodies {
		p, err := awsevent.Parse(b)
		if err != nil {
			t.Fatalf("sample does not parse: %v", err)
		}
		out = append(out, p.Targets...)
	}
	return out
}

func observedSince(held map[string]types.AwsSecurityFinding, resourceARN string, since time.Time) bool {
	for _, f := range held {
		if len(f.Resources) == 0 || aws.ToString(f.Resources[0].Id) != resourceARN {
			continue
		}
		if obs, ok := publish.ObservedAt(f); ok && !obs.Before(since) {
			return true
		}
	}
	return false
}

func firstWithPrefix(d map[string]string, prefix string) string { return nthWithPrefix(d, prefix, 0) }

// nthWithPrefix is the n-th (in key order) demo resource whose key has prefix.
func nthWithPrefix(d map[string]string, prefix string, n int) string {
	var keys []string
	for k := range d {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) <= n {
		return ""
	}
	return d[keys[n]]
}

// callList renders the calls as "KMS:DescribeKey x1, ...".
func callList(c *awsconfig.CallCounter) string {
	var parts []string
	for _, cc := range c.Snapshot() {
		parts = append(parts, fmt.Sprintf("%s:%s x%d", cc.Service, cc.Operation, cc.Count))
	}
	return strings.Join(parts, ", ")
}
