// Package publish keeps this tool's findings in Security Hub right: it reads
// back what Security Hub holds (GetFindings), merges it with a run's
// observations (first-seen times kept, updates strictly later, fixed
// resources PASSED, gone resources ARCHIVED only where the run's scope was
// complete), and imports the result with BatchImportFindings within its
// quotas, retrying failed findings and reporting every one it could not
// import: nothing is dropped silently.
//
// The decisions are pure (MakePlan, in lifecycle.go); Publish does the I/O.
package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
)

// Limits of BatchImportFindings and GetFindings.
const (
	MaxBatchFindings = 100
	MaxBatchBytes    = 6 * 1024 * 1024
	// MaxFindingBytes is Security Hub's 240 KB a finding, counted in
	// decimal kilobytes to keep a margin over our size estimate.
	MaxFindingBytes = 240 * 1000
	// maxFilterValues is how many values one GetFindings filter field takes.
	maxFilterValues = 20
	readPageSize    = 100
)

// Retry defaults for findings BatchImportFindings reports as failed.
const (
	DefaultMaxRetries   = 3
	DefaultRetryBackoff = time.Second
)

// API is the part of the Security Hub client the publisher uses.
type API interface {
	BatchImportFindings(context.Context, *securityhub.BatchImportFindingsInput, ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
	GetFindings(context.Context, *securityhub.GetFindingsInput, ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error)
}

// Publisher publishes one region's findings. The zero value is ready to use.
type Publisher struct {
	// NewAPI builds the client; nil means securityhub.NewFromConfig.
	NewAPI func(aws.Config) API
	// Limiters pace the calls per (account, region); nil means
	// DefaultLimiters, shared by the whole process as the quotas are.
	Limiters *Limiters
	// MaxRetries bounds how often a finding Security Hub reported as failed
	// is sent again (0 means DefaultMaxRetries; negative means never).
	MaxRetries int
	// RetryBackoff is the wait before the first retry; it doubles after
	// each (0 means DefaultRetryBackoff).
	RetryBackoff time.Duration
	// State, when set, is where the publisher keeps and reads its finding
	// state (the FINDING_STATE_TABLE): a run then reads Security Hub back
	// only to reconcile a scope that is empty or stale. nil means every run
	// reads back (GetFindings, 3 a second), and says so.
	State StateStore
	// ReimportAfter is how long an unchanged finding is not imported again
	// (0: DefaultReimportAfter; negative: every run imports every finding).
	ReimportAfter time.Duration
}

// StateStore is the finding state (findingstate.Store).
type StateStore interface {
	Scope(ctx context.Context, cfg aws.Config, account, region string, checks []string) (findingstate.Freshness, error)
	Load(ctx context.Context, cfg aws.Config, account, region string, checks []string) ([]findingstate.Record, error)
	Get(ctx context.Context, cfg aws.Config, account, region string, ids []string) ([]types.AwsSecurityFinding, error)
	Save(ctx context.Context, cfg aws.Config, account, region string, findings []types.AwsSecurityFinding) error
	BeginReconcile(cfg aws.Config, account, region string, checks []string, readStart time.Time) *findingstate.Reconciliation
	Invalidate(ctx context.Context, cfg aws.Config, account, region string, checks []string) error
	Suspend(ctx context.Context, cfg aws.Config, account, region string, checks []string) (findingstate.Markers, error)
	Resume(ctx context.Context, cfg aws.Config, account, region string, m findingstate.Markers) error
}

// Request is what one region's publish needs from the run.
type Request struct {
	Account   string
	Partition string
	// Findings are this run's observations in the region, as mapped by asff.
	Findings []types.AwsSecurityFinding
	// Checks are the check IDs evaluated in the region: only their stored
	// findings are read back, updated or archived.
	Checks []string
	// Archivable holds the check IDs whose scope (account, region, check)
	// completed without error and was scanned whole in this run. Stored
	// findings of any other check that the run did not observe are kept.
	Archivable map[string]bool
	Now        time.Time
	// DryRun reads and plans, but imports and archives nothing.
	DryRun bool
	// ObservedAt is when the run's reads in the region began: a stored
	// finding observed later is neither replaced nor archived.
	ObservedAt time.Time
	// CheckByCheck promises that findings arrive grouped by check, each
	// check announced with Session.Check first (a sweep's order): the
	// stored records are then read one check at a time from the finding
	// state, so that a sweep holds those of one check, not of its scope.
	CheckByCheck bool
	// Targets, when set, make this a re-check's publish: only the stored
	// findings of these resources are read (by resource, not the whole
	// scope) and may change; Checks and Archivable are then unused.
	Targets []Target
}

// Target is one resource a re-check read.
type Target struct {
	// ResourceARN is Resources[0].Id of the resource's findings.
	ResourceARN string
	// Checks are the checks evaluated for it: only their findings change.
	Checks []string
	// Confirmed is set when the resource was read whole or AWS answered
	// that it no longer exists: its stored findings of Checks that the run
	// did not observe are then archived. Otherwise they are kept.
	Confirmed bool
}

// FailedFinding is a finding Security Hub did not import, or, with Count,
// that many findings it failed without naming them.
type FailedFinding struct {
	ID           string `json:"id"`
	Action       Action `json:"action,omitempty"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	Count        int    `json:"count,omitempty"`
}

// NotImported is how many of the region's findings were not imported:
// sent and refused after retries, or never sent because the region
// refused as a whole (Unpublished).
func (r Report) NotImported() int { return r.FailedCount() + r.Unpublished }

// FailedCount is how many findings were sent but not imported.
func (r Report) FailedCount() int {
	n := 0
	for _, f := range r.Failed {
		n += max(1, f.Count)
	}
	return n
}

// FindingRef names a finding the summary reports (archived ones are not
// among the run's observations).
type FindingRef struct {
	ID          string `json:"id"`
	CheckID     string `json:"checkId"`
	ResourceARN string `json:"resourceArn"`
}

// Report is what one region's publish did, or in a dry run would do.
type Report struct {
	Region string `json:"region"`
	DryRun bool   `json:"dryRun,omitempty"`
	// SecurityHubNotEnabled is set when the region answered
	// InvalidAccessException: nothing was read or imported there.
	SecurityHubNotEnabled bool `json:"securityHubNotEnabled,omitempty"`
	// Stored is how many of this tool's findings (of the checks run) the
	// region held before the run.
	Stored int `json:"stored"`
	// What the plan holds, by action. In a dry run, what would be done.
	New         int `json:"new"`
	Updated     int `json:"updated"`
	Resolved    int `json:"resolved"`
	Reactivated int `json:"reactivated"`
	Archived    int `json:"archived"`
	// Kept are stored active findings not observed in a scope that may not
	// archive (its collection errored, or the run did not scan it whole).
	Kept int `json:"kept"`
	// KeptFailed are stored FAILED findings this run could only judge
	// NOT_AVAILABLE: left FAILED, not overwritten.
	KeptFailed int `json:"keptFailed"`
	// Refreshed are kept findings re-imported unchanged so that Security
	// Hub does not delete them after 90 days without an update.
	Refreshed int `json:"refreshed"`
	// Superseded are stored findings another run observed after this one
	// read its resources: left as they are (newer observation wins).
	Superseded int `json:"superseded,omitempty"`
	// Unchanged are findings observed exactly as stored and imported
	// recently (Publisher.ReimportAfter): not imported again.
	Unchanged int `json:"unchanged"`
	// Unreadable are stored findings due for an archive or a refresh whose
	// record the finding state could not return (StateError says why):
	// counted as Kept, left for the next run.
	Unreadable int `json:"unreadable,omitempty"`
	// Sent is how many distinct findings the publish tried to import;
	// Imported how many Security Hub took; Retried how many re-sends failed
	// findings needed.
	Sent      int `json:"sent"`
	Imported  int `json:"imported"`
	Retried   int `json:"retried,omitempty"`
	Calls     int `json:"calls"`
	ReadCalls int `json:"readCalls"`
	// Unpublished counts the findings not sent because the region refused
	// as a whole (Error says why): Security Hub not enabled, or the stored
	// findings could not be read.
	Unpublished int `json:"unpublished,omitempty"`
	// Failed lists every finding sent but not imported, with Security
	// Hub's error, after retries.
	Failed           []FailedFinding `json:"failed,omitempty"`
	ArchivedFindings []FindingRef    `json:"archivedFindings,omitempty"`
	Duplicates       []string        `json:"duplicateIds,omitempty"`
	// OutOfOrder are findings added after their check was settled
	// (Request.CheckByCheck broken): not published (counted Unpublished).
	OutOfOrder []string `json:"outOfOrderIds,omitempty"`
	// StateSource says where the stored findings were read from: the
	// finding state table, Security Hub (reconciling the table, or because
	// there is none or it could not be read), and why.
	StateSource string `json:"stateSource,omitempty"`
	// StateError is a failure of the finding state table; the publish fell
	// back to Security Hub or, after importing, marked the scope for
	// reconciliation.
	StateError string `json:"stateError,omitempty"`
	// Error explains a failure of the region as a whole; ErrorCode is the
	// AWS error code behind it.
	Error     string `json:"error,omitempty"`
	ErrorCode string `json:"errorCode,omitempty"`
	// Actions maps each observed finding's Id to its action, for the
	// summary's per-finding rows.
	Actions map[string]Action `json:"-"`
}

// Publish reads back, plans and imports one region's findings (cfg.Region),
// held in req.Findings: a Session fed with them, the last of duplicate Ids
// winning. Its Report maps each finding to its action.
func (p Publisher) Publish(ctx context.Context, cfg aws.Config, req Request) Report {
	findings := req.Findings
	req.Findings = nil
	s := p.Begin(ctx, cfg, req)
	unique, duplicates := lastOfEach(findings)
	actions := make(map[string]Action, len(unique))
	for _, f := range unique {
		if a := s.Add(f); a != "" {
			actions[aws.ToString(f.Id)] = a
		}
	}
	rep := s.Finish()
	rep.Duplicates = append(duplicates, rep.Duplicates...)
	rep.Actions = actions
	return rep
}

// Session is one region's publish fed finding by finding (Add), so that a
// sweep holds neither its findings nor Security Hub's: only stored records
// (of one check at a time with CheckByCheck), a batch of at most 100
// findings being imported, and the findings whose import failed until they
// are retried. Imports start as soon as a batch is full; each check is
// settled (what it did not observe archived or kept) once the next begins
// or at Finish, which then retries failures, records the state and returns
// the report. A Session is used by one goroutine.
type Session struct {
	p          Publisher
	ctx        context.Context
	cfg        aws.Config
	req        Request
	api        API
	lim        rateWaiter
	rep        Report
	m          *merger
	archivable func(*Record) bool
	limits     *Limiters
	// byCheck is set when records are read check by check (CheckByCheck,
	// and every check fresh in the finding state); check is the one read,
	// settled the checks already done.
	byCheck bool
	check   string
	settled map[string]bool
	// next is the next check's records, read ahead.
	next *checkRead
	// unsure are checks whose records could not be read (read back from
	// Security Hub instead): marked stale at the end, never resumed.
	unsure []string
	// readErr is why the stored findings could not be read: nothing is
	// then imported or archived in the region.
	readErr error
	batch   []Change
	bytes   int
	// refresh are kept FAILED findings observed NOT_AVAILABLE whose
	// refresh is due (built when their check settles, from their stored
	// findings).
	refresh    []*Record
	retry      []Change
	maxRetries int
	// stopped is set once the region refuses every import.
	stopped bool
	// imported is set once an import was sent; suspended once the
	// finding state's markers were suspended for it.
	imported, suspended bool
	markers             findingstate.Markers
	saves               sync.WaitGroup
	saving              chan struct{}
	saveMu              sync.Mutex
	saveErr             error
}

// maxConcurrentSaves bounds the finding state writes in flight behind the
// imports (each a batch of at most 100 records).
const maxConcurrentSaves = 2

// Begin reads what the region holds of the findings req may touch (the
// finding state, or Security Hub) and returns the session to feed.
func (p Publisher) Begin(ctx context.Context, cfg aws.Config, req Request) *Session {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	s := &Session{p: p, ctx: ctx, cfg: cfg, req: req, api: p.api(cfg), rep: Report{Region: cfg.Region, DryRun: req.DryRun},
		saving: make(chan struct{}, maxConcurrentSaves)}
	s.limits = p.limiters()
	s.lim = s.limits.Import(req.Account, cfg.Region)
	s.maxRetries = p.MaxRetries
	if s.maxRetries == 0 {
		s.maxRetries = DefaultMaxRetries
	}
	s.archivable = func(r *Record) bool { return req.Archivable[r.Check] }
	var stored []Record
	var err error
	switch {
	case req.Targets != nil:
		stored, err = p.readTargetState(ctx, cfg, s.api, s.limits, req, asff.ProductARN(req.Partition, cfg.Region, req.Account), &s.rep)
	case req.CheckByCheck && p.State != nil:
		fresh, ferr := p.State.Scope(ctx, cfg, req.Account, cfg.Region, req.Checks)
		if ferr == nil && fresh == findingstate.Fresh {
			s.byCheck, s.settled = true, map[string]bool{}
			s.rep.StateSource = "finding state table, check by check"
			return s
		}
		stored, err = p.readScopeState(ctx, cfg, s.api, s.limits, req, &s.rep, stateRead{fresh: fresh, err: ferr})
	default:
		stored, err = p.readScopeState(ctx, cfg, s.api, s.limits, req, &s.rep, stateRead{})
	}
	if err != nil {
		s.refuse(err)
		return s
	}
	s.rep.Stored = len(stored)
	s.m = Planner{ReimportAfter: p.ReimportAfter}.merger(stored, req.Now, req.ObservedAt)
	if req.Targets != nil {
		confirmed := map[string]bool{}
		for _, t := range req.Targets {
			confirmed[t.ResourceARN] = t.Confirmed
		}
		s.archivable = func(r *Record) bool { return confirmed[r.ResourceID] }
	}
	return s
}

// refuse records why the stored findings could not be read: nothing more
// is imported or archived in the region.
func (s *Session) refuse(err error) {
	s.readErr = err
	s.rep.ErrorCode = collect.ErrorCode(err)
	s.rep.SecurityHubNotEnabled = notEnabled(s.rep.ErrorCode)
}

// Check announces the check whose findings come next (CheckByCheck): the
// previous check is settled (its stored findings not observed archived or
// kept) and this one's records are read.
func (s *Session) Check(checkID string) {
	if !s.byCheck || s.readErr != nil || checkID == s.check || s.settled[checkID] {
		return
	}
	if s.m != nil {
		s.settle()
		s.settled[s.check] = true
	}
	s.check = checkID
	got := s.next
	if got == nil || got.check != checkID {
		got = s.read(checkID)
	}
	s.next = nil
	r := <-got.done
	// The read's own report: where it read from, and any read-back.
	s.rep.ReadCalls += r.rep.ReadCalls
	if r.rep.StateSource != "finding state table" {
		// Its records could not be read: read back from Security Hub, not
		// reconciled; the check is marked stale at the end of the run.
		s.rep.StateSource = r.rep.StateSource
		if r.rep.StateError != "" {
			s.rep.StateError = r.rep.StateError
		}
		s.unsure = append(s.unsure, checkID)
	}
	if r.err != nil {
		s.refuse(r.err)
		return
	}
	s.rep.Stored += len(r.records)
	s.m = Planner{ReimportAfter: s.p.ReimportAfter}.merger(r.records, s.req.Now, s.req.ObservedAt)
}

// readAheadMaxRecords bounds the records of the check being published
// under which the next one's are read ahead: read ahead of a large check,
// the two largest checks' records (20,000 volumes each, about 9 MB) would
// be held at once, for a read that takes a second or two of a sweep bound
// by the slowest service's quota.
const readAheadMaxRecords = 4096

// ReadAhead starts reading checkID's records while the current check's
// findings are made (CheckByCheck), when the current check is small: the
// caller knows which check it evaluates next. At most one check is read
// ahead; a check read ahead but not taken next is read again when it is.
func (s *Session) ReadAhead(checkID string) {
	if !s.byCheck || s.readErr != nil || checkID == s.check || s.settled[checkID] || s.next != nil {
		return
	}
	if s.m != nil && s.m.size() > readAheadMaxRecords {
		return
	}
	s.next = s.read(checkID)
}

// checkRead is one check's records being read.
type checkRead struct {
	check string
	done  chan checkRecords
}

type checkRecords struct {
	records []Record
	rep     Report
	err     error
}

// read starts reading one check's stored records (fresh in the finding
// state; a failed read falls back to Security Hub for that check).
func (s *Session) read(checkID string) *checkRead {
	r := &checkRead{check: checkID, done: make(chan checkRecords, 1)}
	req := s.req
	req.Checks = []string{checkID}
	go func() {
		var out checkRecords
		defer func() {
			if p := recover(); p != nil {
				out.err = fmt.Errorf("reading the records of %s panicked: %v", checkID, p)
			}
			r.done <- out
		}()
		out.records, out.err = s.p.readScopeState(s.ctx, s.cfg, s.api, s.limits, req, &out.rep, stateRead{fresh: findingstate.Fresh, noReconcile: true})
	}()
	return r
}

// Add decides one observation and, when it is to be imported, queues it
// (importing a full batch at once). It returns the finding's action for
// the summary ("" when a later observation is stored). An Id added twice is
// reported as a duplicate; a stored finding keeps its first observation.
func (s *Session) Add(f types.AwsSecurityFinding) Action {
	if s.readErr != nil {
		if !s.req.DryRun {
			s.rep.Unpublished++
		}
		return ""
	}
	s.Check(aws.ToString(f.GeneratorId))
	if s.readErr != nil {
		if !s.req.DryRun {
			s.rep.Unpublished++
		}
		return ""
	}
	if s.byCheck && (aws.ToString(f.GeneratorId) != s.check || s.m == nil) {
		// Its check was settled (its unobserved findings archived): a
		// caller that broke CheckByCheck's order. Not published this run,
		// rather than decided against another check's records.
		if !s.req.DryRun {
			s.rep.Unpublished++
		}
		s.rep.OutOfOrder = append(s.rep.OutOfOrder, aws.ToString(f.Id))
		return ""
	}
	if repeat, sure := s.m.markObserved(aws.ToString(f.Id)); repeat {
		s.rep.Duplicates = append(s.rep.Duplicates, aws.ToString(f.Id))
		if sure {
			return "" // a stored finding is decided once
		}
		// Maybe a hash collision, not a repeat: decided, never dropped.
	}
	out := s.m.observe(f)
	switch {
	case out.Superseded != nil:
		s.rep.Superseded++
	case out.Action == ActionKeptFailed:
		s.rep.KeptFailed++
	case out.Action == ActionUnchanged:
		s.rep.Unchanged++
	}
	if out.Refresh != nil {
		s.refresh = append(s.refresh, out.Refresh)
	}
	if out.Change != nil {
		s.send(*out.Change)
	}
	return out.Action
}

// Finish decides the stored findings no observation named (archived where
// the scope allows, else kept), imports what is queued, retries failures,
// records the imports in the finding state and returns the report.
func (s *Session) Finish() Report {
	rep := &s.rep
	if s.readErr == nil && s.byCheck {
		// Checks no finding named still settle: their resources may all
		// be gone.
		for _, c := range s.req.Checks {
			s.Check(c)
		}
	}
	if s.readErr == nil && s.m != nil {
		s.settle()
		if s.byCheck {
			s.settled[s.check] = true
		}
	}
	if !s.req.DryRun {
		// What was queued before any read failure is still imported.
		s.flush()
		s.retryFailed()
		s.finishState()
	}
	if err := s.readErr; err != nil {
		if rep.SecurityHubNotEnabled {
			rep.Error = fmt.Sprintf("Security Hub is not enabled in %s (%s): none of its findings were published or archived (%d not sent)", rep.Region, collect.Reason("GetFindings", err), rep.Unpublished)
		} else {
			// Importing without what is stored would reset first-seen times
			// and could not archive safely: publish nothing more here.
			rep.Error = fmt.Sprintf("%s: %d findings of %s were not published or archived, so that stored first-seen times are not reset", collect.Reason("GetFindings", err), rep.Unpublished, rep.Region)
		}
	}
	return *rep
}

// settle decides the stored findings of the merger's checks that no
// observation named: archived where the scope allows, else kept (and
// refreshed when due).
func (s *Session) settle() {
	rep := &s.rep
	var archive, refresh []*Record
	for _, u := range s.m.unobserved(s.archivable) {
		switch {
		case u.superseded:
			rep.Superseded++
		case u.archive:
			archive = append(archive, u.record)
		default:
			rep.Kept++
			if u.refresh {
				refresh = append(refresh, u.record)
			}
		}
	}
	refresh = append(s.refresh, refresh...)
	s.refresh = nil
	if s.req.DryRun {
		rep.Refreshed += len(refresh)
		for _, r := range archive {
			rep.Archived++
			rep.ArchivedFindings = append(rep.ArchivedFindings, FindingRef{ID: r.ID, CheckID: r.Check, ResourceARN: r.ResourceID})
		}
	} else {
		s.reimportStored(archive, s.m.archived, true)
		s.reimportStored(refresh, s.m.refreshed, false) // already counted kept
	}
	s.m = nil
}

// reimportStored sends a re-import (archive or refresh) of each record,
// built from its stored finding: at hand when the read returned it, else
// read from the finding state by Id, 100 at a time. A record whose finding
// cannot be read is left as it is (kept) for the next run, and said.
func (s *Session) reimportStored(records []*Record, build func(types.AwsSecurityFinding) Change, countKept bool) {
	for start := 0; start < len(records); start += 100 {
		chunk := records[start:min(start+100, len(records))]
		full := map[string]types.AwsSecurityFinding{}
		var ids []string
		for _, r := range chunk {
			if r.Finding != nil {
				full[r.ID] = *r.Finding
			} else {
				ids = append(ids, r.ID)
			}
		}
		if len(ids) > 0 && s.p.State != nil {
			got, err := s.p.State.Get(s.ctx, s.cfg, s.req.Account, s.cfg.Region, ids)
			if err != nil {
				s.rep.StateError = collect.Reason("finding state Get", err)
			}
			for _, f := range got {
				full[aws.ToString(f.Id)] = findingstate.Compact(f)
			}
		}
		for _, r := range chunk {
			f, ok := full[r.ID]
			if !ok {
				if countKept {
					s.rep.Kept++
				}
				s.rep.Unreadable++
				continue
			}
			if r.Finding == nil && changedSince(*r, f) {
				// Another run recorded a newer observation after this one
				// read the record: its finding is not this run's to
				// archive or refresh (newer observation wins).
				s.rep.Superseded++
				continue
			}
			s.send(build(f))
		}
	}
}

// changedSince reports a stored finding that is no longer what its record
// said when the record was read.
func changedSince(r Record, f types.AwsSecurityFinding) bool {
	now := findingstate.RecordOf(f, false)
	return now.UpdatedAt != r.UpdatedAt || now.ObservedAt != r.ObservedAt || now.RecordState != r.RecordState
}

// send counts a change and queues its import.
func (s *Session) send(c Change) {
	rep := &s.rep
	switch c.Action {
	case ActionNew:
		rep.New++
	case ActionUpdated:
		rep.Updated++
	case ActionResolved:
		rep.Resolved++
	case ActionReactivated:
		rep.Reactivated++
	case ActionRefreshed:
		rep.Refreshed++
	case ActionArchived:
		rep.Archived++
		rep.ArchivedFindings = append(rep.ArchivedFindings, ref(c.Finding))
	}
	if s.req.DryRun {
		return
	}
	f, size, ok := Fit(c.Finding)
	if !ok {
		rep.Failed = append(rep.Failed, FailedFinding{ID: aws.ToString(f.Id), Action: c.Action, ErrorCode: "FindingSizeExceeded",
			ErrorMessage: fmt.Sprintf("finding is %d bytes, over Security Hub's 240 KB, even without resource details", size)})
		return
	}
	c.Finding, c.size = f, size
	rep.Sent++
	if s.stopped {
		rep.Failed = append(rep.Failed, FailedFinding{ID: aws.ToString(f.Id), Action: c.Action, ErrorCode: rep.ErrorCode, ErrorMessage: "not sent: " + rep.Error})
		return
	}
	if len(s.batch) > 0 && (len(s.batch) == MaxBatchFindings || s.bytes+size > MaxBatchBytes) {
		s.flush()
	}
	s.batch = append(s.batch, c)
	s.bytes += size
}

// flush imports the queued batch; failures that may succeed later wait
// for Finish's retries.
func (s *Session) flush() {
	batch := s.batch
	s.batch, s.bytes = nil, 0
	if len(batch) == 0 {
		return
	}
	if s.stopped {
		for _, c := range batch {
			s.rep.Failed = append(s.rep.Failed, FailedFinding{ID: aws.ToString(c.Finding.Id), Action: c.Action, ErrorCode: s.rep.ErrorCode, ErrorMessage: "not sent: " + s.rep.Error})
		}
		return
	}
	if !s.imported {
		s.imported = true
		s.markers, s.suspended = s.p.suspendState(s.ctx, s.cfg, s.req, &s.rep)
	}
	s.importBatch(batch, 0)
}

// importBatch sends changes (attempt 0 is the first sending) and records
// what was imported; it queues retriable failures for retryFailed.
func (s *Session) importBatch(changes []Change, attempt int) {
	failed, stop := importOnce(s.ctx, s.api, s.lim, changes, &s.rep)
	if stop {
		s.stopped = true
	}
	notImported := map[string]bool{}
	for _, f := range failed {
		notImported[aws.ToString(f.change.Finding.Id)] = true
		if !stop && attempt < s.maxRetries && retriable(f.code) && s.ctx.Err() == nil {
			s.retry = append(s.retry, f.change)
			continue
		}
		s.rep.Failed = append(s.rep.Failed, FailedFinding{ID: aws.ToString(f.change.Finding.Id), Action: f.change.Action, ErrorCode: f.code, ErrorMessage: f.message})
	}
	var imported []types.AwsSecurityFinding
	for _, c := range changes {
		if !notImported[aws.ToString(c.Finding.Id)] {
			imported = append(imported, c.Finding)
		}
	}
	s.save(imported)
}

// retryFailed re-sends the findings Security Hub reported as failed, with
// backoff, a bounded number of times.
func (s *Session) retryFailed() {
	backoff := s.p.RetryBackoff
	if backoff <= 0 {
		backoff = DefaultRetryBackoff
	}
	for attempt := 1; len(s.retry) > 0; attempt++ {
		pending := s.retry
		s.retry = nil
		s.rep.Retried += len(pending)
		if err := sleep(s.ctx, backoff); err != nil {
			for _, c := range pending {
				s.rep.Failed = append(s.rep.Failed, FailedFinding{ID: aws.ToString(c.Finding.Id), Action: c.Action, ErrorCode: "Timeout", ErrorMessage: "run ended before the retry: " + err.Error()})
			}
			return
		}
		backoff *= 2
		s.importBatch(pending, attempt)
	}
}

// save records imported findings in the finding state, behind the
// imports (at most maxConcurrentSaves batches at a time).
func (s *Session) save(findings []types.AwsSecurityFinding) {
	if s.p.State == nil || len(findings) == 0 {
		return
	}
	s.saving <- struct{}{}
	s.saves.Add(1)
	go func() {
		defer func() { <-s.saving; s.saves.Done() }()
		sctx, cancel := stateContext(s.ctx)
		defer cancel()
		if err := s.p.State.Save(sctx, s.cfg, s.req.Account, s.cfg.Region, findings); err != nil {
			s.saveMu.Lock()
			s.saveErr = err
			s.saveMu.Unlock()
		}
	}()
}

// finishState waits for the records of the imports, then puts back the
// checks' freshness. Any import failure (named or not, and errors whose
// outcome is unknown, such as a timeout after Security Hub applied the
// batch) or a failed write leaves the checks unsure: the next run
// reconciles them from Security Hub rather than plan from a record that
// may be wrong (which could hide a finding or reset its first-seen times).
func (s *Session) finishState() {
	s.saves.Wait()
	if s.p.State == nil {
		return
	}
	rep := &s.rep
	sctx, cancel := stateContext(s.ctx)
	defer cancel()
	defer func() {
		// Checks whose records could not be read are reconciled next run.
		if len(s.unsure) == 0 {
			return
		}
		if err := s.p.State.Invalidate(sctx, s.cfg, s.req.Account, s.cfg.Region, s.unsure); err != nil {
			rep.StateError += "; " + collect.Reason("finding state Invalidate", err)
		}
	}()
	if !s.imported {
		return
	}
	if s.saveErr != nil {
		rep.StateError = collect.Reason("finding state Save", s.saveErr)
	}
	for _, c := range s.unsure {
		delete(s.markers, c)
	}
	switch {
	case s.saveErr == nil && len(rep.Failed) == 0 && s.suspended:
		if err := s.p.State.Resume(sctx, s.cfg, s.req.Account, s.cfg.Region, s.markers); err != nil {
			rep.StateError = collect.Reason("finding state Resume", err) + " (the checks will be reconciled from Security Hub)"
		}
	case s.suspended:
		// Left suspended: reconciled next run.
	default:
		if err := s.p.State.Invalidate(sctx, s.cfg, s.req.Account, s.cfg.Region, checksOf(s.req)); err != nil {
			rep.StateError += "; " + collect.Reason("finding state Invalidate", err)
		}
	}
}

// stateWriteTimeout bounds the finding state writes around an import. They
// run even when the run's own deadline has passed: an import that landed
// must be recorded, or marked unsure.
const stateWriteTimeout = 20 * time.Second

func stateContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), stateWriteTimeout)
}

// suspendState marks the checks unsure in the finding state before
// importing: a run that dies between its import and the record of it
// leaves them to be reconciled, not planned from records that miss it.
func (p Publisher) suspendState(ctx context.Context, cfg aws.Config, req Request, rep *Report) (findingstate.Markers, bool) {
	if p.State == nil {
		return nil, false
	}
	sctx, cancel := stateContext(ctx)
	defer cancel()
	m, err := p.State.Suspend(sctx, cfg, req.Account, cfg.Region, checksOf(req))
	if err != nil {
		rep.StateError = collect.Reason("finding state Suspend", err)
		return nil, false
	}
	return m, true
}

// checksOf are the checks a publish touches.
func checksOf(req Request) []string {
	if req.Targets == nil {
		return req.Checks
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range req.Targets {
		for _, c := range t.Checks {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// readScopeState reads what a sweep's scope holds: the records of the
// finding state when its checks are fresh there; else Security Hub's
// findings, page by page, reconciling the state with each page (so that
// the read-back is never held whole: only its records are kept, and the
// findings themselves when there is no table to read them from later).
func (p Publisher) readScopeState(ctx context.Context, cfg aws.Config, api API, limits *Limiters, req Request, rep *Report, known stateRead) ([]Record, error) {
	region := cfg.Region
	owner := Owner{ProductARN: asff.ProductARN(req.Partition, region, req.Account), Account: req.Account, Checks: req.Checks}
	if p.State == nil {
		rep.StateSource = "Security Hub read-back (no finding state table: FINDING_STATE_TABLE not set)"
		return readStored(ctx, api, limits, req.Account, region, owner, rep, nil)
	}
	fresh, err := known.fresh, known.err
	if fresh == "" && err == nil {
		fresh, err = p.State.Scope(ctx, cfg, req.Account, region, req.Checks)
	}
	if err == nil && fresh == findingstate.Fresh {
		stored, err := p.State.Load(ctx, cfg, req.Account, region, req.Checks)
		if err == nil {
			if rep.StateSource == "" {
				rep.StateSource = "finding state table"
			}
			return stored, nil
		}
		rep.StateError = collect.Reason("finding state Load", err)
		if errors.Is(err, findingstate.ErrOldRecords) {
			rep.StateError, fresh = "", "written by an older version"
		}
	} else if err != nil {
		rep.StateError = collect.Reason("finding state Scope", err)
	}
	var rec *findingstate.Reconciliation
	switch {
	case rep.StateError != "":
		rep.StateSource = "Security Hub read-back (the finding state table could not be read)"
	case req.DryRun:
		rep.StateSource = "Security Hub read-back (finding state " + string(fresh) + "; a dry run does not reconcile it)"
	case known.noReconcile:
		rep.StateSource = "Security Hub read-back (finding state " + string(fresh) + "; reconciled at the next run)"
	default:
		rep.StateSource = "Security Hub read-back, reconciling the finding state table (it was " + string(fresh) + ")"
		rec = p.State.BeginReconcile(cfg, req.Account, region, req.Checks, time.Now())
	}
	var recErr error
	page := func(held []types.AwsSecurityFinding) bool {
		if rec != nil && recErr == nil {
			recErr = rec.Put(ctx, held)
		}
		// The findings are kept only when the table may not hold them.
		return rec == nil || recErr != nil
	}
	held, err := readStored(ctx, api, limits, req.Account, region, owner, rep, page)
	if err != nil {
		return nil, err
	}
	if rec != nil && recErr == nil {
		recErr = rec.End(ctx)
	}
	if recErr != nil {
		rep.StateError = collect.Reason("finding state Reconcile", recErr)
	}
	return held, nil
}

// stateRead is what is already known of the finding state's freshness
// (zero: nothing, ask).
type stateRead struct {
	fresh findingstate.Freshness
	err   error
	// noReconcile: a record that cannot be read falls back to Security
	// Hub without reconciling (a session's check-by-check read, after its
	// markers may have been suspended: reconciling would mark the check
	// fresh again). The caller marks the check stale instead.
	noReconcile bool
}

// readTargetState reads what a re-check's resources hold: their findings'
// records by Id from the finding state when fresh, else from Security Hub
// by resource (a re-check never reconciles a whole scope).
func (p Publisher) readTargetState(ctx context.Context, cfg aws.Config, api API, limits *Limiters, req Request, productARN string, rep *Report) ([]Record, error) {
	region := cfg.Region
	if p.State != nil {
		fresh, err := p.State.Scope(ctx, cfg, req.Account, region, checksOf(req))
		switch {
		case err != nil:
			rep.StateError = collect.Reason("finding state Scope", err)
		case fresh == findingstate.Fresh:
			var ids []string
			for _, t := range req.Targets {
				for _, c := range t.Checks {
					ids = append(ids, asff.FindingID(c, req.Account, region, t.ResourceARN))
				}
			}
			got, err := p.State.Get(ctx, cfg, req.Account, region, ids)
			if err == nil {
				rep.StateSource = "finding state table"
				checks, _ := targetChecks(req.Targets)
				var out []Record
				for _, f := range got {
					if checks[resourceID(f)][aws.ToString(f.GeneratorId)] {
						out = append(out, findingstate.RecordOf(f, true))
					}
				}
				return out, nil
			}
			rep.StateError = collect.Reason("finding state Get", err)
		default:
			rep.StateSource = "Security Hub read-back (finding state " + string(fresh) + ")"
		}
	}
	if rep.StateSource == "" {
		rep.StateSource = "Security Hub read-back"
	}
	held, err := readTargets(ctx, api, limits, req.Account, region, productARN, req.Targets, rep)
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(held))
	for i, f := range held {
		out[i] = findingstate.RecordOf(f, true)
	}
	return out, nil
}

// readStored pages through GetFindings for the findings owner may touch,
// within the GetFindings quota, and returns their records. page, when set,
// is given each page's findings and says whether to keep the findings in
// their records (nil: keep them, compacted). The filters go to Security
// Hub; Owns checks every finding again because an endpoint may ignore them.
func readStored(ctx context.Context, api API, limits *Limiters, account, region string, owner Owner, rep *Report, page func([]types.AwsSecurityFinding) bool) ([]Record, error) {
	lim := limits.Read(account, region)
	var out []Record
	seen := map[string]bool{}
	for start := 0; start < len(owner.Checks); start += maxFilterValues {
		chunk := owner
		chunk.Checks = owner.Checks[start:min(start+maxFilterValues, len(owner.Checks))]
		pager := securityhub.NewGetFindingsPaginator(api, &securityhub.GetFindingsInput{
			Filters:    chunk.Filters(),
			MaxResults: aws.Int32(readPageSize),
		})
		for pager.HasMorePages() {
			if err := lim.Wait(ctx); err != nil {
				return nil, err
			}
			rep.ReadCalls++
			res, err := pager.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			var held []types.AwsSecurityFinding
			for _, f := range res.Findings {
				if id := aws.ToString(f.Id); chunk.Owns(f) && !seen[id] {
					seen[id] = true
					held = append(held, findingstate.Compact(f))
				}
			}
			keep := page == nil || page(held)
			for _, f := range held {
				out = append(out, findingstate.RecordOf(f, keep))
			}
		}
	}
	return out, nil
}

// readTargets reads the stored findings of a re-check's resources: by
// resource Id, at most 20 to a call, within the GetFindings quota. Only
// findings whose main resource is a target, of a check evaluated for it,
// are kept (the filter also matches related resources, and an endpoint may
// ignore filters).
func readTargets(ctx context.Context, api API, limits *Limiters, account, region, productARN string, targets []Target, rep *Report) ([]types.AwsSecurityFinding, error) {
	lim := limits.Read(account, region)
	checks, arns := targetChecks(targets)
	var out []types.AwsSecurityFinding
	seen := map[string]bool{}
	for start := 0; start < len(arns); start += maxFilterValues {
		filters := &types.AwsSecurityFindingFilters{
			ProductArn:   []types.StringFilter{equals(productARN)},
			AwsAccountId: []types.StringFilter{equals(account)},
			Id:           []types.StringFilter{{Comparison: types.StringFilterComparisonPrefix, Value: aws.String(asff.IDPrefix)}},
		}
		for _, a := range arns[start:min(start+maxFilterValues, len(arns))] {
			filters.ResourceId = append(filters.ResourceId, equals(a))
		}
		pager := securityhub.NewGetFindingsPaginator(api, &securityhub.GetFindingsInput{Filters: filters, MaxResults: aws.Int32(readPageSize)})
		for pager.HasMorePages() {
			if err := lim.Wait(ctx); err != nil {
				return nil, err
			}
			rep.ReadCalls++
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, f := range page.Findings {
				id := aws.ToString(f.Id)
				if seen[id] || aws.ToString(f.ProductArn) != productARN || aws.ToString(f.AwsAccountId) != account ||
					!strings.HasPrefix(id, asff.IDPrefix) || !checks[resourceID(f)][aws.ToString(f.GeneratorId)] {
					continue
				}
				seen[id] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// targetChecks maps each target's resource ARN to the checks evaluated for
// it, and lists the ARNs in order.
func targetChecks(targets []Target) (map[string]map[string]bool, []string) {
	checks := map[string]map[string]bool{}
	var arns []string
	for _, t := range targets {
		if checks[t.ResourceARN] == nil {
			checks[t.ResourceARN] = map[string]bool{}
			arns = append(arns, t.ResourceARN)
		}
		for _, c := range t.Checks {
			checks[t.ResourceARN][c] = true
		}
	}
	return checks, arns
}

// equals is a GetFindings filter matching v exactly.
func equals(v string) types.StringFilter {
	return types.StringFilter{Comparison: types.StringFilterComparisonEquals, Value: aws.String(v)}
}

// resourceID is the Id of a finding's main resource.
func resourceID(f types.AwsSecurityFinding) string {
	if len(f.Resources) == 0 {
		return ""
	}
	return aws.ToString(f.Resources[0].Id)
}

// Filters are the GetFindings filters selecting o's findings: at most 20
// values a field, so callers chunk Checks.
func (o Owner) Filters() *types.AwsSecurityFindingFilters {
	f := &types.AwsSecurityFindingFilters{
		ProductArn:   []types.StringFilter{equals(o.ProductARN)},
		AwsAccountId: []types.StringFilter{equals(o.Account)},
		Id:           []types.StringFilter{{Comparison: types.StringFilterComparisonPrefix, Value: aws.String(asff.IDPrefix)}},
	}
	for _, c := range o.Checks {
		f.GeneratorId = append(f.GeneratorId, equals(c))
	}
	return f
}

// failure is one finding a call did not import.
type failure struct {
	change  Change
	code    string
	message string
}

type rateWaiter interface{ Wait(context.Context) error }

// importOnce sends changes in batches and returns what failed. stop is set
// when the region refuses every call (Security Hub not enabled, access
// denied): the remaining batches are not sent and not retried.
func importOnce(ctx context.Context, api API, lim rateWaiter, changes []Change, rep *Report) (failed []failure, stop bool) {
	batches := Batches(changes)
	for i, batch := range batches {
		if err := lim.Wait(ctx); err != nil {
			return append(failed, failAll(batches[i:], collect.ErrorCode(err), err.Error())...), true
		}
		findings := make([]types.AwsSecurityFinding, len(batch))
		for j, c := range batch {
			findings[j] = c.Finding
		}
		rep.Calls++
		out, err := api.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: findings})
		if err != nil {
			code, msg := collect.ErrorCode(err), collect.ErrorMessage(err)
			if notEnabled(code) || code == "AccessDeniedException" {
				markNotEnabled(rep, code, collect.Reason("BatchImportFindings", err))
				return append(failed, failAll(batches[i:], code, msg)...), true
			}
			failed = append(failed, failAll(batches[i:i+1], code, msg)...)
			continue
		}
		// FailedCount is checked even though the call succeeded: a partial
		// import returns no error.
		byID := make(map[string]Change, len(batch))
		for _, c := range batch {
			byID[aws.ToString(c.Finding.Id)] = c
		}
		accessRefused := len(out.FailedFindings) > 0
		listed := map[string]bool{}
		for _, ff := range out.FailedFindings {
			id := aws.ToString(ff.Id)
			c, ok := byID[id]
			if !ok || listed[id] {
				continue
			}
			listed[id] = true
			code := aws.ToString(ff.ErrorCode)
			accessRefused = accessRefused && notEnabled(code)
			failed = append(failed, failure{change: c, code: code, message: aws.ToString(ff.ErrorMessage)})
		}
		notImported := len(listed)
		if n := int(aws.ToInt32(out.FailedCount)); n > len(listed) {
			// Some findings failed without being named: they cannot be
			// retried, but they are not counted as imported either.
			notImported = min(n, len(batch))
			rep.Failed = append(rep.Failed, FailedFinding{ErrorCode: "UnreportedFailures", Count: notImported - len(listed),
				ErrorMessage: fmt.Sprintf("FailedCount is %d but only %d failed findings were listed", n, len(listed))})
		}
		rep.Imported += len(batch) - notImported
		if accessRefused && len(listed) == len(batch) {
			markNotEnabled(rep, "InvalidAccess", "BatchImportFindings failed every finding with InvalidAccess")
			return append(failed, failAll(batches[i+1:], "InvalidAccess", "not sent: Security Hub refused the region")...), true
		}
	}
	return failed, false
}

func failAll(batches [][]Change, code, msg string) []failure {
	var out []failure
	for _, b := range batches {
		for _, c := range b {
			out = append(out, failure{change: c, code: code, message: msg})
		}
	}
	return out
}

func markNotEnabled(rep *Report, code, reason string) {
	rep.ErrorCode = code
	if notEnabled(code) {
		rep.SecurityHubNotEnabled = true
		rep.Error = fmt.Sprintf("Security Hub is not enabled in %s (%s)", rep.Region, reason)
		return
	}
	rep.Error = reason
}

// notEnabled reports whether code is Security Hub's answer for a region
// where it is not enabled (the whole call's InvalidAccessException, or
// InvalidAccess on each finding).
func notEnabled(code string) bool {
	return code == "InvalidAccessException" || code == "InvalidAccess"
}

// Retriable reports whether a failed finding (or a region's failed read)
// may succeed if sent again.
func Retriable(code string) bool { return retriable(code) }

// retriable reports whether a failed finding may succeed if sent again.
// Everything except a refused region and an oversize finding is retried:
// Security Hub documents no list of codes, and retries are bounded.
func retriable(code string) bool {
	return !notEnabled(code) && code != "AccessDeniedException" && code != "FindingSizeExceeded"
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ref(f types.AwsSecurityFinding) FindingRef {
	r := FindingRef{ID: aws.ToString(f.Id), CheckID: aws.ToString(f.GeneratorId)}
	if len(f.Resources) > 0 {
		r.ResourceARN = aws.ToString(f.Resources[0].Id)
	}
	return r
}

func (p Publisher) api(cfg aws.Config) API {
	if p.NewAPI != nil {
		return p.NewAPI(cfg)
	}
	return securityhub.NewFromConfig(cfg)
}

func (p Publisher) limiters() *Limiters {
	if p.Limiters != nil {
		return p.Limiters
	}
	return DefaultLimiters
}

// Batches splits changes into calls of at most MaxBatchFindings findings
// and MaxBatchBytes of JSON.
func Batches(changes []Change) [][]Change {
	var out [][]Change
	var cur []Change
	size := 0
	for _, c := range changes {
		n := c.size
		if n == 0 {
			n = EncodedSize(c.Finding)
		}
		if len(cur) > 0 && (len(cur) == MaxBatchFindings || size+n > MaxBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, c)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// EncodedSize approximates a finding's size on the wire.
func EncodedSize(f types.AwsSecurityFinding) int {
	b, err := json.Marshal(f)
	if err != nil {
		return 0
	}
	return len(b)
}

// Fit returns f within MaxFindingBytes, and its encoded size: first as it
// is, then without its related resources, then without the resource
// details. ok is false when even that is too large (the finding is then
// reported, never sent).
func Fit(f types.AwsSecurityFinding) (types.AwsSecurityFinding, int, bool) {
	if n := EncodedSize(f); n <= MaxFindingBytes {
		return f, n, true
	}
	note := func(what string) {
		pf := make(map[string]string, len(f.ProductFields)+1)
		for k, v := range f.ProductFields {
			pf[k] = v
		}
		if prev := pf["posture-auditor/Truncated"]; prev != "" {
			what = prev + "; " + what
		}
		pf["posture-auditor/Truncated"] = what
		f.ProductFields = pf
	}
	if len(f.Resources) > 1 {
		f.Resources = f.Resources[:1:1]
		note("related resources dropped to fit 240 KB")
		if n := EncodedSize(f); n <= MaxFindingBytes {
			return f, n, true
		}
	}
	if len(f.Resources) == 1 && f.Resources[0].Details != nil {
		r := f.Resources[0]
		r.Details = nil
		f.Resources = []types.Resource{r}
		note("resource details dropped to fit 240 KB")
	}
	n := EncodedSize(f)
	return f, n, n <= MaxFindingBytes
}
