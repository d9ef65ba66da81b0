// Package trigger turns a Lambda event into a validated request. It makes no
// AWS call: bad input is rejected here, before anything is read or published.
package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/regions"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
)

// Kind says what started a run.
type Kind string

const (
	Schedule Kind = "schedule"
	OnDemand Kind = "on-demand"
	// Event is a re-check started by an EventBridge event or the Security
	// Hub "Re-check" action.
	Event Kind = "event"
)

// Request is a validated run request. Empty Regions means the configured
// regions, unless AllRegions; empty Checks means all checks.
type Request struct {
	Kind    Kind     `json:"kind"`
	Regions []string `json:"regions,omitempty"`
	// AllRegions asks for every region enabled for the account, less the
	// deployment's EXCLUDED_REGIONS (the payload's "regions": ["all"]).
	AllRegions bool `json:"allRegions,omitempty"`
	// RegionsEnabled says Regions were just found enabled for the account
	// (the organization worker's expansion): the run does not list the
	// account's regions again. Never set from a payload.
	RegionsEnabled bool                   `json:"regionsEnabled,omitempty"`
	Checks         []string               `json:"checks,omitempty"`
	DryRun         bool                   `json:"dryRun"`
	Thresholds     map[string]check.Value `json:"thresholds,omitempty"`
	// Resources, when set, restricts the run to these resources (a
	// re-check): parsed and validated from the payload's ARNs.
	Resources []resource.Ref `json:"resources,omitempty"`
}

// onDemandPayload is the body `aws lambda invoke` sends. Every field is
// optional; unknown fields are rejected.
type onDemandPayload struct {
	Regions    []string               `json:"regions"`
	Checks     []string               `json:"checks"`
	DryRun     *bool                  `json:"dryRun"`
	Thresholds map[string]check.Value `json:"thresholds"`
	Resources  []string               `json:"resources"`
}

// scheduledEvent is the envelope of an EventBridge scheduled rule event, and
// of the input our EventBridge Scheduler schedule sends.
type scheduledEvent struct {
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// ValidRegion reports whether s is shaped like an AWS region name.
func ValidRegion(s string) bool { return regionPattern.MatchString(s) }

// Parse validates raw and returns the request it asks for.
func Parse(raw []byte) (Request, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return Request{Kind: OnDemand}, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Request{}, fmt.Errorf("event is not a JSON object: %w", err)
	}
	if _, ok := probe["detail-type"]; ok {
		return parseEventBridge(raw)
	}
	// encoding/json matches field names case-insensitively; a payload key
	// must be spelled exactly, or "dryrun": true would silently publish.
	for key := range probe {
		if !payloadFields[key] {
			return Request{}, fmt.Errorf("invalid on-demand payload: unknown field %q (known: regions, checks, dryRun, thresholds, resources)", key)
		}
	}
	return parseOnDemand(raw)
}

var payloadFields = map[string]bool{"regions": true, "checks": true, "dryRun": true, "thresholds": true, "resources": true}

// MaxResources bounds the ARNs of one on-demand payload: a re-check reads
// each one, and a larger set is what a sweep is for.
const MaxResources = 100

func parseEventBridge(raw []byte) (Request, error) {
	var ev scheduledEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Request{}, fmt.Errorf("malformed EventBridge event: %w", err)
	}
	if ev.DetailType != "Scheduled Event" {
		return Request{}, fmt.Errorf("unsupported EventBridge event: detail-type %q (only \"Scheduled Event\" starts a sweep)", ev.DetailType)
	}
	return Request{Kind: Schedule}, nil
}

func parseOnDemand(raw []byte) (Request, error) {
	var p onDemandPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Request{}, fmt.Errorf("invalid on-demand payload: %s", describeDecodeError(err))
	}
	req := Request{Kind: OnDemand, Thresholds: p.Thresholds}
	if p.DryRun != nil {
		req.DryRun = *p.DryRun
	}
	if len(p.Thresholds) > 0 && !req.DryRun {
		// A published run judges by the deployment's thresholds: an
		// invoker must not be able to turn FAILED findings PASSED in
		// Security Hub by loosening them.
		return Request{}, fmt.Errorf("invalid on-demand payload: \"thresholds\" can only be overridden in a dry run (add \"dryRun\": true); published findings use the deployment's thresholds")
	}
	if p.Regions != nil && len(p.Regions) == 0 {
		return Request{}, fmt.Errorf("invalid on-demand payload: \"regions\" is empty; omit it to use the configured regions")
	}
	if p.Checks != nil && len(p.Checks) == 0 {
		return Request{}, fmt.Errorf("invalid on-demand payload: \"checks\" is empty; omit it to run every check")
	}
	if slices.Contains(p.Regions, regions.All) {
		if len(p.Regions) != 1 {
			return Request{}, fmt.Errorf("invalid on-demand payload: %q must be the only entry of \"regions\" (every enabled region), not combined with region names", regions.All)
		}
		req.AllRegions = true
	} else {
		named, err := ValidateRegions(p.Regions)
		if err != nil {
			return Request{}, fmt.Errorf("invalid on-demand payload: %w", err)
		}
		req.Regions = named
	}
	if _, err := registry.Select(p.Checks); err != nil {
		return Request{}, fmt.Errorf("invalid on-demand payload: %w", err)
	}
	req.Checks = dedupe(p.Checks)
	if p.Resources != nil {
		refs, err := parseResources(p.Resources, p.Regions != nil)
		if err != nil {
			return Request{}, fmt.Errorf("invalid on-demand payload: %w", err)
		}
		req.Resources = refs
	}
	return req, nil
}

// parseResources validates the ARNs of a resource-targeted run.
func parseResources(arns []string, withRegions bool) ([]resource.Ref, error) {
	switch {
	case len(arns) == 0:
		return nil, fmt.Errorf("\"resources\" is empty; omit it to audit every resource")
	case len(arns) > MaxResources:
		return nil, fmt.Errorf("\"resources\" names %d ARNs; at most %d (run a sweep for more)", len(arns), MaxResources)
	case withRegions:
		return nil, fmt.Errorf("\"regions\" and \"resources\" cannot be combined: each ARN names its region")
	}
	var refs []resource.Ref
	seen := map[string]bool{}
	for _, a := range arns {
		ref, err := resource.FromARN(strings.TrimSpace(a))
		if err != nil {
			return nil, fmt.Errorf("\"resources\": %w", err)
		}
		if !seen[ref.Key()] {
			seen[ref.Key()] = true
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// ValidateRegions checks region names and drops duplicates, keeping order.
func ValidateRegions(regions []string) ([]string, error) {
	for _, r := range regions {
		if !ValidRegion(r) {
			return nil, fmt.Errorf("malformed region %q (expected a name like us-east-1)", r)
		}
	}
	return dedupe(regions), nil
}

func dedupe(xs []string) []string {
	if xs == nil {
		return nil
	}
	seen := map[string]bool{}
	out := []string{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func describeDecodeError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %q must be %s, not a JSON %s", typeErr.Field, expectedType(typeErr.Field), typeErr.Value)
	}
	return err.Error()
}

func expectedType(field string) string {
	switch {
	case field == "regions", field == "checks", field == "resources", strings.HasPrefix(field, "regions."), strings.HasPrefix(field, "checks."), strings.HasPrefix(field, "resources."):
		return "a list of strings"
	case field == "dryRun":
		return "a boolean"
	case strings.HasPrefix(field, "thresholds"):
		return "an object of whole numbers or choice names"
	}
	return "of another type"
}
