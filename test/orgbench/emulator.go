package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/posture-auditor/posture-auditor/test/largeaccount/endpoint"
)

// The wire-level endpoints (test/largeaccount/endpoint) run in a child
// process of their own, this same binary started with emulatorEnv set, so
// that the CPU they use is measured apart from the auditor's, as moto's is:
// the benchmark process holds the planner, the workers, Lambda's pollers
// and the STS front, nothing else.
//
// The parent writes one emulatorSpec as a JSON line on the child's stdin;
// the child starts the endpoints and answers one emulatorReady line on its
// stdout, then serves until its stdin is closed (the parent closing it, or
// exiting).
const emulatorEnv = "ORGBENCH_EMULATOR"

// emulatorSpec is what the child serves.
type emulatorSpec struct {
	// Accounts each get their own endpoint: the member-side services of
	// that account (its keys, secrets, volumes..., its Security Hub).
	Accounts []string       `json:"accounts"`
	Sizes    endpoint.Sizes `json:"sizes"`
	Regions  []string       `json:"regions"`
	Home     string         `json:"home"`
	Latency  time.Duration  `json:"latency"`
	Now      time.Time      `json:"now"`
	// State is the account of the finding state's DynamoDB endpoint (the
	// central account), served in Home with StateLatency.
	State        string        `json:"state"`
	StateLatency time.Duration `json:"stateLatency"`
	// Denied are the accounts whose role cannot be assumed.
	Denied []string `json:"denied"`
	// CPUProfile, when set, is where the process writes its CPU profile
	// (its whole life).
	CPUProfile string `json:"cpuProfile,omitempty"`
	// Central is the central account's moto (the workers' front passes
	// the central credentials' calls there, but for the finding state's).
	Central string `json:"central,omitempty"`
}

// emulatorReady is the child's answer.
type emulatorReady struct {
	URLs    map[string]string `json:"urls"` // endpoint by account
	State   string            `json:"state"`
	Control string            `json:"control"`
	// Front is the workers' front (see front): the workers' configs, the
	// members' and the central one, are pointed at it.
	Front string         `json:"front"`
	Sizes endpoint.Sizes `json:"sizes"` // endpoint.Account.N of every account
	Error string         `json:"error,omitempty"`
}

// emulatorCounts are what the control URL answers: the endpoints' own
// counters (every request received, retries included), by account.
type emulatorCounts struct {
	Calls     map[string]int `json:"calls"`
	Throttled map[string]int `json:"throttled"`
	// Findings are what each account's Security Hub holds, over its regions.
	Findings map[string]int `json:"findings"`
	// AssumeRoles are the members' front's AssumeRole requests, by the
	// role's account.
	AssumeRoles map[string]int `json:"assumeRoles"`
	// Answered is how many member calls the front has passed to an
	// endpoint; Answers how long the latest ones took (microseconds;
	// from the index asked for).
	Answered int     `json:"answered"`
	Answers  []int64 `json:"answers,omitempty"`
}

// emulatorMain is the child: it runs until its stdin closes.
func emulatorMain() {
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadBytes('\n')
	out := json.NewEncoder(os.Stdout)
	var spec emulatorSpec
	if err == nil {
		err = json.Unmarshal(line, &spec)
	}
	if err != nil {
		_ = out.Encode(emulatorReady{Error: "read the spec: " + err.Error()})
		os.Exit(1)
	}
	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			_ = out.Encode(emulatorReady{Error: "CPU profile: " + err.Error()})
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	// The emulators' collector has nothing to do with the auditor's: it
	// runs at a fraction of its default cost (the process holds little).
	debug.SetGCPercent(400)
	ready := emulatorReady{URLs: map[string]string{}}
	servers := map[string]*endpoint.Server{}
	fail := func(err error) {
		_ = out.Encode(emulatorReady{Error: err.Error()})
		os.Exit(1)
	}
	for _, a := range spec.Accounts {
		sizes := spec.Sizes
		s, err := endpoint.New(endpoint.Options{Sizes: &sizes, Latency: spec.Latency, Regions: spec.Regions, Home: spec.Home, Account: a, Now: spec.Now})
		if err != nil {
			fail(err)
		}
		servers[a], ready.URLs[a], ready.Sizes = s, s.URL, s.Data.N
	}
	var state *endpoint.Server
	if spec.State != "" {
		if state, err = endpoint.New(endpoint.Options{Scale: 0.0001, Latency: spec.StateLatency, Account: spec.State, Regions: []string{spec.Home}, Now: spec.Now}); err != nil {
			fail(err)
		}
		ready.State = state.URL
	}
	var f *front
	if len(servers) > 0 {
		if f, err = newFront(spec.State, spec.Central, spec.Denied); err != nil {
			fail(err)
		}
		f.latency = spec.Latency
		for a, s := range servers {
			f.routeMember(a, s)
		}
		if state != nil {
			f.services["dynamodb"] = state
		}
		ready.Front = f.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	ready.Control = "http://" + ln.Addr().String()
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := emulatorCounts{Calls: map[string]int{}, Throttled: map[string]int{}, Findings: map[string]int{}, AssumeRoles: map[string]int{}}
			if f != nil {
				from, _ := strconv.Atoi(r.URL.Query().Get("answers"))
				var answers []time.Duration
				answers, c.Answered = f.timer.since(from)
				if r.URL.Query().Has("answers") {
					for _, d := range answers {
						c.Answers = append(c.Answers, d.Microseconds())
					}
				}
				c.AssumeRoles = f.assumeRoles()
			}
			for a, s := range servers {
				n := s.Counts()
				c.Calls[a], c.Throttled[a] = n.Total("", ""), 0
				for _, t := range n.Throttled {
					c.Throttled[a] += t
				}
				for _, f := range s.StoredFindings() {
					c.Findings[a] += f
				}
			}
			_ = json.NewEncoder(w).Encode(c)
		}))
	}()
	if err := out.Encode(ready); err != nil {
		os.Exit(1)
	}
	_, _ = io.Copy(io.Discard, in)
}

// emulator is the running child, seen from the parent.
type emulator struct {
	emulatorReady
	cmd   *exec.Cmd
	stdin io.WriteCloser
	once  sync.Once
}

// startEmulator starts the child and waits for its endpoints.
func startEmulator(spec emulatorSpec) (*emulator, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), emulatorEnv+"=1")
	cmd.Stderr = os.Stderr
	// The child dies with this process, whatever becomes of it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the endpoint process: %w", err)
	}
	e := &emulator{cmd: cmd, stdin: stdin}
	b, err := json.Marshal(spec)
	if err == nil {
		_, err = stdin.Write(append(b, '\n'))
	}
	if err == nil {
		err = json.NewDecoder(stdout).Decode(&e.emulatorReady)
	}
	if err == nil && e.Error != "" {
		err = fmt.Errorf("%s", e.Error)
	}
	if err != nil {
		e.close()
		return nil, fmt.Errorf("endpoint process: %w", err)
	}
	return e, nil
}

func (e *emulator) close() {
	e.once.Do(func() {
		_ = e.stdin.Close()
		done := make(chan struct{})
		go func() { _ = e.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = e.cmd.Process.Kill()
			<-done
		}
	})
}

// counts asks the child for its counters, and the member calls' answer
// times from the answers-th on (none if answers < 0).
func (e *emulator) counts(answers int) (emulatorCounts, error) {
	var c emulatorCounts
	u := e.Control
	if answers >= 0 {
		u += "?answers=" + strconv.Itoa(answers)
	}
	resp, err := http.Get(u)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	return c, json.NewDecoder(resp.Body).Decode(&c)
}

// cpu is the child's CPU time so far (user + system).
func (e *emulator) cpu() time.Duration {
	if e == nil {
		return 0
	}
	return procCPU(e.cmd.Process.Pid)
}

// procCPU is a process's CPU time (user + system) from /proc (0 if it
// cannot be read).
func procCPU(pid int) time.Duration {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command's closing parenthesis: utime is the 14th
	// field of the line, stime the 15th (clock ticks, 100 a second).
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
