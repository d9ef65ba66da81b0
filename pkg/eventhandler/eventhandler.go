// Package eventhandler is the events function's handler: it takes an SQS
// batch of EventBridge events (or one event delivered directly), reads the
// resources they name, re-checks each resource once however many events
// name it, and answers which messages SQS should deliver again.
package eventhandler

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/posture-auditor/posture-auditor/pkg/awsevent"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// Rechecker is the engine (runner.Runner).
type Rechecker interface {
	Recheck(ctx context.Context, req runner.RecheckRequest) (*runner.Summary, error)
}

// Handler handles one invocation. It does not log: pkg/runlog logs and
// measures what its Result says.
type Handler struct {
	Engine Rechecker
	// Members, when set (organization mode), takes every resource, this
	// account's too: the worker re-checks it through the account's member
	// role, into its Security Hub, in its scope's message group, so a
	// re-check never runs beside that scope's sweep (which the worker runs
	// for this account as for the others). Without it other accounts'
	// resources are skipped (this deployment audits its own account).
	Members Forwarder
}

// Forwarder hands re-checks on to the organization's worker (org.Forwarder:
// the organization queue, in the resource's scope's message group).
type Forwarder interface {
	// Forward queues the re-check of targets; run names the events that
	// asked (a retried batch queues nothing twice). It returns what became
	// of each target, by Key.
	Forward(ctx context.Context, targets []resource.Target, run string) map[string]Forwarded
}

// Forwarded is what Forward did with one target.
type Forwarded struct {
	// Queued: the worker will re-check it.
	Queued bool
	// Skipped says why it will not be re-checked (acknowledged).
	Skipped string
	// Error says why it could not be queued (its messages are retried).
	Error string
}

// BatchItemFailure names a message SQS should deliver again.
type BatchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// Result is what an invocation did.
type Result struct {
	// BatchItemFailures is the SQS partial batch response (empty for a
	// directly delivered event).
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures"`
	// Messages is each message (or the one direct event) as understood.
	Messages []Message `json:"messages"`
	// Rechecked counts distinct resources re-checked (events about the
	// same resource are coalesced).
	Rechecked int `json:"rechecked"`
	// Forwarded counts distinct resources queued for the organization's
	// worker (organization mode).
	Forwarded int `json:"forwarded,omitempty"`
	// Summary is the re-check's summary (findings, lifecycle, calls).
	Summary *runner.Summary `json:"summary,omitempty"`
	// Error is why the re-check failed as a whole (the account could not
	// be identified): every message naming a resource is then retried.
	Error string `json:"error,omitempty"`
}

// Message is one event and what became of it.
type Message struct {
	ID    string `json:"id"`
	Event string `json:"event,omitempty"`
	// Resources are the keys of the resources it asked to re-check.
	Resources []string `json:"resources,omitempty"`
	// Forwarded are those queued for the organization's worker.
	Forwarded []string `json:"forwarded,omitempty"`
	// Skipped says why (part of) it was not acted on; such a message is
	// acknowledged, never retried.
	Skipped []string `json:"skipped,omitempty"`
	// Retry is set when it is reported as a batch item failure.
	Retry bool `json:"retry,omitempty"`
}

type sqsEvent struct {
	Records []struct {
		MessageID   string `json:"messageId"`
		Body        string `json:"body"`
		EventSource string `json:"eventSource"`
	} `json:"Records"`
}

// Handle handles raw: an SQS event or one EventBridge event. It returns an
// error only when raw is neither, or, for a direct event, when the
// re-check failed in a way a retry may mend (Lambda's asynchronous retry
// then delivers it again).
func (h Handler) Handle(ctx context.Context, raw json.RawMessage) (res *Result, err error) {
	defer func() {
		// A bug must not lose the batch: every message goes back to the
		// queue, and to its dead-letter queue after five receives.
		if p := recover(); p != nil {
			err = fmt.Errorf("events handler panicked: %v", p)
		}
	}()
	var batch sqsEvent
	if json.Unmarshal(raw, &batch) == nil && len(batch.Records) > 0 && batch.Records[0].EventSource == "aws:sqs" {
		msgs := make([]incoming, len(batch.Records))
		for i, r := range batch.Records {
			msgs[i] = incoming{id: r.MessageID, body: []byte(r.Body)}
		}
		return h.handle(ctx, msgs, true)
	}
	if !awsevent.IsEnvelope(raw) {
		return nil, fmt.Errorf("unsupported input: neither an SQS event (Records from aws:sqs) nor an EventBridge event (detail-type)")
	}
	var id struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &id)
	res, err = h.handle(ctx, []incoming{{id: id.ID, body: raw}}, false)
	if err == nil && len(res.BatchItemFailures) > 0 {
		return res, fmt.Errorf("re-check of event %s failed and may succeed on retry: %s", id.ID, retryReason(res))
	}
	return res, err
}

type incoming struct {
	id   string
	body []byte
}

func (h Handler) handle(ctx context.Context, msgs []incoming, fromQueue bool) (*Result, error) {
	res := &Result{BatchItemFailures: []BatchItemFailure{}}
	// Which messages asked for each resource, so a failed re-check retries
	// exactly them.
	askedBy := map[string][]int{}
	var targets []resource.Target
	index := map[string]int{}
	for i, m := range msgs {
		msg := Message{ID: m.id}
		p, err := awsevent.Parse(m.body)
		if err != nil {
			msg.Skipped = []string{err.Error()}
		} else {
			msg.Event, msg.Skipped = p.Event, p.Skipped
			for _, t := range p.Targets {
				key := t.Ref.Key()
				msg.Resources = append(msg.Resources, key)
				askedBy[key] = append(askedBy[key], i)
				if j, ok := index[key]; ok {
					targets[j].Dependents = targets[j].Dependents || t.Dependents
					continue
				}
				index[key] = len(targets)
				targets = append(targets, t)
			}
		}
		res.Messages = append(res.Messages, msg)
	}
	retry := map[int]bool{}
	if h.Members != nil && len(targets) > 0 {
		h.forward(ctx, msgs, res, targets, askedBy, retry)
		targets = nil
	}
	res.Rechecked = len(targets)
	if len(targets) == 0 {
		markRetries(res, msgs, retry)
		return res, nil
	}

	summary, err := h.Engine.Recheck(ctx, runner.RecheckRequest{Kind: trigger.Event, Targets: targets})
	if err != nil {
		// The account could not be identified (STS unreachable, expired
		// credentials): nothing was read, every message asking for a
		// resource is retried.
		res.Error = err.Error()
		if !fromQueue {
			return res, err
		}
		for _, idxs := range askedBy {
			for _, i := range idxs {
				retry[i] = true
			}
		}
	} else {
		res.Summary = summary
		for _, tr := range summary.Resources {
			if tr.Outcome == runner.Skipped {
				for _, i := range askedBy[tr.Resource.Key()] {
					res.Messages[i].Skipped = append(res.Messages[i].Skipped, tr.Resource.String()+": "+tr.Reason)
				}
			}
			if !tr.Transient {
				continue
			}
			// The messages that named the resource, and those of the key
			// whose dependent it is.
			for _, key := range []string{tr.Resource.Key(), tr.Via} {
				for _, i := range askedBy[key] {
					retry[i] = true
				}
			}
		}
	}
	markRetries(res, msgs, retry)
	return res, nil
}

// markRetries reports the messages to retry as batch item failures, in order.
func markRetries(res *Result, msgs []incoming, retry map[int]bool) {
	idxs := make([]int, 0, len(retry))
	for i := range retry {
		idxs = append(idxs, i)
	}
	sort.Ints(idxs)
	for _, i := range idxs {
		res.Messages[i].Retry = true
		res.BatchItemFailures = append(res.BatchItemFailures, BatchItemFailure{ItemIdentifier: msgs[i].id})
	}
}

// forward hands every target to Members (organization mode): none is
// re-checked here.
func (h Handler) forward(ctx context.Context, msgs []incoming, res *Result, targets []resource.Target, askedBy map[string][]int, retry map[int]bool) {
	asking := map[string]bool{}
	for _, t := range targets {
		for _, i := range askedBy[t.Ref.Key()] {
			asking[msgs[i].id] = true
		}
	}
	// The run is the asking messages' IDs: a batch delivered again queues
	// the same messages, which SQS deduplicates.
	ids := make([]string, 0, len(asking))
	for id := range asking {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	outcomes := h.Members.Forward(ctx, targets, "events "+strings.Join(ids, ","))
	for _, t := range targets {
		key := t.Ref.Key()
		o := outcomes[key]
		for _, i := range askedBy[key] {
			switch {
			case o.Queued:
				res.Messages[i].Forwarded = append(res.Messages[i].Forwarded, key)
			case o.Error != "":
				retry[i] = true
				res.Messages[i].Skipped = append(res.Messages[i].Skipped, t.Ref.String()+": not queued for its account's worker: "+o.Error)
			default:
				res.Messages[i].Skipped = append(res.Messages[i].Skipped, t.Ref.String()+": "+o.Skipped)
			}
		}
		if o.Queued {
			res.Forwarded++
		}
	}
}

func retryReason(res *Result) string {
	if res.Summary != nil {
		for _, r := range res.Summary.Resources {
			if r.Transient {
				return r.Resource.String() + ": " + r.Reason
			}
		}
	}
	return "the account could not be identified"
}

// Response is the events function's Lambda reply: SQS's partial batch
// response. The Result is summarised in the log (pkg/runlog), not sent to SQS.
type Response struct {
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures"`
}

// Reply is the Lambda reply to what Handle returned.
func Reply(res *Result, err error) (*Response, error) {
	if err != nil {
		return nil, err
	}
	return &Response{BatchItemFailures: res.BatchItemFailures}, nil
}
