// Package cmk is the shared verdict of the "encrypted with a customer
// managed key" checks (RDS, ECR, EBS, Secrets Manager, CloudTrail), so every
// one of them answers the same question the same way.
package cmk

import (
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/keyref"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Verdict is the outcome for one resource.
type Verdict struct {
	Status   check.Status
	Severity check.Severity
	Reason   string
	Key      keyref.Key
}

// Judge resolves the resource's key reference (empty: the service's AWS
// managed key, defaultAlias) and rules: not encrypted is FAILED HIGH; the
// AWS managed key is FAILED MEDIUM; a customer managed key PASSES; a key
// whose manager could not be established is NOT_AVAILABLE with the reason.
func Judge(s *snapshot.Snapshot, encrypted bool, rawKey, defaultAlias string) Verdict {
	if !encrypted {
		return Verdict{Status: check.Failed, Severity: check.High, Reason: "not encrypted"}
	}
	k := keyref.Resolve(s, keyref.Parse(s, rawKey, defaultAlias))
	v := Verdict{Key: k}
	switch k.Manager {
	case snapshot.ManagerAWS:
		v.Status, v.Severity = check.Failed, check.Medium
		v.Reason = "encrypted with the AWS managed key " + k.Name() + ", not a customer managed key"
	case snapshot.ManagerCustomer:
		v.Status, v.Reason = check.Passed, "encrypted with customer managed key "+k.Name()
	default:
		v.Status, v.Reason = check.NotAvailable, k.Reason
	}
	return v
}
