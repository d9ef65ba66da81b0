package templates

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/memlimit"
	"github.com/posture-auditor/posture-auditor/pkg/org"
	"github.com/posture-auditor/posture-auditor/pkg/runlog"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
	"github.com/posture-auditor/posture-auditor/test/emfcheck"
)

// emitted is every metric identity the functions write: namespace, metric
// name and dimension name=value pairs (sorted), as CloudWatch files them.
func emitted(t *testing.T) map[string]bool {
	t.Helper()
	var buf bytes.Buffer
	l := runlog.New(runlog.Options{Metrics: &buf})
	calls := []awsconfig.CallCount{{Call: awsconfig.Call{Service: "KMS", Operation: "ListKeys"}, Count: 1}}
	for _, kind := range []trigger.Kind{trigger.Schedule, trigger.OnDemand} {
		l.RunFinished(&runner.Summary{Trigger: kind, Counts: map[string]map[check.Status]int{"kms.rotation": {}}, Calls: calls,
			Memory: &runner.MemoryUse{PeakHeapMB: 50, LimitMB: 192, UsedPercent: 26}}, time.Second)
	}
	l.EventsHandled(&eventhandler.Result{Summary: &runner.Summary{Trigger: trigger.Event, Calls: calls}}, nil, time.Second)
	l.Planned(&org.Plan{Trigger: trigger.Schedule}, nil, time.Second)
	l.ScopesHandled(&org.WorkerResult{Scopes: []org.ScopeResult{{Outcome: org.MemberFailed, Reason: org.ReasonAssumeRole}}}, nil, time.Second)
	docs, _, err := emfcheck.Split(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range docs {
		for _, dir := range d.Directives {
			for _, set := range dir.Dimensions {
				var dims []string
				for _, k := range set {
					dims = append(dims, k+"="+d.Value(k))
				}
				for _, m := range dir.Metrics {
					out[identity(dir.Namespace, m.Name, dims)] = true
				}
			}
		}
	}
	return out
}

func identity(namespace, metric string, dims []string) string {
	sort.Strings(dims)
	return namespace + " " + metric + " [" + strings.Join(dims, " ") + "]"
}

// TestAlarmsReadEmittedMetrics: an alarm on a metric no function writes
// (a renamed metric, a dimension the code does not set, a Trigger value
// that does not exist) never fires, or, treating missing data as
// breaching, always does. Every alarm on the PostureAuditor namespace
// reads a metric identity the functions emit.
func TestAlarmsReadEmittedMetrics(t *testing.T) {
	home := load(t, homeTemplate)
	metrics := emitted(t)
	ours := 0
	for _, id := range home.ResourcesOfType("AWS::CloudWatch::Alarm") {
		_, props, err := home.Resource(id)
		if err != nil {
			t.Fatal(err)
		}
		if props["Namespace"] != runlog.Namespace {
			continue
		}
		ours++
		var dims []string
		list, _ := props["Dimensions"].([]any)
		for _, d := range list {
			m, _ := d.(map[string]any)
			dims = append(dims, fmt.Sprintf("%v=%v", m["Name"], m["Value"]))
		}
		want := identity(runlog.Namespace, fmt.Sprint(props["MetricName"]), dims)
		if !metrics[want] {
			t.Errorf("%s reads %s, which no function emits", id, want)
		}
		if props["AlarmActions"] == nil {
			t.Errorf("%s has no AlarmActions (AlarmTopicArn)", id)
		}
	}
	if ours != 5 {
		t.Errorf("%d alarms on %s, want 5 (failed scopes, import failures, sweep not finished, memory near limit, member failures)", ours, runlog.Namespace)
	}
}

// TestMemoryAlarmFiresWhereTheSummaryWarns: the alarm and the run's own
// notice (memlimit.Warning) name the same share of the limit.
func TestMemoryAlarmFiresWhereTheSummaryWarns(t *testing.T) {
	_, props, err := load(t, homeTemplate).Resource("MemoryNearLimitAlarm")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(props["Threshold"]), fmt.Sprint(memlimit.WarnAt*100); got != want {
		t.Errorf("MemoryNearLimitAlarm threshold %s, want %s (memlimit.WarnAt)", got, want)
	}
	if props["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
		t.Errorf("comparison %v", props["ComparisonOperator"])
	}
}
