// Command demo audits an emulated account: it starts moto_server on a free
// 127.0.0.1 port, enables Security Hub there, seeds the demo account, runs
// the auditor binary against it exactly as a shell user would, prints the
// findings, reads them back from Security Hub, and stops moto.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

const region = "us-east-1"

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

	cfg, err := srv.ConfigAt(ctx, gaps.URL, region, nil)
	if err != nil {
		return err
	}
	if err := seed.EnableSecurityHub(ctx, cfg); err != nil {
		return err
	}
	if _, err := seed.Account(ctx, cfg, gaps); err != nil {
		return err
	}
	fmt.Println("seeded the demo account")

	summary, err := runAuditor(gaps.URL)
	if err != nil {
		return err
	}
	printFindings(summary)

	return readBack(ctx, cfg, summary)
}

// runAuditor builds functions/auditor and runs it with an on-demand payload
// on stdin, pointed at moto through the SDK's standard environment.
func runAuditor(endpoint string) (*runner.Summary, error) {
	dir, err := os.MkdirTemp("", "posture-auditor-demo")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "auditor")
	build := exec.Command("go", "build", "-o", bin, "./functions/auditor")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build auditor: %w", err)
	}
	payload, err := os.ReadFile("events/on-demand.json")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL="+endpoint,
		"AWS_REGION="+region,
		"AUDIT_REGIONS="+region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
	)
	fmt.Printf("$ AWS_ENDPOINT_URL=%s auditor < events/on-demand.json\n", endpoint)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("auditor: %w", err)
	}
	var s runner.Summary
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("auditor summary: %w", err)
	}
	return &s, nil
}

func printFindings(s *runner.Summary) {
	fmt.Printf("\nFindings for account %s (%d):\n", s.Account, len(s.Findings))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CHECK\tSTATUS\tSEVERITY\tREGION\tRESOURCE\tREASON")
	for _, f := range s.Findings {
		name := f.ResourceName
		if name == "" {
			name = f.ResourceARN
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", f.CheckID, f.Status, f.Severity, f.Region, name, f.Reason)
	}
	w.Flush()
	fmt.Println("\nBy check:")
	ids := make([]string, 0, len(s.Counts))
	for id := range s.Counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		var parts []string
		for _, st := range []string{"PASSED", "FAILED", "NOT_AVAILABLE"} {
			if n := s.Counts[id][check.Status(st)]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", st, n))
			}
		}
		fmt.Printf("  %-40s %s\n", id, strings.Join(parts, ", "))
	}
	for _, sc := range s.FailedScopes {
		fmt.Printf("  scope not complete: %s %s: %v\n", sc.Region, sc.CheckID, sc.Errors)
	}
	for _, p := range s.Published {
		fmt.Printf("\nPublished to Security Hub in %s: %d sent, %d imported, %d calls, %d failed\n", p.Region, p.Sent, p.Imported, p.Calls, len(p.Failed))
	}
}

// readBack pages through GetFindings and confirms every finding of the run
// is in Security Hub with the status the run reported.
func readBack(ctx context.Context, cfg aws.Config, s *runner.Summary) error {
	stored := map[string]string{}
	p := securityhub.NewGetFindingsPaginator(securityhub.NewFromConfig(cfg), &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("read findings back: %w", err)
		}
		for _, f := range page.Findings {
			if f.Compliance != nil {
				stored[aws.ToString(f.Id)] = string(f.Compliance.Status)
			}
		}
	}
	missing := 0
	for _, f := range s.Findings {
		if stored[f.FindingID] != string(f.Status) {
			missing++
			fmt.Printf("  NOT in Security Hub as %s: %s\n", f.Status, f.FindingID)
		}
	}
	fmt.Printf("\nRead back from Security Hub: %d of %d findings present with the same status.\n", len(s.Findings)-missing, len(s.Findings))
	if missing > 0 {
		return fmt.Errorf("%d findings missing from Security Hub", missing)
	}
	return nil
}
