package kmschecks

import (
	"fmt"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// BenchmarkEvaluate10000Keys runs the KMS checks over 10,000 keys, 20,000
// key uses: the pure part of a large account's sweep.
func BenchmarkEvaluate10000Keys(b *testing.B) {
	var keys []*snapshot.KMSKey
	for i := 0; i < 10000; i++ {
		keys = append(keys, customerKey(fmt.Sprintf("%08d-0000-0000-0000-000000000000", i), nil))
	}
	s := snap(keys...)
	s.KMS.Aliases = map[string]string{}
	for i := 0; i < 20000; i++ {
		s.AddKeyUse(snapshot.KeyUse{Service: snapshot.RDS, ResourceARN: fmt.Sprintf("arn:aws:rds:eu-west-1:111122223333:db:d%d", i),
			KeyRef: keys[i%len(keys)].ARN, DefaultAlias: "alias/aws/rds"})
	}
	p := check.Params{MaxRotationPeriodDays: 365}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range Checks() {
			c.Results(s, p)
		}
	}
}
