// Package rdschecks holds the checks on the encryption at rest of RDS-API
// resources: DB instances, DB clusters and their snapshots. Each asks the
// shared question of pkg/checks/cmk: encrypted, and with a customer managed
// key? That is stricter than Security Hub's RDS.3 / RDS.27 / RDS.4, which
// accept the AWS managed key aws/rds: a key the account cannot restrict with
// its own key policy, nor share across accounts, nor disable in an incident.
//
// Neptune and DocumentDB clusters, instances and snapshots come back from the
// same API, are encrypted the same way, and are judged too; every reason
// names the engine, so they are told apart in the findings.
package rdschecks

import (
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/cmk"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Checks are this package's checks, in registry order.
func Checks() []check.Check { return []check.Check{InstanceCMK, ClusterCMK, SnapshotCMK} }

var findingTypes = []string{
	"Software and Configuration Checks/AWS Security Best Practices",
	"Effects/Data Exposure",
}

// nist are the NIST 800-53 controls of encryption at rest under a key the
// organisation manages (SC-12 key management, SC-13, SC-28).
var nist = []string{"NIST.800-53.r5 SC-12", "NIST.800-53.r5 SC-13", "NIST.800-53.r5 SC-28", "NIST.800-53.r5 SC-28(1)"}

// InstanceCMK is rds.instance-cmk (Security Hub RDS.3, made stricter).
var InstanceCMK = check.Check{
	ID:    "rds.instance-cmk",
	Title: "RDS DB instances are encrypted at rest with a customer managed KMS key",
	Description: "A DB instance's storage, automated backups, read replicas and snapshots should be encrypted with a " +
		"customer managed KMS key. Unencrypted storage fails with HIGH severity; storage encrypted with the AWS managed " +
		"key aws/rds fails with MEDIUM severity. Instances that belong to a DB cluster (Aurora, Multi-AZ DB clusters, " +
		"Neptune, DocumentDB) take their encryption from the cluster and are judged by rds.cluster-cmk instead.",
	Rule: "a DB instance's storage is encrypted with a customer managed key: unencrypted is FAILED (HIGH), " +
		"the AWS managed key `aws/rds` FAILED (MEDIUM). Instances of a DB cluster (Aurora, Multi-AZ " +
		"DB cluster, Neptune, DocumentDB) are judged by `rds.cluster-cmk` only.",
	Severity:     check.High,
	ResourceType: snapshot.RDSInstanceType,
	Types:        findingTypes,
	Remediation: "Encryption cannot be changed on an existing DB instance. Snapshot it, copy the snapshot with a customer " +
		"managed key (aws rds copy-db-snapshot --kms-key-id <key>), restore a new instance from the copy, move clients " +
		"to it and delete the old instance.",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.html",
	SecurityHubControls: []string{"RDS.3"},
	RelatedRequirements: append([]string{"CIS AWS Foundations Benchmark v3.0.0/2.3.1"}, nist...),
	Services:            []snapshot.Service{snapshot.RDS, snapshot.KMS, snapshot.KMSReferenced},
	Stream:              evaluateInstances,
}

func evaluateInstances(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	instances := append([]*snapshot.RDSInstance(nil), s.RDS.Instances...)
	sort.Slice(instances, func(i, j int) bool { return instances[i].ARN < instances[j].ARN })
	for _, i := range instances {
		if i.InCluster() {
			continue // the cluster's storage: judged once, by rds.cluster-cmk
		}
		r := judge(s, i.StorageEncrypted, i.KMSKeyID, label(i.Engine, "DB instance"))
		r.ResourceARN, r.ResourceName, r.Tags = i.ARN, i.Identifier, i.Tags
		r.Details = &check.ResourceDetails{AwsRdsDbInstance: InstanceDetails(i)}
		emit(r)
	}
}

// ClusterCMK is rds.cluster-cmk (Security Hub RDS.27, made stricter).
var ClusterCMK = check.Check{
	ID:    "rds.cluster-cmk",
	Title: "RDS DB clusters are encrypted at rest with a customer managed KMS key",
	Description: "A DB cluster's storage (Aurora, Multi-AZ DB clusters, and the Neptune and DocumentDB clusters the RDS " +
		"API returns) should be encrypted with a customer managed KMS key; the cluster's instances share it. " +
		"Unencrypted storage fails with HIGH severity; storage encrypted with the AWS managed key aws/rds fails with " +
		"MEDIUM severity.",
	Rule: "a DB cluster's storage (Aurora, Multi-AZ DB clusters, and the Neptune and DocumentDB clusters the " +
		"RDS API returns; the engine is named in the reason) is encrypted with a customer managed " +
		"key: unencrypted FAILED (HIGH), `aws/rds` FAILED (MEDIUM)",
	Severity:     check.High,
	ResourceType: snapshot.RDSClusterType,
	Types:        findingTypes,
	Remediation: "Encryption cannot be changed on an existing DB cluster. Snapshot it, copy the cluster snapshot with a " +
		"customer managed key (aws rds copy-db-cluster-snapshot --kms-key-id <key>), restore a new cluster from the " +
		"copy, move clients to it and delete the old cluster.",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Overview.Encryption.html",
	SecurityHubControls: []string{"RDS.27", "DocumentDB.1", "Neptune.1"},
	RelatedRequirements: nist,
	Services:            []snapshot.Service{snapshot.RDS, snapshot.KMS, snapshot.KMSReferenced},
	Stream:              evaluateClusters,
}

func evaluateClusters(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	clusters := append([]*snapshot.RDSCluster(nil), s.RDS.Clusters...)
	sort.Slice(clusters, func(i, j int) bool { return clusters[i].ARN < clusters[j].ARN })
	for _, c := range clusters {
		r := judge(s, c.StorageEncrypted, c.KMSKeyID, label(c.Engine, "DB cluster"))
		r.ResourceARN, r.ResourceName, r.Tags = c.ARN, c.Identifier, c.Tags
		r.Details = &check.ResourceDetails{AwsRdsDbCluster: ClusterDetails(c)}
		emit(r)
	}
}

// SnapshotCMK is rds.snapshot-cmk (Security Hub RDS.4, made stricter). It
// judges DB snapshots (AwsRdsDbSnapshot) and DB cluster snapshots
// (AwsRdsDbClusterSnapshot), manual and automated, of the account itself.
var SnapshotCMK = check.Check{
	ID:    "rds.snapshot-cmk",
	Title: "RDS DB snapshots and DB cluster snapshots are encrypted with a customer managed KMS key",
	Description: "The account's manual and automated DB snapshots and DB cluster snapshots should be encrypted with a " +
		"customer managed KMS key: a snapshot under the AWS managed key aws/rds cannot be shared with another account, " +
		"and its key policy cannot be restricted. Unencrypted snapshots fail with HIGH severity; snapshots under aws/rds " +
		"fail with MEDIUM severity. Snapshots shared with the account, public snapshots and AWS Backup recovery points " +
		"are not judged.",
	Rule: "the account's own manual and automated DB snapshots and DB cluster snapshots are encrypted with a " +
		"customer managed key: unencrypted FAILED (HIGH), `aws/rds` FAILED (MEDIUM). Shared, public " +
		"and AWS Backup snapshots are not judged.",
	Severity:     check.High,
	ResourceType: snapshot.RDSSnapshotType,
	Types:        findingTypes,
	Remediation: "Copy the snapshot with a customer managed key (aws rds copy-db-snapshot / copy-db-cluster-snapshot " +
		"--kms-key-id <key>) and delete the original. Automated snapshots follow their DB instance or cluster: fix the " +
		"source (rds.instance-cmk, rds.cluster-cmk).",
	RemediationURL:      "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_CopySnapshot.html",
	SecurityHubControls: []string{"RDS.4", "Neptune.6"},
	RelatedRequirements: nist,
	Services:            []snapshot.Service{snapshot.RDS, snapshot.KMS, snapshot.KMSReferenced},
	Stream:              evaluateSnapshots,
}

func evaluateSnapshots(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	for _, sn := range sortedSnapshots(s.RDS.Snapshots) {
		r := judge(s, sn.Encrypted, sn.KMSKeyID, label(sn.Type, sn.Engine, "DB snapshot"))
		r.ResourceARN, r.ResourceName, r.Tags = sn.ARN, sn.Identifier, sn.Tags
		r.Details = &check.ResourceDetails{AwsRdsDbSnapshot: SnapshotDetails(sn)}
		emit(r)
	}
	for _, sn := range sortedSnapshots(s.RDS.ClusterSnapshots) {
		r := judge(s, sn.Encrypted, sn.KMSKeyID, label(sn.Type, sn.Engine, "DB cluster snapshot"))
		r.ResourceARN, r.ResourceName, r.Tags = sn.ARN, sn.Identifier, sn.Tags
		r.ResourceType = snapshot.RDSClusterSnapshotType
		r.Details = &check.ResourceDetails{AwsRdsDbClusterSnapshot: ClusterSnapshotDetails(sn)}
		emit(r)
	}
}

func sortedSnapshots(in []*snapshot.RDSSnapshot) []*snapshot.RDSSnapshot {
	out := append([]*snapshot.RDSSnapshot(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

// label names a resource for a reason ("manual postgres DB snapshot"),
// leaving out what was not reported.
func label(parts ...string) string {
	var words []string
	for _, p := range parts {
		if p != "" {
			words = append(words, p)
		}
	}
	return strings.Join(words, " ")
}

// judge is the shared verdict on one resource, its reason prefixed with
// what the resource is ("neptune DB cluster: not encrypted"). An unreported
// encryption flag gives NOT_AVAILABLE, never a verdict.
func judge(s *snapshot.Snapshot, encrypted snapshot.Fact[bool], key, what string) check.Result {
	var r check.Result
	if !encrypted.Known {
		r.Status, r.Reason = check.NotAvailable, what+": "+encrypted.Reason
		return r
	}
	v := cmk.Judge(s, encrypted.Value, key, snapshot.RDSDefaultKeyAlias)
	r.Status, r.Reason = v.Status, what+": "+v.Reason
	if v.Status == check.Failed {
		r.Severity = v.Severity
	}
	return r
}

// InstanceDetails is the ASFF AwsRdsDbInstance details object of i.
func InstanceDetails(i *snapshot.RDSInstance) *shtypes.AwsRdsDbInstanceDetails {
	d := &shtypes.AwsRdsDbInstanceDetails{
		DBInstanceIdentifier: str(i.Identifier),
		DbiResourceId:        str(i.ResourceID),
		Engine:               str(i.Engine),
		EngineVersion:        str(i.EngineVersion),
		DBInstanceClass:      str(i.Class),
		DbInstanceStatus:     str(i.Status),
		DBClusterIdentifier:  str(i.ClusterIdentifier),
		StorageType:          str(i.StorageType),
		AvailabilityZone:     str(i.AvailabilityZone),
		InstanceCreateTime:   timestamp(i.CreateTime),
		MultiAz:              aws.Bool(i.MultiAZ),
		KmsKeyId:             str(i.KMSKeyID),
	}
	if i.AllocatedStorage > 0 {
		d.AllocatedStorage = aws.Int32(i.AllocatedStorage)
	}
	if i.StorageEncrypted.Known {
		d.StorageEncrypted = aws.Bool(i.StorageEncrypted.Value)
	}
	return d
}

// ClusterDetails is the ASFF AwsRdsDbCluster details object of c.
func ClusterDetails(c *snapshot.RDSCluster) *shtypes.AwsRdsDbClusterDetails {
	d := &shtypes.AwsRdsDbClusterDetails{
		DbClusterIdentifier: str(c.Identifier),
		DbClusterResourceId: str(c.ResourceID),
		Engine:              str(c.Engine),
		EngineVersion:       str(c.EngineVersion),
		EngineMode:          str(c.EngineMode),
		Status:              str(c.Status),
		ClusterCreateTime:   timestamp(c.CreateTime),
		MultiAz:             aws.Bool(c.MultiAZ),
		KmsKeyId:            str(c.KMSKeyID),
	}
	for _, m := range c.Members {
		d.DbClusterMembers = append(d.DbClusterMembers, shtypes.AwsRdsDbClusterMember{
			DbInstanceIdentifier: str(m.Identifier), IsClusterWriter: aws.Bool(m.Writer),
		})
	}
	if c.StorageEncrypted.Known {
		d.StorageEncrypted = aws.Bool(c.StorageEncrypted.Value)
	}
	return d
}

// SnapshotDetails is the ASFF AwsRdsDbSnapshot details object of sn.
func SnapshotDetails(sn *snapshot.RDSSnapshot) *shtypes.AwsRdsDbSnapshotDetails {
	d := &shtypes.AwsRdsDbSnapshotDetails{
		DbSnapshotIdentifier: str(sn.Identifier),
		DbInstanceIdentifier: str(sn.SourceIdentifier),
		DbiResourceId:        str(sn.SourceResourceID),
		Engine:               str(sn.Engine),
		EngineVersion:        str(sn.EngineVersion),
		SnapshotType:         str(sn.Type),
		Status:               str(sn.Status),
		SnapshotCreateTime:   timestamp(sn.CreateTime),
		StorageType:          str(sn.StorageType),
		VpcId:                str(sn.VpcID),
		KmsKeyId:             str(sn.KMSKeyID),
	}
	if sn.AllocatedStorage > 0 {
		d.AllocatedStorage = aws.Int32(sn.AllocatedStorage)
	}
	if sn.Encrypted.Known {
		d.Encrypted = aws.Bool(sn.Encrypted.Value)
	}
	return d
}

// ClusterSnapshotDetails is the ASFF AwsRdsDbClusterSnapshot details object of sn.
func ClusterSnapshotDetails(sn *snapshot.RDSSnapshot) *shtypes.AwsRdsDbClusterSnapshotDetails {
	d := &shtypes.AwsRdsDbClusterSnapshotDetails{
		DbClusterSnapshotIdentifier: str(sn.Identifier),
		DbClusterIdentifier:         str(sn.SourceIdentifier),
		Engine:                      str(sn.Engine),
		EngineVersion:               str(sn.EngineVersion),
		SnapshotType:                str(sn.Type),
		Status:                      str(sn.Status),
		SnapshotCreateTime:          timestamp(sn.CreateTime),
		VpcId:                       str(sn.VpcID),
		KmsKeyId:                    str(sn.KMSKeyID),
	}
	if sn.AllocatedStorage > 0 {
		d.AllocatedStorage = aws.Int32(sn.AllocatedStorage)
	}
	if sn.Encrypted.Known {
		d.StorageEncrypted = aws.Bool(sn.Encrypted.Value)
	}
	return d
}

// str omits empty strings from the details object.
func str(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func timestamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return aws.String(t.UTC().Format("2006-01-02T15:04:05.000Z")) // ASFF's ISO 8601 form
}
