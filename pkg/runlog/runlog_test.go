package runlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/runlog"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
	"github.com/posture-auditor/posture-auditor/test/emfcheck"
)

// clock advances by step at each reading.
func clock(step time.Duration) func() time.Time {
	t := time.UnixMilli(1_700_000_000_000)
	return func() time.Time { t = t.Add(step); return t }
}

// capture is a Logger writing to buffers, at level.
type capture struct {
	logs, metrics bytes.Buffer
	l             *runlog.Logger
}

func newCapture(level slog.Level) *capture {
	c := &capture{}
	c.l = runlog.New(runlog.Options{Log: &c.logs, Level: level, Metrics: &c.metrics, Now: clock(1500 * time.Millisecond)})
	return c
}

// lines decodes the log, one object a line.
func (c *capture) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(c.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// only returns the one line with msg.
func only(t *testing.T, lines []map[string]any, msg string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %q lines in %v", len(found), msg, lines)
	}
	return found[0]
}

// roundTrip is v as it reads in a JSON line.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// sweep is a scheduled run's summary with one of each problem.
func sweep() *runner.Summary {
	return &runner.Summary{
		Trigger: trigger.Schedule, Account: "123456789012", Regions: []string{"us-east-1", "eu-west-1"},
		Checks: []string{"kms.rotation", "secretsmanager.rotation-enabled"},
		Counts: map[string]map[check.Status]int{
			"kms.rotation":                    {check.Passed: 3, check.Failed: 1},
			"secretsmanager.rotation-enabled": {check.Failed: 2, check.NotAvailable: 4},
		},
		FailedScopes: []runner.Scope{{Region: "eu-west-1", CheckID: "secretsmanager.rotation-enabled", Errors: []snapshot.CollectionError{
			{Service: snapshot.SecretsManager, Region: "eu-west-1", Operation: "ListSecrets", Code: "AccessDeniedException", Message: "not authorized"},
			{Service: snapshot.SecretsManager, Region: "eu-west-1", Operation: "ListSecrets", Code: "ThrottlingException", Message: "slow down"},
		}}},
		Lifecycle: runner.Lifecycle{New: 2, Resolved: 1, Archived: 1, Imported: 4, Failed: 3},
		Published: []publish.Report{
			{Region: "us-east-1", Imported: 4, Resolved: 2, Archived: 1, Failed: []publish.FailedFinding{
				{ID: "posture-auditor/kms.rotation/123456789012/us-east-1/arn:aws:kms:us-east-1:123456789012:key/k1", Action: publish.ActionResolved, ErrorCode: "InvalidInput", ErrorMessage: "bad"},
			}},
			{Region: "eu-west-1", Unpublished: 2, ErrorCode: "InvalidAccessException", Error: "Security Hub is not enabled in eu-west-1"},
		},
		Calls: []awsconfig.CallCount{
			{Call: awsconfig.Call{Service: "KMS", Operation: "ListKeys"}, Count: 2, Throttled: 2},
			{Call: awsconfig.Call{Service: "KMS", Operation: "DescribeKey"}, Count: 5},
			{Call: awsconfig.Call{Service: "Secrets Manager", Operation: "ListSecrets"}, Count: 2},
		},
	}
}

func handler(s *runner.Summary, err error) runlog.RunHandler {
	return func(context.Context, json.RawMessage) (*runner.Summary, error) { return s, err }
}

func TestParseLevel(t *testing.T) {
	for v, want := range map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "INFO": slog.LevelInfo, " warn ": slog.LevelWarn, "Error": slog.LevelError} {
		if got, err := runlog.ParseLevel(v); err != nil || got != want {
			t.Errorf("%q: %v %v", v, got, err)
		}
	}
	for _, v := range []string{"verbose", "warning", "0", "trace"} {
		if _, err := runlog.ParseLevel(v); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
			t.Errorf("%q accepted (%v)", v, err)
		}
	}
	if _, err := runlog.FromEnvironment(func(k string) string { return map[string]string{"LOG_LEVEL": "loud"}[k] }); err == nil {
		t.Error("FromEnvironment accepted LOG_LEVEL=loud")
	}
}

// TestRunFinishedLine: the run line carries the totals an operator needs,
// a failed scope and a finding not imported each have a warning with
// where and why.
func TestRunFinishedLine(t *testing.T) {
	c := newCapture(slog.LevelInfo)
	s, err := c.l.Runs(handler(sweep(), nil))(context.Background(), json.RawMessage(`{"detail-type":"Scheduled Event","source":"aws.scheduler"}`))
	if err != nil || s == nil {
		t.Fatal(s, err)
	}
	lines := c.lines(t)
	run := only(t, lines, "run finished")
	want := map[string]any{
		"level": "INFO", "trigger": "schedule", "account": "123456789012", "regions": []any{"us-east-1", "eu-west-1"}, "dryRun": false,
		"checks": 2.0, "counts": map[string]any{"PASSED": 3.0, "FAILED": 3.0, "NOT_AVAILABLE": 4.0},
		"failedScopes": 1.0, "importFailures": 3.0,
		"lifecycle": roundTrip(t, runner.Lifecycle{New: 2, Resolved: 1, Archived: 1, Imported: 4, Failed: 3}),
		"calls":     map[string]any{"KMS": 7.0, "Secrets Manager": 2.0},
		"throttles": map[string]any{"KMS": 2.0},
		// The clock advances 1.5 s a reading: one before the run, one after.
		"durationMs": 1500.0,
	}
	for k, v := range want {
		if !reflect.DeepEqual(run[k], v) {
			t.Errorf("run finished %s: %v, want %v", k, run[k], v)
		}
	}
	scope := only(t, lines, "scope failed")
	for k, v := range map[string]any{"level": "WARN", "region": "eu-west-1", "check": "secretsmanager.rotation-enabled", "service": "secretsmanager",
		"operation": "ListSecrets", "errorCode": "AccessDeniedException", "resource": "", "errors": 2.0} {
		if !reflect.DeepEqual(scope[k], v) {
			t.Errorf("scope failed %s: %v, want %v", k, scope[k], v)
		}
	}
	imp := only(t, lines, "finding not imported")
	for k, v := range map[string]any{"level": "WARN", "region": "us-east-1", "findingId": sweep().Published[0].Failed[0].ID, "action": "resolved", "errorCode": "InvalidInput"} {
		if !reflect.DeepEqual(imp[k], v) {
			t.Errorf("finding not imported %s: %v, want %v", k, imp[k], v)
		}
	}
	region := only(t, lines, "region not published")
	if region["region"] != "eu-west-1" || region["findings"] != 2.0 || region["errorCode"] != "InvalidAccessException" {
		t.Errorf("region not published: %v", region)
	}
	if len(lines) != 4 {
		t.Errorf("%d lines at info, want 4: %s", len(lines), c.logs.String())
	}
}

// TestRunMetricsAreEMF: every document is valid EMF; a sweep's hold the
// run's totals by trigger (and its problems without dimension), calls and
// throttles by service, and findings by check and status, zeros included.
func TestRunMetricsAreEMF(t *testing.T) {
	c := newCapture(slog.LevelInfo)
	if _, err := c.l.Runs(handler(sweep(), nil))(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	docs, other, err := emfcheck.Split(c.metrics.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 0 {
		t.Errorf("metrics output holds other lines: %q", other)
	}
	// 1 run document, 2 services, 2 checks x 3 statuses.
	if len(docs) != 1+2+6 {
		t.Fatalf("%d documents:\n%s", len(docs), c.metrics.String())
	}
	values := map[string]string{}
	for _, d := range docs {
		if d.Timestamp != docs[0].Timestamp {
			t.Errorf("documents of one run at different times: %d, %d", d.Timestamp, docs[0].Timestamp)
		}
		switch {
		case d.Has(runlog.Namespace, "RunDuration", "Trigger"):
			for _, m := range []string{"RunDuration", "FailedScopes", "ImportFailures", "FindingsImported", "FindingsResolved", "FindingsArchived"} {
				if !d.Has(runlog.Namespace, m, "Trigger") {
					t.Errorf("run document lacks %s by Trigger", m)
				}
				values[m] = d.Value(m)
			}
			for _, m := range []string{"FailedScopes", "ImportFailures"} {
				if !d.Has(runlog.Namespace, m) {
					t.Errorf("run document lacks %s without dimension", m)
				}
			}
			if d.Has(runlog.Namespace, "RunDuration") || d.Has(runlog.Namespace, "EventsDropped", "Trigger") {
				t.Error("run document: RunDuration without dimension, or event metrics in a sweep")
			}
			values["Trigger"] = d.Value("Trigger")
		case d.Has(runlog.Namespace, "ApiCalls", "Service"):
			if !d.Has(runlog.Namespace, "Throttles", "Service") {
				t.Error("service document without Throttles")
			}
			values["ApiCalls "+d.Value("Service")] = d.Value("ApiCalls")
			values["Throttles "+d.Value("Service")] = d.Value("Throttles")
		case d.Has(runlog.Namespace, "Findings", "CheckId", "Status"):
			values["Findings "+d.Value("CheckId")+" "+d.Value("Status")] = d.Value("Findings")
		default:
			t.Errorf("unexpected document %+v", d)
		}
	}
	want := map[string]string{
		"Trigger": "schedule", "RunDuration": "1500", "FailedScopes": "1", "ImportFailures": "3",
		// us-east-1 imported 4 and resolved 2, one of which failed.
		"FindingsImported": "4", "FindingsResolved": "1", "FindingsArchived": "1",
		"ApiCalls KMS": "7", "Throttles KMS": "2", "ApiCalls Secrets Manager": "2", "Throttles Secrets Manager": "0",
		"Findings kms.rotation PASSED": "3", "Findings kms.rotation FAILED": "1", "Findings kms.rotation NOT_AVAILABLE": "0",
		"Findings secretsmanager.rotation-enabled PASSED":        "0",
		"Findings secretsmanager.rotation-enabled FAILED":        "2",
		"Findings secretsmanager.rotation-enabled NOT_AVAILABLE": "4",
	}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values\n got %v\nwant %v", values, want)
	}
}

// TestOnDemandRunHasNoFindingsMetrics: an on-demand run (or a dry run) sees
// part of the account: its findings are not the posture's.
func TestOnDemandRunHasNoFindingsMetrics(t *testing.T) {
	s := sweep()
	s.Trigger, s.DryRun, s.Published, s.WouldPublish = trigger.OnDemand, true, nil, s.Published
	c := newCapture(slog.LevelInfo)
	if _, err := c.l.Runs(handler(s, nil))(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	docs, _, err := emfcheck.Split(c.metrics.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want the run's and 2 services':\n%s", len(docs), c.metrics.String())
	}
	if docs[0].Value("Trigger") != "on-demand" || docs[0].Value("ImportFailures") != "0" || docs[0].Value("FindingsImported") != "0" {
		t.Errorf("a dry run's plan counted as imports: %+v", docs[0].Members)
	}
	if strings.Contains(c.logs.String(), "finding not imported") {
		t.Error("a dry run logged import failures")
	}
}

// TestRunRefused: an error line, no metrics (an alarm on a missing
// RunDuration notices that sweeps stopped finishing).
func TestRunRefused(t *testing.T) {
	c := newCapture(slog.LevelInfo)
	if _, err := c.l.Runs(handler(nil, errors.New(`unknown check ID "kms.rotate"`)))(context.Background(), nil); err == nil {
		t.Fatal("error lost")
	}
	line := only(t, c.lines(t), "run refused")
	if line["level"] != "ERROR" || line["error"] != `unknown check ID "kms.rotate"` {
		t.Errorf("line %v", line)
	}
	if c.metrics.Len() != 0 {
		t.Errorf("metrics for a refused run: %s", c.metrics.String())
	}
}

func batch() *eventhandler.Result {
	key := resource.Ref{Kind: resource.KMSKey, Account: "123456789012", Region: "us-east-1", ID: "arn:aws:kms:us-east-1:123456789012:key/k1"}
	return &eventhandler.Result{
		BatchItemFailures: []eventhandler.BatchItemFailure{{ItemIdentifier: "m3"}},
		Messages: []eventhandler.Message{
			{ID: "m1", Event: "aws.kms DisableKeyRotation", Resources: []string{key.Key()}},
			{ID: "m2", Event: "aws.s3 PutBucketEncryption", Skipped: []string{"aws.s3 is not audited"}},
			{ID: "m3", Event: "aws.kms DisableKey", Resources: []string{key.Key()}, Retry: true},
			{ID: "m4", Skipped: []string{"malformed EventBridge event: invalid character 'h'"}},
		},
		Rechecked: 1,
		Summary: &runner.Summary{
			Trigger: trigger.Event, Account: "123456789012", Regions: []string{"us-east-1"},
			Counts:    map[string]map[check.Status]int{"kms.rotation": {check.Failed: 1}},
			Resources: []runner.TargetResult{{Resource: key, Outcome: runner.Failed, Transient: true, Reason: "ThrottlingException"}},
			Calls:     []awsconfig.CallCount{{Call: awsconfig.Call{Service: "KMS", Operation: "GetKeyRotationStatus"}, Count: 1, Throttled: 8}},
		},
	}
}

// TestEventsHandled: the events function's lines and metrics: a line per
// message dropped with its reasons, a warning per failed re-check, the
// invocation line, and EventsRechecked/Dropped/Retried by trigger.
func TestEventsHandled(t *testing.T) {
	c := newCapture(slog.LevelInfo)
	res, err := c.l.Batches(func(context.Context, json.RawMessage) (*eventhandler.Result, error) { return batch(), nil })(context.Background(), nil)
	if err != nil || res == nil {
		t.Fatal(res, err)
	}
	lines := c.lines(t)
	var dropped []string
	for _, l := range lines {
		if l["msg"] == "event acknowledged without a re-check" {
			dropped = append(dropped, l["messageId"].(string))
			if reasons, _ := l["reasons"].([]any); len(reasons) != 1 {
				t.Errorf("no reason: %v", l)
			}
		}
	}
	if !reflect.DeepEqual(dropped, []string{"m2", "m4"}) {
		t.Errorf("acknowledged without a re-check: %v", dropped)
	}
	failed := only(t, lines, "re-check failed")
	if failed["level"] != "WARN" || failed["transient"] != true || !strings.Contains(failed["resource"].(string), "k1") {
		t.Errorf("re-check failed: %v", failed)
	}
	inv := only(t, lines, "events handled")
	for k, v := range map[string]any{"messages": 4.0, "eventsRechecked": 1.0, "eventsDropped": 2.0, "eventsRetried": 1.0, "resources": 1.0,
		"account": "123456789012", "outcomes": map[string]any{"failed": 1.0}, "calls": map[string]any{"KMS": 1.0},
		"throttles": map[string]any{"KMS": 8.0}, "durationMs": 1500.0} {
		if !reflect.DeepEqual(inv[k], v) {
			t.Errorf("events handled %s: %v, want %v", k, inv[k], v)
		}
	}
	docs, _, err := emfcheck.Split(c.metrics.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("%d documents, want the invocation's and KMS's (no findings for a re-check):\n%s", len(docs), c.metrics.String())
	}
	run := docs[0]
	for m, v := range map[string]string{"Trigger": "event", "EventsRechecked": "1", "EventsDropped": "2", "EventsRetried": "1", "RunDuration": "1500"} {
		if m != "Trigger" && !run.Has(runlog.Namespace, m, "Trigger") || run.Value(m) != v {
			t.Errorf("%s: %q, want %q", m, run.Value(m), v)
		}
	}
	if docs[1].Value("Service") != "KMS" || docs[1].Value("Throttles") != "8" {
		t.Errorf("service document %+v", docs[1].Members)
	}
}

// TestEventsNothingRechecked: an invocation that re-checked nothing still
// says so, and counts its dropped events.
func TestEventsNothingRechecked(t *testing.T) {
	c := newCapture(slog.LevelInfo)
	res := &eventhandler.Result{Messages: []eventhandler.Message{{ID: "m1", Event: "aws.s3 PutBucketEncryption", Skipped: []string{"not audited"}}}}
	if _, err := c.l.Batches(func(context.Context, json.RawMessage) (*eventhandler.Result, error) { return res, nil })(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	only(t, c.lines(t), "events handled")
	docs, _, err := emfcheck.Split(c.metrics.Bytes())
	if err != nil || len(docs) != 1 || docs[0].Value("Trigger") != "event" || docs[0].Value("EventsDropped") != "1" {
		t.Fatalf("documents %v (%v):\n%s", docs, err, c.metrics.String())
	}
	// Input that is neither SQS nor EventBridge: an error line, no metrics.
	c = newCapture(slog.LevelInfo)
	if _, err := c.l.Batches(func(context.Context, json.RawMessage) (*eventhandler.Result, error) {
		return nil, errors.New("unsupported input")
	})(context.Background(), nil); err == nil {
		t.Fatal("error lost")
	}
	if line := only(t, c.lines(t), "events refused"); line["level"] != "ERROR" || c.metrics.Len() != 0 {
		t.Errorf("line %v, metrics %q", line, c.metrics.String())
	}
}

// TestLevels: warn keeps only the problems; debug adds what invoked the
// function, by name only.
func TestLevels(t *testing.T) {
	c := newCapture(slog.LevelWarn)
	if _, err := c.l.Runs(handler(sweep(), nil))(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for _, l := range c.lines(t) {
		if l["level"] != "WARN" {
			t.Errorf("at warn: %v", l)
		}
	}
	if c.metrics.Len() == 0 {
		t.Error("metrics depend on the log level")
	}

	c = newCapture(slog.LevelDebug)
	event := `{"detail-type":"Scheduled Event","source":"aws.scheduler","detail":{"secret":"do-not-log"}}`
	if _, err := c.l.Runs(handler(sweep(), nil))(context.Background(), json.RawMessage(event)); err != nil {
		t.Fatal(err)
	}
	inv := only(t, c.lines(t), "invocation")
	if inv["level"] != "DEBUG" || inv["detailType"] != "Scheduled Event" || inv["source"] != "aws.scheduler" {
		t.Errorf("invocation: %v", inv)
	}
	if _, err := c.l.Batches(func(context.Context, json.RawMessage) (*eventhandler.Result, error) { return batch(), nil })(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range c.lines(t) {
		if l["msg"] == "event received" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d event received lines at debug, want 4", n)
	}
	if strings.Contains(c.logs.String(), "do-not-log") {
		t.Error("an event body reached the log")
	}
}
