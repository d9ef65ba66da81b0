package publish

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// MetricNamespace is the CloudWatch namespace of the publisher's metrics.
const MetricNamespace = "PostureAuditor"

// Metric names, one value per region and run.
const (
	MetricFindingsFailed   = "FindingsFailed"   // findings not imported, after retries (Failed + Unpublished)
	MetricFindingsImported = "FindingsImported" // findings imported (new, updated, resolved, reactivated, archived)
	MetricFindingsArchived = "FindingsArchived" // findings archived because their resource is gone
	MetricFindingsResolved = "FindingsResolved" // FAILED findings that now PASSED
)

// WriteMetrics writes one CloudWatch Embedded Metric Format line for a
// region's publish. In Lambda every log line is read by CloudWatch Logs,
// which turns EMF lines into metrics with no PutMetricData call and no
// extra IAM permission.
func WriteMetrics(w io.Writer, rep Report, now time.Time) error {
	archived, resolved := rep.Archived, rep.Resolved
	for _, f := range rep.Failed {
		switch f.Action {
		case ActionArchived:
			archived--
		case ActionResolved:
			resolved--
		}
	}
	values := map[string]int{
		MetricFindingsFailed:   rep.FailedCount() + rep.Unpublished,
		MetricFindingsImported: rep.Imported,
		MetricFindingsArchived: archived,
		MetricFindingsResolved: resolved,
	}
	names := []string{MetricFindingsFailed, MetricFindingsImported, MetricFindingsArchived, MetricFindingsResolved}
	defs := make([]map[string]string, 0, len(names))
	line := map[string]any{}
	for _, n := range names {
		defs = append(defs, map[string]string{"Name": n, "Unit": "Count"})
		line[n] = values[n]
	}
	line["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  MetricNamespace,
			"Dimensions": [][]string{{"Region"}},
			"Metrics":    defs,
		}},
	}
	line["Region"] = rep.Region
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
