package report

import (
	"bytes"
	"errors"
	"flag"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const acct = "111122223333"

func arn(service, region, rest string) string {
	return "arn:aws:" + service + ":" + region + ":" + acct + ":" + rest
}

func finding(checkID, region, resARN, name string, st check.Status, sev, reason string, action publish.Action) runner.FindingSummary {
	return runner.FindingSummary{
		FindingID: "posture-auditor/" + checkID + "/" + acct + "/" + region + "/" + resARN,
		CheckID:   checkID, ResourceARN: resARN, ResourceName: name, Region: region,
		Status: st, Severity: sev, Reason: reason, Action: action,
	}
}

// clean: every check PASSED, published in one region, nothing to say.
func cleanRun() *runner.Summary {
	key := arn("kms", "eu-west-1", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
	return &runner.Summary{
		Trigger: trigger.Schedule, Account: acct, Regions: []string{"eu-west-1"},
		Checks: []string{"kms.pending-deletion", "kms.rotation"},
		Counts: map[string]map[check.Status]int{
			"kms.pending-deletion": {check.Passed: 1},
			"kms.rotation":         {check.Passed: 1},
		},
		Findings: []runner.FindingSummary{
			finding("kms.pending-deletion", "eu-west-1", key, "alias/app", check.Passed, "INFORMATIONAL", "key is Enabled", publish.ActionUnchanged),
			finding("kms.rotation", "eu-west-1", key, "alias/app", check.Passed, "INFORMATIONAL", "automatic rotation every 365 days", publish.ActionUnchanged),
		},
		FailedScopes: []runner.Scope{},
		Lifecycle:    runner.Lifecycle{Unchanged: 2},
		Published:    []publish.Report{{Region: "eu-west-1", Stored: 2, Unchanged: 2, StateSource: "finding state table"}},
	}
}

// failures: two regions, failed scopes (one with errors beyond the limit,
// one with a message that needs cleaning and shortening), FAILED findings
// of every severity given out of order, NOT_AVAILABLE ones, a refused
// region and notices.
func failures() *runner.Summary {
	k1 := arn("kms", "us-east-1", "key/aaaa1111-0000-0000-0000-000000000001")
	k2 := arn("kms", "us-east-1", "key/aaaa1111-0000-0000-0000-000000000002")
	k3 := arn("kms", "eu-west-1", "key/bbbb2222-0000-0000-0000-000000000003")
	longMsg := "User: arn:aws:sts::111122223333:assumed-role/posture-auditor-AuditorFunctionRole-ABCDEFGHIJKL/posture-auditor\tis not authorized to perform:\nsecretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action"
	longName := "arn:aws:rds:us-east-1:111122223333:cluster-snapshot:rds:a-very-long-aurora-cluster-name-used-by-the-payments-team-2026-11-27-06-00"
	return &runner.Summary{
		Trigger: trigger.Schedule, Account: acct, Regions: []string{"us-east-1", "eu-west-1"},
		Checks: []string{"acm.expiry", "cloudtrail.log-validation", "ebs.volume-cmk", "kms.key-in-use-unhealthy", "kms.rotation", "rds.snapshot-cmk", "secretsmanager.cmk"},
		Counts: map[string]map[check.Status]int{
			"acm.expiry":                {check.Failed: 1},
			"cloudtrail.log-validation": {check.Failed: 1, check.Passed: 1},
			"ebs.volume-cmk":            {check.Failed: 1},
			"kms.key-in-use-unhealthy":  {check.Failed: 1, check.Passed: 1},
			"kms.rotation":              {check.Failed: 1, check.NotAvailable: 1, check.Passed: 1},
			"rds.snapshot-cmk":          {check.Failed: 1},
			"secretsmanager.cmk":        {check.NotAvailable: 1},
		},
		Findings: []runner.FindingSummary{
			finding("kms.rotation", "us-east-1", k2, "alias/demo/not-rotating", check.Failed, "MEDIUM", "automatic key rotation is disabled", publish.ActionNew),
			finding("cloudtrail.log-validation", "us-east-1", arn("cloudtrail", "us-east-1", "trail/plain"), "plain", check.Failed, "LOW", "log file validation is disabled", publish.ActionUpdated),
			finding("kms.rotation", "eu-west-1", k3, "", check.NotAvailable, "INFORMATIONAL", "GetKeyRotationStatus failed: AccessDeniedException: denied", publish.ActionKeptFailed),
			finding("kms.key-in-use-unhealthy", "us-east-1", k1, "alias/demo/retired", check.Failed, "CRITICAL", "key is PendingDeletion and protects 1 resource: cloudtrail retired", publish.ActionNew),
			finding("acm.expiry", "us-east-1", arn("acm", "us-east-1", "certificate/c1"), "api.example.com", check.Failed, "HIGH", "certificate expires on 2026-12-06, in 9 days, within the 30-day threshold, and it is in use", publish.ActionReactivated),
			finding("ebs.volume-cmk", "us-east-1", arn("ec2", "us-east-1", "volume/vol-0abc"), "data", check.Failed, "HIGH", "not encrypted", publish.ActionNew),
			finding("rds.snapshot-cmk", "us-east-1", longName, "", check.Failed, "HIGH", "manual aurora-mysql DB cluster snapshot: not encrypted", ""),
			finding("kms.rotation", "us-east-1", k1, "alias/demo/retired", check.Passed, "INFORMATIONAL", "automatic rotation every 365 days", publish.ActionUnchanged),
			finding("secretsmanager.cmk", "us-east-1", "", "", check.NotAvailable, "INFORMATIONAL", "ListSecrets failed: AccessDeniedException", ""),
		},
		FindingsOmitted: 2,
		FailedScopes: []runner.Scope{
			{Region: "us-east-1", CheckID: "secretsmanager.cmk", Errors: []snapshot.CollectionError{
				{Service: snapshot.SecretsManager, Region: "us-east-1", Operation: "ListSecrets", Code: "AccessDeniedException", Message: longMsg},
			}},
			{Region: "eu-west-1", CheckID: "kms.rotation", Errors: []snapshot.CollectionError{
				{Service: snapshot.KMS, Region: "eu-west-1", Operation: "GetKeyRotationStatus", Resource: k3, Code: "AccessDeniedException", Message: "denied"},
				{Service: snapshot.KMS, Region: "eu-west-1", Operation: "GetKeyRotationStatus", Resource: arn("kms", "eu-west-1", "key/cccc"), Code: "ThrottlingException", Message: "Rate exceeded"},
			}, ErrorsOmitted: 21},
			{Region: "us-east-1", CheckID: "rds.snapshot-cmk"},
		},
		Lifecycle:             runner.Lifecycle{New: 3, Updated: 1, Reactivated: 1, Unchanged: 1, Imported: 4, Failed: 2, KeptFailed: 1},
		SecurityHubNotEnabled: []string{"eu-west-1"},
		Notices: []string{
			"eu-west-1: Security Hub is not enabled in eu-west-1 (InvalidAccessException): 1 finding not published",
			"us-east-1: 1 findings were not imported after retries (InvalidInput x1); they are listed in published[].failed",
			"2 findings (PASSED, then NOT_AVAILABLE ones first) are left out of this reply to keep it under Lambda's 6 MB response limit; counts and Security Hub hold them all",
		},
		Published: []publish.Report{
			{Region: "us-east-1", New: 3, Updated: 1, Reactivated: 1, Unchanged: 1, Imported: 4, KeptFailed: 1,
				Failed: []publish.FailedFinding{{ID: "x", ErrorCode: "InvalidInput", ErrorMessage: "bad"}}},
			{Region: "eu-west-1", SecurityHubNotEnabled: true, Unpublished: 1, Error: "Security Hub is not enabled in eu-west-1", ErrorCode: "InvalidAccessException"},
		},
	}
}

// dryRun: a kms.rotation dry run with a threshold override.
func dryRun() *runner.Summary {
	k := arn("kms", "us-east-1", "key/dddd")
	return &runner.Summary{
		Trigger: trigger.OnDemand, Account: acct, Regions: []string{"us-east-1"}, Checks: []string{"kms.rotation"}, DryRun: true,
		Counts:       map[string]map[check.Status]int{"kms.rotation": {check.Failed: 1}},
		Findings:     []runner.FindingSummary{finding("kms.rotation", "us-east-1", k, "alias/app", check.Failed, "MEDIUM", "automatic rotation every 365 days, more than the maximum of 180 days", publish.ActionUpdated)},
		FailedScopes: []runner.Scope{},
		Lifecycle:    runner.Lifecycle{Updated: 1},
		WouldPublish: []publish.Report{{Region: "us-east-1", DryRun: true, Stored: 1, Updated: 1, Sent: 1}},
	}
}

// targeted: a re-check of named resources, one of each outcome, and a
// key's dependent.
func targeted() *runner.Summary {
	key := arn("kms", "us-east-1", "key/eeee")
	vol := arn("ec2", "us-east-1", "volume/vol-0def")
	return &runner.Summary{
		Trigger: trigger.OnDemand, Account: acct, Regions: []string{"us-east-1"},
		Checks: []string{"ebs.volume-cmk", "kms.key-in-use-unhealthy", "kms.rotation", "secretsmanager.cmk"},
		Counts: map[string]map[check.Status]int{
			"ebs.volume-cmk":           {check.Passed: 1},
			"kms.key-in-use-unhealthy": {check.Failed: 1},
			"kms.rotation":             {check.Passed: 1},
			"secretsmanager.cmk":       {},
		},
		Findings: []runner.FindingSummary{
			finding("ebs.volume-cmk", "us-east-1", vol, "data", check.Passed, "INFORMATIONAL", "encrypted with customer managed key alias/app", publish.ActionUpdated),
			finding("kms.key-in-use-unhealthy", "us-east-1", key, "alias/app", check.Failed, "CRITICAL", "key is Disabled and protects 1 resource: ebs data", publish.ActionNew),
			finding("kms.rotation", "us-east-1", key, "alias/app", check.Passed, "INFORMATIONAL", "automatic rotation every 365 days", publish.ActionUpdated),
		},
		FailedScopes: []runner.Scope{},
		Lifecycle:    runner.Lifecycle{New: 1, Updated: 2, Archived: 1, Imported: 4},
		Published: []publish.Report{{Region: "us-east-1", New: 1, Updated: 2, Archived: 1, Imported: 4,
			ArchivedFindings: []publish.FindingRef{{ID: "posture-auditor/secretsmanager.cmk/x", CheckID: "secretsmanager.cmk"}}}},
		Resources: []runner.TargetResult{
			{Resource: resource.Ref{Kind: resource.KMSKey, Partition: "aws", Account: acct, Region: "us-east-1", ID: key, ARN: key}, Outcome: runner.Rechecked},
			{Resource: resource.Ref{Kind: resource.Secret, Partition: "aws", Account: acct, Region: "us-east-1", ID: arn("secretsmanager", "us-east-1", "secret:old-AbCdEf"), ARN: arn("secretsmanager", "us-east-1", "secret:old-AbCdEf")}, Outcome: runner.Gone},
			{Resource: resource.Ref{Kind: resource.Certificate, Partition: "aws", Account: acct, Region: "us-east-1", ID: arn("acm", "us-east-1", "certificate/c9"), ARN: arn("acm", "us-east-1", "certificate/c9")}, Outcome: runner.Failed, Transient: true, Reason: "acm:DescribeCertificate: ThrottlingException: Rate exceeded"},
			{Resource: resource.Ref{Kind: resource.KMSKey, Partition: "aws", Account: "999988887777", Region: "us-east-1", ID: "arn:aws:kms:us-east-1:999988887777:key/ffff", ARN: "arn:aws:kms:us-east-1:999988887777:key/ffff"}, Outcome: runner.Skipped, Reason: "belongs to account 999988887777; this deployment audits " + acct},
			{Resource: resource.Ref{Kind: resource.Volume, Partition: "aws", Account: acct, Region: "us-east-1", ID: vol, ARN: vol}, Outcome: runner.Rechecked, Via: "kms-key|" + acct + "|us-east-1|" + key},
			{Resource: resource.Ref{Kind: resource.Distribution, Partition: "aws", Account: acct, ID: "arn:aws:cloudfront::" + acct + ":distribution/E123", ARN: "arn:aws:cloudfront::" + acct + ":distribution/E123"}, Outcome: runner.Skipped, Reason: "none of the requested checks covers it"},
		},
	}
}

var cases = map[string]func() *runner.Summary{
	"clean":    cleanRun,
	"failures": failures,
	"dry-run":  dryRun,
	"targeted": targeted,
}

// TestGolden renders literal summaries and compares them with
// testdata/<name>.golden; run go test ./pkg/report -update to accept.
func TestGolden(t *testing.T) {
	for name, summary := range cases {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			if err := Table(&got, summary()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/report -update to create)", err)
			}
			if !bytes.Equal(want, got.Bytes()) {
				t.Errorf("%s differs from %s (go test ./pkg/report -update accepts it):\n%s", name, path, got.String())
			}
		})
	}
}

// TestOrderDoesNotDependOnInput: the summary's rows shuffled render the
// same report.
func TestOrderDoesNotDependOnInput(t *testing.T) {
	for name, summary := range cases {
		var want bytes.Buffer
		if err := Table(&want, summary()); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(1))
		for i := 0; i < 20; i++ {
			s := summary()
			rng.Shuffle(len(s.Findings), func(i, j int) { s.Findings[i], s.Findings[j] = s.Findings[j], s.Findings[i] })
			rng.Shuffle(len(s.FailedScopes), func(i, j int) { s.FailedScopes[i], s.FailedScopes[j] = s.FailedScopes[j], s.FailedScopes[i] })
			rng.Shuffle(len(s.Checks), func(i, j int) { s.Checks[i], s.Checks[j] = s.Checks[j], s.Checks[i] })
			var got bytes.Buffer
			if err := Table(&got, s); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("%s: shuffled input renders differently:\n%s", name, got.String())
			}
		}
	}
}

// TestSections checks the report's order and the FAILED groups' order
// without reading the golden files.
func TestSections(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, failures()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	last := -1
	for _, marker := range []string{"FAILED SCOPES: 3", "\nFAILED: 6 findings (CRITICAL 1, HIGH 3, MEDIUM 1, LOW 1)", "\nCRITICAL", "\nHIGH", "\nMEDIUM", "\nLOW", "NOT_AVAILABLE: 2 findings", "COUNTS BY CHECK AND STATUS", "SECURITY HUB", "NOTICES"} {
		i := strings.Index(out, marker)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order in:\n%s", marker, out)
		}
		last = i
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " ") || strings.Contains(line, "\t") {
			t.Errorf("line with trailing space or tab: %q", line)
		}
		if n := len([]rune(line)); n > 400 {
			t.Errorf("line of %d characters: %q", n, line)
		}
	}
	if strings.Contains(out, "RESOURCES:") {
		t.Error("a sweep shows a RESOURCES table")
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour escapes in the report")
	}
}

func TestShorten(t *testing.T) {
	if got := head("abcdefghij", 6); got != "abc..." {
		t.Errorf("head: %q", got)
	}
	if got := tail("abcdefghij", 6); got != "...hij" {
		t.Errorf("tail: %q", got)
	}
	if got := head("short", 6); got != "short" {
		t.Errorf("head of a short string: %q", got)
	}
	if got := head("ééééééééé", 6); got != "ééé..." {
		t.Errorf("head counts characters, not bytes: %q", got)
	}
	if got := clean("a\tb\n\nc\r"); got != "a b c" {
		t.Errorf("clean: %q", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestErrors(t *testing.T) {
	if err := Table(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil summary: no error")
	}
	if err := Table(failingWriter{}, cleanRun()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write error: %v", err)
	}
}
