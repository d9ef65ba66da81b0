package runlog

import (
	"encoding/json"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "PostureAuditor"

// Metric names.
const (
	// Per run, dimension Trigger (schedule, on-demand, event).
	MetricRunDuration      = "RunDuration"       // Milliseconds, from the event to the summary
	MetricFailedScopes     = "FailedScopes"      // (region, check) scopes whose collection did not complete; also without dimension
	MetricImportFailures   = "ImportFailures"    // findings not imported after retries, a refused region's included; also without dimension
	MetricFindingsImported = "FindingsImported"  // findings Security Hub took
	MetricFindingsResolved = "FindingsResolved"  // FAILED findings imported as PASSED
	MetricFindingsArchived = "FindingsArchived"  // findings archived because their resource is gone
	MetricMemoryUsed       = "MemoryUsedPercent" // the run's peak heap, of the Go memory limit (runs with a limit)
	// Per invocation of the events function (Trigger event): its messages.
	MetricEventsRechecked = "EventsRechecked" // acted on: their resources were re-checked
	MetricEventsDropped   = "EventsDropped"   // acknowledged without a re-check (the log line says why)
	MetricEventsRetried   = "EventsRetried"   // returned to the queue (batch item failures)
	// Per run and service, dimension Service (the SDK's service ID).
	MetricAPICalls  = "ApiCalls"  // API calls made (retries not counted)
	MetricThrottles = "Throttles" // attempts answered with a throttling error
	// Per sweep (Trigger schedule only), dimensions CheckId and Status.
	MetricFindings = "Findings" // findings of the check with the status, over every audited region
)

// Dimension names.
const (
	DimensionTrigger = "Trigger"
	DimensionService = "Service"
	DimensionCheckID = "CheckId"
	DimensionStatus  = "Status"
)

// statuses are the Findings emitted for each check of a sweep, zeros
// included: an alarm on a check's FAILED findings then sees 0, not missing
// data, once they are fixed.
var statuses = []check.Status{check.Failed, check.NotAvailable, check.Passed}

// metric is one value of a document.
type metric struct {
	name, unit string
	value      int64
}

// directive is one MetricDirective: metric names (of the document's) and
// the dimension sets they are published under.
type directive struct {
	dimensions [][]string
	names      []string
}

// document is one EMF document: one set of dimension values.
type document struct {
	dimensions map[string]string
	metrics    []metric
	directives []directive
}

// runMetrics are the documents of one run: the run's own (dimension
// Trigger; FailedScopes and ImportFailures also without dimension, for
// alarms over every trigger), one per service called, and, for a sweep,
// one per check and status. A document holds one value of each dimension,
// so a run's metrics by service or by check cannot share one document.
func runMetrics(s *runner.Summary, t totals, d time.Duration, ev *events) []document {
	kind := s.Trigger
	if kind == "" {
		kind = trigger.Event // an events invocation that re-checked nothing
	}
	run := document{
		dimensions: map[string]string{DimensionTrigger: string(kind)},
		metrics: []metric{
			{MetricRunDuration, "Milliseconds", d.Milliseconds()},
			{MetricFailedScopes, "Count", int64(len(s.FailedScopes))},
			{MetricImportFailures, "Count", int64(t.importFailures)},
			{MetricFindingsImported, "Count", int64(t.imported)},
			{MetricFindingsResolved, "Count", int64(t.resolved)},
			{MetricFindingsArchived, "Count", int64(t.archived)},
		},
	}
	if m := s.Memory; m != nil && m.LimitMB > 0 {
		run.metrics = append(run.metrics, metric{MetricMemoryUsed, "Percent", int64(m.UsedPercent)})
	}
	if ev != nil {
		run.metrics = append(run.metrics,
			metric{MetricEventsRechecked, "Count", int64(ev.rechecked)},
			metric{MetricEventsDropped, "Count", int64(ev.dropped)},
			metric{MetricEventsRetried, "Count", int64(ev.retried)})
	}
	run.directives = []directive{
		{dimensions: [][]string{{DimensionTrigger}}, names: namesOf(run.metrics)},
		{dimensions: [][]string{{}}, names: []string{MetricFailedScopes, MetricImportFailures}},
	}
	docs := []document{run}
	for _, svc := range sortedKeys(t.calls) {
		ms := []metric{{MetricAPICalls, "Count", int64(t.calls[svc])}, {MetricThrottles, "Count", int64(t.throttles[svc])}}
		docs = append(docs, document{
			dimensions: map[string]string{DimensionService: svc},
			metrics:    ms,
			directives: []directive{{dimensions: [][]string{{DimensionService}}, names: namesOf(ms)}},
		})
	}
	// Findings are the account's posture only when the whole of it was
	// read: an on-demand run or a re-check sees a part of it.
	if kind != trigger.Schedule {
		return docs
	}
	for _, checkID := range sortedKeys(s.Counts) {
		for _, st := range statuses {
			ms := []metric{{MetricFindings, "Count", int64(s.Counts[checkID][st])}}
			docs = append(docs, document{
				dimensions: map[string]string{DimensionCheckID: checkID, DimensionStatus: string(st)},
				metrics:    ms,
				directives: []directive{{dimensions: [][]string{{DimensionCheckID, DimensionStatus}}, names: namesOf(ms)}},
			})
		}
	}
	return docs
}

func namesOf(ms []metric) []string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return names
}

// marshal renders the document: the _aws metadata, then every
// dimension and metric as a top-level member, as the EMF specification
// requires.
func (d document) marshal(ts time.Time) ([]byte, error) {
	units := map[string]string{}
	root := map[string]any{}
	for _, m := range d.metrics {
		units[m.name] = m.unit
		root[m.name] = m.value
	}
	for k, v := range d.dimensions {
		root[k] = v
	}
	type definition struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type metricDirective struct {
		Namespace  string       `json:"Namespace"`
		Dimensions [][]string   `json:"Dimensions"`
		Metrics    []definition `json:"Metrics"`
	}
	directives := make([]metricDirective, len(d.directives))
	for i, dir := range d.directives {
		defs := make([]definition, len(dir.names))
		for j, n := range dir.names {
			defs[j] = definition{Name: n, Unit: units[n]}
		}
		directives[i] = metricDirective{Namespace: Namespace, Dimensions: dir.dimensions, Metrics: defs}
	}
	root["_aws"] = map[string]any{"Timestamp": ts.UnixMilli(), "CloudWatchMetrics": directives}
	return json.Marshal(root)
}

// writeMetrics writes each document on a line of its own (one write each,
// so that lines never interleave with the log's).
func (l *Logger) writeMetrics(docs []document, ts time.Time) {
	if l.metrics == nil {
		return
	}
	for _, d := range docs {
		b, err := d.marshal(ts)
		if err != nil {
			l.log.Error("metrics not written", "error", err.Error())
			return
		}
		_, _ = l.metrics.Write(append(b, '\n'))
	}
}
