package publish

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
)

// KeyInUseCheck is the check whose findings list what a key protects.
const KeyInUseCheck = "kms.key-in-use-unhealthy"

// Related is a resource a finding names after its main one.
type Related struct {
	Type string
	ARN  string
}

// Dependents returns what this tool last saw the key protect: the related
// resources of its active kms.key-in-use-unhealthy finding, read with one
// GetFindings (a finding lists at most 31 of them). It is how a change to a
// key's health re-judges its dependents without a sweep. A key no
// resource used at the last look has none.
func (p Publisher) Dependents(ctx context.Context, cfg aws.Config, account, partition, keyARN string) ([]Related, error) {
	eq := func(v string) []types.StringFilter { return []types.StringFilter{equals(v)} }
	productARN := asff.ProductARN(partition, cfg.Region, account)
	id := asff.FindingID(KeyInUseCheck, account, cfg.Region, keyARN)
	lim := p.limiters().Read(account, cfg.Region)
	// The Id filter makes this one call; the pager only matters for an
	// endpoint that ignores filters (moto), where the finding may be on a
	// later page.
	pager := securityhub.NewGetFindingsPaginator(p.api(cfg), &securityhub.GetFindingsInput{
		Filters: &types.AwsSecurityFindingFilters{
			ProductArn: eq(productARN), AwsAccountId: eq(account), Id: eq(id), RecordState: eq(string(types.RecordStateActive)),
		},
		MaxResults: aws.Int32(readPageSize),
	})
	var deps []Related
	for pager.HasMorePages() {
		if err := lim.Wait(ctx); err != nil {
			return nil, err
		}
		out, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, f := range out.Findings {
			if aws.ToString(f.Id) != id || aws.ToString(f.ProductArn) != productARN || f.RecordState == types.RecordStateArchived {
				continue
			}
			for _, r := range f.Resources[min(1, len(f.Resources)):] {
				deps = append(deps, Related{Type: aws.ToString(r.Type), ARN: aws.ToString(r.Id)})
			}
			return deps, nil
		}
	}
	return deps, nil
}
