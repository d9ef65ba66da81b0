package runner

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/memlimit"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// Summary is what a run returns to its invoker and logs.
type Summary struct {
	Trigger trigger.Kind `json:"trigger"`
	Account string       `json:"account"`
	Regions []string     `json:"regions"`
	Checks  []string     `json:"checks"`
	DryRun  bool         `json:"dryRun"`
	// Counts are findings by check ID and status.
	Counts   map[string]map[check.Status]int `json:"counts"`
	Findings []FindingSummary                `json:"findings"`
	// FindingsOmitted counts rows (PASSED, then NOT_AVAILABLE first) left out of Findings to keep the
	// reply under Lambda's 6 MB response limit (see MaxSummaryFindings).
	FindingsOmitted int `json:"findingsOmitted,omitempty"`
	// FailedScopes are the (region, check) scopes whose collection did not
	// complete, with the errors that stopped it.
	FailedScopes []Scope `json:"failedScopes"`
	// Lifecycle totals what was done in Security Hub (in a dry run, what
	// would have been done), over every region.
	Lifecycle Lifecycle `json:"lifecycle"`
	// SecurityHubNotEnabled names each region that answered
	// InvalidAccessException; the other regions still published.
	SecurityHubNotEnabled []string `json:"securityHubNotEnabled,omitempty"`
	// Notices are one-line explanations of everything that did not go
	// as planned: regions refused, findings not imported, scopes kept.
	Notices []string `json:"notices,omitempty"`
	// Published is each region's publish; WouldPublish is the same plan
	// in a dry run, where nothing is imported or archived.
	Published    []publish.Report      `json:"published,omitempty"`
	WouldPublish []publish.Report      `json:"wouldPublish,omitempty"`
	Calls        []awsconfig.CallCount `json:"calls"`
	// Resources is each resource of a re-check and what became of it.
	Resources []TargetResult `json:"resources,omitempty"`
	// Memory is the run's highest sampled heap against the function's limit.
	Memory *MemoryUse `json:"memory,omitempty"`
}

// MemoryUse is how much of its memory a run used.
type MemoryUse struct {
	PeakHeapMB int `json:"peakHeapMB"`
	// LimitMB is the Go runtime's limit (memlimit.Share of the function's
	// memory); 0 when there is none (outside Lambda).
	LimitMB int `json:"limitMB,omitempty"`
	// UsedPercent is PeakHeapMB of LimitMB (0 without a limit).
	UsedPercent int `json:"usedPercent,omitempty"`
}

// Lifecycle counts findings by what the publisher did with them.
type Lifecycle struct {
	New         int `json:"new"`
	Updated     int `json:"updated"`
	Resolved    int `json:"resolved"`
	Reactivated int `json:"reactivated"`
	Archived    int `json:"archived"`
	// Kept are stored findings not observed whose scope could not archive.
	Kept int `json:"kept"`
	// KeptFailed are FAILED findings left FAILED because this run could
	// only say NOT_AVAILABLE for them.
	KeptFailed int `json:"keptFailed"`
	// Refreshed are kept findings re-imported unchanged so that Security
	// Hub does not delete them (it does 90 days after the last update).
	Refreshed int `json:"refreshed"`
	// Unchanged are findings observed exactly as Security Hub holds them,
	// imported recently: not imported again (REIMPORT_AFTER_HOURS).
	Unchanged int `json:"unchanged"`
	Imported  int `json:"imported"`
	// Failed counts findings not imported (after retries), including those
	// of regions that refused as a whole.
	Failed int `json:"failed"`
}

// FindingSummary is one finding as the invoker sees it.
type FindingSummary struct {
	FindingID    string       `json:"findingId"`
	CheckID      string       `json:"checkId"`
	ResourceARN  string       `json:"resourceArn"`
	ResourceName string       `json:"resourceName,omitempty"`
	Region       string       `json:"region"`
	Status       check.Status `json:"status"`
	Severity     string       `json:"severity"`
	Reason       string       `json:"reason"`
	// Action is what the publisher did with the finding (new, updated,
	// resolved, reactivated); empty when its region was not published.
	Action publish.Action `json:"action,omitempty"`
}

func (x *run) summarise(regions []*regionResult, reports []publish.Report, rows *rowKeeper) *Summary {
	s := &Summary{
		Trigger:      x.req.Kind,
		Account:      x.account,
		Regions:      x.regions,
		DryRun:       x.req.DryRun,
		Counts:       map[string]map[check.Status]int{},
		Findings:     []FindingSummary{},
		FailedScopes: []Scope{},
	}
	for _, c := range x.checks {
		s.Checks = append(s.Checks, c.ID)
		s.Counts[c.ID] = map[check.Status]int{}
	}
	for i, rr := range regions {
		rep := reports[i]
		for j, sr := range rr.results {
			f := rr.findings[j]
			s.Counts[sr.check.ID][sr.result.Status]++
			rows.add(summaryRow(sr.result, f, rep.Actions[*f.Id]))
		}
		for id, counts := range rr.counts {
			for st, n := range counts {
				s.Counts[id][st] += n
			}
		}
		for _, sc := range rr.scopes {
			if !sc.Complete {
				s.FailedScopes = append(s.FailedScopes, sc)
			}
		}
		s.Notices = append(s.Notices, notOffered(rr.scopes)...)
		if rep.Region == "" {
			continue // no check ran in the region
		}
		s.addReport(rep)
		if rep.KeptFailed > 0 {
			s.Notices = append(s.Notices, fmt.Sprintf("%s: %d FAILED findings were left FAILED, not overwritten, because this run could only say NOT_AVAILABLE for them (see failedScopes)", rep.Region, rep.KeptFailed))
		}
		if rep.Kept > 0 {
			s.Notices = append(s.Notices, fmt.Sprintf("%s: %d stored findings not observed were kept active, not archived, because their scope did not complete or was not scanned whole (see failedScopes)", rep.Region, rep.Kept))
		}
	}
	x.reportNotEnabled(s)
	if s.Findings, s.FindingsOmitted = rows.rows(); s.FindingsOmitted > 0 {
		s.Notices = append(s.Notices, fmt.Sprintf("%d findings (PASSED, then NOT_AVAILABLE ones first) are left out of this reply to keep it under Lambda's 6 MB response limit; counts and Security Hub hold them all", s.FindingsOmitted))
	}
	if x.Counter != nil {
		s.Calls = x.Counter.Since(x.callsBefore)
	}
	if peak := x.heap.Peak(); peak > 0 {
		s.Memory = &MemoryUse{PeakHeapMB: int(peak >> 20)}
		if x.MemoryLimit > 0 && x.MemoryLimit < math.MaxInt64 {
			s.Memory.LimitMB = int(x.MemoryLimit >> 20)
			s.Memory.UsedPercent = int(100 * float64(peak) / float64(x.MemoryLimit))
		}
		if w := memlimit.Warning(peak, x.MemoryLimit); w != "" {
			s.Notices = append(s.Notices, w)
		}
	}
	return s
}

// addReport files one region's publish report and adds it to the totals.
func (s *Summary) addReport(rep publish.Report) {
	if rep.DryRun {
		s.WouldPublish = append(s.WouldPublish, rep)
	} else {
		s.Published = append(s.Published, rep)
	}
	l := &s.Lifecycle
	l.New += rep.New
	l.Updated += rep.Updated
	l.Resolved += rep.Resolved
	l.Reactivated += rep.Reactivated
	l.Archived += rep.Archived
	l.Kept += rep.Kept
	l.KeptFailed += rep.KeptFailed
	l.Refreshed += rep.Refreshed
	l.Unchanged += rep.Unchanged
	l.Imported += rep.Imported
	l.Failed += rep.FailedCount() + rep.Unpublished
	if rep.SecurityHubNotEnabled {
		s.SecurityHubNotEnabled = append(s.SecurityHubNotEnabled, rep.Region)
	}
	if rep.Error != "" {
		s.Notices = append(s.Notices, rep.Region+": "+rep.Error)
	}
	if rep.StateError != "" {
		s.Notices = append(s.Notices, rep.Region+": finding state table: "+rep.StateError+" (stored findings were read from Security Hub instead, or will be at the next run)")
	}
	if strings.Contains(rep.StateSource, "not set") {
		s.Notices = append(s.Notices, rep.Region+": "+rep.StateSource)
	}
	if len(rep.Failed) > 0 {
		codes := map[string]int{}
		for _, f := range rep.Failed {
			codes[f.ErrorCode]++
		}
		keys := make([]string, 0, len(codes))
		for c := range codes {
			keys = append(keys, c)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, c := range keys {
			parts[i] = fmt.Sprintf("%s x%d", c, codes[c])
		}
		s.Notices = append(s.Notices, fmt.Sprintf("%s: %d findings were not imported after retries (%s); they are listed in published[].failed", rep.Region, rep.FailedCount(), strings.Join(parts, ", ")))
	}
	if len(rep.Duplicates) > 0 {
		s.Notices = append(s.Notices, fmt.Sprintf("%s: %d finding Ids were produced more than once by the checks; one result of each was published", rep.Region, len(rep.Duplicates)))
	}
}

// MaxSummaryFindings bounds the rows of a reply: a row is under 1 KB, and a
// synchronous Lambda reply may not exceed 6 MB.
const MaxSummaryFindings = 4000

// summaryRow is the reply's row of one result and its finding.
func summaryRow(res check.Result, f types.AwsSecurityFinding, action publish.Action) FindingSummary {
	return FindingSummary{
		FindingID:    aws.ToString(f.Id),
		CheckID:      res.CheckID,
		ResourceARN:  res.ResourceARN,
		ResourceName: res.ResourceName,
		Region:       res.Region,
		Status:       res.Status,
		Severity:     string(f.Severity.Label),
		Reason:       res.Reason,
		Action:       action,
	}
}

// rowKeeper keeps the rows a reply can hold as results stream in: at most
// max rows, FAILED ones first, then NOT_AVAILABLE, then PASSED, each the
// first in the reply's order (check, region, resource). It holds at most
// max rows of each status, however many results a sweep makes, and is safe
// for concurrent use (regions add to it at once).
type rowKeeper struct {
	mu    sync.Mutex
	max   int
	kept  [3]rowHeap
	total [3]int
}

func newRowKeeper(max int) *rowKeeper { return &rowKeeper{max: max} }

func rank(st check.Status) int {
	switch st {
	case check.Failed:
		return 0
	case check.NotAvailable:
		return 1
	}
	return 2
}

func (k *rowKeeper) add(row FindingSummary) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := rank(row.Status)
	k.total[r]++
	h := &k.kept[r]
	switch {
	case h.Len() < k.max:
		heap.Push(h, row)
	case k.max > 0 && rowLess(row, (*h)[0]):
		(*h)[0] = row // the last of the kept rows gives way
		heap.Fix(h, 0)
	}
}

// rows returns the kept rows in the reply's order and how many were left
// out: PASSED rows first, then NOT_AVAILABLE ones.
func (k *rowKeeper) rows() ([]FindingSummary, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	left, omitted := k.max, 0
	out := []FindingSummary{}
	for r := range k.kept {
		kept := slices.Clone(k.kept[r])
		sortFindings(kept)
		n := min(len(kept), left)
		out = append(out, kept[:n]...)
		left -= n
		omitted += k.total[r] - n
	}
	sortFindings(out)
	return out, omitted
}

// rowHeap is a max-heap in the reply's order: its top is the row to drop.
type rowHeap []FindingSummary

func (h rowHeap) Len() int           { return len(h) }
func (h rowHeap) Less(i, j int) bool { return rowLess(h[j], h[i]) }
func (h rowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rowHeap) Push(x any)        { *h = append(*h, x.(FindingSummary)) }
func (h *rowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// notOffered says once per service (not once per check or call) that a
// service has no endpoint in a region: it is not offered there, so its
// checks are failed scopes there (NOT_AVAILABLE, nothing archived) until
// it is, or until the region is excluded.
func notOffered(scopes []Scope) []string {
	checks := map[string][]string{} // "region service" -> checks
	var order []string
	for _, sc := range scopes {
		seen := map[string]bool{}
		for _, e := range sc.Errors {
			key := sc.Region + " " + string(e.Service)
			if e.Code != collect.EndpointNotFound || seen[key] {
				continue
			}
			seen[key] = true
			if checks[key] == nil {
				order = append(order, key)
			}
			checks[key] = append(checks[key], sc.CheckID)
		}
	}
	var out []string
	for _, key := range order {
		region, service, _ := strings.Cut(key, " ")
		out = append(out, fmt.Sprintf("%s: %s has no endpoint in this region (not offered here): %s are not available there and archive nothing; exclude the region (ExcludedRegions) if the service will not come", region, service, strings.Join(checks[key], ", ")))
	}
	return out
}
