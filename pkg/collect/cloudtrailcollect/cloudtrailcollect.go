// Package cloudtrailcollect reads CloudTrail trails. It has two collectors,
// one per snapshot service, so each is run only where its checks are:
//
//   - Collector (snapshot.CloudTrail, every audited region): the trails
//     whose home region is the region, from one DescribeTrails with
//     includeShadowTrails=false, so each trail is judged once, in its home
//     region. It needs no other call: encryption and log file validation
//     are in the listing.
//   - AccountCollector (snapshot.CloudTrailAccount, read by the global
//     cloudtrail.multi-region-logging, so collected in the home region
//     only): every multi-region trail that logs the account, wherever its
//     home region (DescribeTrails with includeShadowTrails=true, which also
//     shows an organization's trail to member accounts), with
//     GetTrailStatus and GetEventSelectors for each, called in the trail's
//     home region. Single-region trails cannot satisfy that check, so their
//     status is never read.
package cloudtrailcollect

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// API is the part of the CloudTrail client the collectors use; each method
// is one IAM action in template.yaml.
type API interface {
	DescribeTrails(context.Context, *cloudtrail.DescribeTrailsInput, ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error)
	GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error)
	GetEventSelectors(context.Context, *cloudtrail.GetEventSelectorsInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetEventSelectorsOutput, error)
}

// Operations are the IAM actions of every call the collectors can make: one
// per method of API, which TestOperationsMatchAPI keeps equal.
var Operations = []string{"cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"}

// TrailOperations are the calls of Collector (snapshot.CloudTrail) and
// AccountOperations those of AccountCollector (snapshot.CloudTrailAccount);
// TestCollectorsCallTheirOperations keeps them exact. docs/checks.md lists
// them under each check that reads the service.
var (
	TrailOperations   = []string{"cloudtrail:DescribeTrails"}
	AccountOperations = []string{"cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"}
)

func newAPI(f func(aws.Config) API, cfg aws.Config) API {
	if f != nil {
		return f(cfg)
	}
	return cloudtrail.NewFromConfig(cfg)
}

// Collector reads the trails homed in the region.
type Collector struct {
	// NewAPI builds the client; nil means cloudtrail.NewFromConfig.
	NewAPI func(aws.Config) API
}

// Service implements collect.Collector.
func (Collector) Service() snapshot.Service { return snapshot.CloudTrail }

// notRead is the reason of the status and selectors the per-region
// collection does not need.
const notRead = "not read: only multi-region trails are read for the account-wide check"

// Collect implements collect.Collector. A scope names trails by name or
// ARN (DescribeTrails' trailNameList). Trails of another account (an
// organization's trail seen from a member account) are left to the account
// that owns them. Each trail's KMS key is recorded as a key use; a trail
// without one is SSE-S3 only and uses no key.
//
// In a scoped run, a named trail DescribeTrails did not return is marked
// absent as the scope named it: AWS answers names and ARNs of trails that
// do not exist by leaving them out of trailList (DescribeTrails models no
// not-found error; every error it answers is recorded, naming the scope's
// trails, and marks nothing absent). A trail ARN of another region or
// account is not asked about here: it is that region's or account's.
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := newAPI(c.NewAPI, cfg)
	rec := collect.NewRecorder(snap, snapshot.CloudTrail)
	var named []string
	if !scope.All() {
		named = inRegion(snap, scope.ResourceIDs)
		if len(named) == 0 {
			return // nothing of this region's to read (or AccountSettings alone)
		}
	}
	out, err := api.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{
		IncludeShadowTrails: aws.Bool(false),
		TrailNameList:       named,
	})
	if err != nil {
		rec.Fail("DescribeTrails", strings.Join(named, ","), err)
		return
	}
	for _, t := range out.TrailList {
		trail := fromDescribe(t)
		if trail.HomeRegion != "" && trail.HomeRegion != snap.Region || !ownedBy(trail.ARN, snap.Account) {
			continue
		}
		if !scope.All() && !slices.ContainsFunc(named, answersTo(trail)) {
			continue // an endpoint that ignored trailNameList (moto does)
		}
		if !trail.LogFileValidation.Known {
			rec.Incomplete("DescribeTrails", trail.ARN, "LogFileValidationEnabled")
		}
		trail.Logging = snapshot.UnknownFact[bool](notRead)
		trail.ManagementEvents = snapshot.UnknownFact[snapshot.ManagementEventCoverage](notRead)
		snap.CloudTrail.Trails = append(snap.CloudTrail.Trails, trail)
		if trail.KMSKeyID != "" {
			snap.AddKeyUse(snapshot.KeyUse{
				Service: snapshot.CloudTrail, ResourceARN: trail.ARN, ResourceName: trail.Name,
				ResourceType: snapshot.CloudTrailTrailType, KeyRef: trail.KMSKeyID,
			})
		}
	}
	for _, id := range named {
		returned := false
		for _, t := range out.TrailList {
			// Any trail answering to the name counts, kept or not: it exists.
			returned = returned || answersTo(fromDescribe(t))(id)
		}
		if !returned {
			snap.MarkAbsent(snapshot.CloudTrail, id)
		}
	}
}

// answersTo reports whether a scope entry names trail: its name or its
// ARN. Case is ignored, so that a trail is never taken for absent over a
// spelling.
func answersTo(trail *snapshot.CloudTrailTrail) func(id string) bool {
	return func(id string) bool { return strings.EqualFold(id, trail.Name) || strings.EqualFold(id, trail.ARN) }
}

// inRegion keeps the scope entries this region's DescribeTrails can
// answer for: trail names, and trail ARNs of this region and account.
func inRegion(snap *snapshot.Snapshot, ids []string) []string {
	var out []string
	for _, id := range ids {
		if a, err := arn.Parse(id); err == nil && (a.Region != snap.Region || a.AccountID != snap.Account) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// AccountCollector reads the account-wide view of multi-region trails.
type AccountCollector struct {
	// Workers bounds concurrent per-trail calls (default 2: CloudTrail's
	// read quota is 10 per second, shared by every caller).
	Workers int
	// NewAPI builds the client; nil means cloudtrail.NewFromConfig.
	NewAPI func(aws.Config) API
}

// Service implements collect.Collector.
func (AccountCollector) Service() snapshot.Service { return snapshot.CloudTrailAccount }

// Collect implements collect.Collector. The account-wide question needs
// every trail, so a restricted scope is ignored.
func (c AccountCollector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, _ collect.Scope) {
	rec := collect.NewRecorder(snap, snapshot.CloudTrailAccount)
	out, err := newAPI(c.NewAPI, cfg).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		rec.Fail("DescribeTrails", "", err)
		snap.CloudTrail.MultiRegionTrails = snapshot.UnknownFact[[]*snapshot.CloudTrailTrail](collect.Reason("DescribeTrails", err))
		return
	}
	trails := []*snapshot.CloudTrailTrail{}
	var unsure []*snapshot.CloudTrailTrail
	for _, t := range out.TrailList {
		trail := fromDescribe(t)
		switch {
		case !trail.MultiRegion.Known:
			// Kept, unread: it may be the trail that logs the account, so
			// its absence from the verdict must show.
			rec.Incomplete("DescribeTrails", trail.ARN, "IsMultiRegionTrail")
			reason := "whether it is multi-region is unknown: " + trail.MultiRegion.Reason
			trail.Logging = snapshot.UnknownFact[bool](reason)
			trail.ManagementEvents = snapshot.UnknownFact[snapshot.ManagementEventCoverage](reason)
			unsure = append(unsure, trail)
		case trail.MultiRegion.Value:
			trails = append(trails, trail)
		}
	}
	workers := c.Workers
	if workers < 1 {
		workers = 2
	}
	collect.ForEach(ctx, workers, trails, func(ctx context.Context, t *snapshot.CloudTrailTrail) {
		// Status and selectors are asked of the trail's home region, where
		// they are authoritative for shadow and organization trails alike.
		home := cfg
		if t.HomeRegion != "" {
			home = awsconfig.ForRegion(cfg, t.HomeRegion)
		}
		api := newAPI(c.NewAPI, home)
		readStatus(ctx, api, rec, t)
		readSelectors(ctx, api, rec, t)
	})
	snap.CloudTrail.MultiRegionTrails = snapshot.KnownFact(append(trails, unsure...))
}

func fromDescribe(t cttypes.Trail) *snapshot.CloudTrailTrail {
	return &snapshot.CloudTrailTrail{
		Name:                       aws.ToString(t.Name),
		ARN:                        aws.ToString(t.TrailARN),
		HomeRegion:                 aws.ToString(t.HomeRegion),
		MultiRegion:                boolFact(t.IsMultiRegionTrail, "IsMultiRegionTrail"),
		Organization:               aws.ToBool(t.IsOrganizationTrail),
		IncludeGlobalServiceEvents: aws.ToBool(t.IncludeGlobalServiceEvents),
		LogFileValidation:          boolFact(t.LogFileValidationEnabled, "LogFileValidationEnabled"),
		HasCustomEventSelectors:    aws.ToBool(t.HasCustomEventSelectors),
		KMSKeyID:                   aws.ToString(t.KmsKeyId),
		S3BucketName:               aws.ToString(t.S3BucketName),
		S3KeyPrefix:                aws.ToString(t.S3KeyPrefix),
		SNSTopicARN:                aws.ToString(t.SnsTopicARN),
		CloudWatchLogsLogGroupARN:  aws.ToString(t.CloudWatchLogsLogGroupArn),
		CloudWatchLogsRoleARN:      aws.ToString(t.CloudWatchLogsRoleArn),
	}
}

// boolFact is a DescribeTrails boolean; nil is unknown, never false (the
// reason is what Recorder.Incomplete records for it).
func boolFact(v *bool, field string) snapshot.Fact[bool] {
	if v == nil {
		return snapshot.UnknownFact[bool]("DescribeTrails returned no " + field)
	}
	return snapshot.KnownFact(*v)
}

// ownedBy reports a trail ARN in account (an unparsable ARN is kept: the
// trail came from this account's own listing).
func ownedBy(trailARN, account string) bool {
	a, err := arn.Parse(trailARN)
	return err != nil || a.AccountID == account
}

func readStatus(ctx context.Context, api API, rec *collect.Recorder, t *snapshot.CloudTrailTrail) {
	out, err := api.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(t.ARN)})
	switch {
	case err != nil:
		rec.Fail("GetTrailStatus", t.ARN, err)
		t.Logging = snapshot.UnknownFact[bool](collect.Reason("GetTrailStatus", err))
	case out.IsLogging == nil:
		t.Logging = snapshot.UnknownFact[bool](rec.Incomplete("GetTrailStatus", t.ARN, "IsLogging"))
	default:
		t.Logging = snapshot.KnownFact(*out.IsLogging)
	}
}

func readSelectors(ctx context.Context, api API, rec *collect.Recorder, t *snapshot.CloudTrailTrail) {
	out, err := api.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String(t.ARN)})
	if err != nil {
		rec.Fail("GetEventSelectors", t.ARN, err)
		t.ManagementEvents = snapshot.UnknownFact[snapshot.ManagementEventCoverage](collect.Reason("GetEventSelectors", err))
		return
	}
	t.ManagementEvents = snapshot.KnownFact(Coverage(out.EventSelectors, out.AdvancedEventSelectors))
}

// Coverage is the union of the management events a trail's selectors
// record. Classic selectors record management events unless
// IncludeManagementEvents is false (its API default is true), for their
// ReadWriteType (default All), less their ExcludeManagementEventSources.
// Advanced selectors record them where a selector matches eventCategory =
// Management; a readOnly field selector narrows it to reads or writes, an
// eventSource one to or away from named sources (NotEquals
// kms.amazonaws.com). An event source left out by every selector that
// records management events is Excluded: the AWS Config rule behind
// CloudTrail.1 (multi-region-cloudtrail-enabled) is NON_COMPLIANT for a
// trail that excludes management event sources.
func Coverage(classic []cttypes.EventSelector, advanced []cttypes.AdvancedEventSelector) snapshot.ManagementEventCoverage {
	var scopes []selectorScope
	for _, s := range classic {
		if s.IncludeManagementEvents != nil && !*s.IncludeManagementEvents {
			continue
		}
		sc := selectorScope{except: s.ExcludeManagementEventSources}
		switch s.ReadWriteType {
		case cttypes.ReadWriteTypeReadOnly:
			sc.read = true
		case cttypes.ReadWriteTypeWriteOnly:
			sc.write = true
		default:
			sc.read, sc.write = true, true
		}
		scopes = append(scopes, sc)
	}
	for _, s := range advanced {
		management := false
		sc := selectorScope{read: true, write: true}
		for _, f := range s.FieldSelectors {
			switch aws.ToString(f.Field) {
			case "eventCategory":
				management = slices.Contains(f.Equals, "Management")
			case "readOnly":
				sc.read = slices.Contains(f.Equals, "true") || slices.Contains(f.NotEquals, "false")
				sc.write = slices.Contains(f.Equals, "false") || slices.Contains(f.NotEquals, "true")
			case "eventSource":
				sc.except = append(sc.except, f.NotEquals...)
				// Patterns cannot be listed as sources: each is named as
				// written, so it is excluded unless another selector
				// records every source.
				for _, p := range f.NotStartsWith {
					sc.except = append(sc.except, "eventSource NotStartsWith "+p)
				}
				for _, p := range f.NotEndsWith {
					sc.except = append(sc.except, "eventSource NotEndsWith "+p)
				}
				only := append([]string(nil), f.Equals...)
				for _, p := range f.StartsWith {
					only = append(only, "eventSource StartsWith "+p)
				}
				for _, p := range f.EndsWith {
					only = append(only, "eventSource EndsWith "+p)
				}
				if len(only) > 0 {
					sc.only = only
				}
			}
		}
		if management {
			scopes = append(scopes, sc)
		}
	}

	var c snapshot.ManagementEventCoverage
	named := map[string]bool{}
	for _, sc := range scopes {
		if sc.only == nil {
			c.Read = c.Read || sc.read
			c.Write = c.Write || sc.write
		}
		for _, n := range append(slices.Clone(sc.only), sc.except...) {
			named[n] = true
		}
	}
	for n := range named {
		if c.Read && !anyCovers(scopes, n, true) || c.Write && !anyCovers(scopes, n, false) {
			c.Excluded = append(c.Excluded, n)
		}
	}
	slices.Sort(c.Excluded)
	return c
}

// selectorScope is what one selector records of management events: reads,
// writes, from every event source but except, or from only those in only
// (nil: no such restriction).
type selectorScope struct {
	read, write  bool
	only, except []string
}

func anyCovers(scopes []selectorScope, source string, read bool) bool {
	for _, sc := range scopes {
		if (read && sc.read || !read && sc.write) &&
			(sc.only == nil || slices.Contains(sc.only, source)) && !slices.Contains(sc.except, source) {
			return true
		}
	}
	return false
}
