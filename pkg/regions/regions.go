// Package regions decides which regions a run audits: every region enabled
// for the audited account (discovered with ec2:DescribeRegions) minus the
// excluded ones, or the regions named, less those the account has not
// enabled. A region that is not enabled answers every call with an error;
// it is reported once, never read.
package regions

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// All is the AUDIT_REGIONS value (and the on-demand "regions" entry) that
// means every region enabled for the account.
const All = "all"

// Operations are the IAM actions of every call this package can make.
var Operations = []string{"ec2:DescribeRegions"}

// API is the one EC2 operation discovery calls.
type API interface {
	DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error)
}

// The opt-in statuses of a region the account can use: one enabled by
// default, and an opt-in region the account opted in to. A region being
// enabled or disabled is "not-opted-in" until the change completes.
const (
	optInNotRequired = "opt-in-not-required"
	optedIn          = "opted-in"
)

// Enabled returns the regions of partition enabled for the account that api
// calls as, sorted. An error (denied, throttled) is returned as such, and so
// is an answer listing no enabled region: never an empty list.
func Enabled(ctx context.Context, api API, partition string) ([]string, error) {
	// AllRegions false: AWS lists only the regions enabled for the account.
	out, err := api.DescribeRegions(ctx, &ec2.DescribeRegionsInput{AllRegions: aws.Bool(false)})
	if err != nil {
		return nil, fmt.Errorf("discover the account's enabled regions (ec2:DescribeRegions): %w", err)
	}
	enabled := EnabledIn(out.Regions, partition)
	if len(enabled) == 0 {
		return nil, fmt.Errorf("discover the account's enabled regions: ec2:DescribeRegions listed no enabled region of partition %s (%d listed)", partition, len(out.Regions))
	}
	return enabled, nil
}

// EnabledFrom is Enabled asked in each of regions in turn (empty names and
// repeats skipped), then in the partition's first region, until one
// answers: the home region first, but a call there fails when the account
// has not enabled it (an opt-in home region a member never opted in to) or
// a policy denies it. The first region's error is returned if none answers.
func EnabledFrom(ctx context.Context, partition string, regions []string, api func(region string) API) ([]string, error) {
	var tried []string
	var firstErr error
	for _, r := range append(slices.Clone(regions), firstRegion[partition]) {
		if r == "" || slices.Contains(tried, r) || PartitionOf(r) != partition {
			continue
		}
		tried = append(tried, r)
		enabled, err := Enabled(ctx, api(r), partition)
		if err == nil {
			return enabled, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("discover the account's enabled regions: no region of partition %s to ask in (%v)", partition, regions)
	}
	return nil, firstErr
}

// firstRegion is each partition's first region, enabled in every account
// (regions launched before 2019 cannot be disabled).
var firstRegion = map[string]string{"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}

// EnabledIn keeps the regions of listed that are enabled (opt-in status
// opt-in-not-required or opted-in) and belong to partition, sorted and
// without duplicates. Emulators list other partitions' regions and regions
// not opted in to; AWS lists neither for AllRegions false.
func EnabledIn(listed []types.Region, partition string) []string {
	var out []string
	for _, r := range listed {
		name, status := aws.ToString(r.RegionName), aws.ToString(r.OptInStatus)
		if name == "" || (status != optInNotRequired && status != optedIn) || PartitionOf(name) != partition {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// partitions are the region name patterns of AWS's partitions other than
// "aws", as the SDK's partitions.json has them (regionRegex).
var partitions = []struct {
	id      string
	pattern *regexp.Regexp
}{
	{"aws-cn", regexp.MustCompile(`^cn-\w+-\d+$`)},
	{"aws-us-gov", regexp.MustCompile(`^us-gov-\w+-\d+$`)},
	{"aws-iso", regexp.MustCompile(`^us-iso-\w+-\d+$`)},
	{"aws-iso-b", regexp.MustCompile(`^us-isob-\w+-\d+$`)},
	{"aws-iso-e", regexp.MustCompile(`^eu-isoe-\w+-\d+$`)},
	{"aws-iso-f", regexp.MustCompile(`^us-isof-\w+-\d+$`)},
	{"aws-eusc", regexp.MustCompile(`^eusc-(de)-\w+-\d+$`)},
}

// PartitionOf is the partition of a region name: "aws" unless the name is
// one of another partition's (cn-*, us-gov-*, the isolated ones), as the
// SDK resolves it.
func PartitionOf(region string) string {
	for _, p := range partitions {
		if p.pattern.MatchString(region) {
			return p.id
		}
	}
	return "aws"
}

// Request is what a run was asked to audit: every enabled region but
// Excluded (All), or the Named ones.
type Request struct {
	All      bool
	Named    []string
	Excluded []string
	// Home, when set, is the home region, where global services
	// (CloudFront) are read: audited for them even when it is not among
	// the regions (named elsewhere, or excluded from All), or they would
	// never be audited.
	Home string
}

// Selection is the regions a run audits, and the regions it was asked for
// that the account has not enabled (reported, never read).
type Selection struct {
	Audit      []string
	NotEnabled []string
	// GlobalOnly is the home region when it is audited for global
	// services only (Request.Home, enabled, not among Audit).
	GlobalOnly string
}

// Resolve applies req to the regions enabled for the account. With All,
// every enabled region not excluded, sorted; otherwise the named regions in
// their order, those not enabled set apart. Excluded applies to All only: a
// region named explicitly is audited as asked. All leaving no region is an
// error, not a run of nothing.
func Resolve(req Request, enabled []string) (Selection, error) {
	var sel Selection
	if req.All {
		for _, r := range enabled {
			if !slices.Contains(req.Excluded, r) {
				sel.Audit = append(sel.Audit, r)
			}
		}
		if len(sel.Audit) == 0 {
			return Selection{}, fmt.Errorf("every region enabled for the account (%v) is excluded (EXCLUDED_REGIONS %v): nothing to audit", enabled, req.Excluded)
		}
	} else {
		for _, r := range req.Named {
			if slices.Contains(enabled, r) {
				sel.Audit = append(sel.Audit, r)
			} else {
				sel.NotEnabled = append(sel.NotEnabled, r)
			}
		}
	}
	switch {
	case req.Home == "" || slices.Contains(sel.Audit, req.Home) || slices.Contains(sel.NotEnabled, req.Home):
	case slices.Contains(enabled, req.Home):
		sel.GlobalOnly = req.Home
	default:
		// Global services cannot be audited for this account: reported as
		// a region not enabled, like one asked for by name.
		sel.NotEnabled = append(sel.NotEnabled, req.Home)
	}
	return sel, nil
}
