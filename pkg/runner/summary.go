package runner

import (
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
	// FailedScopes are the (region, check) scopes whose collection did not
	// complete, with the errors that stopped it.
	FailedScopes []Scope               `json:"failedScopes"`
	Published    []publish.Report      `json:"published,omitempty"`
	Calls        []awsconfig.CallCount `json:"calls"`
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
			})
		}
		for _, sc := range rr.scopes {
			if !sc.Complete {
				s.FailedScopes = append(s.FailedScopes, sc)
			}
		}
		if reports != nil && reports[i].Region != "" {
			s.Published = append(s.Published, reports[i])
		}
	}
	sortFindings(s.Findings)
	if x.Counter != nil {
		s.Calls = x.Counter.Snapshot()
	}
	return s
}
