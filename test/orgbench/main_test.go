package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/org"
)

// TestTinyOrganization runs the benchmark at its smallest (the management
// account and 3 members, one of which cannot be assumed; one region; one
// moto_server) so that the driver cannot rot: every audited account's
// scope is swept through the real planner, FIFO queue and worker with
// findings imported, the unassumable member is reported once, and moto
// kept the FIFO groups apart.
func TestTinyOrganization(t *testing.T) {
	if testing.Short() {
		t.Skip("needs moto_server (skipped with -short)")
	}
	var out bytes.Buffer
	res, err := run(context.Background(), options{members: 3, concurrency: 3, regions: []string{"us-east-1"}, batchSize: 1, timeout: 2 * time.Minute, out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	if !res.targetDenied {
		t.Errorf("the unassumable member's target is missed")
	}
	if len(res.members) != 3 || res.org.plan == nil || res.org.plan.Queued != 4 || len(res.org.t.scopes) != 4 {
		t.Errorf("members %v, plan %+v, %d scopes handled", res.members, res.org.plan, len(res.org.t.scopes))
	}
	if d := res.org.t.members[res.denied]; d == nil || len(d.scopes) != 1 || d.scopes[0].Outcome != org.MemberFailed {
		t.Errorf("unassumable member: %+v", d)
	}
	if r := res.ref.t.members[referenceAccount]; r == nil || r.imported() == 0 {
		t.Errorf("reference run: %+v", r)
	}
	for _, want := range []string{"==================== targets ====================", "organization: wall", "the unassumable member is reported"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
