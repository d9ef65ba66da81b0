package org

import (
	"context"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
)

// QueueAPI is the part of the SQS client the planner, the worker and the
// events function use to queue work (IAM: sqs:SendMessage, which also
// authorises SendMessageBatch).
type QueueAPI interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Queue is the organization's FIFO queue.
type Queue struct {
	API QueueAPI
	URL string
}

// maxBatch is SQS's limit of entries per SendMessageBatch.
const maxBatch = 10

// entryAttempts bounds the sends of an entry SQS failed on its side (not
// the sender's fault) within one batch call's answer.
const entryAttempts = 3

// EnqueueFailure is a message that could not be queued.
type EnqueueFailure struct {
	Group   string `json:"group"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Send queues msgs, ten a call, each with its group and a deduplication ID
// derived from its body. Entries SQS failed on its side are sent again;
// whatever could not be queued is returned, and the other messages are
// still sent (one member's failure does not hold the others back).
func (q Queue) Send(ctx context.Context, msgs []Message) (sent int, failed []EnqueueFailure) {
	entries := make([]sqstypes.SendMessageBatchRequestEntry, 0, len(msgs))
	for _, m := range msgs {
		body, err := m.Body()
		if err != nil {
			failed = append(failed, EnqueueFailure{Group: m.GroupID(), Code: "Marshal", Message: err.Error()})
			continue
		}
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
			Id:                     aws.String(strconv.Itoa(len(entries))),
			MessageBody:            aws.String(body),
			MessageGroupId:         aws.String(m.GroupID()),
			MessageDeduplicationId: aws.String(DeduplicationID(body)),
		})
	}
	var batches [][]sqstypes.SendMessageBatchRequestEntry
	for start := 0; start < len(entries); start += maxBatch {
		batches = append(batches, entries[start:min(start+maxBatch, len(entries))])
	}
	results := make([]struct {
		sent   int
		failed []EnqueueFailure
	}, len(batches))
	parallel := 1
	if groupsApart(batches) {
		// FIFO order matters only within a group: batches that share none
		// may be sent at once (a planning of thousands of scopes).
		parallel = maxParallelBatches
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i].sent, results[i].failed = q.sendBatch(ctx, b)
		}()
	}
	wg.Wait()
	for _, r := range results {
		sent += r.sent
		failed = append(failed, r.failed...)
	}
	return sent, failed
}

// maxParallelBatches bounds the SendMessageBatch calls in flight: 4 at
// 15-20 ms each stay under a FIFO queue's 300 calls a second per action.
const maxParallelBatches = 4

// groupsApart reports whether no message group has messages in two
// batches (then their order cannot depend on which batch lands first).
func groupsApart(batches [][]sqstypes.SendMessageBatchRequestEntry) bool {
	batchOf := map[string]int{}
	for i, b := range batches {
		for _, e := range b {
			g := aws.ToString(e.MessageGroupId)
			if j, seen := batchOf[g]; seen && j != i {
				return false
			}
			batchOf[g] = i
		}
	}
	return true
}

func (q Queue) sendBatch(ctx context.Context, batch []sqstypes.SendMessageBatchRequestEntry) (sent int, failed []EnqueueFailure) {
	byID := map[string]sqstypes.SendMessageBatchRequestEntry{}
	for _, e := range batch {
		byID[*e.Id] = e
	}
	for attempt := 1; len(batch) > 0; attempt++ {
		out, err := q.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: batch})
		if err != nil {
			// The SDK already retried throttling and 5xx: the batch is lost.
			for _, e := range batch {
				failed = append(failed, EnqueueFailure{Group: *e.MessageGroupId, Code: collect.ErrorCode(err), Message: collect.ErrorMessage(err)})
			}
			return sent, failed
		}
		sent += len(out.Successful)
		var again []sqstypes.SendMessageBatchRequestEntry
		for _, f := range out.Failed {
			e, ok := byID[aws.ToString(f.Id)]
			if !ok {
				continue
			}
			if !f.SenderFault && attempt < entryAttempts {
				again = append(again, e)
				continue
			}
			failed = append(failed, EnqueueFailure{Group: *e.MessageGroupId, Code: aws.ToString(f.Code), Message: aws.ToString(f.Message)})
		}
		batch = again
	}
	return sent, failed
}
