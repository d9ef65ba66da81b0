package pace_test

import (
	"math"
	"testing"

	"golang.org/x/time/rate"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect/acmcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudfrontcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudtrailcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/ebscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/ecrcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/kmscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/rdscollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/secretscollect"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
	"github.com/posture-auditor/posture-auditor/pkg/regions"
)

// TestScaled: rate = fraction × quota, burst = max(1, floor(fraction ×
// burst)), with no float rounding taking a request off (0.29 × 100 is
// 28.999... in binary).
func TestScaled(t *testing.T) {
	for _, tc := range []struct {
		rate     float64
		burst    int
		fraction float64
		wantRate rate.Limit
		wantB    int
	}{
		{10, 1, 0.8, 8, 1},
		{8, 1, 0.8, 6.4, 1},
		{12, 300, 0.8, 9.6, 240},
		{20, 100, 0.8, 16, 80},
		{10, 50, 0.8, 8, 40},
		{2000, 1, 1, 2000, 1},
		{12, 300, 1, 12, 300},
		{12, 300, 1.0 / 3, 4, 100},
		{100, 100, 0.29, 29, 29},
		{20, 100, 0.7, 14, 70},
		{8, 1, 0.05, 0.4, 1},
		{12, 300, 0.001, 0.012, 1},
	} {
		b := pace.Bucket{Name: "t", Rate: tc.rate, Burst: tc.burst}
		r, burst := b.Scaled(tc.fraction)
		if math.Abs(float64(r-tc.wantRate)) > 1e-9 || burst != tc.wantB {
			t.Errorf("%v/s burst %d at %v: got %v/s burst %d; want %v/s burst %d", tc.rate, tc.burst, tc.fraction, r, burst, tc.wantRate, tc.wantB)
		}
	}
}

func TestNewRefusesFractionOutsideZeroOne(t *testing.T) {
	for _, f := range []float64{0, -0.1, 1.0001, 2, math.NaN(), math.Inf(1)} {
		if _, err := pace.New(f); err == nil {
			t.Errorf("New(%v) accepted", f)
		}
	}
	for _, f := range []float64{0.01, 0.5, pace.DefaultFraction, 1} {
		if p, err := pace.New(f); err != nil || p.Fraction() != f {
			t.Errorf("New(%v) = %v, %v", f, p, err)
		}
	}
}

// TestPacerLimits: the documented quotas at 80%, as the middleware
// applies them.
func TestPacerLimits(t *testing.T) {
	p, err := pace.New(0.8)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		service, op string
		rate        rate.Limit
		burst       int
	}{
		{"KMS", "DescribeKey", 1600, 1},
		{"KMS", "GetKeyRotationStatus", 800, 1},
		{"KMS", "ListKeys", 400, 1},
		{"KMS", "ListAliases", 400, 1},
		{"Secrets Manager", "ListSecrets", 80, 1},
		{"ACM", "ListCertificates", 6.4, 1},
		{"ACM", "DescribeCertificate", 8, 1},
		{"CloudTrail", "DescribeTrails", 8, 1},
		{"CloudTrail", "GetTrailStatus", 8, 1},
		{"CloudTrail", "GetEventSelectors", 8, 1},
		{"RDS", "DescribeDBInstances", 9.6, 240},
		{"RDS", "DescribeDBClusterSnapshots", 9.6, 240},
		{"RDS", "DescribeDBEngineVersions", 9.6, 240}, // every RDS call draws on the account's one bucket
		{"EC2", "DescribeVolumes", 16, 80},
		{"EC2", "GetEbsEncryptionByDefault", 16, 80},
		{"EC2", "GetEbsDefaultKmsKeyId", 16, 80},
		{"STS", "GetCallerIdentity", 480, 1},
	} {
		r, burst, ok := p.Limit(tc.service, tc.op)
		if !ok || math.Abs(float64(r-tc.rate)) > 1e-9 || burst != tc.burst {
			t.Errorf("%s:%s: %v/s burst %d paced %v; want %v/s burst %d", tc.service, tc.op, r, burst, ok, tc.rate, tc.burst)
		}
	}
	for _, op := range [][2]string{
		{"SecurityHub", "BatchImportFindings"}, {"SecurityHub", "GetFindings"}, {"DynamoDB", "PutItem"},
		{"CloudFront", "ListDistributions"}, {"ECR", "DescribeRepositories"}, {"KMS", "ListResourceTags"}, {"S3", "ListBuckets"},
	} {
		if r, b, ok := p.Limit(op[0], op[1]); ok {
			t.Errorf("%s:%s paced at %v/s burst %d; want it unpaced", op[0], op[1], r, b)
		}
	}
	if _, _, ok := pace.Off().Limit("ACM", "ListCertificates"); ok {
		t.Error("Off paces ListCertificates")
	}
	var none *pace.Pacer
	if _, _, ok := none.Limit("ACM", "ListCertificates"); ok {
		t.Error("a nil Pacer paces ListCertificates")
	}
}

// TestSharedQuotasShareOneBucket: operations AWS counts against one quota
// draw on one bucket; operations with quotas of their own do not.
func TestSharedQuotasShareOneBucket(t *testing.T) {
	name := func(svc, op string) string {
		b, ok := pace.Lookup(svc, op)
		if !ok {
			t.Fatalf("%s:%s not paced", svc, op)
		}
		return b.Name
	}
	same := [][][2]string{
		{{"CloudTrail", "DescribeTrails"}, {"CloudTrail", "GetTrailStatus"}, {"CloudTrail", "GetEventSelectors"}},
		{{"RDS", "DescribeDBInstances"}, {"RDS", "DescribeDBClusters"}, {"RDS", "DescribeDBSnapshots"}, {"RDS", "DescribeDBClusterSnapshots"}},
	}
	for _, group := range same {
		for _, op := range group[1:] {
			if a, b := name(group[0][0], group[0][1]), name(op[0], op[1]); a != b {
				t.Errorf("%v and %v share a quota, yet buckets %q and %q", group[0], op, a, b)
			}
		}
	}
	distinct := [][2]string{
		{"KMS", "DescribeKey"}, {"KMS", "GetKeyRotationStatus"}, {"KMS", "ListKeys"}, {"KMS", "ListAliases"},
		{"ACM", "ListCertificates"}, {"ACM", "DescribeCertificate"},
		{"EC2", "DescribeVolumes"}, {"EC2", "GetEbsEncryptionByDefault"}, {"EC2", "GetEbsDefaultKmsKeyId"}, {"EC2", "DescribeRegions"},
		{"Secrets Manager", "ListSecrets"}, {"CloudTrail", "DescribeTrails"}, {"RDS", "DescribeDBInstances"}, {"STS", "GetCallerIdentity"},
	}
	seen := map[string][2]string{}
	for _, op := range distinct {
		n := name(op[0], op[1])
		if prev, dup := seen[n]; dup {
			t.Errorf("%v and %v have quotas of their own, yet share bucket %q", prev, op, n)
		}
		seen[n] = op
	}
	paged, _ := pace.Lookup("EC2", "DescribeVolumes")
	unpaged, ok := pace.LookupUnpaged("EC2", "DescribeVolumes")
	if !ok || unpaged.Name == paged.Name || unpaged.Rate != 10 || unpaged.Burst != 50 || paged.Rate != 20 || paged.Burst != 100 {
		t.Errorf("DescribeVolumes: paged %+v, unfiltered and unpaginated %+v", paged, unpaged)
	}
}

// serviceIDs are the SDK service IDs of the clients the code builds.
var serviceIDs = []string{"ACM", "CloudFront", "CloudTrail", "EC2", "ECR", "KMS", "RDS", "Secrets Manager", "SecurityHub", "STS", "DynamoDB"}

// TestEveryCollectorOperationIsClassified: each operation a collector can
// call (their Operations lists) and sts:GetCallerIdentity is either paced
// at a documented quota with its source, or listed as deliberately unpaced
// with the reason: a new call cannot slip in unconsidered.
func TestEveryCollectorOperationIsClassified(t *testing.T) {
	byAction := map[string]pace.Op{}
	for _, svc := range serviceIDs {
		for _, op := range allOperations() {
			if a := (awsconfig.Call{Service: svc, Operation: op}).IAMAction(); a != "" {
				byAction[a] = pace.Op{Service: svc, Operation: op}
			}
		}
	}
	lists := [][]string{
		acmcollect.Operations, cloudfrontcollect.Operations, cloudtrailcollect.Operations,
		cloudtrailcollect.TrailOperations, cloudtrailcollect.AccountOperations, ebscollect.Operations,
		ecrcollect.Operations, kmscollect.Operations, kmscollect.ReferencedOperations, rdscollect.Operations,
		secretscollect.Operations, regions.Operations, {"sts:GetCallerIdentity"},
	}
	n := 0
	for _, list := range lists {
		for _, action := range list {
			op, ok := byAction[action]
			if !ok {
				t.Errorf("%s: no SDK service ID known for it; add its operation to allOperations", action)
				continue
			}
			n++
			b, paced := pace.Lookup(op.Service, op.Operation)
			why, unpaced := pace.Unpaced(op.Service, op.Operation)
			switch {
			case paced && unpaced:
				t.Errorf("%s is both paced (%s) and unpaced (%s)", action, b.Name, why)
			case paced && (b.Rate <= 0 || b.Burst < 1 || b.Source == "" || b.Name == ""):
				t.Errorf("%s: quota %+v lacks a rate, burst, name or source", action, b)
			case !paced && (!unpaced || why == ""):
				t.Errorf("%s: neither paced at a documented quota nor listed as unpaced with a reason", action)
			}
		}
	}
	if n < 20 {
		t.Errorf("checked only %d operations", n)
	}
}

// allOperations are the operation names of the collectors' calls, to map
// IAM actions back to SDK service IDs.
func allOperations() []string {
	return []string{
		"ListKeys", "ListAliases", "DescribeKey", "GetKeyRotationStatus",
		"ListCertificates", "DescribeCertificate", "ListSecrets",
		"DescribeTrails", "GetTrailStatus", "GetEventSelectors",
		"DescribeDBInstances", "DescribeDBClusters", "DescribeDBSnapshots", "DescribeDBClusterSnapshots",
		"DescribeVolumes", "GetEbsEncryptionByDefault", "GetEbsDefaultKmsKeyId", "DescribeRegions",
		"DescribeRepositories", "ListDistributions", "GetDistribution", "GetResponseHeadersPolicy",
		"GetCallerIdentity",
	}
}

// TestSecurityHubAndDynamoDBLeftOut: Security Hub is paced by
// pkg/publish's Limiters and on-demand DynamoDB has no request quota; both
// are unpaced here, with the reason.
func TestSecurityHubAndDynamoDBLeftOut(t *testing.T) {
	for _, op := range [][2]string{{"SecurityHub", "BatchImportFindings"}, {"SecurityHub", "GetFindings"}, {"DynamoDB", "Query"}} {
		if _, ok := pace.Lookup(op[0], op[1]); ok {
			t.Errorf("%v is paced", op)
		}
		if why, ok := pace.Unpaced(op[0], op[1]); !ok || why == "" {
			t.Errorf("%v: no reason recorded for leaving it out", op)
		}
	}
}
