// Package gapfill is an in-process reverse proxy in front of moto_server
// that fills what moto 5.2 lacks (see DESIGN.md): a field AWS returns, or an
// operation moto does not implement. The auditor talks to it through the
// SDK's standard AWS_ENDPOINT_URL exactly as it would talk to AWS; every
// other request passes through to moto untouched.
//
// Each service's fills live in their own file and register with
// register() in an init function. A hook sees the request with its service
// (the SigV4 signing name) and operation, and either answers it or returns
// false to let it through.
package gapfill

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// Request is one intercepted call.
type Request struct {
	*http.Request
	// Service is the SigV4 signing name: "kms", "ec2", "cloudfront", ...
	Service string
	// Operation is known for JSON (X-Amz-Target) and query (Action=)
	// protocols; REST services (CloudFront) leave it empty: match on
	// Method and URL.Path instead.
	Operation string
	Body      []byte
}

// Hook answers a request itself, or returns false to pass it to moto.
type Hook func(p *Proxy, w http.ResponseWriter, r *Request) bool

var hooks = map[string][]Hook{}

func register(service string, h Hook) { hooks[service] = append(hooks[service], h) }

// Proxy is a running gap-filling proxy.
type Proxy struct {
	URL    string
	server *httptest.Server
	moto   *url.URL

	mu    sync.Mutex
	state map[string]any
}

// New starts a proxy on 127.0.0.1 in front of motoURL.
func New(motoURL string) (*Proxy, error) {
	u, err := url.Parse(motoURL)
	if err != nil {
		return nil, err
	}
	p := &Proxy{moto: u, state: map[string]any{}}
	p.server = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.server.URL
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.server.Close() }

// Set stores state a hook reads (what a seeder configured).
func (p *Proxy) Set(key string, v any) {
	p.mu.Lock()
	p.state[key] = v
	p.mu.Unlock()
}

// Get returns state stored with Set.
func (p *Proxy) Get(key string) (any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.state[key]
	return v, ok
}

var signingService = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)

func (p *Proxy) serve(w http.ResponseWriter, hr *http.Request) {
	body, _ := io.ReadAll(hr.Body)
	hr.Body.Close()
	r := &Request{Request: hr, Body: body}
	if m := signingService.FindStringSubmatch(hr.Header.Get("Authorization")); m != nil {
		r.Service = m[1]
	}
	if t := hr.Header.Get("X-Amz-Target"); t != "" {
		r.Operation = t[strings.LastIndex(t, ".")+1:]
	} else if strings.HasPrefix(hr.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if v, err := url.ParseQuery(string(body)); err == nil {
			r.Operation = v.Get("Action")
		}
	}
	for _, h := range hooks[r.Service] {
		if h(p, w, r) {
			return
		}
	}
	status, header, respBody, err := p.Forward(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	copyHeader(w.Header(), header)
	w.WriteHeader(status)
	_, _ = w.Write(respBody)
}

// Forward sends r to moto unchanged and returns its answer, so a hook can
// patch moto's response instead of replacing it.
func (p *Proxy) Forward(r *Request) (int, http.Header, []byte, error) {
	out, err := http.NewRequest(r.Method, p.moto.Scheme+"://"+p.moto.Host+r.URL.RequestURI(), bytes.NewReader(r.Body))
	if err != nil {
		return 0, nil, nil, err
	}
	copyHeader(out.Header, r.Header)
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	resp.Header.Del("Content-Length")
	return resp.StatusCode, resp.Header, b, err
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
