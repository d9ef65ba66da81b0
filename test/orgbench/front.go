package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// front stands before the emulator on 127.0.0.1. It does two things moto
// cannot:
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
type front struct {
	*httptest.Server
	central string // the central account's backend
	denied  map[string]bool

	mu       sync.Mutex
	backends map[string]*httputil.ReverseProxy // by account
	urls     map[string]string                 // backend URL by account
	keys     map[string]string                 // access key ID -> account
	assumed  map[string]int                    // AssumeRole requests by role account
	// services, when set for a service (as SigV4 names it), serve it
	// whatever the account: the central finding state table's DynamoDB.
	services map[string]*httputil.ReverseProxy
}

var (
	credentialRE  = regexp.MustCompile(`Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request`)
	accessKeyIDRE = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
)

func newFront(centralAccount, centralURL string, denied []string) (*front, error) {
	f := &front{central: centralAccount, denied: map[string]bool{}, backends: map[string]*httputil.ReverseProxy{},
		urls: map[string]string{}, keys: map[string]string{}, assumed: map[string]int{}}
	for _, d := range denied {
		f.denied[d] = true
	}
	if err := f.route(centralAccount, centralURL); err != nil {
		return nil, err
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
	if f.services == nil {
		f.services = map[string]*httputil.ReverseProxy{}
	}
	f.services[service] = p
	return nil
}

func (f *front) backend(account string) *httputil.ReverseProxy {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.backends[account]; ok {
		return p
	}
	return f.backends[f.central]
}

func (f *front) serve(w http.ResponseWriter, r *http.Request) {
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		f.backend(f.central).ServeHTTP(w, r)
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
	f.mu.Unlock()
	if !ok {
		account = f.central
	}
	f.backend(account).ServeHTTP(w, r)
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
	f.mu.Unlock()
	if denied {
		stsError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf(
			"User: arn:aws:sts::%s:assumed-role/posture-auditor-WorkerFunctionRole/worker is not authorized to perform: sts:AssumeRole on resource: %s", f.central, roleARN))
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

// deny makes AssumeRole into account fail with AccessDenied.
func (f *front) deny(account string) {
	f.mu.Lock()
	f.denied[account] = true
	f.mu.Unlock()
}

// assumeRoleTotal counts every AssumeRole request the front has seen.
func (f *front) assumeRoleTotal() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.assumed {
		n += c
	}
	return n
}

func (f *front) assumeRoleCalls(account string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.assumed[account]
}

// stsError writes an STS Query-protocol error response.
func stsError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>%s</Code>
    <Message>%s</Message>
  </Error>
  <RequestId>4fd1ec4c-0f3f-4e8b-9c3a-7d1e2f3a4b5c</RequestId>
</ErrorResponse>`, code, message)
}
