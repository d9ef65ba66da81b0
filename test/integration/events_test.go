package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

// The event-driven half end to end: EventBridge events, alone or in SQS
// batches, through the events function's handler and the runner exactly as
// the Lambda builds them, against the demo account in moto behind the
// gap-filling proxy.

const account = "123456789012"

// apiCall builds an "AWS API Call via CloudTrail" event as EventBridge
// delivers it.
func apiCall(source, name string, request, response map[string]any) map[string]any {
	svc := strings.TrimPrefix(source, "aws.")
	return map[string]any{
		"version": "0", "id": fmt.Sprintf("ev-%s-%d", name, time.Now().UnixNano()), "detail-type": "AWS API Call via CloudTrail",
		"source": source, "account": account, "time": time.Now().UTC().Format(time.RFC3339), "region": region, "resources": []string{},
		"detail": map[string]any{
			"eventVersion": "1.08", "eventSource": svc + ".amazonaws.com", "eventName": name, "awsRegion": region,
			"eventType": "AwsApiCall", "readOnly": false, "recipientAccountId": account,
			"userIdentity":      map[string]any{"type": "IAMUser", "accountId": account, "arn": "arn:aws:iam::" + account + ":user/alice"},
			"requestParameters": request, "responseElements": response,
		},
	}
}

// sqsBatch wraps events as the SQS event source delivers them.
func sqsBatch(t testing.TB, events ...any) []byte {
	t.Helper()
	var records []map[string]any
	for i, ev := range events {
		body, ok := ev.(string)
		if !ok {
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			body = string(b)
		}
		records = append(records, map[string]any{
			"messageId": fmt.Sprintf("msg-%d", i), "receiptHandle": "rh", "body": body, "eventSource": "aws:sqs",
			"eventSourceARN": "arn:aws:sqs:" + region + ":" + account + ":recheck", "awsRegion": region,
			"attributes": map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	b, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handle runs the events handler once with a runner of its own, and
// returns the result and that runner's call counter.
func (a lifecycleAccount) handle(t testing.TB, raw []byte) (*eventhandler.Result, *awsconfig.CallCounter) {
	t.Helper()
	r, counter := newRunner(t, a.srv, a.endpoint)
	r.Publisher.RetryBackoff = time.Millisecond
	res, err := eventhandler.Handler{Engine: r}.Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return res, counter
}

// stored is the finding Security Hub holds for (check, resource).
func stored(t testing.TB, a lifecycleAccount, checkID, resourceARN string) types.AwsSecurityFinding {
	t.Helper()
	id := asff.FindingID(checkID, account, region, resourceARN)
	f, ok := hub(t, a.cfg)[id]
	if !ok {
		t.Fatalf("Security Hub holds no %s", id)
	}
	return f
}

// nonHubCalls counts the AWS calls a re-check made to read the account:
// besides Security Hub, STS (identity) and DynamoDB (the finding state:
// the publisher's side of Security Hub).
func nonHubCalls(c *awsconfig.CallCounter) int {
	n := 0
	for _, cc := range c.Snapshot() {
		if cc.Service != "SecurityHub" && cc.Service != "STS" && cc.Service != "DynamoDB" {
			n += cc.Count
		}
	}
	return n
}

func keyID(arn string) string { return seed.KeyID(arn) }

// TestEventDisableKeyRotation: a sweep finds the key PASSED; rotation is
// switched off; the DisableKeyRotation event makes it FAILED in Security
// Hub for at most 5 calls besides Security Hub, keeping first-seen times.
func TestEventDisableKeyRotation(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	key := a.demo["kms/rotating"]
	before := stored(t, a, "kms.rotation", key)
	if before.Compliance.Status != types.ComplianceStatusPassed {
		t.Fatalf("sweep: %s", before.Compliance.Status)
	}
	if _, err := kms.NewFromConfig(a.cfg).DisableKeyRotation(context.Background(), &kms.DisableKeyRotationInput{KeyId: aws.String(keyID(key))}); err != nil {
		t.Fatal(err)
	}
	res, counter := a.handle(t, sqsBatch(t, apiCall("aws.kms", "DisableKeyRotation", map[string]any{"keyId": keyID(key)}, nil)))
	if len(res.BatchItemFailures) != 0 || res.Rechecked != 1 {
		t.Fatalf("result: %+v", res)
	}
	after := stored(t, a, "kms.rotation", key)
	if after.Compliance.Status != types.ComplianceStatusFailed {
		t.Errorf("after the event: %s", after.Compliance.Status)
	}
	if aws.ToString(after.CreatedAt) != aws.ToString(before.CreatedAt) || aws.ToString(after.FirstObservedAt) != aws.ToString(before.FirstObservedAt) {
		t.Errorf("first-seen times changed: %v/%v -> %v/%v", *before.CreatedAt, *before.FirstObservedAt, *after.CreatedAt, *after.FirstObservedAt)
	}
	if n := nonHubCalls(counter); n > 5 || n == 0 {
		t.Errorf("%d calls besides Security Hub, want 1..5: %+v", n, counter.Snapshot())
	}
	if counter.Count("KMS", "ListKeys") != 0 {
		t.Error("a single-key re-check listed every key")
	}
	// Only the key's own findings were imported.
	for _, p := range res.Summary.Published {
		if p.Imported != 3 && p.Imported != 2 {
			t.Errorf("imported %d findings, want the key's own (2 or 3)", p.Imported)
		}
	}
}

// TestEventBurstCoalesced: 50 events about 3 keys cost 3 re-checks.
func TestEventBurstCoalesced(t *testing.T) {
	a := newLifecycleAccount(t)
	keys := []string{a.demo["kms/rotating"], a.demo["kms/app"], a.demo["kms/not-rotating"]}
	var events []any
	for i := range 50 {
		name := []string{"EnableKeyRotation", "DisableKeyRotation"}[i%2]
		events = append(events, apiCall("aws.kms", name, map[string]any{"keyId": keyID(keys[i%3])}, nil))
	}
	res, counter := a.handle(t, sqsBatch(t, events...))
	if res.Rechecked != 3 || len(res.BatchItemFailures) != 0 {
		t.Fatalf("rechecked %d, failures %v", res.Rechecked, res.BatchItemFailures)
	}
	if n := counter.Count("KMS", "DescribeKey"); n != 3 {
		t.Errorf("DescribeKey called %d times for 3 keys", n)
	}
	if n := counter.Count("SecurityHub", "BatchImportFindings"); n != 1 {
		t.Errorf("BatchImportFindings called %d times, want 1 for one region", n)
	}
}

// TestEventDeleteArchivesOnlyAfterNotFound: a deleted repository's
// findings stay while its re-read is denied (the event is acknowledged,
// not retried), and are archived once the read answers NotFound.
func TestEventDeleteArchivesOnlyAfterNotFound(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	repo := a.demo["ecr/cmk"]
	name := repo[strings.Index(repo, ":repository/")+len(":repository/"):]
	if _, err := ecr.NewFromConfig(a.cfg).DeleteRepository(context.Background(), &ecr.DeleteRepositoryInput{RepositoryName: aws.String(name), Force: true}); err != nil {
		t.Fatal(err)
	}
	event := apiCall("aws.ecr", "DeleteRepository", map[string]any{"repositoryName": name, "force": true},
		map[string]any{"repository": map[string]any{"repositoryArn": repo, "repositoryName": name, "registryId": account}})

	a.gaps.Deny("ecr", "DescribeRepositories")
	res, _ := a.handle(t, sqsBatch(t, event))
	if len(res.BatchItemFailures) != 0 {
		t.Errorf("AccessDenied is not transient, yet the message is retried: %v", res.BatchItemFailures)
	}
	if got := res.Summary.Resources[0]; got.Outcome != runner.Failed || got.Transient {
		t.Errorf("denied re-read: %+v", got)
	}
	if f := stored(t, a, "ecr.repository-cmk", repo); f.RecordState != types.RecordStateActive {
		t.Fatalf("archived on a denied read: %s", f.RecordState)
	}

	a.gaps.Allow("ecr", "DescribeRepositories")
	res, _ = a.handle(t, sqsBatch(t, event))
	if got := res.Summary.Resources[0]; got.Outcome != runner.Gone {
		t.Fatalf("after NotFound: %+v", got)
	}
	if f := stored(t, a, "ecr.repository-cmk", repo); f.RecordState != types.RecordStateArchived {
		t.Errorf("not archived after NotFound: %s", f.RecordState)
	}
	if res.Summary.Lifecycle.Archived != 1 {
		t.Errorf("archived %d findings, want exactly the repository's 1", res.Summary.Lifecycle.Archived)
	}
}

// TestEventTransientErrorRetried: a throttled re-read reports exactly the
// messages that asked for that resource as batch item failures, and
// archives nothing.
func TestEventTransientErrorRetried(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	// Only the key's own read needs GetKeyRotationStatus; the repository's
	// key is described, not throttled.
	a.gaps.Throttle("kms", "GetKeyRotationStatus")
	defer a.gaps.Unthrottle("kms", "GetKeyRotationStatus")
	key := a.demo["kms/rotating"]
	repo := a.demo["ecr/cmk"]
	res, _ := a.handle(t, sqsBatch(t,
		apiCall("aws.kms", "DisableKeyRotation", map[string]any{"keyId": keyID(key)}, nil),
		apiCall("aws.ecr", "CreateRepository", map[string]any{"repositoryName": "x"}, map[string]any{"repository": map[string]any{"repositoryArn": repo}}),
	))
	if len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != "msg-0" {
		t.Fatalf("batch item failures: %+v (messages %+v)", res.BatchItemFailures, res.Messages)
	}
	if res.Summary.Lifecycle.Archived != 0 {
		t.Errorf("archived %d on a throttled read", res.Summary.Lifecycle.Archived)
	}
	if f := stored(t, a, "kms.rotation", key); f.RecordState != types.RecordStateActive || f.Compliance.Status != types.ComplianceStatusPassed {
		t.Errorf("throttled re-read changed the finding: %s %s", f.RecordState, f.Compliance.Status)
	}
}

// TestEventMalformedAndUnknownAcknowledged: bodies that are not JSON, an
// event of a service this tool does not audit, and a failed call are
// acknowledged with a reason, without a single AWS call.
func TestEventMalformedAndUnknownAcknowledged(t *testing.T) {
	a := newLifecycleAccount(t)
	failed := apiCall("aws.kms", "DisableKey", map[string]any{"keyId": keyID(a.demo["kms/app"])}, nil)
	failed["detail"].(map[string]any)["errorCode"] = "AccessDenied"
	res, counter := a.handle(t, sqsBatch(t,
		"this is not json",
		`{"detail-type":"Object Created","source":"aws.s3","detail":{}}`,
		apiCall("aws.s3", "PutBucketEncryption", map[string]any{"bucketName": "b"}, nil),
		failed,
		`{"Records":"nested nonsense"}`,
	))
	if len(res.BatchItemFailures) != 0 || res.Rechecked != 0 {
		t.Fatalf("result: %+v", res)
	}
	for _, m := range res.Messages {
		if len(m.Skipped) == 0 {
			t.Errorf("message %s acknowledged without a reason", m.ID)
		}
	}
	if n := counter.Total(); n != 0 {
		t.Errorf("%d AWS calls for events that name nothing: %+v", n, counter.Snapshot())
	}
	if _, err := (eventhandler.Handler{}).Handle(context.Background(), []byte(`{"hello":"world"}`)); err == nil {
		t.Error("an input that is neither SQS nor EventBridge was accepted")
	}
}

// TestEventKeyDisabledRejudgesDependents: DisableKey re-judges the key's
// kms.key-in-use-unhealthy and what it protects, found from the key's own
// finding with one GetFindings, without a sweep.
func TestEventKeyDisabledRejudgesDependents(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	key := a.demo["kms/app"]
	if f := stored(t, a, "kms.key-in-use-unhealthy", key); f.Compliance.Status != types.ComplianceStatusPassed {
		t.Fatalf("sweep: %s", f.Compliance.Status)
	}
	if _, err := kms.NewFromConfig(a.cfg).DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(keyID(key))}); err != nil {
		t.Fatal(err)
	}
	res, _ := a.handle(t, sqsBatch(t, apiCall("aws.kms", "DisableKey", map[string]any{"keyId": keyID(key)}, nil)))
	if len(res.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", res.Summary.Resources)
	}
	f := stored(t, a, "kms.key-in-use-unhealthy", key)
	if f.Compliance.Status != types.ComplianceStatusFailed {
		t.Errorf("key-in-use after DisableKey: %s", f.Compliance.Status)
	}
	deps := 0
	for _, r := range res.Summary.Resources {
		if r.Via != "" && r.Outcome == runner.Rechecked {
			deps++
		}
	}
	if deps < 3 {
		t.Errorf("re-checked %d dependents of the key, want its RDS, ECR, EBS, secret and trail users: %+v", deps, res.Summary.Resources)
	}
	if len(f.Resources) < 4 {
		t.Errorf("the FAILED finding names %d resources, want the key and its dependents", len(f.Resources))
	}
}

// TestSweepRecheckInterleaving: a sweep that read the key before a
// re-check did must not overwrite the re-check's FAILED with its PASSED.
func TestSweepRecheckInterleaving(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	key := a.demo["kms/rotating"]
	c := kms.NewFromConfig(a.cfg)
	if _, err := c.DisableKeyRotation(context.Background(), &kms.DisableKeyRotationInput{KeyId: aws.String(keyID(key))}); err != nil {
		t.Fatal(err)
	}
	sweepStarted := time.Now() // a sweep starts reading now...
	time.Sleep(5 * time.Millisecond)
	a.handle(t, sqsBatch(t, apiCall("aws.kms", "DisableKeyRotation", map[string]any{"keyId": keyID(key)}, nil)))
	if f := stored(t, a, "kms.rotation", key); f.Compliance.Status != types.ComplianceStatusFailed {
		t.Fatalf("re-check: %s", f.Compliance.Status)
	}
	// ...and had read the key while rotation was still on: simulated by
	// turning it back on for its read, with its observation time before
	// the re-check's.
	if _, err := c.EnableKeyRotation(context.Background(), &kms.EnableKeyRotationInput{KeyId: aws.String(keyID(key))}); err != nil {
		t.Fatal(err)
	}
	r, _ := newRunner(t, a.srv, a.endpoint)
	r.Now = func() time.Time { return sweepStarted }
	s, err := r.Handle(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if f := stored(t, a, "kms.rotation", key); f.Compliance.Status != types.ComplianceStatusFailed {
		t.Errorf("an earlier observation overwrote a later one: %s", f.Compliance.Status)
	}
	if s.Published[0].Superseded == 0 {
		t.Errorf("sweep report shows nothing superseded: %+v", s.Published[0])
	}
	// A later sweep (reading after the re-check) does win.
	r.Now = time.Now
	if _, err := r.Handle(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if f := stored(t, a, "kms.rotation", key); f.Compliance.Status != types.ComplianceStatusPassed {
		t.Errorf("a later sweep did not win: %s", f.Compliance.Status)
	}
}

// TestCustomActionTwoFindings: the "Re-check" action re-checks the
// resources of this tool's finding and of Security Hub's own KMS.4 control
// finding, and skips a resource type no check covers.
func TestCustomActionTwoFindings(t *testing.T) {
	a := newLifecycleAccount(t)
	own, other := a.demo["kms/not-rotating"], a.demo["kms/rotating"]
	finding := func(id, product, generator, typ, resourceID string) map[string]any {
		return map[string]any{"Id": id, "ProductArn": product, "GeneratorId": generator, "AwsAccountId": account, "Region": region,
			"Resources": []map[string]any{{"Type": typ, "Id": resourceID, "Region": region, "Partition": "aws"}}}
	}
	ev := map[string]any{
		"version": "0", "id": "ca-1", "detail-type": "Security Hub Findings - Custom Action", "source": "aws.securityhub",
		"account": account, "region": region, "resources": []string{"arn:aws:securityhub:us-east-1:" + account + ":action/custom/PostureRecheck"},
		"detail": map[string]any{"actionName": "Re-check", "actionDescription": "Re-check the selected resources", "findings": []any{
			finding(asff.FindingID("kms.rotation", account, region, own), asff.ProductARN("aws", region, account), "kms.rotation", "AwsKmsKey", own),
			finding("arn:aws:securityhub:us-east-1:"+account+":security-control/KMS.4/finding/1", "arn:aws:securityhub:us-east-1::product/aws/securityhub", "security-control/KMS.4", "AwsKmsKey", other),
			finding("s3-finding", "arn:aws:securityhub:us-east-1::product/aws/securityhub", "security-control/S3.4", "AwsS3Bucket", "arn:aws:s3:::bucket"),
		}},
	}
	raw, _ := json.Marshal(ev)
	res, _ := a.handle(t, raw) // delivered directly, as a rule targeting the function would
	if res.Rechecked != 2 {
		t.Fatalf("re-checked %d resources, want 2: %+v", res.Rechecked, res.Messages)
	}
	if len(res.Messages[0].Skipped) != 1 || !strings.Contains(res.Messages[0].Skipped[0], "s3") {
		t.Errorf("the S3 finding was not skipped with a reason: %v", res.Messages[0].Skipped)
	}
	if f := stored(t, a, "kms.rotation", own); f.Compliance.Status != types.ComplianceStatusFailed {
		t.Errorf("own finding: %s", f.Compliance.Status)
	}
	if f := stored(t, a, "kms.rotation", other); f.Compliance.Status != types.ComplianceStatusPassed {
		t.Errorf("KMS.4's key: %s", f.Compliance.Status)
	}
}

// TestOnDemandResources: the auditor's payload `resources` re-checks only
// the named resources; bad ARNs are refused before any call.
func TestOnDemandResources(t *testing.T) {
	a := newLifecycleAccount(t)
	key, repo := a.demo["kms/not-rotating"], a.demo["ecr/cmk"]
	r, counter := newRunner(t, a.srv, a.endpoint)
	s, err := r.Handle(context.Background(), []byte(fmt.Sprintf(`{"resources":[%q,%q]}`, key, repo)))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Resources) != 2 || s.Resources[0].Outcome != runner.Rechecked || s.Resources[1].Outcome != runner.Rechecked {
		t.Fatalf("resources: %+v", s.Resources)
	}
	for _, f := range s.Findings {
		if f.ResourceARN != key && f.ResourceARN != repo {
			t.Errorf("finding about a resource not asked for: %s %s", f.CheckID, f.ResourceARN)
		}
	}
	if counter.Count("KMS", "ListKeys") != 0 || counter.Count("ECR", "DescribeRepositories") != 1 {
		t.Errorf("calls: %+v", counter.Snapshot())
	}

	r2, counter2 := newRunner(t, a.srv, a.endpoint)
	for _, bad := range []string{
		`{"resources":["arn:aws:s3:::bucket"]}`,
		`{"resources":["not-an-arn"]}`,
		`{"resources":["arn:aws:kms:us-east-1:123456789012:alias/demo/app"]}`,
		`{"resources":["arn:aws:kms:us-east-1:1234567890:key/abc"]}`,
		`{"resources":[]}`,
		`{"resources":"arn:aws:kms:us-east-1:123456789012:key/abc"}`,
		`{"resources":["arn:aws:kms:us-east-1:123456789012:key/abc"],"regions":["us-east-1"]}`,
	} {
		if _, err := r2.Handle(context.Background(), []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if n := counter2.Total(); n != 0 {
		t.Errorf("%d AWS calls for refused payloads", n)
	}
}

// TestSweepDoesNotArchiveWhatARecheckSawLater: a repository created while
// a sweep was collecting is re-checked from its event; the sweep, whose
// listing predates it, must not archive the re-check's finding.
func TestSweepDoesNotArchiveWhatARecheckSawLater(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	sweepStarted := time.Now() // the sweep lists ECR before the repository exists...
	time.Sleep(5 * time.Millisecond)
	c := ecr.NewFromConfig(a.cfg)
	out, err := c.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String("late/arrival")})
	if err != nil {
		t.Fatal(err)
	}
	repo := aws.ToString(out.Repository.RepositoryArn)
	a.handle(t, sqsBatch(t, apiCall("aws.ecr", "CreateRepository", map[string]any{"repositoryName": "late/arrival"},
		map[string]any{"repository": map[string]any{"repositoryArn": repo}})))
	if f := stored(t, a, "ecr.repository-cmk", repo); f.RecordState != types.RecordStateActive {
		t.Fatalf("re-check: %s", f.RecordState)
	}
	// ...which the sweep's own listing did not show: simulated by deleting
	// it before the sweep runs with its earlier start.
	if _, err := c.DeleteRepository(context.Background(), &ecr.DeleteRepositoryInput{RepositoryName: aws.String("late/arrival"), Force: true}); err != nil {
		t.Fatal(err)
	}
	r, _ := newRunner(t, a.srv, a.endpoint)
	r.Now = func() time.Time { return sweepStarted }
	if _, err := r.Handle(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if f := stored(t, a, "ecr.repository-cmk", repo); f.RecordState != types.RecordStateActive {
		t.Errorf("a sweep archived a finding observed after it began: %s", f.RecordState)
	}
	// The next sweep, which begins after the re-check, archives it.
	r.Now = time.Now
	if _, err := r.Handle(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if f := stored(t, a, "ecr.repository-cmk", repo); f.RecordState != types.RecordStateArchived {
		t.Errorf("a later sweep did not archive the gone repository: %s", f.RecordState)
	}
}

// TestKeyRecheckWithoutDependentsKeepsKeyInUse: a re-check that does not
// look up what a key protects (a rotation event, an on-demand run whose
// lookup is refused) must not archive the key's kms.key-in-use-unhealthy
// finding, least of all a FAILED one.
func TestKeyRecheckWithoutDependentsKeepsKeyInUse(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	retired := a.demo["kms/retired"] // pending deletion, used by a trail: FAILED
	if f := stored(t, a, "kms.key-in-use-unhealthy", retired); f.Compliance.Status != types.ComplianceStatusFailed {
		t.Fatalf("sweep: %s", f.Compliance.Status)
	}
	app := a.demo["kms/app"]
	a.handle(t, sqsBatch(t,
		apiCall("aws.kms", "EnableKeyRotation", map[string]any{"keyId": keyID(retired)}, nil),
		apiCall("aws.kms", "DisableKeyRotation", map[string]any{"keyId": keyID(app)}, nil)))
	for _, k := range []string{retired, app} {
		if f := stored(t, a, "kms.key-in-use-unhealthy", k); f.RecordState != types.RecordStateActive {
			t.Errorf("a rotation event archived the key-in-use finding of %s", k)
		}
	}
	// On demand, the lookup runs; when Security Hub refuses it, the key's
	// other checks are still re-judged and key-in-use is left alone.
	a.gaps.Deny("securityhub", "POST /findings")
	r, _ := newRunner(t, a.srv, a.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"resources":["`+retired+`"],"dryRun":true}`))
	a.gaps.Allow("securityhub", "POST /findings")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.Findings {
		if f.CheckID == "kms.key-in-use-unhealthy" {
			t.Errorf("key-in-use judged without its dependents: %+v", f)
		}
	}
	s, err = r.Handle(context.Background(), []byte(`{"resources":["`+retired+`"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if f := stored(t, a, "kms.key-in-use-unhealthy", retired); f.RecordState != types.RecordStateActive || f.Compliance.Status != types.ComplianceStatusFailed {
		t.Errorf("on-demand re-check of the key: %s %s (%+v)", f.RecordState, f.Compliance.Status, s.Resources)
	}
}

// TestDependentReadFailureKeepsKeyVerdict: when a dependent of a disabled
// key cannot be read, the key's finding is not archived nor shrunk, and a
// throttled dependent retries both the key's message and its own.
func TestDependentReadFailureKeepsKeyVerdict(t *testing.T) {
	a := newLifecycleAccount(t)
	a.run(t, `{}`)
	key, repo := a.demo["kms/app"], a.demo["ecr/cmk"]
	before := stored(t, a, "kms.key-in-use-unhealthy", key)
	if _, err := kms.NewFromConfig(a.cfg).DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(keyID(key))}); err != nil {
		t.Fatal(err)
	}
	a.gaps.Throttle("ecr", "DescribeRepositories")
	res, _ := a.handle(t, sqsBatch(t,
		apiCall("aws.kms", "DisableKey", map[string]any{"keyId": keyID(key)}, nil),
		apiCall("aws.ecr", "CreateRepository", map[string]any{"repositoryName": "demo/cmk"}, map[string]any{"repository": map[string]any{"repositoryArn": repo}})))
	a.gaps.Unthrottle("ecr", "DescribeRepositories")
	if len(res.BatchItemFailures) != 2 {
		t.Errorf("a throttled dependent retried %v, want both messages", res.BatchItemFailures)
	}
	after := stored(t, a, "kms.key-in-use-unhealthy", key)
	if after.RecordState != types.RecordStateActive || len(after.Resources) != len(before.Resources) {
		t.Errorf("key-in-use after a failed dependent read: %s with %d resources (was %d)", after.RecordState, len(after.Resources), len(before.Resources))
	}
	// The retry, with the repository readable, judges the key FAILED with
	// every dependent.
	res, _ = a.handle(t, sqsBatch(t, apiCall("aws.kms", "DisableKey", map[string]any{"keyId": keyID(key)}, nil)))
	after = stored(t, a, "kms.key-in-use-unhealthy", key)
	if len(res.BatchItemFailures) != 0 || after.Compliance.Status != types.ComplianceStatusFailed || len(after.Resources) != len(before.Resources) {
		t.Errorf("retry: failures %v, %s with %d resources (was %d)", res.BatchItemFailures, after.Compliance.Status, len(after.Resources), len(before.Resources))
	}
}
