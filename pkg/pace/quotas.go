package pace

import (
	"math"

	"golang.org/x/time/rate"
)

// Bucket is one documented request quota: a token bucket AWS keeps per
// account and region. Operations that share a quota share one Bucket, so
// they draw on one client-side limiter.
type Bucket struct {
	// Name is unique across the table: "<service ID>:<quota>".
	Name string
	// Rate is the sustained quota, in requests a second.
	Rate float64
	// Burst is the bucket size AWS documents: how many requests may go at
	// once after a quiet spell. Where AWS documents a rate only, it is 1:
	// no burst is assumed, so a caller never sends more in any second than
	// the rate (an AWS bucket of one second's worth then still has room for
	// the account's own traffic).
	Burst int
	// Source is where the numbers come from.
	Source string
}

// Scaled is the client-side limiter for fraction of the quota: rate
// fraction × Rate, burst max(1, floor(fraction × Burst)).
func (b Bucket) Scaled(fraction float64) (rate.Limit, int) {
	return rate.Limit(fraction * b.Rate), max(1, int(math.Floor(fraction*float64(b.Burst)+1e-9)))
}

// Op names one API operation as the SDK does: its service ID ("KMS",
// "Secrets Manager") and operation name ("ListKeys").
type Op struct {
	Service   string
	Operation string
}

func (o Op) String() string { return o.Service + ":" + o.Operation }

// The documented quotas, per account and region, of every operation the
// collectors call (their Operations lists) and of sts:GetCallerIdentity.
// Each var is one quota; the table below maps operations onto them.
var (
	// KMS: "Request quotas for each AWS KMS API operation",
	// https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html
	// One row (one quota) per operation; no burst documented.
	kmsDescribeKey          = Bucket{"KMS:DescribeKey", 2000, 1, "KMS developer guide, request quotas: DescribeKey request rate 2000/s"}
	kmsGetKeyRotationStatus = Bucket{"KMS:GetKeyRotationStatus", 1000, 1, "KMS developer guide, request quotas: GetKeyRotationStatus request rate 1000/s"}
	kmsListAliases          = Bucket{"KMS:ListAliases", 500, 1, "KMS developer guide, request quotas: ListAliases request rate 500/s"}
	kmsListKeys             = Bucket{"KMS:ListKeys", 500, 1, "KMS developer guide, request quotas: ListKeys request rate 500/s"}

	// ACM: "API rate quotas", requests per second per operation,
	// https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html
	// ListCertificates is 8/s on today's page (1/s in older documentation).
	acmListCertificates    = Bucket{"ACM:ListCertificates", 8, 1, "ACM user guide, quotas, API rate quotas: ListCertificates 8/s"}
	acmDescribeCertificate = Bucket{"ACM:DescribeCertificate", 10, 1, "ACM user guide, quotas, API rate quotas: DescribeCertificate 10/s"}

	// Secrets Manager quotas,
	// https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html
	// ListSecrets 100/s (since November 2022, AWS "What's new":
	// aws-secrets-manager-increases-api-requests-per-second-limits).
	// DescribeSecret and GetSecretValue share a combined 10,000/s quota;
	// the collectors call neither.
	secretsListSecrets = Bucket{"Secrets Manager:ListSecrets", 100, 1, "Secrets Manager user guide, quotas: rate of ListSecrets requests 100/s"}

	// CloudTrail: "Get, describe, and list APIs: 10 transactions per second"
	// (LookupEvents and ListInsightsMetricData excluded), one quota for the
	// whole category, so DescribeTrails, GetTrailStatus and
	// GetEventSelectors share it.
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html
	cloudTrailReads = Bucket{"CloudTrail:get-describe-list", 10, 1, "CloudTrail user guide, quotas: get, describe and list APIs 10 TPS (shared)"}

	// RDS: "By default, you can make up to 300 requests in a burst and a
	// sustained 12 requests per second" for the account in the region:
	// one bucket for every RDS API operation.
	// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html
	rdsAll = Bucket{"RDS:all", 12, 300, "RDS user guide, request throttling for the Amazon RDS API: 12/s sustained, burst 300, per account and region"}

	// EC2: "Request token bucket sizes and refill rates": each API is
	// evaluated individually; non-mutating actions (Describe*, Get*) have a
	// bucket of 100 refilled at 20/s; a DescribeVolumes call that names
	// neither pagination nor a filter draws on a smaller bucket (50,
	// refilled at 10/s) of its own. A call naming VolumeIds only counts as
	// unpaginated here: the page does not say IDs are a filter, and the
	// smaller bucket is the safe reading.
	// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
	ec2DescribeVolumes           = Bucket{"EC2:DescribeVolumes", 20, 100, "EC2 developer guide, request throttling: non-mutating actions, bucket 100, refill 20/s"}
	ec2DescribeVolumesUnpaged    = Bucket{"EC2:DescribeVolumes(unfiltered,unpaginated)", 10, 50, "EC2 developer guide, request throttling: unfiltered and unpaginated non-mutating actions, bucket 50, refill 10/s"}
	ec2GetEbsEncryptionByDefault = Bucket{"EC2:GetEbsEncryptionByDefault", 20, 100, "EC2 developer guide, request throttling: non-mutating actions, bucket 100, refill 20/s"}
	ec2GetEbsDefaultKmsKeyID     = Bucket{"EC2:GetEbsDefaultKmsKeyId", 20, 100, "EC2 developer guide, request throttling: non-mutating actions, bucket 100, refill 20/s"}
	// Once a run, before any region is read (pkg/regions).
	ec2DescribeRegions = Bucket{"EC2:DescribeRegions", 20, 100, "EC2 developer guide, request throttling: non-mutating actions, bucket 100, refill 20/s"}

	// STS: 600 requests a second per account and region, shared by
	// AssumeRole, GetCallerIdentity, GetSessionToken and the other
	// credential operations ("IAM and AWS STS quotas").
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
	stsAll = Bucket{"STS:all", 600, 1, "IAM user guide, IAM and AWS STS quotas: STS 600 requests/s per account and region, shared"}
)

// table maps each paced operation onto its quota.
var table = map[Op]*Bucket{
	{"KMS", "DescribeKey"}:             &kmsDescribeKey,
	{"KMS", "GetKeyRotationStatus"}:    &kmsGetKeyRotationStatus,
	{"KMS", "ListAliases"}:             &kmsListAliases,
	{"KMS", "ListKeys"}:                &kmsListKeys,
	{"ACM", "ListCertificates"}:        &acmListCertificates,
	{"ACM", "DescribeCertificate"}:     &acmDescribeCertificate,
	{"Secrets Manager", "ListSecrets"}: &secretsListSecrets,

	{"CloudTrail", "DescribeTrails"}:    &cloudTrailReads,
	{"CloudTrail", "GetTrailStatus"}:    &cloudTrailReads,
	{"CloudTrail", "GetEventSelectors"}: &cloudTrailReads,

	{"EC2", "DescribeVolumes"}:           &ec2DescribeVolumes,
	{"EC2", "GetEbsEncryptionByDefault"}: &ec2GetEbsEncryptionByDefault,
	{"EC2", "GetEbsDefaultKmsKeyId"}:     &ec2GetEbsDefaultKmsKeyID,
	{"EC2", "DescribeRegions"}:           &ec2DescribeRegions,

	{"STS", "GetCallerIdentity"}: &stsAll,
}

// serviceWide holds the quotas AWS keeps for a whole service's API: every
// operation of the service, listed or not, draws on them.
var serviceWide = map[string]*Bucket{
	"RDS": &rdsAll, // DescribeDBInstances, DescribeDBClusters, DescribeDBSnapshots, DescribeDBClusterSnapshots, ...
}

// unpagedTable holds the EC2 operations whose unfiltered and unpaginated
// calls (no MaxResults, NextToken or Filters in the input) draw on a
// smaller bucket of their own.
var unpagedTable = map[Op]*Bucket{
	{"EC2", "DescribeVolumes"}: &ec2DescribeVolumesUnpaged,
}

// unpacedOps are operations the code calls that are deliberately not paced,
// each with the reason.
var unpacedOps = map[Op]string{
	// CloudFront's quotas page lists resource counts and viewer-traffic
	// limits only; AWS documents no request rate for its control-plane reads.
	{"CloudFront", "ListDistributions"}:        "CloudFront documents no request quota for ListDistributions (cloudfront-limits.html lists resource and data-plane quotas only)",
	{"CloudFront", "GetDistribution"}:          "CloudFront documents no request quota for GetDistribution",
	{"CloudFront", "GetResponseHeadersPolicy"}: "CloudFront documents no request quota for GetResponseHeadersPolicy",
	// ECR's service quotas list request rates for the image push and pull
	// operations only (BatchGetImage, PutImage, UploadLayerPart, ...).
	{"ECR", "DescribeRepositories"}: "ECR documents no request quota for DescribeRepositories (service-quotas.html lists image push and pull operations only)",
}

// unpacedServices are whole services left out, with the reason.
var unpacedServices = map[string]string{
	// BatchImportFindings (10/s, burst 30) and GetFindings (3/s, burst 6)
	// are paced per (account, region) by pkg/publish's Limiters, which also
	// count findings per batch; pacing them here too would queue each call
	// twice.
	"SecurityHub": "paced by pkg/publish.Limiters (BatchImportFindings 10/s burst 30, GetFindings 3/s burst 6)",
	// The finding-state table is on-demand: no request-rate quota, only
	// per-table throughput limits far above a scan's writes.
	"DynamoDB": "on-demand tables have no request-rate quota",
}

// Lookup returns the quota that paces service:operation, if any.
func Lookup(service, operation string) (Bucket, bool) {
	if b, ok := table[Op{service, operation}]; ok {
		return *b, true
	}
	if b, ok := serviceWide[service]; ok {
		return *b, true
	}
	return Bucket{}, false
}

// LookupUnpaged returns the quota of an unfiltered and unpaginated call of
// service:operation, where AWS keeps a separate one.
func LookupUnpaged(service, operation string) (Bucket, bool) {
	b, ok := unpagedTable[Op{service, operation}]
	if !ok {
		return Bucket{}, false
	}
	return *b, true
}

// Unpaced says why service:operation is deliberately not paced, or false
// when it is paced or simply unknown.
func Unpaced(service, operation string) (string, bool) {
	if why, ok := unpacedServices[service]; ok {
		return why, true
	}
	why, ok := unpacedOps[Op{service, operation}]
	return why, ok
}
