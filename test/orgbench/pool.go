package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/pprof"
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
// cache and pacer, as WorkerFromEnvironment builds them), handed batches of
// batchSize messages from the FIFO queue as the real handler's SQS event;
// what it acknowledged is deleted, its batch item failures come back after
// the visibility timeout.
//
// As Lambda's pollers do, a few pollers (pollers: Lambda starts with five)
// long-poll the queue for up to 10 messages each and invoke the function
// with them, batchSize at a time, each batch on a free container; a poller
// only receives when containers are free, and no more messages than they
// can take. (One poller per container, each receiving one message, would
// put 42 long polls on moto at once: its FIFO receive then delivers one
// message twice now and then, and hands the messages out slowly.)
//
// FIFO: SQS hands a message group to one consumer at a time; moto 5.2.1's
// ReceiveMessage honours that (it skips a group with a message in flight).
// The pool checks it on every receive: a message whose group is already in
// flight in an invocation is counted as a violation and returned to the
// queue (visibility 0) without being handled, so the one-run-per-scope
// guarantee holds in the benchmark even if the emulator broke it. Messages
// of one group in one receive are handed over in order, one batch after the
// other, in one container.
type pool struct {
	api       *sqs.Client // Lambda's pollers (their calls are not the auditor's)
	queueURL  string
	workers   []*org.Worker
	pollers   int
	batchSize int32
	t         *tracker
	// receiving makes the pollers' receives one at a time: moto 5.2.1's
	// ReceiveMessage is not atomic (it checks a message's visibility, then
	// marks it received, with no lock), so two receives at once can both
	// take one message: with 5 concurrent pollers the same scope was
	// delivered twice and groups in flight handed out again in a run of 42
	// messages. SQS has no such race; one receive at a time still hands out
	// ten messages a call, and a long poll returns as soon as messages come.
	receiving sync.Mutex
}

// maxReceive is SQS's most messages a ReceiveMessage returns.
const maxReceive = 10

// defaultPollers is how many pollers a pool of concurrency containers
// has: five, as Lambda starts with, or enough to fill every container with
// one receive each.
func defaultPollers(concurrency int) int { return max(5, (concurrency+maxReceive-1)/maxReceive) }

// scope is one handled message.
type scope struct {
	org.ScopeResult
	// received by a poller, handed to the worker, answered.
	received, started, done time.Time
	slot                    int
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
	planned     bool           // every message of the phase is queued
	inflight    map[string]int // messages being handled by group
	violations  int
	busy, peak  int // invocations running, and their peak
	receives    int // ReceiveMessage calls
	empty       int // of them, answered with no message
	// fullReceives are how long the receives that returned messages took
	// (a long poll's wait for the first message included), handed how
	// many each returned.
	fullReceives []time.Duration
	handed       []int
	members      map[string]*member
	scopes       []scope
	first, last  time.Time
	// start is the phase's start (planning or queueing begins).
	start  time.Time
	done   chan struct{}
	closed bool
}

func newTracker() *tracker {
	return &tracker{inflight: map[string]int{}, members: map[string]*member{}, done: make(chan struct{})}
}

// add counts n messages queued.
func (t *tracker) add(n int) {
	t.mu.Lock()
	t.outstanding += n
	t.mu.Unlock()
}

// queued counts the n messages the phase queued (the planner's, or the
// reference's): the pollers run while they are being sent, as Lambda's
// poll the queue all the time, and the run ends when they are all
// acknowledged (with those an expansion queued, add).
func (t *tracker) queued(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outstanding += n
	t.planned = true
	t.check()
}

// acked counts n messages deleted; the last one ends the run.
func (t *tracker) acked(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outstanding -= n
	t.check()
}

func (t *tracker) check() {
	if t.planned && t.outstanding <= 0 && !t.closed {
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
	free := make(chan int, len(p.workers))
	for i := range p.workers {
		free <- i
	}
	var pollers, invocations sync.WaitGroup
	errs := make(chan error, 1)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		cancel()
	}
	for range max(p.pollers, 1) {
		pollers.Add(1)
		go pprof.Do(ctx, pprof.Labels("side", "poller"), func(ctx context.Context) {
			defer pollers.Done()
			if err := p.poll(ctx, free, &invocations, fail); err != nil {
				fail(err)
			}
		})
	}
	pollers.Wait()
	invocations.Wait()
	select {
	case err := <-errs:
		return err
	default:
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

// poll is one of Lambda's pollers: it takes free containers (at least one,
// as many as one receive can fill), receives at most what they can take and
// starts an invocation on each with a batch; unused containers are freed.
func (p *pool) poll(ctx context.Context, free chan int, invocations *sync.WaitGroup, fail func(error)) error {
	batch := int(max(p.batchSize, 1))
	for ctx.Err() == nil && !p.finished() {
		var slots []int
		select {
		case s := <-free:
			slots = append(slots, s)
		case <-ctx.Done():
			return nil
		case <-p.t.done:
			return nil
		}
	more:
		for len(slots)*batch < maxReceive {
			select {
			case s := <-free:
				slots = append(slots, s)
			default:
				break more
			}
		}
		release := func(used int) {
			for _, s := range slots[used:] {
				free <- s
			}
		}
		p.receiving.Lock()
		if p.finished() || ctx.Err() != nil {
			p.receiving.Unlock()
			release(0)
			return nil
		}
		asked := time.Now()
		out, err := p.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(p.queueURL), MaxNumberOfMessages: int32(min(maxReceive, len(slots)*batch)), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{
				sqstypes.MessageSystemAttributeNameMessageGroupId, sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		p.receiving.Unlock()
		if ctx.Err() != nil {
			release(0)
			return nil
		}
		if err != nil {
			release(0)
			return fmt.Errorf("receive: %w", err)
		}
		if p.finished() {
			release(0)
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
		} else {
			p.t.fullReceives = append(p.t.fullReceives, received.Sub(asked))
			p.t.handed = append(p.t.handed, len(out.Messages))
		}
		var accepted, refused []sqstypes.Message
		mine := map[string]bool{} // groups of this receive
		for _, m := range out.Messages {
			g := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
			if p.t.inflight[g] > 0 && !mine[g] {
				p.t.violations++
				refused = append(refused, m)
				continue
			}
			mine[g] = true
			p.t.inflight[g]++
			accepted = append(accepted, m)
		}
		if len(accepted) > 0 && p.t.first.IsZero() {
			p.t.first = received
		}
		p.t.mu.Unlock()
		for _, m := range refused {
			if _, err := p.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(p.queueURL),
				ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil && ctx.Err() == nil {
				release(0)
				return fmt.Errorf("return a message of a group in flight: %w", err)
			}
		}
		chains := chainBatches(accepted, batch)
		for i, chain := range chains {
			slot := slots[i]
			invocations.Add(1)
			go func() {
				defer invocations.Done()
				defer func() { free <- slot }()
				for _, b := range chain {
					if err := p.invoke(ctx, slot, p.workers[slot], b, received); err != nil {
						fail(err)
						return
					}
				}
			}()
		}
		release(len(chains))
	}
	return nil
}

// chainBatches cuts msgs, in order, into batches of at most size, and
// chains the batches that share a message group: a chain runs in one
// container, its batches one after the other, so a group's messages are
// handled in order.
func chainBatches(msgs []sqstypes.Message, size int) [][][]sqstypes.Message {
	var chains [][][]sqstypes.Message
	chainOf := map[string]int{}
	for start := 0; start < len(msgs); start += size {
		b := msgs[start:min(start+size, len(msgs))]
		c := -1
		for _, m := range b {
			if i, ok := chainOf[groupOf(m)]; ok {
				c = i
				break
			}
		}
		if c < 0 {
			c = len(chains)
			chains = append(chains, nil)
		}
		chains[c] = append(chains[c], b)
		for _, m := range b {
			chainOf[groupOf(m)] = c
		}
	}
	return chains
}

func groupOf(m sqstypes.Message) string {
	return m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
}

// invoke is one Lambda invocation of the worker with an SQS batch.
// The batch's groups are out of flight once the worker has answered, before
// its messages are deleted: SQS hands out the next message of a group only
// after that, and a poller receiving it must not count it as a second
// message of a group in flight.
func (p *pool) invoke(ctx context.Context, slot int, w *org.Worker, batch []sqstypes.Message, received time.Time) error {
	start := time.Now()
	p.t.mu.Lock()
	p.t.busy++
	p.t.peak = max(p.t.peak, p.t.busy)
	p.t.mu.Unlock()
	defer func() {
		p.t.mu.Lock()
		p.t.busy--
		p.t.mu.Unlock()
	}()
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
	var res *org.WorkerResult
	pprof.Do(ctx, pprof.Labels("side", "worker"), func(ctx context.Context) {
		res, err = w.Handle(ctx, raw)
	})
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
		s := scope{ScopeResult: sr, received: received, started: start, done: done, slot: slot}
		p.t.scopes = append(p.t.scopes, s)
		if sr.Account != "" {
			mb := p.t.member(sr.Account)
			mb.scopes = append(mb.scopes, s)
			if done.After(mb.last) {
				mb.last = done
			}
		}
	}
	for _, m := range batch {
		if g := groupOf(m); p.t.inflight[g] > 1 {
			p.t.inflight[g]--
		} else {
			delete(p.t.inflight, g)
		}
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

// handedOut are the delays from the phase's start to each scope's
// message being received by a worker.
func (t *tracker) handedOut() []time.Duration {
	var out []time.Duration
	for _, s := range t.scopes {
		out = append(out, s.received.Sub(t.start))
	}
	return out
}

// durations are the scopes' times in the worker (handed over to
// answered).
func (t *tracker) durations() []time.Duration {
	var out []time.Duration
	for _, s := range t.scopes {
		out = append(out, s.done.Sub(s.started))
	}
	return out
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
