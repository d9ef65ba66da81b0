package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/posture-auditor/posture-auditor/pkg/org"
)

// pool stands for the worker's SQS event source mapping: at most
// len(workers) invocations at once (MaximumConcurrency = WorkerConcurrency),
// each one a Lambda container with its own worker (its own member config
// cache and pacer, as WorkerFromEnvironment builds them), receiving
// batches of batchSize messages from the FIFO queue, handing them to the
// real handler as an SQS event, deleting what it acknowledged and leaving
// its batch item failures to come back after the visibility timeout.
//
// FIFO: SQS hands a message group to one consumer at a time; moto 5.2.1's
// ReceiveMessage honours that (it skips a group with a message in flight).
// The pool checks it on every batch: a message whose group is already in
// flight in another invocation is counted as a violation and returned to the
// queue (visibility 0) without being handled, so the one-run-per-scope
// guarantee holds in the benchmark even if the emulator broke it.
type pool struct {
	api       *sqs.Client // Lambda's poller (its calls are not the auditor's)
	queueURL  string
	workers   []*org.Worker
	batchSize int32
	t         *tracker
}

// scope is one handled message.
type scope struct {
	org.ScopeResult
	received, done time.Time
	slot           int
}

// member is what became of one account's scopes.
type member struct {
	account     string
	first, last time.Time
	scopes      []scope
}

// tracker follows the queued messages until every one is acknowledged.
type tracker struct {
	mu          sync.Mutex
	outstanding int
	inflight    map[string]bool // message groups being handled
	violations  int
	busy, peak  int // invocations running, and their peak
	receives    int // ReceiveMessage calls
	empty       int // of them, answered with no message
	members     map[string]*member
	scopes      []scope
	first, last time.Time
	done        chan struct{}
	closed      bool
}

func newTracker() *tracker {
	return &tracker{inflight: map[string]bool{}, members: map[string]*member{}, done: make(chan struct{})}
}

// add counts n messages queued.
func (t *tracker) add(n int) {
	t.mu.Lock()
	t.outstanding += n
	t.mu.Unlock()
}

// acked counts n messages deleted; the last one ends the run.
func (t *tracker) acked(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outstanding -= n
	if t.outstanding <= 0 && !t.closed {
		t.closed = true
		close(t.done)
	}
}

func (t *tracker) member(account string) *member {
	m := t.members[account]
	if m == nil {
		m = &member{account: account}
		t.members[account] = m
	}
	return m
}

// run polls until every queued message is acknowledged or ctx ends. A
// poll in progress when the last message is acknowledged is not cancelled
// (moto would still hand it messages, left invisible for the visibility
// timeout with nobody to handle them): it finishes, and whatever it
// received is returned to the queue.
func (p *pool) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(p.workers))
	for i, w := range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.poll(ctx, i, w); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	select {
	case <-p.t.done:
		return nil
	default:
		return fmt.Errorf("stopped with %d messages not acknowledged: %w", p.t.outstanding, ctx.Err())
	}
}

func (p *pool) finished() bool {
	select {
	case <-p.t.done:
		return true
	default:
		return false
	}
}

type record struct {
	MessageID      string            `json:"messageId"`
	ReceiptHandle  string            `json:"receiptHandle"`
	Body           string            `json:"body"`
	Attributes     map[string]string `json:"attributes"`
	EventSource    string            `json:"eventSource"`
	EventSourceARN string            `json:"eventSourceARN"`
	AWSRegion      string            `json:"awsRegion"`
}

func (p *pool) poll(ctx context.Context, slot int, w *org.Worker) error {
	for ctx.Err() == nil && !p.finished() {
		out, err := p.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(p.queueURL), MaxNumberOfMessages: p.batchSize, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{
				sqstypes.MessageSystemAttributeNameMessageGroupId, sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if p.finished() {
			for _, m := range out.Messages {
				if _, err := p.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(p.queueURL),
					ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
					return fmt.Errorf("return a message received after the run: %w", err)
				}
			}
			return nil
		}
		received := time.Now()
		p.t.mu.Lock()
		p.t.receives++
		if len(out.Messages) == 0 {
			p.t.empty++
		}
		var batch []sqstypes.Message
		var refused []sqstypes.Message
		groups := map[string]bool{}
		for _, m := range out.Messages {
			g := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
			if p.t.inflight[g] && !groups[g] {
				p.t.violations++
				refused = append(refused, m)
				continue
			}
			groups[g] = true
			p.t.inflight[g] = true
			batch = append(batch, m)
		}
		if len(batch) > 0 {
			p.t.busy++
			p.t.peak = max(p.t.peak, p.t.busy)
			if p.t.first.IsZero() {
				p.t.first = received
			}
		}
		p.t.mu.Unlock()
		for _, m := range refused {
			if _, err := p.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(p.queueURL),
				ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil && ctx.Err() == nil {
				return fmt.Errorf("return a message of a group in flight: %w", err)
			}
		}
		if len(batch) == 0 {
			continue
		}
		if err := p.invoke(ctx, slot, w, batch, groups, received); err != nil {
			return err
		}
		p.t.mu.Lock()
		p.t.busy--
		p.t.mu.Unlock()
	}
	return nil
}

// invoke is one Lambda invocation of the worker with an SQS batch.
// The batch's groups are out of flight once the worker has answered, before
// its messages are deleted: SQS hands out the next message of a group only
// after that, and a poller receiving it must not count it as a second
// message of a group in flight.
func (p *pool) invoke(ctx context.Context, slot int, w *org.Worker, batch []sqstypes.Message, groups map[string]bool, received time.Time) error {
	var ev struct {
		Records []record `json:"Records"`
	}
	handles := map[string]*string{}
	for _, m := range batch {
		id := aws.ToString(m.MessageId)
		handles[id] = m.ReceiptHandle
		ev.Records = append(ev.Records, record{MessageID: id, ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:" + homeRegion + ":" + centralAccount + ":" + queueName, AWSRegion: homeRegion})
		if msg, err := org.ParseMessage([]byte(aws.ToString(m.Body))); err == nil {
			p.t.mu.Lock()
			if mb := p.t.member(msg.Account); mb.first.IsZero() {
				mb.first = received
			}
			p.t.mu.Unlock()
		}
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	res, err := w.Handle(ctx, raw)
	done := time.Now()
	if err != nil {
		// A function error: Lambda returns the whole batch to the queue.
		return fmt.Errorf("worker invocation failed: %w", err)
	}
	retry := map[string]bool{}
	for _, f := range res.BatchItemFailures {
		retry[f.ItemIdentifier] = true
	}
	p.t.mu.Lock()
	for _, sr := range res.Scopes {
		if sr.Outcome == org.Expanded {
			p.t.outstanding += sr.Queued
		}
		s := scope{ScopeResult: sr, received: received, done: done, slot: slot}
		p.t.scopes = append(p.t.scopes, s)
		if sr.Account != "" {
			mb := p.t.member(sr.Account)
			mb.scopes = append(mb.scopes, s)
			if done.After(mb.last) {
				mb.last = done
			}
		}
	}
	for g := range groups {
		delete(p.t.inflight, g)
	}
	p.t.mu.Unlock()
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for id, h := range handles {
		if !retry[id] {
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(len(del))), ReceiptHandle: h})
		}
	}
	if len(del) > 0 {
		out, err := p.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: del})
		if err != nil {
			return fmt.Errorf("delete acknowledged messages: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("delete acknowledged messages: %d failed (%s)", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	p.t.mu.Lock()
	if done.After(p.t.last) {
		p.t.last = done
	}
	p.t.mu.Unlock()
	p.t.acked(len(del))
	return nil
}

// sortedMembers returns the members by account.
func (t *tracker) sortedMembers() []*member {
	var out []*member
	for _, m := range t.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].account < out[j].account })
	return out
}

func (m *member) wall() time.Duration { return m.last.Sub(m.first) }

// imported counts the findings imported into the member's Security Hub.
func (m *member) imported() int {
	n := 0
	for _, s := range m.scopes {
		if s.Summary != nil {
			n += s.Summary.Lifecycle.Imported
		}
	}
	return n
}

// outcome summarises the member's scopes, e.g. "audited x2".
func (m *member) outcome() string {
	counts := map[org.Outcome]int{}
	var order []org.Outcome
	for _, s := range m.scopes {
		if counts[s.Outcome] == 0 {
			order = append(order, s.Outcome)
		}
		counts[s.Outcome]++
	}
	out := ""
	for i, o := range order {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s x%d", o, counts[o])
	}
	return out
}
