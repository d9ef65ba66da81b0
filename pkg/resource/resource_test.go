package resource_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
)

const acct = "123456789012"

func TestFromARNAccepts(t *testing.T) {
	tests := []struct {
		name   string
		arn    string
		kind   resource.Kind
		region string
	}{
		{"kms key", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", resource.KMSKey, "us-east-1"},
		{"kms multi-region key", "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", resource.KMSKey, "eu-west-1"},
		{"secretsmanager secret", "arn:aws:secretsmanager:eu-central-1:123456789012:secret:prod/db-password-AbCdEf", resource.Secret, "eu-central-1"},
		{"acm certificate", "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012", resource.Certificate, "us-east-1"},
		{"cloudfront distribution has no region", "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE", resource.Distribution, ""},
		{"cloudtrail trail", "arn:aws:cloudtrail:us-west-2:123456789012:trail/management-events", resource.Trail, "us-west-2"},
		{"rds db instance", "arn:aws:rds:us-east-1:123456789012:db:mydb", resource.DBInstance, "us-east-1"},
		{"rds db cluster", "arn:aws:rds:us-east-1:123456789012:cluster:aurora-prod", resource.DBCluster, "us-east-1"},
		{"rds manual snapshot", "arn:aws:rds:us-east-1:123456789012:snapshot:mydb-final", resource.DBSnapshot, "us-east-1"},
		{"rds automated snapshot", "arn:aws:rds:us-east-1:123456789012:snapshot:rds:db-2024-01-01-00-00", resource.DBSnapshot, "us-east-1"},
		{"rds cluster snapshot", "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:aurora-prod-2024", resource.DBClusterSnapshot, "us-east-1"},
		{"rds automated cluster snapshot", "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:aurora-prod-2024-01-01-00-00", resource.DBClusterSnapshot, "us-east-1"},
		{"ecr repository with a slash", "arn:aws:ecr:ap-southeast-2:123456789012:repository/team/app", resource.Repository, "ap-southeast-2"},
		{"ec2 volume", "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0", resource.Volume, "us-east-1"},
		{"gov partition", "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/abcd", resource.KMSKey, "us-gov-west-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resource.FromARN(tt.arn)
			if err != nil {
				t.Fatal(err)
			}
			partition := strings.Split(tt.arn, ":")[1]
			want := resource.Ref{Kind: tt.kind, Partition: partition, Account: acct, Region: tt.region, ID: tt.arn, ARN: tt.arn}
			if r != want {
				t.Errorf("got %+v\nwant %+v", r, want)
			}
			if _, ok := resource.SpecOf(r.Kind); !ok {
				t.Errorf("kind %q has no spec", r.Kind)
			}
		})
	}
}

func TestFromARNRejects(t *testing.T) {
	tests := []struct{ name, arn, err string }{
		{"not an ARN", "key/1234", "malformed ARN"},
		{"empty", "", "malformed ARN"},
		{"too few sections", "arn:aws:kms:us-east-1:123456789012", "malformed ARN"},
		{"missing account", "arn:aws:kms:us-east-1::key/abcd", "12-digit account ID"},
		{"short account", "arn:aws:kms:us-east-1:12345678901:key/abcd", "12-digit account ID"},
		{"redacted 11-digit account as in AWS docs", "arn:aws:ec2:us-east-1:11122233344:volume/vol-1", "12-digit account ID"},
		{"13-digit account", "arn:aws:kms:us-east-1:1234567890123:key/abcd", "12-digit account ID"},
		{"non-digit account", "arn:aws:kms:us-east-1:12345678901a:key/abcd", "12-digit account ID"},
		{"account placeholder", "arn:aws:kms:us-east-1:aws:key/abcd", "12-digit account ID"},
		{"no partition", "arn::kms:us-east-1:123456789012:key/abcd", "partition"},
		{"kms alias", "arn:aws:kms:us-east-1:123456789012:alias/my-key", "give the key's ARN"},
		{"unsupported service s3", "arn:aws:s3:::my-bucket", "does not audit"},
		{"unsupported service s3 with account", "arn:aws:s3:us-east-1:123456789012:accesspoint/ap", `service "s3"`},
		{"iam role", "arn:aws:iam::123456789012:role/admin", `service "iam"`},
		{"ec2 instance", "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0", "ec2 resource type this tool does not audit"},
		{"ec2 volume without an id", "arn:aws:ec2:us-east-1:123456789012:volume/", "resource type this tool does not audit"},
		{"rds db without a name", "arn:aws:rds:us-east-1:123456789012:db", "rds resource type this tool does not audit"},
		{"rds db with an empty name", "arn:aws:rds:us-east-1:123456789012:db:", "rds resource type this tool does not audit"},
		{"rds slash form", "arn:aws:rds:us-east-1:123456789012:db/mydb", "rds resource type this tool does not audit"},
		{"rds subnet group", "arn:aws:rds:us-east-1:123456789012:subgrp:default", "rds resource type this tool does not audit"},
		{"kms key without an id", "arn:aws:kms:us-east-1:123456789012:key/", "kms resource type this tool does not audit"},
		{"kms key bare", "arn:aws:kms:us-east-1:123456789012:key", "kms resource type this tool does not audit"},
		{"secretsmanager without a name", "arn:aws:secretsmanager:us-east-1:123456789012:secret:", "resource type this tool does not audit"},
		{"acm private ca", "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/x", `service "acm-pca"`},
		{"cloudtrail event data store", "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/x", "cloudtrail resource type this tool does not audit"},
		{"ecr without a repository name", "arn:aws:ecr:us-east-1:123456789012:repository/", "resource type this tool does not audit"},
		{"cloudfront with a region", "arn:aws:cloudfront:us-east-1:123456789012:distribution/EDFDVBD6EXAMPLE", "CloudFront ARNs have no region"},
		{"cloudfront function", "arn:aws:cloudfront::123456789012:function/f", "cloudfront resource type this tool does not audit"},
		{"regional kind without a region", "arn:aws:kms::123456789012:key/abcd", "no valid region"},
		{"bad region", "arn:aws:kms:useast1:123456789012:key/abcd", "no valid region"},
		{"upper-case region", "arn:aws:kms:US-EAST-1:123456789012:key/abcd", "no valid region"},
		{"region without a number", "arn:aws:ec2:us-east:123456789012:volume/vol-1", "no valid region"},
		{"region with a three-digit number", "arn:aws:ec2:us-east-100:123456789012:volume/vol-1", "no valid region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resource.FromARN(tt.arn)
			if err == nil {
				t.Fatalf("accepted as %+v", r)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %q, want it to contain %q", err, tt.err)
			}
			if tt.arn != "" && !strings.Contains(err.Error(), tt.arn) {
				t.Errorf("error %q does not quote the ARN", err)
			}
			if r != (resource.Ref{}) {
				t.Errorf("a refused ARN returned %+v", r)
			}
		})
	}
}

func TestFromFinding(t *testing.T) {
	account := resource.AccountResourceID(acct)
	key := "arn:aws:kms:us-east-1:123456789012:key/abcd"
	repo := "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
	dist := "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"
	tests := []struct {
		name                                             string
		typ, id, partition, account, region, generatorID string
		want                                             resource.Ref
		err                                              string
	}{
		{name: "EBS encryption by default keeps the region",
			typ: "AwsAccount", id: account, partition: "aws", account: acct, region: "eu-west-1", generatorID: "ebs.default-encryption",
			want: resource.Ref{Kind: resource.EBSDefaults, Partition: "aws", Account: acct, Region: "eu-west-1", ID: account, ARN: account}},
		{name: "empty partition means aws",
			typ: "AwsAccount", id: account, account: acct, region: "eu-west-1", generatorID: "ebs.default-encryption",
			want: resource.Ref{Kind: resource.EBSDefaults, Partition: "aws", Account: acct, Region: "eu-west-1", ID: account, ARN: account}},
		{name: "EBS encryption by default needs a region",
			typ: "AwsAccount", id: account, partition: "aws", account: acct, region: "", generatorID: "ebs.default-encryption",
			err: "no valid region"},
		{name: "multi-region trail coverage is global",
			typ: "AwsAccount", id: account, partition: "aws", account: acct, region: "us-east-1", generatorID: "cloudtrail.multi-region-logging",
			want: resource.Ref{Kind: resource.TrailCoverage, Partition: "aws", Account: acct, ID: account, ARN: account}},
		{name: "account finding of another generator",
			typ: "AwsAccount", id: account, partition: "aws", account: acct, region: "us-east-1", generatorID: "aws-foundational-security-best-practices/v/1.0.0/IAM.6",
			err: "no check of this tool covers it"},
		{name: "account finding of one of our resource checks",
			typ: "AwsAccount", id: account, partition: "aws", account: acct, region: "us-east-1", generatorID: "kms.rotation",
			err: "no check of this tool covers it"},
		{name: "account resource of another account",
			typ: "AwsAccount", id: resource.AccountResourceID("210987654321"), partition: "aws", account: acct, region: "us-east-1", generatorID: "ebs.default-encryption",
			err: "does not match the finding's account"},
		{name: "account resource id not in the account form",
			typ: "AwsAccount", id: acct, partition: "aws", account: acct, region: "us-east-1", generatorID: "ebs.default-encryption",
			err: "does not match the finding's account"},
		{name: "account resource with a malformed account",
			typ: "AwsAccount", id: resource.AccountResourceID("12345"), partition: "aws", account: "12345", region: "us-east-1", generatorID: "cloudtrail.multi-region-logging",
			err: "does not match the finding's account"},
		{name: "kms key",
			typ: "AwsKmsKey", id: key, partition: "aws", account: acct, region: "us-east-1", generatorID: "kms.rotation",
			want: resource.Ref{Kind: resource.KMSKey, Partition: "aws", Account: acct, Region: "us-east-1", ID: key, ARN: key}},
		{name: "cloudfront distribution",
			typ: "AwsCloudFrontDistribution", id: dist, partition: "aws", account: acct, region: "us-east-1", generatorID: "cloudfront.viewer-tls",
			want: resource.Ref{Kind: resource.Distribution, Partition: "aws", Account: acct, ID: dist, ARN: dist}},
		{name: "type mismatch: AwsKmsKey with an ECR ARN",
			typ: "AwsKmsKey", id: repo, partition: "aws", account: acct, region: "us-east-1", generatorID: "kms.rotation",
			err: "this tool covers AwsEcrRepository"},
		{name: "type mismatch: snapshot type with a cluster snapshot ARN",
			typ: "AwsRdsDbSnapshot", id: "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:c1", partition: "aws", account: acct, region: "us-east-1", generatorID: "rds.snapshot-cmk",
			err: "this tool covers AwsRdsDbClusterSnapshot"},
		{name: "AwsAccount type with an ARN",
			typ: "AwsAccount", id: key, partition: "aws", account: acct, region: "us-east-1", generatorID: "ebs.default-encryption",
			err: "does not match the finding's account"},
		{name: "unsupported resource",
			typ: "AwsS3Bucket", id: "arn:aws:s3:::my-bucket", partition: "aws", account: acct, region: "us-east-1", generatorID: "s3.x",
			err: "does not audit"},
		{name: "KMS alias",
			typ: "AwsKmsKey", id: "arn:aws:kms:us-east-1:123456789012:alias/x", partition: "aws", account: acct, region: "us-east-1", generatorID: "kms.rotation",
			err: "give the key's ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resource.FromFinding(tt.typ, tt.id, tt.partition, tt.account, tt.region, tt.generatorID)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %+v, err %v; want an error containing %q", r, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r != tt.want {
				t.Errorf("got %+v\nwant %+v", r, tt.want)
			}
		})
	}
}

// TestFromFindingMatchesFromARN: a finding of every ARN kind, with its
// kind's ASFF type, names the same resource as its ARN does; with any
// other kind's type it is refused.
func TestFromFindingMatchesFromARN(t *testing.T) {
	arns := []string{
		"arn:aws:kms:us-east-1:123456789012:key/abcd",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf",
		"arn:aws:acm:us-east-1:123456789012:certificate/c",
		"arn:aws:cloudfront::123456789012:distribution/D",
		"arn:aws:cloudtrail:us-east-1:123456789012:trail/t",
		"arn:aws:rds:us-east-1:123456789012:db:d",
		"arn:aws:rds:us-east-1:123456789012:cluster:c",
		"arn:aws:rds:us-east-1:123456789012:snapshot:rds:db-2024-01-01-00-00",
		"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:cs",
		"arn:aws:ecr:us-east-1:123456789012:repository/team/app",
		"arn:aws:ec2:us-east-1:123456789012:volume/vol-1",
	}
	seen := map[resource.Kind]bool{}
	for _, a := range arns {
		want, err := resource.FromARN(a)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		seen[want.Kind] = true
		spec, _ := resource.SpecOf(want.Kind)
		got, err := resource.FromFinding(spec.ASFFType, a, "aws", acct, "us-east-1", spec.Checks[0])
		if err != nil {
			t.Errorf("%s as %s: %v", a, spec.ASFFType, err)
		} else if got != want {
			t.Errorf("%s: FromFinding %+v, FromARN %+v", a, got, want)
		}
		for _, k := range resource.Kinds() {
			other, _ := resource.SpecOf(k)
			if other.ASFFType == spec.ASFFType {
				continue
			}
			if r, err := resource.FromFinding(other.ASFFType, a, "aws", acct, "us-east-1", other.Checks[0]); err == nil {
				t.Errorf("%s as %s accepted: %+v", a, other.ASFFType, r)
			}
		}
	}
	// Every kind FromARN can produce is covered above.
	for _, k := range resource.Kinds() {
		spec, _ := resource.SpecOf(k)
		if !spec.AccountLevel && k != resource.ResponseHeadersPolicy && !seen[k] {
			t.Errorf("kind %s has no ARN case", k)
		}
	}
}

// TestSpecsCoverTheRegistry: every kind has a complete spec; every check a
// spec names exists (a renamed check cannot silently drop out of
// re-checks) and every check is judged for some kind (a new check cannot be
// forgotten by the event path).
func TestSpecsCoverTheRegistry(t *testing.T) {
	ids := registry.IDs()
	byID := map[string]string{} // check ID -> its ResourceType
	for _, c := range registry.All() {
		byID[c.ID] = c.ResourceType
	}
	kinds := resource.Kinds()
	if len(kinds) == 0 {
		t.Fatal("no kinds")
	}
	if len(kinds) != len(slices.Compact(slices.Sorted(slices.Values(kinds)))) {
		t.Errorf("duplicate kinds: %v", kinds)
	}
	// Kinds whose findings carry a type other than the check's declared
	// one: the check sets it per result.
	perResultType := map[resource.Kind]bool{resource.DBClusterSnapshot: true}
	covered := map[string]bool{}
	for _, k := range kinds {
		spec, ok := resource.SpecOf(k)
		if !ok {
			t.Errorf("kind %s: no spec", k)
			continue
		}
		if spec.Service == "" {
			t.Errorf("kind %s: no service", k)
		}
		if len(spec.Checks) == 0 {
			t.Errorf("kind %s: no checks", k)
		}
		if spec.ASFFType == "" {
			t.Errorf("kind %s: no ASFF type", k)
		}
		if spec.AccountLevel != (spec.ASFFType == "AwsAccount") {
			t.Errorf("kind %s: AccountLevel %v with ASFF type %s", k, spec.AccountLevel, spec.ASFFType)
		}
		for _, c := range spec.Checks {
			typ, ok := byID[c]
			if !ok {
				t.Errorf("kind %s names check %q, which is not in the registry (%v)", k, c, ids)
				continue
			}
			covered[c] = true
			if typ != spec.ASFFType && !perResultType[k] && k != resource.ResponseHeadersPolicy {
				t.Errorf("kind %s (ASFF type %s) names check %s, whose findings are %s", k, spec.ASFFType, c, typ)
			}
		}
	}
	for _, id := range ids {
		if !covered[id] {
			t.Errorf("check %s is judged for no kind: re-checks and events would never re-judge it", id)
		}
	}
	if _, ok := resource.SpecOf("no-such-kind"); ok {
		t.Error("SpecOf accepted an unknown kind")
	}
}

func TestRefKeyAndString(t *testing.T) {
	a, _ := resource.FromARN("arn:aws:kms:us-east-1:123456789012:key/abcd")
	b, _ := resource.FromARN("arn:aws:kms:us-east-1:123456789012:key/abcd")
	c, _ := resource.FromARN("arn:aws:kms:us-west-2:123456789012:key/abcd")
	if a.Key() != b.Key() || a.Key() == c.Key() {
		t.Errorf("keys %q %q %q", a.Key(), b.Key(), c.Key())
	}
	d, _ := resource.FromARN("arn:aws:cloudfront::123456789012:distribution/D")
	if s := d.String(); !strings.Contains(s, "global") || !strings.Contains(s, string(resource.Distribution)) {
		t.Errorf("String %q", s)
	}
}

// TestBuildersRoundTrip: the ARNs built from event identifiers read back
// as the kind they name.
func TestBuildersRoundTrip(t *testing.T) {
	tests := []struct {
		arn  string
		kind resource.Kind
	}{
		{resource.KeyARN("aws", "us-east-1", acct, "abcd"), resource.KMSKey},
		{resource.VolumeARN("aws", "us-east-1", acct, "vol-1"), resource.Volume},
		{resource.RepositoryARN("aws", "us-east-1", acct, "team/app"), resource.Repository},
		{resource.TrailARN("aws", "us-east-1", acct, "t"), resource.Trail},
		{resource.DistributionARN("aws", acct, "D"), resource.Distribution},
		{resource.RDSARN("aws", "us-east-1", acct, "db", "MyDB"), resource.DBInstance},
		{resource.RDSARN("aws", "us-east-1", acct, "cluster", "c"), resource.DBCluster},
		{resource.RDSARN("aws", "us-east-1", acct, "snapshot", "rds:db-2024"), resource.DBSnapshot},
		{resource.RDSARN("aws", "us-east-1", acct, "cluster-snapshot", "cs"), resource.DBClusterSnapshot},
	}
	for _, tt := range tests {
		r, err := resource.FromARN(tt.arn)
		if err != nil || r.Kind != tt.kind {
			t.Errorf("%s: %+v, %v; want kind %s", tt.arn, r, err, tt.kind)
		}
	}
	if got := resource.RDSARN("aws", "us-east-1", acct, "db", "MyDB"); !strings.HasSuffix(got, ":db:mydb") {
		t.Errorf("RDS identifiers are lower case in ARNs: %s", got)
	}
}

// FuzzFromARN: FromARN never panics; what it accepts is a known kind with
// a 12-digit account, named by exactly the input.
func FuzzFromARN(f *testing.F) {
	for _, s := range []string{
		"arn:aws:kms:us-east-1:123456789012:key/abcd",
		"arn:aws:kms:us-east-1:123456789012:alias/x",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf",
		"arn:aws:acm:us-east-1:123456789012:certificate/c",
		"arn:aws:cloudfront::123456789012:distribution/D",
		"arn:aws:cloudtrail:us-east-1:123456789012:trail/t",
		"arn:aws:rds:us-east-1:123456789012:snapshot:rds:db-2024-01-01-00-00",
		"arn:aws:rds:us-east-1:123456789012:db",
		"arn:aws:ecr:us-east-1:123456789012:repository/team/app",
		"arn:aws:ec2:us-east-1:123456789012:volume/vol-1",
		"arn:aws:s3:::bucket",
		"arn:aws:kms:us-east-1:11122233344:key/",
		"arn:::::",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := resource.FromARN(s)
		if err != nil {
			if r != (resource.Ref{}) {
				t.Fatalf("refused %q (%v) but returned %+v", s, err, r)
			}
			return
		}
		if !resource.ValidAccount(r.Account) {
			t.Fatalf("%q: accepted account %q", s, r.Account)
		}
		spec, ok := resource.SpecOf(r.Kind)
		if !ok {
			t.Fatalf("%q: unknown kind %q", s, r.Kind)
		}
		if spec.AccountLevel || r.Kind == resource.ResponseHeadersPolicy {
			t.Fatalf("%q: an ARN read as %s", s, r.Kind)
		}
		want := s
		if strings.HasPrefix(r.ARN, "arn:"+r.Partition+":rds:") {
			// RDS resource names are lower case in ARNs.
			parts := strings.SplitN(s, ":", 6)
			parts[5] = strings.ToLower(parts[5])
			want = strings.Join(parts, ":")
		}
		if !strings.EqualFold(r.ARN, s) || r.ARN != want || r.ID != want {
			t.Fatalf("%q: ARN %q ID %q", s, r.ARN, r.ID)
		}
		if r.Partition == "" {
			t.Fatalf("%q: no partition", s)
		}
		if (r.Region == "") != (r.Kind == resource.Distribution) {
			t.Fatalf("%q: kind %s with region %q", s, r.Kind, r.Region)
		}
		if r.Region != "" && !resource.ValidRegion(r.Region) {
			t.Fatalf("%q: region %q", s, r.Region)
		}
	})
}
