// Command events is the posture-auditor's event-driven half: it re-checks
// the resources EventBridge events name (delivered in SQS batches, or one
// event directly) and publishes only their findings. Outside Lambda it
// reads one event (either form) from stdin and prints the result.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

func main() {
	ctx := context.Background()
	r, err := runner.FromEnvironment(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		h := eventhandler.Handler{Engine: r, Log: slog.New(slog.NewJSONHandler(os.Stdout, nil))}
		lambda.Start(h.Lambda)
		return
	}
	h := eventhandler.Handler{Engine: r, Log: slog.New(slog.NewJSONHandler(os.Stderr, nil))}
	event, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "events: read event from stdin:", err)
		os.Exit(1)
	}
	res, err := h.Handle(ctx, event)
	if res != nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(res); werr != nil {
			fmt.Fprintln(os.Stderr, "events: write result:", werr)
			os.Exit(1)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}
