package org

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

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
