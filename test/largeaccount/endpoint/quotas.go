package endpoint

import (
	"sync"
	"time"
)

// Quota is a request quota: a token bucket of Burst tokens refilled at
// Rate a second, per account and region. Operations naming the same Bucket
// share it.
type Quota struct {
	Bucket string
	Rate   float64
	Burst  float64
	// Source says where the figures come from.
	Source string
}

// Quotas is the one table of request quotas the endpoint enforces, keyed
// by "service:Operation" (SigV4 signing name). An operation without an
// entry has no request quota (DynamoDB on-demand tables). The figures are
// AWS's documented defaults; where AWS documents none, the entry says so
// and the figure is an assumption that matters only if a client calls far
// more than a scan needs.
var Quotas = map[string]Quota{
	// KMS request quotas page (docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html),
	// as DESIGN.md lists them; KMS documents no burst, so one second's worth.
	"kms:DescribeKey":          {"kms:DescribeKey", 2000, 2000, "KMS request quotas: DescribeKey 2,000/s"},
	"kms:GetKeyRotationStatus": {"kms:GetKeyRotationStatus", 1000, 1000, "KMS request quotas: GetKeyRotationStatus 1,000/s"},
	"kms:ListKeys":             {"kms:ListKeys", 500, 500, "KMS request quotas: ListKeys 500/s"},
	"kms:ListAliases":          {"kms:ListAliases", 500, 500, "KMS request quotas: ListAliases 500/s"},
	// Secrets Manager quotas page; raised to 100/s in Nov 2022 (What's New).
	"secretsmanager:ListSecrets": {"secretsmanager:ListSecrets", 100, 100, "Secrets Manager quotas: ListSecrets 100/s"},
	// ACM quotas page (1/s in older documentation); no burst documented.
	"acm:ListCertificates":    {"acm:ListCertificates", 8, 8, "ACM quotas: ListCertificates 8/s"},
	"acm:DescribeCertificate": {"acm:DescribeCertificate", 10, 10, "ACM quotas: DescribeCertificate 10/s"},
	// CloudTrail quotas: the read APIs share 10 transactions a second.
	"cloudtrail:DescribeTrails":    {"cloudtrail:reads", 10, 10, "CloudTrail quotas: read APIs 10 TPS, shared"},
	"cloudtrail:GetTrailStatus":    {"cloudtrail:reads", 10, 10, "CloudTrail quotas: read APIs 10 TPS, shared"},
	"cloudtrail:GetEventSelectors": {"cloudtrail:reads", 10, 10, "CloudTrail quotas: read APIs 10 TPS, shared"},
	// "Request throttling for the Amazon RDS API": a burst of 300 and a
	// sustained 12 requests a second per account and region. Taken as one
	// bucket for every RDS API (the stricter reading).
	"rds:DescribeDBInstances":        {"rds:api", 12, 300, "RDS API throttling: 12/s sustained, burst 300"},
	"rds:DescribeDBClusters":         {"rds:api", 12, 300, "RDS API throttling: 12/s sustained, burst 300"},
	"rds:DescribeDBSnapshots":        {"rds:api", 12, 300, "RDS API throttling: 12/s sustained, burst 300"},
	"rds:DescribeDBClusterSnapshots": {"rds:api", 12, 300, "RDS API throttling: 12/s sustained, burst 300"},
	// "Request throttling for the Amazon EC2 API": non-mutating actions
	// bucket 100, refill 20/s; unfiltered and unpaginated non-mutating
	// actions bucket 50, refill 10/s (DescribeVolumes without MaxResults).
	"ec2:DescribeVolumes":             {"ec2:DescribeVolumes", 20, 100, "EC2 API throttling: non-mutating 20/s, bucket 100"},
	"ec2:DescribeVolumes#unpaginated": {"ec2:DescribeVolumes#unpaginated", 10, 50, "EC2 API throttling: unfiltered and unpaginated 10/s, bucket 50"},
	"ec2:GetEbsEncryptionByDefault":   {"ec2:GetEbsEncryptionByDefault", 20, 100, "EC2 API throttling: non-mutating 20/s, bucket 100"},
	"ec2:GetEbsDefaultKmsKeyId":       {"ec2:GetEbsDefaultKmsKeyId", 20, 100, "EC2 API throttling: non-mutating 20/s, bucket 100"},
	"ec2:DescribeRegions":             {"ec2:DescribeRegions", 20, 100, "EC2 API throttling: non-mutating 20/s, bucket 100"},
	// The ECR quotas page lists no rate for DescribeRepositories.
	"ecr:DescribeRepositories": {"ecr:DescribeRepositories", 20, 20, "not published by AWS: assumed 20/s"},
	// CloudFront publishes no control-plane request rate (its quotas page
	// covers resources and viewer traffic); throttling answers Throttling.
	"cloudfront:ListDistributions":        {"cloudfront:api", 10, 10, "not published by AWS: assumed 10/s, shared"},
	"cloudfront:GetDistribution":          {"cloudfront:api", 10, 10, "not published by AWS: assumed 10/s, shared"},
	"cloudfront:GetResponseHeadersPolicy": {"cloudfront:api", 10, 10, "not published by AWS: assumed 10/s, shared"},
	// STS publishes no per-operation rate for GetCallerIdentity.
	"sts:GetCallerIdentity": {"sts:GetCallerIdentity", 100, 100, "not published by AWS: assumed 100/s"},
	// Security Hub API reference, "Welcome": BatchImportFindings RateLimit
	// 10/s BurstLimit 30; GetFindings RateLimit 3/s BurstLimit 6.
	"securityhub:BatchImportFindings": {"securityhub:BatchImportFindings", 10, 30, "Security Hub API reference: 10/s, burst 30"},
	"securityhub:GetFindings":         {"securityhub:GetFindings", 3, 6, "Security Hub API reference: 3/s, burst 6"},
}

// bucket is one token bucket.
type bucket struct {
	mu     sync.Mutex
	q      Quota
	tokens float64
	last   time.Time
}

func newBucket(q Quota) *bucket { return &bucket{q: q, tokens: q.Burst} }

// take consumes a token, or reports false when the bucket is empty.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.q.Burst, b.tokens+now.Sub(b.last).Seconds()*b.q.Rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// takeN consumes n tokens at once, or none and reports false.
func (b *bucket) takeN(now time.Time, n float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.q.Burst, b.tokens+now.Sub(b.last).Seconds()*b.q.Rate)
	}
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// giveN puts back n tokens taken (a transaction cancelled for another
// bucket's lack).
func (b *bucket) giveN(n float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.q.Burst, b.tokens+n)
}

// MinimumWall is the least time n calls in one bucket take from a full
// bucket: max(0, n - burst) / rate.
func (q Quota) MinimumWall(n int) time.Duration {
	if q.Rate <= 0 || float64(n) <= q.Burst {
		return 0
	}
	return time.Duration((float64(n) - q.Burst) / q.Rate * float64(time.Second))
}
