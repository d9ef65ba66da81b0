// Package integration runs whole audits against moto: the demo account end
// to end, the least-privilege policy, and bad input.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/iampolicy"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "us-east-1"

// newRunner builds a runner exactly as FromEnvironment does, with the
// config pointed at endpoint (moto, or the gap-filling proxy before it).
func newRunner(t testing.TB, srv *motoserver.Server, endpoint string) (*runner.Runner, *awsconfig.CallCounter) {
	t.Helper()
	counter := awsconfig.NewCallCounter()
	cfg, err := srv.ConfigAt(context.Background(), endpoint, region, counter)
	if err != nil {
		t.Fatal(err)
	}
	return &runner.Runner{
		AWS: cfg, Counter: counter, Regions: []string{region}, HomeRegion: region,
		Collectors: runner.Collectors(), Publisher: publish.Publisher{State: stateOf(t, srv, endpoint)}, ToolVersion: "test",
		Getenv: func(string) string { return "" }, Now: time.Now,
	}, counter
}

// stateOf is the finding state table of the emulated account, as
// FINDING_STATE_TABLE would name it, when the account has one (seedDemo
// creates it); nil otherwise, and the publisher reads Security Hub back.
func stateOf(t testing.TB, srv *motoserver.Server, endpoint string) publish.StateStore {
	t.Helper()
	cfg, err := srv.ConfigAt(context.Background(), endpoint, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(seed.FindingStateTable)}); err != nil {
		return nil
	}
	return &findingstate.Store{Table: seed.FindingStateTable, Region: region, Boilerplate: runner.Boilerplate}
}

// demoAccount is a seeded demo account behind the gap-filling proxy.
type demoAccount struct {
	srv      *motoserver.Server
	endpoint string
	demo     seed.Demo
	gaps     *gapfill.Proxy
}

func seedDemo(t testing.TB) demoAccount {
	t.Helper()
	srv := motoserver.Fresh(t)
	gaps, err := gapfill.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gaps.Close)
	cfg, err := srv.ConfigAt(context.Background(), gaps.URL, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.EnableSecurityHub(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := seed.CreateFindingStateTable(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	demo, err := seed.Account(context.Background(), cfg, gaps)
	if err != nil {
		t.Fatal(err)
	}
	return demoAccount{srv: srv, endpoint: gaps.URL, demo: demo, gaps: gaps}
}

// TestDemoAccount is what `make demo` shows, asserted.
func TestDemoAccount(t *testing.T) {
	acct := seedDemo(t)
	demo := acct.demo
	r, _ := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]check.Status{}
	for _, f := range s.Findings {
		status[f.CheckID+" "+f.ResourceARN] = f.Status
	}
	want := map[string]check.Status{
		"kms.rotation " + demo["kms/rotating"]:         check.Passed,
		"kms.rotation " + demo["kms/not-rotating"]:     check.Failed,
		"kms.pending-deletion " + demo["kms/retired"]:  check.Failed,
		"kms.pending-deletion " + demo["kms/rotating"]: check.Passed,
	}
	for k, w := range want {
		if status[k] != w {
			t.Errorf("%s: got %q, want %s", k, status[k], w)
		}
	}
	if st, ok := status["kms.rotation "+demo["kms/signing"]]; ok {
		t.Errorf("asymmetric key judged by kms.rotation: %s", st)
	}
	if len(s.FailedScopes) != 0 {
		t.Errorf("failed scopes on a clean account: %+v", s.FailedScopes)
	}
	if len(s.Published) != 1 || s.Published[0].Imported != len(s.Findings) || len(s.Published[0].Failed) != 0 {
		t.Errorf("published: %+v (findings %d)", s.Published, len(s.Findings))
	}
}

// TestTemplateGrantsExactlyTheCallsMade runs a full scan of the demo account
// and an on-demand run naming single resources (one per kind, whose reads
// differ from a scan's), and compares the IAM actions they needed with
// those template.yaml grants AuditorFunction.
func TestTemplateGrantsExactlyTheCallsMade(t *testing.T) {
	acct := seedDemo(t)
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	if _, err := r.Handle(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	d := acct.demo
	payload := `{"resources":["` + strings.Join([]string{d["kms/app"], d["cloudfront/strict"], d["ebs/cmk"], d["ecr/cmk"], d["secrets/rotating"], d["rds/cmk-db"], d["cloudtrail/main"]}, `","`) + `"]}`
	s, err := r.Handle(context.Background(), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, res := range s.Resources {
		if res.Via == "" { // the key's dependents are re-checked too
			named++
			if res.Outcome != runner.Rechecked {
				t.Errorf("targeted run: %+v", res)
			}
		}
	}
	if named != 7 {
		t.Fatalf("targeted run re-checked %d named resources, want 7", named)
	}
	// A stale scope with a record Security Hub no longer holds is
	// reconciled: the record is deleted.
	healStaleState(t, acct, r)
	assertGrantsExactly(t, "AuditorFunction", counter.Snapshot())
	// The organization's worker runs the same code against a member through
	// deploy/member-role.yaml; the finding state table is the central
	// account's, read with the worker's own credentials, never the member's.
	assertGrantsExactlyIn(t, "../../deploy/member-role.yaml", "MemberRole", counter.Snapshot(), "dynamodb:")
}

// healStaleState plants a record of a finding Security Hub does not hold,
// marks kms.rotation stale, and checks a kms.rotation run reconciles the
// table from Security Hub: the planted record is gone, nothing of it was
// imported or archived.
func healStaleState(t *testing.T, acct demoAccount, r *runner.Runner) {
	t.Helper()
	cfg, err := acct.srv.ConfigAt(context.Background(), acct.endpoint, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &findingstate.Store{Table: seed.FindingStateTable, Boilerplate: runner.Boilerplate}
	ghostARN := "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
	ghost := shtypes.AwsSecurityFinding{
		Id: aws.String(asff.FindingID("kms.rotation", "123456789012", region, ghostARN)), GeneratorId: aws.String("kms.rotation"),
		ProductArn: aws.String(asff.ProductARN("aws", region, "123456789012")), AwsAccountId: aws.String("123456789012"),
		Resources: []shtypes.Resource{{Id: aws.String(ghostARN), Type: aws.String("AwsKmsKey")}}, RecordState: shtypes.RecordStateActive,
		Compliance: &shtypes.Compliance{Status: shtypes.ComplianceStatusFailed},
	}
	ctx := context.Background()
	if err := store.Save(ctx, cfg, "123456789012", region, []shtypes.AwsSecurityFinding{ghost}); err != nil {
		t.Fatal(err)
	}
	if err := store.Invalidate(ctx, cfg, "123456789012", region, []string{"kms.rotation"}); err != nil {
		t.Fatal(err)
	}
	s, err := r.Handle(ctx, []byte(`{"checks":["kms.rotation"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Published[0]; !strings.Contains(p.StateSource, "reconciling") || p.Archived != 0 || p.StateError != "" {
		t.Errorf("stale scope: %+v", p)
	}
	if got, err := store.Get(ctx, cfg, "123456789012", region, []string{aws.ToString(ghost.Id)}); err != nil || len(got) != 0 {
		t.Errorf("the record Security Hub does not hold is still there: %v %v", got, err)
	}
	if fresh, err := store.Scope(ctx, cfg, "123456789012", region, []string{"kms.rotation"}); err != nil || fresh != findingstate.Fresh {
		t.Errorf("after reconciling: %s %v", fresh, err)
	}
}

// assertGrantsExactly compares the calls made with what the template
// grants the function.
func assertGrantsExactly(t *testing.T, function string, calls []awsconfig.CallCount) {
	t.Helper()
	assertGrantsExactlyIn(t, "../../template.yaml", function, calls)
}

// assertGrantsExactlyIn compares the calls made, but those whose IAM action
// starts with one of leftOut (made with another principal's credentials),
// with what the function or role of template grants.
func assertGrantsExactlyIn(t *testing.T, template, function string, calls []awsconfig.CallCount, leftOut ...string) {
	t.Helper()
	called := map[string]bool{}
	for _, c := range calls {
		for _, a := range c.IAMActions() {
			if !c.NeedsNoPermission() && !hasAnyPrefix(a, leftOut) {
				called[a] = true
			}
		}
	}
	actions, err := iampolicy.Actions(template, function)
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, a := range actions {
		granted[a] = true
	}
	if missing, extra := diff(called, granted), diff(granted, called); len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s policy of %s differs from the calls its code made:\n  called but not granted: %v\n  granted but not called: %v", template, function, missing, extra)
	}
	for _, forbidden := range []string{"secretsmanager:GetSecretValue", "kms:Decrypt", "kms:GenerateDataKey"} {
		if called[forbidden] || granted[forbidden] {
			t.Errorf("%s must never be called or granted", forbidden)
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func diff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestBadInputChangesNothing: a refused request makes no AWS call at all.
func TestBadInputChangesNothing(t *testing.T) {
	srv := motoserver.Shared(t)
	r, counter := newRunner(t, srv, srv.URL)
	for _, in := range []string{`{"checks":["kms.nope"]}`, `{"regions":["mars-1"]}`, `{"dryrun":true}`, `{"dryRun":true,"thresholds":{"kmsMaxRotationPeriodDays":5}}`, `{"thresholds":{"kmsMaxRotationPeriodDays":400}}`, `{"regions":"us-east-1"}`} {
		if _, err := r.Handle(context.Background(), []byte(in)); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
	if n := counter.Total(); n != 0 {
		t.Errorf("refused requests made %d AWS calls: %+v", n, counter.Snapshot())
	}
}

// TestDryRunPublishesNothing and reports the findings it would publish.
func TestDryRunPublishesNothing(t *testing.T) {
	acct := seedDemo(t)
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"dryRun":true,"checks":["kms.rotation"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Findings) == 0 || len(s.Published) != 0 || counter.Count("SecurityHub", "BatchImportFindings") != 0 {
		t.Errorf("dry run: %d findings, published %+v", len(s.Findings), s.Published)
	}
	for _, f := range s.Findings {
		if f.CheckID != "kms.rotation" {
			t.Errorf("check %s ran in a kms.rotation-only run", f.CheckID)
		}
	}
}

// TestBinaryOutsideLambda runs functions/auditor as a shell user would: one
// event on stdin, the summary on stdout, non-zero exit on a refused event.
func TestBinaryOutsideLambda(t *testing.T) {
	acct := seedDemo(t)
	bin := filepath.Join(t.TempDir(), "auditor")
	if out, err := exec.Command("go", "build", "-o", bin, "../../functions/auditor").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	logLevel := "LOG_LEVEL="
	run := func(event string) (string, string, error) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+acct.endpoint, "AWS_REGION="+region, "AUDIT_REGIONS="+region,
			"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_LAMBDA_RUNTIME_API=", logLevel)
		cmd.Stdin = strings.NewReader(event)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	out, stderr, err := run(`{"checks":["kms.pending-deletion"]}`)
	if err != nil || !strings.Contains(out, `"checkId": "kms.pending-deletion"`) || !strings.Contains(out, `"status": "FAILED"`) {
		t.Fatalf("good event: err %v\n%s", err, out)
	}
	// The log goes to stderr (JSON lines), so stdout is the reply alone.
	var reply runner.Summary
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		t.Errorf("stdout is not the summary alone: %v", err)
	}
	if !strings.Contains(stderr, `"msg":"run finished"`) || !strings.Contains(stderr, `"trigger":"on-demand"`) {
		t.Errorf("no run line on stderr: %q", stderr)
	}
	out, stderr, err = run(`{"checks":["kms.rotate"]}`)
	if err == nil || out != "" || !strings.Contains(stderr, `unknown check ID "kms.rotate"`) {
		t.Fatalf("bad event: err %v stdout %q stderr %q", err, out, stderr)
	}
	// A LOG_LEVEL it does not know stops the binary before any AWS call.
	logLevel = "LOG_LEVEL=verbose"
	out, stderr, err = run(`{"checks":["kms.pending-deletion"]}`)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || out != "" || !strings.Contains(stderr, `LOG_LEVEL: "verbose" is not one of debug, info, warn, error`) {
		t.Fatalf("bad LOG_LEVEL: err %v stdout %q stderr %q", err, out, stderr)
	}
}
