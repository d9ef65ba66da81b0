package org

import (
	"context"
	"strconv"

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
	for start := 0; start < len(entries); start += maxBatch {
		batch := entries[start:min(start+maxBatch, len(entries))]
		n, f := q.sendBatch(ctx, batch)
		sent += n
		failed = append(failed, f...)
	}
	return sent, failed
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
