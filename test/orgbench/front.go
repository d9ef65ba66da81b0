package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

// front stands before the emulators on 127.0.0.1. It does three things
// moto cannot:
//
//   - STS AssumeRole into a denied account is answered as AWS answers a
//     role that cannot be assumed (AccessDenied, STS's Query/XML protocol);
//     moto does not enforce IAM.
//   - With one moto per account, it routes each request to the backend of
//     the account whose credentials signed it: AssumeRole to the role's
//     account's backend (which then knows the session's access key and
//     keys its data by that account, as moto does), every later call by its
//     access key; the central account's static credentials go to the
//     central backend. With one shared moto every backend is the same.
//   - With the accounts' own services on wire-level endpoints
//     (routeMember), it answers AssumeRole into such an account itself,
//     with fresh credentials whose access key it maps to the account, after
//     the endpoints' per-call latency; every call signed with them goes to
//     that account's endpoint.
//
// In moto mode one front in the benchmark process does all of it. In
// endpoint mode there are two: the benchmark's, for the stack's own calls
// with the central credentials (Organizations, SQS and STS to moto, the
// finding state to its endpoint), and the members' one, in the endpoints'
// process (emulator.go), which the workers' member configs are pointed at:
// it answers their AssumeRole and passes every call signed with a member's
// credentials to that account's endpoint, in process.
type front struct {
	*httptest.Server
	central string // the central account
	denied  map[string]bool

	mu       sync.Mutex
	backends map[string]http.Handler // by account (moto mode), the central account's included
	urls     map[string]string       // backend URL by account
	keys     map[string]string       // access key ID -> account
	assumed  map[string]int          // AssumeRole requests by role account
	// services, when set for a service (as SigV4 names it), serve it
	// whatever the account: the central finding state table's DynamoDB.
	services map[string]http.Handler
	// members are the accounts whose member side (their role's
	// credentials) is served by a wire-level endpoint, by account.
	members map[string]http.Handler
	// latency delays the AssumeRole answers the front makes itself.
	latency time.Duration
	issued  int // credentials issued
	// timer times the member calls the front passes to an endpoint
	// (there and back, the endpoint's latency included).
	timer durations
}

// durations collects durations.
type durations struct {
	mu sync.Mutex
	d  []time.Duration
}

func (d *durations) add(x time.Duration) {
	d.mu.Lock()
	d.d = append(d.d, x)
	d.mu.Unlock()
}

// since returns the durations added after the first n, and how many there are.
func (d *durations) since(n int) ([]time.Duration, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Duration(nil), d.d[min(n, len(d.d)):]...), len(d.d)
}

var (
	credentialRE  = regexp.MustCompile(`Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request`)
	accessKeyIDRE = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
)

// newFront starts a front; centralURL is the central account's backend
// ("" for none: the members' front, which serves only assumed roles).
func newFront(centralAccount, centralURL string, denied []string) (*front, error) {
	f := &front{central: centralAccount, denied: map[string]bool{}, backends: map[string]http.Handler{},
		urls: map[string]string{}, keys: map[string]string{}, assumed: map[string]int{}, members: map[string]http.Handler{}, services: map[string]http.Handler{}}
	for _, d := range denied {
		f.denied[d] = true
	}
	if centralURL != "" {
		if err := f.route(centralAccount, centralURL); err != nil {
			return nil, err
		}
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f, nil
}

// route sends account's requests to backendURL (a gap-filling proxy in
// front of a moto_server).
func (f *front) route(account, backendURL string) error {
	p, err := newProxy(backendURL)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backends[account], f.urls[account] = p, backendURL
	return nil
}

func newProxy(backendURL string) (*httputil.ReverseProxy, error) {
	u, err := url.Parse(backendURL)
	if err != nil {
		return nil, err
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024}
	return p, nil
}

// routeService sends every request for service to backendURL.
func (f *front) routeService(service, backendURL string) error {
	p, err := newProxy(backendURL)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services[service] = p
	return nil
}

// routeMember serves the calls signed with account's assumed-role
// credentials with h (a wire-level endpoint of that account), and makes
// the front answer AssumeRole into account itself.
func (f *front) routeMember(account string, h http.Handler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members[account] = h
}

// backend is account's backend, else the central account's (nil when the
// front has none).
func (f *front) backend(account string) http.Handler {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.backends[account]; ok {
		return p
	}
	return f.backends[f.central]
}

// frontLabels mark the front's goroutines in a CPU profile.
var frontLabels = pprof.WithLabels(context.Background(), pprof.Labels("side", "front"))

func (f *front) serve(w http.ResponseWriter, r *http.Request) {
	pprof.SetGoroutineLabels(frontLabels)
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		f.pass(f.backend(f.central), w, r)
		return
	}
	accessKey, service := m[1], m[2]
	f.mu.Lock()
	fixed := f.services[service]
	f.mu.Unlock()
	if fixed != nil {
		fixed.ServeHTTP(w, r)
		return
	}
	if service == "sts" {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") == "AssumeRole" {
			f.assumeRole(w, r, form.Get("RoleArn"), body)
			return
		}
	}
	f.mu.Lock()
	account, ok := f.keys[accessKey]
	member := f.members[account]
	f.mu.Unlock()
	if ok && member != nil {
		start := time.Now()
		member.ServeHTTP(w, r)
		f.timer.add(time.Since(start))
		return
	}
	if !ok {
		account = f.central
	}
	f.pass(f.backend(account), w, r)
}

// pass hands the request to h, or refuses it as AWS refuses credentials it
// does not know.
func (f *front) pass(h http.Handler, w http.ResponseWriter, r *http.Request) {
	if h == nil {
		wirefake.STSError(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid (no backend for these credentials).")
		return
	}
	h.ServeHTTP(w, r)
}

func (f *front) assumeRole(w http.ResponseWriter, r *http.Request, roleARN string, body []byte) {
	account := ""
	if a, err := arn.Parse(roleARN); err == nil {
		account = a.AccountID
	}
	f.mu.Lock()
	f.assumed[account]++
	target := f.urls[account]
	if target == "" {
		target = f.urls[f.central]
	}
	denied := f.denied[account]
	_, onEndpoint := f.members[account]
	f.mu.Unlock()
	if onEndpoint && f.latency > 0 {
		// As the endpoints delay every answer: AssumeRole is a call of the
		// scope's path (once per member and container).
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if denied {
		wirefake.STSError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf(
			"User: arn:aws:sts::%s:assumed-role/posture-auditor-WorkerFunctionRole/worker is not authorized to perform: sts:AssumeRole on resource: %s", f.central, roleARN))
		return
	}
	if onEndpoint {
		f.issue(w, account, roleARN, body)
		return
	}
	if target == "" {
		wirefake.STSError(w, http.StatusForbidden, "AccessDenied", "no backend serves "+roleARN)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimRight(target, "/")+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if k := accessKeyIDRE.FindSubmatch(out); k != nil && resp.StatusCode == http.StatusOK {
		f.mu.Lock()
		f.keys[string(k[1])] = account
		f.mu.Unlock()
	}
	for k, v := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// issue answers AssumeRole into account with fresh credentials (STS's
// Query/XML protocol), an hour long, whose access key routes to the
// account's endpoint from then on.
func (f *front) issue(w http.ResponseWriter, account, roleARN string, body []byte) {
	form, _ := url.ParseQuery(string(body))
	session := form.Get("RoleSessionName")
	f.mu.Lock()
	f.issued++
	n := f.issued
	key := fmt.Sprintf("ASIAORGBENCH%08X", n)
	f.keys[key] = account
	f.mu.Unlock()
	roleName := roleARN[strings.LastIndex(roleARN, "/")+1:]
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>%s</AccessKeyId>
      <SecretAccessKey>%s</SecretAccessKey>
      <SessionToken>%s</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAORGBENCH%08X:%s</AssumedRoleId>
      <Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn>
    </AssumedRoleUser>
    <PackedPolicySize>0</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>%s</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>`, key, randomHex(20), "orgbench-session-"+randomHex(32), time.Now().UTC().Add(time.Hour).Format(time.RFC3339),
		n, session, account, roleName, session, randomHex(16))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// deny makes AssumeRole into account fail with AccessDenied.
func (f *front) deny(account string) {
	f.mu.Lock()
	f.denied[account] = true
	f.mu.Unlock()
}

// assumeRoles counts the AssumeRole requests the front has seen, by the
// role's account.
func (f *front) assumeRoles() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for a, c := range f.assumed {
		out[a] = c
	}
	return out
}
