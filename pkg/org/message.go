// Package org fans an audit out over an AWS Organization: the planner lists
// the organization's active accounts and queues one message per (account,
// region) on an SQS FIFO queue; the worker takes each message, assumes the
// member account's role, audits that one scope with the runner and imports
// the findings into the member's own Security Hub.
//
// The queue's message group is the scope ("<account>/<region>"): SQS hands
// a FIFO group to one consumer at a time, so a sweep, an on-demand run and
// an event re-check of one scope never run at once, without a lock.
package org

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/posture-auditor/posture-auditor/pkg/regions"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// AllRegions, as a message's region, asks the worker to audit every region
// enabled in the member (discovered with the member's own credentials) by
// queueing one message per region.
const AllRegions = regions.All

// MaxTargets bounds the resources of one re-check message, as an on-demand
// payload's (trigger.MaxResources).
const MaxTargets = trigger.MaxResources

// Message is one unit of work on the organization queue: a sweep (or an
// on-demand run) of one scope, or a re-check of some resources of one scope.
type Message struct {
	// Account is the member's 12-digit account ID.
	Account string `json:"account"`
	// Region is the scope's region, or AllRegions (sweeps only).
	Region string `json:"region"`
	// Trigger is schedule or on-demand for a sweep, event for a re-check.
	Trigger trigger.Kind `json:"trigger"`
	// Checks narrows the checks (empty: every check).
	Checks []string `json:"checks,omitempty"`
	DryRun bool     `json:"dryRun,omitempty"`
	// Enabled says the worker's expansion of AllRegions found Region
	// enabled in the member just before queueing it: its run does not list
	// the member's regions again (one ec2:DescribeRegions less a scope).
	Enabled bool `json:"enabled,omitempty"`
	// Targets are a re-check's resources, all of Account and Region (a
	// global kind's own region is not looked at: it is read in the home
	// region, which is then the message's Region).
	Targets []resource.Target `json:"targets,omitempty"`
	// Run names what queued it (a planner run: the scheduled time or the
	// invocation's request ID; a re-check: the events' message IDs). It
	// makes the deduplication ID: the same run queued twice within SQS's
	// five-minute window is delivered once.
	Run string `json:"run,omitempty"`
}

// GroupID is the FIFO message group: the scope. Messages of one group are
// handed to one worker at a time, in order.
func (m Message) GroupID() string { return m.Account + "/" + m.Region }

// Body is the message's JSON.
func (m Message) Body() (string, error) {
	b, err := json.Marshal(m)
	return string(b), err
}

// DeduplicationID is derived from the body (SHA-256, 64 hex characters of
// the 128 SQS allows): a planner retried with the same run queues nothing
// twice; two runs never collide.
func DeduplicationID(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

var messageFields = map[string]bool{"account": true, "region": true, "trigger": true, "checks": true, "dryRun": true, "enabled": true, "targets": true, "run": true}

// IsSweep reports a sweep (or on-demand run) of the whole scope.
func (m Message) IsSweep() bool { return m.Trigger != trigger.Event }

// ParseMessage decodes and validates a queue message body. Anything it
// does not accept is refused with the reason; nothing is done for it.
func ParseMessage(body []byte) (Message, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m Message
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("malformed organization message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Message{}, errors.New("malformed organization message: trailing data after the JSON object")
	}
	// encoding/json matches names case-insensitively: a name must be
	// spelled exactly, as the planner, the worker and the events function
	// write it.
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return Message{}, fmt.Errorf("malformed organization message: %w", err)
	}
	for key := range probe {
		if !messageFields[key] {
			return Message{}, fmt.Errorf("malformed organization message: unknown field %q", key)
		}
	}
	if len(m.Checks) == 0 {
		m.Checks = nil
	}
	if len(m.Targets) == 0 {
		m.Targets = nil
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// Validate checks what a message asks for, before any AWS call.
func (m Message) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("invalid organization message: "+format, a...)
	}
	if !resource.ValidAccount(m.Account) {
		return bad("account %q is not a 12-digit account ID", m.Account)
	}
	switch {
	case m.Region == AllRegions:
		if !m.IsSweep() {
			return bad("region %q is for sweeps only; a re-check names its region", AllRegions)
		}
		if m.Enabled {
			return bad("\"enabled\" is said of one region, not of %q", AllRegions)
		}
	case !trigger.ValidRegion(m.Region):
		return bad("malformed region %q (expected a name like us-east-1, or %q)", m.Region, AllRegions)
	}
	switch m.Trigger {
	case trigger.Schedule, trigger.OnDemand:
		if len(m.Targets) > 0 {
			return bad("targets are for trigger %q only", trigger.Event)
		}
	case trigger.Event:
		if len(m.Targets) == 0 {
			return bad("trigger %q needs targets", trigger.Event)
		}
		if m.DryRun {
			return bad("a re-check is never a dry run")
		}
	default:
		return bad("trigger %q is not one of %s, %s, %s", m.Trigger, trigger.Schedule, trigger.OnDemand, trigger.Event)
	}
	if _, err := registry.Select(m.Checks); err != nil {
		return bad("%v", err)
	}
	if len(m.Targets) > MaxTargets {
		return bad("%d targets; at most %d", len(m.Targets), MaxTargets)
	}
	for _, t := range m.Targets {
		spec, ok := resource.SpecOf(t.Ref.Kind)
		switch {
		case !ok:
			return bad("target of unknown kind %q", t.Ref.Kind)
		case t.Ref.Account != m.Account:
			return bad("target %s belongs to account %q, not the message's %s", t.Ref, t.Ref.Account, m.Account)
		case t.Ref.Partition == "":
			return bad("target %s has no partition", t.Ref)
		case t.Ref.ID == "":
			return bad("target of kind %s has no identifier", t.Ref.Kind)
		case !spec.Global && t.Ref.Region != m.Region:
			return bad("target %s is in region %q, not the message's %s", t.Ref, t.Ref.Region, m.Region)
		}
		// The identifier is what is read, through the member's role: an ARN
		// of another account must not be judged in this one.
		for _, id := range []string{t.Ref.ID, t.Ref.ARN} {
			if a, err := arn.Parse(id); err == nil && a.AccountID != m.Account {
				return bad("target %s names account %q in %q, not the message's %s", t.Ref, a.AccountID, id, m.Account)
			}
		}
	}
	return nil
}
