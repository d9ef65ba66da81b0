package org

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/resource"
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
