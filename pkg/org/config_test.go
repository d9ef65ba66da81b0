package org_test

import (
	"context"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/org"
)

// TestWorkerFromEnvironmentState: the worker's finding state is the
// central table, paced at the capacity STATE_TABLE_WRITE_UNITS gives, and
// none at all (a nil interface, never a nil *Store in it, which the
// publisher would call) without FINDING_STATE_TABLE; a bad capacity stops
// the worker at start.
func TestWorkerFromEnvironmentState(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	env := map[string]string{
		org.EnvMemberRoleName: "posture-auditor-member",
		org.EnvQueueURL:       "https://sqs.us-east-1.amazonaws.com/111122223333/posture-auditor.fifo",
	}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()

	w, err := org.WorkerFromEnvironment(ctx, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if w.Base.Publisher.State != nil {
		t.Errorf("without FINDING_STATE_TABLE the worker has a finding state: %#v", w.Base.Publisher.State)
	}

	env[org.EnvStateTable] = "posture-auditor-finding-state"
	env[org.EnvStateTableUnits] = "12000"
	w, err = org.WorkerFromEnvironment(ctx, getenv)
	if err != nil {
		t.Fatal(err)
	}
	store, ok := w.Base.Publisher.State.(*findingstate.Store)
	if !ok || store.Table != "posture-auditor-finding-state" || store.TableWriteUnits != 10800 || store.Boilerplate == nil {
		t.Errorf("the worker's finding state: %#v", w.Base.Publisher.State)
	}

	env[org.EnvStateTableUnits] = "lots"
	if _, err := org.WorkerFromEnvironment(ctx, getenv); err == nil || !strings.Contains(err.Error(), "STATE_TABLE_WRITE_UNITS") {
		t.Errorf("STATE_TABLE_WRITE_UNITS=lots: %v", err)
	}
}
