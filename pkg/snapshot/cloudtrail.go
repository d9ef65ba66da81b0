package snapshot

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
	// selectors. Unknown when DescribeTrails failed.
	MultiRegionTrails Fact[[]*CloudTrailTrail]
}

// CloudTrailTrail is one trail from DescribeTrails.
type CloudTrailTrail struct {
	Name       string
	ARN        string
	HomeRegion string

	MultiRegion                bool
	Organization               bool
	IncludeGlobalServiceEvents bool
	LogFileValidation          bool
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
}

// All reports read and write management events both recorded.
func (c ManagementEventCoverage) All() bool { return c.Read && c.Write }

// Describe names the coverage for a finding.
func (c ManagementEventCoverage) Describe() string {
	switch {
	case c.All():
		return "all management events"
	case c.Read:
		return "read-only management events only"
	case c.Write:
		return "write-only management events only"
	}
	return "no management events"
}
