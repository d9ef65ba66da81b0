package org

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// Forwarder queues the events function's re-checks (every account's, this
// one's too) on the organization queue, in their scope's message group, so
// that the worker runs them through the account's member role and never
// beside that scope's sweep (eventhandler.Forwarder).
type Forwarder struct {
	// Runner is the events function's own: its account, home region and
	// audited regions.
	Runner *runner.Runner
	Queue  Queue
	// Excluded are accounts never audited (EXCLUDED_ACCOUNTS): their
	// resources are skipped, not queued for the worker to refuse.
	Excluded []string
}

// Forward queues targets, at most MaxTargets a message, one message per
// (account, scope region): a global kind's scope is the home region's.
func (f Forwarder) Forward(ctx context.Context, targets []resource.Target, run string) map[string]eventhandler.Forwarded {
	out := map[string]eventhandler.Forwarded{}
	type scope struct{ account, region string }
	byScope := map[scope][]resource.Target{}
	var order []scope
	for _, t := range targets {
		spec, ok := resource.SpecOf(t.Ref.Kind)
		global := ok && spec.Global
		region := t.Ref.Region
		if global {
			region = f.Runner.Home()
		}
		if why := f.notAudited(t.Ref, region, global); why != "" {
			out[t.Ref.Key()] = eventhandler.Forwarded{Skipped: why}
			continue
		}
		sc := scope{t.Ref.Account, region}
		if _, seen := byScope[sc]; !seen {
			order = append(order, sc)
		}
		byScope[sc] = append(byScope[sc], t)
	}
	var msgs []Message
	members := map[string][]resource.Target{} // by group, for failures
	for _, sc := range order {
		ts := byScope[sc]
		for start := 0; start < len(ts); start += MaxTargets {
			part := ts[start:min(start+MaxTargets, len(ts))]
			m := Message{Account: sc.account, Region: sc.region, Trigger: trigger.Event, Targets: part, Run: run}
			if err := m.Validate(); err != nil {
				for _, t := range part {
					out[t.Ref.Key()] = eventhandler.Forwarded{Skipped: err.Error()}
				}
				continue
			}
			msgs = append(msgs, m)
			members[m.GroupID()] = append(members[m.GroupID()], part...)
		}
	}
	_, failed := f.Queue.Send(ctx, msgs)
	for _, fl := range failed {
		for _, t := range members[fl.Group] {
			out[t.Ref.Key()] = eventhandler.Forwarded{Error: fl.Code + ": " + fl.Message}
		}
	}
	for _, ts := range members {
		for _, t := range ts {
			if _, decided := out[t.Ref.Key()]; !decided {
				out[t.Ref.Key()] = eventhandler.Forwarded{Queued: true}
			}
		}
	}
	return out
}

// notAudited says why a member's resource is not re-checked, as a sweep
// would not read it: a region the deployment does not audit (the home
// region, a global resource's, always is).
func (f Forwarder) notAudited(ref resource.Ref, region string, global bool) string {
	r := f.Runner
	switch {
	case !resource.ValidAccount(ref.Account):
		return fmt.Sprintf("account %q is not an account ID", ref.Account)
	case slices.Contains(f.Excluded, ref.Account):
		return fmt.Sprintf("account %s is excluded (EXCLUDED_ACCOUNTS): never audited", ref.Account)
	case global:
	case r.AllRegions && slices.Contains(r.ExcludedRegions, region):
		return fmt.Sprintf("region %s is excluded (EXCLUDED_REGIONS)", region)
	case !r.AllRegions && !slices.Contains(r.Regions, region):
		return fmt.Sprintf("region %s is not audited by this deployment (AUDIT_REGIONS: %s)", region, strings.Join(r.Regions, ","))
	}
	return ""
}
