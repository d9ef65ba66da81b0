package org

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

// Outcome is what became of one queued message.
type Outcome string

const (
	// Audited: the scope was swept or its resources re-checked, and the
	// findings imported into the member's Security Hub.
	Audited Outcome = "audited"
	// Expanded: an AllRegions message was turned into one message per
	// region enabled in the member.
	Expanded Outcome = "expanded"
	// MemberFailed: a permanent failure of the member (its role cannot be
	// assumed, Security Hub is not enabled): reported and acknowledged;
	// retrying would fail the same way until someone fixes the member.
	MemberFailed Outcome = "member-failed"
	// Refused: the message is malformed; acknowledged, nothing done.
	Refused Outcome = "refused"
	// Retry: a transient failure (throttling, 5xx, timeout) or a message
	// behind one of its scope in the batch: returned to the queue.
	Retry Outcome = "retry"
)

// Failure reasons of MemberFailed.
const (
	ReasonAssumeRole       = "AssumeRoleFailed"
	ReasonSecurityHubOff   = "SecurityHubNotEnabled"
	ReasonRegionsUnknown   = "RegionsNotDiscovered"
	ReasonExpansionRefused = "ExpansionRefused"
	// ReasonPublishFailed: Security Hub refused the member's imports for
	// a reason a retry does not mend (the member role lacks
	// securityhub:BatchImportFindings, say, an outdated role stack).
	ReasonPublishFailed = "PublishFailed"
)

// Worker audits the scopes the planner (or the events function) queued.
type Worker struct {
	// Base is the runner every member's is made from (Runner.ForAccount):
	// its counter, collectors, home region, settings, and its publisher,
	// whose finding state uses the central account's credentials.
	Base *runner.Runner
	// Partition is the organization's (the function's) partition.
	Partition string
	// Member returns the config of a member account: its role assumed
	// (lazily), cached for the container's life.
	Member func(ctx context.Context, account string) (aws.Config, error)
	// RoleARN names the role Member assumes, for reports.
	RoleARN func(account string) string
	// Queue receives the per-region messages of an AllRegions message.
	Queue Queue
	// Discover returns the regions to audit in a member for AllRegions
	// (enabled there, less the excluded ones), with the member's config.
	Discover func(ctx context.Context, cfg aws.Config) ([]string, error)
	// Excluded are accounts never audited (EXCLUDED_ACCOUNTS): their
	// messages are refused before any call, whoever queued them.
	Excluded []string
	// Postpone makes a message to retry visible again after the given
	// time (sqs:ChangeMessageVisibility); nil leaves it to the queue's
	// visibility timeout.
	Postpone func(ctx context.Context, receiptHandle string, after time.Duration) error
	Now      func() time.Time
}

// ScopeResult is one message and what became of it.
type ScopeResult struct {
	MessageID string       `json:"messageId"`
	Account   string       `json:"account,omitempty"`
	Region    string       `json:"region,omitempty"`
	Trigger   trigger.Kind `json:"trigger,omitempty"`
	Outcome   Outcome      `json:"outcome"`
	// Reason names a MemberFailed kind (ReasonAssumeRole, ...).
	Reason    string `json:"reason,omitempty"`
	ErrorCode string `json:"errorCode,omitempty"`
	Error     string `json:"error,omitempty"`
	// Queued counts the per-region messages of an expansion.
	Queued  int             `json:"queued,omitempty"`
	Summary *runner.Summary `json:"summary,omitempty"`
	// DurationMs is how long the message took.
	DurationMs int64 `json:"durationMs"`
	// RetryAfterSeconds is when a message to retry is received again (0:
	// after the queue's visibility timeout).
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
}

// BatchItemFailure names a message SQS should deliver again.
type BatchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// WorkerResult is what one invocation did.
type WorkerResult struct {
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures"`
	Scopes            []ScopeResult      `json:"scopes"`
}

// Response is the worker's Lambda reply: SQS's partial batch response.
type Response struct {
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures"`
}

// Reply is the Lambda reply to what Handle returned.
func Reply(res *WorkerResult, err error) (*Response, error) {
	if err != nil {
		return nil, err
	}
	return &Response{BatchItemFailures: res.BatchItemFailures}, nil
}

type sqsRecord struct {
	MessageID     string            `json:"messageId"`
	ReceiptHandle string            `json:"receiptHandle"`
	Body          string            `json:"body"`
	EventSource   string            `json:"eventSource"`
	Attributes    map[string]string `json:"attributes"`
}

// RetryDelay is how long a scope to retry waits before it is received
// again: 5 minutes after its first receive, doubling, at most an hour
// (throttling in a member, a Security Hub outage: minutes, not seconds).
// Left to the queue, a retried message would wait the whole visibility
// timeout (6x the worker's, 90 minutes) and hold its scope's group
// meanwhile.
func RetryDelay(receives int) time.Duration {
	d := 5 * time.Minute
	for i := 1; i < receives && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Handle handles an SQS batch from the organization queue, or one message
// body invoked directly (then a transient failure is returned as an error).
// Messages are handled in order; after one that must be retried, the later
// messages of its group (its scope) are returned unhandled, as a FIFO queue
// requires (a later message of the same scope must not run before it).
func (w *Worker) Handle(ctx context.Context, raw json.RawMessage) (res *WorkerResult, err error) {
	defer func() {
		// A bug must not lose the batch: it goes back to the queue, and to
		// the dead-letter queue after maxReceiveCount receives.
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("worker panicked: %v", p)
		}
	}()
	var batch struct {
		Records []sqsRecord `json:"Records"`
	}
	if json.Unmarshal(raw, &batch) == nil && len(batch.Records) > 0 && batch.Records[0].EventSource == "aws:sqs" {
		res = &WorkerResult{BatchItemFailures: []BatchItemFailure{}}
		// retried: the message groups with a message to retry, and its
		// retry delay (the first such message's for ungrouped ones).
		retried := map[string]time.Duration{}
		var firstDelay time.Duration
		for _, rec := range batch.Records {
			group, grouped := rec.Attributes["MessageGroupId"]
			delay, behind := retried[group]
			if !grouped && len(retried) > 0 {
				delay, behind = firstDelay, true
			}
			// Behind a message to retry of its group, a message waits (FIFO
			// order within a scope), and comes back with it: left in flight
			// for the visibility timeout, it would hold its group that long.
			// Other groups' messages are handled, or they would count
			// receives toward the dead-letter queue for another scope's
			// failure. A message without a group (a queue that does not
			// say) waits behind any.
			var sr ScopeResult
			if behind {
				sr = ScopeResult{MessageID: rec.MessageID, Outcome: Retry, Error: "behind a message of its scope that will be retried"}
			} else {
				sr = w.handleOne(ctx, rec.MessageID, []byte(rec.Body))
				receives, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
				delay = RetryDelay(receives)
			}
			if sr.Outcome == Retry {
				w.postpone(ctx, rec, delay, &sr)
				res.BatchItemFailures = append(res.BatchItemFailures, BatchItemFailure{rec.MessageID})
				if _, seen := retried[group]; !seen {
					retried[group] = delay
				}
				if firstDelay == 0 {
					firstDelay = delay
				}
			}
			res.Scopes = append(res.Scopes, sr)
		}
		return res, nil
	}
	sr := w.handleOne(ctx, "", raw)
	res = &WorkerResult{BatchItemFailures: []BatchItemFailure{}, Scopes: []ScopeResult{sr}}
	if sr.Outcome == Retry {
		return res, fmt.Errorf("scope %s/%s failed and may succeed on retry: %s", sr.Account, sr.Region, sr.Error)
	}
	return res, nil
}

// postpone makes a message to retry visible again after delay.
func (w *Worker) postpone(ctx context.Context, rec sqsRecord, delay time.Duration, sr *ScopeResult) {
	if w.Postpone == nil || rec.ReceiptHandle == "" {
		return
	}
	if err := w.Postpone(ctx, rec.ReceiptHandle, delay); err != nil {
		// Retried all the same, after the visibility timeout.
		sr.Error += "; could not set its retry delay: " + collect.Reason("sqs:ChangeMessageVisibility", err)
		return
	}
	sr.RetryAfterSeconds = int(delay.Seconds())
}

func (w *Worker) handleOne(ctx context.Context, id string, body []byte) (sr ScopeResult) {
	start := w.now()
	defer func() { sr.DurationMs = w.now().Sub(start).Milliseconds() }()
	sr.MessageID = id
	m, err := ParseMessage(body)
	if err != nil {
		sr.Outcome, sr.Error = Refused, err.Error()
		return sr
	}
	sr.Account, sr.Region, sr.Trigger = m.Account, m.Region, m.Trigger
	if slices.Contains(w.Excluded, m.Account) {
		sr.Outcome, sr.Error = Refused, fmt.Sprintf("account %s is excluded (ExcludedAccounts): never audited", m.Account)
		return sr
	}
	if why := w.runsNothing(m); why != "" {
		sr.Outcome, sr.Error = Refused, why
		return sr
	}
	cfg, err := w.Member(ctx, m.Account)
	if err == nil {
		// Assume the role now (cached for its session): a member whose role
		// cannot be assumed is one clear failure, not a failed scope per check.
		_, err = cfg.Credentials.Retrieve(ctx)
	}
	if err != nil {
		w.failed(&sr, ReasonAssumeRole, fmt.Sprintf("assume %s", w.roleARN(m.Account)), err)
		return sr
	}
	if m.Region == AllRegions {
		w.expand(ctx, m, cfg, &sr)
		return sr
	}
	r := w.Base.ForAccount(cfg, m.Account, w.Partition, []string{m.Region})
	var s *runner.Summary
	if m.IsSweep() {
		s, err = r.Run(ctx, trigger.Request{Kind: m.Trigger, Regions: []string{m.Region}, RegionsEnabled: m.Enabled, Checks: m.Checks, DryRun: m.DryRun})
	} else {
		s, err = r.Recheck(ctx, runner.RecheckRequest{Kind: trigger.Event, Targets: m.Targets, Checks: m.Checks})
	}
	var callFailed *smithy.OperationError
	switch {
	case errors.As(err, &callFailed):
		// The run stopped before reading anything: the member's regions
		// could not be listed (ec2:DescribeRegions denied or throttled).
		w.failed(&sr, ReasonRegionsUnknown, "list the member's enabled regions", err)
		return sr
	case err != nil:
		// A request the runner refuses: retrying it cannot help.
		sr.Outcome, sr.Error = Refused, err.Error()
		return sr
	}
	sr.Summary = s
	classify(&sr, s)
	return sr
}

// runsNothing says why a sweep of m would run no check ("" when it runs
// some): every check it names is global, read in the home region only,
// and m is of another region (a planner and a worker whose HOME_REGION
// differ, or a home region changed while messages waited). Reported as
// refused rather than "audited" with nothing read.
func (w *Worker) runsNothing(m Message) string {
	if w.Base == nil {
		return ""
	}
	home := w.Base.HomeRegion
	if !m.IsSweep() || home == "" || m.Region == home || m.Region == AllRegions || !OnlyGlobal(m.Checks) {
		return ""
	}
	return fmt.Sprintf("every check asked for is global, read in the home region (%s) only, not in %s: nothing would run (does the planner's HOME_REGION differ from this worker's?)", home, m.Region)
}

// classify decides a finished run's outcome: Security Hub off in the
// member is permanent; a region whose publish or a resource whose re-check
// failed for a transient reason, with nothing of it imported, is retried;
// a publish refused for another reason is the member's failure; anything
// else is audited (failed scopes archive nothing and are in the
// summary, the log and the FailedScopes metric; the next sweep reads them).
func classify(sr *ScopeResult, s *runner.Summary) {
	sr.Outcome = Audited
	if len(s.SecurityHubNotEnabled) > 0 {
		sr.Outcome, sr.Reason, sr.ErrorCode = MemberFailed, ReasonSecurityHubOff, "InvalidAccessException"
		sr.Error = "Security Hub is not enabled in " + strings.Join(s.SecurityHubNotEnabled, ", ") + ": nothing was imported there"
		return
	}
	for _, rep := range s.Published {
		if rep.Unpublished > 0 && runner.Transient(rep.ErrorCode) {
			sr.Outcome, sr.ErrorCode, sr.Error = Retry, rep.ErrorCode, fmt.Sprintf("region %s not published: %s", rep.Region, rep.Error)
			return
		}
	}
	for _, t := range s.Resources {
		if t.Transient {
			sr.Outcome, sr.Error = Retry, fmt.Sprintf("%s: %s", t.Resource, t.Reason)
			return
		}
	}
	// Findings made but not imported, for a reason a retry does not mend:
	// not "audited", or the member would look covered while nothing of
	// it reaches Security Hub.
	for _, rep := range s.Published {
		if rep.ErrorCode != "" && (rep.Unpublished > 0 || len(rep.Failed) > 0) {
			sr.Outcome, sr.Reason, sr.ErrorCode = MemberFailed, ReasonPublishFailed, rep.ErrorCode
			sr.Error = fmt.Sprintf("region %s not published: %s", rep.Region, rep.Error)
			return
		}
	}
}

// expand queues one message per region the member audits. Regions that
// cannot be discovered for a transient reason are retried; a denied
// discovery is the member's permanent failure.
func (w *Worker) expand(ctx context.Context, m Message, cfg aws.Config, sr *ScopeResult) {
	if w.Discover == nil {
		sr.Outcome, sr.Reason, sr.Error = MemberFailed, ReasonExpansionRefused, "this worker cannot discover regions: configure AUDIT_REGIONS as a list"
		return
	}
	home := w.Base.Home()
	if OnlyGlobal(m.Checks) {
		// Read in the home region only: no discovery, one message.
		g := m
		g.Region = home
		w.send(ctx, []Message{g}, sr)
		return
	}
	regions, err := w.Discover(ctx, awsconfig.ForRegion(cfg, home))
	if err != nil {
		w.failed(sr, ReasonRegionsUnknown, "discover the member's regions", err)
		return
	}
	msgs := make([]Message, len(regions))
	for i, r := range regions {
		msgs[i] = m
		msgs[i].Region, msgs[i].Enabled = r, true
	}
	// The home region excluded (or not enabled: that scope's run reports
	// it): global services are audited there all the same, alone.
	if global := GlobalChecks(m.Checks); !slices.Contains(regions, home) && len(global) > 0 {
		g := m
		g.Region, g.Checks = home, global
		msgs = append(msgs, g)
	}
	w.send(ctx, msgs, sr)
}

// send queues an expansion's messages.
func (w *Worker) send(ctx context.Context, msgs []Message, sr *ScopeResult) {
	queued, failed := w.Queue.Send(ctx, msgs)
	sr.Queued = queued
	if len(failed) > 0 {
		// Resent whole on retry: SQS deduplicates those already queued
		// within its five-minute window; past it a region is swept twice,
		// one after the other (same message group), never at once.
		sr.Outcome, sr.ErrorCode = Retry, failed[0].Code
		sr.Error = fmt.Sprintf("%d of %d region messages not queued (first: %s: %s)", len(failed), len(msgs), failed[0].Group, failed[0].Message)
		return
	}
	sr.Outcome = Expanded
}

// permanentError is a failure no retry mends that carries no AWS error code.
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// Permanent marks err as a failure retrying cannot mend.
func Permanent(err error) error { return permanentError{err} }

// failed records err: transient (retry) or the member's permanent failure.
func (w *Worker) failed(sr *ScopeResult, reason, what string, err error) {
	code := collect.ErrorCode(err)
	sr.ErrorCode, sr.Error = code, what+": "+collect.ErrorMessage(err)
	var permanent permanentError
	if errors.As(err, &permanent) {
		sr.ErrorCode, sr.Error = "", what+": "+err.Error()
	}
	if (runner.Transient(code) || serverError(err) || (reason == ReasonAssumeRole && centralCredentials[code])) && !errors.As(err, &permanent) {
		sr.Outcome = Retry
		return
	}
	sr.Outcome, sr.Reason = MemberFailed, reason
}

// centralCredentials are AssumeRole errors about the worker's own
// credentials (expired, or signed with a clock gone wrong), not the
// member's role: every member would fail alike, and the function's next
// credentials mend it, so the scope is retried rather than reported as the
// member's failure and dropped.
var centralCredentials = map[string]bool{
	"ExpiredToken": true, "ExpiredTokenException": true, "RequestExpired": true,
}

// serverError reports an HTTP 5xx or 429 answer, whatever its error code:
// one the SDK could not read a code from (UnknownError, e.g. a 503 with no
// body) is as transient as a coded one.
func serverError(err error) bool {
	var resp *awshttp.ResponseError
	if !errors.As(err, &resp) {
		return false
	}
	status := resp.HTTPStatusCode()
	return status >= 500 || status == http.StatusTooManyRequests
}

func (w *Worker) roleARN(account string) string {
	if w.RoleARN == nil {
		return "the member role of " + account
	}
	return w.RoleARN(account)
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// RoleARN is the member role's ARN in account.
func RoleARN(partition, account, roleName string) string {
	return "arn:" + partition + ":iam::" + account + ":role/" + roleName
}
