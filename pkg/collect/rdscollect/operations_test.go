package rdscollect_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/posture-auditor/posture-auditor/pkg/collect/collecttest"
	"github.com/posture-auditor/posture-auditor/pkg/collect/rdscollect"
)

// TestOperationsMatchAPI: Operations, the calls docs/checks.md lists for
// the checks that read this collector, is exactly the API interface's
// methods as IAM actions, so a call added to the interface cannot be missed.
func TestOperationsMatchAPI(t *testing.T) {
	collecttest.CheckOperations(t, reflect.TypeFor[rdscollect.API](), rds.ServiceID, rdscollect.Operations)
}
