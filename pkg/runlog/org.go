package runlog

import (
	"context"
	"encoding/json"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/org"
)

// Metrics of the organization functions (no dimension, plus Reason for
// MemberFailures).
const (
	// Per planner run.
	MetricAccountsPlanned = "AccountsPlanned" // active, not excluded accounts queued
	MetricScopesQueued    = "ScopesQueued"    // messages queued
	MetricEnqueueFailures = "EnqueueFailures" // messages that could not be queued
	// Per worker invocation (each audited scope's run also writes the run
	// metrics, dimension Trigger).
	MetricMemberFailures  = "MemberFailures"  // permanent failures of a member: role not assumable, Security Hub off, regions unknown
	MetricScopesRetried   = "ScopesRetried"   // messages returned to the queue
	MetricMessagesRefused = "MessagesRefused" // malformed messages, acknowledged without a run
)

// DimensionReason is MemberFailures' reason (org.ReasonAssumeRole, ...).
const DimensionReason = "Reason"

// PlanHandler is the planner's handler.
type PlanHandler func(context.Context, json.RawMessage) (*org.Plan, error)

// Plans wraps the planner's handler: each run is logged ("organization
// planned", or "plan refused" when nothing was queued) and measured.
func (l *Logger) Plans(handle PlanHandler) PlanHandler {
	return func(ctx context.Context, event json.RawMessage) (*org.Plan, error) {
		l.debugInvocation(event)
		return timed(l, "plan refused", handle, l.Planned)(ctx, event)
	}
}

// timed runs handle and hands its result and duration to record; an
// invocation with no result is logged as refused (what) with its error.
func timed[T any](l *Logger, refused string, handle func(context.Context, json.RawMessage) (*T, error), record func(*T, error, time.Duration)) func(context.Context, json.RawMessage) (*T, error) {
	return func(ctx context.Context, event json.RawMessage) (*T, error) {
		start := l.now()
		res, err := handle(ctx, event)
		d := l.now().Sub(start)
		if res == nil {
			msg := "no result"
			if err != nil {
				msg = err.Error()
			}
			l.log.Error(refused, "error", msg, "durationMs", d.Milliseconds())
			return nil, err
		}
		record(res, err, d)
		return res, err
	}
}

// Planned logs and measures one planner run.
func (l *Logger) Planned(p *org.Plan, err error, d time.Duration) {
	for _, f := range p.Failed {
		l.log.Warn("scope not queued", "group", f.Group, "errorCode", f.Code, "message", f.Message)
	}
	attrs := []any{"trigger", p.Trigger, "run", p.Run, "listed", p.Listed, "accounts", len(p.Accounts), "regions", p.Regions,
		"excluded", p.Excluded, "inactive", p.Inactive, "messages", p.Messages, "queued", p.Queued, "failed", len(p.Failed)}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	attrs = append(attrs, "durationMs", d.Milliseconds())
	l.log.Info("organization planned", attrs...)
	ms := []metric{
		{MetricRunDuration, "Milliseconds", d.Milliseconds()},
		{MetricAccountsPlanned, "Count", int64(len(p.Accounts))},
		{MetricScopesQueued, "Count", int64(p.Queued)},
		{MetricEnqueueFailures, "Count", int64(len(p.Failed))},
	}
	doc := document{
		dimensions: map[string]string{DimensionTrigger: "plan-" + string(p.Trigger)},
		metrics:    ms,
		directives: []directive{
			{dimensions: [][]string{{DimensionTrigger}}, names: namesOf(ms)},
			{dimensions: [][]string{{}}, names: []string{MetricEnqueueFailures}},
		},
	}
	l.writeMetrics([]document{doc}, l.now())
}

// WorkerHandler is the worker's handler.
type WorkerHandler func(context.Context, json.RawMessage) (*org.WorkerResult, error)

// Scopes wraps the worker's handler: each audited scope is logged and
// measured as a run ("run finished", its metrics), each other message on
// a line of its own, then the invocation's totals.
func (l *Logger) Scopes(handle WorkerHandler) WorkerHandler {
	return timed(l, "scopes refused", handle, l.ScopesHandled)
}

// ScopesHandled logs and measures one invocation of the worker.
func (l *Logger) ScopesHandled(res *org.WorkerResult, err error, d time.Duration) {
	counts := map[org.Outcome]int{}
	failures := map[string]int{}
	for _, sr := range res.Scopes {
		counts[sr.Outcome]++
		base := []any{"messageId", sr.MessageID, "account", sr.Account, "region", sr.Region, "trigger", sr.Trigger}
		switch sr.Outcome {
		case org.Audited:
			if sr.Summary != nil {
				l.RunFinished(sr.Summary, time.Duration(sr.DurationMs)*time.Millisecond)
			}
		case org.Expanded:
			l.log.Info("regions queued", append(base, "queued", sr.Queued)...)
		case org.MemberFailed:
			failures[sr.Reason]++
			if sr.Summary != nil {
				l.RunFinished(sr.Summary, time.Duration(sr.DurationMs)*time.Millisecond)
			}
			l.log.Error("member failed", append(base, "reason", sr.Reason, "errorCode", sr.ErrorCode, "error", sr.Error)...)
		case org.Refused:
			l.log.Error("message refused", append(base, "error", sr.Error)...)
		case org.Retry:
			l.log.Warn("scope retried", append(base, "errorCode", sr.ErrorCode, "error", sr.Error)...)
		}
	}
	attrs := []any{"messages", len(res.Scopes), "outcomes", counts, "retried", len(res.BatchItemFailures)}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	attrs = append(attrs, "durationMs", d.Milliseconds())
	l.log.Info("scopes handled", attrs...)
	total := 0
	for _, n := range failures {
		total += n
	}
	ms := []metric{
		{MetricMemberFailures, "Count", int64(total)},
		{MetricScopesRetried, "Count", int64(counts[org.Retry])},
		{MetricMessagesRefused, "Count", int64(counts[org.Refused])},
	}
	docs := []document{{
		dimensions: map[string]string{},
		metrics:    ms,
		directives: []directive{{dimensions: [][]string{{}}, names: namesOf(ms)}},
	}}
	for _, reason := range sortedKeys(failures) {
		m := []metric{{MetricMemberFailures, "Count", int64(failures[reason])}}
		docs = append(docs, document{
			dimensions: map[string]string{DimensionReason: reason},
			metrics:    m,
			directives: []directive{{dimensions: [][]string{{DimensionReason}}, names: namesOf(m)}},
		})
	}
	l.writeMetrics(docs, l.now())
}
