package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/report"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "us-east-1"

// build builds this command as a shell user's `go run` would.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "auditor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// run runs the binary outside Lambda against endpoint with stdin and args.
func run(t *testing.T, bin, endpoint string, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+endpoint, "AWS_REGION="+region, "AUDIT_REGIONS="+region,
		"HOME_REGION="+region, "FINDING_STATE_TABLE="+seed.FindingStateTable,
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_LAMBDA_RUNTIME_API=")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestBadFlagsExit2WithoutAWSCalls: a bad -format (or any bad command line)
// is refused with exit 2 before the runner is built: the endpoint, which
// counts what reaches it, sees no request, and nothing is printed on stdout.
func TestBadFlagsExit2WithoutAWSCalls(t *testing.T) {
	var requests atomic.Int64
	aws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "no AWS call expected", http.StatusTeapot)
	}))
	defer aws.Close()
	bin := build(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-format", "bogus"}, `invalid value "bogus" for flag -format: want json or table`},
		{[]string{"-format="}, `invalid value "" for flag -format: want json or table`},
		{[]string{"-format", "TABLE"}, `invalid value "TABLE" for flag -format`},
		{[]string{"-fromat", "table"}, "flag provided but not defined: -fromat"},
		{[]string{"-format", "table", "events/on-demand.json"}, `unexpected argument "events/on-demand.json": the event is read from stdin`},
	} {
		stdout, stderr, code := run(t, bin, aws.URL, []byte(`{}`), tc.args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "usage: auditor [-format json|table]") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the endpoint", n)
	}
}

// seedDemo is the demo account (test/seed) in one region, behind the
// gap-filling proxy, with its finding state table.
func seedDemo(t *testing.T) (endpoint string, demo seed.Demo) {
	t.Helper()
	srv := motoserver.Fresh(t)
	gaps, err := gapfill.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gaps.Close)
	ctx := context.Background()
	cfg, err := srv.ConfigAt(ctx, gaps.URL, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.EnableSecurityHub(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := seed.CreateFindingStateTable(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if demo, err = seed.Account(ctx, cfg, gaps); err != nil {
		t.Fatal(err)
	}
	return gaps.URL, demo
}

// TestFormatTableEndToEnd runs the README's command,
// `go run ./functions/auditor -format table < events/on-demand.json`,
// against the seeded demo account, then a full sweep, then a dry run in
// both formats: the table is report.Table of the JSON summary.
func TestFormatTableEndToEnd(t *testing.T) {
	endpoint, _ := seedDemo(t)
	bin := build(t)
	onDemand, err := os.ReadFile("../../events/on-demand.json")
	if err != nil {
		t.Fatal(err)
	}

	out, stderr, code := run(t, bin, endpoint, onDemand, "-format", "table")
	if code != 0 {
		t.Fatalf("-format table < events/on-demand.json: exit %d\n%s", code, stderr)
	}
	t.Logf("-format table < events/on-demand.json:\n%s", out)
	for _, want := range []string{
		"posture-auditor on-demand run of account " + motoserver.Account + ": 1 check in us-east-1\n",
		"\nFAILED SCOPES: none\n",
		"\nFAILED: 1 finding (MEDIUM 1)\n",
		"\nNOT_AVAILABLE: none\n",
		"\nCOUNTS BY CHECK AND STATUS\n",
		"\nSECURITY HUB\n",
		"\nNOTICES",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("on-demand table lacks %q:\n%s", want, out)
		}
	}
	if !hasRow(out, "MEDIUM", "kms.rotation", "alias/demo/not-rotating", "us-east-1", "new", "automatic key rotation is disabled") {
		t.Errorf("on-demand table lacks the FAILED kms.rotation row of alias/demo/not-rotating:\n%s", out)
	}
	if strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Errorf("-format table printed JSON:\n%s", out)
	}

	out, stderr, code = run(t, bin, endpoint, []byte(`{}`), "-format", "table")
	if code != 0 {
		t.Fatalf("-format table < {}: exit %d\n%s", code, stderr)
	}
	if !hasRow(out, "CRITICAL", "kms.key-in-use-unhealthy", "alias/demo/retired") || !hasRow(out, "HIGH", "kms.pending-deletion", "alias/demo/retired") {
		t.Errorf("sweep table lacks the retired key's FAILED rows:\n%s", out)
	}
	if i, j := strings.Index(out, "\nCRITICAL "), strings.Index(out, "\nLOW "); i < 0 || j < i {
		t.Errorf("sweep table: CRITICAL rows not before LOW ones:\n%s", out)
	}

	dry := []byte(`{"dryRun":true}`)
	js, stderr, code := run(t, bin, endpoint, dry, "-format", "json")
	if code != 0 {
		t.Fatalf("-format json: exit %d\n%s", code, stderr)
	}
	var s runner.Summary
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatalf("-format json: %v\n%s", err, js)
	}
	if !s.DryRun || len(s.Findings) == 0 {
		t.Fatalf("-format json: dry run %v, %d findings", s.DryRun, len(s.Findings))
	}
	var want bytes.Buffer
	if err := report.Table(&want, &s); err != nil {
		t.Fatal(err)
	}
	if table, stderr, code := run(t, bin, endpoint, dry, "-format", "table"); code != 0 || table != want.String() {
		t.Errorf("dry run, -format table (exit %d, %s) is not report.Table of -format json's summary:\n%s\nwant:\n%s", code, stderr, table, want.String())
	}
	if deflt, _, code := run(t, bin, endpoint, dry); code != 0 || !json.Valid([]byte(deflt)) {
		t.Errorf("no -format: exit %d, not JSON:\n%s", code, deflt)
	}
}

// hasRow reports whether a line of out holds every cell, in order.
func hasRow(out string, cells ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		rest, ok := line, true
		for _, c := range cells {
			i := strings.Index(rest, c)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(c):]
		}
		if ok {
			return true
		}
	}
	return false
}
