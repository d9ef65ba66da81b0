// Command events is the posture-auditor's event-driven half: it re-checks
// the resources EventBridge events name (delivered in SQS batches, or one
// event directly) and publishes only their findings; pkg/runlog logs and
// measures each invocation. Outside Lambda it reads one event (either
// form) from stdin and prints the result (the log goes to stderr).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/localrun"
	"github.com/posture-auditor/posture-auditor/pkg/memlimit"
	"github.com/posture-auditor/posture-auditor/pkg/org"
	"github.com/posture-auditor/posture-auditor/pkg/runlog"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

func main() {
	logs, err := runlog.FromEnvironment(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	r, err := runner.FromEnvironment(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
	r.MemoryLimit = memlimit.Apply(os.Getenv)
	// Organization mode: every resource goes to the worker, in its scope's
	// message group (this account's too).
	members, err := org.ForwarderFromEnvironment(r, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
	handle := logs.Batches(eventhandler.Handler{Engine: r, Members: members}.Handle)
	if runlog.InLambda(os.Getenv) {
		lambda.Start(func(ctx context.Context, event json.RawMessage) (*eventhandler.Response, error) {
			return eventhandler.Reply(handle(ctx, event))
		})
		return
	}
	localrun.Main("events", handle)
}
