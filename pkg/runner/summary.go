package runner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
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

func (x *run) summarise(regions []*regionResult, reports []publish.Report) *Summary {
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
			s.Findings = append(s.Findings, FindingSummary{
				FindingID:    *f.Id,
				CheckID:      sr.check.ID,
				ResourceARN:  sr.result.ResourceARN,
				ResourceName: sr.result.ResourceName,
				Region:       sr.result.Region,
				Status:       sr.result.Status,
				Severity:     string(f.Severity.Label),
				Reason:       sr.result.Reason,
				Action:       rep.Actions[*f.Id],
			})
		}
		for _, sc := range rr.scopes {
			if !sc.Complete {
				s.FailedScopes = append(s.FailedScopes, sc)
			}
		}
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
	sortFindings(s.Findings)
	if s.Findings, s.FindingsOmitted = capFindings(s.Findings, MaxSummaryFindings); s.FindingsOmitted > 0 {
		s.Notices = append(s.Notices, fmt.Sprintf("%d findings (PASSED, then NOT_AVAILABLE ones first) are left out of this reply to keep it under Lambda's 6 MB response limit; counts and Security Hub hold them all", s.FindingsOmitted))
	}
	if x.Counter != nil {
		s.Calls = x.Counter.Since(x.callsBefore)
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
		s.Notices = append(s.Notices, fmt.Sprintf("%s: %d finding Ids were produced more than once by the checks; the last result of each was published", rep.Region, len(rep.Duplicates)))
	}
}

// MaxSummaryFindings bounds the rows of a reply: a row is under 1 KB, and a
// synchronous Lambda reply may not exceed 6 MB.
const MaxSummaryFindings = 4000

// capFindings keeps at most max rows, in their order, dropping PASSED rows
// first, then NOT_AVAILABLE ones: FAILED rows are what an invoker acts on.
func capFindings(fs []FindingSummary, max int) ([]FindingSummary, int) {
	if len(fs) <= max {
		return fs, 0
	}
	rank := func(st check.Status) int {
		switch st {
		case check.Failed:
			return 0
		case check.NotAvailable:
			return 1
		}
		return 2
	}
	var room [3]int
	for _, f := range fs {
		room[rank(f.Status)]++
	}
	left := max
	for r := range room {
		room[r] = min(room[r], left)
		left -= room[r]
	}
	out := make([]FindingSummary, 0, max)
	for _, f := range fs {
		if r := rank(f.Status); room[r] > 0 {
			room[r]--
			out = append(out, f)
		}
	}
	return out, len(fs) - len(out)
}
