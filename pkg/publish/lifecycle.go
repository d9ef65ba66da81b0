package publish

import (
	"hash/maphash"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
)

// Action is what the publisher does with one finding.
type Action string

const (
	// ActionNew imports a finding Security Hub does not hold yet.
	ActionNew Action = "new"
	// ActionUpdated re-imports an active finding observed again.
	ActionUpdated Action = "updated"
	// ActionResolved re-imports an active FAILED finding that now PASSED.
	ActionResolved Action = "resolved"
	// ActionReactivated brings an archived finding back: its resource was
	// seen again.
	ActionReactivated Action = "reactivated"
	// ActionArchived re-imports an active finding whose resource this run no
	// longer saw, in a scope whose collection was complete, as ARCHIVED.
	ActionArchived Action = "archived"
	// ActionKeptFailed leaves an active FAILED finding as stored because
	// this run could only say NOT_AVAILABLE for it: an unreadable resource
	// must never hide a known problem. Nothing is imported.
	ActionKeptFailed Action = "kept-failed"
	// ActionUnchanged leaves a finding observed exactly as Security Hub
	// holds it, imported less than ReimportAfter ago: nothing is imported.
	ActionUnchanged Action = "unchanged"
	// ActionRefreshed re-imports a kept FAILED finding unchanged but for
	// UpdatedAt, so Security Hub does not delete it (RefreshAfter).
	ActionRefreshed Action = "refreshed"
)

// Change is one finding to import and why.
type Change struct {
	Action  Action
	Finding types.AwsSecurityFinding
	// size is the finding's encoded size once measured (Fit), so batching
	// and retries do not encode it again.
	size int
}

// Plan is what one region's publish will do.
type Plan struct {
	Changes []Change
	// Kept are active findings this run did not observe whose scope may not
	// archive (its collection errored or it was not scanned whole): they are
	// left exactly as they are.
	Kept []Record
	// KeptFailed are active FAILED findings this run observed only as
	// NOT_AVAILABLE: they stay FAILED, untouched (ActionKeptFailed).
	KeptFailed []Record
	// Duplicates are Ids the run produced more than once; the last wins.
	Duplicates []string
	// Superseded are stored findings observed after this run's observation
	// (another run read the resource later): left as they are.
	Superseded []Record
	// Unchanged are stored active findings this run observed exactly as
	// they are, imported less than ReimportAfter ago: not imported again.
	Unchanged []Record
}

// Record is what the publisher keeps of a stored finding to plan it.
type Record = findingstate.Record

// unchanged reports an observation identical to an active stored finding
// (same fingerprint) that Security Hub received less than reimportAfter ago.
func unchanged(old *Record, f types.AwsSecurityFinding, now time.Time, reimportAfter time.Duration) bool {
	fp := f.ProductFields[asff.FingerprintField]
	if fp == "" || old.RecordState == types.RecordStateArchived || old.Fingerprint != fp {
		return false
	}
	updated, ok := parseTimestamp(old.UpdatedAt)
	return ok && now.Sub(updated) < reimportAfter
}

// ObservedAtField is the ProductFields key holding when the resource of a
// finding was read (asff sets it). It orders observations across the
// sweep, on-demand runs and event re-checks, which may run concurrently.
const ObservedAtField = asff.ObservedAtField

// ObservedAt is when f's resource was read, if f says.
func ObservedAt(f types.AwsSecurityFinding) (time.Time, bool) {
	return parseTimestamp(f.ProductFields[ObservedAtField])
}

// supersedes reports a stored finding whose resource was read after the
// new observation's.
func supersedes(old *Record, f types.AwsSecurityFinding) bool {
	was, ok1 := parseTimestamp(old.ObservedAt)
	now, ok2 := ObservedAt(f)
	return ok1 && ok2 && was.After(now)
}

// Count returns how many changes have action a.
func (p Plan) Count(a Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Owner says which stored findings belong to this run: ours (product,
// account, Id prefix) and of a check the run evaluated in the region.
type Owner struct {
	ProductARN string
	Account    string
	// Checks are the check IDs evaluated in the region: only their findings
	// are read, and only they can be archived.
	Checks []string
}

// Owns reports whether f is one of the findings o may update or archive.
// Security Hub filters GetFindings the same way; this check also guards
// against an endpoint that ignores filters (moto does).
func (o Owner) Owns(f types.AwsSecurityFinding) bool {
	if aws.ToString(f.ProductArn) != o.ProductARN || aws.ToString(f.AwsAccountId) != o.Account ||
		!strings.HasPrefix(aws.ToString(f.Id), asff.IDPrefix) {
		return false
	}
	gen := aws.ToString(f.GeneratorId)
	for _, c := range o.Checks {
		if c == gen {
			return true
		}
	}
	return false
}

// MakePlan merges this run's observations with the findings Security Hub
// holds (already restricted to those the run owns) and decides every
// change. archivable says whether the scope of a check (in this account and
// region) completed and was scanned whole in this run; only such a scope
// archives findings it did not observe. now is the run's clock.
//
// It is pure: the same inputs give the same plan.
func MakePlan(stored, observed []types.AwsSecurityFinding, archivable func(checkID string) bool, now time.Time) Plan {
	return PlanFor(stored, observed, func(f types.AwsSecurityFinding) bool { return archivable(aws.ToString(f.GeneratorId)) }, now, time.Time{})
}

// PlanFor is MakePlan with archiving decided per stored finding (a re-check
// archives by resource, not by check), and with the run's observation time:
// a stored finding observed after observedAt (a re-check that read the
// resource while this run was still collecting) is neither replaced nor
// archived by this run. A zero observedAt takes each observation's own.
func PlanFor(stored, observed []types.AwsSecurityFinding, archivable func(types.AwsSecurityFinding) bool, now, observedAt time.Time) Plan {
	return Planner{ReimportAfter: -1}.Plan(stored, observed, archivable, now, observedAt)
}

// DefaultReimportAfter is how long an unchanged finding goes without being
// imported again: well inside Security Hub's 90 days, and short enough that
// LastObservedAt says the resource was seen within a day.
const DefaultReimportAfter = 24 * time.Hour

// Planner decides a publish. ReimportAfter is how long an observation
// identical to the stored finding (same fingerprint: status, severity,
// reason, resource details) is left unimported: 0 means
// DefaultReimportAfter, negative means always import.
type Planner struct {
	ReimportAfter time.Duration
}

// Plan is PlanFor, skipping the import of unchanged findings that are
// younger than ReimportAfter (ActionUnchanged). It makes every decision the
// way a publish does (a merger), over findings held in memory.
func (pl Planner) Plan(stored, observed []types.AwsSecurityFinding, archivable func(types.AwsSecurityFinding) bool, now, observedAt time.Time) Plan {
	records := make([]Record, len(stored))
	for i, f := range stored {
		records[i] = findingstate.RecordOf(f, true)
	}
	m := pl.merger(records, now, observedAt)
	plan := Plan{Changes: make([]Change, 0, len(observed))}
	var unique []types.AwsSecurityFinding
	unique, plan.Duplicates = lastOfEach(observed)
	for _, f := range unique {
		m.markObserved(aws.ToString(f.Id))
		out := m.observe(f)
		switch {
		case out.Superseded != nil:
			plan.Superseded = append(plan.Superseded, *out.Superseded)
		case out.Action == ActionKeptFailed:
			plan.KeptFailed = append(plan.KeptFailed, *out.Stored)
		case out.Action == ActionUnchanged:
			plan.Unchanged = append(plan.Unchanged, *out.Stored)
		}
		if out.Change != nil {
			plan.Changes = append(plan.Changes, *out.Change)
		}
		if out.Refresh != nil {
			plan.Changes = append(plan.Changes, m.refreshed(*out.Refresh.Finding))
		}
	}
	rest := m.unobserved(func(r *Record) bool { return archivable(*r.Finding) })
	for _, u := range rest {
		switch {
		case u.superseded:
			plan.Superseded = append(plan.Superseded, *u.record)
		case u.archive:
			plan.Changes = append(plan.Changes, m.archived(*u.record.Finding))
		default:
			plan.Kept = append(plan.Kept, *u.record)
			if u.refresh {
				plan.Changes = append(plan.Changes, m.refreshed(*u.record.Finding))
			}
		}
	}
	return plan
}

// lastOfEach keeps one observation per Id, the last one, in the order Ids
// first appear, and lists the Ids observed more than once.
func lastOfEach(observed []types.AwsSecurityFinding) (unique []types.AwsSecurityFinding, duplicates []string) {
	at := make(map[string]int, len(observed))
	for _, f := range observed {
		id := aws.ToString(f.Id)
		if i, dup := at[id]; dup {
			duplicates = append(duplicates, id)
			unique[i] = f
			continue
		}
		at[id] = len(unique)
		unique = append(unique, f)
	}
	return unique, duplicates
}

// merger decides a publish finding by finding, against the stored records
// of what it may touch: a sweep feeds it observations as it makes them and
// holds no more than the records (see Session).
type merger struct {
	reimportAfter   time.Duration
	now, observedAt time.Time
	// at stamps re-imports of stored findings (refreshes, archives) with
	// this run's observation, so that a later observation racing them wins
	// in Security Hub as in the finding state.
	at     time.Time
	stored map[string]*Record
	order  []*Record
	// observed holds the stored records observed; fresh the hashes of the
	// observed Ids nothing is stored for. Neither keeps an Id: a sweep
	// observes every finding of its scope, and holding their Ids would
	// grow with the account.
	observed map[*Record]bool
	fresh    map[uint64]bool
	seed     maphash.Seed
}

// markObserved notes that id was observed, and says whether it was before:
// exactly for a stored finding; for another, by a 64-bit hash of its Id, so
// a repeat may be a hash collision (unsure).
func (m *merger) markObserved(id string) (repeat, sure bool) {
	if r := m.stored[id]; r != nil {
		repeat = m.observed[r]
		m.observed[r] = true
		return repeat, true
	}
	h := maphash.String(m.seed, id)
	repeat = m.fresh[h]
	m.fresh[h] = true
	return repeat, false
}

func (pl Planner) merger(stored []Record, now, observedAt time.Time) *merger {
	m := &merger{reimportAfter: pl.ReimportAfter, now: now, observedAt: observedAt, at: now,
		stored: make(map[string]*Record, len(stored)), observed: make(map[*Record]bool, len(stored)), fresh: map[uint64]bool{}, seed: maphash.MakeSeed()}
	if m.reimportAfter == 0 {
		m.reimportAfter = DefaultReimportAfter
	}
	if !observedAt.IsZero() && observedAt.Before(now) {
		m.at = observedAt
	}
	for i := range stored {
		r := &stored[i]
		m.stored[r.ID] = r
		m.order = append(m.order, r)
	}
	return m
}

// outcome is what one observation comes to.
type outcome struct {
	// Action is what the summary says of it; empty when Superseded.
	Action Action
	// Change is the import it needs now, if any.
	Change *Change
	// Stored is its stored record, if any; Superseded is set (to it) when a
	// later observation is stored.
	Stored, Superseded *Record
	// Refresh is a kept FAILED record whose refresh is due: the change is
	// built from its stored finding (merger.refreshed).
	Refresh *Record
}

// observe decides one observation (markObserved first). An Id observed
// twice is decided twice; Plan keeps the last of duplicates, a Session the
// first.
func (m *merger) observe(f types.AwsSecurityFinding) outcome {
	old := m.stored[aws.ToString(f.Id)]
	if old != nil && supersedes(old, f) {
		// Newer observation wins: a path that read the resource later
		// already published what it saw.
		return outcome{Stored: old, Superseded: old}
	}
	if old != nil && hidesKnownFailure(old, f) {
		out := outcome{Action: ActionKeptFailed, Stored: old}
		if refreshDue(old, m.now) {
			out.Refresh = old
		}
		return out
	}
	if old != nil && m.reimportAfter > 0 && unchanged(old, f, m.now, m.reimportAfter) {
		return outcome{Action: ActionUnchanged, Stored: old}
	}
	c := observe(f, old, m.now)
	return outcome{Action: c.Action, Change: &c, Stored: old}
}

// leftover is a stored finding the run did not observe, and its fate.
type leftover struct {
	record     *Record
	superseded bool
	archive    bool
	// refresh: kept, and a refresh is due (refreshDue).
	refresh bool
}

// unobserved decides the active stored findings no observation named, in
// stored order: archived where archivable (the scope was complete), else
// kept (refreshed when due), unless observed after this run.
func (m *merger) unobserved(archivable func(*Record) bool) []leftover {
	var out []leftover
	for _, r := range m.order {
		if m.observed[r] || r.RecordState == types.RecordStateArchived {
			continue
		}
		if obs, ok := parseTimestamp(r.ObservedAt); ok && !m.observedAt.IsZero() && obs.After(m.observedAt) {
			out = append(out, leftover{record: r, superseded: true})
			continue
		}
		if archivable(r) {
			out = append(out, leftover{record: r, archive: true})
			continue
		}
		out = append(out, leftover{record: r, refresh: refreshDue(r, m.now)})
	}
	return out
}

// archived is the archive of a stored finding the run did not observe,
// stamped with this run's observation, so that a later observation (a
// re-check racing this import) wins in Security Hub, and a run that read
// the resource before this one cannot bring it back.
func (m *merger) archived(old types.AwsSecurityFinding) Change {
	gone := archive(old, m.at)
	if !m.observedAt.IsZero() {
		gone.ProductFields = withField(gone.ProductFields, ObservedAtField, asff.Timestamp(m.observedAt))
	}
	return Change{Action: ActionArchived, Finding: gone}
}

// refreshed is the refresh of a kept FAILED finding (refreshDue): exactly
// as stored (ACTIVE, a later UpdatedAt, LastObservedAt unchanged).
func (m *merger) refreshed(old types.AwsSecurityFinding) Change {
	f := archive(old, m.at)
	f.RecordState = types.RecordStateActive
	return Change{Action: ActionRefreshed, Finding: f}
}

// RefreshAfter is how long a kept FAILED finding may go without an update
// before it is re-imported unchanged: Security Hub deletes a finding 90 days after
// its last update, which would lose a known problem whose resource stays
// unreadable.
const RefreshAfter = 30 * 24 * time.Hour

// refreshDue reports a kept FAILED finding to re-import unchanged: one
// RefreshAfter old. Only a known problem is kept alive this way: a kept
// PASSED or NOT_AVAILABLE finding of a scope that keeps failing is left to
// Security Hub's 90-day expiry rather than kept forever.
func refreshDue(old *Record, now time.Time) bool {
	if old.Status != types.ComplianceStatusFailed {
		return false
	}
	updated, ok := parseTimestamp(old.UpdatedAt)
	return ok && now.Sub(updated) >= RefreshAfter
}

// hidesKnownFailure reports an observation that would overwrite an active
// FAILED finding with NOT_AVAILABLE (the resource could not be read this
// time, e.g. a denied describe).
func hidesKnownFailure(old *Record, f types.AwsSecurityFinding) bool {
	return old.RecordState != types.RecordStateArchived &&
		old.Status == types.ComplianceStatusFailed &&
		complianceStatus(f) == types.ComplianceStatusNotAvailable
}

// observe is the change for a finding this run observed.
func observe(f types.AwsSecurityFinding, old *Record, now time.Time) Change {
	f = withoutCustomerFields(f)
	f.RecordState = types.RecordStateActive // moto stores RecordState as sent: always send it
	// UpdatedAt is the observation's time, not the import's: when two
	// paths race between their read-back and their import, Security Hub
	// itself then keeps the later observation (it ignores an update whose
	// UpdatedAt is not later than the stored one).
	if obs, ok := ObservedAt(f); ok && obs.Before(now) {
		now = obs
	}
	if old == nil {
		ts := aws.String(asff.Timestamp(now))
		// CreatedAt must equal UpdatedAt on creation.
		f.CreatedAt, f.UpdatedAt, f.FirstObservedAt, f.LastObservedAt = ts, ts, ts, ts
		return Change{Action: ActionNew, Finding: f}
	}
	action := ActionUpdated
	switch {
	case old.RecordState == types.RecordStateArchived:
		action = ActionReactivated
	case old.Status == types.ComplianceStatusFailed && complianceStatus(f) == types.ComplianceStatusPassed:
		action = ActionResolved
	}
	// First seen is kept exactly as stored.
	if old.CreatedAt != "" {
		f.CreatedAt = aws.String(old.CreatedAt)
	}
	switch {
	case old.FirstObservedAt != "":
		f.FirstObservedAt = aws.String(old.FirstObservedAt)
	case old.CreatedAt != "":
		f.FirstObservedAt = aws.String(old.CreatedAt)
	}
	ts := aws.String(asff.Timestamp(nextUpdate(now, old.UpdatedAt, old.LastObservedAt)))
	f.UpdatedAt, f.LastObservedAt = ts, ts
	return Change{Action: action, Finding: f}
}

// archive is the ARCHIVED re-import of a stored finding: the provider's own
// fields as stored, a later UpdatedAt, and nothing that Security Hub or the
// customer owns. LastObservedAt stays: the resource was not observed.
// refreshIfStale reuses it for a re-import that stays ACTIVE.
func archive(old types.AwsSecurityFinding, now time.Time) types.AwsSecurityFinding {
	f := types.AwsSecurityFinding{
		SchemaVersion:         old.SchemaVersion,
		Id:                    old.Id,
		ProductArn:            old.ProductArn,
		GeneratorId:           old.GeneratorId,
		AwsAccountId:          old.AwsAccountId,
		Region:                old.Region,
		CompanyName:           old.CompanyName,
		ProductName:           old.ProductName,
		Types:                 old.Types,
		CreatedAt:             old.CreatedAt,
		FirstObservedAt:       old.FirstObservedAt,
		LastObservedAt:        old.LastObservedAt,
		UpdatedAt:             aws.String(asff.Timestamp(NextUpdate(old, now))),
		Severity:              old.Severity,
		Title:                 old.Title,
		Description:           old.Description,
		Remediation:           old.Remediation,
		SourceUrl:             old.SourceUrl,
		Resources:             old.Resources,
		Compliance:            old.Compliance,
		FindingProviderFields: old.FindingProviderFields,
		RecordState:           types.RecordStateArchived,
	}
	if len(old.ProductFields) > 0 {
		f.ProductFields = map[string]string{}
		for k, v := range old.ProductFields {
			// aws/securityhub/* keys are Security Hub's, not the provider's.
			if !strings.HasPrefix(k, "aws/") {
				f.ProductFields[k] = v
			}
		}
	}
	if f.Severity != nil {
		// Top-level Severity carries Security Hub's normalised values; send
		// only what a provider sets.
		f.Severity = &types.Severity{Label: f.Severity.Label, Original: f.Severity.Original}
	}
	return f
}

// withoutCustomerFields drops what the security team owns: a provider
// never sends Workflow, Note, UserDefinedFields or VerificationState.
func withoutCustomerFields(f types.AwsSecurityFinding) types.AwsSecurityFinding {
	f.Workflow = nil
	f.WorkflowState = ""
	f.Note = nil
	f.UserDefinedFields = nil
	f.VerificationState = ""
	return f
}

func complianceStatus(f types.AwsSecurityFinding) types.ComplianceStatus {
	if f.Compliance == nil {
		return ""
	}
	return f.Compliance.Status
}

// NextUpdate is the UpdatedAt (and LastObservedAt) of a re-import of old:
// now, or one millisecond after what Security Hub holds when that is not
// earlier. Security Hub ignores an update whose UpdatedAt is not strictly
// later than the stored one, which two runs in the same second (or a clock
// behind the last writer's) would otherwise hit.
func NextUpdate(old types.AwsSecurityFinding, now time.Time) time.Time {
	return nextUpdate(now, aws.ToString(old.UpdatedAt), aws.ToString(old.LastObservedAt))
}

func nextUpdate(now time.Time, stored ...string) time.Time {
	t := now.UTC().Truncate(time.Millisecond)
	for _, s := range stored {
		prev, ok := parseTimestamp(s)
		if !ok {
			continue
		}
		if !t.After(prev) {
			t = prev.Truncate(time.Millisecond).Add(time.Millisecond)
		}
	}
	return t
}

// parseTimestamp reads an ASFF timestamp (RFC 3339, any fraction).
func parseTimestamp(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// withField returns a copy of m with k set to v.
func withField(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// size is the number of stored records the merger plans against.
func (m *merger) size() int { return len(m.order) }
