// Package runner runs one audit: validate the request, collect each region
// into a snapshot, evaluate the checks, map results to ASFF, publish, and
// summarise. It is the only package that knows the whole flow.
package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/memlimit"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/regions"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// Runner holds what every run shares. Build it once per Lambda container.
type Runner struct {
	// AWS is the base config; per-region copies are made from it.
	AWS     aws.Config
	Counter *awsconfig.CallCounter
	// Regions are the configured regions of a full sweep, unless
	// AllRegions: every region enabled for the account, discovered at each
	// run (ec2:DescribeRegions), except ExcludedRegions.
	Regions         []string
	AllRegions      bool
	ExcludedRegions []string
	// HomeRegion is where global services (CloudFront) are read and their
	// findings imported.
	HomeRegion  string
	Collectors  []collect.Collector
	Publisher   publish.Publisher
	ToolVersion string
	Getenv      func(string) string
	Now         func() time.Time
	// Identity returns the audited account and partition; nil means STS
	// GetCallerIdentity, which needs no IAM permission.
	Identity func(context.Context, aws.Config) (account, partition string, err error)
	// MaxParallelRegions bounds the regions a sweep reads at once (0:
	// DefaultParallelRegions).
	MaxParallelRegions int
	// MemoryLimit is the Go heap's limit in bytes (memlimit.Apply); a run
	// whose heap nears it says so. 0 means none.
	MemoryLimit int64
	// OrganizationPlanner, in organization mode, names the planner
	// function: this account is audited by the organization's worker, one
	// run per scope, so a run here that would publish (beside the worker's
	// run of the same scope) is refused with the planner to invoke
	// instead; a dry run, which imports and archives nothing, runs here.
	OrganizationPlanner string

	who identity
}

// Handle runs the request in raw. It returns an error only for a request it
// refuses (nothing is then read or published) or when the account cannot
// be identified or its enabled regions discovered; AWS errors during the
// run are reported in the summary.
func (r *Runner) Handle(ctx context.Context, raw json.RawMessage) (*Summary, error) {
	req, err := trigger.Parse(raw)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, req)
}

// Run runs a request already validated by pkg/trigger (the organization
// worker builds one per queued scope, keeping its trigger kind). Errors are
// as for Handle.
func (r *Runner) Run(ctx context.Context, req trigger.Request) (*Summary, error) {
	if r.OrganizationPlanner != "" && !req.DryRun {
		return nil, fmt.Errorf("organization mode: this account is audited by the organization's worker, one run per (account, region); "+
			"a run here would publish beside it. Invoke %s instead, e.g. {\"accounts\":[\"<this account>\"]} with the same regions and checks, "+
			"or add \"dryRun\": true to run here without publishing", r.OrganizationPlanner)
	}
	if len(req.Resources) > 0 {
		targets := make([]resource.Target, len(req.Resources))
		for i, ref := range req.Resources {
			// A key is judged with what it protects, as its events are.
			targets[i] = resource.Target{Ref: ref, Dependents: ref.Kind == resource.KMSKey}
		}
		return r.Recheck(ctx, RecheckRequest{Kind: req.Kind, Targets: targets, Checks: req.Checks, DryRun: req.DryRun, Thresholds: req.Thresholds})
	}
	checks, err := registry.Select(req.Checks)
	if err != nil {
		return nil, err
	}
	params, err := check.ResolveParams(registry.Thresholds(), r.Getenv, req.Thresholds)
	if err != nil {
		return nil, fmt.Errorf("invalid thresholds: %w", err)
	}
	asked := r.regionRequest(req)
	if !asked.All && len(asked.Named) == 0 {
		return nil, fmt.Errorf("no regions to audit: configure AUDIT_REGIONS or pass \"regions\"")
	}

	callsBefore := r.Counter.Snapshot()
	home := r.home(asked.Named)
	if len(req.Regions) == 0 && slices.ContainsFunc(checks, func(c check.Check) bool { return c.Global }) {
		// The configured regions, or all: global services are read in the
		// home region even when it is not among them (named elsewhere,
		// excluded from all). A request naming its regions gets those.
		asked.Home = home
	}
	account, partition, err := r.identify(ctx, awsconfig.ForRegion(r.AWS, home))
	if err != nil {
		return nil, fmt.Errorf("identify the audited account: %w", err)
	}
	// Which regions: a discovery that fails ends the run here, before
	// anything is read, published or archived.
	sel := regions.Selection{Audit: req.Regions}
	if !req.RegionsEnabled || len(req.Regions) == 0 {
		if sel, err = r.selectRegions(ctx, home, partition, asked); err != nil {
			return nil, err
		}
	}

	audit := sel.Audit
	if sel.GlobalOnly != "" {
		audit = append(slices.Clone(audit), sel.GlobalOnly)
	}
	run := &run{
		Runner: r, req: req, checks: checks, params: params,
		account: account, partition: partition, regions: audit, notEnabled: sel.NotEnabled, home: home, started: r.now(),
		globalOnly: sel.GlobalOnly, callsBefore: callsBefore,
	}
	return run.execute(ctx), nil
}

// Home is where r reads global services and imports their findings:
// HomeRegion, or (unset) its config's region.
func (r *Runner) Home() string { return r.home(nil) }

// home is the configured home region, or the first audited region, or
// (all regions, none named) the config's own.
func (r *Runner) home(regions []string) string {
	if r.HomeRegion != "" {
		return r.HomeRegion
	}
	if len(regions) == 0 {
		return r.AWS.Region
	}
	return regions[0]
}

type run struct {
	*Runner
	req                trigger.Request
	checks             []check.Check
	params             check.Params
	account, partition string
	regions            []string
	home               string
	started            time.Time
	// callsBefore is the counter when the run began (a warm container's
	// counter outlives runs).
	callsBefore []awsconfig.CallCount
	// heap samples the run's heap at its high points.
	heap memlimit.Gauge
	// notEnabled are regions asked for by name that the account has not
	// enabled: reported, never read.
	notEnabled []string
	// globalOnly is the home region when only global checks run there
	// (it is not among the audited regions).
	globalOnly string
}

// regionResult is what one region produced.
type regionResult struct {
	region string
	// snap, results and findings are a re-check's (a sweep publishes its
	// findings as it makes them, and keeps counts).
	snap     *snapshot.Snapshot
	results  []scopedResult
	counts   map[string]map[check.Status]int
	scopes   []Scope
	findings []types.AwsSecurityFinding
	// targets are a re-check's resources, by ARN (nil in a sweep).
	targets map[string]*target
	// observedAt is when the region's reads began.
	observedAt time.Time
}

type scopedResult struct {
	check  check.Check
	result check.Result
}

func (x *run) execute(ctx context.Context) *Summary {
	out := make([]*regionResult, len(x.regions))
	reports := make([]publish.Report, len(x.regions))
	collectCtx, cancel := collectionContext(ctx, time.Now())
	defer cancel()
	publishCtx, cancelPublish := publishContext(ctx)
	defer cancelPublish()
	rows := newRowKeeper(MaxSummaryFindings)
	inParallel(len(x.regions), x.parallelRegions(), func(i int) {
		region := x.regions[i]
		defer func() {
			// A bug must not take the other regions down with it: this
			// region's scopes fail, and archive nothing (a publish cut
			// short leaves its checks to be reconciled next run).
			if p := recover(); p != nil {
				out[i], reports[i] = x.panicked(region, p)
			}
		}()
		out[i], reports[i] = x.sweepRegion(collectCtx, publishCtx, region, rows)
	})
	return x.summarise(out, reports, rows)
}

// DefaultParallelRegions is how many regions a sweep reads at once unless
// MaxParallelRegions says otherwise. Each region's quotas are its own, so
// regions in parallel finish sooner; but each holds its snapshot and a
// check's records, and with AuditRegions "all" an account has 17 or more
// regions: 4 keeps the large account's two busy regions in parallel (and
// two more) within a 256 MB function.
const DefaultParallelRegions = 4

func (r *Runner) parallelRegions() int {
	if r.MaxParallelRegions > 0 {
		return r.MaxParallelRegions
	}
	return DefaultParallelRegions
}

// inParallel calls fn(0) ... fn(n-1), at most limit at a time, in order of
// start, and returns when all have returned.
func inParallel(n, limit int, fn func(i int)) {
	slots := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// collectionContext ends collection early enough to leave the publisher a
// quarter of the remaining time (at most 2 minutes) before the invocation's
// deadline: calls cut off by it are recorded as Timeout errors, so their
// scopes archive nothing, and the findings already made are still published.
func collectionContext(ctx context.Context, now time.Time) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := min(deadline.Sub(now)/4, 2*time.Minute)
	return context.WithDeadline(ctx, deadline.Add(-reserve))
}

// summaryReserve is kept free before the invocation's deadline so that a
// publish cut short still returns its summary and logs the run's outcome.
const summaryReserve = 10 * time.Second

// publishContext ends publishing summaryReserve before the deadline.
func publishContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-summaryReserve))
}

// sweepRegion collects the services the selected checks need in one
// region while the publisher reads what the region holds, then evaluates
// the checks one by one, publishing each finding as it is made: the
// region's findings are never held together, only the snapshot, the stored
// records and the summary's bounded rows.
func (x *run) sweepRegion(collectCtx, publishCtx context.Context, region string, rows *rowKeeper) (*regionResult, publish.Report) {
	rr := &regionResult{region: region, counts: map[string]map[check.Status]int{}, observedAt: x.now()}
	active := x.activeChecks(region)
	if len(active) == 0 {
		return rr, publish.Report{} // no check runs here: nothing to read, nothing to archive
	}
	// Every audited region is published, even with no findings: its stored
	// findings may need archiving. A dry run reads and plans only.
	req := publish.Request{
		Account: x.account, Partition: x.partition, Archivable: map[string]bool{}, Now: x.now(), DryRun: x.req.DryRun,
		// Findings a re-check observed after this sweep began reading are
		// neither replaced nor archived by it.
		ObservedAt: rr.observedAt,
		// Findings come check by check: the publisher holds one check's
		// stored records at a time.
		CheckByCheck: true,
	}
	for _, c := range active {
		req.Checks = append(req.Checks, c.ID)
	}
	cfg := awsconfig.ForRegion(x.AWS, region)
	begun := make(chan func() *publish.Session, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				begun <- func() *publish.Session { panic(p) } // the region's recover takes it
			}
		}()
		s := x.Publisher.Begin(publishCtx, cfg, req)
		begun <- func() *publish.Session { return s }
	}()
	snap, finished := x.collectRegion(collectCtx, cfg, active)
	var session *publish.Session
	fctx := asff.Context{Account: x.account, Partition: x.partition, ProductRegion: region, Now: rr.observedAt, ToolVersion: x.ToolVersion}
	// evaluate publishes c's findings; next is the check evaluated after
	// it, if known, whose records are read meanwhile.
	evaluate := func(c check.Check, next string) {
		if session == nil {
			session = (<-begun)()
			x.heap.Sample()
		}
		sc := checkScope(snap, c, false)
		rr.scopes = append(rr.scopes, sc)
		// Only a scope that completed and covered every resource archives
		// (the publisher reads Archivable when it settles the check).
		req.Archivable[c.ID] = sc.Complete && !sc.Restricted
		counts := map[check.Status]int{}
		rr.counts[c.ID] = counts
		session.Check(c.ID)
		if next != "" {
			session.ReadAhead(next)
		}
		c.Each(snap, x.params, func(res check.Result) {
			res.CheckID = c.ID
			if res.Region == "" {
				res.Region = region
			}
			f := asff.Map(c, res, fctx)
			action := session.Add(f)
			counts[res.Status]++
			rows.add(summaryRow(res, f, action))
		})
	}
	// Each check is evaluated as soon as the services it reads are
	// collected: the others' findings are published while the slowest
	// service (ACM's 10 describes a second) is still being read.
	done := map[snapshot.Service]bool{}
	pending := slices.Clone(active)
	evaluateAll := func(ready []check.Check) {
		for i, c := range ready {
			next := ""
			if i+1 < len(ready) {
				next = ready[i+1].ID
			}
			evaluate(c, next)
		}
	}
	for svc := range finished {
		done[svc] = true
		var ready []check.Check
		pending = slices.DeleteFunc(pending, func(c check.Check) bool {
			for _, s := range c.Services {
				if !done[s] {
					return false
				}
			}
			ready = append(ready, c)
			return true
		})
		evaluateAll(ready)
	}
	evaluateAll(pending) // services no collector reads: their scopes say NotCollected
	// The summary lists scopes in the checks' order, whatever their order
	// of evaluation.
	order := map[string]int{}
	for i, c := range active {
		order[c.ID] = i
	}
	slices.SortFunc(rr.scopes, func(a, b Scope) int { return order[a.CheckID] - order[b.CheckID] })
	x.heap.Sample()
	return rr, session.Finish()
}

// activeChecks are the selected checks that run in region: global ones only
// in the home region; only those there when it is audited for them alone.
func (x *run) activeChecks(region string) []check.Check {
	var active []check.Check
	for _, c := range x.checks {
		if c.Global && region == x.home || !c.Global && region != x.globalOnly {
			active = append(active, c)
		}
	}
	return active
}

// panicked is what a region whose sweep panicked comes to: every check
// that runs there a failed scope, and the region's publish an error.
func (x *run) panicked(region string, p any) (*regionResult, publish.Report) {
	rr := &regionResult{region: region}
	for _, c := range x.activeChecks(region) {
		rr.scopes = append(rr.scopes, Scope{Region: region, CheckID: c.ID,
			Errors: []snapshot.CollectionError{{Region: region, Code: "Panic", Message: fmt.Sprint("sweep panicked: ", p)}}})
	}
	return rr, publish.Report{Region: region, Error: fmt.Sprint("sweep panicked: ", p), ErrorCode: "Panic"}
}

// collectRegion starts reading, into a snapshot, every resource of the
// services the active checks need in cfg's region. finished receives each
// service once its collection is over, and is closed when all are. KMS
// (and KMSReferenced) come last of the services whose key uses the KMS
// collector's second pass resolves: the second pass waits for them and
// writes KMS data; the other services (ACM, CloudFront) are not waited for.
func (x *run) collectRegion(ctx context.Context, cfg aws.Config, active []check.Check) (snap *snapshot.Snapshot, finished <-chan snapshot.Service) {
	snap = snapshot.New(x.account, x.partition, cfg.Region)
	needed := map[snapshot.Service]bool{}
	// keyUsers are the services read with KMSReferenced by some check:
	// those whose resources name keys.
	keyUsers := map[snapshot.Service]bool{}
	for _, c := range active {
		for _, s := range c.Services {
			needed[s] = true
		}
		if slices.Contains(c.Services, snapshot.KMSReferenced) {
			// Referenced keys are described by the KMS collector's second
			// pass, after its own listing.
			needed[snapshot.KMS] = true
			for _, s := range c.Services {
				keyUsers[s] = true
			}
		}
	}
	out := make(chan snapshot.Service, len(x.Collectors)+2)
	var all, keyed sync.WaitGroup
	var second []collect.ReferenceDescriber
	for _, col := range x.Collectors {
		svc := col.Service()
		if !needed[svc] {
			continue
		}
		if rd, ok := col.(collect.ReferenceDescriber); ok {
			second = append(second, rd)
		}
		waitedFor := keyUsers[svc] || svc == snapshot.KMS
		all.Add(1)
		if waitedFor {
			keyed.Add(1)
		}
		go func(col collect.Collector) {
			defer func() {
				if svc != snapshot.KMS {
					out <- svc // KMS is done after the second pass
				}
				if waitedFor {
					keyed.Done()
				}
				all.Done()
			}()
			// A collector's bug fails its service's scopes, not the run.
			defer recoverInto(snap, svc)
			// Collectors write disjoint parts of the snapshot; what they
			// share (Collected, Errors, key uses) the snapshot guards.
			// Every resource is read (the zero Scope).
			col.Collect(ctx, cfg, snap, collect.Scope{})
		}(col)
	}
	go func() {
		keyed.Wait()
		for _, rd := range second {
			func() {
				defer recoverInto(snap, snapshot.KMSReferenced)
				rd.DescribeReferenced(ctx, cfg, snap)
			}()
		}
		out <- snapshot.KMS
		out <- snapshot.KMSReferenced
		all.Wait()
		close(out)
	}()
	return snap, out
}

// identity is the audited account, once known: a Lambda container's
// credentials never change account, and an event re-check should not pay
// an STS call each time.
type identity struct {
	mu                 sync.Mutex
	account, partition string
}

// identify returns the audited account and partition, asking once per
// Runner (a failure is not remembered).
func (r *Runner) identify(ctx context.Context, cfg aws.Config) (string, string, error) {
	r.who.mu.Lock()
	defer r.who.mu.Unlock()
	if r.who.account != "" {
		return r.who.account, r.who.partition, nil
	}
	ask := r.Identity
	if ask == nil {
		ask = callerIdentity
	}
	account, partition, err := ask(ctx, cfg)
	if err != nil {
		return "", "", err
	}
	r.who.account, r.who.partition = account, partition
	return account, partition, nil
}

func callerIdentity(ctx context.Context, cfg aws.Config) (string, string, error) {
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", err
	}
	partition := "aws"
	if a, err := arn.Parse(aws.ToString(out.Arn)); err == nil {
		partition = a.Partition
	}
	return aws.ToString(out.Account), partition, nil
}

// checkScope is check c's scope in the snapshot's region: complete when
// every service it reads was collected without error.
func checkScope(snap *snapshot.Snapshot, c check.Check, restricted bool) Scope {
	scope := Scope{Region: snap.Region, CheckID: c.ID, Complete: true, Restricted: restricted}
	for _, s := range c.Services {
		if !snap.Complete(s) {
			scope.Complete = false
			scope.Errors = append(scope.Errors, snap.ErrorsOf(s)...)
			if !snap.WasCollected(s) {
				scope.Errors = append(scope.Errors, snapshot.CollectionError{Service: s, Region: snap.Region, Code: "NotCollected", Message: "no collector for this service"})
			}
		}
	}
	if n := len(scope.Errors); n > maxScopeErrors {
		// A thousand denied describes say no more than twenty do, and
		// every check reading the service repeats them.
		scope.Errors, scope.ErrorsOmitted = scope.Errors[:maxScopeErrors], n-maxScopeErrors
	}
	return scope
}

// Scope is one (account, region, check) of a run, and whether its collection
// completed. Only a complete scope that covered every resource may ever
// archive findings.
type Scope struct {
	Region   string `json:"region"`
	CheckID  string `json:"checkId"`
	Complete bool   `json:"complete"`
	// Restricted is set when the run read only some resources.
	Restricted bool                       `json:"restricted,omitempty"`
	Errors     []snapshot.CollectionError `json:"errors,omitempty"`
	// ErrorsOmitted counts errors beyond the first maxScopeErrors.
	ErrorsOmitted int `json:"errorsOmitted,omitempty"`
}

// maxScopeErrors bounds the errors a scope lists in the summary.
const maxScopeErrors = 20

func sortFindings(fs []FindingSummary) {
	sort.SliceStable(fs, func(i, j int) bool { return rowLess(fs[i], fs[j]) })
}

// rowLess is the reply's order of rows: check, region, resource.
func rowLess(a, b FindingSummary) bool {
	if a.CheckID != b.CheckID {
		return a.CheckID < b.CheckID
	}
	if a.Region != b.Region {
		return a.Region < b.Region
	}
	return a.ResourceARN < b.ResourceARN
}
