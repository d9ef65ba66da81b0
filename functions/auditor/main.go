// Command auditor is the posture-auditor Lambda: it runs one audit per event
// (a scheduled sweep or an on-demand payload). Outside Lambda it reads one
// event from stdin and prints the summary, so the same binary can audit an
// emulated account from a shell.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

func main() {
	ctx := context.Background()
	r, err := runner.FromEnvironment(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditor:", err)
		os.Exit(1)
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
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
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(summary); err != nil {
		fmt.Fprintln(os.Stderr, "auditor: write summary:", err)
		os.Exit(1)
	}
}
