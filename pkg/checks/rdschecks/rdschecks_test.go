package rdschecks

import (
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const (
	account = "111122223333"
	region  = "eu-west-1"
	cmkID   = "1234abcd-12ab-34cd-56ef-1234567890ab"
	cmkARN  = "arn:aws:kms:eu-west-1:111122223333:key/" + cmkID
	// awsRDSKeyARN is how AWS reports storage under the aws/rds key: its key ARN.
	awsRDSKeyID  = "0000aaaa-00aa-00aa-00aa-000000aaaaaa"
	awsRDSKeyARN = "arn:aws:kms:eu-west-1:111122223333:key/" + awsRDSKeyID
	lostKeyARN   = "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
)

// baseSnapshot holds a customer managed key (alias/app) and the AWS managed
// aws/rds key, known by its alias only (AWS managed keys are not described).
func baseSnapshot() *snapshot.Snapshot {
	s := snapshot.New(account, "aws", region)
	s.KMS.Keys = map[string]*snapshot.KMSKey{
		cmkID:       {ID: cmkID, ARN: cmkARN, Aliases: []string{"alias/app"}, Manager: snapshot.ManagerCustomer, Described: true, State: "Enabled"},
		awsRDSKeyID: {ID: awsRDSKeyID, ARN: awsRDSKeyARN, Aliases: []string{"alias/aws/rds"}, Manager: snapshot.ManagerAWS},
	}
	s.KMS.Aliases = map[string]string{"alias/app": cmkID, "alias/aws/rds": awsRDSKeyID}
	return s
}

var (
	yes = snapshot.KnownFact(true)
	no  = snapshot.KnownFact(false)
)

type want struct {
	status   check.Status
	severity check.Severity
	reason   string
}

func TestInstanceCMK(t *testing.T) {
	tests := []struct {
		name      string
		encrypted snapshot.Fact[bool]
		key       string
		cluster   string
		want      *want // nil: no result (not applicable)
	}{
		{"customer managed key", yes, cmkARN, "", &want{check.Passed, "", "postgres DB instance: encrypted with customer managed key alias/app"}},
		{"not encrypted", no, "", "", &want{check.Failed, check.High, "postgres DB instance: not encrypted"}},
		{"aws/rds by key ARN", yes, awsRDSKeyARN, "", &want{check.Failed, check.Medium, "postgres DB instance: encrypted with the AWS managed key alias/aws/rds, not a customer managed key"}},
		{"encrypted, no key reported", yes, "", "", &want{check.Failed, check.Medium, "postgres DB instance: encrypted with the AWS managed key alias/aws/rds, not a customer managed key"}},
		{"key not described", yes, lostKeyARN, "", &want{check.NotAvailable, "", `postgres DB instance: key "` + lostKeyARN + `" could not be described`}},
		{"moto's placeholder key", yes, "default_kms_key_id", "", &want{check.NotAvailable, "", `postgres DB instance: unrecognised KMS key reference "default_kms_key_id"`}},
		{"encryption not reported", snapshot.UnknownFact[bool]("DescribeDBInstances did not report StorageEncrypted"), "", "",
			&want{check.NotAvailable, "", "postgres DB instance: DescribeDBInstances did not report StorageEncrypted"}},
		{"member of a cluster", no, "", "aurora-1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSnapshot()
			s.RDS.Instances = []*snapshot.RDSInstance{{
				ARN: "arn:aws:rds:eu-west-1:111122223333:db:db1", Identifier: "db1", Engine: "postgres",
				ClusterIdentifier: tt.cluster, StorageEncrypted: tt.encrypted, KMSKeyID: tt.key, AllocatedStorage: 20,
			}}
			got := InstanceCMK.Results(s, nil)
			assertOne(t, got, tt.want)
			if tt.want == nil {
				return
			}
			r := got[0]
			if r.ResourceARN != "arn:aws:rds:eu-west-1:111122223333:db:db1" || r.ResourceName != "db1" || r.ResourceType != "" {
				t.Errorf("resource: %+v", r)
			}
			d := r.Details.AwsRdsDbInstance
			if d == nil || aws.ToString(d.DBInstanceIdentifier) != "db1" || aws.ToString(d.Engine) != "postgres" || aws.ToInt32(d.AllocatedStorage) != 20 {
				t.Fatalf("details: %+v", d)
			}
			if tt.encrypted.Known != (d.StorageEncrypted != nil) || aws.ToString(d.KmsKeyId) != tt.key {
				t.Errorf("details encryption: %v %q", d.StorageEncrypted, aws.ToString(d.KmsKeyId))
			}
		})
	}
}

func TestClusterCMK(t *testing.T) {
	tests := []struct {
		name      string
		engine    string
		encrypted snapshot.Fact[bool]
		key       string
		want      want
	}{
		{"aurora with a customer managed key", "aurora-postgresql", yes, cmkARN, want{check.Passed, "", "aurora-postgresql DB cluster: encrypted with customer managed key alias/app"}},
		{"aurora not encrypted", "aurora-mysql", no, "", want{check.Failed, check.High, "aurora-mysql DB cluster: not encrypted"}},
		{"neptune under aws/rds", "neptune", yes, "arn:aws:kms:eu-west-1:111122223333:alias/aws/rds", want{check.Failed, check.Medium, "neptune DB cluster: encrypted with the AWS managed key alias/aws/rds, not a customer managed key"}},
		{"documentdb, cross-account key", "docdb", yes, "arn:aws:kms:eu-west-1:444455556666:key/" + cmkID, want{check.Passed, "", "docdb DB cluster: encrypted with customer managed key arn:aws:kms:eu-west-1:444455556666:key/" + cmkID}},
		{"encryption not reported", "aurora-mysql", snapshot.UnknownFact[bool]("DescribeDBClusters did not report StorageEncrypted"), "", want{check.NotAvailable, "", "aurora-mysql DB cluster: DescribeDBClusters did not report StorageEncrypted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSnapshot()
			s.RDS.Clusters = []*snapshot.RDSCluster{{
				ARN: "arn:aws:rds:eu-west-1:111122223333:cluster:c1", Identifier: "c1", Engine: tt.engine,
				Members: []snapshot.RDSClusterMember{{Identifier: "c1-a", Writer: true}}, StorageEncrypted: tt.encrypted, KMSKeyID: tt.key,
			}}
			// The cluster's member instance must not be judged a second time.
			s.RDS.Instances = []*snapshot.RDSInstance{{ARN: "arn:aws:rds:eu-west-1:111122223333:db:c1-a", Identifier: "c1-a", Engine: tt.engine, ClusterIdentifier: "c1", StorageEncrypted: tt.encrypted, KMSKeyID: tt.key}}
			got := ClusterCMK.Results(s, nil)
			assertOne(t, got, &tt.want)
			d := got[0].Details.AwsRdsDbCluster
			if d == nil || aws.ToString(d.DbClusterIdentifier) != "c1" || len(d.DbClusterMembers) != 1 || !aws.ToBool(d.DbClusterMembers[0].IsClusterWriter) {
				t.Errorf("details: %+v", d)
			}
			if n := len(InstanceCMK.Results(s, nil)); n != 0 {
				t.Errorf("rds.instance-cmk judged %d cluster member(s)", n)
			}
		})
	}
}

func TestSnapshotCMK(t *testing.T) {
	s := baseSnapshot()
	s.RDS.Snapshots = []*snapshot.RDSSnapshot{
		{ARN: "arn:aws:rds:eu-west-1:111122223333:snapshot:b-plain", Identifier: "b-plain", SourceIdentifier: "db1", Engine: "mysql", Type: "manual", Encrypted: no},
		{ARN: "arn:aws:rds:eu-west-1:111122223333:snapshot:a-cmk", Identifier: "a-cmk", SourceIdentifier: "db1", Engine: "mysql", Type: "manual", Encrypted: yes, KMSKeyID: cmkARN},
		{ARN: "arn:aws:rds:eu-west-1:111122223333:snapshot:rds:db1-2024-01-01-00-00", Identifier: "rds:db1-2024-01-01-00-00", SourceIdentifier: "db1", Engine: "mysql", Type: "automated", Encrypted: yes, KMSKeyID: awsRDSKeyARN},
	}
	s.RDS.ClusterSnapshots = []*snapshot.RDSSnapshot{
		{ARN: "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:c-cmk", Identifier: "c-cmk", SourceIdentifier: "c1", Engine: "aurora-postgresql", Type: "manual", Encrypted: yes, KMSKeyID: cmkARN},
		{ARN: "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:c-unknown", Identifier: "c-unknown", SourceIdentifier: "c1", Engine: "docdb", Type: "manual", Encrypted: yes, KMSKeyID: lostKeyARN},
	}
	got := SnapshotCMK.Results(s, nil)
	wantByName := map[string]struct {
		want
		resourceType string
	}{
		"a-cmk":                    {want{check.Passed, "", "manual mysql DB snapshot: encrypted with customer managed key alias/app"}, ""},
		"b-plain":                  {want{check.Failed, check.High, "manual mysql DB snapshot: not encrypted"}, ""},
		"rds:db1-2024-01-01-00-00": {want{check.Failed, check.Medium, "automated mysql DB snapshot: encrypted with the AWS managed key alias/aws/rds, not a customer managed key"}, ""},
		"c-cmk":                    {want{check.Passed, "", "manual aurora-postgresql DB cluster snapshot: encrypted with customer managed key alias/app"}, snapshot.RDSClusterSnapshotType},
		"c-unknown":                {want{check.NotAvailable, "", `manual docdb DB cluster snapshot: key "` + lostKeyARN + `" could not be described`}, snapshot.RDSClusterSnapshotType},
	}
	if len(got) != len(wantByName) {
		t.Fatalf("got %d results, want %d: %+v", len(got), len(wantByName), got)
	}
	for _, r := range got {
		w, ok := wantByName[r.ResourceName]
		if !ok {
			t.Errorf("unexpected result %+v", r)
			continue
		}
		if r.Status != w.status || r.Severity != w.severity || r.Reason != w.reason || r.ResourceType != w.resourceType {
			t.Errorf("%s: got %s %s %q type %q, want %s %s %q type %q", r.ResourceName, r.Status, r.Severity, r.Reason, r.ResourceType, w.status, w.severity, w.reason, w.resourceType)
		}
		if w.resourceType == "" && (r.Details.AwsRdsDbSnapshot == nil || aws.ToString(r.Details.AwsRdsDbSnapshot.DbSnapshotIdentifier) != r.ResourceName) {
			t.Errorf("%s: DB snapshot details %+v", r.ResourceName, r.Details)
		}
		if w.resourceType != "" && (r.Details.AwsRdsDbClusterSnapshot == nil || aws.ToString(r.Details.AwsRdsDbClusterSnapshot.DbClusterIdentifier) != "c1") {
			t.Errorf("%s: cluster snapshot details %+v", r.ResourceName, r.Details)
		}
	}
	if got[0].ResourceName != "a-cmk" || got[1].ResourceName != "b-plain" {
		t.Errorf("results not in ARN order: %s, %s", got[0].ResourceName, got[1].ResourceName)
	}
}

// TestNothingCollected: an empty or failed collection yields no results
// (the failed list is reported as an incomplete scope by the runner).
func TestNothingCollected(t *testing.T) {
	s := baseSnapshot()
	for _, c := range Checks() {
		if got := c.Results(s, nil); len(got) != 0 {
			t.Errorf("%s: %d results from an empty snapshot", c.ID, len(got))
		}
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func assertOne(t *testing.T, got []check.Result, w *want) {
	t.Helper()
	if w == nil {
		if len(got) != 0 {
			t.Fatalf("want no result, got %+v", got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("got %d results, want 1: %+v", len(got), got)
	}
	r := got[0]
	if r.Status != w.status || r.Severity != w.severity || r.Reason != w.reason {
		t.Errorf("got %s %s %q, want %s %s %q", r.Status, r.Severity, r.Reason, w.status, w.severity, w.reason)
	}
}

// TestResultsCarryTags: every RDS check hands the judged resource's tags
// (read from the describes' TagList) to its result, whatever the verdict,
// for ASFF Resources[0].Tags; an untagged resource's result has none.
func TestResultsCarryTags(t *testing.T) {
	exempt := map[string]string{"posture-auditor:exempt": "rds.instance-cmk", "team": "payments"}
	s := baseSnapshot()
	s.RDS.Instances = []*snapshot.RDSInstance{
		{ARN: "arn:aws:rds:eu-west-1:111122223333:db:a-tagged", Identifier: "a-tagged", Engine: "postgres", StorageEncrypted: no, Tags: snapshot.TagsOf(exempt)},
		{ARN: "arn:aws:rds:eu-west-1:111122223333:db:b-bare", Identifier: "b-bare", Engine: "postgres", StorageEncrypted: yes, KMSKeyID: cmkARN},
		{ARN: "arn:aws:rds:eu-west-1:111122223333:db:c-unknown", Identifier: "c-unknown", Engine: "postgres",
			StorageEncrypted: snapshot.UnknownFact[bool]("DescribeDBInstances did not report StorageEncrypted"), Tags: snapshot.TagsOf(map[string]string{"team": "ops"})},
	}
	s.RDS.Clusters = []*snapshot.RDSCluster{{ARN: "arn:aws:rds:eu-west-1:111122223333:cluster:c1", Identifier: "c1", Engine: "aurora-mysql",
		StorageEncrypted: yes, KMSKeyID: cmkARN, Tags: snapshot.TagsOf(map[string]string{"team": "ledger"})}}
	s.RDS.Snapshots = []*snapshot.RDSSnapshot{{ARN: "arn:aws:rds:eu-west-1:111122223333:snapshot:s1", Identifier: "s1", Engine: "postgres",
		Type: "manual", Encrypted: no, Tags: snapshot.TagsOf(map[string]string{"retain": "7y"})}}
	s.RDS.ClusterSnapshots = []*snapshot.RDSSnapshot{{ARN: "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:cs1", Identifier: "cs1", Engine: "aurora-mysql",
		Type: "manual", Encrypted: yes, KMSKeyID: awsRDSKeyARN, Tags: snapshot.TagsOf(map[string]string{"retain": "1y"})}}
	want := map[string]map[string]string{
		"a-tagged": exempt, "b-bare": nil, "c-unknown": {"team": "ops"},
		"c1": {"team": "ledger"}, "s1": {"retain": "7y"}, "cs1": {"retain": "1y"},
	}
	seen := 0
	for _, c := range Checks() {
		for _, r := range c.Results(s, nil) {
			seen++
			w, ok := want[r.ResourceName]
			if !ok {
				t.Errorf("%s: unexpected result for %s", c.ID, r.ResourceName)
				continue
			}
			if !maps.Equal(r.Tags.Map(), w) || (w == nil) != (r.Tags == nil) {
				t.Errorf("%s %s (%s): tags %v, want %v", c.ID, r.ResourceName, r.Status, r.Tags, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d results, want %d", seen, len(want))
	}
}
