package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/runlog"
	"github.com/posture-auditor/posture-auditor/test/emfcheck"
)

// The operator's view end to end: runs of the demo account in moto through
// pkg/runlog exactly as the functions' mains wire it, their log lines and
// EMF documents captured.

const scheduled = `{"detail-type":"Scheduled Event","source":"aws.scheduler"}`

// logged is what one Logger wrote.
type logged struct{ logs, metrics bytes.Buffer }

func (o *logged) logger(level slog.Level) *runlog.Logger {
	return runlog.New(runlog.Options{Log: &o.logs, Level: level, Metrics: &o.metrics})
}

// lines decodes the log; every line must be a JSON object.
func (o *logged) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(o.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

func withMsg(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// TestRunLogAndMetrics: a sweep in which ECR's listing is throttled on
// every attempt and Security Hub refuses one finding logs a warning for
// each (where, which call, which AWS error code), a run line whose totals
// match the summary, and valid EMF documents carrying the same numbers.
func TestRunLogAndMetrics(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	s1, _ := a.run(t, `{"dryRun":true}`)
	bad := findingOf(t, s1, "kms.rotation", a.demo["kms/not-rotating"]).FindingID
	a.gaps.FailImports("InvalidInput", map[string]int{bad: -1})
	a.gaps.Throttle("ecr", "DescribeRepositories")
	defer a.gaps.Unthrottle("ecr", "DescribeRepositories")
	// A finding must change to be imported again: the key is fixed.
	a.fixKey(t)

	r, counter := newRunner(t, a.srv, a.endpoint)
	r.Publisher.RetryBackoff = time.Millisecond
	var out logged
	s, err := out.logger(slog.LevelInfo).Runs(r.Handle)(context.Background(), []byte(scheduled))
	if err != nil {
		t.Fatal(err)
	}
	ecrThrottled := counter.Throttled("ECR", "DescribeRepositories")
	if ecrThrottled < 2 {
		t.Fatalf("ECR throttled %d times: the proxy throttles every attempt", ecrThrottled)
	}
	lines := out.lines(t)

	run := withMsg(lines, "run finished")
	if len(run) != 1 {
		t.Fatalf("%d run lines:\n%s", len(run), out.logs.String())
	}
	got := run[0]
	if got["trigger"] != "schedule" || got["account"] != account || got["failedScopes"] != float64(len(s.FailedScopes)) ||
		got["importFailures"] != 1.0 || got["durationMs"] == nil {
		t.Errorf("run line: %v", got)
	}
	if th, _ := got["throttles"].(map[string]any); th["ECR"] != float64(ecrThrottled) {
		t.Errorf("run line throttles %v, counter says ECR %d", got["throttles"], ecrThrottled)
	}
	if calls, _ := got["calls"].(map[string]any); calls["KMS"] == nil || calls["SecurityHub"] == nil {
		t.Errorf("run line calls: %v", got["calls"])
	}

	var ecrScopes int
	for _, l := range withMsg(lines, "scope failed") {
		if l["level"] != "WARN" || l["region"] != region || l["check"] == "" {
			t.Errorf("scope line: %v", l)
		}
		if l["service"] == "ecr" {
			ecrScopes++
			if l["operation"] != "DescribeRepositories" || l["errorCode"] != "ThrottlingException" {
				t.Errorf("ECR scope line: %v", l)
			}
		}
	}
	if ecrScopes == 0 || len(withMsg(lines, "scope failed")) != len(s.FailedScopes) {
		t.Errorf("%d scope lines (%d ECR) for %d failed scopes", len(withMsg(lines, "scope failed")), ecrScopes, len(s.FailedScopes))
	}
	imp := withMsg(lines, "finding not imported")
	if len(imp) != 1 || imp[0]["findingId"] != bad || imp[0]["errorCode"] != "InvalidInput" || imp[0]["region"] != region || imp[0]["action"] != "resolved" {
		t.Errorf("import failure lines: %v", imp)
	}

	docs, other, err := emfcheck.Split(out.metrics.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 0 {
		t.Errorf("metrics output holds other lines: %q", other)
	}
	findings := 0
	for _, d := range docs {
		switch {
		case d.Has(runlog.Namespace, "RunDuration", "Trigger"):
			if d.Value("Trigger") != "schedule" || d.Value("ImportFailures") != "1" || d.Value("FailedScopes") == "0" {
				t.Errorf("run document: %v", d.Members)
			}
		case d.Has(runlog.Namespace, "Throttles", "Service") && d.Value("Service") == "ECR":
			if d.Value("Throttles") != strconv.Itoa(ecrThrottled) {
				t.Errorf("ECR document: %v", d.Members)
			}
		case d.Has(runlog.Namespace, "Findings", "CheckId", "Status"):
			findings++
		}
	}
	if findings != 3*len(s.Checks) {
		t.Errorf("%d findings documents for %d checks", findings, len(s.Checks))
	}
}

// secretValue plants a secret whose value is recognisable and returns its
// ARN and value.
func secretValue(t *testing.T, a lifecycleAccount) (string, string) {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	value := "canary-" + hex.EncodeToString(b)
	out, err := secretsmanager.NewFromConfig(a.cfg).CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("logs/canary"), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN), value
}

// TestLogsNeverHoldASecretValue: with a secret of a recognisable value in
// the account (and the demo seed's own placeholder values), a sweep and an
// event batch naming the secret, whose bodies carry the value (CloudTrail
// redacts it; a forged or future event might not), logged at debug, the
// most verbose level, write it on no line: neither the log nor the metrics.
func TestLogsNeverHoldASecretValue(t *testing.T) {
	a := newLifecycleAccount(t)
	arn, value := secretValue(t, a)
	const seeded = "demo-placeholder-not-a-secret" // test/seed's SecretString

	r, _ := newRunner(t, a.srv, a.endpoint)
	r.Publisher.RetryBackoff = time.Millisecond
	var out logged
	l := out.logger(slog.LevelDebug)
	s, err := l.Runs(r.Handle)(context.Background(), []byte(scheduled))
	if err != nil {
		t.Fatal(err)
	}
	judged := false
	for _, f := range s.Findings {
		judged = judged || f.ResourceARN == arn
	}
	if !judged {
		t.Fatal("the sweep did not judge the planted secret: this test would prove nothing")
	}

	update := apiCall("aws.secretsmanager", "UpdateSecret", map[string]any{"secretId": arn, "secretString": value}, map[string]any{"aRN": arn})
	put := apiCall("aws.secretsmanager", "PutSecretValue", map[string]any{"secretId": arn, "secretString": value}, nil)
	batch := sqsBatch(t, update, put, "not json "+value)
	res, err := l.Batches(eventhandler.Handler{Engine: r}.Handle)(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rechecked == 0 || res.Summary == nil {
		t.Fatalf("the UpdateSecret event re-checked nothing: %+v", res.Messages)
	}
	all := out.logs.String() + out.metrics.String()
	if !strings.Contains(all, "run finished") || !strings.Contains(all, "events handled") || !strings.Contains(all, "event received") {
		t.Fatalf("the lines this test reads are missing:\n%s", out.logs.String())
	}
	for _, secret := range []string{value, seeded} {
		for _, line := range strings.Split(all, "\n") {
			if strings.Contains(line, secret) {
				t.Errorf("a line holds the secret value %q: %s", secret, line)
			}
		}
	}
	if _, _, err := emfcheck.Split(out.metrics.Bytes()); err != nil {
		t.Error(err)
	}
}
