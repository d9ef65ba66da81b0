// Command orgbench benchmarks the organization fan-out on moto: an
// organization of the management account and -members member accounts
// created through moto's Organizations API, each member seeded as a small
// account through its own credentials (moto keys its data by the account
// of the credentials STS AssumeRole returned), one member whose role cannot
// be assumed (an STS front answers AccessDenied for it), run through the
// real planner (pkg/org) -> an SQS FIFO queue on moto -> a pool of
// -concurrency workers that receive from the queue as Lambda's event
// source mapping does and call the real worker handler (pkg/org).
//
// It prints the total wall time, the planning time, each member's wall
// (first message received to last scope done) and outcome, the failures by
// account, the calls by service and operation (awsconfig.CallCounter), the
// findings imported per member and the CPU the emulator and the auditor
// used; then the reference: a member seeded exactly as the others but
// outside the organization, swept alone through the same queue and workers
// with nothing else running; and the targets.
//
//	go run ./test/orgbench [-members 20] [-concurrency 10] [-regions us-east-1,eu-west-1] [-moto per-account]
//
// (make bench-org). With -moto per-account every account has its own
// moto_server (the front routes by the credentials' account), so the
// benchmark measures the auditor's parallelism rather than one Python
// process's; -moto shared puts every account in one moto_server.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/org"
	"github.com/posture-auditor/posture-auditor/pkg/pace"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/largeaccount/endpoint"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

const (
	centralAccount = motoserver.Account // the management account, where the stack runs
	homeRegion     = "us-east-1"
	queueName      = "posture-auditor-organization.fifo"
	roleName       = "posture-auditor-member"
	externalID     = "orgbench-external-id"
	// referenceAccount is seeded as every member but is not in the
	// organization: the planner never lists it; it is swept alone.
	referenceAccount = "210987654321"
)

// options are the benchmark's settings.
type options struct {
	members     int
	concurrency int
	regions     []string
	perAccount  bool // one moto_server per account
	batchSize   int
	timeout     time.Duration
	out         io.Writer
}

func main() {
	o := options{out: os.Stdout}
	flag.IntVar(&o.members, "members", 20, "member accounts created besides the management account (one of them cannot be assumed)")
	flag.IntVar(&o.concurrency, "concurrency", 10, "WorkerConcurrency: the event source mapping's maximum concurrency")
	regionList := flag.String("regions", "us-east-1,eu-west-1", "AuditRegions: the regions of every account (the first is the home region), or all")
	motoMode := flag.String("moto", "per-account", "per-account: one moto_server per account; shared: one for all")
	flag.IntVar(&o.batchSize, "batch-size", 1, "the event source mapping's BatchSize (template.yaml: 1)")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up after this long")
	flag.Parse()
	o.regions = strings.Split(*regionList, ",")
	switch *motoMode {
	case "per-account":
		o.perAccount = true
	case "shared":
	default:
		fmt.Fprintln(os.Stderr, "orgbench: -moto is per-account or shared")
		os.Exit(2)
	}
	fmt.Printf("$ go run ./test/orgbench -members %d -concurrency %d -regions %s -moto %s -batch-size %d\n", o.members, o.concurrency, *regionList, *motoMode, o.batchSize)
	res, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "orgbench:", err)
		os.Exit(1)
	}
	if !res.ok() {
		os.Exit(3)
	}
}

// result is what the tests look at.
type result struct {
	org, ref     *phase
	denied       string
	members      []string // audited members (the management account first)
	targetWall   bool
	targetDenied bool
}

func (r *result) ok() bool { return r.targetDenied }

// phase is one measured run: the organization, or the reference alone.
type phase struct {
	name           string
	wall, planning time.Duration
	plan           *org.Plan
	t              *tracker
	planner        *awsconfig.CallCounter // the planner's calls (central credentials)
	central        *awsconfig.CallCounter // the workers' calls with the central credentials
	members        *awsconfig.CallCounter // the workers' calls with the members' credentials
	cpu            cpuSample
	// assumeRoles counts the AssumeRole requests the front saw (the SDK's
	// credential provider makes them with a client the counter is not on).
	assumeRoles int
}

// env is the emulated world.
type env struct {
	o       options
	front   *front
	servers []*motoserver.Server
	proxies map[string]*gapfill.Proxy // by account
	// dynamo serves the central finding state table (see front.dynamo).
	dynamo   *endpoint.Server
	queueURL string
}

func (e *env) close() {
	if e.front != nil {
		e.front.Close()
	}
	if e.dynamo != nil {
		_ = e.dynamo.Close()
	}
	for _, p := range e.proxies {
		p.Close()
	}
	for _, s := range e.servers {
		s.Stop()
	}
}

func staticCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("testing", "testing", "")
}

// centralConfig is the stack's own config (the central account's static
// credentials), through the front.
func (e *env) centralConfig(ctx context.Context, counter *awsconfig.CallCounter) (aws.Config, error) {
	return awsconfig.Load(ctx, awsconfig.Options{Region: homeRegion, EndpointURL: e.front.URL, Counter: counter, Credentials: staticCredentials()})
}

// memberOptions are the worker's options for member configs.
func (e *env) memberOptions(counter *awsconfig.CallCounter, pacer *pace.Pacer) awsconfig.Options {
	return awsconfig.Options{Region: homeRegion, EndpointURL: e.front.URL, Counter: counter, Pacer: pacer, Credentials: staticCredentials()}
}

func run(ctx context.Context, o options) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	w := o.out
	if o.members < 2 {
		return nil, fmt.Errorf("at least 2 members (one cannot be assumed)")
	}
	e := &env{o: o, proxies: map[string]*gapfill.Proxy{}}
	defer e.close()

	setupStart := time.Now()
	central, err := e.startBackend(centralAccount)
	if err != nil {
		return nil, err
	}
	if e.front, err = newFront(centralAccount, central, nil); err != nil {
		return nil, err
	}
	// The finding state table is served by the large-account benchmark's
	// wire-level DynamoDB: moto's TransactWriteItems deep-copies every table
	// it touches for each transaction, so the shared table of 21 accounts
	// made the central moto the whole run's bottleneck (5 minutes of its
	// CPU), which says nothing about the auditor.
	if e.dynamo, err = endpoint.New(endpoint.Options{Scale: 0.0001, Account: centralAccount, Regions: []string{homeRegion}}); err != nil {
		return nil, err
	}
	if err := e.front.routeService("dynamodb", e.dynamo.URL); err != nil {
		return nil, err
	}
	admin, err := e.centralConfig(ctx, nil)
	if err != nil {
		return nil, err
	}
	members, err := createOrganization(ctx, admin, o.members)
	if err != nil {
		return nil, err
	}
	denied := members[len(members)-1]
	e.front.deny(denied)
	audited := append([]string{centralAccount}, members[:len(members)-1]...)
	seeded := append(append([]string(nil), audited...), referenceAccount)
	if o.perAccount {
		if err := e.startBackends(seeded[1:]); err != nil {
			return nil, err
		}
	} else {
		for _, a := range seeded[1:] {
			e.proxies[a] = e.proxies[centralAccount]
		}
	}
	mode := "one moto_server for every account"
	if o.perAccount {
		mode = fmt.Sprintf("one moto_server per account (%d), each behind its own gap-filling proxy; the front routes by the credentials' account", len(e.servers))
	}
	fmt.Fprintf(w, "emulator           moto %s: %s\n", motoVersion(), mode)
	fmt.Fprintf(w, "organization       management account %s + %d members created with organizations:CreateAccount; %s cannot be assumed (AccessDenied from the STS front)\n",
		centralAccount, len(members), denied)
	fmt.Fprintf(w, "each account       %s\n", smallAccount)
	regionNote := strings.Join(o.regions, ", ")
	if len(o.regions) == 1 && o.regions[0] == org.AllRegions {
		regionNote = "all (each member's message is expanded by the worker into its enabled regions: moto enables every region of the partition)"
	}
	fmt.Fprintf(w, "regions            %s (AuditRegions; home %s): one message per (account, region)\n", regionNote, homeRegion)
	fmt.Fprintf(w, "workers            %d concurrent (WorkerConcurrency), batch size %d, FIFO queue on moto\n", o.concurrency, o.batchSize)
	fmt.Fprintf(w, "machine            %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())

	q, err := sqs.NewFromConfig(admin).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueName),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "60"}})
	if err != nil {
		return nil, fmt.Errorf("create queue: %w", err)
	}
	e.queueURL = aws.ToString(q.QueueUrl)
	if err := seed.CreateFindingStateTable(ctx, admin); err != nil {
		return nil, fmt.Errorf("create the finding state table: %w", err)
	}
	seedRegions := o.regions
	if len(seedRegions) == 1 && seedRegions[0] == org.AllRegions {
		seedRegions = []string{homeRegion}
	}
	if err := e.seed(ctx, seeded, seedRegions); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "setup              %s (moto started, organization created, %d accounts x %d regions seeded)\n",
		time.Since(setupStart).Round(time.Millisecond), len(seeded), len(seedRegions))

	res := &result{denied: denied, members: audited}
	// The reference first: one member alone, nothing else running.
	if res.ref, err = e.reference(ctx); err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	if res.org, err = e.organization(ctx); err != nil {
		return nil, fmt.Errorf("organization: %w", err)
	}
	e.report(res)
	return res, nil
}

// startBackend starts a moto_server and its gap-filling proxy for account.
func (e *env) startBackend(account string) (string, error) {
	s, err := motoserver.Start()
	if err != nil {
		return "", err
	}
	e.servers = append(e.servers, s)
	p, err := gapfill.New(s.URL)
	if err != nil {
		return "", err
	}
	e.proxies[account] = p
	return p.URL, nil
}

// startBackends starts one backend per account, a few at a time, and
// routes each account to its own.
func (e *env) startBackends(accounts []string) error {
	type started struct {
		account string
		srv     *motoserver.Server
		proxy   *gapfill.Proxy
		err     error
	}
	results := make([]started, len(accounts))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := started{account: a}
			if r.srv, r.err = motoserver.Start(); r.err == nil {
				r.proxy, r.err = gapfill.New(r.srv.URL)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	var firstErr error
	for _, r := range results {
		if r.srv != nil {
			e.servers = append(e.servers, r.srv)
		}
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		e.proxies[r.account] = r.proxy
		if err := e.front.route(r.account, r.proxy.URL); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// createOrganization creates the organization of the central account and
// n members; it returns the members in creation order.
func createOrganization(ctx context.Context, cfg aws.Config, n int) ([]string, error) {
	api := organizations.NewFromConfig(cfg)
	if _, err := api.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	var members []string
	for i := range n {
		out, err := api.CreateAccount(ctx, &organizations.CreateAccountInput{
			AccountName: aws.String(fmt.Sprintf("member-%02d", i)), Email: aws.String(fmt.Sprintf("member-%02d@example.com", i)),
		})
		if err != nil {
			return nil, fmt.Errorf("create account: %w", err)
		}
		members = append(members, aws.ToString(out.CreateAccountStatus.AccountId))
	}
	return members, nil
}

// seed seeds every account in every region through its own role.
func (e *env) seed(ctx context.Context, accounts, regions []string) error {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, a := range accounts {
		for i, r := range regions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: r, EndpointURL: e.front.URL, Credentials: staticCredentials(),
					RoleARN: org.RoleARN("aws", a, roleName), ExternalID: externalID, SessionName: "orgbench-seed", Pacer: pace.Off()})
				if err == nil {
					err = seedMember(ctx, cfg, a, i == 0, e.proxies[a])
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("seed %s in %s: %w", a, r, err)
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return firstErr
}

// newPhase builds the counters and the pool of one phase.
func (e *env) newPhase(ctx context.Context, name string) (*phase, *pool, error) {
	ph := &phase{name: name, planner: awsconfig.NewCallCounter(), central: awsconfig.NewCallCounter(), members: awsconfig.NewCallCounter(), t: newTracker()}
	centralCfg, err := e.centralConfig(ctx, ph.central)
	if err != nil {
		return nil, nil, err
	}
	pollerCfg, err := e.centralConfig(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	p := &pool{api: sqs.NewFromConfig(pollerCfg), queueURL: e.queueURL, batchSize: int32(e.o.batchSize), t: ph.t}
	for range e.o.concurrency {
		w, err := e.worker(centralCfg, ph.members)
		if err != nil {
			return nil, nil, err
		}
		p.workers = append(p.workers, w)
	}
	return ph, p, nil
}

// worker is one Lambda container's worker, built as WorkerFromEnvironment
// builds it: its own pacer and member config cache; the finding state with
// the central credentials; the member runs' calls counted on members.
func (e *env) worker(central aws.Config, members *awsconfig.CallCounter) (*org.Worker, error) {
	pacer, err := pace.New(pace.DefaultFraction)
	if err != nil {
		return nil, err
	}
	m := &org.Members{Options: e.memberOptions(members, pacer), Partition: "aws", RoleName: roleName, ExternalID: externalID}
	base := &runner.Runner{
		AWS: central, Counter: members, Regions: e.o.regions, HomeRegion: homeRegion,
		Collectors: runner.Collectors(), Publisher: publish.Publisher{State: org.CentralState(seed.FindingStateTable, central)},
		ToolVersion: "orgbench", Getenv: func(string) string { return "" }, Now: time.Now,
	}
	return &org.Worker{
		Base: base, Partition: "aws", Member: m.Config, RoleARN: m.RoleARN,
		Queue:    org.Queue{API: sqs.NewFromConfig(central), URL: e.queueURL},
		Discover: org.DiscoverRegions("aws", nil),
	}, nil
}

// scheduledEvent is what EventBridge Scheduler sends the planner.
const scheduledEvent = `{"version":"0","id":"5f0c0a9e-0000-4000-8000-000000000002","detail-type":"Scheduled Event","source":"aws.scheduler",` +
	`"account":"123456789012","time":"2025-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}`

// organization plans the organization with the real planner and runs the
// pool until every scope is acknowledged.
func (e *env) organization(ctx context.Context) (*phase, error) {
	ph, p, err := e.newPhase(ctx, "organization")
	if err != nil {
		return nil, err
	}
	cfg, err := e.centralConfig(ctx, ph.planner)
	if err != nil {
		return nil, err
	}
	planner := org.Planner{Organizations: organizations.NewFromConfig(cfg), Queue: org.Queue{API: sqs.NewFromConfig(cfg), URL: e.queueURL}, Regions: e.o.regions}
	cpu, assumed := e.cpu(), e.front.assumeRoleTotal()
	defer func() { ph.assumeRoles = e.front.assumeRoleTotal() - assumed }()
	start := time.Now()
	plan, err := planner.Handle(ctx, []byte(scheduledEvent))
	ph.planning = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	ph.plan = plan
	ph.t.add(plan.Queued)
	if err := p.run(ctx); err != nil {
		return nil, err
	}
	ph.wall = ph.t.last.Sub(start)
	ph.cpu = e.cpuSince(cpu)
	return ph, nil
}

// reference sweeps the reference account alone: its messages queued as
// the planner queues a member's, the same pool, nothing else running.
func (e *env) reference(ctx context.Context) (*phase, error) {
	ph, p, err := e.newPhase(ctx, "reference")
	if err != nil {
		return nil, err
	}
	cfg, err := e.centralConfig(ctx, ph.planner)
	if err != nil {
		return nil, err
	}
	var msgs []org.Message
	for _, r := range e.o.regions {
		msgs = append(msgs, org.Message{Account: referenceAccount, Region: r, Trigger: trigger.Schedule, Run: "schedule reference"})
	}
	cpu, assumed := e.cpu(), e.front.assumeRoleTotal()
	defer func() { ph.assumeRoles = e.front.assumeRoleTotal() - assumed }()
	start := time.Now()
	sent, failed := org.Queue{API: sqs.NewFromConfig(cfg), URL: e.queueURL}.Send(ctx, msgs)
	ph.planning = time.Since(start)
	if len(failed) > 0 {
		return nil, fmt.Errorf("queue the reference: %+v", failed)
	}
	ph.t.add(sent)
	if err := p.run(ctx); err != nil {
		return nil, err
	}
	ph.wall = ph.t.last.Sub(start)
	ph.cpu = e.cpuSince(cpu)
	return ph, nil
}

// cpuSample is the CPU time used so far by the moto processes and by this
// process.
type cpuSample struct{ moto, central, self time.Duration }

func (e *env) cpu() cpuSample {
	var s cpuSample
	for i, srv := range e.servers {
		c := motoCPU(srv.URL)
		s.moto += c
		if i == 0 { // the central account's (the only one with -moto shared)
			s.central = c
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s
}

func (e *env) cpuSince(before cpuSample) cpuSample {
	now := e.cpu()
	return cpuSample{moto: now.moto - before.moto, central: now.central - before.central, self: now.self - before.self}
}

// motoCPU is the CPU time (user + system) of the moto_server listening on
// url's port, read from /proc (0 if it cannot be found).
func motoCPU(url string) time.Duration {
	port := url[strings.LastIndex(url, ":")+1:]
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(d + "/cmdline")
		if err != nil || !strings.Contains(string(cmdline), "moto_server") || !strings.Contains(string(cmdline), "-p\x00"+port+"\x00") {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			return 0
		}
		// Fields after the command's closing parenthesis: utime is the
		// 14th field of the line, stime the 15th (clock ticks, 100 a second).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		if len(f) < 13 {
			return 0
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(u+s) * 10 * time.Millisecond
	}
	return 0
}

func motoVersion() string {
	out, err := exec.Command("python3", "-c", "import moto; print(moto.__version__)").Output()
	if err != nil {
		return "(version unknown)"
	}
	return strings.TrimSpace(string(out))
}

func (e *env) report(res *result) {
	w := e.o.out
	for _, ph := range []*phase{res.ref, res.org} {
		t := ph.t
		fmt.Fprintf(w, "\n==================== %s ====================\n", ph.name)
		if ph.plan != nil {
			fmt.Fprintf(w, "planning           %s (organizations:ListAccounts: %d accounts listed, %d planned; %d messages queued in %d SendMessageBatch calls)\n",
				ph.planning.Round(time.Millisecond), ph.plan.Listed, len(ph.plan.Accounts), ph.plan.Queued, ph.planner.Count("SQS", "SendMessageBatch"))
		} else {
			fmt.Fprintf(w, "queueing           %s (%d messages, one per region, as the planner queues a member's)\n", ph.planning.Round(time.Millisecond), len(e.o.regions))
		}
		fmt.Fprintf(w, "total wall         %s (planning start to the last scope acknowledged)\n", ph.wall.Round(time.Millisecond))
		fmt.Fprintf(w, "scopes handled     %d in %d invocations at most %d at once; %d ReceiveMessage calls (%d empty); FIFO group violations by moto: %d\n",
			len(t.scopes), len(t.scopes), t.peak, t.receives, t.empty, t.violations)
		cores := float64(runtime.NumCPU())
		c := ph.cpu
		fmt.Fprintf(w, "CPU                %.1f s used of %.1f s available (%g cores x wall): moto %.1f s (%.0f%%), this process (planner, workers, pollers, STS front, gap-filling proxies) %.1f s (%.0f%%)\n",
			(c.moto + c.self).Seconds(), cores*ph.wall.Seconds(), cores, c.moto.Seconds(), 100*c.moto.Seconds()/(cores*ph.wall.Seconds()),
			c.self.Seconds(), 100*c.self.Seconds()/(cores*ph.wall.Seconds()))
		if e.o.perAccount {
			fmt.Fprintf(w, "                   the central moto_server (SQS, DynamoDB finding state, Organizations, STS, the management account) %.1f s: %.0f%% of one core over the wall (a Python process holds the GIL: one core at most)\n",
				c.central.Seconds(), 100*c.central.Seconds()/ph.wall.Seconds())
		} else {
			fmt.Fprintf(w, "                   the one moto_server: %.0f%% of one core over the wall (a Python process holds the GIL: one core at most)\n", 100*c.moto.Seconds()/ph.wall.Seconds())
		}

		fmt.Fprintln(w, "\nmembers (wall = first message received to last scope done; imported = findings imported into the member's Security Hub):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "account\twall\tscopes\toutcome\timported\tfailed scopes\t")
		var failures []string
		for _, m := range t.sortedMembers() {
			failedScopes := 0
			for _, s := range m.scopes {
				if s.Summary != nil {
					failedScopes += len(s.Summary.FailedScopes)
				}
				if s.Outcome != org.Audited && s.Outcome != org.Expanded {
					failures = append(failures, fmt.Sprintf("  %s %s: %s %s (%s): %s", m.account, s.Region, s.Outcome, s.Reason, s.ErrorCode, s.Error))
				}
			}
			name := m.account
			if m.account == centralAccount {
				name += " (management)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t\n", name, m.wall().Round(time.Millisecond), len(m.scopes), m.outcome(), m.imported(), failedScopes)
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "\nfailures by account: %d\n", len(failures))
		for _, f := range failures {
			fmt.Fprintln(w, f)
		}

		fmt.Fprintln(w, "\ncalls by service and operation (awsconfig.CallCounter; planner and workers' central calls with the stack's credentials, members' with each member role):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "service\toperation\tplanner\tworkers (central)\tworkers (members)\ttotal\t")
		type key struct{ svc, op string }
		rows := map[key][3]int{}
		for i, c := range []*awsconfig.CallCounter{ph.planner, ph.central, ph.members} {
			for _, cc := range c.Snapshot() {
				r := rows[key{cc.Service, cc.Operation}]
				r[i] += cc.Count
				rows[key{cc.Service, cc.Operation}] = r
			}
		}
		var keys []key
		for k := range rows {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].svc != keys[j].svc {
				return keys[i].svc < keys[j].svc
			}
			return keys[i].op < keys[j].op
		})
		total := 0
		for _, k := range keys {
			r := rows[k]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t\n", k.svc, k.op, r[0], r[1], r[2], r[0]+r[1]+r[2])
			total += r[0] + r[1] + r[2]
		}
		fmt.Fprintf(tw, "STS\tAssumeRole (seen by the front)\t0\t%d\t0\t%d\t\n", ph.assumeRoles, ph.assumeRoles)
		total += ph.assumeRoles
		fmt.Fprintf(tw, "all\t\t%d\t%d\t%d\t%d\t\n", ph.planner.Total(), ph.central.Total()+ph.assumeRoles, ph.members.Total(), total)
		_ = tw.Flush()
	}

	// Targets.
	ref := res.ref.t.members[referenceAccount]
	o := res.org
	fmt.Fprintln(w, "\n==================== targets ====================")
	var slowest *member
	for _, m := range o.t.members {
		if m.account != res.denied && (slowest == nil || m.wall() > slowest.wall()) {
			slowest = m
		}
	}
	bound := ref.wall() + o.planning
	res.targetWall = float64(o.wall) <= 1.25*float64(bound)
	mark := func(ok bool) string {
		if ok {
			return "[ok]  "
		}
		return "[MISS]"
	}
	fmt.Fprintf(w, "%s organization: wall %s <= 1.25 x (slowest member's sweep alone %s + planning %s = %s): %.2fx\n",
		mark(res.targetWall), o.wall.Round(time.Millisecond), ref.wall().Round(time.Millisecond), o.planning.Round(time.Millisecond), bound.Round(time.Millisecond), float64(o.wall)/float64(bound))
	fmt.Fprintf(w, "       (the member swept alone is the reference account, seeded exactly as each member; in the organization run the slowest member, %s, took %s)\n",
		slowest.account, slowest.wall().Round(time.Millisecond))
	waves := (len(o.t.scopes) + e.o.concurrency - 1) / e.o.concurrency
	concurrencyFloor := time.Duration(waves)*meanScope(res.ref.t) + o.planning
	cpuFloor := time.Duration(float64(o.cpu.moto+o.cpu.self) / float64(runtime.NumCPU()))
	fmt.Fprintf(w, "       floors: concurrency %s (%d scopes at most %d at once: %d rounds of a scope alone, %s, + planning); CPU %s (the run's CPU, emulator included, over %d cores); wall / larger floor = %.2fx\n",
		concurrencyFloor.Round(time.Millisecond), len(o.t.scopes), e.o.concurrency, waves, meanScope(res.ref.t).Round(time.Millisecond),
		cpuFloor.Round(time.Millisecond), runtime.NumCPU(), float64(o.wall)/float64(max(concurrencyFloor, cpuFloor)))

	d := o.t.members[res.denied]
	deniedOK := d != nil && len(d.scopes) == len(e.o.regions)
	for _, s := range d.scopesOrNil() {
		if s.Outcome != org.MemberFailed || s.Reason != org.ReasonAssumeRole || s.ErrorCode != "AccessDenied" {
			deniedOK = false
		}
	}
	othersOK := true
	for _, a := range res.members {
		m := o.t.members[a]
		if m == nil || m.imported() == 0 {
			othersOK = false
			continue
		}
		for _, s := range m.scopes {
			if s.Outcome != org.Audited || (s.Summary != nil && len(s.Summary.FailedScopes) > 0) {
				othersOK = false
			}
		}
	}
	res.targetDenied = deniedOK && othersOK && o.t.violations == 0
	fmt.Fprintf(w, "%s the unassumable member is reported and does not fail the others (%s: %s; %d other accounts audited with findings imported, none failed; %d AssumeRole requests for it)\n",
		mark(res.targetDenied), res.denied, d.outcomeOrNone(), len(res.members), e.front.assumeRoleCalls(res.denied))
}

func (m *member) scopesOrNil() []scope {
	if m == nil {
		return nil
	}
	return m.scopes
}

func (m *member) outcomeOrNone() string {
	if m == nil {
		return "never handled"
	}
	return m.outcome()
}

func meanScope(t *tracker) time.Duration {
	if len(t.scopes) == 0 {
		return 0
	}
	var sum time.Duration
	for _, s := range t.scopes {
		sum += s.done.Sub(s.received)
	}
	return sum / time.Duration(len(t.scopes))
}
