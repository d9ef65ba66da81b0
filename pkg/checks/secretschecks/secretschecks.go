// Package secretschecks holds the checks on Secrets Manager secrets:
// rotation switched on, rotation keeping to its schedule, rotation age,
// unused secrets, and encryption with a customer managed key. They read
// secret metadata only (from ListSecrets), never a secret value, and measure
// time against SecretsManagerData.CollectedAt, never the wall clock.
package secretschecks

import (
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/cmk"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Checks are this package's checks, in registry order.
func Checks() []check.Check {
	return []check.Check{RotationEnabled, RotationSucceeding, RotatedRecently, Unused, CMK}
}

// Threshold names (payload keys).
const (
	RotationGraceDays  = "secretsManagerRotationGraceDays"
	MaxRotationAgeDays = "secretsManagerMaxRotationAgeDays"
	MaxUnusedDays      = "secretsManagerMaxUnusedDays"
)

var (
	bestPractices = []string{"Software and Configuration Checks/AWS Security Best Practices"}
	// Security Hub's SecretsManager.1-4 all cite these; CIS AWS Foundations
	// has no Secrets Manager control.
	accountRequirements = []string{"NIST.800-53.r5 AC-2(1)", "NIST.800-53.r5 AC-3(15)"}
)

// RotationEnabled is secretsmanager.rotation-enabled (SecretsManager.1).
var RotationEnabled = check.Check{
	ID:    "secretsmanager.rotation-enabled",
	Title: "Secrets Manager secrets have automatic rotation enabled",
	Description: "Secrets should rotate automatically, so a leaked value stops working. A secret that another " +
		"service manages (OwningService, such as an RDS managed master password) is judged by that service's " +
		"managed rotation, which needs no rotation Lambda: Secrets Manager reports it as RotationEnabled too.",
	Rule: "a secret has automatic rotation on. A secret another service manages (`OwningService`, e.g. an " +
		"RDS managed master password) is judged by that service's managed rotation, which needs no " +
		"Lambda and which `ListSecrets` reports as `RotationEnabled`",
	Severity:     check.Medium,
	ResourceType: snapshot.SecretType,
	Types:        bestPractices,
	Remediation: "Turn on rotation: aws secretsmanager rotate-secret --secret-id <secret> --rotation-lambda-arn <function> " +
		"--rotation-rules ScheduleExpression='rate(30 days)'. For a managed secret, omit the Lambda and set the schedule only.",
	RemediationURL:      "https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets.html",
	SecurityHubControls: []string{"SecretsManager.1"},
	RelatedRequirements: accountRequirements,
	Services:            []snapshot.Service{snapshot.SecretsManager},
	Stream:              evaluateRotationEnabled,
}

func evaluateRotationEnabled(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	for _, sec := range sortedSecrets(s) {
		r := result(s, sec)
		switch {
		case sec.RotationEnabled && sec.Owned():
			r.Status, r.Reason = check.Passed, "managed rotation by "+sec.OwningService+" is on ("+scheduleText(sec.Rotation)+")"
		case sec.RotationEnabled:
			r.Status, r.Reason = check.Passed, "automatic rotation is on ("+scheduleText(sec.Rotation)+")"
		case sec.Owned():
			r.Status, r.Reason = check.Failed, "managed rotation by "+sec.OwningService+" is turned off"
		default:
			r.Status, r.Reason = check.Failed, "automatic rotation is not enabled"
		}
		emit(r)
	}
}

// RotationSucceeding is secretsmanager.rotation-succeeding (SecretsManager.2).
var RotationSucceeding = check.Check{
	ID:    "secretsmanager.rotation-succeeding",
	Title: "Secrets Manager secrets with rotation enabled rotate on schedule",
	Description: "A secret with rotation on should have rotated in the first rotation window that opened after its " +
		"last rotation (or its creation, if it never rotated), allowing a grace period. A rotation that keeps failing " +
		"leaves the old value in use while rotation looks enabled. Secrets without rotation are not judged.",
	Rule: "a secret with rotation on rotated in the first rotation window that opened after its last " +
		"rotation (or creation, if never rotated), plus `secretsManagerRotationGraceDays` (default " +
		"1). Windows follow the schedule: `rate(N days)` / `AutomaticallyAfterDays` (the UTC day N " +
		"days on), `rate(N hours)`, and `cron(...)` (the exact next firing; without a `Duration` the " +
		"window is taken to close at the end of that UTC day). An unreadable schedule is " +
		"NOT_AVAILABLE. Secrets without rotation are not judged.",
	Severity:     check.Medium,
	ResourceType: snapshot.SecretType,
	Types:        bestPractices,
	Remediation: "Find why rotation fails: the rotation Lambda's CloudWatch logs, its network path to the database and " +
		"to Secrets Manager, and its permissions; then rotate once by hand: aws secretsmanager rotate-secret --secret-id <secret>.",
	RemediationURL:      "https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot_rotation.html",
	SecurityHubControls: []string{"SecretsManager.2"},
	RelatedRequirements: accountRequirements,
	Services:            []snapshot.Service{snapshot.SecretsManager},
	Thresholds: []check.Threshold{{
		Name: RotationGraceDays, Env: "SECRETSMANAGER_ROTATION_GRACE_DAYS", Parameter: "SecretsManagerRotationGraceDays",
		Default: 1, Min: 0, Max: 30,
		Description: "days a due rotation may be late before rotation counts as failing",
	}},
	Stream: evaluateRotationSucceeding,
}

func evaluateRotationSucceeding(s *snapshot.Snapshot, p check.Params, emit func(check.Result)) {
	graceDays := p.Int(RotationGraceDays)
	now := s.SecretsManager.CollectedAt
	for _, sec := range sortedSecrets(s) {
		if !sec.RotationEnabled {
			continue // SecretsManager.2 does not judge secrets without rotation
		}
		r := result(s, sec)
		last, rotated := lastRotation(sec)
		since := "last rotated " + stamp(last)
		if !rotated {
			since = "never rotated since creation on " + stamp(last)
		}
		due, err := rotationDue(sec.Rotation, last)
		switch {
		case now.IsZero():
			r.Status, r.Reason = check.NotAvailable, "the collection time is unknown"
		case last.IsZero():
			r.Status, r.Reason = check.NotAvailable, "neither a last rotation date nor a creation date was reported"
		case err != nil:
			r.Status, r.Reason = check.NotAvailable, "cannot tell when rotation is due: "+err.Error()
		case now.After(due.Add(time.Duration(graceDays) * day)):
			r.Status = check.Failed
			r.Reason = fmt.Sprintf("%s; the rotation due by %s (%s) has not happened", since, stamp(due), scheduleText(sec.Rotation))
			r.Details.AwsSecretsManagerSecret.RotationOccurredWithinFrequency = aws.Bool(false)
		case now.After(due):
			r.Status = check.Passed
			r.Reason = fmt.Sprintf("%s; the rotation due by %s (%s) is late but within the %d-day grace", since, stamp(due), scheduleText(sec.Rotation), graceDays)
			r.Details.AwsSecretsManagerSecret.RotationOccurredWithinFrequency = aws.Bool(true)
		default:
			r.Status = check.Passed
			r.Reason = fmt.Sprintf("%s; next rotation due by %s (%s)", since, stamp(due), scheduleText(sec.Rotation))
			r.Details.AwsSecretsManagerSecret.RotationOccurredWithinFrequency = aws.Bool(true)
		}
		emit(r)
	}
}

// RotatedRecently is secretsmanager.rotated-recently (SecretsManager.4).
var RotatedRecently = check.Check{
	ID:    "secretsmanager.rotated-recently",
	Title: "Secrets Manager secrets were rotated within the maximum age",
	Description: "A secret's value should be no older than the configured maximum: its last rotation, or its " +
		"creation if it never rotated, must be recent. The longer a value lives, the more places it may have leaked to.",
	Rule: "a secret's last rotation (or creation, if never rotated) is at most " +
		"`secretsManagerMaxRotationAgeDays` (default 90) old",
	Severity:     check.Medium,
	ResourceType: snapshot.SecretType,
	Types:        bestPractices,
	Remediation: "Rotate the secret now (aws secretsmanager rotate-secret --secret-id <secret>) and turn on automatic " +
		"rotation with an interval no longer than the maximum age.",
	RemediationURL:      "https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets.html",
	SecurityHubControls: []string{"SecretsManager.4"},
	RelatedRequirements: accountRequirements,
	Services:            []snapshot.Service{snapshot.SecretsManager},
	Thresholds: []check.Threshold{{
		Name: MaxRotationAgeDays, Env: "SECRETSMANAGER_MAX_ROTATION_AGE_DAYS", Parameter: "SecretsManagerMaxRotationAgeDays",
		Default: 90, Min: 1, Max: 1000,
		Description: "longest acceptable time since a secret's last rotation (or creation), in days",
	}},
	Stream: evaluateRotatedRecently,
}

func evaluateRotatedRecently(s *snapshot.Snapshot, p check.Params, emit func(check.Result)) {
	maxDays := p.Int(MaxRotationAgeDays)
	now := s.SecretsManager.CollectedAt
	for _, sec := range sortedSecrets(s) {
		r := result(s, sec)
		last, rotated := lastRotation(sec)
		switch {
		case now.IsZero():
			r.Status, r.Reason = check.NotAvailable, "the collection time is unknown"
		case last.IsZero():
			r.Status, r.Reason = check.NotAvailable, "neither a last rotation date nor a creation date was reported"
		default:
			what := fmt.Sprintf("last rotated %s, on %s", ago(last, now), last.UTC().Format(time.DateOnly))
			if !rotated {
				what = fmt.Sprintf("never rotated; created %s, on %s", ago(last, now), last.UTC().Format(time.DateOnly))
			}
			r.Status, r.Reason = check.Passed, what
			if now.Sub(last) > time.Duration(maxDays)*day {
				r.Status, r.Reason = check.Failed, fmt.Sprintf("%s, more than the maximum of %d days", what, maxDays)
			}
		}
		emit(r)
	}
}

// Unused is secretsmanager.unused (SecretsManager.3).
var Unused = check.Check{
	ID:    "secretsmanager.unused",
	Title: "Secrets Manager secrets are in use",
	Description: "A secret nobody retrieved within the configured number of days is probably unused: deleting it " +
		"revokes access nobody needs. LastAccessedDate is kept to the day, so a retrieval counts until the end of its " +
		"day; a secret never retrieved is judged by its creation date.",
	Rule: "a secret was retrieved within `secretsManagerMaxUnusedDays` (default 90); `LastAccessedDate` is " +
		"kept to the day, so a retrieval counts to the end of its day. Never retrieved: FAILED once " +
		"the secret is older than the limit, PASSED before. LOW.",
	Severity:     check.Low,
	ResourceType: snapshot.SecretType,
	Types:        bestPractices,
	Remediation: "Confirm nothing still needs the secret, then schedule its deletion with a recovery window: " +
		"aws secretsmanager delete-secret --secret-id <secret> --recovery-window-in-days 30.",
	RemediationURL:      "https://docs.aws.amazon.com/secretsmanager/latest/userguide/manage_delete-secret.html",
	SecurityHubControls: []string{"SecretsManager.3"},
	RelatedRequirements: accountRequirements,
	Services:            []snapshot.Service{snapshot.SecretsManager},
	Thresholds: []check.Threshold{{
		Name: MaxUnusedDays, Env: "SECRETSMANAGER_MAX_UNUSED_DAYS", Parameter: "SecretsManagerMaxUnusedDays",
		Default: 90, Min: 1, Max: 1000,
		Description: "days without a retrieval after which a secret counts as unused",
	}},
	Stream: evaluateUnused,
}

func evaluateUnused(s *snapshot.Snapshot, p check.Params, emit func(check.Result)) {
	maxDays := p.Int(MaxUnusedDays)
	limit := time.Duration(maxDays) * day
	now := s.SecretsManager.CollectedAt
	for _, sec := range sortedSecrets(s) {
		r := result(s, sec)
		switch {
		case now.IsZero():
			r.Status, r.Reason = check.NotAvailable, "the collection time is unknown"
		case sec.LastAccessedDate != nil:
			accessed := sec.LastAccessedDate.UTC().Truncate(day)
			// The date is kept to the day: the retrieval may have come as
			// late as the end of it.
			if now.Sub(accessed.Add(day)) > limit {
				r.Status = check.Failed
				r.Reason = fmt.Sprintf("last retrieved on %s, more than %d days ago", accessed.Format(time.DateOnly), maxDays)
			} else {
				r.Status, r.Reason = check.Passed, "last retrieved on "+accessed.Format(time.DateOnly)
			}
		case sec.CreatedDate.IsZero():
			r.Status, r.Reason = check.NotAvailable, "never retrieved, and no creation date was reported"
		case now.Sub(sec.CreatedDate) > limit:
			r.Status = check.Failed
			r.Reason = fmt.Sprintf("never retrieved since its creation %s, on %s", ago(sec.CreatedDate, now), sec.CreatedDate.UTC().Format(time.DateOnly))
		default:
			r.Status = check.Passed
			r.Reason = fmt.Sprintf("never retrieved, but created only %s, within the %d-day limit", ago(sec.CreatedDate, now), maxDays)
		}
		emit(r)
	}
}

// CMK is secretsmanager.cmk.
var CMK = check.Check{
	ID:    "secretsmanager.cmk",
	Title: "Secrets Manager secrets are encrypted with a customer managed KMS key",
	Description: "Secrets are always encrypted; with the AWS managed key aws/secretsmanager, anyone allowed to read " +
		"the secret can decrypt it and the key policy cannot be narrowed. A customer managed key puts decryption " +
		"under a key policy you control and can audit.",
	Rule:         "a secret is encrypted with a customer managed key, not `aws/secretsmanager` (FAILED MEDIUM)",
	Severity:     check.Medium,
	ResourceType: snapshot.SecretType,
	Types:        bestPractices,
	Remediation: "Re-encrypt under a customer managed key: aws secretsmanager update-secret --secret-id <secret> " +
		"--kms-key-id <key>. Grant the secret's readers kms:Decrypt on that key first; the current version is re-encrypted.",
	RemediationURL:      "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
	RelatedRequirements: []string{"NIST.800-53.r5 SC-12", "NIST.800-53.r5 SC-28(1)"},
	Services:            []snapshot.Service{snapshot.SecretsManager, snapshot.KMS, snapshot.KMSReferenced},
	Stream:              evaluateCMK,
}

func evaluateCMK(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	for _, sec := range sortedSecrets(s) {
		r := result(s, sec)
		v := cmk.Judge(s, true, sec.KMSKeyID, snapshot.SecretsManagerDefaultKeyAlias)
		r.Status, r.Severity, r.Reason = v.Status, v.Severity, v.Reason
		if v.Key.ARN != "" {
			r.Related = []check.RelatedResource{{Type: "AwsKmsKey", ARN: v.Key.ARN}}
		}
		emit(r)
	}
}

// lastRotation is when the secret's value was last set by a rotation, or
// its creation when it never rotated (rotated false).
func lastRotation(sec *snapshot.Secret) (t time.Time, rotated bool) {
	if sec.LastRotatedDate != nil && !sec.LastRotatedDate.IsZero() {
		return sec.LastRotatedDate.UTC(), true
	}
	return sec.CreatedDate.UTC(), false
}

// sortedSecrets returns the secrets to judge, by ARN. A secret scheduled
// for deletion is not judged (the collector does not list them; this keeps
// the rule if a snapshot holds one anyway).
func sortedSecrets(s *snapshot.Snapshot) []*snapshot.Secret {
	out := make([]*snapshot.Secret, 0, len(s.SecretsManager.Secrets))
	for _, sec := range s.SecretsManager.Secrets {
		if sec.DeletedDate == nil {
			out = append(out, sec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

func result(s *snapshot.Snapshot, sec *snapshot.Secret) check.Result {
	return check.Result{
		ResourceARN:  sec.ARN,
		ResourceName: sec.Name,
		Region:       s.Region,
		Details:      &check.ResourceDetails{AwsSecretsManagerSecret: SecretDetails(sec)},
		Tags:         sec.Tags,
	}
}

// SecretDetails is the ASFF AwsSecretsManagerSecret details object.
func SecretDetails(sec *snapshot.Secret) *shtypes.AwsSecretsManagerSecretDetails {
	d := &shtypes.AwsSecretsManagerSecretDetails{
		Name:            aws.String(sec.Name),
		RotationEnabled: aws.Bool(sec.RotationEnabled),
		Deleted:         aws.Bool(sec.DeletedDate != nil),
	}
	if sec.Description != "" {
		d.Description = aws.String(sec.Description)
	}
	if sec.KMSKeyID != "" {
		d.KmsKeyId = aws.String(sec.KMSKeyID)
	}
	if sec.RotationLambdaARN != "" {
		d.RotationLambdaArn = aws.String(sec.RotationLambdaARN)
	}
	if n := intervalDays(sec.Rotation); n > 0 && n <= 1000 {
		d.RotationRules = &shtypes.AwsSecretsManagerSecretRotationRules{AutomaticallyAfterDays: aws.Int32(int32(n))}
	}
	return d
}

// stamp formats a time for a reason, to the minute, in UTC.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// ago says how long before now t was, in whole days.
func ago(t, now time.Time) string {
	switch n := int(now.Sub(t) / day); {
	case n < 1:
		return "today"
	case n == 1:
		return "1 day ago"
	default:
		return fmt.Sprintf("%d days ago", n)
	}
}
