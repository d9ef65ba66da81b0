package snapshot

import "strings"

// CloudTrailTrailType is the ASFF resource type of a trail.
const CloudTrailTrailType = "AwsCloudTrailTrail"

// CloudTrailAccount is a second CloudTrail collection: the account-wide view
// that cloudtrail.multi-region-logging judges. It is its own Service so
// that, being read by a global check only, it is collected once per run, in
// the home region, while the per-trail collection (CloudTrail) runs in every
// audited region.
const CloudTrailAccount Service = "cloudtrail-account"

// CloudTrailData is what the cloudtrail collectors read in one region.
type CloudTrailData struct {
	// Trails are the account's trails whose home region is this region
	// (DescribeTrails with includeShadowTrails=false), so each trail is
	// judged once, in its home region. A failed listing leaves it empty,
	// with the error recorded in Snapshot.Errors.
	Trails []*CloudTrailTrail

	// MultiRegionTrails is the account-wide view (service CloudTrailAccount,
	// collected in the home region only): every multi-region trail that logs
	// this account, wherever its home region, including organization trails
	// of the management account (DescribeTrails with
	// includeShadowTrails=true), each with its logging status and event
	// selectors. A trail DescribeTrails did not say is multi-region or not
	// is kept too, with status and selectors unknown, so it can never be
	// silently left out. Unknown when DescribeTrails failed.
	MultiRegionTrails Fact[[]*CloudTrailTrail]
}

// CloudTrailTrail is one trail from DescribeTrails.
type CloudTrailTrail struct {
	Name       string
	ARN        string
	HomeRegion string

	// MultiRegion and LogFileValidation are unknown when DescribeTrails
	// omitted them (AWS always returns them).
	MultiRegion                Fact[bool]
	Organization               bool
	IncludeGlobalServiceEvents bool
	LogFileValidation          Fact[bool]
	HasCustomEventSelectors    bool
	// KMSKeyID is the key ARN the log files are encrypted with; empty means
	// SSE-S3 only (no KMS key).
	KMSKeyID string

	S3BucketName              string
	S3KeyPrefix               string
	SNSTopicARN               string
	CloudWatchLogsLogGroupARN string
	CloudWatchLogsRoleARN     string

	// Logging (GetTrailStatus IsLogging) and ManagementEvents
	// (GetEventSelectors) are read for the account-wide view only; they stay
	// unknown, with a reason, elsewhere or when the call failed.
	Logging          Fact[bool]
	ManagementEvents Fact[ManagementEventCoverage]
}

// ManagementEventCoverage says which management events a trail's event
// selectors record.
type ManagementEventCoverage struct {
	Read, Write bool
	// Excluded are the event sources (kms.amazonaws.com,
	// rdsdata.amazonaws.com) whose management events the selectors leave
	// out, sorted; nil when none is.
	Excluded []string
}

// All reports read and write management events both recorded, from every
// event source.
func (c ManagementEventCoverage) All() bool { return c.Read && c.Write && len(c.Excluded) == 0 }

// Describe names the coverage for a finding.
func (c ManagementEventCoverage) Describe() string {
	var out string
	switch {
	case c.Read && c.Write:
		out = "all management events"
	case c.Read:
		out = "read-only management events only"
	case c.Write:
		out = "write-only management events only"
	default:
		return "no management events"
	}
	if len(c.Excluded) > 0 {
		out += ", excluding those of " + strings.Join(c.Excluded, ", ")
	}
	return out
}
