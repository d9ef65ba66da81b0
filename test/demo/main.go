// Command demo audits an emulated account: it starts moto_server on a free
// 127.0.0.1 port behind the gap-filling proxy, enables Security Hub in two
// regions, seeds the demo account, and runs the auditor binary against it
// exactly as a shell user would (-format json, whose summary it checks and
// prints as -format table does, with pkg/report). Run 1 shows the FAILED
// findings by severity and the counts of every check; then the demo fixes
// one problem, creates another and deletes a resource, and run 2 shows the
// finding resolved (first seen kept), the new failure, and the gone
// resource's findings archived. Then the event path: it
// disables rotation on a key, writes the DisableKeyRotation CloudTrail event
// in an SQS batch (with a duplicate and an event about S3, which is not
// audited) and pipes it to the events binary, which re-checks only that key;
// the demo times it and shows the finding flipped to FAILED in place. After
// each run it reads the findings back from Security Hub, and at the end it
// stops moto.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/report"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

// The main region holds the demo account; the second region differs in its
// account-level settings (EBS encryption by default).
var regions = []string{"us-east-1", "eu-west-1"}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	srv, err := motoserver.Start()
	if err != nil {
		return err
	}
	defer srv.Stop()
	gaps, err := gapfill.New(srv.URL)
	if err != nil {
		return err
	}
	defer gaps.Close()
	fmt.Printf("moto_server listening on %s; gap-filling proxy for what moto lacks on %s\n", srv.URL, gaps.URL)

	cfgs := map[string]aws.Config{}
	for _, r := range regions {
		if cfgs[r], err = srv.ConfigAt(ctx, gaps.URL, r, nil); err != nil {
			return err
		}
		if err := seed.EnableSecurityHub(ctx, cfgs[r]); err != nil {
			return err
		}
	}
	main := cfgs[regions[0]]
	// The finding state table the stack creates (FindingStateTable), in the
	// home region.
	if err := seed.CreateFindingStateTable(ctx, main); err != nil {
		return err
	}
	demo, err := seed.Account(ctx, main, gaps)
	if err != nil {
		return err
	}
	if _, err := seed.SecondRegion(ctx, cfgs[regions[1]]); err != nil {
		return err
	}
	fmt.Printf("seeded the demo account in %s and %s\n", regions[0], regions[1])

	dir, err := os.MkdirTemp("", "posture-auditor-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := buildFunction(dir, "auditor")
	if err != nil {
		return err
	}
	eventsBin, err := buildFunction(dir, "events")
	if err != nil {
		return err
	}

	fmt.Println("\n=== Run 1")
	first, err := runAuditor(bin, gaps.URL)
	if err != nil {
		return err
	}
	if err := printTable(first); err != nil {
		return err
	}
	if _, err := readBack(ctx, cfgs, first); err != nil {
		return err
	}

	fmt.Println("\n=== Changes: rotation enabled on alias/demo/not-rotating; trail demo-main stopped; secret demo/legacy/stale deleted")
	if err := change(ctx, main, demo); err != nil {
		return err
	}

	fmt.Println("\n=== Run 2")
	second, err := runAuditor(bin, gaps.URL)
	if err != nil {
		return err
	}
	if err := printTable(second); err != nil {
		return err
	}
	printChanges(first, second)
	stored, err := readBack(ctx, cfgs, second)
	if err != nil {
		return err
	}
	if err := checkLifecycle(first, second, stored); err != nil {
		return err
	}
	return eventStep(ctx, cfgs, demo, second, stored, eventsBin, dir, gaps.URL)
}

// change fixes one problem, creates another and deletes a resource.
func change(ctx context.Context, cfg aws.Config, d seed.Demo) error {
	if _, err := kms.NewFromConfig(cfg).EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(seed.KeyID(d["kms/not-rotating"]))}); err != nil {
		return fmt.Errorf("enable rotation: %w", err)
	}
	if _, err := cloudtrail.NewFromConfig(cfg).StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("demo-main")}); err != nil {
		return fmt.Errorf("stop logging: %w", err)
	}
	if _, err := secretsmanager.NewFromConfig(cfg).DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId: aws.String(d["secrets/stale"]), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		return fmt.Errorf("delete secret: %w", err)
	}
	return nil
}

// buildFunction builds functions/<fn> into dir and returns the binary.
func buildFunction(dir, fn string) (string, error) {
	bin := filepath.Join(dir, fn)
	build := exec.Command("go", "build", "-o", bin, "./functions/"+fn)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w", fn, err)
	}
	return bin, nil
}

// runAuditor runs the auditor binary with the scheduled sweep event on stdin,
// pointed at the emulator through the SDK's standard environment, and
// parses its JSON summary.
func runAuditor(bin, endpoint string) (*runner.Summary, error) {
	payload, err := os.ReadFile("events/scheduled.json")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-format", "json")
	cmd.Stdin = bytes.NewReader(payload)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = functionEnv(endpoint)
	fmt.Printf("$ AWS_ENDPOINT_URL=%s AUDIT_REGIONS=%s auditor -format json < events/scheduled.json\n", endpoint, strings.Join(regions, ","))
	out, err := cmd.Output()
	if err != nil {
		os.Stderr.Write(stderr.Bytes())
		return nil, fmt.Errorf("auditor: %w", err)
	}
	// The run's log (pkg/runlog): JSON lines on stderr, the reply on stdout.
	printLog(stderr.Bytes())
	var s runner.Summary
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("auditor summary: %w", err)
	}
	return &s, nil
}

// functionEnv is a function binary's environment outside Lambda: the SDK's
// standard variables pointed at the emulator, and the audited regions.
func functionEnv(endpoint string) []string {
	return append(os.Environ(),
		"AWS_ENDPOINT_URL="+endpoint,
		"AWS_REGION="+regions[0],
		"AUDIT_REGIONS="+strings.Join(regions, ","),
		"HOME_REGION="+regions[0],
		"FINDING_STATE_TABLE="+seed.FindingStateTable,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_LAMBDA_RUNTIME_API=",
	)
}

func name(f runner.FindingSummary) string {
	if f.ResourceName != "" {
		return f.ResourceName
	}
	return f.ResourceARN
}

// printTable prints a run's summary as `auditor -format table` would.
func printTable(s *runner.Summary) error {
	fmt.Println("\nThe summary, as -format table prints it:")
	fmt.Println()
	return report.Table(os.Stdout, s)
}

// printRunFooter prints a run's failed scopes, notices and per-region
// publish totals (the event step's footer).
func printRunFooter(s *runner.Summary) {
	for _, sc := range s.FailedScopes {
		fmt.Printf("  scope not complete: %s %s: %v\n", sc.Region, sc.CheckID, sc.Errors)
	}
	for _, n := range s.Notices {
		fmt.Println("  notice:", n)
	}
	fmt.Println()
	for _, p := range s.Published {
		fmt.Printf("Security Hub %s: %d new, %d updated, %d resolved, %d reactivated, %d archived, %d unchanged (not imported again); %d imported in %d calls, %d failed\n",
			p.Region, p.New, p.Updated, p.Resolved, p.Reactivated, p.Archived, p.Unchanged, p.Imported, p.Calls, p.FailedCount())
	}
}

// printChanges shows what run 2 saw differently from run 1.
func printChanges(first, second *runner.Summary) {
	before := map[string]runner.FindingSummary{}
	for _, f := range first.Findings {
		before[f.FindingID] = f
	}
	fmt.Println("\nFindings that changed since run 1:")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CHECK\tRUN 1\tRUN 2\tACTION\tRESOURCE\tREASON")
	for _, f := range second.Findings {
		if b, ok := before[f.FindingID]; !ok || b.Status != f.Status {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", f.CheckID, b.Status, f.Status, f.Action, name(f), f.Reason)
		}
	}
	for _, p := range second.Published {
		for _, a := range p.ArchivedFindings {
			fmt.Fprintf(w, "%s\t%s\t-\tarchived\t%s\tresource no longer exists\n", a.CheckID, before[a.ID].Status, name(before[a.ID]))
		}
	}
	w.Flush()
	// The table above already showed run 2's failed scopes, notices and
	// per-region lifecycle.
}

// readBack pages through GetFindings in every region and confirms every
// finding of the run is there, ACTIVE, with the status the run reported.
func readBack(ctx context.Context, cfgs map[string]aws.Config, s *runner.Summary) (map[string]types.AwsSecurityFinding, error) {
	stored := map[string]types.AwsSecurityFinding{}
	for _, r := range regions {
		p := securityhub.NewGetFindingsPaginator(securityhub.NewFromConfig(cfgs[r]), &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("read findings back in %s: %w", r, err)
			}
			for _, f := range page.Findings {
				stored[aws.ToString(f.Id)] = f
			}
		}
	}
	wrong := 0
	for _, f := range s.Findings {
		got, ok := stored[f.FindingID]
		if !ok || got.Compliance == nil || string(got.Compliance.Status) != string(f.Status) || got.RecordState != types.RecordStateActive {
			wrong++
			fmt.Printf("  NOT in Security Hub as ACTIVE %s: %s\n", f.Status, f.FindingID)
		}
	}
	fmt.Printf("\nRead back from Security Hub: %d of %d findings present, ACTIVE, with the same status.\n", len(s.Findings)-wrong, len(s.Findings))
	if wrong > 0 {
		return nil, fmt.Errorf("%d findings not in Security Hub as reported", wrong)
	}
	return stored, nil
}

// checkLifecycle confirms in Security Hub what run 2 says it did: resolved
// findings kept their first-seen time, archived ones are ARCHIVED.
func checkLifecycle(first, second *runner.Summary, stored map[string]types.AwsSecurityFinding) error {
	created := map[string]string{}
	for _, f := range first.Findings {
		created[f.FindingID] = ""
	}
	resolved, archived := 0, 0
	for _, f := range second.Findings {
		if f.Action != "resolved" {
			continue
		}
		resolved++
		got := stored[f.FindingID]
		if aws.ToString(got.FirstObservedAt) == aws.ToString(got.LastObservedAt) {
			return fmt.Errorf("resolved finding %s lost its first-seen time", f.FindingID)
		}
		fmt.Printf("  resolved %s %s: first observed %s, last observed %s\n", f.CheckID, name(f), aws.ToString(got.FirstObservedAt), aws.ToString(got.LastObservedAt))
	}
	for _, p := range second.Published {
		for _, a := range p.ArchivedFindings {
			archived++
			if got := stored[a.ID]; got.RecordState != types.RecordStateArchived {
				return fmt.Errorf("finding %s reported archived is %s in Security Hub", a.ID, got.RecordState)
			}
		}
	}
	fmt.Printf("Lifecycle confirmed in Security Hub: %d resolved with first-seen kept, %d archived.\n", resolved, archived)
	return nil
}
