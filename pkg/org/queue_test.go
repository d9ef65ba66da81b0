package org

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// slowQueue answers SendMessageBatch after a while, noting the calls in
// flight at once and the order the bodies were sent in.
type slowQueue struct {
	mu             sync.Mutex
	inFlight, peak int
	bodies         []string
	failGroup      string
}

func (q *slowQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	q.inFlight++
	q.peak = max(q.peak, q.inFlight)
	q.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inFlight--
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if aws.ToString(e.MessageGroupId) == q.failGroup {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidParameterValue"), SenderFault: true, Message: aws.String("no")})
			continue
		}
		q.bodies = append(q.bodies, aws.ToString(e.MessageBody))
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// TestQueueSendsBatchesOfDistinctGroupsAtOnce: a planning's batches, one
// message a scope, go out a few at once; batches sharing a group (a
// re-check of many resources of one scope) one after the other, in order;
// a failed message is returned with its group, the others sent.
func TestQueueSendsBatchesOfDistinctGroupsAtOnce(t *testing.T) {
	msgs := func(n int, group func(i int) string) []Message {
		var out []Message
		for i := range n {
			out = append(out, Message{Account: group(i), Region: "eu-west-1", Trigger: trigger.Schedule, Run: fmt.Sprint("run ", i)})
		}
		return out
	}
	distinct := msgs(75, func(i int) string { return fmt.Sprintf("1111%08d", i) })
	q := &slowQueue{failGroup: "111100000042/eu-west-1"}
	sent, failed := Queue{API: q, URL: "q"}.Send(context.Background(), distinct)
	if sent != 74 || len(failed) != 1 || failed[0].Group != q.failGroup {
		t.Errorf("sent %d, failed %+v; want 74 and the one of %s", sent, failed, q.failGroup)
	}
	if q.peak != maxParallelBatches {
		t.Errorf("%d calls at once for 8 batches of distinct groups, want %d", q.peak, maxParallelBatches)
	}

	one := msgs(25, func(int) string { return "222233334444" })
	q = &slowQueue{}
	if sent, failed := (Queue{API: q, URL: "q"}).Send(context.Background(), one); sent != 25 || len(failed) != 0 {
		t.Fatalf("sent %d, failed %+v", sent, failed)
	}
	if q.peak != 1 {
		t.Errorf("%d calls at once for batches of one group, want 1 (FIFO order)", q.peak)
	}
	for i, b := range q.bodies {
		if want, _ := one[i].Body(); b != want {
			t.Fatalf("message %d sent out of order: %s, want %s", i, b, want)
		}
	}
}
