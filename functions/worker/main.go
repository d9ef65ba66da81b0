// Command worker audits the organization's scopes: each message of the
// organization's FIFO queue names one (account, region); the worker assumes
// the member's role, sweeps or re-checks that scope with the runner and
// imports the findings into the member's own Security Hub (pkg/org), logged
// and measured by pkg/runlog. It answers SQS with the messages to deliver
// again. Outside Lambda it reads one message body or SQS event from stdin
// and prints the result.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/posture-auditor/posture-auditor/pkg/localrun"
	"github.com/posture-auditor/posture-auditor/pkg/memlimit"
	"github.com/posture-auditor/posture-auditor/pkg/org"
	"github.com/posture-auditor/posture-auditor/pkg/runlog"
)

func main() {
	logs, err := runlog.FromEnvironment(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	w, err := org.WorkerFromEnvironment(ctx, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	w.Base.MemoryLimit = memlimit.Apply(os.Getenv)
	handle := logs.Scopes(w.Handle)
	if runlog.InLambda(os.Getenv) {
		lambda.Start(func(ctx context.Context, event json.RawMessage) (*org.Response, error) {
			return org.Reply(handle(ctx, event))
		})
		return
	}
	localrun.Main("worker", handle)
}
