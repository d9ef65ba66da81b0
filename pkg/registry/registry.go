// Package registry is the one explicit list of every check the auditor
// runs. Check IDs are a public contract: never rename or reuse one.
package registry

import (
	"fmt"
	"sort"
	"strings"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/acmchecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/cloudfrontchecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/cloudtrailchecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/ebschecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/ecrchecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/kmschecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/rdschecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/secretschecks"
)

// All returns every check, in a stable order.
func All() []check.Check {
	var all []check.Check
	all = append(all, kmschecks.Checks()...)
	all = append(all, acmchecks.Checks()...)
	all = append(all, rdschecks.Checks()...)
	all = append(all, secretschecks.Checks()...)
	all = append(all, ecrchecks.Checks()...)
	all = append(all, ebschecks.Checks()...)
	all = append(all, cloudfrontchecks.Checks()...)
	all = append(all, cloudtrailchecks.Checks()...)
	return all
}

// IDs returns every check ID, sorted.
func IDs() []string {
	var ids []string
	for _, c := range All() {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	return ids
}

// Select returns the checks named by ids, or all checks when ids is empty.
// An unknown ID is an error that lists the known ones.
func Select(ids []string) ([]check.Check, error) {
	all := All()
	if len(ids) == 0 {
		return all, nil
	}
	byID := map[string]check.Check{}
	for _, c := range all {
		byID[c.ID] = c
	}
	var out []check.Check
	seen := map[string]bool{}
	for _, id := range ids {
		c, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("unknown check ID %q (known: %s)", id, strings.Join(IDs(), ", "))
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// Thresholds returns the thresholds every check declares.
func Thresholds() []check.Threshold {
	var out []check.Threshold
	for _, c := range All() {
		out = append(out, c.Thresholds...)
	}
	return out
}
