package org

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// OrganizationsAPI is the part of the Organizations client the planner
// uses (IAM: organizations:ListAccounts, allowed in the management account
// and in a delegated administrator account).
type OrganizationsAPI interface {
	ListAccounts(context.Context, *organizations.ListAccountsInput, ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error)
}

// Planner queues the organization's scopes.
type Planner struct {
	Organizations OrganizationsAPI
	Queue         Queue
	// Regions are the configured regions of every account (AUDIT_REGIONS),
	// or [AllRegions]: one message per account, expanded by the worker.
	Regions []string
	// Excluded are accounts never audited (EXCLUDED_ACCOUNTS).
	Excluded []string
	// HomeRegion is where global services (CloudFront) are audited
	// (HOME_REGION): when Regions leave it out, each account also gets a
	// message for it naming the global checks only. Empty: none added.
	HomeRegion string
}

// PlanRequest is a validated planner invocation.
type PlanRequest struct {
	Trigger trigger.Kind `json:"trigger"`
	// Accounts, Regions and Checks narrow an on-demand run (empty: all).
	Accounts []string `json:"accounts,omitempty"`
	Regions  []string `json:"regions,omitempty"`
	Checks   []string `json:"checks,omitempty"`
	DryRun   bool     `json:"dryRun,omitempty"`
	// Run names this planning (see Message.Run).
	Run string `json:"run"`
}

// planPayload is the on-demand body; every field is optional.
type planPayload struct {
	Accounts []string `json:"accounts"`
	Regions  []string `json:"regions"`
	Checks   []string `json:"checks"`
	DryRun   bool     `json:"dryRun"`
}

// ParsePlanRequest validates a planner event: a scheduled event (its
// "time", which EventBridge Scheduler fills in from
// <aws.scheduler.scheduled-time>, names the run, so a schedule delivered
// twice queues once) or an on-demand payload. invocation names an
// on-demand run (the invocation's request ID: Lambda's retry of one
// invocation queues nothing twice). Bad input is refused before any AWS call.
func ParsePlanRequest(raw []byte, invocation string) (PlanRequest, error) {
	raw = bytes.TrimSpace(raw)
	var probe map[string]json.RawMessage
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &probe); err != nil {
			return PlanRequest{}, fmt.Errorf("planner event is not a JSON object: %w", err)
		}
	}
	if _, ok := probe["detail-type"]; ok {
		var ev struct {
			DetailType string `json:"detail-type"`
			Time       string `json:"time"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			return PlanRequest{}, fmt.Errorf("malformed scheduled event: %w", err)
		}
		if ev.DetailType != "Scheduled Event" {
			return PlanRequest{}, fmt.Errorf("unsupported EventBridge event: detail-type %q (only \"Scheduled Event\" plans a sweep)", ev.DetailType)
		}
		// Without a time (an invoke by hand), the invocation names the run.
		run := "schedule " + invocation
		if ev.Time != "" {
			run = "schedule " + ev.Time
		}
		return PlanRequest{Trigger: trigger.Schedule, Run: run}, nil
	}
	var p planPayload
	if len(probe) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return PlanRequest{}, fmt.Errorf("invalid planner payload: %w (known fields: accounts, regions, checks, dryRun)", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return PlanRequest{}, errors.New("invalid planner payload: trailing data after the JSON object")
		}
		// encoding/json matches names case-insensitively: "dryrun" must
		// not silently publish.
		for key := range probe {
			if !slices.Contains([]string{"accounts", "regions", "checks", "dryRun"}, key) {
				return PlanRequest{}, fmt.Errorf("invalid planner payload: unknown field %q (known: accounts, regions, checks, dryRun)", key)
			}
		}
	}
	req := PlanRequest{Trigger: trigger.OnDemand, DryRun: p.DryRun, Run: "on-demand " + invocation}
	if p.Accounts != nil {
		accounts, err := validAccounts(p.Accounts)
		if err != nil {
			return PlanRequest{}, fmt.Errorf("invalid planner payload: \"accounts\": %w", err)
		}
		if len(accounts) == 0 {
			return PlanRequest{}, errors.New("invalid planner payload: \"accounts\" is empty; omit it to audit every account")
		}
		req.Accounts = accounts
	}
	if p.Regions != nil {
		regions, err := ParseRegions(p.Regions)
		if err != nil {
			return PlanRequest{}, fmt.Errorf("invalid planner payload: \"regions\": %w", err)
		}
		req.Regions = regions
	}
	if _, err := registry.Select(p.Checks); err != nil {
		return PlanRequest{}, fmt.Errorf("invalid planner payload: %w", err)
	}
	req.Checks = p.Checks
	return req, nil
}

// ParseRegions validates a region list: region names, or AllRegions alone.
func ParseRegions(regions []string) ([]string, error) {
	if len(regions) == 0 {
		return nil, errors.New("no regions")
	}
	if slices.Contains(regions, AllRegions) {
		if len(regions) > 1 {
			return nil, fmt.Errorf("%q stands alone: it means every region enabled in each account", AllRegions)
		}
		return []string{AllRegions}, nil
	}
	return trigger.ValidateRegions(regions)
}

// ParseAccountList reads a comma-separated list of account IDs
// (EXCLUDED_ACCOUNTS, the ExcludedAccounts parameter).
func ParseAccountList(s string) ([]string, error) {
	var ids []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			ids = append(ids, p)
		}
	}
	return validAccounts(ids)
}

func validAccounts(ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		if !resource.ValidAccount(id) {
			return nil, fmt.Errorf("%q is not a 12-digit account ID", id)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// Plan is what a planner run did.
type Plan struct {
	Trigger trigger.Kind `json:"trigger"`
	Run     string       `json:"run"`
	// Listed counts the organization's accounts, whatever their state.
	Listed int `json:"listed"`
	// Accounts are the accounts planned, in order.
	Accounts []string `json:"accounts"`
	// Excluded are active accounts left out by ExcludedAccounts.
	Excluded []string `json:"excluded,omitempty"`
	// Inactive are accounts not ACTIVE (suspended, closing, pending), by
	// account ID: they are not audited.
	Inactive map[string]string `json:"inactive,omitempty"`
	Regions  []string          `json:"regions"`
	// GlobalOnly is the home region when it was planned for the global
	// checks only (the regions leave it out).
	GlobalOnly string `json:"globalOnly,omitempty"`
	// Messages were to be queued; Queued were.
	Messages int              `json:"messages"`
	Queued   int              `json:"queued"`
	Failed   []EnqueueFailure `json:"failed,omitempty"`
}

// Plan lists the organization's active accounts and queues one message per
// (account, region), or per account with AllRegions. It returns an error,
// having queued nothing, when the accounts cannot be listed or the request
// names an account that is not an active, audited member; and, with the
// plan, when some messages could not be queued (the others were).
func (p Planner) Plan(ctx context.Context, req PlanRequest) (*Plan, error) {
	regions, global, err := p.regionsOf(req)
	if err != nil {
		return nil, err
	}
	listed, err := p.listAccounts(ctx)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Trigger: req.Trigger, Run: req.Run, Listed: len(listed), Accounts: []string{}, Regions: regions, Inactive: map[string]string{}}
	if len(global) > 0 {
		plan.GlobalOnly = p.HomeRegion
	}
	active := map[string]bool{}
	for _, a := range listed {
		state := accountState(a)
		id := *a.Id
		switch {
		case state != "ACTIVE":
			plan.Inactive[id] = state
		case slices.Contains(p.Excluded, id):
			plan.Excluded = append(plan.Excluded, id)
		default:
			active[id] = true
		}
	}
	if len(req.Accounts) > 0 {
		for _, id := range req.Accounts {
			switch {
			case slices.Contains(plan.Excluded, id):
				return nil, fmt.Errorf("account %s is excluded (ExcludedAccounts); nothing queued", id)
			case plan.Inactive[id] != "":
				return nil, fmt.Errorf("account %s is %s, not ACTIVE; nothing queued", id, plan.Inactive[id])
			case !active[id]:
				return nil, fmt.Errorf("account %s is not a member of the organization; nothing queued", id)
			}
		}
		plan.Accounts = slices.Clone(req.Accounts)
	} else {
		for id := range active {
			plan.Accounts = append(plan.Accounts, id)
		}
	}
	slices.Sort(plan.Accounts)
	slices.Sort(plan.Excluded)
	var msgs []Message
	for _, account := range plan.Accounts {
		for _, region := range regions {
			msgs = append(msgs, Message{Account: account, Region: region, Trigger: req.Trigger, Checks: req.Checks, DryRun: req.DryRun, Run: req.Run})
		}
		if len(global) > 0 {
			msgs = append(msgs, Message{Account: account, Region: p.HomeRegion, Trigger: req.Trigger, Checks: global, DryRun: req.DryRun, Run: req.Run})
		}
	}
	plan.Messages = len(msgs)
	plan.Queued, plan.Failed = p.Queue.Send(ctx, msgs)
	if len(plan.Failed) > 0 {
		return plan, fmt.Errorf("%d of %d messages could not be queued (first: %s: %s: %s)", len(plan.Failed), len(msgs),
			plan.Failed[0].Group, plan.Failed[0].Code, plan.Failed[0].Message)
	}
	return plan, nil
}

// regionsOf decides, before any AWS call, the regions req plans for every
// account, and the global checks planned apart in the home region (when
// the configured regions leave it out: global services are audited there
// all the same, as an AllRegions message's expansion does; a request
// naming regions gets those). A request of global checks alone plans the
// home region alone, and is refused if it names regions without it.
func (p Planner) regionsOf(req PlanRequest) (regions, global []string, err error) {
	regions = req.Regions
	if len(regions) == 0 {
		regions = p.Regions
	}
	if _, err := ParseRegions(regions); err != nil {
		return nil, nil, fmt.Errorf("regions to plan: %w", err)
	}
	if p.HomeRegion == "" {
		return regions, nil, nil
	}
	if OnlyGlobal(req.Checks) {
		if len(req.Regions) > 0 && !slices.Contains(req.Regions, AllRegions) && !slices.Contains(req.Regions, p.HomeRegion) {
			return nil, nil, fmt.Errorf("checks %v are global, audited in the home region (%s) only: name it in \"regions\", or leave \"regions\" out; nothing queued", req.Checks, p.HomeRegion)
		}
		return []string{p.HomeRegion}, nil, nil
	}
	if len(req.Regions) == 0 && !slices.Contains(regions, AllRegions) && !slices.Contains(regions, p.HomeRegion) {
		global = GlobalChecks(req.Checks)
	}
	return regions, global, nil
}

// listAccountsPage is ListAccounts' largest page.
const listAccountsPage = 20

// accountState is the account's State (Status in older answers).
func accountState(a orgtypes.Account) string {
	if a.State != "" {
		return string(a.State)
	}
	return string(a.Status)
}

func (p Planner) listAccounts(ctx context.Context) ([]orgtypes.Account, error) {
	var out []orgtypes.Account
	// 20 a page, the most ListAccounts returns.
	pages := organizations.NewListAccountsPaginator(p.Organizations, &organizations.ListAccountsInput{MaxResults: aws.Int32(listAccountsPage)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the organization's accounts (nothing queued): %s", collect.Reason("ListAccounts", err))
		}
		for _, a := range page.Accounts {
			if a.Id != nil {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// Handle parses a planner event and plans it. An on-demand run is named by
// the Lambda invocation's request ID (a retried invocation queues nothing
// twice), or outside Lambda by the time.
func (p Planner) Handle(ctx context.Context, raw json.RawMessage) (*Plan, error) {
	invocation := time.Now().UTC().Format(time.RFC3339Nano)
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		invocation = lc.AwsRequestID
	}
	req, err := ParsePlanRequest(raw, invocation)
	if err != nil {
		return nil, err
	}
	return p.Plan(ctx, req)
}

// OnlyGlobal reports whether every check of requested (every check when
// empty) is global.
func OnlyGlobal(requested []string) bool {
	checks, err := registry.Select(requested)
	return err == nil && len(checks) > 0 && len(GlobalChecks(requested)) == len(checks)
}

// GlobalChecks are the checks of requested (every check when empty) that
// run once per account, in the home region.
func GlobalChecks(requested []string) []string {
	checks, err := registry.Select(requested)
	if err != nil {
		return nil // refused where the request is validated
	}
	var ids []string
	for _, c := range checks {
		if c.Global {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
