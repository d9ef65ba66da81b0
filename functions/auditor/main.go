// Command auditor is the posture-auditor Lambda: it runs one audit per event
// (a scheduled sweep or an on-demand payload). Outside Lambda it reads one
// event from stdin and prints the summary, so the same binary can audit an
// emulated account from a shell: as JSON (the Lambda reply, the default) or,
// with -format table, as a report for people (pkg/report).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/posture-auditor/posture-auditor/pkg/report"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

// writer prints a summary in one output format.
type writer func(io.Writer, *runner.Summary) error

var formats = map[string]writer{"json": writeJSON, "table": report.Table}

// format is the -format flag: an unknown value is refused by flag.Parse.
type format struct {
	name  string
	write writer
}

func (f *format) String() string { return f.name }

func (f *format) Set(v string) error {
	w, ok := formats[v]
	if !ok {
		return errors.New("want json or table")
	}
	f.name, f.write = v, w
	return nil
}

func main() {
	inLambda := os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
	out := format{"json", writeJSON}
	if !inLambda {
		// Before anything runs: a bad flag exits 2 without an AWS call.
		// In Lambda there are no flags: the reply is always JSON.
		parseFlags(&out)
	}
	ctx := context.Background()
	r, err := runner.FromEnvironment(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditor:", err)
		os.Exit(1)
	}
	if inLambda {
		// A scheduled run's reply goes nowhere: its outcome must be in the logs.
		log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
		lambda.Start(func(ctx context.Context, event json.RawMessage) (*runner.Summary, error) {
			s, err := r.Handle(ctx, event)
			if err != nil {
				log.Error("run refused", "error", err.Error())
				return nil, err
			}
			// Totals and problems only: the per-finding lists stay in the reply.
			log.Info("run finished", "trigger", s.Trigger, "account", s.Account, "regions", s.Regions, "dryRun", s.DryRun,
				"counts", s.Counts, "lifecycle", s.Lifecycle, "failedScopes", s.FailedScopes,
				"securityHubNotEnabled", s.SecurityHubNotEnabled, "notices", s.Notices)
			return s, nil
		})
		return
	}
	event, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditor: read event from stdin:", err)
		os.Exit(1)
	}
	summary, err := r.Handle(ctx, event)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditor:", err)
		os.Exit(1)
	}
	if err := out.write(os.Stdout, summary); err != nil {
		fmt.Fprintln(os.Stderr, "auditor: write summary:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line; flag.Parse exits 2 on an unknown flag
// or format.
func parseFlags(out *format) {
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: auditor [-format json|table] < event.json")
		flag.PrintDefaults()
	}
	flag.Var(out, "format", "print the summary as `json|table`: json is the Lambda reply, table a report for people")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "auditor: unexpected argument %q: the event is read from stdin\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
}

func writeJSON(w io.Writer, s *runner.Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
