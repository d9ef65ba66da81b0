package runlog

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

// RunFinished logs and measures one finished run of the auditor: a warning
// per failed scope, per finding not imported and per resource whose
// re-check failed, then the "run finished" line, then the run's metrics.
func (l *Logger) RunFinished(s *runner.Summary, d time.Duration) {
	t := totalsOf(s)
	l.problems(s)
	attrs := []any{
		"trigger", s.Trigger, "account", s.Account, "regions", s.Regions, "dryRun", s.DryRun,
		"checks", len(s.Checks), "counts", t.byStatus,
		"failedScopes", len(s.FailedScopes), "importFailures", t.importFailures,
		"lifecycle", s.Lifecycle, "calls", t.calls, "throttles", t.throttles,
	}
	if len(s.Resources) > 0 {
		attrs = append(attrs, "outcomes", outcomes(s))
	}
	if len(s.SecurityHubNotEnabled) > 0 {
		attrs = append(attrs, "securityHubNotEnabled", s.SecurityHubNotEnabled)
	}
	if len(s.Notices) > 0 {
		attrs = append(attrs, "notices", s.Notices)
	}
	attrs = append(attrs, "durationMs", d.Milliseconds())
	l.log.Info("run finished", attrs...)
	l.writeMetrics(runMetrics(s, t, d, nil), l.now())
}

// EventsHandled logs and measures one invocation of the events function:
// a line per message acknowledged without a re-check (with its reasons),
// the re-check's problems, then the "events handled" line and the
// invocation's metrics. err is what the handler returned with res (a
// direct event whose re-check may succeed on retry).
func (l *Logger) EventsHandled(res *eventhandler.Result, err error, d time.Duration) {
	ev := eventCounts(res)
	debug := l.log.Enabled(context.Background(), slog.LevelDebug)
	for _, m := range res.Messages {
		if debug {
			// The event's source and name (detail-type or eventName), never its body.
			l.log.Debug("event received", "messageId", m.ID, "event", m.Event, "resources", len(m.Resources))
		}
		if len(m.Resources) == 0 {
			l.log.Info("event acknowledged without a re-check", "messageId", m.ID, "event", m.Event, "reasons", m.Skipped)
		}
	}
	if res.Error != "" {
		l.log.Error("re-check failed", "error", res.Error, "retried", ev.retried)
	}
	attrs := []any{
		"messages", len(res.Messages), "eventsRechecked", ev.rechecked, "eventsDropped", ev.dropped, "eventsRetried", ev.retried,
		"resources", res.Rechecked,
	}
	if res.Forwarded > 0 {
		attrs = append(attrs, "forwarded", res.Forwarded)
	}
	var t totals
	if s := res.Summary; s != nil {
		t = totalsOf(s)
		l.problems(s)
		attrs = append(attrs, "account", s.Account, "outcomes", outcomes(s),
			"failedScopes", len(s.FailedScopes), "importFailures", t.importFailures,
			"lifecycle", s.Lifecycle, "calls", t.calls, "throttles", t.throttles)
		if len(s.Notices) > 0 {
			attrs = append(attrs, "notices", s.Notices)
		}
	}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	attrs = append(attrs, "durationMs", d.Milliseconds())
	l.log.Info("events handled", attrs...)
	s := res.Summary
	if s == nil {
		s = &runner.Summary{}
	}
	l.writeMetrics(runMetrics(s, t, d, &ev), l.now())
}

// problems logs a warning per failed scope, per finding (or region's
// findings) not imported and per resource whose re-check failed.
func (l *Logger) problems(s *runner.Summary) {
	for _, sc := range s.FailedScopes {
		attrs := []any{"region", sc.Region, "check", sc.CheckID, "errors", len(sc.Errors) + sc.ErrorsOmitted}
		if len(sc.Errors) > 0 {
			// The first error stands for the scope; the summary lists them all.
			e := sc.Errors[0]
			attrs = append(attrs, "service", string(e.Service), "operation", e.Operation, "errorCode", e.Code,
				"resource", e.Resource, "message", e.Message)
		}
		l.log.Warn("scope failed", attrs...)
	}
	for _, rep := range s.Published {
		for _, f := range rep.Failed {
			attrs := []any{"region", rep.Region, "findingId", f.ID, "action", f.Action, "errorCode", f.ErrorCode, "message", f.ErrorMessage}
			if f.Count > 1 {
				attrs = append(attrs, "count", f.Count)
			}
			l.log.Warn("finding not imported", attrs...)
		}
		if rep.Unpublished > 0 {
			l.log.Warn("region not published", "region", rep.Region, "findings", rep.Unpublished, "errorCode", rep.ErrorCode, "error", rep.Error)
		}
	}
	for _, r := range s.Resources {
		if r.Outcome == runner.Failed {
			l.log.Warn("re-check failed", "resource", r.Resource.String(), "transient", r.Transient, "reason", r.Reason)
		}
	}
}

// totals are what the run line and the metrics share.
type totals struct {
	byStatus       map[check.Status]int
	calls          map[string]int
	throttles      map[string]int
	importFailures int
	// imported, resolved and archived count what Security Hub took.
	imported, resolved, archived int
}

func totalsOf(s *runner.Summary) totals {
	t := totals{
		byStatus:  map[check.Status]int{check.Passed: 0, check.Failed: 0, check.NotAvailable: 0},
		calls:     map[string]int{},
		throttles: map[string]int{},
	}
	for _, byStatus := range s.Counts {
		for st, n := range byStatus {
			t.byStatus[st] += n
		}
	}
	for _, c := range s.Calls {
		t.calls[c.Service] += c.Count
		if c.Throttled > 0 {
			t.throttles[c.Service] += c.Throttled
		}
	}
	// Only what was sent: a dry run's plan (WouldPublish) imported nothing.
	for _, rep := range s.Published {
		t.importFailures += rep.NotImported()
		t.imported += rep.Imported
		resolved, archived := rep.Resolved, rep.Archived
		for _, f := range rep.Failed {
			switch f.Action {
			case publish.ActionResolved:
				resolved--
			case publish.ActionArchived:
				archived--
			}
		}
		t.resolved += resolved
		t.archived += archived
	}
	return t
}

func outcomes(s *runner.Summary) map[runner.Outcome]int {
	out := map[runner.Outcome]int{}
	for _, r := range s.Resources {
		out[r.Outcome]++
	}
	return out
}

// events partitions an invocation's messages: re-checked (and
// acknowledged), dropped (acknowledged without a re-check: nothing this
// tool audits, malformed, about another account...) and retried (returned
// to the queue, or the direct event's error).
type events struct{ rechecked, dropped, retried int }

func eventCounts(res *eventhandler.Result) events {
	var e events
	for _, m := range res.Messages {
		switch {
		case m.Retry:
			e.retried++
		case len(m.Resources) == 0:
			e.dropped++
		default:
			e.rechecked++
		}
	}
	return e
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
