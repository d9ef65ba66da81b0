package org

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// TestWorkerRefusesExcludedAccounts: ExcludedAccounts are never audited,
// whoever queued their scope (the planner leaves them out; an event
// forwarded from the organization, an expansion or a direct invocation may
// name one): the message is refused before any AWS call, its role is not
// assumed, nothing is imported into the account's Security Hub.
func TestWorkerRefusesExcludedAccounts(t *testing.T) {
	const excluded = "222233334444"
	w := &Worker{
		Excluded: []string{excluded},
		Member: func(context.Context, string) (aws.Config, error) {
			t.Fatal("the role of an excluded account was assumed")
			return aws.Config{}, nil
		},
	}
	arn := "arn:aws:kms:eu-west-1:" + excluded + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, m := range []Message{
		{Account: excluded, Region: "eu-west-1", Trigger: trigger.Schedule, Run: "r"},
		{Account: excluded, Region: AllRegions, Trigger: trigger.OnDemand, Run: "r"},
		{Account: excluded, Region: "eu-west-1", Trigger: trigger.Event, Run: "events m1",
			Targets: []resource.Target{{Ref: resource.Ref{Kind: resource.KMSKey, Partition: "aws", Account: excluded, Region: "eu-west-1", ID: arn, ARN: arn}}}},
	} {
		body, err := m.Body()
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.Handle(context.Background(), json.RawMessage(body))
		if err != nil {
			t.Fatal(err)
		}
		sr := res.Scopes[0]
		if sr.Outcome != Refused || !strings.Contains(sr.Error, "excluded") || len(res.BatchItemFailures) != 0 {
			t.Errorf("%s/%s (%s): %+v", m.Account, m.Region, m.Trigger, sr)
		}
	}
}

// A run whose findings Security Hub refused is not "audited": refused for
// good (the member role lacks the import permission), it is the member's
// failure; throttled, it is retried; published, it is audited.
func TestClassifyPublishOutcomes(t *testing.T) {
	failed := []publish.FailedFinding{{ID: "f1", ErrorCode: "AccessDeniedException"}}
	for name, c := range map[string]struct {
		rep     publish.Report
		outcome Outcome
		reason  string
	}{
		"published":        {publish.Report{Region: "eu-west-1", Imported: 3}, Audited, ""},
		"denied":           {publish.Report{Region: "eu-west-1", ErrorCode: "AccessDeniedException", Error: "not authorized", Failed: failed}, MemberFailed, ReasonPublishFailed},
		"throttled":        {publish.Report{Region: "eu-west-1", ErrorCode: "ThrottlingException", Error: "slow down", Unpublished: 3}, Retry, ""},
		"state error only": {publish.Report{Region: "eu-west-1", Imported: 3, StateError: "table unreachable"}, Audited, ""},
	} {
		sr := ScopeResult{}
		classify(&sr, &runner.Summary{Published: []publish.Report{c.rep}})
		if sr.Outcome != c.outcome || sr.Reason != c.reason {
			t.Errorf("%s: %s %q, want %s %q", name, sr.Outcome, sr.Reason, c.outcome, c.reason)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	for receives, want := range map[int]time.Duration{0: 5 * time.Minute, 1: 5 * time.Minute, 2: 10 * time.Minute, 3: 20 * time.Minute, 4: 40 * time.Minute, 5: time.Hour, 50: time.Hour} {
		if got := RetryDelay(receives); got != want {
			t.Errorf("RetryDelay(%d) = %v, want %v", receives, got, want)
		}
	}
}

// An AssumeRole refused for the worker's own expired credentials is
// retried; one refused by the member's role is the member's failure.
func TestAssumeRoleFailures(t *testing.T) {
	for code, want := range map[string]Outcome{"ExpiredToken": Retry, "Throttling": Retry, "AccessDenied": MemberFailed} {
		w := &Worker{Member: func(context.Context, string) (aws.Config, error) {
			return aws.Config{}, &smithy.GenericAPIError{Code: code, Message: "no"}
		}}
		body, err := Message{Account: "111122223333", Region: "eu-west-1", Trigger: trigger.Schedule, Run: "r"}.Body()
		if err != nil {
			t.Fatal(err)
		}
		sr := w.handleOne(context.Background(), "m", []byte(body))
		if sr.Outcome != want {
			t.Errorf("%s: %s, want %s", code, sr.Outcome, want)
		}
	}
}

// TestBatchRetriesOnlyTheFailedScope: in a batch (BatchSize > 1), a
// message to retry holds back the later messages of its group (FIFO order
// within a scope), not those of other groups, which are handled: returned
// unhandled, they would count receives toward the dead-letter queue for
// another scope's failure. A message whose group is not given waits behind
// any failure. Every message to retry, held back or not, comes back after
// the failed message's retry delay (held in flight for the visibility
// timeout, a held-back message would hold its group that long).
func TestBatchRetriesOnlyTheFailedScope(t *testing.T) {
	const throttled, excluded = "111122223333", "444455556666"
	postponed := map[string]time.Duration{}
	w := &Worker{
		Postpone: func(_ context.Context, handle string, after time.Duration) error {
			postponed[handle] = after
			return nil
		},
		Excluded: []string{excluded},
		Member: func(_ context.Context, account string) (aws.Config, error) {
			if account != throttled {
				t.Errorf("role of %s assumed", account)
			}
			return aws.Config{}, &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
		},
	}
	type rec struct{ id, account, group string }
	var records []map[string]any
	for _, r := range []rec{
		{"a1", throttled, throttled + "/eu-west-1"},
		{"b1", excluded, excluded + "/eu-west-1"},
		{"a2", throttled, throttled + "/eu-west-1"},
		{"b2", excluded, excluded + "/eu-west-1"},
		{"c1", excluded, ""},
	} {
		body, err := Message{Account: r.account, Region: "eu-west-1", Trigger: trigger.Schedule, Run: r.id}.Body()
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string]string{"ApproximateReceiveCount": "2"}
		if r.group != "" {
			attrs["MessageGroupId"] = r.group
		}
		records = append(records, map[string]any{"messageId": r.id, "receiptHandle": "handle-" + r.id, "eventSource": "aws:sqs", "body": body, "attributes": attrs})
	}
	raw, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var retried []string
	for _, f := range res.BatchItemFailures {
		retried = append(retried, f.ItemIdentifier)
	}
	if strings.Join(retried, ",") != "a1,a2,c1" {
		t.Errorf("retried %v, want a1,a2,c1", retried)
	}
	want := map[string]Outcome{"a1": Retry, "b1": Refused, "a2": Retry, "b2": Refused, "c1": Retry}
	for _, sr := range res.Scopes {
		if sr.Outcome != want[sr.MessageID] {
			t.Errorf("%s: %s, want %s", sr.MessageID, sr.Outcome, want[sr.MessageID])
		}
		if after := postponed["handle-"+sr.MessageID]; (sr.Outcome == Retry) != (after == RetryDelay(2)) || sr.RetryAfterSeconds != int(after.Seconds()) {
			t.Errorf("%s (%s): postponed %v, reported %d s; want %v for each message to retry", sr.MessageID, sr.Outcome, after, sr.RetryAfterSeconds, RetryDelay(2))
		}
	}
}

// A sweep naming only global checks in a region other than the worker's
// home region would run nothing: refused with the reason, not "audited",
// before any AWS call.
func TestWorkerRefusesASweepThatRunsNothing(t *testing.T) {
	w := &Worker{
		Base: &runner.Runner{HomeRegion: "us-east-1"},
		Member: func(context.Context, string) (aws.Config, error) {
			t.Fatal("a role was assumed for a sweep that runs nothing")
			return aws.Config{}, nil
		},
	}
	body, err := Message{Account: "111122223333", Region: "eu-west-1", Trigger: trigger.Schedule, Checks: GlobalChecks(nil), Run: "r"}.Body()
	if err != nil {
		t.Fatal(err)
	}
	sr := w.handleOne(context.Background(), "m", []byte(body))
	if sr.Outcome != Refused || !strings.Contains(sr.Error, "home region (us-east-1)") {
		t.Errorf("%+v", sr)
	}
	for _, ok := range []Message{
		{Account: "111122223333", Region: "us-east-1", Trigger: trigger.Schedule, Checks: GlobalChecks(nil), Run: "r"},
		{Account: "111122223333", Region: "eu-west-1", Trigger: trigger.Schedule, Checks: []string{"kms.rotation", "cloudfront.viewer-tls"}, Run: "r"},
	} {
		if why := w.runsNothing(ok); why != "" {
			t.Errorf("%s %v refused: %s", ok.Region, ok.Checks, why)
		}
	}
}

// Every member's config shares one HTTP client: a container auditing
// member after member keeps its connections to each regional endpoint
// (TLS handshakes, Lambda CPU) instead of dialling them again per member.
func TestMembersShareConnections(t *testing.T) {
	// Lambda sets no CA bundle; with one, the SDK builds a client per config.
	t.Setenv("AWS_CA_BUNDLE", "")
	m := &Members{Options: awsconfig.Options{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}}, Partition: "aws", RoleName: "r"}
	a, err := m.Config(context.Background(), "111122223333")
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Config(context.Background(), "444455556666")
	if err != nil {
		t.Fatal(err)
	}
	if a.HTTPClient == nil || a.HTTPClient != b.HTTPClient {
		t.Errorf("members' HTTP clients %p and %p, want one shared", a.HTTPClient, b.HTTPClient)
	}
}
