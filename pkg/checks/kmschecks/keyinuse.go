package kmschecks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/keyref"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// KeyInUseUnhealthy is kms.key-in-use-unhealthy: a customer managed key that
// protects a resource this run saw is disabled, pending deletion or gone.
// No Security Hub control joins keys to their dependents this way.
var KeyInUseUnhealthy = check.Check{
	ID:    "kms.key-in-use-unhealthy",
	Title: "KMS customer managed keys that protect resources are usable",
	Description: "A customer managed key that encrypts at least one resource seen in this run (RDS, ECR, EBS, " +
		"Secrets Manager, CloudTrail) must be Enabled: a disabled key makes that data unreadable now, and a key " +
		"pending deletion makes it unrecoverable when the waiting period ends.",
	Rule: "a customer managed key that protects at least one resource this run saw (RDS, ECR, EBS, Secrets " +
		"Manager, CloudTrail) is Enabled; Disabled, PendingDeletion or deleted is FAILED (CRITICAL), " +
		"and the finding lists the dependent resources",
	Severity:     check.Critical,
	ResourceType: "AwsKmsKey",
	Types:        []string{"Software and Configuration Checks/AWS Security Best Practices", "Effects/Data Exposure"},
	Remediation: "Re-enable the key (aws kms enable-key) or cancel its deletion (aws kms cancel-key-deletion), " +
		"or re-encrypt the dependent resources under a healthy key before the key is removed.",
	RemediationURL:      "https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-determining-usage.html",
	SecurityHubControls: []string{"KMS.3"},
	RelatedRequirements: []string{"NIST.800-53.r5 SC-12", "NIST.800-53.r5 SC-12(2)", "NIST.800-53.r5 CP-9"},
	// Every service whose resources record the key they use.
	Services: []snapshot.Service{snapshot.KMS, snapshot.KMSReferenced, snapshot.RDS, snapshot.ECR, snapshot.EBS, snapshot.SecretsManager, snapshot.CloudTrail},
	Evaluate: evaluateKeyInUse,
}

// maxNamedDependents bounds the dependents named in the reason; all of them
// (up to the ASFF limit) are listed as related resources.
const maxNamedDependents = 5

type keyInUse struct {
	key        keyref.Key
	dependents []snapshot.KeyUse
}

func evaluateKeyInUse(s *snapshot.Snapshot, _ check.Params) []check.Result {
	byKey := map[string]*keyInUse{}
	for _, u := range s.KeyUses() {
		if u.Setting {
			continue // a setting's key protects no data (ebs.default-encryption judges it)
		}
		k := keyref.Resolve(s, keyref.Parse(s, u.KeyRef, u.DefaultAlias))
		if k.Manager == snapshot.ManagerAWS || k.Ref.Form == keyref.Unrecognised {
			continue // AWS keeps its managed keys usable; the CMK checks report unreadable references
		}
		id := k.ARN
		if id == "" {
			id = k.Ref.Lookup()
		}
		if byKey[id] == nil {
			byKey[id] = &keyInUse{key: k}
		}
		byKey[id].dependents = append(byKey[id].dependents, u)
	}
	ids := make([]string, 0, len(byKey))
	for id := range byKey {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	var out []check.Result
	for _, id := range ids {
		e := byKey[id]
		sort.Slice(e.dependents, func(i, j int) bool { return e.dependents[i].ResourceARN < e.dependents[j].ResourceARN })
		r := check.Result{
			CheckID: "kms.key-in-use-unhealthy", ResourceARN: id, ResourceName: e.key.Name(), Region: s.Region,
			Details: &check.ResourceDetails{AwsKmsKey: inUseDetails(s, e.key)},
		}
		for _, d := range e.dependents {
			r.Related = append(r.Related, check.RelatedResource{Type: d.ResourceType, ARN: d.ResourceARN})
		}
		names := dependentNames(e.dependents)
		switch {
		case e.key.Health.Unhealthy():
			r.Status = check.Failed
			r.Reason = fmt.Sprintf("key is %s and protects %s", e.key.Health, names)
		case e.key.Health == keyref.Enabled:
			r.Status = check.Passed
			r.Reason = "key is Enabled and protects " + names
		default:
			r.Status = check.NotAvailable
			r.Reason = e.key.Reason + "; it protects " + names
		}
		out = append(out, r)
	}
	return out
}

func dependentNames(deps []snapshot.KeyUse) string {
	var names []string
	for i, d := range deps {
		if i == maxNamedDependents {
			names = append(names, fmt.Sprintf("%d more", len(deps)-i))
			break
		}
		name := d.ResourceName
		if name == "" {
			name = d.ResourceARN
		}
		names = append(names, string(d.Service)+" "+name)
	}
	noun := "resources"
	if len(deps) == 1 {
		noun = "resource"
	}
	return fmt.Sprintf("%d %s: %s", len(deps), noun, strings.Join(names, ", "))
}

func inUseDetails(s *snapshot.Snapshot, k keyref.Key) *shtypes.AwsKmsKeyDetails {
	if k.Described != nil && k.Described.Described {
		return KeyDetails(s.Account, k.Described)
	}
	d := &shtypes.AwsKmsKeyDetails{AWSAccountId: aws.String(k.Ref.Account)}
	if k.Ref.KeyID != "" {
		d.KeyId = aws.String(k.Ref.KeyID)
	}
	if k.Manager != "" {
		d.KeyManager = aws.String(string(k.Manager))
	}
	return d
}
