// Package runlog is what an operator sees of the functions' runs: JSON log
// lines through log/slog and CloudWatch Embedded Metric Format (EMF)
// documents, for the auditor (sweeps, on-demand runs) and the events
// function (re-check batches) alike. It wraps their handlers, times each
// invocation and reports what the summary says: totals and problems, never
// a secret value, never an event body or a finding.
//
// In Lambda both go to stdout, where CloudWatch Logs reads them and turns
// the EMF documents into metrics (no PutMetricData, no IAM permission).
// Outside Lambda the log goes to stderr, so stdout stays the reply, and no
// metrics are written: no one would turn them into metrics.
package runlog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

// Logger logs and measures runs.
type Logger struct {
	log     *slog.Logger
	metrics io.Writer
	now     func() time.Time
}

// Options say where a Logger writes.
type Options struct {
	// Log receives one JSON object a line; nil discards.
	Log io.Writer
	// Level is the least level logged (nil: info).
	Level slog.Leveler
	// Metrics receives one EMF document a line; nil writes none.
	Metrics io.Writer
	// Now is the clock (nil: time.Now): durations and EMF timestamps.
	Now func() time.Time
}

// New returns a Logger writing where o says.
func New(o Options) *Logger {
	l := &Logger{metrics: o.Metrics, now: o.Now}
	if l.now == nil {
		l.now = time.Now
	}
	if o.Log == nil {
		l.log = slog.New(slog.DiscardHandler)
	} else {
		l.log = slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: o.Level}))
	}
	return l
}

// InLambda reports whether the process is a Lambda function's.
func InLambda(getenv func(string) string) bool { return getenv("AWS_LAMBDA_RUNTIME_API") != "" }

// FromEnvironment builds the functions' Logger: the level from LOG_LEVEL;
// in Lambda, logs and metrics to stdout; outside, logs to stderr and no
// metrics. A LOG_LEVEL it does not know is an error: the function must
// refuse to start rather than log at a level no one asked for.
func FromEnvironment(getenv func(string) string) (*Logger, error) {
	level, err := ParseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		return nil, err
	}
	if InLambda(getenv) {
		return New(Options{Log: os.Stdout, Level: level, Metrics: os.Stdout}), nil
	}
	return New(Options{Log: os.Stderr, Level: level}), nil
}

// ParseLevel reads LOG_LEVEL: debug, info, warn or error (any case; empty
// means info).
func ParseLevel(v string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", v)
}

// RunHandler is the auditor's handler (runner.Runner.Handle).
type RunHandler func(context.Context, json.RawMessage) (*runner.Summary, error)

// Runs wraps the auditor's handler: each run is timed, then logged ("run
// finished", a line per failed scope and per finding not imported) and
// measured (EMF); a run refused is logged as an error.
func (l *Logger) Runs(handle RunHandler) RunHandler {
	return func(ctx context.Context, event json.RawMessage) (*runner.Summary, error) {
		l.debugInvocation(event)
		start := l.now()
		s, err := handle(ctx, event)
		d := l.now().Sub(start)
		if err != nil {
			l.log.Error("run refused", "error", err.Error(), "durationMs", d.Milliseconds())
			return nil, err
		}
		l.RunFinished(s, d)
		return s, nil
	}
}

// BatchHandler is the events function's handler (eventhandler.Handler.Handle).
type BatchHandler func(context.Context, json.RawMessage) (*eventhandler.Result, error)

// Batches wraps the events function's handler: each invocation is timed,
// then logged ("events handled", a line per message acknowledged without a
// re-check, per failed scope and per finding not imported) and measured.
func (l *Logger) Batches(handle BatchHandler) BatchHandler {
	return timed(l, "events refused", handle, l.EventsHandled)
}

// debugInvocation names what invoked the auditor (an EventBridge
// envelope's detail-type and source), never its body.
func (l *Logger) debugInvocation(event json.RawMessage) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	var env struct {
		DetailType string `json:"detail-type"`
		Source     string `json:"source"`
	}
	_ = json.Unmarshal(event, &env)
	l.log.Debug("invocation", "detailType", env.DetailType, "source", env.Source, "bytes", len(event))
}
