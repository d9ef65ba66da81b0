// Command planner is the organization's planner: on its schedule, or
// invoked on demand, it lists the organization's active accounts and
// queues one message per (account, region) on the organization's FIFO
// queue (pkg/org), logged and measured by pkg/runlog. Outside Lambda it
// reads one event from stdin and prints the plan.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/posture-auditor/posture-auditor/pkg/localrun"
	"github.com/posture-auditor/posture-auditor/pkg/org"
	"github.com/posture-auditor/posture-auditor/pkg/runlog"
)

func main() {
	logs, err := runlog.FromEnvironment(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "planner:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	p, err := org.PlannerFromEnvironment(ctx, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "planner:", err)
		os.Exit(1)
	}
	handle := logs.Plans(p.Handle)
	if runlog.InLambda(os.Getenv) {
		lambda.Start(handle)
		return
	}
	localrun.Main("planner", handle)
}
