// Package resource names one thing this tool audits — a key, a secret, a
// volume, an account setting — by kind, account, region and identifier, and
// says which collection reads it and which checks judge it. Events, the
// Security Hub "Re-check" action and on-demand `resources` all arrive here
// as a Ref, so one engine re-checks them all.
package resource

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Kind is a kind of audited resource.
type Kind string

const (
	KMSKey                Kind = "kms-key"
	Secret                Kind = "secretsmanager-secret"
	Certificate           Kind = "acm-certificate"
	Distribution          Kind = "cloudfront-distribution"
	ResponseHeadersPolicy Kind = "cloudfront-response-headers-policy"
	Trail                 Kind = "cloudtrail-trail"
	// TrailCoverage is the account-wide question of cloudtrail.multi-region-logging.
	TrailCoverage     Kind = "cloudtrail-account-coverage"
	DBInstance        Kind = "rds-db-instance"
	DBCluster         Kind = "rds-db-cluster"
	DBSnapshot        Kind = "rds-db-snapshot"
	DBClusterSnapshot Kind = "rds-db-cluster-snapshot"
	Repository        Kind = "ecr-repository"
	Volume            Kind = "ebs-volume"
	// EBSDefaults is a region's EBS encryption-by-default setting.
	EBSDefaults Kind = "ebs-encryption-by-default"
)

// Spec is what the engine needs to know about a kind.
type Spec struct {
	// Service is the collection that reads it.
	Service snapshot.Service
	// Checks judge it; every finding they make is about this resource.
	Checks []string
	// Global kinds are read and imported in the home region.
	Global bool
	// AccountLevel kinds are a setting, not a resource: read with
	// collect.Scope.AccountSettings (or the account-wide collector).
	AccountLevel bool
	// ASFFType is the Resources[].Type of its findings.
	ASFFType string
}

var specs = map[Kind]Spec{
	KMSKey:                {Service: snapshot.KMS, Checks: []string{"kms.rotation", "kms.pending-deletion", "kms.key-in-use-unhealthy"}, ASFFType: "AwsKmsKey"},
	Secret:                {Service: snapshot.SecretsManager, Checks: []string{"secretsmanager.rotation-enabled", "secretsmanager.rotation-succeeding", "secretsmanager.rotated-recently", "secretsmanager.unused", "secretsmanager.cmk"}, ASFFType: snapshot.SecretType},
	Certificate:           {Service: snapshot.ACM, Checks: []string{"acm.expiry", "acm.renewal", "acm.key-strength"}, ASFFType: "AwsCertificateManagerCertificate"},
	Distribution:          {Service: snapshot.CloudFront, Checks: []string{"cloudfront.viewer-tls", "cloudfront.viewer-https", "cloudfront.origin-https", "cloudfront.origin-tls", "cloudfront.hsts"}, Global: true, ASFFType: snapshot.CloudFrontDistributionType},
	ResponseHeadersPolicy: {Service: snapshot.CloudFront, Checks: []string{"cloudfront.hsts"}, Global: true, ASFFType: snapshot.CloudFrontDistributionType},
	Trail:                 {Service: snapshot.CloudTrail, Checks: []string{"cloudtrail.encryption", "cloudtrail.log-validation"}, ASFFType: snapshot.CloudTrailTrailType},
	TrailCoverage:         {Service: snapshot.CloudTrailAccount, Checks: []string{"cloudtrail.multi-region-logging"}, Global: true, AccountLevel: true, ASFFType: "AwsAccount"},
	DBInstance:            {Service: snapshot.RDS, Checks: []string{"rds.instance-cmk"}, ASFFType: "AwsRdsDbInstance"},
	DBCluster:             {Service: snapshot.RDS, Checks: []string{"rds.cluster-cmk"}, ASFFType: "AwsRdsDbCluster"},
	DBSnapshot:            {Service: snapshot.RDS, Checks: []string{"rds.snapshot-cmk"}, ASFFType: "AwsRdsDbSnapshot"},
	DBClusterSnapshot:     {Service: snapshot.RDS, Checks: []string{"rds.snapshot-cmk"}, ASFFType: "AwsRdsDbClusterSnapshot"},
	Repository:            {Service: snapshot.ECR, Checks: []string{"ecr.repository-cmk"}, ASFFType: snapshot.ECRRepositoryType},
	Volume:                {Service: snapshot.EBS, Checks: []string{"ebs.volume-cmk"}, ASFFType: snapshot.EBSVolumeType},
	EBSDefaults:           {Service: snapshot.EBS, Checks: []string{"ebs.default-encryption"}, AccountLevel: true, ASFFType: "AwsAccount"},
}

// SpecOf returns the kind's spec; ok is false for an unknown kind.
func SpecOf(k Kind) (Spec, bool) {
	s, ok := specs[k]
	return s, ok
}

// Kinds returns every kind, for tests that cover them all.
func Kinds() []Kind {
	out := make([]Kind, 0, len(specs))
	for k := range specs {
		out = append(out, k)
	}
	return out
}

// Ref names one resource to re-check.
type Ref struct {
	Kind      Kind   `json:"kind"`
	Partition string `json:"partition"`
	Account   string `json:"account"`
	// Region is where the resource lives; empty for global kinds (the
	// engine reads them in its home region).
	Region string `json:"region,omitempty"`
	// ID is what the collector's scope is given: the ARN when known, else
	// the identifier AWS wrote (a secret's name, a response headers
	// policy's ID as "response-headers-policy/<id>").
	ID string `json:"id"`
	// ARN is the resource's ARN (the ASFF Resources[0].Id of its findings)
	// when known; empty only for a secret named without its ARN and for a
	// response headers policy, which is not itself a finding's resource.
	ARN string `json:"arn,omitempty"`
}

// Target is one resource to re-check.
type Target struct {
	Ref Ref `json:"ref"`
	// Dependents asks to re-judge what a key protects as well (a change to
	// a key's health): the resources that use it.
	Dependents bool `json:"dependents,omitempty"`
}

// Key identifies the resource for coalescing: two events about the same
// resource have the same Key.
func (r Ref) Key() string {
	return string(r.Kind) + "|" + r.Account + "|" + r.Region + "|" + r.ID
}

func (r Ref) String() string {
	where := r.Region
	if where == "" {
		where = "global"
	}
	return fmt.Sprintf("%s %s (%s, %s)", r.Kind, r.ID, r.Account, where)
}

// PolicyScopePrefix marks a response headers policy in a CloudFront scope:
// the collector keeps the distributions that use it.
const PolicyScopePrefix = "response-headers-policy/"

// AccountResourceID is how findings about an account setting name their
// resource (as Security Hub's own controls do).
func AccountResourceID(account string) string { return "AWS::::Account:" + account }

// ARN builders for identifiers events carry without an ARN.

func KeyARN(partition, region, account, keyID string) string {
	return "arn:" + partition + ":kms:" + region + ":" + account + ":key/" + keyID
}

func VolumeARN(partition, region, account, id string) string {
	return "arn:" + partition + ":ec2:" + region + ":" + account + ":volume/" + id
}

func RepositoryARN(partition, region, account, name string) string {
	return "arn:" + partition + ":ecr:" + region + ":" + account + ":repository/" + name
}

func TrailARN(partition, region, account, name string) string {
	return "arn:" + partition + ":cloudtrail:" + region + ":" + account + ":trail/" + name
}

func DistributionARN(partition, account, id string) string {
	return "arn:" + partition + ":cloudfront::" + account + ":distribution/" + id
}

// RDSARN builds an RDS ARN; kind is db, cluster, snapshot or
// cluster-snapshot. RDS stores identifiers in lower case, and its ARNs
// carry them so.
func RDSARN(partition, region, account, kind, id string) string {
	return "arn:" + partition + ":rds:" + region + ":" + account + ":" + kind + ":" + strings.ToLower(id)
}

// FromARN reads an ARN this tool audits into a Ref. It refuses, with the
// reason, an ARN that is malformed, of a service or resource type this tool
// does not audit, or that names a key by alias (the key's own ARN is what
// its findings carry).
func FromARN(s string) (Ref, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return Ref{}, fmt.Errorf("malformed ARN %q: %v", s, err)
	}
	r := Ref{Partition: a.Partition, Account: a.AccountID, Region: a.Region, ID: s, ARN: s}
	typ, name, _ := cutAny(a.Resource, "/:")
	needRegion := true
	switch a.Service {
	case "kms":
		if typ == "alias" {
			return Ref{}, fmt.Errorf("ARN %q names a KMS alias: give the key's ARN (arn:...:key/<id>)", s)
		}
		r.Kind = kindIf(typ == "key", KMSKey)
	case "secretsmanager":
		r.Kind = kindIf(typ == "secret", Secret)
	case "acm":
		r.Kind = kindIf(typ == "certificate", Certificate)
	case "cloudfront":
		r.Kind, needRegion = kindIf(typ == "distribution", Distribution), false
		if a.Region != "" {
			return Ref{}, fmt.Errorf("malformed CloudFront ARN %q: CloudFront ARNs have no region", s)
		}
	case "cloudtrail":
		r.Kind = kindIf(typ == "trail", Trail)
	case "rds":
		r.Kind = map[string]Kind{"db": DBInstance, "cluster": DBCluster, "snapshot": DBSnapshot, "cluster-snapshot": DBClusterSnapshot}[typ]
		if !strings.Contains(a.Resource, ":") {
			r.Kind = "" // RDS resources are type:name
		}
		// RDS keeps identifiers in lower case, and so do its ARNs (and the
		// findings that carry them): MyDB and mydb are one instance.
		lower := "arn:" + a.Partition + ":rds:" + a.Region + ":" + a.AccountID + ":" + strings.ToLower(a.Resource)
		r.ID, r.ARN = lower, lower
	case "ecr":
		r.Kind = kindIf(typ == "repository", Repository)
	case "ec2":
		r.Kind = kindIf(typ == "volume", Volume)
	default:
		return Ref{}, fmt.Errorf("ARN %q is of service %q, which this tool does not audit (kms, secretsmanager, acm, cloudfront, cloudtrail, rds, ecr, ec2 volumes)", s, a.Service)
	}
	// Checked after the service: an ARN of a service this tool does not
	// audit (an S3 bucket has no account) is refused as such.
	if a.Partition == "" || !validAccount(a.AccountID) {
		return Ref{}, fmt.Errorf("malformed ARN %q: partition and a 12-digit account ID are required", s)
	}
	if r.Kind == "" || name == "" {
		return Ref{}, fmt.Errorf("ARN %q names a %s resource type this tool does not audit", s, a.Service)
	}
	if needRegion && !validRegion(a.Region) {
		return Ref{}, fmt.Errorf("malformed ARN %q: no valid region", s)
	}
	return r, nil
}

// FromFinding reads the resource an ASFF finding is about: Resources[0],
// in the finding's account and region. Findings on an account are this
// tool's own account-level checks, told apart by GeneratorId. ok is false,
// with the reason, for a resource no check of this tool covers.
func FromFinding(resourceType, resourceID, partition, account, region, generatorID string) (Ref, error) {
	if partition == "" {
		partition = "aws"
	}
	if resourceType == "AwsAccount" {
		if resourceID != AccountResourceID(account) || !validAccount(account) {
			return Ref{}, fmt.Errorf("account resource %q does not match the finding's account %q", resourceID, account)
		}
		// Security Hub's own controls on the same settings (EC2.7, CloudTrail.1)
		// name them by a GeneratorId like "security-control/EC2.7".
		switch {
		case strings.HasSuffix(generatorID, "/EC2.7"):
			generatorID = "ebs.default-encryption"
		case strings.HasSuffix(generatorID, "/CloudTrail.1"):
			generatorID = "cloudtrail.multi-region-logging"
		}
		switch generatorID {
		case "ebs.default-encryption":
			if !validRegion(region) {
				return Ref{}, fmt.Errorf("finding on %s has no valid region", resourceID)
			}
			return Ref{Kind: EBSDefaults, Partition: partition, Account: account, Region: region, ID: AccountResourceID(account), ARN: AccountResourceID(account)}, nil
		case "cloudtrail.multi-region-logging":
			return Ref{Kind: TrailCoverage, Partition: partition, Account: account, ID: AccountResourceID(account), ARN: AccountResourceID(account)}, nil
		}
		return Ref{}, fmt.Errorf("an AwsAccount finding of %q: no check of this tool covers it", generatorID)
	}
	r, err := FromARN(resourceID)
	if err != nil {
		return Ref{}, err
	}
	if want := specs[r.Kind].ASFFType; want != resourceType {
		return Ref{}, fmt.Errorf("resource type %s with ARN %q: this tool covers %s for that ARN", resourceType, resourceID, want)
	}
	return r, nil
}

func kindIf(ok bool, k Kind) Kind {
	if ok {
		return k
	}
	return ""
}

// cutAny splits s at the first of the separators.
func cutAny(s, seps string) (before, after string, found bool) {
	if i := strings.IndexAny(s, seps); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ValidAccount reports a 12-digit account ID.
func ValidAccount(s string) bool { return validAccount(s) }

func validRegion(s string) bool {
	// Same shape the trigger accepts (us-east-1, ap-southeast-2, us-gov-west-1).
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	last := parts[len(parts)-1]
	if len(last) < 1 || len(last) > 2 {
		return false
	}
	for _, c := range last {
		if c < '0' || c > '9' {
			return false
		}
	}
	for _, p := range parts[:len(parts)-1] {
		if p == "" {
			return false
		}
		for _, c := range p {
			if c < 'a' || c > 'z' {
				return false
			}
		}
	}
	return true
}

// ValidRegion reports a region-shaped name.
func ValidRegion(s string) bool { return validRegion(s) }
