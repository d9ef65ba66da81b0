package seed

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
)

func init() { register(seedRDS) }

// seedRDS creates DB instances under the demo CMK (rds/cmk-db), unencrypted
// (rds/plain-db, tagged posture-auditor:exempt=rds.instance-cmk and
// team=demo) and under the default aws/rds key (rds/default-db); Aurora
// clusters under the CMK (rds/cmk-cluster) and unencrypted
// (rds/plain-cluster); and a manual snapshot of each CMK and unencrypted
// instance and cluster (rds/cmk-db-snapshot, rds/plain-db-snapshot,
// rds/cmk-cluster-snapshot, rds/plain-cluster-snapshot). moto adds an
// automated snapshot of each instance and cluster, as AWS does.
func seedRDS(ctx context.Context, cfg aws.Config, d Demo, _ *gapfill.Proxy) error {
	c := rds.NewFromConfig(cfg)
	for _, in := range []struct {
		name      string
		encrypted bool
		key       string
		tags      []rdstypes.Tag
	}{
		{"cmk-db", true, d["kms/app"], nil},
		// Tagged for the Security Hub automation rule of docs/suppression.md:
		// its rds.instance-cmk finding carries the tags (Resources[0].Tags).
		{"plain-db", false, "", []rdstypes.Tag{
			{Key: aws.String(ExemptTagKey), Value: aws.String("rds.instance-cmk")},
			{Key: aws.String("team"), Value: aws.String("demo")},
		}},
		{"default-db", true, "", nil},
	} {
		input := &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String("demo-" + in.name), Engine: aws.String("postgres"),
			DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20),
			MasterUsername: aws.String("demo_admin"), MasterUserPassword: aws.String("demo-only-password"),
			StorageEncrypted: aws.Bool(in.encrypted), Tags: in.tags,
		}
		if in.key != "" {
			input.KmsKeyId = aws.String(in.key)
		}
		out, err := c.CreateDBInstance(ctx, input)
		if err != nil {
			return fmt.Errorf("create DB instance %s: %w", in.name, err)
		}
		d["rds/"+in.name] = aws.ToString(out.DBInstance.DBInstanceArn)
	}
	for _, cl := range []struct {
		name, engine string
		encrypted    bool
		key          string
	}{
		{"cmk-cluster", "aurora-postgresql", true, d["kms/app"]},
		{"plain-cluster", "aurora-mysql", false, ""},
	} {
		input := &rds.CreateDBClusterInput{
			DBClusterIdentifier: aws.String("demo-" + cl.name), Engine: aws.String(cl.engine),
			MasterUsername: aws.String("demo_admin"), MasterUserPassword: aws.String("demo-only-password"),
			StorageEncrypted: aws.Bool(cl.encrypted),
		}
		if cl.key != "" {
			input.KmsKeyId = aws.String(cl.key)
		}
		out, err := c.CreateDBCluster(ctx, input)
		if err != nil {
			return fmt.Errorf("create DB cluster %s: %w", cl.name, err)
		}
		d["rds/"+cl.name] = aws.ToString(out.DBCluster.DBClusterArn)
	}
	for _, name := range []string{"cmk-db", "plain-db"} {
		out, err := c.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
			DBInstanceIdentifier: aws.String("demo-" + name), DBSnapshotIdentifier: aws.String("demo-" + name + "-snapshot"),
		})
		if err != nil {
			return fmt.Errorf("create DB snapshot of %s: %w", name, err)
		}
		d["rds/"+name+"-snapshot"] = aws.ToString(out.DBSnapshot.DBSnapshotArn)
	}
	for _, name := range []string{"cmk-cluster", "plain-cluster"} {
		out, err := c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
			DBClusterIdentifier: aws.String("demo-" + name), DBClusterSnapshotIdentifier: aws.String("demo-" + name + "-snapshot"),
		})
		if err != nil {
			return fmt.Errorf("create DB cluster snapshot of %s: %w", name, err)
		}
		d["rds/"+name+"-snapshot"] = aws.ToString(out.DBClusterSnapshot.DBClusterSnapshotArn)
	}
	return nil
}
