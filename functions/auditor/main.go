// Command auditor is the posture-auditor Lambda: it runs one audit per event
// (a scheduled sweep or an on-demand payload), logged and measured by
// pkg/runlog (LOG_LEVEL: debug, info, warn, error). Outside Lambda it reads one
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
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/posture-auditor/posture-auditor/pkg/memlimit"
	"github.com/posture-auditor/posture-auditor/pkg/report"
	"github.com/posture-auditor/posture-auditor/pkg/runlog"
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
	inLambda := runlog.InLambda(os.Getenv)
	out := format{"json", writeJSON}
	if !inLambda {
		// Before anything runs: a bad flag exits 2 without an AWS call.
		// In Lambda there are no flags: the reply is always JSON.
		parseFlags(&out)
	}
	// A scheduled run's reply goes nowhere: its outcome must be in the
	// logs and metrics (stdout in Lambda, stderr outside it).
	logs, err := runlog.FromEnvironment(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditor:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	r, err := runner.FromEnvironment(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditor:", err)
		os.Exit(1)
	}
	r.MemoryLimit = memlimit.Apply(os.Getenv)
	handle := logs.Runs(r.Handle)
	if inLambda {
		lambda.Start(handle)
		return
	}
	event, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditor: read event from stdin:", err)
		os.Exit(1)
	}
	summary, err := handle(ctx, event)
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
