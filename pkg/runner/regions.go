package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/regions"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// RegionNotEnabled is the error code of a failed scope standing for a
// region asked for by name that the account has not enabled.
const RegionNotEnabled = "RegionNotEnabled"

// regionRequest is what req asks to audit: the payload's regions ("all" or
// names), else the deployment's.
func (r *Runner) regionRequest(req trigger.Request) regions.Request {
	switch {
	case req.AllRegions:
		return regions.Request{All: true, Excluded: r.ExcludedRegions}
	case len(req.Regions) > 0:
		return regions.Request{Named: req.Regions}
	case r.AllRegions:
		return regions.Request{All: true, Excluded: r.ExcludedRegions}
	}
	return regions.Request{Named: r.Regions}
}

// selectRegions resolves asked against the regions enabled for the account
// (one ec2:DescribeRegions, with cfg): named regions too, so that one the
// account has not enabled is reported once instead of failing every call
// made there.
// Asked in the home region first, then (a home region the account has not
// enabled fails there) in the regions named, then the partition's first.
func (r *Runner) selectRegions(ctx context.Context, home, partition string, asked regions.Request) (regions.Selection, error) {
	enabled, err := regions.EnabledFrom(ctx, partition, append([]string{home}, asked.Named...), func(region string) regions.API {
		return ec2.NewFromConfig(awsconfig.ForRegion(r.AWS, region))
	})
	if err != nil {
		return regions.Selection{}, err
	}
	return regions.Resolve(asked, enabled)
}

// reportNotEnabled adds, for each region asked for that the account has not
// enabled, one failed scope (every check; nothing there read, published or
// archived) and one notice.
func (x *run) reportNotEnabled(s *Summary) {
	if len(x.notEnabled) == 0 {
		return
	}
	for _, region := range x.notEnabled {
		s.FailedScopes = append(s.FailedScopes, Scope{Region: region, Errors: []snapshot.CollectionError{{
			Service: "ec2", Region: region, Operation: "DescribeRegions", Code: RegionNotEnabled,
			Message: fmt.Sprintf("region %s is not enabled for account %s (ec2:DescribeRegions does not list it): no check ran there, nothing was published or archived", region, x.account),
		}}})
	}
	s.Notices = append(s.Notices, fmt.Sprintf("not enabled for account %s, so not audited (no call made there, nothing published or archived): %s; enable them (opt-in regions) or stop asking for them",
		x.account, strings.Join(x.notEnabled, ", ")))
}

// notRechecked says why a re-check does not read region ("" when it
// does): not one of the configured regions, or excluded from "all". With
// AUDIT_REGIONS=all any other region is read without discovery: an event
// comes only from a region where the account is enabled.
func (x *run) notRechecked(region string) string {
	switch {
	case x.AllRegions && slices.Contains(x.ExcludedRegions, region):
		return fmt.Sprintf("region %s is excluded by this deployment (EXCLUDED_REGIONS: %s)", region, strings.Join(x.ExcludedRegions, ","))
	case !x.AllRegions && !slices.Contains(x.Regions, region):
		return fmt.Sprintf("region %s is not audited by this deployment (AUDIT_REGIONS: %s)", region, strings.Join(x.Regions, ","))
	}
	return ""
}
