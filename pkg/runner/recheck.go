package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/secretscollect"
	"github.com/posture-auditor/posture-auditor/pkg/keyref"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// RecheckRequest asks to re-read some resources and publish only their
// findings: what an event, the "Re-check" action or an on-demand
// `resources` payload asks for.
type RecheckRequest struct {
	Kind    trigger.Kind
	Targets []resource.Target
	// Checks narrows the checks run (empty: every check of each target).
	Checks     []string
	DryRun     bool
	Thresholds map[string]check.Value
}

// Outcome is what a re-check did for one resource.
type Outcome string

const (
	// Rechecked: read and judged; its findings were published.
	Rechecked Outcome = "rechecked"
	// Gone: AWS answered that it does not exist; its findings were archived.
	Gone Outcome = "gone"
	// Failed: it could not be read or published (Reason says why);
	// nothing of it was archived.
	Failed Outcome = "failed"
	// Skipped: not re-checked (another account, a region not audited).
	Skipped Outcome = "skipped"
)

// TargetResult is one resource's outcome.
type TargetResult struct {
	Resource resource.Ref `json:"resource"`
	Outcome  Outcome      `json:"outcome"`
	// Transient is set when a retry may succeed (throttled, 5xx, timeout):
	// the events function then reports its message for redelivery.
	Transient bool   `json:"transient,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// Via is the Key of the target whose dependents this one is.
	Via string `json:"via,omitempty"`
}

// Recheck re-reads the requested resources, judges them with the checks
// that cover them, and publishes only their findings. A resource's findings
// not observed again are archived only when its read completed: found whole,
// or answered "does not exist".
func (r *Runner) Recheck(ctx context.Context, req RecheckRequest) (*Summary, error) {
	checks, err := registry.Select(req.Checks)
	if err != nil {
		return nil, err
	}
	params, err := check.ResolveParams(registry.Thresholds(), r.Getenv, req.Thresholds)
	if err != nil {
		return nil, fmt.Errorf("invalid thresholds: %w", err)
	}
	for _, t := range req.Targets {
		if _, ok := resource.SpecOf(t.Ref.Kind); !ok {
			return nil, fmt.Errorf("unknown resource kind %q", t.Ref.Kind)
		}
	}
	if len(r.Regions) == 0 && !r.AllRegions {
		return nil, fmt.Errorf("no regions configured: set AUDIT_REGIONS")
	}
	home := r.home(r.Regions)
	callsBefore := r.Counter.Snapshot()
	account, partition, err := r.identify(ctx, awsconfig.ForRegion(r.AWS, home))
	if err != nil {
		return nil, fmt.Errorf("identify the audited account: %w", err)
	}
	x := &run{
		Runner: r, req: trigger.Request{Kind: req.Kind, DryRun: req.DryRun, Checks: req.Checks}, checks: checks, params: params,
		account: account, partition: partition, regions: r.Regions, home: home, started: r.now(),
		callsBefore: callsBefore,
	}
	return x.recheck(ctx, req.Targets), nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// target is one resource of a region's re-check, as resolved.
type target struct {
	ref    resource.Ref
	checks map[string]bool
	via    string
	result *TargetResult
	// deps are the targets a key's dependents lookup added (or found
	// already requested): their failed reads make the key's verdict unsure.
	deps []*target
	// errs are the collection errors that leave its verdict unsure.
	errs []snapshot.CollectionError
}

func (x *run) recheck(ctx context.Context, requested []resource.Target) *Summary {
	var results []*TargetResult
	byRegion := map[string][]*target{}
	seen := map[string]*target{}
	add := func(ref resource.Ref, via string) (*target, *TargetResult) {
		if t, ok := seen[ref.Key()]; ok {
			return t, t.result
		}
		res := &TargetResult{Resource: ref, Via: via}
		results = append(results, res)
		spec, _ := resource.SpecOf(ref.Kind)
		region := ref.Region
		if spec.Global {
			region = x.home
		}
		switch {
		case ref.Account != x.account:
			res.Outcome, res.Reason = Skipped, fmt.Sprintf("belongs to account %s; this deployment audits %s", ref.Account, x.account)
			return nil, res
		case ref.Partition != x.partition:
			res.Outcome, res.Reason = Skipped, fmt.Sprintf("is in partition %s; this deployment runs in %s", ref.Partition, x.partition)
			return nil, res
		case !spec.Global && x.notRechecked(region) != "":
			// A global kind's region is the home region, audited for
			// global services whatever the regional ones.
			res.Outcome, res.Reason = Skipped, x.notRechecked(region)
			return nil, res
		}
		t := &target{ref: ref, checks: map[string]bool{}, via: via, result: res}
		for _, c := range spec.Checks {
			if x.selected(c) {
				t.checks[c] = true
			}
		}
		empty := len(t.checks) == 0
		if ref.Kind == resource.KMSKey {
			// Judged only once the key's dependents are known and read
			// (below): without them the check would see a key that
			// protects nothing, and archive its finding.
			delete(t.checks, publish.KeyInUseCheck)
		}
		if empty {
			res.Outcome, res.Reason = Skipped, "none of the requested checks covers it"
			return nil, res
		}
		seen[ref.Key()] = t
		byRegion[region] = append(byRegion[region], t)
		return t, res
	}
	// Every requested resource first, so that one also protected by a
	// requested key counts as requested, not as the key's dependent.
	keys := make([]*target, len(requested))
	for i, rt := range requested {
		keys[i], _ = add(rt.Ref, "")
	}
	for i, rt := range requested {
		key, res := keys[i], (*TargetResult)(nil)
		if key != nil {
			res = key.result
		}
		if key == nil || !rt.Dependents || rt.Ref.Kind != resource.KMSKey || rt.Ref.ARN == "" || !x.selected(publish.KeyInUseCheck) {
			continue
		}
		// What the key protects is re-judged with it: its health decides
		// their kms.key-in-use-unhealthy and cloudtrail.encryption.
		deps, err := x.Publisher.Dependents(ctx, awsconfig.ForRegion(x.AWS, rt.Ref.Region), x.account, x.partition, rt.Ref.ARN)
		if err != nil {
			res.Transient = transient(collect.ErrorCode(err))
			res.Reason = "its dependents could not be found: " + collect.Reason("GetFindings", err)
			continue
		}
		key.checks[publish.KeyInUseCheck] = true
		for _, d := range deps {
			ref, err := resource.FromFinding(d.Type, d.ARN, x.partition, x.account, rt.Ref.Region, "")
			if err != nil {
				continue // a related resource no check of this tool covers
			}
			if dep, _ := add(ref, rt.Ref.Key()); dep != nil {
				key.deps = append(key.deps, dep)
			}
		}
	}

	// The summary counts only the checks some target is judged by.
	used := map[string]bool{}
	for _, ts := range byRegion {
		for _, t := range ts {
			for c := range t.checks {
				used[c] = true
			}
		}
	}
	var checks []check.Check
	for _, c := range x.checks {
		if used[c.ID] {
			checks = append(checks, c)
		}
	}
	x.checks = checks

	regions := make([]string, 0, len(byRegion))
	for reg := range byRegion {
		regions = append(regions, reg)
	}
	sort.Strings(regions)
	x.regions = regions
	out := make([]*regionResult, len(regions))
	observed := make([]time.Time, len(regions))
	collectCtx, cancel := collectionContext(ctx, time.Now())
	defer cancel()
	var wg sync.WaitGroup
	for i, reg := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			observed[i] = x.now()
			defer func() {
				// A bug must not take the other regions down with it:
				// this region's targets fail, and archive nothing.
				if p := recover(); p != nil {
					out[i] = &regionResult{region: reg, snap: snapshot.New(x.account, x.partition, reg)}
					for _, t := range byRegion[reg] {
						t.result.Outcome, t.result.Reason = Failed, fmt.Sprint("re-check panicked: ", p)
					}
				}
			}()
			out[i] = x.recheckRegion(collectCtx, reg, byRegion[reg], observed[i])
		}()
	}
	wg.Wait()

	reports := make([]publish.Report, len(out))
	publishCtx, cancelPublish := publishContext(ctx)
	defer cancelPublish()
	var pwg sync.WaitGroup
	for i, rr := range out {
		req := x.targetedPublish(rr, byRegion[regions[i]], observed[i])
		if len(req.Targets) == 0 {
			continue
		}
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			defer func() {
				if p := recover(); p != nil {
					reports[i] = publish.Report{Region: rr.region, Error: fmt.Sprint("publish panicked: ", p), ErrorCode: "Panic"}
				}
			}()
			reports[i] = x.Publisher.Publish(publishCtx, awsconfig.ForRegion(x.AWS, rr.region), req)
		}()
	}
	pwg.Wait()
	for i, rep := range reports {
		settlePublish(out[i], byRegion[regions[i]], rep)
	}
	s := x.summarise(out, reports, newRowKeeper(MaxSummaryFindings))
	for _, res := range results {
		s.Resources = append(s.Resources, *res)
	}
	return s
}

func (x *run) selected(checkID string) bool {
	for _, c := range x.checks {
		if c.ID == checkID {
			return true
		}
	}
	return false
}

// recheckRegion reads the region's targets, each with the narrowest scope
// its collector offers, and judges them.
func (x *run) recheckRegion(ctx context.Context, region string, targets []*target, observedAt time.Time) *regionResult {
	snap := snapshot.New(x.account, x.partition, region)
	cfg := awsconfig.ForRegion(x.AWS, region)
	scopes := map[snapshot.Service]*collect.Scope{}
	active := map[string]bool{}
	for _, t := range targets {
		spec, _ := resource.SpecOf(t.ref.Kind)
		sc := scopes[spec.Service]
		if sc == nil {
			sc = &collect.Scope{}
			scopes[spec.Service] = sc
		}
		if spec.AccountLevel {
			sc.AccountSettings = true
		} else {
			sc.ResourceIDs = append(sc.ResourceIDs, t.ref.ID)
		}
		for c := range t.checks {
			active[c] = true
		}
	}
	var checks []check.Check
	needed := map[snapshot.Service]bool{}
	for _, c := range x.checks {
		if active[c.ID] {
			checks = append(checks, c)
			for _, s := range c.Services {
				needed[s] = true
			}
		}
	}
	var wg sync.WaitGroup
	var second []collect.ReferenceDescriber
	for _, col := range x.Collectors {
		if rd, ok := col.(collect.ReferenceDescriber); ok && needed[snapshot.KMSReferenced] {
			second = append(second, rd)
		}
		sc, ok := scopes[col.Service()]
		if !ok {
			if needed[col.Service()] {
				// Read by none of the targets but named by a check (the
				// KMS listing of an RDS check): its only data here are the
				// targets' own, and their keys are described by reference.
				snap.MarkCollected(col.Service())
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer recoverInto(snap, col.Service())
			col.Collect(ctx, cfg, snap, *sc)
		}()
	}
	wg.Wait()
	for _, rd := range second {
		func() {
			defer recoverInto(snap, snapshot.KMSReferenced)
			rd.DescribeReferenced(ctx, cfg, snap)
		}()
	}

	// Resolve what the reads found: a secret named without its ARN, the
	// distributions that use a response headers policy.
	byARN := map[string]*target{}
	for _, t := range targets {
		switch t.ref.Kind {
		case resource.Secret:
			// Named by name, or by a partial ARN (without the six random
			// characters AWS appends): its findings carry the full ARN.
			for _, s := range snap.SecretsManager.Secrets {
				if secretscollect.Matches(s, t.ref.ID) {
					t.ref.ARN = s.ARN
				}
			}
		case resource.ResponseHeadersPolicy:
			for _, d := range snap.CloudFront.Distributions {
				dt := byARN[d.ARN]
				if dt == nil {
					dt = &target{ref: resource.Ref{Kind: resource.Distribution, Partition: x.partition, Account: x.account, ID: d.ARN, ARN: d.ARN}, checks: map[string]bool{}, result: t.result}
					byARN[d.ARN] = dt
				}
				for c := range t.checks {
					dt.checks[c] = true
				}
			}
			continue
		}
		if t.ref.ARN != "" {
			if prev := byARN[t.ref.ARN]; prev != nil {
				for c := range prev.checks {
					t.checks[c] = true
				}
			}
			byARN[t.ref.ARN] = t
		}
	}

	rr := &regionResult{region: region, snap: snap}
	fctx := asff.Context{Account: x.account, Partition: x.partition, ProductRegion: region, Now: observedAt, ToolVersion: x.ToolVersion}
	for _, c := range checks {
		rr.scopes = append(rr.scopes, checkScope(snap, c, true))
		for _, res := range c.Results(snap, x.params) {
			// Only the targets' findings: a check over the dependents of a
			// key also judges their other keys, which were not re-read.
			if t := byARN[res.ResourceARN]; t == nil || !t.checks[c.ID] {
				continue
			}
			res.CheckID = c.ID
			if res.Region == "" {
				res.Region = region
			}
			rr.results = append(rr.results, scopedResult{check: c, result: res})
			rr.findings = append(rr.findings, asff.Map(c, res, fctx))
		}
	}
	rr.targets = byARN

	// Each target's outcome, before publishing. A key's verdict on what it
	// protects is only as sure as the reads of its dependents.
	requested := map[*target]bool{}
	for _, t := range targets {
		requested[t] = true
		t.errs = targetErrors(snap, checks, t)
	}
	for _, t := range byARN {
		if !requested[t] { // a distribution found through its policy
			t.errs = targetErrors(snap, checks, t)
		}
	}
	for _, t := range targets {
		for _, d := range t.deps {
			t.errs = append(t.errs, d.errs...)
		}
	}
	for _, t := range targets {
		spec, _ := resource.SpecOf(t.ref.Kind)
		res := t.result
		switch {
		case len(t.errs) > 0:
			res.Outcome = Failed
			res.Reason = t.errs[0].Error()
			if len(t.errs) > 1 {
				res.Reason += fmt.Sprintf(" (and %d more errors)", len(t.errs)-1)
			}
			for _, e := range t.errs {
				res.Transient = res.Transient || transient(e.Code)
			}
		case !spec.AccountLevel && t.ref.Kind != resource.ResponseHeadersPolicy && snap.Absent(spec.Service, t.ref.ID):
			res.Outcome = Gone
			if t.ref.ARN == "" {
				res.Reason = "does not exist; its ARN is unknown, so its findings are left to the next sweep"
			}
		default:
			if res.Outcome == "" {
				res.Outcome = Rechecked
			}
		}
		if t.ref.Kind == resource.ResponseHeadersPolicy && res.Outcome == Rechecked {
			n := 0
			for _, d := range byARN {
				if d.result == res {
					n++
				}
			}
			res.Reason = fmt.Sprintf("%d distributions use it", n)
		}
	}
	// A read that may succeed on retry publishes nothing now: the retry
	// will, and NOT_AVAILABLE in between would only churn the finding.
	var results []scopedResult
	var findings = rr.findings[:0:0]
	for i, sr := range rr.results {
		t := byARN[sr.result.ResourceARN]
		if t != nil && t.result.Transient {
			continue
		}
		if t != nil && sr.check.ID == publish.KeyInUseCheck && len(t.errs) > 0 {
			// Judged from part of what the key protects: the stored
			// finding stays as it was rather than lose dependents.
			continue
		}
		results = append(results, sr)
		findings = append(findings, rr.findings[i])
	}
	rr.results, rr.findings = results, findings
	return rr
}

// targetErrors are the collection errors that leave a target's verdict
// unsure: in every service its checks read, a failed listing (no resource
// named) or a failed read of the target itself or of the key it uses.
// Another target's failed read in the same snapshot is not its problem.
func targetErrors(snap *snapshot.Snapshot, checks []check.Check, t *target) []snapshot.CollectionError {
	services := map[snapshot.Service]bool{}
	for _, c := range checks {
		if t.checks[c.ID] {
			for _, s := range c.Services {
				services[s] = true
			}
		}
	}
	names := map[string]bool{}
	for _, n := range []string{t.ref.ID, t.ref.ARN, shortName(t.ref.ID), shortName(t.ref.ARN)} {
		if n != "" {
			names[n] = true
		}
	}
	for _, d := range snap.CloudFront.Distributions {
		if d.ARN == t.ref.ARN && t.ref.ARN != "" {
			// A distribution's verdict also rests on its response
			// headers policies, whose reads are named by policy ID.
			for _, b := range d.AllBehaviors() {
				if b.ResponseHeadersPolicyID != "" {
					names[b.ResponseHeadersPolicyID] = true
				}
			}
		}
	}
	for _, u := range snap.KeyUses() {
		if u.ResourceARN != t.ref.ARN || t.ref.ARN == "" {
			continue
		}
		ref := keyref.Parse(snap, u.KeyRef, u.DefaultAlias)
		for _, n := range []string{u.KeyRef, ref.Lookup(), ref.KeyID} {
			if n != "" {
				names[n] = true
			}
		}
	}
	relevant := func(e snapshot.CollectionError) bool {
		if e.Resource == "" || names[e.Resource] {
			return true
		}
		// A batched read names its resources joined ("a,b").
		for _, part := range strings.Split(e.Resource, ",") {
			if names[part] || names[shortName(part)] {
				return true
			}
		}
		return false
	}
	var out []snapshot.CollectionError
	for s := range services {
		for _, e := range snap.Errors[s] {
			if relevant(e) {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Error() < out[j].Error() })
	return out
}

// shortName is the last segment of an ARN or path (a key ID, a volume ID,
// a repository's name).
func shortName(s string) string {
	if i := strings.LastIndexAny(s, "/:"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// targetedPublish tells the publisher which resources were read and which
// of them may archive: only those read without error (found whole, or
// answered "does not exist").
func (x *run) targetedPublish(rr *regionResult, targets []*target, observedAt time.Time) publish.Request {
	req := publish.Request{
		Account: x.account, Partition: x.partition, Findings: rr.findings,
		Now: x.now(), DryRun: x.req.DryRun, ObservedAt: observedAt,
	}
	arns := make([]string, 0, len(rr.targets))
	for a := range rr.targets {
		arns = append(arns, a)
	}
	sort.Strings(arns)
	for _, a := range arns {
		t := rr.targets[a]
		if t.result.Transient {
			continue
		}
		pt := publish.Target{ResourceARN: a, Confirmed: len(t.errs) == 0}
		for c := range t.checks {
			pt.Checks = append(pt.Checks, c)
		}
		sort.Strings(pt.Checks)
		req.Targets = append(req.Targets, pt)
	}
	return req
}

// settlePublish marks failed the targets whose findings could not be
// published: all of the region's when it refused as a whole, else those
// whose findings Security Hub did not import. A retry is asked for only
// where one may succeed.
func settlePublish(rr *regionResult, targets []*target, rep publish.Report) {
	if rep.Region == "" {
		return
	}
	fail := func(t *target, reason string, again bool) {
		if t == nil || t.result.Outcome == Skipped {
			return
		}
		t.result.Outcome = Failed
		t.result.Reason = "publish: " + reason
		t.result.Transient = t.result.Transient || again
	}
	if rep.Error != "" {
		again := !rep.SecurityHubNotEnabled && publish.Retriable(rep.ErrorCode)
		for _, t := range targets {
			fail(t, rep.Error, again)
		}
		return
	}
	resourceOf := map[string]string{}
	for _, f := range rr.findings {
		if len(f.Resources) > 0 {
			resourceOf[aws.ToString(f.Id)] = aws.ToString(f.Resources[0].Id)
		}
	}
	for _, ff := range rep.Failed {
		reason := fmt.Sprintf("finding %s not imported: %s %s", ff.ID, ff.ErrorCode, ff.ErrorMessage)
		again := publish.Retriable(ff.ErrorCode)
		if t := rr.targets[resourceOf[ff.ID]]; t != nil {
			fail(t, reason, again)
			continue
		}
		// Failures Security Hub did not name (or of an archived finding,
		// which is not among the observations): every target may be hit.
		for _, t := range targets {
			fail(t, reason, again)
		}
	}
}

// transient reports AWS error codes a later retry may not meet: throttling,
// server errors, broken connections and timeouts.
func transient(code string) bool {
	switch code {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "LimitExceededException",
		"ProvisionedThroughputExceededException", "SlowDown", "RequestThrottled", "PriorRequestNotComplete",
		"InternalFailure", "InternalError", "InternalServerError", "InternalErrorException", "InternalServiceError",
		"InternalServiceErrorException", "KMSInternalException", "ServiceUnavailable", "ServiceUnavailableException",
		"RequestError", "Timeout", "RequestTimeout", "RequestTimeoutException", "DependencyTimeoutException",
		"InternalException", "ServerException", "Unavailable", "ServiceException", "ServiceFailure", "EC2ThrottledException":
		return true
	}
	return strings.HasPrefix(code, "5") || strings.Contains(code, "Throttl")
}

// recoverInto turns a collector's panic into a collection error of svc:
// the resources it should have read are then unsure (nothing archived)
// instead of the process dying with every message of the batch.
func recoverInto(snap *snapshot.Snapshot, svc snapshot.Service) {
	if p := recover(); p != nil {
		snap.AddError(snapshot.CollectionError{Service: svc, Region: snap.Region, Code: "Panic", Message: fmt.Sprint(p)})
	}
}
