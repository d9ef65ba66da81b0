// Package organization tests the organization fan-out against moto_server:
// the planner lists the organization (Organizations) and queues its scopes
// on an SQS FIFO queue; the worker assumes each member's role (STS) and
// imports into the member's own Security Hub, which moto keys by the
// account of the credentials STS gave.
package organization

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/org"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
	"github.com/posture-auditor/posture-auditor/test/iampolicy"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const (
	region   = "us-east-1"
	central  = motoserver.Account // moto's account of the static test credentials
	roleName = "PostureAuditorMember"
)

// Members of the worker tests.
const (
	healthy   = "111111111111"
	denied    = "333333333333" // its role cannot be assumed
	throttled = "444444444444" // STS throttles its AssumeRole
)

type env struct {
	front *stsFront
	// central is the functions' config; admin the test's own (uncounted)
	// in the same account.
	central, admin aws.Config
	// centralCalls counts the calls made with the central account's
	// credentials (what the functions' own IAM policies must allow).
	centralCalls *awsconfig.CallCounter
	queueURL     string
}

func setup(t *testing.T) env {
	t.Helper()
	srv := motoserver.Fresh(t)
	front := newSTSFront(t, srv.URL, []string{denied}, []string{throttled})
	counter := awsconfig.NewCallCounter()
	cfg := wirefake.Config(t, front.URL, region, counter)
	admin := wirefake.Config(t, front.URL, region, nil)
	out, err := sqs.NewFromConfig(admin).CreateQueue(context.Background(), &sqs.CreateQueueInput{
		QueueName:  aws.String("posture-auditor-organization.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "5"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return env{front: front, central: cfg, admin: admin, centralCalls: counter, queueURL: *out.QueueUrl}
}

// received reads every message of the queue, deleting each batch so that
// FIFO hands out the next messages of the same groups.
func (e env) received(t *testing.T) []sqstypes.Message {
	t.Helper()
	api := sqs.NewFromConfig(e.admin)
	var all []sqstypes.Message
	for empty := 0; empty < 2; {
		out, err := api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameMessageGroupId, sqstypes.MessageSystemAttributeNameMessageDeduplicationId},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			all = append(all, m)
			if _, err := api.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return all
}

// organization creates an organization of the central account and n
// members, and closes (suspends) the last one. It returns the members,
// in creation order.
func organization(t *testing.T, cfg aws.Config, n int) []string {
	t.Helper()
	ctx := context.Background()
	api := organizations.NewFromConfig(cfg)
	if _, err := api.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		t.Fatal(err)
	}
	var members []string
	for i := range n {
		out, err := api.CreateAccount(ctx, &organizations.CreateAccountInput{
			AccountName: aws.String(fmt.Sprintf("member-%02d", i)), Email: aws.String(fmt.Sprintf("member-%02d@example.com", i)),
		})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, aws.ToString(out.CreateAccountStatus.AccountId))
	}
	if _, err := api.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(members[n-1])}); err != nil {
		t.Fatal(err)
	}
	return members
}

// TestPlannerQueuesActiveAccounts: 25 members and the management account
// (two pages of ListAccounts at 20 a page), one excluded, one suspended:
// one message per active, not excluded account and region, grouped by
// scope, deduplicated by run.
func TestPlannerQueuesActiveAccounts(t *testing.T) {
	e := setup(t)
	members := organization(t, e.admin, 25)
	excluded, suspended := members[3], members[24]
	planner := org.Planner{
		Organizations: organizations.NewFromConfig(e.central),
		Queue:         org.Queue{API: sqs.NewFromConfig(e.central), URL: e.queueURL},
		Regions:       []string{"us-east-1", "eu-west-1"},
		Excluded:      []string{excluded},
	}
	ctx := context.Background()
	req, err := org.ParsePlanRequest([]byte(`{"detail-type":"Scheduled Event","source":"aws.scheduler","time":"2025-06-01T06:00:00Z"}`), "unused")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planner.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.centralCalls.Count("Organizations", "ListAccounts"); n != 2 {
		t.Errorf("ListAccounts called %d times for 26 accounts, want 2 pages of 20", n)
	}
	// The same scheduled run delivered again (EventBridge Scheduler is at
	// least once; Lambda retries a failed asynchronous invocation): SQS
	// drops every duplicate. (moto remembers deduplication IDs only while
	// their messages are in the queue; AWS for five minutes whatever.)
	if _, err := planner.Plan(ctx, req); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, a := range append([]string{central}, members...) {
		if a == excluded || a == suspended {
			continue
		}
		for _, r := range planner.Regions {
			want[a+"/"+r] = true
		}
	}
	if plan.Listed != 26 || len(plan.Accounts) != 24 || plan.Queued != 48 || plan.Messages != 48 || len(plan.Failed) != 0 ||
		!slices.Equal(plan.Excluded, []string{excluded}) || plan.Inactive[suspended] != "SUSPENDED" {
		t.Errorf("plan: %+v", plan)
	}
	msgs := e.received(t)
	if len(msgs) != 48 {
		t.Errorf("received %d messages of two plans of one run, want 48", len(msgs))
	}
	got := map[string]bool{}
	for _, m := range msgs {
		body := aws.ToString(m.Body)
		parsed, err := org.ParseMessage([]byte(body))
		if err != nil {
			t.Fatalf("queued message refused by the worker's parser: %v", err)
		}
		group := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
		if group != parsed.Account+"/"+parsed.Region || group != parsed.GroupID() {
			t.Errorf("message %s in group %q", body, group)
		}
		if d := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageDeduplicationId)]; d != org.DeduplicationID(body) {
			t.Errorf("deduplication ID %q", d)
		}
		if parsed.Trigger != trigger.Schedule || parsed.Run != "schedule 2025-06-01T06:00:00Z" {
			t.Errorf("message %s", body)
		}
		if got[group] {
			t.Errorf("scope %s queued twice", group)
		}
		got[group] = true
	}
	if !equalSets(got, want) {
		t.Errorf("queued scopes %v, want %v", keys(got), keys(want))
	}

	// On demand, naming accounts: a suspended, an excluded or an unknown
	// account is refused and nothing is queued.
	for _, payload := range []string{
		`{"accounts":["` + members[0] + `","` + suspended + `"]}`,
		`{"accounts":["` + excluded + `"]}`,
		`{"accounts":["999999999999"]}`,
	} {
		req, err := org.ParsePlanRequest([]byte(payload), "req-"+payload)
		if err != nil {
			t.Fatal(err)
		}
		if plan, err := planner.Plan(ctx, req); err == nil {
			t.Errorf("%s planned: %+v", payload, plan)
		}
	}
	req, err = org.ParsePlanRequest([]byte(`{"accounts":["`+members[0]+`"],"regions":["all"],"checks":["kms.rotation"],"dryRun":true}`), "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := planner.Plan(ctx, req); err != nil {
		t.Fatal(err)
	}
	msgs = e.received(t)
	if len(msgs) != 1 {
		t.Fatalf("on-demand run of one account, all regions: %d messages", len(msgs))
	}
	m, err := org.ParseMessage([]byte(aws.ToString(msgs[0].Body)))
	if err != nil || m.Account != members[0] || m.Region != org.AllRegions || m.Trigger != trigger.OnDemand || !m.DryRun || !slices.Equal(m.Checks, []string{"kms.rotation"}) {
		t.Errorf("on-demand message %+v %v", m, err)
	}
	assertGrants(t, "PlannerFunction", e.centralCalls, nil, nil)
}

// worker builds the worker as WorkerFromEnvironment does, pointed at the
// front: member calls counted apart from the central account's.
func (e env) worker(t *testing.T) (*org.Worker, *awsconfig.CallCounter) {
	t.Helper()
	if err := seed.CreateFindingStateTable(context.Background(), e.admin); err != nil {
		t.Fatal(err)
	}
	memberCalls := awsconfig.NewCallCounter()
	pacer, err := pace.New(pace.DefaultFraction)
	if err != nil {
		t.Fatal(err)
	}
	members := &org.Members{
		Options: awsconfig.Options{
			Region: region, EndpointURL: e.front.URL, Counter: memberCalls, Pacer: pacer,
			MaxAttempts: wirefake.TestRetries, MaxBackoff: wirefake.TestBackoff,
			Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		},
		Partition: "aws", RoleName: roleName, ExternalID: "external-id",
	}
	base := &runner.Runner{
		AWS: e.central, Counter: memberCalls, Regions: []string{region}, HomeRegion: region,
		Collectors: runner.Collectors(), Publisher: publish.Publisher{State: org.CentralState(seed.FindingStateTable, e.central)},
		ToolVersion: "test", Getenv: func(string) string { return "" }, Now: time.Now,
	}
	return &org.Worker{
		Base: base, Partition: "aws", Member: members.Config, RoleARN: members.RoleARN,
		Queue:    org.Queue{API: sqs.NewFromConfig(e.central), URL: e.queueURL},
		Discover: org.DiscoverRegions("aws", nil),
	}, memberCalls
}

// memberConfig is a member's config through its assumed role, for seeding
// and reading back.
func (e env) memberConfig(t *testing.T, account string) aws.Config {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{
		Region: region, EndpointURL: e.front.URL, RoleARN: org.RoleARN("aws", account, roleName),
		MaxAttempts: wirefake.TestRetries, MaxBackoff: wirefake.TestBackoff,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func sqsEvent(t *testing.T, msgs ...org.Message) json.RawMessage {
	t.Helper()
	type record struct {
		MessageID   string `json:"messageId"`
		Body        string `json:"body"`
		EventSource string `json:"eventSource"`
	}
	var ev struct {
		Records []record `json:"Records"`
	}
	for i, m := range msgs {
		body, err := m.Body()
		if err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, record{MessageID: fmt.Sprintf("m%d", i), Body: body, EventSource: "aws:sqs"})
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestWorkerAuditsMembers: one batch of four scopes. The member whose role
// cannot be assumed is reported and acknowledged; the healthy member is
// audited through its role and its findings land in its own Security Hub
// with its account ID; the member STS throttles is returned to the queue,
// and so is the message behind it (FIFO order).
func TestWorkerAuditsMembers(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	memberCfg := e.memberConfig(t, healthy)
	key, err := kms.NewFromConfig(memberCfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("not rotating")})
	if err != nil {
		t.Fatal(err)
	}
	keyID := aws.ToString(key.KeyMetadata.KeyId)
	w, memberCalls := e.worker(t)
	sweep := func(account string) org.Message {
		return org.Message{Account: account, Region: region, Trigger: trigger.Schedule, Checks: []string{"kms.rotation"}, Run: "schedule t"}
	}
	res, err := w.Handle(ctx, sqsEvent(t, sweep(denied), sweep(healthy), sweep(throttled), sweep(healthy)))
	if err != nil {
		t.Fatal(err)
	}
	outcomes := []org.Outcome{}
	for _, sr := range res.Scopes {
		outcomes = append(outcomes, sr.Outcome)
	}
	if want := []org.Outcome{org.MemberFailed, org.Audited, org.Retry, org.Retry}; !slices.Equal(outcomes, want) {
		t.Fatalf("outcomes %v, want %v: %+v", outcomes, want, res.Scopes)
	}
	if got := res.BatchItemFailures; len(got) != 2 || got[0].ItemIdentifier != "m2" || got[1].ItemIdentifier != "m3" {
		t.Errorf("batch item failures %+v, want m2 and m3", got)
	}
	if sr := res.Scopes[0]; sr.Reason != org.ReasonAssumeRole || sr.ErrorCode != "AccessDenied" || !strings.Contains(sr.Error, org.RoleARN("aws", denied, roleName)) || sr.Summary != nil {
		t.Errorf("denied member: %+v", sr)
	}
	if sr := res.Scopes[2]; sr.ErrorCode != "Throttling" {
		t.Errorf("throttled member: %+v", sr)
	}
	if e.front.assumeRoleCalls(throttled) == 0 || e.front.assumeRoleCalls(healthy) == 0 {
		t.Error("roles were not assumed through STS")
	}
	if memberCalls.Count("KMS", "ListKeys") != 1 {
		t.Errorf("member calls: %+v", memberCalls.Snapshot())
	}

	s := res.Scopes[1].Summary
	if s == nil || s.Account != healthy || s.Lifecycle.New == 0 || s.Lifecycle.Imported != s.Lifecycle.New || len(s.FailedScopes) != 0 {
		t.Fatalf("healthy member's run: %+v", s)
	}
	// In the member's own Security Hub, under its account ID; none in the
	// central account's.
	found := findings(t, memberCfg)
	var ours int
	for _, f := range found {
		if aws.ToString(f.AwsAccountId) != healthy || !strings.Contains(aws.ToString(f.ProductArn), ":"+healthy+":product/"+healthy+"/default") {
			t.Errorf("finding %s: account %s, product %s", aws.ToString(f.Id), aws.ToString(f.AwsAccountId), aws.ToString(f.ProductArn))
		}
		if strings.Contains(aws.ToString(f.Id), keyID) && f.Compliance != nil && f.Compliance.Status == "FAILED" {
			ours++
		}
	}
	if ours != 1 {
		t.Errorf("the member's non-rotating key has %d FAILED findings in its Security Hub (%d findings)", ours, len(found))
	}
	if n := len(findings(t, e.admin)); n != 0 {
		t.Errorf("central Security Hub holds %d findings of a member run", n)
	}
	// The finding state is the central account's table, keyed by the member.
	q, err := dynamodb.NewFromConfig(e.admin).Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(seed.FindingStateTable), KeyConditionExpression: aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "scope"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: healthy + "#" + region}},
	})
	if err != nil || q.Count == 0 {
		t.Errorf("no finding state for %s#%s in the central table: %v", healthy, region, err)
	}

	// Every region of the member: one message per region enabled there,
	// in the member's groups, for the same run.
	res, err = w.Handle(ctx, sqsEvent(t, org.Message{Account: healthy, Region: org.AllRegions, Trigger: trigger.OnDemand, Run: "req-9"}))
	if err != nil || res.Scopes[0].Outcome != org.Expanded || res.Scopes[0].Queued == 0 {
		t.Fatalf("expansion: %+v %v", res, err)
	}
	queued := e.received(t)
	if len(queued) != res.Scopes[0].Queued {
		t.Errorf("expansion queued %d, received %d", res.Scopes[0].Queued, len(queued))
	}
	for _, m := range queued {
		msg, err := org.ParseMessage([]byte(aws.ToString(m.Body)))
		if err != nil || msg.Account != healthy || msg.Region == org.AllRegions || msg.Run != "req-9" ||
			m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)] != healthy+"/"+msg.Region {
			t.Errorf("expanded message %s: %v", aws.ToString(m.Body), err)
		}
		if strings.HasPrefix(msg.Region, "cn-") || strings.HasPrefix(msg.Region, "us-gov-") {
			t.Errorf("expanded to %s, a region of another partition", msg.Region)
		}
	}

	// A malformed message is refused and acknowledged, with no AWS call.
	before := memberCalls.Total() + e.centralCalls.Total()
	raw := json.RawMessage(`{"Records":[{"messageId":"bad","eventSource":"aws:sqs","body":"{\"account\":\"12345\",\"region\":\"us-east-1\",\"trigger\":\"schedule\"}"}]}`)
	res, err = w.Handle(ctx, raw)
	if err != nil || res.Scopes[0].Outcome != org.Refused || len(res.BatchItemFailures) != 0 || !strings.Contains(res.Scopes[0].Error, "12-digit") {
		t.Errorf("malformed message: %+v %v", res, err)
	}
	if after := memberCalls.Total() + e.centralCalls.Total(); after != before {
		t.Errorf("a refused message made %d calls", after-before)
	}
	// Its records carry no receipt handles: TestWorkerPostponesARetry
	// makes the worker's ChangeMessageVisibility.
	assertGrants(t, "WorkerFunction", e.centralCalls, []string{"sts:AssumeRole"}, append(auditorStateActions(t), "sqs:ChangeMessageVisibility"))
}

// TestWorkerRecheck: an event re-check queued for a member (the events
// function's path) re-reads the named key through the member's role.
func TestWorkerRecheck(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	memberCfg := e.memberConfig(t, healthy)
	key, err := kms.NewFromConfig(memberCfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("re-checked")})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := e.worker(t)
	arn := aws.ToString(key.KeyMetadata.Arn)
	body := `{"account":"` + healthy + `","region":"` + region + `","trigger":"event","checks":["kms.rotation"],"targets":[{"ref":{"kind":"kms-key","partition":"aws","account":"` + healthy + `","region":"` + region + `","id":"` + arn + `","arn":"` + arn + `"}}],"run":"events m1"}`
	res, err := w.Handle(ctx, json.RawMessage(body)) // invoked directly: one message body
	if err != nil {
		t.Fatal(err)
	}
	sr := res.Scopes[0]
	if sr.Outcome != org.Audited || sr.Summary == nil || len(sr.Summary.Resources) != 1 || sr.Summary.Resources[0].Outcome != runner.Rechecked {
		t.Fatalf("re-check: %+v", sr)
	}
	n := 0
	for _, f := range findings(t, memberCfg) {
		if aws.ToString(f.Resources[0].Id) == arn && aws.ToString(f.AwsAccountId) == healthy {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d findings of the re-checked key in the member's Security Hub", n)
	}
}

type shFinding = shtypes.AwsSecurityFinding

func findings(t *testing.T, cfg aws.Config) []shFinding {
	t.Helper()
	out, err := securityhub.NewFromConfig(cfg).GetFindings(context.Background(), &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Findings
}

// auditorStateActions are the finding state actions AuditorFunction's
// policy grants (proven against its calls in test/integration): the same
// publisher needs them in the worker, though one test run may not call
// every one.
func auditorStateActions(t *testing.T) []string {
	t.Helper()
	actions, err := iampolicy.Actions("../../template.yaml", "AuditorFunction")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range actions {
		if strings.HasPrefix(a, "dynamodb:") {
			out = append(out, a)
		}
	}
	return out
}

// assertGrants compares what a function's template policy grants with the
// calls it made with its own credentials (plus uncounted, made by the SDK's
// credential provider): nothing called may be missing, and nothing granted
// may be uncalled unless it is in mayBeUncalled.
func assertGrants(t *testing.T, function string, calls *awsconfig.CallCounter, uncounted, mayBeUncalled []string) {
	t.Helper()
	called := map[string]bool{}
	for _, c := range calls.Snapshot() {
		if !c.NeedsNoPermission() {
			for _, a := range c.IAMActions() {
				called[a] = true
			}
		}
	}
	for _, a := range uncounted {
		called[a] = true
	}
	actions, err := iampolicy.Actions("../../template.yaml", function)
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, a := range actions {
		granted[a] = true
	}
	var missing, extra []string
	for a := range called {
		if !granted[a] {
			missing = append(missing, a)
		}
	}
	for a := range granted {
		if !called[a] && !slices.Contains(mayBeUncalled, a) {
			extra = append(extra, a)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("template.yaml policy of %s differs from the calls its code made with its own credentials:\n  called but not granted: %v\n  granted but not called: %v", function, missing, extra)
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEventsForwardMemberResources: the events function, in organization
// mode, queues a member's event re-check in that scope's message group
// instead of reading the member with its own credentials; the worker then
// re-checks it through the member's role, into the member's Security Hub.
func TestEventsForwardMemberResources(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	memberCfg := e.memberConfig(t, healthy)
	key, err := kms.NewFromConfig(memberCfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("rotation just disabled")})
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../events/eventbridge/kms-disable-key-rotation.json")
	if err != nil {
		t.Fatal(err)
	}
	event := strings.ReplaceAll(string(sample), "123456789012", healthy)
	event = strings.ReplaceAll(event, "1234abcd-12ab-34cd-56ef-1234567890ab", aws.ToString(key.KeyMetadata.KeyId))
	// A key of the central account itself: queued as well, in its own
	// scope's group, never re-checked beside the worker's sweep of it.
	ownKey, err := kms.NewFromConfig(e.admin).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("the central account's")})
	if err != nil {
		t.Fatal(err)
	}
	ownEvent := strings.ReplaceAll(string(sample), "123456789012", motoserver.Account)
	ownEvent = strings.ReplaceAll(ownEvent, "1234abcd-12ab-34cd-56ef-1234567890ab", aws.ToString(ownKey.KeyMetadata.KeyId))
	batch, err := json.Marshal(map[string]any{"Records": []map[string]string{
		{"messageId": "e1", "eventSource": "aws:sqs", "body": event},
		{"messageId": "e2", "eventSource": "aws:sqs", "body": ownEvent},
	}})
	if err != nil {
		t.Fatal(err)
	}
	central := &runner.Runner{
		AWS: e.central, Counter: e.centralCalls, Regions: []string{region}, HomeRegion: region,
		Collectors: runner.Collectors(), Publisher: publish.Publisher{}, ToolVersion: "test",
		Getenv: func(string) string { return "" }, Now: time.Now,
	}
	h := eventhandler.Handler{Engine: central, Members: org.Forwarder{Runner: central, Queue: org.Queue{API: sqs.NewFromConfig(e.central), URL: e.queueURL}}}
	res, err := h.Handle(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Forwarded != 2 || res.Rechecked != 0 || len(res.BatchItemFailures) != 0 || len(res.Messages[0].Forwarded) != 1 || len(res.Messages[1].Forwarded) != 1 {
		t.Fatalf("events result: %+v", res)
	}
	if n := e.centralCalls.Count("KMS", "DescribeKey") + e.centralCalls.Count("SecurityHub", "BatchImportFindings"); n != 0 {
		t.Errorf("the events function read or imported a resource itself (%d calls)", n)
	}
	queued := e.received(t)
	groups := map[string]string{}
	for _, m := range queued {
		groups[m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]] = aws.ToString(m.Body)
	}
	if len(queued) != 2 || groups[healthy+"/"+region] == "" || !strings.Contains(groups[motoserver.Account+"/"+region], aws.ToString(ownKey.KeyMetadata.Arn)) {
		t.Fatalf("queued %+v", groups)
	}
	w, _ := e.worker(t)
	wres, err := w.Handle(ctx, json.RawMessage(groups[healthy+"/"+region]))
	if err != nil {
		t.Fatal(err)
	}
	sr := wres.Scopes[0]
	if sr.Outcome != org.Audited || sr.Trigger != trigger.Event || sr.Summary == nil || len(sr.Summary.Resources) == 0 || sr.Summary.Resources[0].Outcome != runner.Rechecked {
		t.Fatalf("worker re-check: %+v", sr)
	}
	n := 0
	for _, f := range findings(t, memberCfg) {
		if aws.ToString(f.Resources[0].Id) == aws.ToString(key.KeyMetadata.Arn) {
			n++
		}
	}
	if n == 0 {
		t.Error("no finding of the member's key in its Security Hub")
	}
}

// TestWorkerSecurityHubOffInMember: a member whose Security Hub is not
// enabled (AWS answers InvalidAccessException, HTTP 401; moto would accept
// the imports, so a front answers as AWS) is the member's permanent
// failure: reported with its reason, acknowledged (not retried), the other
// member of the batch audited as usual, and nothing archived in it: a
// finding of a resource deleted meanwhile stays ACTIVE until a run can
// import again, which then archives it.
func TestWorkerSecurityHubOffInMember(t *testing.T) {
	const hubOff = "555555555555"
	e := setup(t)
	ctx := context.Background()
	secretOf := map[string]string{}
	for _, account := range []string{hubOff, healthy} {
		out, err := secretsmanager.NewFromConfig(e.memberConfig(t, account)).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String("never-rotated-" + account), SecretString: aws.String("x"),
		})
		if err != nil {
			t.Fatal(err)
		}
		secretOf[account] = aws.ToString(out.ARN)
	}
	w, _ := e.worker(t)
	sweep := func(account, run string) org.Message {
		return org.Message{Account: account, Region: region, Trigger: trigger.Schedule, Checks: []string{"secretsmanager.rotation-enabled"}, Run: run}
	}
	// stateOf is the member's finding of its secret, as its Security Hub
	// holds it ("" when it holds none).
	stateOf := func(account string) string {
		t.Helper()
		for _, f := range findings(t, e.memberConfig(t, account)) {
			if len(f.Resources) > 0 && aws.ToString(f.Resources[0].Id) == secretOf[account] {
				return string(f.RecordState)
			}
		}
		return ""
	}
	res, err := w.Handle(ctx, sqsEvent(t, sweep(hubOff, "schedule 1"), sweep(healthy, "schedule 1")))
	if err != nil || res.Scopes[0].Outcome != org.Audited || res.Scopes[1].Outcome != org.Audited {
		t.Fatalf("first sweep, Security Hub on everywhere: %+v %v", res, err)
	}
	if s := stateOf(hubOff); s != "ACTIVE" {
		t.Fatalf("first sweep: the member's secret has a %q finding, want ACTIVE", s)
	}

	// The secret goes, and Security Hub is turned off in the member.
	if _, err := secretsmanager.NewFromConfig(e.memberConfig(t, hubOff)).DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId: aws.String(secretOf[hubOff]), ForceDeleteWithoutRecovery: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	e.front.setHubOff(hubOff, true)
	res, err = w.Handle(ctx, sqsEvent(t, sweep(hubOff, "schedule 2"), sweep(healthy, "schedule 2")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 0 {
		t.Errorf("batch item failures %+v: a member whose Security Hub is off is not retried", res.BatchItemFailures)
	}
	off := res.Scopes[0]
	if off.Outcome != org.MemberFailed || off.Reason != org.ReasonSecurityHubOff || off.ErrorCode != "InvalidAccessException" ||
		off.Account != hubOff || !strings.Contains(off.Error, region) {
		t.Errorf("member with Security Hub off: %+v", off)
	}
	if e.front.hubRefusals(hubOff) == 0 {
		t.Error("the worker never reached the member's Security Hub")
	}
	if s := res.Scopes[1]; s.Outcome != org.Audited || s.Summary == nil || s.Summary.Account != healthy || len(s.Summary.SecurityHubNotEnabled) != 0 {
		t.Errorf("the other member of the batch: %+v", s)
	}

	// Nothing was archived in the member while its Security Hub was off...
	e.front.setHubOff(hubOff, false)
	if s := stateOf(hubOff); s != "ACTIVE" {
		t.Errorf("after the run with Security Hub off, the deleted secret's finding is %q, want ACTIVE (untouched)", s)
	}
	// ...and the next run that can import archives what is gone.
	res, err = w.Handle(ctx, sqsEvent(t, sweep(hubOff, "schedule 3")))
	if err != nil || res.Scopes[0].Outcome != org.Audited {
		t.Fatalf("sweep with Security Hub back on: %+v %v", res, err)
	}
	if s := stateOf(hubOff); s != "ARCHIVED" {
		t.Errorf("with Security Hub back on, the deleted secret's finding is %q, want ARCHIVED", s)
	}
	if s := stateOf(healthy); s != "ACTIVE" {
		t.Errorf("the healthy member's secret: %q finding, want ACTIVE", s)
	}
}

// TestWorkerServerErrorIsRetried: a member whose EC2 endpoint answers HTTP
// 503 with no error code (the SDK calls it UnknownError) while the worker
// discovers its regions is retried like any 5xx, not reported as the
// member's permanent failure and acknowledged: the scope would otherwise
// wait for the next sweep.
func TestWorkerServerErrorIsRetried(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	w, _ := e.worker(t)
	// The member's role is assumed first: the front learns its keys.
	cfg, err := w.Member(ctx, healthy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		t.Fatal(err)
	}
	e.front.setDown(healthy, "ec2")
	for _, m := range []org.Message{
		{Account: healthy, Region: region, Trigger: trigger.Schedule, Checks: []string{"kms.rotation"}, Run: "schedule 1"},
		{Account: healthy, Region: org.AllRegions, Trigger: trigger.Schedule, Run: "schedule 1"},
	} {
		res, err := w.Handle(ctx, sqsEvent(t, m))
		if err != nil {
			t.Fatal(err)
		}
		sr := res.Scopes[0]
		if sr.Outcome != org.Retry || len(res.BatchItemFailures) != 1 {
			t.Errorf("%s: EC2 answering 503: outcome %s (%s %s: %s), batch item failures %v; want a retry", m.Region, sr.Outcome, sr.Reason, sr.ErrorCode, sr.Error, res.BatchItemFailures)
		}
	}
}

// TestWorkerPostponesARetry: a scope to retry (STS throttles its member)
// is received again after org.RetryDelay, not after the queue's whole
// visibility timeout: the worker sets the message's visibility
// (sqs:ChangeMessageVisibility) before handing it back.
func TestWorkerPostponesARetry(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	w, _ := e.worker(t)
	// The test queues and receives as the event source mapping would, with
	// other credentials than the worker's (whose calls the grants are
	// checked against).
	api := sqs.NewFromConfig(e.admin)
	w.Postpone = org.Postponer(sqs.NewFromConfig(e.central), e.queueURL)
	msg := org.Message{Account: throttled, Region: region, Trigger: trigger.Schedule, Checks: []string{"kms.rotation"}, Run: "schedule postponed"}
	if sent, failed := (org.Queue{API: api, URL: e.queueURL}).Send(ctx, []org.Message{msg}); sent != 1 || len(failed) != 0 {
		t.Fatalf("queued %d, failed %v", sent, failed)
	}
	got, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive: %v %v", got, err)
	}
	m := got.Messages[0]
	event, err := json.Marshal(map[string]any{"Records": []map[string]any{{
		"messageId": aws.ToString(m.MessageId), "receiptHandle": aws.ToString(m.ReceiptHandle), "body": aws.ToString(m.Body),
		"eventSource": "aws:sqs", "attributes": m.Attributes}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Handle(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	if sr := res.Scopes[0]; sr.Outcome != org.Retry || len(res.BatchItemFailures) != 1 || sr.RetryAfterSeconds != int(org.RetryDelay(1).Seconds()) {
		t.Fatalf("throttled scope: %+v, failures %v", sr, res.BatchItemFailures)
	}
	// The queue's visibility timeout here is 5 s: after it, the message
	// is still invisible, as the worker postponed it for org.RetryDelay(1).
	time.Sleep(6 * time.Second)
	again, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 1})
	if err != nil || len(again.Messages) != 0 {
		t.Errorf("the postponed message came back after the queue's visibility timeout: %v %v", again, err)
	}
	assertGrants(t, "WorkerFunction", e.centralCalls, []string{"sts:AssumeRole"}, append(auditorStateActions(t), "sqs:SendMessage"))
	if e.centralCalls.Count("SQS", "ChangeMessageVisibility") != 1 {
		t.Errorf("%d ChangeMessageVisibility calls, want 1", e.centralCalls.Count("SQS", "ChangeMessageVisibility"))
	}
}

// TestGlobalServicesPlannedInTheHomeRegion: when the configured regions
// leave the home region out (named elsewhere, or excluded from "all"),
// each account also gets a message for the home region naming the global
// checks alone, from the planner or from the worker's expansion of "all";
// a request naming its regions or no global check gets none.
func TestGlobalServicesPlannedInTheHomeRegion(t *testing.T) {
	e := setup(t)
	members := organization(t, e.admin, 2) // the second is suspended
	ctx := context.Background()
	planner := org.Planner{
		Organizations: organizations.NewFromConfig(e.central),
		Queue:         org.Queue{API: sqs.NewFromConfig(e.central), URL: e.queueURL},
		Regions:       []string{"eu-west-1"}, HomeRegion: "us-east-1",
	}
	global := org.GlobalChecks(nil)
	if len(global) == 0 || !slices.Contains(global, "cloudfront.viewer-tls") || slices.Contains(global, "kms.rotation") {
		t.Fatalf("global checks %v", global)
	}
	scopes := func() map[string][]string {
		out := map[string][]string{}
		for _, m := range e.received(t) {
			parsed, err := org.ParseMessage([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := out[parsed.GroupID()]; dup {
				t.Errorf("two messages for %s", parsed.GroupID())
			}
			out[parsed.GroupID()] = parsed.Checks
		}
		return out
	}
	for _, c := range []struct {
		payload string
		want    map[string][]string
	}{
		{`{"detail-type":"Scheduled Event","time":"2025-06-01T06:00:00Z"}`, map[string][]string{
			central + "/eu-west-1": nil, central + "/us-east-1": global, members[0] + "/eu-west-1": nil, members[0] + "/us-east-1": global}},
		{`{"regions":["eu-west-1"]}`, map[string][]string{central + "/eu-west-1": nil, members[0] + "/eu-west-1": nil}},
		{`{"checks":["kms.rotation","cloudfront.viewer-tls"]}`, map[string][]string{
			central + "/eu-west-1": {"kms.rotation", "cloudfront.viewer-tls"}, central + "/us-east-1": {"cloudfront.viewer-tls"},
			members[0] + "/eu-west-1": {"kms.rotation", "cloudfront.viewer-tls"}, members[0] + "/us-east-1": {"cloudfront.viewer-tls"}}},
		{`{"checks":["kms.rotation"]}`, map[string][]string{central + "/eu-west-1": {"kms.rotation"}, members[0] + "/eu-west-1": {"kms.rotation"}}},
		// Only global checks: the home region alone, whatever the regions.
		{`{"checks":["cloudfront.viewer-tls"]}`, map[string][]string{central + "/us-east-1": {"cloudfront.viewer-tls"}, members[0] + "/us-east-1": {"cloudfront.viewer-tls"}}},
		{`{"regions":["all"],"checks":["cloudfront.viewer-tls"]}`, map[string][]string{central + "/us-east-1": {"cloudfront.viewer-tls"}, members[0] + "/us-east-1": {"cloudfront.viewer-tls"}}},
	} {
		req, err := org.ParsePlanRequest([]byte(c.payload), "req "+c.payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := planner.Plan(ctx, req); err != nil {
			t.Fatal(err)
		}
		if got := scopes(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: queued %v, want %v", c.payload, got, c.want)
		}
	}

	// Only global checks in regions leaving the home region out: refused,
	// nothing queued.
	req, err := org.ParsePlanRequest([]byte(`{"regions":["eu-west-1"],"checks":["cloudfront.viewer-tls"]}`), "req-refused")
	if err != nil {
		t.Fatal(err)
	}
	listed := e.centralCalls.Count("Organizations", "ListAccounts")
	if plan, err := planner.Plan(ctx, req); err == nil || !strings.Contains(err.Error(), "home region (us-east-1)") {
		t.Errorf("global checks in eu-west-1 planned: %+v, %v", plan, err)
	}
	if n := e.centralCalls.Count("Organizations", "ListAccounts") - listed; n != 0 {
		t.Errorf("a refused request listed the organization (%d calls)", n)
	}
	if got := scopes(); len(got) != 0 {
		t.Errorf("queued %v for a refused request", got)
	}

	// "all", the home region excluded: the expansion adds it for the
	// global checks.
	w, _ := e.worker(t)
	w.Discover = org.DiscoverRegions("aws", []string{"us-east-1"})
	res, err := w.Handle(ctx, sqsEvent(t, org.Message{Account: healthy, Region: org.AllRegions, Trigger: trigger.Schedule, Run: "r"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Scopes[0].Outcome != org.Expanded {
		t.Fatalf("expansion: %+v", res.Scopes[0])
	}
	got := scopes()
	if !reflect.DeepEqual(got[healthy+"/us-east-1"], global) || len(got) != res.Scopes[0].Queued {
		t.Errorf("expansion queued %d: %v; want every enabled region but us-east-1, and us-east-1 for %v", res.Scopes[0].Queued, got, global)
	}
	for g, checks := range got {
		if g != healthy+"/us-east-1" && checks != nil {
			t.Errorf("%s queued for checks %v, want all", g, checks)
		}
	}
	// "all" for global checks alone: the home region alone, no discovery.
	res, err = w.Handle(ctx, sqsEvent(t, org.Message{Account: healthy, Region: org.AllRegions, Trigger: trigger.OnDemand, Checks: []string{"cloudfront.viewer-tls"}, Run: "r2"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := scopes(); res.Scopes[0].Outcome != org.Expanded || !reflect.DeepEqual(got, map[string][]string{healthy + "/us-east-1": {"cloudfront.viewer-tls"}}) {
		t.Errorf("expansion of global checks: %+v, queued %v", res.Scopes[0], got)
	}
}

// TestWorkerRegionNotEnabledInMember: a member that has not enabled a
// region (AWS lists only enabled regions; the front answers its
// ec2:DescribeRegions so) is reported for it once, with nothing read,
// imported or archived there, and the message is acknowledged (retrying
// cannot enable it); its "all" expansion queues only its enabled regions.
func TestWorkerRegionNotEnabledInMember(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.front.setRegions(healthy, [][2]string{
		{"us-east-1", "opt-in-not-required"}, {"eu-west-1", "opt-in-not-required"}, {"ap-east-1", "not-opted-in"},
	})
	if err := seed.EnableSecurityHub(ctx, e.memberConfig(t, healthy)); err != nil {
		t.Fatal(err)
	}
	w, memberCalls := e.worker(t)
	res, err := w.Handle(ctx, sqsEvent(t,
		org.Message{Account: healthy, Region: "ap-east-1", Trigger: trigger.Schedule, Run: "r"},
		org.Message{Account: healthy, Region: org.AllRegions, Trigger: trigger.Schedule, Run: "r"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 0 {
		t.Errorf("retried: %+v", res.BatchItemFailures)
	}
	s := res.Scopes[0]
	if s.Outcome != org.Audited || s.Summary == nil {
		t.Fatalf("scope in a region not enabled: %+v", s)
	}
	if fs := s.Summary.FailedScopes; len(fs) != 1 || fs[0].Region != "ap-east-1" || len(fs[0].Errors) != 1 || fs[0].Errors[0].Code != runner.RegionNotEnabled {
		t.Errorf("failed scopes %+v, want one: ap-east-1 %s", fs, runner.RegionNotEnabled)
	}
	if n := len(s.Summary.Notices); n != 1 || !strings.Contains(s.Summary.Notices[0], "ap-east-1") {
		t.Errorf("notices %v, want one naming ap-east-1", s.Summary.Notices)
	}
	if s.Summary.Lifecycle.Imported != 0 || s.Summary.Lifecycle.Archived != 0 {
		t.Errorf("lifecycle %+v: imported or archived in a region not enabled", s.Summary.Lifecycle)
	}
	if n := e.front.callsIn(healthy, "ap-east-1"); n != 0 || e.front.callsIn(healthy, region) == 0 {
		t.Errorf("%d member calls in ap-east-1, which the member has not enabled (%d in %s)", n, e.front.callsIn(healthy, region), region)
	}
	if x := res.Scopes[1]; x.Outcome != org.Expanded || x.Queued != 2 {
		t.Fatalf("expansion: %+v", x)
	}
	got := map[string]bool{}
	var expanded []org.Message
	for _, m := range e.received(t) {
		got[m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]] = true
		parsed, err := org.ParseMessage([]byte(aws.ToString(m.Body)))
		if err != nil || !parsed.Enabled {
			t.Fatalf("expanded message %s: %+v, %v; want it marked enabled", aws.ToString(m.Body), parsed, err)
		}
		expanded = append(expanded, parsed)
	}
	if want := map[string]bool{healthy + "/us-east-1": true, healthy + "/eu-west-1": true}; !equalSets(got, want) {
		t.Errorf("expansion queued %v, want %v", keys(got), keys(want))
	}
	// The expanded scopes are audited without listing the member's
	// regions again: one DescribeRegions for the named scope, one for the
	// expansion, none for the regions it found.
	res, err = w.Handle(ctx, sqsEvent(t, expanded...))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Scopes {
		// (moto, without the gap-filling proxy here, fails
		// GetEbsDefaultKmsKeyId: those failed scopes are not this test's.)
		if s.Outcome != org.Audited || s.Summary == nil || !slices.Equal(s.Summary.Regions, []string{s.Region}) {
			t.Errorf("expanded scope %s: %s %+v", s.Region, s.Outcome, s.Summary)
		}
	}
	if n := memberCalls.Count("EC2", "DescribeRegions"); n != 2 {
		t.Errorf("%d DescribeRegions calls, want 2 (the named scope's, the expansion's)", n)
	}
}
