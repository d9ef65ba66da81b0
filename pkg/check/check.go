// Package check defines what a posture check is: its public metadata and a
// pure function from a snapshot to results. Check implementations live in
// pkg/checks/<service>checks; the list of all of them lives in pkg/registry.
package check

import (
	"fmt"

	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// ResourceDetails is the ASFF Resource.Details object; checks fill the part
// for their resource type (AwsKmsKey, AwsRdsDbInstance, ...).
type ResourceDetails = shtypes.ResourceDetails

// Status is the ASFF Compliance.Status of a result.
type Status string

const (
	Passed       Status = "PASSED"
	Failed       Status = "FAILED"
	NotAvailable Status = "NOT_AVAILABLE"
)

// Severity is the ASFF Severity.Label of a result.
type Severity string

const (
	Informational Severity = "INFORMATIONAL"
	Low           Severity = "LOW"
	Medium        Severity = "MEDIUM"
	High          Severity = "HIGH"
	Critical      Severity = "CRITICAL"
)

// severityOrder ranks severities so a check can raise one by a level.
var severityOrder = []Severity{Informational, Low, Medium, High, Critical}

// Raise returns the severity one level above s, capped at CRITICAL.
func (s Severity) Raise() Severity {
	for i, v := range severityOrder {
		if v == s && i+1 < len(severityOrder) {
			return severityOrder[i+1]
		}
	}
	return s
}

// Check is one posture rule. Its ID is a public contract and never changes
// once shipped: it is the finding's GeneratorId and part of its Id.
type Check struct {
	ID          string
	Title       string
	Description string
	// Rule is the full rule as docs/checks.md gives it (Markdown, one
	// paragraph): what passes and what fails, at which severity and what
	// raises or lowers it, and what is not judged. It is documentation only;
	// Evaluate is the rule.
	Rule string
	// Severity of a FAILED result unless the result sets its own.
	Severity Severity
	// ResourceType is the ASFF resource type (AwsKmsKey, AwsAccount, ...).
	ResourceType string
	// Types are ASFF finding types ("Software and Configuration Checks/...").
	Types          []string
	Remediation    string
	RemediationURL string
	// SecurityHubControls names the nearest AWS Foundational Security Best
	// Practices controls (e.g. "KMS.4"); RelatedRequirements holds CIS and
	// NIST 800-53 references for Compliance.RelatedRequirements.
	SecurityHubControls []string
	RelatedRequirements []string
	// Services are the collections the check reads. A check is evaluated in a
	// region only when all of them were collected there; a service whose
	// collection errored makes the scope incomplete (no archiving).
	Services []snapshot.Service
	// Global checks are evaluated once per account, in the home region.
	Global bool
	// Thresholds the check reads from Params, with their defaults.
	Thresholds []Threshold
	// Evaluate is the rule, returning every result; Stream is the same
	// rule handing each result to emit as it is made, for checks over
	// collections large enough that a sweep should not hold all their
	// results at once (tens of thousands of volumes). A check sets one.
	Evaluate func(s *snapshot.Snapshot, p Params) []Result
	Stream   func(s *snapshot.Snapshot, p Params, emit func(Result))
}

// Each hands every result of the check to emit, one at a time.
func (c Check) Each(s *snapshot.Snapshot, p Params, emit func(Result)) {
	if c.Stream != nil {
		c.Stream(s, p, emit)
		return
	}
	for _, r := range c.Evaluate(s, p) {
		emit(r)
	}
}

// Results returns every result of the check.
func (c Check) Results(s *snapshot.Snapshot, p Params) []Result {
	var out []Result
	c.Each(s, p, func(r Result) { out = append(out, r) })
	return out
}

// Result is one check's verdict on one resource.
type Result struct {
	CheckID     string
	ResourceARN string
	// ResourceType overrides Check.ResourceType when one check judges
	// resources of more than one ASFF type.
	ResourceType string
	// ResourceID is a short human name (alias, name) for the summary table.
	ResourceName string
	Region       string
	Status       Status
	// Severity overrides Check.Severity when set; it is ignored for PASSED
	// (INFORMATIONAL) results.
	Severity Severity
	// Reason says, in one sentence, why the status is what it is.
	Reason string
	// Details is the ASFF Resource.Details object, built by the check.
	Details *ResourceDetails
	// Related are further resources the finding concerns (the resources a
	// key protects); they follow the main resource in ASFF Resources.
	Related []RelatedResource
	// Tags are the judged resource's tags, as its collector read them from
	// the list or describe call it makes anyway (none is made for tags);
	// nil for resources whose calls do not return them. They become ASFF
	// Resources[0].Tags, which Security Hub automation rules can match.
	Tags snapshot.Tags
}

// RelatedResource names a resource by ASFF type and ARN.
type RelatedResource struct {
	Type string
	ARN  string
}

// Validate reports missing metadata; the registry test runs it on every check.
func (c Check) Validate() error {
	switch {
	case c.ID == "":
		return fmt.Errorf("check has no ID")
	case c.Title == "" || c.Description == "":
		return fmt.Errorf("%s: title and description are required", c.ID)
	case c.Rule == "":
		return fmt.Errorf("%s: the rule text is required (it is docs/checks.md's)", c.ID)
	case c.Severity == "":
		return fmt.Errorf("%s: severity is required", c.ID)
	case c.ResourceType == "":
		return fmt.Errorf("%s: resource type is required", c.ID)
	case len(c.Types) == 0:
		return fmt.Errorf("%s: at least one ASFF type is required", c.ID)
	case c.Remediation == "" || c.RemediationURL == "":
		return fmt.Errorf("%s: remediation text and URL are required", c.ID)
	case len(c.RelatedRequirements) == 0:
		return fmt.Errorf("%s: related requirements (CIS / NIST 800-53) are required", c.ID)
	case len(c.Services) == 0:
		return fmt.Errorf("%s: the services it reads are required", c.ID)
	case (c.Evaluate == nil) == (c.Stream == nil):
		return fmt.Errorf("%s: exactly one of Evaluate and Stream is required", c.ID)
	}
	for _, t := range c.Thresholds {
		if len(t.Choices) > 0 && (t.Min < 0 || t.Max >= len(t.Choices) || t.Min > t.Max) {
			return fmt.Errorf("%s: threshold %s: Min and Max must index Choices", c.ID, t.Name)
		}
	}
	return nil
}
