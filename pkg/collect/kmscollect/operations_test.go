package kmscollect_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect/collecttest"
	"github.com/posture-auditor/posture-auditor/pkg/collect/kmscollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// TestOperationsMatchAPI: Operations, the calls docs/checks.md lists for
// the checks that read this collector, is exactly the API interface's
// methods as IAM actions, so a call added to the interface cannot be missed.
func TestOperationsMatchAPI(t *testing.T) {
	collecttest.CheckOperations(t, reflect.TypeFor[kmscollect.API](), kms.ServiceID, kmscollect.Operations)
}

// recordingAPI answers DescribeKey with an enabled customer managed key and
// records which operations were called.
type recordingAPI struct{ calls *collecttest.Calls }

func (r recordingAPI) ListKeys(context.Context, *kms.ListKeysInput, ...func(*kms.Options)) (*kms.ListKeysOutput, error) {
	r.calls.Add("kms:ListKeys")
	return &kms.ListKeysOutput{}, nil
}

func (r recordingAPI) ListAliases(context.Context, *kms.ListAliasesInput, ...func(*kms.Options)) (*kms.ListAliasesOutput, error) {
	r.calls.Add("kms:ListAliases")
	return &kms.ListAliasesOutput{}, nil
}

func (r recordingAPI) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	r.calls.Add("kms:DescribeKey")
	return &kms.DescribeKeyOutput{KeyMetadata: &kmstypes.KeyMetadata{
		KeyId: in.KeyId, Arn: in.KeyId, KeyManager: kmstypes.KeyManagerTypeCustomer, KeyState: kmstypes.KeyStateEnabled,
	}}, nil
}

func (r recordingAPI) GetKeyRotationStatus(context.Context, *kms.GetKeyRotationStatusInput, ...func(*kms.Options)) (*kms.GetKeyRotationStatusOutput, error) {
	r.calls.Add("kms:GetKeyRotationStatus")
	return &kms.GetKeyRotationStatusOutput{KeyRotationEnabled: true}, nil
}

// TestDescribeReferencedCallsItsOperations: ReferencedOperations, which
// docs/checks.md lists for the checks reading snapshot.KMSReferenced, is
// exactly what the second pass calls, and within Operations.
func TestDescribeReferencedCallsItsOperations(t *testing.T) {
	calls := &collecttest.Calls{}
	snap := snapshot.New("111122223333", "aws", region)
	snap.KMS.Keys = map[string]*snapshot.KMSKey{}
	snap.KMS.Aliases = map[string]string{}
	snap.AddKeyUse(snapshot.KeyUse{Service: snapshot.RDS, ResourceARN: "arn:aws:rds:eu-west-1:111122223333:db:a",
		KeyRef: "arn:aws:kms:eu-west-1:444455556666:key/33333333-3333-3333-3333-333333333333", DefaultAlias: "alias/aws/rds"})
	col := kmscollect.Collector{NewAPI: func(aws.Config) kmscollect.API { return recordingAPI{calls} }}
	col.DescribeReferenced(context.Background(), aws.Config{Region: region}, snap)
	if errs := snap.Errors[snapshot.KMSReferenced]; len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if got, want := calls.Operations(), collecttest.Sorted(kmscollect.ReferencedOperations); !slices.Equal(got, want) {
		t.Errorf("DescribeReferenced called %v, ReferencedOperations says %v", got, want)
	}
	for _, op := range kmscollect.ReferencedOperations {
		if !slices.Contains(kmscollect.Operations, op) {
			t.Errorf("%s is not in Operations", op)
		}
	}
}
