// Package cloudtrailchecks holds the checks on CloudTrail: each trail's log
// encryption and log file validation (judged once, in the trail's home
// region), and the account-wide question whether a multi-region trail logs
// every management event (judged once per account, in the home region).
package cloudtrailchecks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/cmk"
	"github.com/posture-auditor/posture-auditor/pkg/keyref"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Checks are this package's checks, in registry order.
func Checks() []check.Check { return []check.Check{Encryption, MultiRegionLogging, LogValidation} }

var findingTypes = []string{"Software and Configuration Checks/AWS Security Best Practices"}

// Encryption is cloudtrail.encryption (Security Hub CloudTrail.2, stricter:
// the key must also be healthy).
var Encryption = check.Check{
	ID:    "cloudtrail.encryption",
	Title: "CloudTrail trails encrypt their log files with a healthy customer managed KMS key",
	Description: "A trail's log files should be encrypted with SSE-KMS under a customer managed key, so reading them " +
		"needs kms:Decrypt as well as S3 access. A trail without a KMS key (SSE-S3 only) fails; a trail whose key is " +
		"disabled, pending deletion or deleted fails with HIGH severity, since CloudTrail cannot encrypt new log files " +
		"with it. Trails are judged in their home region.",
	Rule: "a trail's log files are encrypted with a customer managed KMS key that is healthy: no KMS key " +
		"(SSE-S3 only) FAILED (MEDIUM); key disabled, pending deletion or deleted FAILED (HIGH); key " +
		"health unknown NOT_AVAILABLE. Each trail is judged in its home region.",
	Severity:     check.Medium,
	ResourceType: snapshot.CloudTrailTrailType,
	Types:        findingTypes,
	Remediation: "Create or choose a customer managed symmetric key whose key policy lets cloudtrail.amazonaws.com " +
		"encrypt, then: aws cloudtrail update-trail --name <trail> --kms-key-id <key>. For an unhealthy key, enable it " +
		"or cancel its deletion (aws kms cancel-key-deletion), or move the trail to another key.",
	RemediationURL:      "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html",
	SecurityHubControls: []string{"CloudTrail.2"},
	RelatedRequirements: []string{"CIS AWS Foundations Benchmark v3.0.0/3.5", "NIST.800-53.r5 AU-9", "NIST.800-53.r5 SC-13", "NIST.800-53.r5 SC-28", "NIST.800-53.r5 SC-28(1)"},
	Services:            []snapshot.Service{snapshot.CloudTrail, snapshot.KMS, snapshot.KMSReferenced},
	Evaluate:            evaluateEncryption,
}

func evaluateEncryption(s *snapshot.Snapshot, _ check.Params) []check.Result {
	var out []check.Result
	for _, t := range sortedTrails(s) {
		r := result(s, t)
		if t.KMSKeyID == "" {
			r.Status, r.Reason = check.Failed, "log files are encrypted with SSE-S3 only, not with a KMS key"
			out = append(out, r)
			continue
		}
		// A trail names a key explicitly: there is no default key.
		v := cmk.Judge(s, true, t.KMSKeyID, "")
		k := v.Key
		name := k.Name()
		if name == "" {
			name = t.KMSKeyID // a deleted key's record has no ID to name it by
		}
		switch {
		case k.Health.Unhealthy():
			r.Status, r.Severity = check.Failed, check.High
			r.Reason = fmt.Sprintf("log files are encrypted with key %s, which is %s: CloudTrail cannot encrypt new log files", name, health(k.Health))
		case v.Status != check.Passed:
			r.Status, r.Severity, r.Reason = v.Status, v.Severity, v.Reason
		case k.Health != keyref.Enabled:
			r.Status = check.NotAvailable
			r.Reason = "customer managed key " + name + ": health unknown"
			if k.Reason != "" {
				r.Reason += ": " + k.Reason
			}
		default:
			r.Status, r.Reason = check.Passed, "log files are encrypted with healthy customer managed key "+name
		}
		out = append(out, r)
	}
	return out
}

func health(h keyref.Health) string {
	switch h {
	case keyref.PendingDeletion:
		return "pending deletion"
	case keyref.Unavailable:
		return "unusable"
	}
	return strings.ToLower(string(h))
}

// LogValidation is cloudtrail.log-validation (Security Hub CloudTrail.4).
var LogValidation = check.Check{
	ID:    "cloudtrail.log-validation",
	Title: "CloudTrail trails have log file integrity validation enabled",
	Description: "With log file validation, CloudTrail delivers signed digest files, so a log file modified or " +
		"deleted after delivery can be detected. Trails are judged in their home region.",
	Rule: "a trail has log file integrity validation on; a `DescribeTrails` answer without " +
		"`LogFileValidationEnabled` is NOT_AVAILABLE, not FAILED. LOW. Each trail is judged in its " +
		"home region.",
	Severity:            check.Low,
	ResourceType:        snapshot.CloudTrailTrailType,
	Types:               findingTypes,
	Remediation:         "aws cloudtrail update-trail --name <trail> --enable-log-file-validation",
	RemediationURL:      "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-enabling.html",
	SecurityHubControls: []string{"CloudTrail.4"},
	RelatedRequirements: []string{"CIS AWS Foundations Benchmark v3.0.0/3.2", "NIST.800-53.r5 AU-9", "NIST.800-53.r5 SI-7", "NIST.800-53.r5 SI-7(1)"},
	Services:            []snapshot.Service{snapshot.CloudTrail},
	Evaluate:            evaluateLogValidation,
}

func evaluateLogValidation(s *snapshot.Snapshot, _ check.Params) []check.Result {
	var out []check.Result
	for _, t := range sortedTrails(s) {
		r := result(s, t)
		switch {
		case !t.LogFileValidation.Known:
			r.Status, r.Reason = check.NotAvailable, t.LogFileValidation.Reason
		case t.LogFileValidation.Value:
			r.Status, r.Reason = check.Passed, "log file validation is enabled"
		default:
			r.Status, r.Reason = check.Failed, "log file validation is disabled"
		}
		out = append(out, r)
	}
	return out
}

// MultiRegionLogging is cloudtrail.multi-region-logging (Security Hub
// CloudTrail.1 and CloudTrail.3). It judges the account, once, in the home
// region, from every multi-region trail visible there (the account's own,
// wherever their home region, and its organization's).
var MultiRegionLogging = check.Check{
	ID:    "cloudtrail.multi-region-logging",
	Title: "The account has a multi-region CloudTrail trail logging all management events",
	Description: "At least one multi-region trail, the account's own or its organization's, should be logging and " +
		"record both read and write management events from every event source, so API activity in every region, " +
		"including regions not in use, is recorded. A trail excluding management event sources (such as " +
		"kms.amazonaws.com or rdsdata.amazonaws.com) does not count, as in the AWS Config rule behind CloudTrail.1.",
	Rule: "the account (`AwsAccount`, `AWS::::Account:<id>`) has at least one multi-region trail, its own or " +
		"its organization's, that is logging (`GetTrailStatus`) and records read and write management " +
		"events from every event source (`GetEventSelectors`: classic selectors, or advanced " +
		"selectors on `eventCategory = Management` without a `readOnly` restriction). A trail whose " +
		"selectors exclude management event sources (classic `ExcludeManagementEventSources`, " +
		"advanced `eventSource` NotEquals such as `kms.amazonaws.com` or `rdsdata.amazonaws.com`) " +
		"does not count, as in the AWS Config rule `multi-region-cloudtrail-enabled` behind " +
		"CloudTrail.1; the reason names the exclusion. Global: judged once, in the home region, over " +
		"every multi-region trail visible there (`DescribeTrails` with shadow trails), wherever its " +
		"home region; status and selectors are read in each trail's home region. A trail whose status " +
		"or selectors could not be read, or that `DescribeTrails` did not say is multi-region or not, " +
		"gives NOT_AVAILABLE when no trail passes. HIGH.",
	Severity:     check.High,
	ResourceType: "AwsAccount",
	Types:        findingTypes,
	Remediation: "Create a multi-region trail (aws cloudtrail create-trail --name <trail> --s3-bucket-name <bucket> " +
		"--is-multi-region-trail), start it (aws cloudtrail start-logging), and keep its event selectors recording " +
		"management events with ReadWriteType All and no excluded management event sources.",
	RemediationURL:      "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/receive-cloudtrail-log-files-from-multiple-regions.html",
	SecurityHubControls: []string{"CloudTrail.1", "CloudTrail.3"},
	RelatedRequirements: []string{"CIS AWS Foundations Benchmark v3.0.0/3.1", "NIST.800-53.r5 AU-2", "NIST.800-53.r5 AU-3", "NIST.800-53.r5 AU-12", "NIST.800-53.r5 SI-4(20)"},
	Services:            []snapshot.Service{snapshot.CloudTrailAccount},
	Global:              true,
	Evaluate:            evaluateMultiRegionLogging,
}

// AccountResourceID is the ASFF resource Id of an account, as Security Hub's
// own AwsAccount findings write it.
func AccountResourceID(account string) string { return "AWS::::Account:" + account }

func evaluateMultiRegionLogging(s *snapshot.Snapshot, _ check.Params) []check.Result {
	r := check.Result{ResourceARN: AccountResourceID(s.Account), ResourceName: s.Account, Region: s.Region}
	trails := s.CloudTrail.MultiRegionTrails
	if !trails.Known {
		r.Status, r.Reason = check.NotAvailable, trails.Reason
		return []check.Result{r}
	}
	var passing, failing, unknown []string
	for _, t := range sortedByARN(trails.Value) {
		logging, events := t.Logging, t.ManagementEvents
		var faults []string
		if logging.Known && !logging.Value {
			faults = append(faults, "not logging")
		}
		if events.Known && !events.Value.All() {
			faults = append(faults, "records "+events.Value.Describe())
		}
		switch {
		case len(faults) > 0:
			failing = append(failing, t.Name+": "+strings.Join(faults, ", "))
		case !logging.Known:
			unknown = append(unknown, t.Name+": "+logging.Reason)
		case !events.Known:
			unknown = append(unknown, t.Name+": "+events.Reason)
		default:
			passing = append(passing, t.Name)
		}
	}
	switch {
	case len(passing) > 0:
		r.Status = check.Passed
		r.Reason = "multi-region trails logging all management events: " + strings.Join(passing, ", ")
	case len(unknown) > 0:
		// A trail that could not be read might be the one that logs: no
		// verdict.
		r.Status = check.NotAvailable
		r.Reason = "no multi-region trail is known to log all management events; unreadable: " + strings.Join(unknown, "; ")
		if len(failing) > 0 {
			r.Reason += "; failing: " + strings.Join(failing, "; ")
		}
	case len(failing) == 0:
		r.Status, r.Reason = check.Failed, "the account has no multi-region trail"
	default:
		r.Status, r.Reason = check.Failed, "no multi-region trail logs all management events: "+strings.Join(failing, "; ")
	}
	return []check.Result{r}
}

func sortedTrails(s *snapshot.Snapshot) []*snapshot.CloudTrailTrail {
	return sortedByARN(s.CloudTrail.Trails)
}

func sortedByARN(trails []*snapshot.CloudTrailTrail) []*snapshot.CloudTrailTrail {
	out := append([]*snapshot.CloudTrailTrail(nil), trails...)
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

func result(s *snapshot.Snapshot, t *snapshot.CloudTrailTrail) check.Result {
	return check.Result{
		ResourceARN:  t.ARN,
		ResourceName: t.Name,
		Region:       s.Region,
		Details:      &check.ResourceDetails{AwsCloudTrailTrail: Details(t)},
	}
}

// Details is the ASFF AwsCloudTrailTrail details object of t.
func Details(t *snapshot.CloudTrailTrail) *shtypes.AwsCloudTrailTrailDetails {
	return &shtypes.AwsCloudTrailTrailDetails{
		Name:                       str(t.Name),
		TrailArn:                   str(t.ARN),
		HomeRegion:                 str(t.HomeRegion),
		IsMultiRegionTrail:         known(t.MultiRegion),
		IsOrganizationTrail:        aws.Bool(t.Organization),
		IncludeGlobalServiceEvents: aws.Bool(t.IncludeGlobalServiceEvents),
		LogFileValidationEnabled:   known(t.LogFileValidation),
		HasCustomEventSelectors:    aws.Bool(t.HasCustomEventSelectors),
		KmsKeyId:                   str(t.KMSKeyID),
		S3BucketName:               str(t.S3BucketName),
		S3KeyPrefix:                str(t.S3KeyPrefix),
		SnsTopicArn:                str(t.SNSTopicARN),
		CloudWatchLogsLogGroupArn:  str(t.CloudWatchLogsLogGroupARN),
		CloudWatchLogsRoleArn:      str(t.CloudWatchLogsRoleARN),
	}
}

// known is nil for an unknown value, so it stays out of the finding.
func known(f snapshot.Fact[bool]) *bool {
	if !f.Known {
		return nil
	}
	return aws.Bool(f.Value)
}

// str is nil for an empty string, so absent fields stay out of the finding.
func str(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
