package org

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

// recordingQueue keeps what SendMessageBatch was asked to queue.
type recordingQueue struct{ groups []string }

func (q *recordingQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	for _, e := range in.Entries {
		q.groups = append(q.groups, aws.ToString(e.MessageGroupId))
	}
	return &sqs.SendMessageBatchOutput{}, nil
}

// TestForwarderScopes: a regional resource is queued in its region's
// group when that region is audited and skipped otherwise; a global one
// (CloudFront) in the home region's group, even when the regions leave it
// out; an excluded account's resources are skipped, never queued.
func TestForwarderScopes(t *testing.T) {
	const member, excluded = "111122223333", "444455556666"
	key := func(account, region string) resource.Target {
		arn := "arn:aws:kms:" + region + ":" + account + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
		return resource.Target{Ref: resource.Ref{Kind: resource.KMSKey, Partition: "aws", Account: account, Region: region, ID: arn, ARN: arn}}
	}
	distribution := func(account string) resource.Target {
		arn := "arn:aws:cloudfront::" + account + ":distribution/E2EXAMPLE"
		return resource.Target{Ref: resource.Ref{Kind: resource.Distribution, Partition: "aws", Account: account, ID: "E2EXAMPLE", ARN: arn}}
	}
	q := &recordingQueue{}
	f := Forwarder{Runner: &runner.Runner{Regions: []string{"eu-west-1"}, HomeRegion: "us-east-1"}, Queue: Queue{API: q, URL: "q"}, Excluded: []string{excluded}}
	targets := []resource.Target{key(member, "eu-west-1"), key(member, "ap-south-1"), distribution(member), key(excluded, "eu-west-1"), distribution(excluded)}
	out := f.Forward(context.Background(), targets, "events m1")
	want := map[string]string{ // by target: the group queued in, or the reason skipped
		targets[0].Ref.Key(): "queued", targets[1].Ref.Key(): "not audited", targets[2].Ref.Key(): "queued",
		targets[3].Ref.Key(): "excluded", targets[4].Ref.Key(): "excluded",
	}
	for k, w := range want {
		o := out[k]
		switch {
		case w == "queued" && !o.Queued, w != "queued" && !strings.Contains(o.Skipped, w):
			t.Errorf("%s: %+v, want %s", k, o, w)
		}
	}
	if strings.Join(q.groups, " ") != member+"/eu-west-1 "+member+"/us-east-1" {
		t.Errorf("queued in groups %v", q.groups)
	}
}
