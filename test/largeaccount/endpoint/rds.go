package endpoint

import (
	"strconv"
	"strings"
)

func init() { register("rds", serveRDS) }

const rdsNamespace = "http://rds.amazonaws.com/doc/2014-10-31/"

// serveRDS answers the four RDS describes (query protocol): MaxRecords 20
// to 100 (default 100) with Marker, and the identifier filters
// (db-instance-id, db-cluster-id, db-snapshot-id, db-cluster-snapshot-id).
// Other filters are refused so a client change is noticed.
func serveRDS(q *req) {
	a := q.s.Data
	type kind struct {
		n      int
		filter string
		list   string
		ids    func(int) []string
		write  func(*xb, int)
	}
	kinds := map[string]kind{
		"DescribeDBInstances": {a.N.Instances, "db-instance-id", "DBInstances",
			func(j int) []string { x := a.DBInstance(q.region, j); return []string{x.ID, x.ARN} },
			func(b *xb, j int) { instanceXML(b, a.DBInstance(q.region, j)) }},
		"DescribeDBClusters": {a.N.Clusters, "db-cluster-id", "DBClusters",
			func(c int) []string { x := a.DBCluster(q.region, c); return []string{x.ID, x.ARN} },
			func(b *xb, c int) { clusterXML(b, a, q.region, a.DBCluster(q.region, c)) }},
		"DescribeDBSnapshots": {a.N.Snapshots, "db-snapshot-id", "DBSnapshots",
			func(s int) []string { x := a.DBSnapshot(q.region, s); return []string{x.ID, x.ARN} },
			func(b *xb, s int) { snapshotXML(b, "DBSnapshot", a.DBSnapshot(q.region, s)) }},
		"DescribeDBClusterSnapshots": {a.N.ClusterSnapshots, "db-cluster-snapshot-id", "DBClusterSnapshots",
			func(s int) []string { x := a.DBClusterSnapshot(q.region, s); return []string{x.ID, x.ARN} },
			func(b *xb, s int) { snapshotXML(b, "DBClusterSnapshot", a.DBClusterSnapshot(q.region, s)) }},
	}
	k, ok := kinds[q.op]
	if !ok {
		q.unknownOperation()
		return
	}
	size := 100
	if v := q.form.Get("MaxRecords"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 20 || n > 100 {
			q.invalid("InvalidParameterValue", "Invalid value %s for MaxRecords. Must be between 20 and 100", v)
			return
		}
		size = n
	}
	want := map[string]bool{}
	for n := 1; ; n++ {
		name := q.form.Get("Filters.Filter." + strconv.Itoa(n) + ".Name")
		if name == "" {
			break
		}
		if name != k.filter {
			q.invalid("InvalidParameterValue", "filter %q is not served by the largeaccount endpoint", name)
			return
		}
		for m := 1; ; m++ {
			v := q.form.Get("Filters.Filter." + strconv.Itoa(n) + ".Values.Value." + strconv.Itoa(m))
			if v == "" {
				break
			}
			want[strings.ToLower(v)] = true
		}
	}
	idx := make([]int, 0, k.n)
	for i := 0; i < k.n; i++ {
		if len(want) > 0 {
			hit := false
			for _, id := range k.ids(i) {
				hit = hit || want[strings.ToLower(id)]
			}
			if !hit {
				continue
			}
		}
		idx = append(idx, i)
	}
	start, end, next, ok := page(q.op, q.region, q.form.Get("Marker"), len(idx), size)
	if !ok {
		q.invalid("InvalidParameterValue", "Invalid marker")
		return
	}
	var b xb
	b.open(k.list)
	for _, i := range idx[start:end] {
		k.write(&b, i)
	}
	b.close(k.list)
	if next != "" {
		b.el("Marker", next)
	}
	q.queryResponse(rdsNamespace, b.String())
}

func tagsXML(b *xb, kv ...string) {
	b.open("TagList")
	for i := 0; i+1 < len(kv); i += 2 {
		b.open("Tag").el("Key", kv[i]).el("Value", kv[i+1]).close("Tag")
	}
	b.close("TagList")
}

func encXML(b *xb, e encryption, field string) {
	b.bool(field, e.Mode != "")
	if e.Mode != "" {
		b.el("KmsKeyId", e.Key.ARN)
	}
}

func instanceXML(b *xb, x DBInstance) {
	b.open("DBInstance")
	b.el("DBInstanceIdentifier", x.ID).el("DBInstanceClass", x.Class).el("Engine", x.Engine).el("DBInstanceStatus", "available")
	b.el("MasterUsername", "admin").int("AllocatedStorage", 100).el("InstanceCreateTime", iso(x.Created))
	b.el("AvailabilityZone", "az-a").bool("MultiAZ", x.Index%4 == 0).el("EngineVersion", "8.0.35")
	b.bool("AutoMinorVersionUpgrade", true).bool("PubliclyAccessible", false).el("StorageType", "gp3")
	if x.Cluster != "" {
		b.el("DBClusterIdentifier", x.Cluster)
	}
	encXML(b, x.Enc, "StorageEncrypted")
	b.el("DbiResourceId", x.ResourceID).el("DBInstanceArn", x.ARN).bool("DeletionProtection", false)
	tagsXML(b, "team", []string{"payments", "search", "identity"}[x.Index%3], "env", []string{"prod", "dev"}[x.Index%2])
	b.close("DBInstance")
}

func clusterXML(b *xb, a *Account, region string, x DBCluster) {
	b.open("DBCluster")
	b.int("AllocatedStorage", 1).el("DBClusterIdentifier", x.ID).el("Status", "available").el("Engine", x.Engine)
	b.el("EngineVersion", "8.0.mysql_aurora.3.05.2").el("EngineMode", "provisioned").bool("MultiAZ", true)
	b.open("DBClusterMembers")
	for _, j := range []int{2 * x.Index, 2*x.Index + 1} {
		if j < a.N.Instances {
			m := a.DBInstance(region, j)
			b.open("DBClusterMember").el("DBInstanceIdentifier", m.ID).bool("IsClusterWriter", m.Writer).close("DBClusterMember")
		}
	}
	b.close("DBClusterMembers")
	encXML(b, x.Enc, "StorageEncrypted")
	b.el("DbClusterResourceId", x.ResourceID).el("DBClusterArn", x.ARN).el("ClusterCreateTime", iso(x.Created))
	tagsXML(b, "team", "data")
	b.close("DBCluster")
}

func snapshotXML(b *xb, elem string, x DBSnapshot) {
	b.open(elem)
	if elem == "DBSnapshot" {
		b.el("DBSnapshotIdentifier", x.ID).el("DBInstanceIdentifier", x.Source)
	} else {
		b.el("DBClusterSnapshotIdentifier", x.ID).el("DBClusterIdentifier", x.Source)
	}
	b.el("SnapshotCreateTime", iso(x.Created)).el("Engine", x.Engine).int("AllocatedStorage", 100).el("Status", "available")
	b.el("VpcId", "vpc-0a1b2c3d").el("EngineVersion", "8.0.35").el("SnapshotType", x.Type).int("PercentProgress", 100).el("StorageType", "gp3")
	if elem == "DBSnapshot" {
		encXML(b, x.Enc, "Encrypted")
		b.el("DBSnapshotArn", x.ARN).el("DbiResourceId", x.SourceResourceID)
	} else {
		encXML(b, x.Enc, "StorageEncrypted")
		b.el("DBClusterSnapshotArn", x.ARN).el("DbClusterResourceId", x.SourceResourceID)
	}
	tagsXML(b, "source", x.Source)
	b.close(elem)
}
