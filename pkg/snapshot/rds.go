package snapshot

import "time"

// RDSDefaultKeyAlias is the AWS managed key that RDS (and Neptune and
// DocumentDB, which share its API and key) encrypts with when no key is named.
const RDSDefaultKeyAlias = "alias/aws/rds"

// ASFF resource types of the RDS-API resources.
const (
	RDSInstanceType        = "AwsRdsDbInstance"
	RDSClusterType         = "AwsRdsDbCluster"
	RDSSnapshotType        = "AwsRdsDbSnapshot"
	RDSClusterSnapshotType = "AwsRdsDbClusterSnapshot"
)

// RDSData is what the rds collector read in one region: every resource the
// RDS API returns, which includes Aurora, Multi-AZ DB clusters, and the
// Neptune and DocumentDB clusters and instances (Engine tells them apart;
// they are encrypted with KMS the same way). A list that failed leaves its
// slice empty, with the error recorded in Snapshot.Errors.
type RDSData struct {
	Instances []*RDSInstance
	Clusters  []*RDSCluster
	// Snapshots are DB (instance) snapshots; ClusterSnapshots are DB cluster
	// snapshots. Both hold the account's own manual and automated
	// snapshots: shared, public and AWS Backup snapshots are not read.
	Snapshots        []*RDSSnapshot
	ClusterSnapshots []*RDSSnapshot
}

// RDSInstance is one DB instance from DescribeDBInstances.
type RDSInstance struct {
	ARN        string
	Identifier string
	// ResourceID is the DbiResourceId.
	ResourceID    string
	Engine        string
	EngineVersion string
	Class         string
	Status        string
	// ClusterIdentifier is set for an instance that belongs to a DB cluster
	// (Aurora, Multi-AZ DB cluster, Neptune, DocumentDB): its storage, and
	// so its encryption, is the cluster's.
	ClusterIdentifier string
	StorageType       string
	AllocatedStorage  int32
	MultiAZ           bool
	AvailabilityZone  string
	CreateTime        time.Time

	// StorageEncrypted is unknown when the response omitted it.
	StorageEncrypted Fact[bool]
	// KMSKeyID is the key reference as RDS reported it (AWS reports the key
	// ARN); empty when the instance is not encrypted.
	KMSKeyID string

	// Tags are the instance's tags, from DescribeDBInstances' TagList (no
	// call of its own); nil when it has none.
	Tags Tags
}

// InCluster reports an instance whose storage belongs to a DB cluster.
func (i *RDSInstance) InCluster() bool { return i.ClusterIdentifier != "" }

// RDSCluster is one DB cluster from DescribeDBClusters.
type RDSCluster struct {
	ARN        string
	Identifier string
	// ResourceID is the DbClusterResourceId.
	ResourceID    string
	Engine        string
	EngineVersion string
	// EngineMode is provisioned, serverless, parallelquery, ... (Aurora);
	// empty for engines that do not report one.
	EngineMode string
	Status     string
	Members    []RDSClusterMember
	MultiAZ    bool
	CreateTime time.Time

	StorageEncrypted Fact[bool]
	KMSKeyID         string

	// Tags are the cluster's tags, from DescribeDBClusters' TagList; nil
	// when it has none.
	Tags Tags
}

// RDSClusterMember is one DB instance of a cluster.
type RDSClusterMember struct {
	Identifier string
	Writer     bool
}

// RDSSnapshot is one DB snapshot (DescribeDBSnapshots) or DB cluster
// snapshot (DescribeDBClusterSnapshots).
type RDSSnapshot struct {
	ARN        string
	Identifier string
	// SourceIdentifier is the DB instance (DB snapshot) or DB cluster
	// (cluster snapshot) the snapshot was taken of.
	SourceIdentifier string
	// SourceResourceID is the source's DbiResourceId or DbClusterResourceId.
	SourceResourceID string
	Engine           string
	EngineVersion    string
	// Type is manual or automated.
	Type             string
	Status           string
	CreateTime       time.Time
	AllocatedStorage int32
	StorageType      string
	VpcID            string

	// Encrypted is the DB snapshot's Encrypted, or the cluster snapshot's
	// StorageEncrypted; unknown when the response omitted it.
	Encrypted Fact[bool]
	KMSKeyID  string

	// Tags are the snapshot's tags, from DescribeDBSnapshots' or
	// DescribeDBClusterSnapshots' TagList; nil when it has none.
	Tags Tags
}
