package findingstate

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
)

// Record is what planning a stored finding's lifecycle needs, and nothing
// more: a few hundred bytes where the finding itself is kilobytes, so that
// a sweep holds one per stored finding of a scope without its memory
// growing with the findings' contents. Archiving or refreshing a finding
// needs the finding itself: Finding when the read returned it, else it is
// read by Id (Store.Get) for just those.
type Record struct {
	ID         string
	Check      string
	ResourceID string
	Status     types.ComplianceStatus
	// RecordState is ACTIVE or ARCHIVED.
	RecordState     types.RecordState
	CreatedAt       string
	FirstObservedAt string
	UpdatedAt       string
	LastObservedAt  string
	Fingerprint     string
	// ObservedAt is when the finding's resource was read (asff.ObservedAtField).
	ObservedAt string
	// Finding is the stored finding, when the read returned it whole
	// (a Security Hub read-back, Store.Get); nil when only the record was read.
	Finding *types.AwsSecurityFinding
}

// RecordOf is f's record; full keeps f itself in Record.Finding.
func RecordOf(f types.AwsSecurityFinding, full bool) Record {
	r := Record{
		ID:              aws.ToString(f.Id),
		Check:           aws.ToString(f.GeneratorId),
		RecordState:     f.RecordState,
		CreatedAt:       aws.ToString(f.CreatedAt),
		FirstObservedAt: aws.ToString(f.FirstObservedAt),
		UpdatedAt:       aws.ToString(f.UpdatedAt),
		LastObservedAt:  aws.ToString(f.LastObservedAt),
		Fingerprint:     f.ProductFields[asff.FingerprintField],
		ObservedAt:      f.ProductFields[asff.ObservedAtField],
	}
	// A finding without first and last observation times was first and
	// last observed when created and updated, as the lifecycle reads it
	// (and a record leaves out these times when they are those).
	if r.FirstObservedAt == "" {
		r.FirstObservedAt = r.CreatedAt
	}
	if r.LastObservedAt == "" {
		r.LastObservedAt = r.UpdatedAt
	}
	if len(f.Resources) > 0 {
		r.ResourceID = aws.ToString(f.Resources[0].Id)
	}
	if f.Compliance != nil {
		r.Status = f.Compliance.Status
	}
	if full {
		r.Finding = &f
	}
	return r
}
