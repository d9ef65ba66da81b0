package findingstate

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

func boilerplateOf(checks []check.Check) func(string) (types.AwsSecurityFinding, bool) {
	byID := map[string]types.AwsSecurityFinding{}
	for _, c := range checks {
		byID[c.ID] = asff.Boilerplate(c)
	}
	return func(id string) (types.AwsSecurityFinding, bool) {
		b, ok := byID[id]
		return b, ok
	}
}

// canonical is f's JSON without empty fields: what a round trip keeps.
func canonical(t *testing.T, f types.AwsSecurityFinding) string {
	t.Helper()
	var b bytes.Buffer
	if err := appendNonEmpty(&b, reflect.ValueOf(f)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSlimRecordsReadBackWhole: for every check and the results asff.Map
// makes (with and without a reason, NOT_AVAILABLE, a severity of its own,
// related resources, tags cut, a description past ASFF's limit), a record
// reads back exactly the finding kept (Compact), with or without the
// checks' boilerplate; with it, a record of a typical finding is under
// 1 KB (2 write units as a transactional write).
func TestSlimRecordsReadBackWhole(t *testing.T) {
	checks := registry.All()
	long := checks[0]
	long.ID, long.Description = "kms.long-description", strings.Repeat("A description past ASFF's limit. ", 40)
	checks = append(checks, long)
	withBoilerplate := &Store{Boilerplate: boilerplateOf(checks)}
	arn := "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/payments/db-credentials-AbCdEf"
	results := map[string]check.Result{
		"failed with a reason": {ResourceARN: arn, ResourceName: "prod/payments/db-credentials", Region: "eu-west-1", Status: check.Failed, Reason: "Rotation is not enabled"},
		"passed, no reason":    {ResourceARN: arn, Region: "eu-west-1", Status: check.Passed},
		"not available":        {ResourceARN: arn, Region: "eu-west-1", Status: check.NotAvailable, Reason: "AccessDeniedException: not authorized to perform kms:DescribeKey"},
		"own severity, related, tags": {ResourceARN: arn, Region: "eu-west-1", Status: check.Failed, Severity: check.Critical, Reason: "r",
			Related: []check.RelatedResource{{Type: "AwsKmsKey", ARN: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
			Tags:    snapshot.Tags{{Key: "team", Value: "payments"}, {Key: " ", Value: "blank key, left out"}}},
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range checks {
		for name, r := range results {
			r.CheckID = c.ID
			f := asff.Map(c, r, asff.Context{Account: "111122223333", Partition: "aws", ProductRegion: "eu-west-1", Now: now, ToolVersion: "1.4.0"})
			f.CreatedAt = aws.String(asff.Timestamp(now.Add(-48 * time.Hour)))
			want := canonical(t, Compact(f))
			for storeName, s := range map[string]*Store{"with boilerplate": withBoilerplate, "without": {}} {
				item, err := s.encode("111122223333", "eu-west-1", f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := withBoilerplate.decode(item)
				if err != nil {
					t.Fatalf("%s, %s, %s: %v", c.ID, name, storeName, err)
				}
				if g := canonical(t, got); g != want {
					t.Errorf("%s, %s, %s: read back\n%s\nwant\n%s", c.ID, name, storeName, g, want)
				}
				if storeName == "with boilerplate" && name != "own severity, related, tags" && c.ID != long.ID {
					if n := itemBytes(item); n > 1024 {
						t.Errorf("%s, %s: record of %d bytes, over 1 KB", c.ID, name, n)
					}
				}
			}
		}
	}
}

// TestSlimRecordNeedsItsBoilerplate: a record that left out its check's
// boilerplate is not read as a finding without a title when the check is
// unknown (a later version removed it): it is an error.
func TestSlimRecordNeedsItsBoilerplate(t *testing.T) {
	c := registry.All()[0]
	s := &Store{Boilerplate: boilerplateOf([]check.Check{c})}
	f := asff.Map(c, check.Result{CheckID: c.ID, ResourceARN: "arn:aws:kms:us-east-1:111122223333:key/k", Region: "us-east-1", Status: check.Failed}, asff.Context{Account: "111122223333", Partition: "aws", ProductRegion: "us-east-1", Now: time.Now()})
	item, err := s.encode("111122223333", "us-east-1", f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Store{}).decode(item); err == nil || !strings.Contains(err.Error(), "not known") {
		t.Errorf("a slim record read without its check's boilerplate: %v", err)
	}
}

// TestWholeRecordsOfOlderVersionsStillRead: a record of the version before
// slim records (the whole finding, compressed) reads as it did.
func TestWholeRecordsOfOlderVersionsStillRead(t *testing.T) {
	c := registry.All()[0]
	f := asff.Map(c, check.Result{CheckID: c.ID, ResourceARN: "arn:aws:kms:us-east-1:111122223333:key/k", Region: "us-east-1", Status: check.Failed, Reason: "r"}, asff.Context{Account: "111122223333", Partition: "aws", ProductRegion: "us-east-1", Now: time.Now()})
	b, err := json.Marshal(Compact(f))
	if err != nil {
		t.Fatal(err)
	}
	z, err := deflate(b)
	if err != nil {
		t.Fatal(err)
	}
	item := key("111122223333#us-east-1", aws.ToString(f.Id))
	item[attrFindingZ] = &ddbtypes.AttributeValueMemberB{Value: z}
	got, err := (&Store{}).decode(item)
	if err != nil || canonical(t, got) != canonical(t, Compact(f)) {
		t.Errorf("an older record: %v", err)
	}
}

// TestSlimRecordOfAnEarlierBoilerplate: a record written when its check
// said something else reads back with what the check says now, fitted to
// ASFF's limits (an archive of it must still import), and without a
// product field the check no longer writes; never an error.
func TestSlimRecordOfAnEarlierBoilerplate(t *testing.T) {
	c := registry.All()[0]
	c.SecurityHubControls = []string{"KMS.4"}
	reason := strings.Repeat("r", asff.MaxDescription-len(c.Description)-2) // reason + ". " + description: exactly the limit
	f := asff.Map(c, check.Result{CheckID: c.ID, ResourceARN: "arn:aws:kms:us-east-1:111122223333:key/k", Region: "us-east-1", Status: check.Failed, Reason: reason},
		asff.Context{Account: "111122223333", Partition: "aws", ProductRegion: "us-east-1", Now: time.Now()})
	if n := len(aws.ToString(f.Description)); n != asff.MaxDescription {
		t.Fatalf("description of %d bytes, want exactly %d", n, asff.MaxDescription)
	}
	item, err := (&Store{Boilerplate: boilerplateOf([]check.Check{c})}).encode("111122223333", "us-east-1", f)
	if err != nil {
		t.Fatal(err)
	}
	later := c
	later.Title, later.Description, later.SecurityHubControls = "A later title", c.Description+" A later sentence.", nil
	now := &Store{Boilerplate: boilerplateOf([]check.Check{later})}
	got, err := now.decode(item)
	if err != nil {
		t.Fatalf("a record of an earlier boilerplate: %v", err)
	}
	if aws.ToString(got.Title) != "A later title" || len(aws.ToString(got.Description)) > asff.MaxDescription ||
		!strings.HasPrefix(aws.ToString(got.Description), reason+". ") {
		t.Errorf("read back title %q, description of %d bytes", aws.ToString(got.Title), len(aws.ToString(got.Description)))
	}
	if _, kept := got.ProductFields["posture-auditor/RelatedSecurityHubControls"]; kept {
		t.Error("a product field the check no longer writes was taken back")
	}
	// What a record takes back is its own: changing it changes no other.
	got.Types[0], got.Remediation.Recommendation.Text = "changed", aws.String("changed")
	again, _ := now.decode(item)
	if again.Types[0] == "changed" || aws.ToString(again.Remediation.Recommendation.Text) == "changed" {
		t.Error("records read back share their boilerplate")
	}
}

// TestSlimRecordIsTheSameForTheSameFinding: one finding makes one record,
// byte for byte (what a record leaves out is named in a fixed order).
func TestSlimRecordIsTheSameForTheSameFinding(t *testing.T) {
	c := registry.All()[0]
	c.SecurityHubControls = []string{"KMS.4", "KMS.3"}
	f := asff.Map(c, check.Result{CheckID: c.ID, ResourceARN: "arn:aws:kms:us-east-1:111122223333:key/k", Region: "us-east-1", Status: check.Failed, Reason: "r"},
		asff.Context{Account: "111122223333", Partition: "aws", ProductRegion: "us-east-1", Now: time.Now(), ToolVersion: "v"})
	bp := asff.Boilerplate(c)
	slim, omitted := slimFinding(Compact(f), &bp)
	first, err := encodeSlim(slim, omitted)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		slim, omitted := slimFinding(Compact(f), &bp)
		if again, _ := encodeSlim(slim, omitted); !bytes.Equal(again, first) {
			t.Fatalf("the same finding made two records:\n%s\n%s", first, again)
		}
	}
}
