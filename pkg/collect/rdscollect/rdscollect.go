// Package rdscollect reads the RDS-API resources of one region: DB
// instances, DB clusters, DB snapshots and DB cluster snapshots. The four
// describe calls are list calls that already carry every field the checks
// need (encryption flag and key) and each resource's tags (TagList), so
// nothing is described per resource and ListTagsForResource is never called.
//
// The same API returns Neptune and DocumentDB clusters, instances and
// snapshots. They are kept: they are encrypted with KMS exactly as RDS is
// (same StorageEncrypted/KmsKeyId fields, same aws/rds default key), and the
// checks name the engine in every finding.
package rdscollect

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// API is the part of the RDS client the collector uses; each method is one
// IAM action in template.yaml.
type API interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	DescribeDBSnapshots(context.Context, *rds.DescribeDBSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	DescribeDBClusterSnapshots(context.Context, *rds.DescribeDBClusterSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
}

// Operations are the IAM actions of every call the collector can make: one
// per method of API, which TestOperationsMatchAPI keeps equal. docs/checks.md
// lists them under each check that reads this service.
var Operations = []string{"rds:DescribeDBInstances", "rds:DescribeDBClusters", "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"}

// Collector is the RDS collector.
type Collector struct {
	// NewAPI builds the client; nil means rds.NewFromConfig.
	NewAPI func(aws.Config) API
}

// Service implements collect.Collector.
func (Collector) Service() snapshot.Service { return snapshot.RDS }

// pageSize is the largest MaxRecords the RDS describes accept.
const pageSize = 100

// Collect implements collect.Collector. The four lists are independent: each
// runs on its own, and one that fails (recorded, no results from it) does
// not hide the others.
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(cfg)
	rec := collect.NewRecorder(snap, snapshot.RDS)
	t := targetsOf(scope, snap)

	// ok[k] is set when kind k's describe answered without error.
	var ok [kinds]bool
	var wg sync.WaitGroup
	run := func(k kind, fn func() error) {
		if !t.all && len(t.filters[k]) == 0 {
			return // the scope names nothing of this kind: no call
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				// A scoped describe's error names what the scope asked for.
				rec.Fail(operations[k], strings.Join(t.named[k], ","), err)
				return
			}
			ok[k] = true
		}()
	}
	run(instances, func() error {
		out, err := listInstances(ctx, api, filter("db-instance-id", t.filters[instances]))
		snap.RDS.Instances = out
		return err
	})
	run(clusters, func() error {
		out, err := listClusters(ctx, api, filter("db-cluster-id", t.filters[clusters]))
		snap.RDS.Clusters = out
		return err
	})
	run(snapshots, func() error {
		out, err := listSnapshots(ctx, api, filter("db-snapshot-id", t.filters[snapshots]))
		snap.RDS.Snapshots = out
		return err
	})
	run(clusterSnapshots, func() error {
		out, err := listClusterSnapshots(ctx, api, filter("db-cluster-snapshot-id", t.filters[clusterSnapshots]))
		snap.RDS.ClusterSnapshots = out
		return err
	})
	wg.Wait()
	markAbsent(snap, t, ok)

	// Every encrypted resource's key goes to the key model; an unencrypted
	// one has no key to resolve.
	for _, i := range snap.RDS.Instances {
		addKeyUse(snap, i.ARN, i.Identifier, snapshot.RDSInstanceType, i.StorageEncrypted, i.KMSKeyID)
	}
	for _, cl := range snap.RDS.Clusters {
		addKeyUse(snap, cl.ARN, cl.Identifier, snapshot.RDSClusterType, cl.StorageEncrypted, cl.KMSKeyID)
	}
	for _, s := range snap.RDS.Snapshots {
		addKeyUse(snap, s.ARN, s.Identifier, snapshot.RDSSnapshotType, s.Encrypted, s.KMSKeyID)
	}
	for _, s := range snap.RDS.ClusterSnapshots {
		addKeyUse(snap, s.ARN, s.Identifier, snapshot.RDSClusterSnapshotType, s.Encrypted, s.KMSKeyID)
	}
}

func (c Collector) api(cfg aws.Config) API {
	if c.NewAPI != nil {
		return c.NewAPI(cfg)
	}
	return rds.NewFromConfig(cfg)
}

func addKeyUse(snap *snapshot.Snapshot, arn, name, resourceType string, encrypted snapshot.Fact[bool], key string) {
	if !encrypted.Known || !encrypted.Value {
		return
	}
	snap.AddKeyUse(snapshot.KeyUse{
		Service: snapshot.RDS, ResourceARN: arn, ResourceName: name, ResourceType: resourceType,
		KeyRef: key, DefaultAlias: snapshot.RDSDefaultKeyAlias,
	})
}

// kind is one of the four kinds of resource the collector reads.
type kind int

const (
	instances kind = iota
	clusters
	snapshots
	clusterSnapshots
	kinds
)

// operations names each kind's describe, as errors record it.
var operations = [kinds]string{"DescribeDBInstances", "DescribeDBClusters", "DescribeDBSnapshots", "DescribeDBClusterSnapshots"}

// targets is what a scope asks for, by kind of resource.
type targets struct {
	all bool
	// filters are each kind's filter values; named are the same entries as
	// the scope spelled them.
	filters, named [kinds][]string
	requests       []request
}

// request is one scope entry: the identifier it names in each kind it may
// be (one kind for an ARN, all four for a bare identifier).
type request struct {
	id    string
	names map[kind]string
}

// targetsOf sorts the scope's resource IDs by kind. An RDS ARN names its
// kind (db, cluster, snapshot, cluster-snapshot); a bare identifier could be
// any kind, so it is looked for in all four. ARNs of another region or
// account, of another service, or of a kind not read here are not in this
// region's scope.
func targetsOf(scope collect.Scope, snap *snapshot.Snapshot) targets {
	if scope.All() {
		return targets{all: true}
	}
	var t targets
	add := func(k kind, filterValue, id, name string, r *request) {
		t.filters[k] = append(t.filters[k], filterValue)
		t.named[k] = append(t.named[k], id)
		r.names[k] = name
	}
	for _, id := range scope.ResourceIDs {
		r := request{id: id, names: map[kind]string{}}
		if !strings.HasPrefix(id, "arn:") {
			for k := range kinds {
				add(k, id, id, id, &r)
			}
			t.requests = append(t.requests, r)
			continue
		}
		a, err := arn.Parse(id)
		if err != nil || a.Service != "rds" || a.Region != snap.Region || a.AccountID != snap.Account {
			continue
		}
		resourceKind, name, ok := strings.Cut(a.Resource, ":")
		if !ok || name == "" {
			continue
		}
		switch resourceKind {
		case "db":
			add(instances, id, id, name, &r)
		case "cluster":
			add(clusters, id, id, name, &r)
		case "snapshot":
			// The snapshot filters take identifiers, not ARNs; an automated
			// snapshot's identifier itself holds a colon (rds:db-2024-...).
			add(snapshots, name, id, name, &r)
		case "cluster-snapshot":
			add(clusterSnapshots, name, id, name, &r)
		default:
			continue
		}
		t.requests = append(t.requests, r)
	}
	return t
}

// markAbsent marks absent each scope entry that no describe returned, when
// every describe it needed answered without error: the filtered reads
// matched nothing, so AWS says it does not exist. An entry whose describe
// failed has that error, naming it, instead. Identifiers are compared
// without case: RDS stores them in lowercase whatever case they were given
// in.
func markAbsent(snap *snapshot.Snapshot, t targets, ok [kinds]bool) {
	returned := [kinds]map[string]bool{}
	for k := range kinds {
		returned[k] = map[string]bool{}
	}
	for _, i := range snap.RDS.Instances {
		returned[instances][strings.ToLower(i.Identifier)] = true
	}
	for _, c := range snap.RDS.Clusters {
		returned[clusters][strings.ToLower(c.Identifier)] = true
	}
	for _, s := range snap.RDS.Snapshots {
		returned[snapshots][strings.ToLower(s.Identifier)] = true
	}
	for _, s := range snap.RDS.ClusterSnapshots {
		returned[clusterSnapshots][strings.ToLower(s.Identifier)] = true
	}
	for _, r := range t.requests {
		found, answered := false, true
		for k, name := range r.names {
			answered = answered && ok[k]
			found = found || returned[k][strings.ToLower(name)]
		}
		if !found && answered {
			snap.MarkAbsent(snapshot.RDS, r.id)
		}
	}
}

// filter restricts a describe to the named resources; none means all.
func filter(name string, values []string) []rdstypes.Filter {
	if len(values) == 0 {
		return nil
	}
	return []rdstypes.Filter{{Name: aws.String(name), Values: values}}
}

func encryptedFact(v *bool, operation, field string) snapshot.Fact[bool] {
	if v == nil {
		return snapshot.UnknownFact[bool](operation + " did not report " + field)
	}
	return snapshot.KnownFact(*v)
}

func listInstances(ctx context.Context, api API, filters []rdstypes.Filter) ([]*snapshot.RDSInstance, error) {
	var out []*snapshot.RDSInstance
	p := rds.NewDescribeDBInstancesPaginator(api, &rds.DescribeDBInstancesInput{MaxRecords: aws.Int32(pageSize), Filters: filters})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.DBInstances {
			out = append(out, &snapshot.RDSInstance{
				ARN:               aws.ToString(d.DBInstanceArn),
				Identifier:        aws.ToString(d.DBInstanceIdentifier),
				ResourceID:        aws.ToString(d.DbiResourceId),
				Engine:            aws.ToString(d.Engine),
				EngineVersion:     aws.ToString(d.EngineVersion),
				Class:             aws.ToString(d.DBInstanceClass),
				Status:            aws.ToString(d.DBInstanceStatus),
				ClusterIdentifier: aws.ToString(d.DBClusterIdentifier),
				StorageType:       aws.ToString(d.StorageType),
				AllocatedStorage:  aws.ToInt32(d.AllocatedStorage),
				MultiAZ:           aws.ToBool(d.MultiAZ),
				AvailabilityZone:  aws.ToString(d.AvailabilityZone),
				CreateTime:        aws.ToTime(d.InstanceCreateTime),
				StorageEncrypted:  encryptedFact(d.StorageEncrypted, "DescribeDBInstances", "StorageEncrypted"),
				KMSKeyID:          keyOf(d.StorageEncrypted, d.KmsKeyId),
				Tags:              tags(d.TagList),
			})
		}
	}
	return out, nil
}

func listClusters(ctx context.Context, api API, filters []rdstypes.Filter) ([]*snapshot.RDSCluster, error) {
	var out []*snapshot.RDSCluster
	p := rds.NewDescribeDBClustersPaginator(api, &rds.DescribeDBClustersInput{MaxRecords: aws.Int32(pageSize), Filters: filters})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.DBClusters {
			cl := &snapshot.RDSCluster{
				ARN:              aws.ToString(d.DBClusterArn),
				Identifier:       aws.ToString(d.DBClusterIdentifier),
				ResourceID:       aws.ToString(d.DbClusterResourceId),
				Engine:           aws.ToString(d.Engine),
				EngineVersion:    aws.ToString(d.EngineVersion),
				EngineMode:       aws.ToString(d.EngineMode),
				Status:           aws.ToString(d.Status),
				MultiAZ:          aws.ToBool(d.MultiAZ),
				CreateTime:       aws.ToTime(d.ClusterCreateTime),
				StorageEncrypted: encryptedFact(d.StorageEncrypted, "DescribeDBClusters", "StorageEncrypted"),
				KMSKeyID:         keyOf(d.StorageEncrypted, d.KmsKeyId),
				Tags:             tags(d.TagList),
			}
			for _, m := range d.DBClusterMembers {
				cl.Members = append(cl.Members, snapshot.RDSClusterMember{Identifier: aws.ToString(m.DBInstanceIdentifier), Writer: aws.ToBool(m.IsClusterWriter)})
			}
			out = append(out, cl)
		}
	}
	return out, nil
}

// listSnapshots reads the account's DB snapshots. Without SnapshotType,
// DescribeDBSnapshots returns both automated and manual snapshots (and no
// shared or public ones unless IncludeShared/IncludePublic are set), which
// is exactly the set this account owns and can fix.
func listSnapshots(ctx context.Context, api API, filters []rdstypes.Filter) ([]*snapshot.RDSSnapshot, error) {
	var out []*snapshot.RDSSnapshot
	p := rds.NewDescribeDBSnapshotsPaginator(api, &rds.DescribeDBSnapshotsInput{MaxRecords: aws.Int32(pageSize), Filters: filters})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.DBSnapshots {
			out = append(out, &snapshot.RDSSnapshot{
				ARN:              aws.ToString(d.DBSnapshotArn),
				Identifier:       aws.ToString(d.DBSnapshotIdentifier),
				SourceIdentifier: aws.ToString(d.DBInstanceIdentifier),
				SourceResourceID: aws.ToString(d.DbiResourceId),
				Engine:           aws.ToString(d.Engine),
				EngineVersion:    aws.ToString(d.EngineVersion),
				Type:             aws.ToString(d.SnapshotType),
				Status:           aws.ToString(d.Status),
				CreateTime:       aws.ToTime(d.SnapshotCreateTime),
				AllocatedStorage: aws.ToInt32(d.AllocatedStorage),
				StorageType:      aws.ToString(d.StorageType),
				VpcID:            aws.ToString(d.VpcId),
				Encrypted:        encryptedFact(d.Encrypted, "DescribeDBSnapshots", "Encrypted"),
				KMSKeyID:         keyOf(d.Encrypted, d.KmsKeyId),
				Tags:             tags(d.TagList),
			})
		}
	}
	return out, nil
}

// listClusterSnapshots is listSnapshots for DB cluster snapshots; the same
// default applies (automated and manual, no shared or public).
func listClusterSnapshots(ctx context.Context, api API, filters []rdstypes.Filter) ([]*snapshot.RDSSnapshot, error) {
	var out []*snapshot.RDSSnapshot
	p := rds.NewDescribeDBClusterSnapshotsPaginator(api, &rds.DescribeDBClusterSnapshotsInput{MaxRecords: aws.Int32(pageSize), Filters: filters})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.DBClusterSnapshots {
			out = append(out, &snapshot.RDSSnapshot{
				ARN:              aws.ToString(d.DBClusterSnapshotArn),
				Identifier:       aws.ToString(d.DBClusterSnapshotIdentifier),
				SourceIdentifier: aws.ToString(d.DBClusterIdentifier),
				SourceResourceID: aws.ToString(d.DbClusterResourceId),
				Engine:           aws.ToString(d.Engine),
				EngineVersion:    aws.ToString(d.EngineVersion),
				Type:             aws.ToString(d.SnapshotType),
				Status:           aws.ToString(d.Status),
				CreateTime:       aws.ToTime(d.SnapshotCreateTime),
				AllocatedStorage: aws.ToInt32(d.AllocatedStorage),
				StorageType:      aws.ToString(d.StorageType),
				VpcID:            aws.ToString(d.VpcId),
				Encrypted:        encryptedFact(d.StorageEncrypted, "DescribeDBClusterSnapshots", "StorageEncrypted"),
				KMSKeyID:         keyOf(d.StorageEncrypted, d.KmsKeyId),
				Tags:             tags(d.TagList),
			})
		}
	}
	return out, nil
}

// tags reads the TagList every one of the four describes returns with each
// record: the resources' tags cost no call of their own.
func tags(list []rdstypes.Tag) snapshot.Tags {
	return collect.Tags(list, func(t rdstypes.Tag) (*string, *string) { return t.Key, t.Value })
}

// keyOf keeps the reported key only for encrypted storage: a key reported
// next to StorageEncrypted=false protects nothing.
func keyOf(encrypted *bool, key *string) string {
	if !aws.ToBool(encrypted) {
		return ""
	}
	return aws.ToString(key)
}
