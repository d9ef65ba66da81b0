package rdscollect_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/rdscollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "eu-west-1"

var describeOps = []string{"DescribeDBInstances", "DescribeDBClusters", "DescribeDBSnapshots", "DescribeDBClusterSnapshots"}

// seedMoto creates, in moto: DB instances under a customer managed key
// (cmk-db), unencrypted (plain-db) and encrypted without a key (default-db);
// an Aurora cluster under the CMK with one member instance (aurora-cmk,
// aurora-cmk-1) and an unencrypted one (aurora-plain); a manual snapshot of
// plain-db and a manual cluster snapshot of aurora-cmk. moto adds an
// automated snapshot of every instance and cluster it creates.
func seedMoto(t *testing.T, cfg aws.Config) (cmkARN string) {
	t.Helper()
	ctx := context.Background()
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	cmkARN = aws.ToString(key.KeyMetadata.Arn)
	c := rds.NewFromConfig(cfg)
	instance := func(id string, encrypted bool, key string, tags ...rdstypes.Tag) {
		in := &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.t3.micro"),
			AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin_user"), MasterUserPassword: aws.String("not-a-secret-1"),
			StorageEncrypted: aws.Bool(encrypted), Tags: tags,
		}
		if key != "" {
			in.KmsKeyId = aws.String(key)
		}
		if _, err := c.CreateDBInstance(ctx, in); err != nil {
			t.Fatalf("create instance %s: %v", id, err)
		}
	}
	instance("cmk-db", true, cmkARN, tag("team", "payments"), tag("posture-auditor:exempt", "rds.instance-cmk"))
	instance("plain-db", false, "")
	instance("default-db", true, "")
	cluster := func(id, engine string, encrypted bool, key string, tags ...rdstypes.Tag) {
		in := &rds.CreateDBClusterInput{
			DBClusterIdentifier: aws.String(id), Engine: aws.String(engine),
			MasterUsername: aws.String("admin_user"), MasterUserPassword: aws.String("not-a-secret-1"), StorageEncrypted: aws.Bool(encrypted),
			Tags: tags,
		}
		if key != "" {
			in.KmsKeyId = aws.String(key)
		}
		if _, err := c.CreateDBCluster(ctx, in); err != nil {
			t.Fatalf("create cluster %s: %v", id, err)
		}
	}
	cluster("aurora-cmk", "aurora-postgresql", true, cmkARN, tag("team", "ledger"))
	cluster("aurora-plain", "aurora-mysql", false, "")
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("aurora-cmk-1"), DBClusterIdentifier: aws.String("aurora-cmk"),
		Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("plain-db"), DBSnapshotIdentifier: aws.String("plain-db-manual"),
		Tags: []rdstypes.Tag{tag("retain", "7y")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("aurora-cmk"), DBClusterSnapshotIdentifier: aws.String("aurora-cmk-manual"),
		Tags: []rdstypes.Tag{tag("retain", "1y")}}); err != nil {
		t.Fatal(err)
	}
	return cmkARN
}

func tag(k, v string) rdstypes.Tag { return rdstypes.Tag{Key: aws.String(k), Value: aws.String(v)} }

// TestCollectAgainstMoto reads the seeded resources through the real client.
func TestCollectAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	cmkARN := seedMoto(t, cfg)

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	rdscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{})
	if !snap.Complete(snapshot.RDS) {
		t.Fatalf("collection not complete: %v", snap.Errors)
	}

	instances := map[string]*snapshot.RDSInstance{}
	for _, i := range snap.RDS.Instances {
		instances[i.Identifier] = i
	}
	if len(instances) != 4 {
		t.Fatalf("got %d instances, want 4", len(instances))
	}
	if i := instances["cmk-db"]; i.ARN != "arn:aws:rds:eu-west-1:123456789012:db:cmk-db" || i.Engine != "postgres" ||
		!i.StorageEncrypted.Known || !i.StorageEncrypted.Value || i.KMSKeyID != cmkARN || i.InCluster() {
		t.Errorf("cmk-db: %+v", i)
	}
	if i := instances["plain-db"]; !i.StorageEncrypted.Known || i.StorageEncrypted.Value || i.KMSKeyID != "" {
		t.Errorf("plain-db: %+v", i)
	}
	if i := instances["aurora-cmk-1"]; i.ClusterIdentifier != "aurora-cmk" || !i.InCluster() {
		t.Errorf("aurora-cmk-1: %+v", i)
	}

	clusters := map[string]*snapshot.RDSCluster{}
	for _, c := range snap.RDS.Clusters {
		clusters[c.Identifier] = c
	}
	if c := clusters["aurora-cmk"]; c == nil || c.Engine != "aurora-postgresql" || !c.StorageEncrypted.Value || c.KMSKeyID != cmkARN ||
		len(c.Members) != 1 || c.Members[0].Identifier != "aurora-cmk-1" {
		t.Errorf("aurora-cmk: %+v", c)
	}
	// moto reports a placeholder key even for an unencrypted cluster; a key
	// next to StorageEncrypted=false protects nothing and is not kept.
	if c := clusters["aurora-plain"]; c == nil || !c.StorageEncrypted.Known || c.StorageEncrypted.Value || c.KMSKeyID != "" {
		t.Errorf("aurora-plain: %+v", c)
	}

	// Without SnapshotType both manual and automated snapshots come back.
	types := map[string]bool{}
	var manual *snapshot.RDSSnapshot
	for _, s := range snap.RDS.Snapshots {
		types[s.Type] = true
		if s.Identifier == "plain-db-manual" {
			manual = s
		}
	}
	if !types["manual"] || !types["automated"] {
		t.Errorf("DB snapshot types read: %v", types)
	}
	if manual == nil || manual.SourceIdentifier != "plain-db" || manual.Type != "manual" || !manual.Encrypted.Known || manual.Encrypted.Value {
		t.Errorf("plain-db-manual: %+v", manual)
	}
	var clusterManual *snapshot.RDSSnapshot
	clusterTypes := map[string]bool{}
	for _, s := range snap.RDS.ClusterSnapshots {
		clusterTypes[s.Type] = true
		if s.Identifier == "aurora-cmk-manual" {
			clusterManual = s
		}
	}
	if !clusterTypes["manual"] || !clusterTypes["automated"] {
		t.Errorf("cluster snapshot types read: %v", clusterTypes)
	}
	if clusterManual == nil || clusterManual.SourceIdentifier != "aurora-cmk" || !clusterManual.Encrypted.Value || clusterManual.KMSKeyID != cmkARN {
		t.Errorf("aurora-cmk-manual: %+v", clusterManual)
	}

	// Tags come with every describe's records (TagList): no call of their
	// own, as the call counts below show.
	for name, c := range map[string]struct{ got, want map[string]string }{
		"cmk-db":            {instances["cmk-db"].Tags.Map(), map[string]string{"team": "payments", "posture-auditor:exempt": "rds.instance-cmk"}},
		"plain-db":          {instances["plain-db"].Tags.Map(), nil},
		"aurora-cmk":        {clusters["aurora-cmk"].Tags.Map(), map[string]string{"team": "ledger"}},
		"plain-db-manual":   {manual.Tags.Map(), map[string]string{"retain": "7y"}},
		"aurora-cmk-manual": {clusterManual.Tags.Map(), map[string]string{"retain": "1y"}},
	} {
		if !maps.Equal(c.got, c.want) {
			t.Errorf("%s tags: %v, want %v", name, c.got, c.want)
		}
	}

	// Every encrypted resource's key is recorded as reported (moto's
	// placeholder included: the key model calls it unrecognised); no
	// unencrypted resource has a key use.
	uses := map[string]snapshot.KeyUse{}
	for _, u := range snap.KeyUses() {
		uses[u.ResourceARN] = u
	}
	if u, ok := uses[instances["cmk-db"].ARN]; !ok || u.KeyRef != cmkARN || u.DefaultAlias != "alias/aws/rds" || u.ResourceType != "AwsRdsDbInstance" || u.Service != snapshot.RDS {
		t.Errorf("cmk-db key use: %+v", u)
	}
	if u := uses[instances["default-db"].ARN]; u.KeyRef != "default_kms_key_id" {
		t.Errorf("default-db key use: %+v", u)
	}
	if u := uses[clusterManual.ARN]; u.KeyRef != cmkARN || u.ResourceType != "AwsRdsDbClusterSnapshot" {
		t.Errorf("aurora-cmk-manual key use: %+v", u)
	}
	for _, arn := range []string{instances["plain-db"].ARN, clusters["aurora-plain"].ARN, manual.ARN} {
		if u, ok := uses[arn]; ok {
			t.Errorf("unencrypted resource has a key use: %+v", u)
		}
	}

	// One call per list: every field the checks need is in the lists.
	for _, op := range describeOps {
		if got := counter.Count("RDS", op); got != 1 {
			t.Errorf("%s called %d times, want 1", op, got)
		}
	}
	if n := counter.Total(); n != 4 {
		t.Errorf("%d calls in all, want 4: %+v", n, counter.Snapshot())
	}
}

// TestCollectScopeAgainstMoto reads named resources only, by ARN and by
// bare identifier, and makes no call for a kind the scope does not name.
func TestCollectScopeAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	seedMoto(t, cfg)

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	rdscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{
		"arn:aws:rds:eu-west-1:123456789012:db:cmk-db",
		"arn:aws:rds:eu-west-1:123456789012:snapshot:plain-db-manual",
		"arn:aws:rds:us-east-1:123456789012:cluster:aurora-cmk", // another region: not here
	}})
	if !snap.Complete(snapshot.RDS) {
		t.Fatalf("collection not complete: %v", snap.Errors)
	}
	if len(snap.RDS.Instances) != 1 || snap.RDS.Instances[0].Identifier != "cmk-db" {
		t.Errorf("instances: %+v", snap.RDS.Instances)
	}
	if len(snap.RDS.Snapshots) != 1 || snap.RDS.Snapshots[0].Identifier != "plain-db-manual" {
		t.Errorf("snapshots: %+v", snap.RDS.Snapshots)
	}
	for op, want := range map[string]int{"DescribeDBInstances": 1, "DescribeDBSnapshots": 1, "DescribeDBClusters": 0, "DescribeDBClusterSnapshots": 0} {
		if got := counter.Count("RDS", op); got != want {
			t.Errorf("%s called %d times, want %d", op, got, want)
		}
	}

	// A bare identifier may name any kind, so all four lists are asked.
	snap = snapshot.New(motoserver.Account, "aws", region)
	rdscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{"aurora-cmk"}})
	if len(snap.RDS.Clusters) != 1 || len(snap.RDS.Instances) != 0 || len(snap.RDS.Snapshots) != 0 || len(snap.RDS.ClusterSnapshots) != 0 {
		t.Errorf("bare identifier: %d instances, %d clusters, %d snapshots, %d cluster snapshots",
			len(snap.RDS.Instances), len(snap.RDS.Clusters), len(snap.RDS.Snapshots), len(snap.RDS.ClusterSnapshots))
	}
}

// fakeRDS speaks the RDS query protocol (form-encoded Action=..., XML
// answers) and pages by MaxRecords and Marker as AWS does; moto ignores
// MaxRecords. Items are the XML elements of each operation's list.
type fakeRDS struct {
	*httptest.Server
	items map[string][]string
	// fail answers an operation with an error instead.
	fail map[string]fakeError

	mu       sync.Mutex
	calls    map[string]int
	requests map[string][]url.Values
}

type fakeError struct {
	status int
	code   string
}

// listElement is each operation's result list and member element.
var listElement = map[string][2]string{
	"DescribeDBInstances":        {"DBInstances", "DBInstance"},
	"DescribeDBClusters":         {"DBClusters", "DBCluster"},
	"DescribeDBSnapshots":        {"DBSnapshots", "DBSnapshot"},
	"DescribeDBClusterSnapshots": {"DBClusterSnapshots", "DBClusterSnapshot"},
}

func newFakeRDS(items map[string][]string, fail map[string]fakeError) *fakeRDS {
	f := &fakeRDS{items: items, fail: fail, calls: map[string]int{}, requests: map[string][]url.Values{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *fakeRDS) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	op := r.PostForm.Get("Action")
	f.mu.Lock()
	f.calls[op]++
	f.requests[op] = append(f.requests[op], r.PostForm)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if e, ok := f.fail[op]; ok {
		w.WriteHeader(e.status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>not allowed: rds:%s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, e.code, op)
		return
	}
	names, ok := listElement[op]
	if !ok {
		w.WriteHeader(400)
		fmt.Fprintf(w, `<ErrorResponse><Error><Code>InvalidAction</Code><Message>%s</Message></Error></ErrorResponse>`, op)
		return
	}
	all := f.items[op]
	limit := 100 // AWS's default and maximum page
	if n, err := strconv.Atoi(r.PostForm.Get("MaxRecords")); err == nil && n > 0 && n < limit {
		limit = n
	}
	start, _ := strconv.Atoi(r.PostForm.Get("Marker"))
	end, next := start+limit, ""
	if end < len(all) {
		next = strconv.Itoa(end)
	} else {
		end = len(all)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<%sResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><%sResult><%s>`, op, op, names[0])
	b.WriteString(strings.Join(all[start:end], ""))
	fmt.Fprintf(&b, `</%s>`, names[0])
	if next != "" {
		fmt.Fprintf(&b, `<Marker>%s</Marker>`, next)
	}
	fmt.Fprintf(&b, `</%sResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></%sResponse>`, op, op)
	_, _ = w.Write([]byte(b.String()))
}

func (f *fakeRDS) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// element renders <tag> with child elements from name, value pairs; a
// value starting with "<" is inserted as XML, anything else is escaped.
func element(tag string, pairs ...string) string {
	var b strings.Builder
	b.WriteString("<" + tag + ">")
	for i := 0; i+1 < len(pairs); i += 2 {
		v := pairs[i+1]
		if !strings.HasPrefix(v, "<") {
			var esc strings.Builder
			_ = xml.EscapeText(&esc, []byte(v))
			v = esc.String()
		}
		b.WriteString("<" + pairs[i] + ">" + v + "</" + pairs[i] + ">")
	}
	b.WriteString("</" + tag + ">")
	return b.String()
}

func fakeConfig(t *testing.T, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, region, counter)
}

const fakeAccount = "111122223333"

func fakeItems(instances, clusters, snapshots, clusterSnapshots int) map[string][]string {
	items := map[string][]string{}
	arn := func(kind, id string) string { return "arn:aws:rds:eu-west-1:" + fakeAccount + ":" + kind + ":" + id }
	key := "arn:aws:kms:eu-west-1:" + fakeAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for i := 0; i < instances; i++ {
		id := fmt.Sprintf("db-%04d", i)
		encrypted := strconv.FormatBool(i%2 == 0)
		pairs := []string{"DBInstanceIdentifier", id, "DBInstanceArn", arn("db", id), "Engine", "mysql", "DBInstanceClass", "db.t3.micro",
			"DBInstanceStatus", "available", "AllocatedStorage", "20", "StorageEncrypted", encrypted, "InstanceCreateTime", "2024-01-02T03:04:05.000Z"}
		if i%2 == 0 {
			pairs = append(pairs, "KmsKeyId", key)
		}
		if i == instances-1 {
			pairs = []string{"DBInstanceIdentifier", id, "DBInstanceArn", arn("db", id), "Engine", "docdb"} // no StorageEncrypted
		}
		items["DescribeDBInstances"] = append(items["DescribeDBInstances"], element("DBInstance", pairs...))
	}
	for i := 0; i < clusters; i++ {
		id := fmt.Sprintf("cl-%04d", i)
		items["DescribeDBClusters"] = append(items["DescribeDBClusters"], element("DBCluster",
			"DBClusterIdentifier", id, "DBClusterArn", arn("cluster", id), "Engine", "neptune", "Status", "available",
			"StorageEncrypted", "true", "KmsKeyId", key,
			"DBClusterMembers", element("DBClusterMember", "DBInstanceIdentifier", id+"-a", "IsClusterWriter", "true")))
	}
	for i := 0; i < snapshots; i++ {
		id := fmt.Sprintf("rds:db-%04d-2024-01-01-00-00", i)
		items["DescribeDBSnapshots"] = append(items["DescribeDBSnapshots"], element("DBSnapshot",
			"DBSnapshotIdentifier", id, "DBSnapshotArn", arn("snapshot", id), "DBInstanceIdentifier", fmt.Sprintf("db-%04d", i),
			"Engine", "mysql", "SnapshotType", "automated", "Encrypted", "false"))
	}
	for i := 0; i < clusterSnapshots; i++ {
		id := fmt.Sprintf("cl-%04d-manual", i)
		items["DescribeDBClusterSnapshots"] = append(items["DescribeDBClusterSnapshots"], element("DBClusterSnapshot",
			"DBClusterSnapshotIdentifier", id, "DBClusterSnapshotArn", arn("cluster-snapshot", id), "DBClusterIdentifier", fmt.Sprintf("cl-%04d", i),
			"Engine", "neptune", "SnapshotType", "manual", "StorageEncrypted", "true"))
	}
	return items
}

// TestCollectPaginates pages every list at 100 records (moto ignores
// MaxRecords) and keeps what each record says, including an unreported
// encryption flag as unknown.
func TestCollectPaginates(t *testing.T) {
	fake := newFakeRDS(fakeItems(250, 101, 100, 3), nil)
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New(fakeAccount, "aws", region)
	rdscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})
	if !snap.Complete(snapshot.RDS) {
		t.Fatalf("errors: %v", snap.Errors)
	}
	for op, want := range map[string][2]int{
		"DescribeDBInstances":        {250, 3},
		"DescribeDBClusters":         {101, 2},
		"DescribeDBSnapshots":        {100, 1},
		"DescribeDBClusterSnapshots": {3, 1},
	} {
		if got := counter.Count("RDS", op); got != want[1] {
			t.Errorf("%s pages: got %d, want %d", op, got, want[1])
		}
		for _, req := range fake.requests[op] {
			if req.Get("MaxRecords") != "100" || req.Get("SnapshotType") != "" || req.Get("IncludeShared") != "" || req.Get("IncludePublic") != "" {
				t.Errorf("%s request: %v", op, req)
			}
		}
	}
	if got := []int{len(snap.RDS.Instances), len(snap.RDS.Clusters), len(snap.RDS.Snapshots), len(snap.RDS.ClusterSnapshots)}; got[0] != 250 || got[1] != 101 || got[2] != 100 || got[3] != 3 {
		t.Errorf("read %v, want [250 101 100 3]", got)
	}
	first := snap.RDS.Instances[0]
	if first.Identifier != "db-0000" || !first.StorageEncrypted.Value || first.KMSKeyID == "" || first.AllocatedStorage != 20 || first.CreateTime.Year() != 2024 {
		t.Errorf("first instance: %+v", first)
	}
	if last := snap.RDS.Instances[249]; last.StorageEncrypted.Known || last.StorageEncrypted.Reason != "DescribeDBInstances did not report StorageEncrypted" || last.Engine != "docdb" {
		t.Errorf("last instance: %+v", last)
	}
	if c := snap.RDS.Clusters[100]; c.Identifier != "cl-0100" || c.Engine != "neptune" || len(c.Members) != 1 || !c.Members[0].Writer {
		t.Errorf("last cluster: %+v", c)
	}
	if s := snap.RDS.Snapshots[99]; s.Identifier != "rds:db-0099-2024-01-01-00-00" || s.Type != "automated" || s.Encrypted.Value {
		t.Errorf("last snapshot: %+v", s)
	}
	// Key uses: the 125 encrypted instances, 101 clusters, 3 cluster
	// snapshots (encrypted, no key reported: KeyRef "" is the aws/rds key).
	if n := len(snap.KeyUses()); n != 125+101+3 {
		t.Errorf("%d key uses, want 229", n)
	}
	for _, u := range snap.KeyUses() {
		if u.ResourceType == "AwsRdsDbClusterSnapshot" && u.KeyRef != "" {
			t.Errorf("cluster snapshot key use: %+v", u)
		}
	}
}

// TestEachListFailsAlone: a denied DescribeDBInstances and a 5xx on
// DescribeDBClusterSnapshots are recorded and yield nothing, while the
// clusters and DB snapshots are still read.
func TestEachListFailsAlone(t *testing.T) {
	fake := newFakeRDS(fakeItems(5, 2, 3, 4), map[string]fakeError{
		"DescribeDBInstances":        {403, "AccessDenied"},
		"DescribeDBClusterSnapshots": {500, "InternalFailure"},
	})
	defer fake.Close()
	snap := snapshot.New(fakeAccount, "aws", region)
	rdscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if len(snap.RDS.Instances) != 0 || len(snap.RDS.ClusterSnapshots) != 0 {
		t.Errorf("failed lists gave results: %d instances, %d cluster snapshots", len(snap.RDS.Instances), len(snap.RDS.ClusterSnapshots))
	}
	if len(snap.RDS.Clusters) != 2 || len(snap.RDS.Snapshots) != 3 {
		t.Errorf("a failed list hid others: %d clusters, %d snapshots", len(snap.RDS.Clusters), len(snap.RDS.Snapshots))
	}
	errs := map[string]snapshot.CollectionError{}
	for _, e := range snap.Errors[snapshot.RDS] {
		errs[e.Operation] = e
	}
	if e := errs["DescribeDBInstances"]; len(errs) != 2 || e.Code != "AccessDenied" || e.Resource != "" || e.Message != "not allowed: rds:DescribeDBInstances" {
		t.Errorf("errors: %+v", snap.Errors[snapshot.RDS])
	}
	if e := errs["DescribeDBClusterSnapshots"]; e.Code != "InternalFailure" {
		t.Errorf("5xx error: %+v", e)
	}
	if !snap.Collected[snapshot.RDS] || snap.Complete(snapshot.RDS) {
		t.Error("failed lists must leave RDS collected but incomplete")
	}
	for _, u := range snap.KeyUses() {
		if u.ResourceType == "AwsRdsDbInstance" || u.ResourceType == "AwsRdsDbClusterSnapshot" {
			t.Errorf("key use from a failed list: %+v", u)
		}
	}
}

// TestScopeSendsFilters: a scoped run filters by identifier (snapshot ARNs
// are turned into identifiers, which is what the snapshot filters take).
func TestScopeSendsFilters(t *testing.T) {
	fake := newFakeRDS(fakeItems(1, 1, 1, 1), nil)
	defer fake.Close()
	snap := snapshot.New(fakeAccount, "aws", region)
	rdscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{
		"arn:aws:rds:eu-west-1:111122223333:cluster:cl-0000",
		"arn:aws:rds:eu-west-1:111122223333:snapshot:rds:db-0000-2024-01-01-00-00",
	}})
	if fake.Calls("DescribeDBInstances") != 0 || fake.Calls("DescribeDBClusterSnapshots") != 0 {
		t.Errorf("lists the scope does not name were called")
	}
	for op, want := range map[string][2]string{
		"DescribeDBClusters":  {"db-cluster-id", "arn:aws:rds:eu-west-1:111122223333:cluster:cl-0000"},
		"DescribeDBSnapshots": {"db-snapshot-id", "rds:db-0000-2024-01-01-00-00"},
	} {
		reqs := fake.requests[op]
		if len(reqs) != 1 || reqs[0].Get("Filters.Filter.1.Name") != want[0] || reqs[0].Get("Filters.Filter.1.Values.Value.1") != want[1] {
			t.Errorf("%s: %v", op, reqs)
		}
	}
}

// TestCollectScopeAbsentAgainstMoto: an entry no describe returned, with
// every describe it needed answering, is marked absent as named (a bare
// identifier after all four kinds were asked); one that exists is not,
// whatever the case it is written in; ARNs of another region or account
// are not read here.
func TestCollectScopeAbsentAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	seedMoto(t, cfg)
	arn := func(kind, id string) string { return "arn:aws:rds:eu-west-1:123456789012:" + kind + ":" + id }
	entries := map[string]bool{ // entry -> want absent
		arn("db", "cmk-db"):                             false,
		"aurora-cmk":                                    false,
		"CMK-DB":                                        false, // RDS identifiers are stored in lowercase
		arn("snapshot", "plain-db-manual"):              false,
		arn("db", "gone-db"):                            true,
		arn("cluster", "gone-cluster"):                  true,
		arn("snapshot", "gone-snapshot"):                true,
		arn("cluster-snapshot", "gone-cl-snp"):          true,
		"never-created":                                 true,
		"arn:aws:rds:us-east-1:123456789012:db:gone-db": false, // another region
		"arn:aws:rds:eu-west-1:999999999999:db:gone-db": false, // another account
	}
	var ids []string
	for id := range entries {
		ids = append(ids, id)
	}
	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	rdscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: ids})
	if !snap.Complete(snapshot.RDS) {
		t.Fatalf("absent resources are answers, not errors: %v", snap.Errors)
	}
	for id, want := range entries {
		if got := snap.Absent(snapshot.RDS, id); got != want {
			t.Errorf("%s: absent %v, want %v", id, got, want)
		}
	}
	if len(snap.RDS.Instances) != 1 || len(snap.RDS.Clusters) != 1 || len(snap.RDS.Snapshots) != 1 || len(snap.RDS.ClusterSnapshots) != 0 {
		t.Errorf("read %d instances, %d clusters, %d snapshots, %d cluster snapshots",
			len(snap.RDS.Instances), len(snap.RDS.Clusters), len(snap.RDS.Snapshots), len(snap.RDS.ClusterSnapshots))
	}
	for _, op := range describeOps {
		if got := counter.Count("RDS", op); got != 1 {
			t.Errorf("%s called %d times, want 1", op, got)
		}
	}
}

// TestScopeFailureIsNotAbsence: an entry whose describe was denied or
// failed is an error naming it, never absent, even when the other kinds it
// was looked for in answered; an entry whose describes all answered
// without it is absent (the fake ignores filters, as a prefix match would
// return others: only an exact identifier counts).
func TestScopeFailureIsNotAbsence(t *testing.T) {
	fake := newFakeRDS(fakeItems(2, 2, 2, 2), map[string]fakeError{
		"DescribeDBInstances": {403, "AccessDenied"},
		"DescribeDBClusters":  {500, "InternalFailure"},
	})
	defer fake.Close()
	goneSnapshot := "arn:aws:rds:eu-west-1:111122223333:snapshot:rds:db-0009-2024-01-01-00-00"
	goneCluster := "arn:aws:rds:eu-west-1:111122223333:cluster:cl-0009"
	snap := snapshot.New(fakeAccount, "aws", region)
	rdscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{"gone", goneSnapshot, goneCluster}})
	for id, want := range map[string]bool{"gone": false, goneCluster: false, goneSnapshot: true} {
		if got := snap.Absent(snapshot.RDS, id); got != want {
			t.Errorf("%s: absent %v, want %v", id, got, want)
		}
	}
	errs := map[string]snapshot.CollectionError{}
	for _, e := range snap.Errors[snapshot.RDS] {
		errs[e.Operation] = e
	}
	if e := errs["DescribeDBInstances"]; len(errs) != 2 || e.Code != "AccessDenied" || e.Resource != "gone" {
		t.Errorf("errors: %+v", snap.Errors[snapshot.RDS])
	}
	if e := errs["DescribeDBClusters"]; e.Code != "InternalFailure" || e.Resource != "gone,"+goneCluster {
		t.Errorf("5xx error: %+v", e)
	}
}

// TestTagsComeWithTheDescribes serves each kind's records with a TagList as
// AWS does, in a full scan and a scoped run: the tags land in the snapshot
// and the collector makes exactly the calls it made before tags were read
// (one describe per kind, no ListTagsForResource).
func TestTagsComeWithTheDescribes(t *testing.T) {
	arn := func(kind, id string) string { return "arn:aws:rds:eu-west-1:" + fakeAccount + ":" + kind + ":" + id }
	tagList := func(pairs ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(pairs); i += 2 {
			b.WriteString(element("Tag", "Key", pairs[i], "Value", pairs[i+1]))
		}
		return b.String() // the <Tag> members; element() wraps them in <TagList>
	}
	items := map[string][]string{
		"DescribeDBInstances": {
			element("DBInstance", "DBInstanceIdentifier", "tagged-db", "DBInstanceArn", arn("db", "tagged-db"), "Engine", "postgres", "StorageEncrypted", "false",
				"TagList", tagList("posture-auditor:exempt", "rds.instance-cmk", "cost-centre", "42", "empty", "")),
			element("DBInstance", "DBInstanceIdentifier", "bare-db", "DBInstanceArn", arn("db", "bare-db"), "Engine", "postgres", "StorageEncrypted", "false"),
		},
		"DescribeDBClusters": {element("DBCluster", "DBClusterIdentifier", "tagged-cl", "DBClusterArn", arn("cluster", "tagged-cl"), "Engine", "aurora-mysql",
			"StorageEncrypted", "false", "TagList", tagList("team", "ledger"))},
		"DescribeDBSnapshots": {element("DBSnapshot", "DBSnapshotIdentifier", "tagged-snap", "DBSnapshotArn", arn("snapshot", "tagged-snap"),
			"Engine", "postgres", "SnapshotType", "manual", "Encrypted", "false", "TagList", tagList("retain", "7y"))},
		"DescribeDBClusterSnapshots": {element("DBClusterSnapshot", "DBClusterSnapshotIdentifier", "tagged-clsnap", "DBClusterSnapshotArn", arn("cluster-snapshot", "tagged-clsnap"),
			"Engine", "aurora-mysql", "SnapshotType", "manual", "StorageEncrypted", "false", "TagList", tagList("retain", "1y"))},
	}
	for _, tc := range []struct {
		name  string
		scope collect.Scope
	}{
		{"scan", collect.Scope{}},
		{"scoped", collect.Scope{ResourceIDs: []string{arn("db", "tagged-db"), arn("cluster", "tagged-cl"), arn("snapshot", "tagged-snap"), arn("cluster-snapshot", "tagged-clsnap")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeRDS(items, nil)
			defer fake.Close()
			counter := awsconfig.NewCallCounter()
			snap := snapshot.New(fakeAccount, "aws", region)
			rdscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, tc.scope)
			if !snap.Complete(snapshot.RDS) {
				t.Fatalf("errors: %v", snap.Errors)
			}
			if len(snap.RDS.Instances) == 0 || len(snap.RDS.Clusters) != 1 || len(snap.RDS.Snapshots) != 1 || len(snap.RDS.ClusterSnapshots) != 1 {
				t.Fatalf("read %d instances, %d clusters, %d snapshots, %d cluster snapshots",
					len(snap.RDS.Instances), len(snap.RDS.Clusters), len(snap.RDS.Snapshots), len(snap.RDS.ClusterSnapshots))
			}
			// A tag with an empty value is a tag: kept as AWS reported it
			// (asff.Map decides what ASFF can carry).
			if got, want := snap.RDS.Instances[0].Tags.Map(), map[string]string{"posture-auditor:exempt": "rds.instance-cmk", "cost-centre": "42", "empty": ""}; !maps.Equal(got, want) {
				t.Errorf("instance tags %v, want %v", got, want)
			}
			if len(snap.RDS.Instances) > 1 && snap.RDS.Instances[1].Tags != nil {
				t.Errorf("untagged instance: %v", snap.RDS.Instances[1].Tags)
			}
			if got := snap.RDS.Clusters[0].Tags.Map(); !maps.Equal(got, map[string]string{"team": "ledger"}) {
				t.Errorf("cluster tags %v", got)
			}
			if got := snap.RDS.Snapshots[0].Tags.Map(); !maps.Equal(got, map[string]string{"retain": "7y"}) {
				t.Errorf("snapshot tags %v", got)
			}
			if got := snap.RDS.ClusterSnapshots[0].Tags.Map(); !maps.Equal(got, map[string]string{"retain": "1y"}) {
				t.Errorf("cluster snapshot tags %v", got)
			}
			for _, op := range describeOps {
				if n := fake.Calls(op); n != 1 {
					t.Errorf("%s called %d times, want 1", op, n)
				}
			}
			if n := counter.Total(); n != len(describeOps) {
				t.Errorf("%d calls in all, want %d (no tag call): %+v", n, len(describeOps), counter.Snapshot())
			}
		})
	}
}
