package runner

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/acmcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudfrontcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudtrailcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/ebscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/ecrcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/kmscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/rdscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/secretscollect"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/regions"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// Version is the tool version reported in every finding; set at build time
// with -ldflags "-X .../pkg/runner.Version=...".
var Version = "0.1.0-dev"

// Collectors returns one collector per service, the set a run draws from.
func Collectors() []collect.Collector {
	return []collect.Collector{
		kmscollect.Collector{},
		acmcollect.Collector{},
		rdscollect.Collector{},
		secretscollect.Collector{},
		ecrcollect.Collector{},
		ebscollect.Collector{},
		cloudfrontcollect.Collector{},
		cloudtrailcollect.Collector{}, cloudtrailcollect.AccountCollector{},
	}
}

// FromEnvironment builds a Runner from the Lambda's environment:
// AUDIT_REGIONS (comma-separated, or "all": every region enabled for the
// account, discovered at each run; default AWS_REGION), EXCLUDED_REGIONS
// (comma-separated, left out of "all"), HOME_REGION (default
// AWS_REGION), QUOTA_FRACTION (the share of AWS's request quotas a run
// paces its calls at, default 0.9), STATE_TABLE_WRITE_UNITS (the write
// units a second the finding state table takes), ORGANIZATION_PLANNER (organization
// mode: the planner function, which publishing runs of this account go
// through), plus the SDK's own variables
// (AWS_REGION, credentials, AWS_ENDPOINT_URL).
func FromEnvironment(ctx context.Context) (*Runner, error) {
	fraction, err := QuotaFraction(os.Getenv("QUOTA_FRACTION"))
	if err != nil {
		return nil, err
	}
	pacer, err := pace.New(fraction)
	if err != nil {
		return nil, err
	}
	counter := awsconfig.NewCallCounter()
	// One pacer for the container's life: a warm container's next run
	// draws on the same buckets, as it does on the same AWS quotas.
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Counter: counter, Pacer: pacer})
	if err != nil {
		return nil, err
	}
	audit, err := auditRegions(os.Getenv("AUDIT_REGIONS"), os.Getenv("EXCLUDED_REGIONS"), cfg.Region)
	if err != nil {
		return nil, err
	}
	home, err := HomeRegion(os.Getenv("HOME_REGION"), cfg.Region)
	if err != nil {
		return nil, err
	}
	reimport, err := reimportAfter(os.Getenv("REIMPORT_AFTER_HOURS"))
	if err != nil {
		return nil, err
	}
	parallel, err := parallelRegions(os.Getenv("PARALLEL_REGIONS"))
	if err != nil {
		return nil, err
	}
	tableUnits, err := StateTableWriteUnits(os.Getenv("STATE_TABLE_WRITE_UNITS"))
	if err != nil {
		return nil, err
	}
	return &Runner{
		MaxParallelRegions: parallel,
		AWS:                cfg,
		Counter:            counter,
		Regions:            audit.Named,
		AllRegions:         audit.All,
		ExcludedRegions:    audit.Excluded,
		HomeRegion:         home,
		Collectors:         Collectors(),
		// Security Hub's quotas are paced at the same share as the others'.
		Publisher:           publish.Publisher{ReimportAfter: reimport, State: stateStore(os.Getenv("FINDING_STATE_TABLE"), cfg.Region, tableUnits), Limiters: publish.NewLimitersAt(fraction)},
		ToolVersion:         Version,
		Getenv:              os.Getenv,
		Now:                 time.Now,
		OrganizationPlanner: strings.TrimSpace(os.Getenv("ORGANIZATION_PLANNER")),
	}, nil
}

// auditRegions reads AUDIT_REGIONS and EXCLUDED_REGIONS: "all" alone, or
// region names (empty: fallback, the function's region); exclusions only
// narrow "all", so with a list of names they are refused rather than
// silently applied to one and not the other.
func auditRegions(audit, excluded, fallback string) (regions.Request, error) {
	names := SplitList(audit)
	excl, err := trigger.ValidateRegions(SplitList(excluded))
	if err != nil {
		return regions.Request{}, fmt.Errorf("EXCLUDED_REGIONS: %w", err)
	}
	if slices.Contains(names, regions.All) {
		if len(names) != 1 {
			return regions.Request{}, fmt.Errorf("AUDIT_REGIONS: %q must stand alone (every enabled region), not among region names: %q", regions.All, audit)
		}
		return regions.Request{All: true, Excluded: excl}, nil
	}
	if len(excl) > 0 {
		return regions.Request{}, fmt.Errorf("EXCLUDED_REGIONS applies only to AUDIT_REGIONS=%s; with a list of regions (%q), leave the excluded ones out of it", regions.All, audit)
	}
	if len(names) == 0 {
		names = []string{fallback}
	}
	named, err := trigger.ValidateRegions(names)
	if err != nil {
		return regions.Request{}, fmt.Errorf("AUDIT_REGIONS: %w", err)
	}
	return regions.Request{Named: named}, nil
}

// SplitList reads a comma-separated setting: its items trimmed, empty
// ones dropped.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// reimportAfter reads REIMPORT_AFTER_HOURS: how long an unchanged finding is
// not imported again (default 24; 0 imports every finding on every run).
func reimportAfter(v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return 0, nil // publish.DefaultReimportAfter
	}
	h, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || h < 0 || h > 24*60 {
		return 0, fmt.Errorf("REIMPORT_AFTER_HOURS: %q is not a whole number of hours from 0 to 1440 (Security Hub deletes findings not updated for 90 days)", v)
	}
	if h == 0 {
		return -1, nil
	}
	return time.Duration(h) * time.Hour, nil
}

// HomeRegion reads HOME_REGION, where global services are read and their
// findings imported: fallback (the function's region) when empty.
func HomeRegion(v, fallback string) (string, error) {
	home := strings.TrimSpace(v)
	if home == "" {
		home = fallback
	}
	if !trigger.ValidRegion(home) {
		return "", fmt.Errorf("HOME_REGION: malformed region %q", home)
	}
	return home, nil
}

// QuotaFraction reads QUOTA_FRACTION: the share of each documented AWS
// request quota a run paces its calls at (pkg/pace), a number in (0, 1];
// default pace.DefaultFraction, which leaves the rest to the account's own
// workloads.
func QuotaFraction(v string) (float64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return pace.DefaultFraction, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || pace.ValidFraction(f) != nil {
		return 0, fmt.Errorf("QUOTA_FRACTION: %q is not a number greater than 0 and at most 1 (the share of AWS's request quotas a run may use; default %v)", v, pace.DefaultFraction)
	}
	return f, nil
}

// stateStore is the finding state table FINDING_STATE_TABLE names, in the
// function's region, at the endpoint the SDK is pointed at, its writes
// paced at tableUnits a second; none means every run reads Security Hub
// back (and says so).
func stateStore(table, region string, tableUnits float64) publish.StateStore {
	if strings.TrimSpace(table) == "" {
		return nil
	}
	// The table is in the function's own region; findings of every
	// audited region are kept there.
	return &findingstate.Store{Table: strings.TrimSpace(table), Region: region, TableWriteUnits: tableUnits, Boilerplate: Boilerplate}
}

// Boilerplate is what every finding of a check says alike
// (asff.Boilerplate), for the finding state's records to leave out.
func Boilerplate(checkID string) (types.AwsSecurityFinding, bool) {
	b, ok := boilerplates()[checkID]
	return b, ok
}

var boilerplates = sync.OnceValue(func() map[string]types.AwsSecurityFinding {
	out := map[string]types.AwsSecurityFinding{}
	for _, c := range registry.All() {
		out[c.ID] = asff.Boilerplate(c)
	}
	return out
})

// StateTableWriteUnits reads STATE_TABLE_WRITE_UNITS: the write units a
// second the finding state table takes at once (a new on-demand table
// 4,000; its warm throughput when raised). It returns the pace of a run's
// writes, 90% of that, as pkg/pace leaves headroom; empty is
// findingstate.DefaultTableWriteUnits.
func StateTableWriteUnits(v string) (float64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return findingstate.DefaultTableWriteUnits, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 40000 {
		return 0, fmt.Errorf("STATE_TABLE_WRITE_UNITS: %q is not a whole number from 1 to 40000 (the write units a second the finding state table takes; a new on-demand table takes 4000)", v)
	}
	return 0.9 * float64(n), nil
}

// parallelRegions reads PARALLEL_REGIONS: how many regions a sweep reads
// at once, 1 to 32 (default DefaultParallelRegions). More is faster when
// several regions are busy, and needs memory for each.
func parallelRegions(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 32 {
		return 0, fmt.Errorf("PARALLEL_REGIONS: %q is not a whole number from 1 to 32 (regions a sweep reads at once; default %d)", v, DefaultParallelRegions)
	}
	return n, nil
}
