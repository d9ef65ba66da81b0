package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/org"
)

// TestMain lets the test binary be the endpoints' process too: the
// benchmark starts its own executable with emulatorEnv set (emulator.go).
func TestMain(m *testing.M) {
	if os.Getenv(emulatorEnv) != "" {
		emulatorMain()
		return
	}
	os.Exit(m.Run())
}

// tinyOrganization runs the benchmark at its smallest (the management
// account and 3 members, one of which cannot be assumed; one region) so
// that the driver cannot rot: every audited account's scope is swept
// through the real planner, FIFO queue and worker with findings imported,
// the unassumable member is reported once, and moto kept the FIFO groups
// apart.
func tinyOrganization(t *testing.T, o options) (*result, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs moto_server (skipped with -short)")
	}
	for k, v := range lambdaEnvironment {
		t.Setenv(k, v)
		if v == "" {
			os.Unsetenv(k)
		}
	}
	var out bytes.Buffer
	o.members, o.regions, o.batchSize, o.timeout, o.out = 3, []string{"us-east-1"}, 1, 2*time.Minute, &out
	res, err := run(context.Background(), o)
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
	if n := res.org.assumed[res.denied]; n != 1 {
		t.Errorf("%d AssumeRole requests for the unassumable member, want 1", n)
	}
	if r := res.ref.t.members[referenceAccount]; r == nil || r.imported() == 0 {
		t.Errorf("reference run: %+v", r)
	}
	for _, want := range []string{"==================== targets ====================", "organization: wall", "the unassumable member is reported"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	return res, out.String()
}

// TestTinyOrganizationOnMoto: the members seeded on one moto_server.
func TestTinyOrganizationOnMoto(t *testing.T) {
	tinyOrganization(t, options{membersOn: onMoto, concurrency: 3})
}

// TestTinyOrganizationOnEndpoints: every account's own services on its own
// wire-level endpoint (the management account's too: the worker audits it
// through its member role), the workers' front answering AssumeRole; every
// scope at once (concurrency 0). Each audited account's findings land in
// its own endpoint's Security Hub, and every member call went to an
// endpoint, none to moto.
func TestTinyOrganizationOnEndpoints(t *testing.T) {
	res, out := tinyOrganization(t, options{membersOn: onEndpoint, latency: 5 * time.Millisecond})
	if res.org.t.peak != 4 {
		t.Errorf("at most %d scopes at once, want all 4", res.org.t.peak)
	}
	em := res.org.emulated
	for _, a := range res.members {
		m := res.org.t.members[a]
		if m == nil {
			continue
		}
		if em.Findings[a] != m.imported() || em.Calls[a] == 0 {
			t.Errorf("account %s: %d findings imported, its endpoint's Security Hub holds %d more; %d calls to its endpoint", a, m.imported(), em.Findings[a], em.Calls[a])
		}
	}
	if em.Calls[res.denied] != 0 {
		t.Errorf("%d calls reached the unassumable member's endpoint", em.Calls[res.denied])
	}
	if got, want := em.total(em.Calls), res.org.members.Total(); got != want {
		t.Errorf("the endpoints received %d member calls, the workers made %d (none may go elsewhere, none be retried)", got, want)
	}
	if !strings.Contains(out, "KMS keys (+") {
		t.Errorf("output lacks the generated account's sizes")
	}
}
