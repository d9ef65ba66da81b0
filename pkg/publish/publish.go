// Package publish imports findings into Security Hub with BatchImportFindings,
// in batches within its limits, and reports every finding it could not
// import: nothing is dropped silently.
package publish

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
)

// Limits of BatchImportFindings.
const (
	MaxBatchFindings = 100
	MaxBatchBytes    = 6 * 1024 * 1024
)

// API is the part of the Security Hub client the publisher uses.
type API interface {
	BatchImportFindings(context.Context, *securityhub.BatchImportFindingsInput, ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
}

// Publisher imports findings into one region's Security Hub.
type Publisher struct {
	// NewAPI builds the client; nil means securityhub.NewFromConfig.
	NewAPI func(aws.Config) API
}

// FailedFinding is a finding Security Hub did not import.
type FailedFinding struct {
	ID           string `json:"id"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// Report is what one region's publish did.
type Report struct {
	Region   string          `json:"region"`
	Sent     int             `json:"sent"`
	Imported int             `json:"imported"`
	Calls    int             `json:"calls"`
	Failed   []FailedFinding `json:"failed,omitempty"`
	// Error is set when a call failed as a whole (e.g. Security Hub is not
	// enabled in the region); every finding of that call is in Failed.
	Error string `json:"error,omitempty"`
}

// Publish imports findings into the Security Hub of cfg.Region.
func (p Publisher) Publish(ctx context.Context, cfg aws.Config, findings []types.AwsSecurityFinding) Report {
	api := p.api(cfg)
	rep := Report{Region: cfg.Region, Sent: len(findings)}
	for _, batch := range Batches(findings) {
		rep.Calls++
		out, err := api.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch})
		if err != nil {
			rep.Error = collect.Reason("BatchImportFindings", err)
			for _, f := range batch {
				rep.Failed = append(rep.Failed, FailedFinding{ID: aws.ToString(f.Id), ErrorCode: collect.ErrorCode(err), ErrorMessage: collect.ErrorMessage(err)})
			}
			continue
		}
		// FailedCount is checked even though the call succeeded: a partial
		// import returns no error.
		failed := map[string]bool{}
		for _, ff := range out.FailedFindings {
			failed[aws.ToString(ff.Id)] = true
			rep.Failed = append(rep.Failed, FailedFinding{ID: aws.ToString(ff.Id), ErrorCode: aws.ToString(ff.ErrorCode), ErrorMessage: aws.ToString(ff.ErrorMessage)})
		}
		if n := int(aws.ToInt32(out.FailedCount)); n > len(out.FailedFindings) {
			rep.Failed = append(rep.Failed, FailedFinding{ErrorCode: "UnreportedFailures", ErrorMessage: "FailedCount exceeds the FailedFindings listed"})
		}
		rep.Imported += len(batch) - len(failed)
	}
	return rep
}

func (p Publisher) api(cfg aws.Config) API {
	if p.NewAPI != nil {
		return p.NewAPI(cfg)
	}
	return securityhub.NewFromConfig(cfg)
}

// Batches splits findings into calls of at most MaxBatchFindings findings
// and MaxBatchBytes of JSON.
func Batches(findings []types.AwsSecurityFinding) [][]types.AwsSecurityFinding {
	var out [][]types.AwsSecurityFinding
	var cur []types.AwsSecurityFinding
	size := 0
	for _, f := range findings {
		n := EncodedSize(f)
		if len(cur) > 0 && (len(cur) == MaxBatchFindings || size+n > MaxBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, f)
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
