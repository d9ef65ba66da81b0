package asff

import (
	"fmt"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/kmschecks"
)

// BenchmarkMap10000 maps 10,000 results to ASFF findings.
func BenchmarkMap10000(b *testing.B) {
	results := make([]check.Result, 10000)
	for i := range results {
		results[i] = check.Result{CheckID: "kms.rotation", ResourceARN: fmt.Sprintf("arn:aws:kms:eu-west-1:111122223333:key/%d", i),
			Region: "eu-west-1", Status: check.Failed, Reason: "automatic key rotation is disabled"}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, r := range results {
			Map(kmschecks.Rotation, r, ctx)
		}
	}
}
