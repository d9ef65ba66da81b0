// Command largeaccount benchmarks two sweeps of a large synthetic AWS
// account: it starts the wire-level endpoint (test/largeaccount/endpoint),
// which enforces AWS's documented request quotas with AWS's real
// throttling answers and adds a fixed latency to every call, builds the
// auditor (functions/auditor) and runs it twice as a child process with a
// scheduled-sweep event on stdin: first of the fresh account, then of the
// same unchanged account. For each sweep it prints the wall time, the
// child's peak RSS, the API calls by service and operation against the
// fewest a complete scan needs, the Security Hub calls, the throttling
// answers the endpoint sent and the throttling errors the auditor's
// summary surfaced, the findings by status and what the publisher did,
// and the quota-bound minimum wall time of the sweep's calls.
//
//	go run ./test/largeaccount [-scale 1] [-latency 20ms]
//
// (make bench-large). It exits non-zero if a sweep fails.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/largeaccount/endpoint"
)

const stateTable = "posture-auditor-finding-state"

// extraEnv is what -child-env adds to the auditor's environment.
var extraEnv []string

// collectionServices are the services whose calls are the scan's own;
// Security Hub, DynamoDB (the finding state) and STS are not.
var collectionServices = map[string]bool{
	"kms": true, "secretsmanager": true, "acm": true, "ecr": true, "cloudtrail": true, "rds": true, "ec2": true, "cloudfront": true,
}

func main() {
	if os.Getenv(launcherEnv) == "1" {
		launch()
		return
	}
	scale := flag.Float64("scale", 1, "account size: 1 is the issue's large account (per region: 2,000 keys, 5,000 secrets, 1,000 certificates, 1,000 RDS instances, 2,000 snapshots, 2,000 repositories, 20,000 volumes; 200 distributions)")
	latency := flag.Duration("latency", 20*time.Millisecond, "latency added to every call")
	regionList := flag.String("regions", "us-east-1,eu-west-1", "the account's regions; the first is the home region")
	partitionWCU := flag.Float64("partition-wcu", 0, "when set, DynamoDB's write capacity of one partition key, in units a second (AWS: 1000; a transactional write costs 2 a KB): a transaction beyond it is cancelled with ThrottlingError")
	tableWCU := flag.Float64("table-wcu", 0, "when set, the finding state table's write capacity, in units a second (a new on-demand table: 4000; more once warmed): the endpoint cancels a transaction beyond it with ThrottlingError, and the auditor is told it (STATE_TABLE_WRITE_UNITS)")
	fromUnsharded := flag.Bool("from-unsharded", false, "between the sweeps, lay the finding state out as the version before sharded records did (one partition key a scope): the second sweep is then the first after an upgrade")
	lambdaMemory := flag.Int("lambda-memory-mb", 0, "when set, the child gets AWS_LAMBDA_FUNCTION_MEMORY_SIZE as in Lambda (the auditor sizes its Go memory limit from it)")
	flag.Func("child-env", "`KEY=VALUE` added to the auditor's environment (repeatable), e.g. GODEBUG=gctrace=1", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE")
		}
		extraEnv = append(extraEnv, v)
		return nil
	})
	flag.Parse()
	regions := strings.Split(*regionList, ",")
	cmd := fmt.Sprintf("go run ./test/largeaccount -scale %g -latency %s -regions %s", *scale, *latency, *regionList)
	if *lambdaMemory > 0 {
		cmd += fmt.Sprintf(" -lambda-memory-mb %d", *lambdaMemory)
	}
	if *partitionWCU > 0 {
		cmd += fmt.Sprintf(" -partition-wcu %g", *partitionWCU)
	}
	if *tableWCU > 0 {
		cmd += fmt.Sprintf(" -table-wcu %g", *tableWCU)
	}
	if *fromUnsharded {
		cmd += " -from-unsharded"
		unshardBetween = true
	}
	for _, e := range extraEnv {
		cmd += " -child-env " + e
	}
	fmt.Println("$ " + cmd)
	if *tableWCU > 0 {
		tableLimit = *tableWCU
		extraEnv = append(extraEnv, fmt.Sprintf("STATE_TABLE_WRITE_UNITS=%g", *tableWCU))
	}
	if err := run(*scale, *latency, regions, *lambdaMemory, *partitionWCU, *tableWCU); err != nil {
		fmt.Fprintln(os.Stderr, "largeaccount:", err)
		os.Exit(1)
	}
}

func run(scale float64, latency time.Duration, regions []string, lambdaMemory int, partitionWCU, tableWCU float64) error {
	ep, err := endpoint.New(endpoint.Options{Scale: scale, Latency: latency, Regions: regions, PartitionWCU: partitionWCU, TableWCU: tableWCU})
	if err != nil {
		return err
	}
	defer ep.Close()
	a := ep.Data
	fmt.Printf("endpoint %s, latency %s per call, account %s, regions %s (home %s)\n", ep.URL, latency, a.ID, strings.Join(a.Regions, ", "), a.Home)
	fmt.Printf("per region: %d KMS keys (+%d AWS managed), %d secrets, %d certificates, %d RDS instances, %d DB clusters, %d DB snapshots, %d cluster snapshots, %d ECR repositories, %d EBS volumes; %d CloudFront distributions (global); %d trails\n",
		a.N.Keys, a.KeyCount()-a.N.Keys, a.N.Secrets, a.N.Certificates, a.N.Instances, a.N.Clusters, a.N.Snapshots, a.N.ClusterSnapshots, a.N.Repositories, a.N.Volumes, a.N.Distributions, len(a.Trails()))

	if err := createTable(ep, a.Home); err != nil {
		return fmt.Errorf("create the finding state table: %w", err)
	}
	dir, err := os.MkdirTemp("", "largeaccount-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	outDir, err := os.MkdirTemp("", "largeaccount-output-")
	if err != nil {
		return err
	}
	fmt.Printf("auditor summaries and stderr are kept in %s\n", outDir)
	bin, commit, err := build(dir)
	if err != nil {
		return err
	}
	fmt.Printf("auditor built from %s\n", commit)

	expected := map[string]int{}
	for _, r := range a.Regions {
		for c, n := range a.ExpectedFindings(r) {
			expected[c] += n
		}
	}
	minimum := a.MinimumCalls()
	env := childEnv(ep, a, lambdaMemory)

	var results []*sweep
	failed := false
	for i, name := range []string{"first sweep: fresh account", "second sweep: same account, unchanged"} {
		if i == 1 && unshardBetween {
			fmt.Printf("\nfinding state laid out as before sharding: %d of %d items moved under their scope's own key\n", ep.Unshard(a.Home, stateTable), ep.Items(a.Home, stateTable))
		}
		// The account is left alone between scheduled sweeps: every
		// quota bucket is full again when the next one starts.
		ep.RefillBuckets()
		// Each sweep starts in a second of its own: the calls' timeline
		// counts by whole second.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		before, throttledBefore, unitsBefore := ep.Counts(), ep.ThrottledTransactions(), ep.PartitionUnits()
		s := runSweep(bin, env, dir, outDir, i+1)
		s.calls = ep.Counts().Sub(before)
		s.stateThrottled = ep.ThrottledTransactions() - throttledBefore
		for k, u := range ep.PartitionUnits() {
			d := u - unitsBefore[k]
			s.stateTableUnits += d
			if d > s.stateUnits {
				s.stateUnits, s.stateKey = d, k
			}
		}
		s.stored = ep.StoredFindings()
		s.items = ep.Items(a.Home, stateTable)
		s.name = name
		report(ep, s, expected, minimum)
		results = append(results, s)
		if s.err != nil {
			failed = true
		}
	}
	verdicts(ep, results, minimum)
	if failed {
		return fmt.Errorf("a sweep failed")
	}
	return nil
}

// createTable creates the finding state table as the stack does, through
// the endpoint.
func createTable(ep *endpoint.Server, region string) error {
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{Region: region, EndpointURL: ep.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLARGEACCOUNT", "largeaccount", "")})
	if err != nil {
		return err
	}
	_, err = dynamodb.NewFromConfig(cfg).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(stateTable), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema: []ddbtypes.KeySchemaElement{{AttributeName: aws.String("scope"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeRange}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("scope"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
	})
	return err
}

// lambdaBuildFlags are the Makefile's lambda-build flags: the benchmark
// measures the binary Lambda runs. Without lambda.norpc, aws-lambda-go
// links net/rpc, whose html/template makes the linker keep every exported
// method (all of EC2's operations): a 96 MB binary instead of 20 MB, and
// about 30 MB more resident pages.
var lambdaBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// build compiles functions/auditor from the module this command runs in,
// as the Makefile builds it for Lambda (for this machine's architecture).
func build(dir string) (bin, commit string, err error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin = filepath.Join(dir, "auditor")
	b := exec.Command("go", append(append([]string{"build"}, lambdaBuildFlags...), "-o", bin, "./functions/auditor")...)
	b.Dir = root
	b.Stdout, b.Stderr = os.Stderr, os.Stderr
	if err := b.Run(); err != nil {
		return "", "", fmt.Errorf("go build ./functions/auditor: %w", err)
	}
	commit = "an unknown commit"
	if c, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = "commit " + strings.TrimSpace(string(c))
		if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			commit += " plus uncommitted changes in the work tree"
		}
	}
	return bin, commit, nil
}

// childEnv is the auditor's environment: the SDK pointed at the endpoint
// with dummy credentials and no shared config, as a Lambda function's
// variables name it.
func childEnv(ep *endpoint.Server, a *endpoint.Account, lambdaMemory int) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TMPDIR=" + os.TempDir(),
		"AWS_ENDPOINT_URL=" + ep.URL, "AWS_REGION=" + a.Home, "AUDIT_REGIONS=" + strings.Join(a.Regions, ","), "HOME_REGION=" + a.Home,
		"FINDING_STATE_TABLE=" + stateTable, "AWS_ACCESS_KEY_ID=AKIDLARGEACCOUNT", "AWS_SECRET_ACCESS_KEY=largeaccount",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true", "LOG_LEVEL=warn",
	}
	if lambdaMemory > 0 {
		env = append(env, fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", lambdaMemory))
	}
	return append(env, extraEnv...)
}

// scheduledEvent is what an EventBridge schedule sends.
const scheduledEvent = `{"version":"0","id":"5f0c0a9e-0000-4000-8000-000000000001","detail-type":"Scheduled Event","source":"aws.events",` +
	`"account":"123456789012","time":"2025-01-01T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/posture-auditor-sweep"],"detail":{}}`

type sweep struct {
	name  string
	wall  time.Duration
	rssKB int64
	// cpu is the auditor's user and system CPU time: in Lambda, CPU comes
	// with memory (a 256 MB function has about a seventh of a vCPU).
	cpu time.Duration
	// start and end bound the auditor's run (for the calls' timeline).
	start, end time.Time
	exit       int
	err        error
	summary    *runner.Summary
	stderr     []string
	calls      endpoint.Counts
	stored     map[string]int
	items      int
	// stateThrottled counts the state's transactions cancelled for a
	// partition key's write capacity (-partition-wcu).
	stateThrottled int
	// stateUnits are the write units the sweep's transactions put to its
	// busiest partition key (stateKey): DynamoDB writes one partition at
	// most partitionLimit a second.
	stateUnits float64
	stateKey   string
	// stateTableUnits are the write units of all its transactions: the
	// table takes at most tableLimit a second.
	stateTableUnits float64
	// summaryPath is where the auditor's JSON summary was saved.
	summaryPath string
}

func runSweep(bin string, env []string, dir, outDir string, n int) *sweep {
	s := &sweep{}
	self, err := os.Executable()
	if err != nil {
		s.err = err
		return s
	}
	r, w, err := os.Pipe()
	if err != nil {
		s.err = err
		return s
	}
	defer r.Close()
	c := exec.Command(self, bin) // the launcher (launcher.go) runs the auditor
	c.Env = append(append([]string(nil), env...), launcherEnv+"=1")
	c.Dir = dir
	c.Stdin = strings.NewReader(scheduledEvent)
	c.ExtraFiles = []*os.File{w}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	err = c.Run()
	s.wall = time.Since(start)
	s.start, s.end = start, time.Now()
	_ = w.Close()
	if c.ProcessState != nil {
		s.exit = c.ProcessState.ExitCode()
	}
	var wallNS, cpuNS int64
	if _, scanErr := fmt.Fscan(r, &s.rssKB, &wallNS, &cpuNS); scanErr == nil {
		s.wall = time.Duration(wallNS) // the auditor's own, without the launcher
		s.cpu = time.Duration(cpuNS)
	} else if err == nil {
		err = fmt.Errorf("no rusage from the launcher: %w", scanErr)
	}
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if l != "" {
			s.stderr = append(s.stderr, l)
		}
	}
	s.summaryPath = filepath.Join(outDir, fmt.Sprintf("sweep%d-summary.json", n))
	if err := os.WriteFile(s.summaryPath, stdout.Bytes(), 0o644); err != nil {
		s.summaryPath = ""
	}
	_ = os.WriteFile(filepath.Join(outDir, fmt.Sprintf("sweep%d-stderr.txt", n)), stderr.Bytes(), 0o644)
	if err != nil {
		s.err = fmt.Errorf("auditor exited: %w", err)
		return s
	}
	var sum runner.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		s.err = fmt.Errorf("auditor summary: %w", err)
		return s
	}
	s.summary = &sum
	return s
}

func isThrottle(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}

// bucketCalls adds up the accepted (not throttled) calls of each (region,
// quota bucket), for operations keep selects.
func bucketCalls(ep *endpoint.Server, c endpoint.Counts, keep func(service string) bool) map[[2]string]int {
	out := map[[2]string]int{}
	for k, n := range c.Calls {
		if !keep(k.Service) {
			continue
		}
		op := k.Service + ":" + k.Operation
		q, ok := ep.Quota(op)
		if !ok {
			continue
		}
		region := k.Region
		if k.Service == "cloudfront" {
			region = "global"
		}
		out[[2]string{region, q.Bucket}] += n - c.Throttled[k]
	}
	return out
}

// minimumWall is the quota-bound minimum wall time of the calls: for each
// (region, bucket), max(0, calls - burst) / rate; the largest of them.
func minimumWall(ep *endpoint.Server, c endpoint.Counts, keep func(string) bool) (time.Duration, string) {
	var worst time.Duration
	what := "none"
	for k, n := range bucketCalls(ep, c, keep) {
		q := quotaOfBucket(ep, k[1])
		if d := q.MinimumWall(n); d > worst || what == "none" && d == worst {
			worst = d
			what = fmt.Sprintf("%s %s: %d calls at %g/s, burst %g", k[0], k[1], n, q.Rate, q.Burst)
		}
	}
	return worst, what
}

func quotaOfBucket(ep *endpoint.Server, bucket string) endpoint.Quota {
	for op := range endpoint.Quotas {
		if q, ok := ep.Quota(op); ok && q.Bucket == bucket {
			return q
		}
	}
	return endpoint.Quota{}
}

func report(ep *endpoint.Server, s *sweep, expected map[string]int, minimum map[endpoint.Call]int) {
	a := ep.Data
	fmt.Printf("\n==================== %s ====================\n", s.name)
	fmt.Printf("wall time          %s\n", s.wall.Round(time.Millisecond))
	fmt.Printf("CPU time (child)   %s (user + system; in Lambda, a 256 MB function has about 0.15 vCPU)\n", s.cpu.Round(time.Millisecond))
	fmt.Printf("peak RSS (child)   %.1f MB (%d KB, ru_maxrss of the auditor process, measured through a fresh launcher)\n", float64(s.rssKB)/1024, s.rssKB)
	fmt.Printf("exit status        %d\n", s.exit)
	if s.summaryPath != "" {
		fmt.Printf("summary            %s\n", s.summaryPath)
	}
	if s.err != nil {
		fmt.Printf("FAILED: %v\n", s.err)
		for _, l := range tail(s.stderr, 20) {
			fmt.Println("  stderr: " + l)
		}
	}

	// Calls by service and operation.
	fmt.Println("\nAPI calls by service and operation (received by the endpoint; 'thr' = answered with a throttle; 'min' = fewest a complete scan needs):")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "service\toperation\t"
	for _, r := range a.Regions {
		header += r + "\t"
	}
	fmt.Fprintln(tw, header+"total\tthr\tmin\tcalls/min\t")
	type row struct{ svc, op string }
	rows := map[row]bool{}
	for k := range s.calls.Calls {
		rows[row{k.Service, k.Operation}] = true
	}
	if strings.HasPrefix(s.name, "first") {
		for k := range minimum {
			rows[row{k.Service, k.Operation}] = true
		}
	}
	var order []row
	for r := range rows {
		order = append(order, r)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].svc != order[j].svc {
			return order[i].svc < order[j].svc
		}
		return order[i].op < order[j].op
	})
	collected, collectedMin := 0, 0
	for _, r := range order {
		line := r.svc + "\t" + r.op + "\t"
		total, thr, min := 0, 0, 0
		for _, region := range a.Regions {
			n := s.calls.Calls[endpoint.Call{Region: region, Service: r.svc, Operation: r.op}]
			total += n
			thr += s.calls.Throttled[endpoint.Call{Region: region, Service: r.svc, Operation: r.op}]
			min += minimum[endpoint.Call{Region: region, Service: r.svc, Operation: r.op}]
			line += fmt.Sprintf("%d\t", n)
		}
		ratio := "-"
		if min > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(total-thr)/float64(min))
		}
		minText := "-"
		if collectionServices[r.svc] || r.svc == "sts" {
			minText = fmt.Sprint(min)
			collected += total - thr
			collectedMin += min
		}
		fmt.Fprintf(tw, "%s%d\t%d\t%s\t%s\t\n", line, total, thr, minText, ratio)
	}
	_ = tw.Flush()
	fmt.Printf("collection calls (accepted, STS included): %d; minimum a complete scan needs: %d; ratio %.3fx\n", collected, collectedMin, float64(collected)/float64(max(1, collectedMin)))

	imports, reads := s.calls.Total("securityhub", "BatchImportFindings"), s.calls.Total("securityhub", "GetFindings")
	fmt.Printf("\nSecurity Hub       BatchImportFindings %d calls, GetFindings %d calls", imports, reads)
	for _, r := range a.Regions {
		fmt.Printf("; %s %d/%d", r, s.calls.Calls[endpoint.Call{Region: r, Service: "securityhub", Operation: "BatchImportFindings"}],
			s.calls.Calls[endpoint.Call{Region: r, Service: "securityhub", Operation: "GetFindings"}])
	}
	fmt.Printf("\n                   findings held afterwards: %v; finding state items: %d; transactions cancelled for write capacity (a partition key's or the table's): %d\n", s.stored, s.items, s.stateThrottled)
	if s.stateUnits > 0 {
		fmt.Printf("                   finding state writes: %.0f write units to the busiest partition key (%s): %s at DynamoDB's %d a second per partition; %.0f to the table: %s at its %g a second\n",
			s.stateUnits, s.stateKey, time.Duration(s.stateUnits/partitionLimit*float64(time.Second)).Round(time.Millisecond), partitionLimit,
			s.stateTableUnits, time.Duration(s.stateTableUnits/tableLimit*float64(time.Second)).Round(time.Millisecond), tableLimit)
	}
	for _, op := range [][2]string{{"securityhub", "BatchImportFindings"}, {"dynamodb", "TransactWriteItems"}, {"dynamodb", "PutItem"}} {
		if line := timeline(ep.PerSecond(op[0], op[1], s.start, s.end)); line != "" {
			fmt.Printf("                   %s:%s by 5 s from the start: %s\n", op[0], op[1], line)
		}
	}
	fmt.Printf("DynamoDB           %d calls (TransactWriteItems %d, PutItem %d, Query %d, BatchGetItem %d, DeleteItem %d)\n", s.calls.Total("dynamodb", ""),
		s.calls.Total("dynamodb", "TransactWriteItems"), s.calls.Total("dynamodb", "PutItem"), s.calls.Total("dynamodb", "Query"), s.calls.Total("dynamodb", "BatchGetItem"), s.calls.Total("dynamodb", "DeleteItem"))

	// Throttling seen and surfaced.
	seen := 0
	var seenBy []string
	for _, k := range endpoint.SortedCalls(s.calls.Throttled) {
		seen += s.calls.Throttled[k]
		seenBy = append(seenBy, fmt.Sprintf("%s %s:%s x%d", k.Region, k.Service, k.Operation, s.calls.Throttled[k]))
	}
	fmt.Printf("\nthrottling seen    %d throttling answers sent by the endpoint", seen)
	if seen > 0 {
		fmt.Printf(" (%s)", strings.Join(seenBy, ", "))
	}
	fmt.Println()
	if sum := s.summary; sum != nil {
		sdk := 0
		for _, c := range sum.Calls {
			sdk += c.Throttled
		}
		scopes, scopeErrs, publishErrs := surfaced(sum)
		fmt.Printf("throttling surfaced %d failed scopes and %d publish failures with a throttling code (%d throttled attempts counted by the auditor's own client)\n", scopes, publishErrs, sdk)
		if scopeErrs != "" {
			fmt.Println("                   " + scopeErrs)
		}

		// Findings.
		fmt.Println("\nfindings by check and status (expected = what the generated data implies):")
		tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "check\tPASSED\tFAILED\tNOT_AVAILABLE\ttotal\texpected\t")
		checks := append([]string(nil), sum.Checks...)
		sort.Strings(checks)
		var tp, tf, tn, tt, te int
		for _, c := range checks {
			p, f, n := sum.Counts[c][check.Passed], sum.Counts[c][check.Failed], sum.Counts[c][check.NotAvailable]
			t := 0
			for _, v := range sum.Counts[c] {
				t += v
			}
			mark := ""
			if t != expected[c] {
				mark = " <-- differs"
			}
			tp, tf, tn, tt, te = tp+p, tf+f, tn+n, tt+t, te+expected[c]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d%s\t\n", c, p, f, n, t, expected[c], mark)
		}
		fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%d\t\n", tp, tf, tn, tt, te)
		_ = tw.Flush()
		l := sum.Lifecycle
		fmt.Printf("lifecycle          new %d, updated %d, resolved %d, reactivated %d, archived %d, kept %d, keptFailed %d, refreshed %d, unchanged %d, imported %d, failed %d\n",
			l.New, l.Updated, l.Resolved, l.Reactivated, l.Archived, l.Kept, l.KeptFailed, l.Refreshed, l.Unchanged, l.Imported, l.Failed)
		for _, p := range sum.Published {
			fmt.Printf("publish %-10s stored %d, sent %d, imported %d, import calls %d, read calls %d; state: %s", p.Region, p.Stored, p.Sent, p.Imported, p.Calls, p.ReadCalls, p.StateSource)
			if p.StateError != "" {
				fmt.Printf(" (state error: %s)", p.StateError)
			}
			if p.Error != "" {
				fmt.Printf(" (error: %s)", p.Error)
			}
			fmt.Println()
		}
		if sum.Memory != nil {
			fmt.Printf("auditor memory     peak Go heap %d MB (limit %d MB) as the summary reports it\n", sum.Memory.PeakHeapMB, sum.Memory.LimitMB)
		}
		for _, n := range tail(sum.Notices, 10) {
			fmt.Println("notice: " + n)
		}
	}
	if len(s.stderr) > 0 {
		fmt.Printf("auditor stderr     %d lines (LOG_LEVEL=warn); last ones:\n", len(s.stderr))
		for _, l := range tail(s.stderr, 5) {
			fmt.Println("  " + truncate(l, 400))
		}
	}

	// Quota-bound minimum wall.
	collect := func(svc string) bool { return collectionServices[svc] }
	hub := func(svc string) bool { return svc == "securityhub" }
	cw, cwhat := minimumWall(ep, s.calls, collect)
	hw, hwhat := minimumWall(ep, s.calls, hub)
	fmt.Printf("\nquota-bound minimum wall of the collection calls: %s (%s); wall / minimum = %s\n", cw.Round(time.Millisecond), cwhat, ratio(s.wall, cw))
	fmt.Printf("quota-bound minimum wall of the Security Hub calls: %s (%s)\n", hw.Round(time.Millisecond), hwhat)
}

// surfaced counts the throttling errors the summary reports: failed scopes
// with a throttling error, and findings not imported for a throttle.
func surfaced(sum *runner.Summary) (scopes int, detail string, publishErrs int) {
	codes := map[string]int{}
	for _, sc := range sum.FailedScopes {
		throttled := false
		for _, e := range sc.Errors {
			if isThrottle(e.Code) {
				throttled = true
				codes[string(e.Service)+":"+e.Operation+" "+e.Code]++
			}
		}
		if throttled {
			scopes++
		}
	}
	for _, p := range sum.Published {
		if isThrottle(p.ErrorCode) {
			publishErrs++
		}
		for _, f := range p.Failed {
			if isThrottle(f.ErrorCode) {
				publishErrs += max(1, f.Count)
			}
		}
	}
	var parts []string
	for k, n := range codes {
		parts = append(parts, fmt.Sprintf("%s x%d", k, n))
	}
	sort.Strings(parts)
	if len(sum.FailedScopes) > 0 {
		parts = append(parts, fmt.Sprintf("(%d failed scopes in all)", len(sum.FailedScopes)))
	}
	return scopes, strings.Join(parts, ", "), publishErrs
}

func verdicts(ep *endpoint.Server, results []*sweep, minimum map[endpoint.Call]int) {
	fmt.Println("\n==================== targets ====================")
	check := func(ok bool, what string) {
		mark := "MISS"
		if ok {
			mark = "ok  "
		}
		fmt.Printf("[%s] %s\n", mark, what)
	}
	for _, s := range results {
		check(s.rssKB <= 128*1024, fmt.Sprintf("%s: peak RSS %.1f MB <= 128 MB", s.name, float64(s.rssKB)/1024))
	}
	if len(results) < 2 {
		return
	}
	if f := results[0]; f.summary != nil {
		// The first sweep's floor is its slowest quota, collection or
		// import (each region's run in parallel with the others).
		fw, what := minimumWall(ep, f.calls, func(svc string) bool { return collectionServices[svc] || svc == "securityhub" })
		// The finding state's writes too: DynamoDB writes one partition
		// key at most 1,000 units a second, and the table at most its
		// capacity (the auditor paces them under both).
		if sw := time.Duration(f.stateUnits / partitionLimit * float64(time.Second)); sw > fw {
			fw, what = sw, fmt.Sprintf("the finding state's writes to %s: %.0f write units at DynamoDB's %d a second per partition; the collection and import calls' own: %s", f.stateKey, f.stateUnits, partitionLimit, what)
		}
		if tw := time.Duration(f.stateTableUnits / tableLimit * float64(time.Second)); tw > fw {
			fw, what = tw, fmt.Sprintf("the finding state's writes to the table: %.0f write units at its %g a second; the collection and import calls' own: %s", f.stateTableUnits, tableLimit, what)
		}
		check(fw > 0 && float64(f.wall) <= 1.25*float64(fw), fmt.Sprintf("first sweep: wall %s <= 1.25 x quota-bound minimum %s (%s; %s)", f.wall.Round(time.Millisecond), fw.Round(time.Millisecond), ratio(f.wall, fw), what))
		imported, busiest, busiestRegion := f.summary.Lifecycle.Imported, 0, ""
		for _, p := range f.summary.Published {
			if p.Imported > busiest {
				busiest, busiestRegion = p.Imported, p.Region
			}
		}
		rate := float64(imported) / f.wall.Seconds()
		check(rate >= 900, fmt.Sprintf("first sweep: %.0f findings imported a second of wall >= 900 (%d in %s; %s alone %.0f/s against its 10 TPS x 100)",
			rate, imported, f.wall.Round(time.Millisecond), busiestRegion, float64(busiest)/f.wall.Seconds()))
	}
	s := results[1]
	if s.summary == nil {
		check(false, "second sweep produced no summary")
		return
	}
	imports := s.calls.Total("securityhub", "BatchImportFindings")
	due := s.summary.Lifecycle.Refreshed
	check(imports <= (due+99)/100, fmt.Sprintf("second sweep: %d BatchImportFindings calls for %d due refreshes (at most %d)", imports, due, (due+99)/100))
	reads := s.calls.Total("securityhub", "GetFindings")
	check(reads == 0, fmt.Sprintf("second sweep: %d GetFindings calls (no read-back)", reads))
	cw, _ := minimumWall(ep, s.calls, func(svc string) bool { return collectionServices[svc] })
	check(cw > 0 && float64(s.wall) <= 1.25*float64(cw), fmt.Sprintf("second sweep: wall %s <= 1.25 x quota-bound minimum %s (%s)", s.wall.Round(time.Millisecond), cw.Round(time.Millisecond), ratio(s.wall, cw)))
	for _, r := range results {
		got, min := 0, 0
		for k, n := range r.calls.Calls {
			if collectionServices[k.Service] || k.Service == "sts" {
				got += n - r.calls.Throttled[k]
			}
		}
		for _, n := range minimum {
			min += n
		}
		check(float64(got) <= 1.05*float64(min), fmt.Sprintf("%s: %d collection calls <= 1.05 x minimum %d (%.3fx)", r.name, got, min, float64(got)/float64(max(1, min))))
	}
	for _, r := range results {
		if r.summary == nil {
			check(false, r.name+": no summary")
			continue
		}
		scopes, _, pub := surfaced(r.summary)
		check(scopes == 0 && pub == 0, fmt.Sprintf("%s: %d throttling errors surfaced (%d scopes, %d publish)", r.name, scopes+pub, scopes, pub))
	}
}

// partitionLimit is DynamoDB's write capacity of one partition, in write
// units a second (on demand and provisioned alike).
const partitionLimit = 1000

// unshardBetween (-from-unsharded) makes the second sweep the first after
// an upgrade from unsharded finding state records.
var unshardBetween bool

// tableLimit is the finding state table's write capacity, in write units a
// second: a new on-demand table's 4,000 unless -table-wcu says otherwise.
var tableLimit float64 = 4000

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a (no quota-bound minimum)"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

func tail(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	return xs[len(xs)-n:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// timeline sums per-second counts into 5-second steps ("" when none):
// where a sweep's imports and writes waited shows as low steps.
func timeline(perSecond []int) string {
	var steps []string
	total := 0
	for i := 0; i < len(perSecond); i += 5 {
		n := 0
		for _, v := range perSecond[i:min(i+5, len(perSecond))] {
			n += v
		}
		total += n
		steps = append(steps, strconv.Itoa(n))
	}
	if total == 0 {
		return ""
	}
	return strings.Join(steps, " ")
}
