package gapfill

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Security Hub gaps in moto 5.2:
//   - BatchImportFindings and GetFindings are accepted in a region where
//     Security Hub is not enabled; AWS answers InvalidAccessException. The
//     hook asks moto's own DescribeHub (which does fail there) and answers
//     as AWS does.
//   - Tests need BatchImportFindings to report some findings in
//     FailedFindings (AWS does so under load or for a bad finding); moto
//     never does. FailImports arranges it.
//
// GetFindings still ignores Filters in moto: the publisher filters again on
// its side, and a wire-level fake in pkg/publish proves the filters are sent.
func init() { register("securityhub", securityHubHook) }

const failImportsKey = "securityhub:fail-imports"

// importFailure is how often an Id still fails, and with what code.
type importFailure struct {
	code  string
	times int // negative: always
}

// FailImports makes BatchImportFindings report each Id in ids as failed
// with code, ids[id] times (a negative count: every time); the other
// findings of the call are imported by moto as usual.
func (p *Proxy) FailImports(code string, ids map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, _ := p.state[failImportsKey].(map[string]*importFailure)
	if m == nil {
		m = map[string]*importFailure{}
		p.state[failImportsKey] = m
	}
	for id, n := range ids {
		m[id] = &importFailure{code: code, times: n}
	}
}

// takeFailure reports whether id must fail now, and consumes one failure.
func (p *Proxy) takeFailure(id string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, _ := p.state[failImportsKey].(map[string]*importFailure)
	f := m[id]
	if f == nil || f.times == 0 {
		return "", false
	}
	if f.times > 0 {
		f.times--
	}
	return f.code, true
}

func securityHubHook(p *Proxy, w http.ResponseWriter, r *Request) bool {
	if r.Method != http.MethodPost || (r.URL.Path != "/findings" && r.URL.Path != "/findings/import") {
		return false
	}
	if !p.hubEnabled(r) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "InvalidAccessException")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Code":    "InvalidAccessException",
			"Message": "Account is not subscribed to AWS Security Hub",
		})
		return true
	}
	if r.URL.Path == "/findings/import" {
		return p.importWithFailures(w, r)
	}
	return false
}

// hubEnabled asks moto's DescribeHub, signed as the intercepted request
// (same account and region).
func (p *Proxy) hubEnabled(r *Request) bool {
	req, err := http.NewRequest(http.MethodGet, p.moto.Scheme+"://"+p.moto.Host+"/accounts", nil)
	if err != nil {
		return true
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return true
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// importWithFailures forwards to moto the findings that are not to fail,
// and adds the others to moto's FailedFindings. It passes the request
// through untouched when no failure applies.
func (p *Proxy) importWithFailures(w http.ResponseWriter, r *Request) bool {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return false
	}
	var findings []json.RawMessage
	if err := json.Unmarshal(in["Findings"], &findings); err != nil {
		return false
	}
	var keep []json.RawMessage
	var failed []map[string]string
	for _, raw := range findings {
		var f struct{ Id string }
		_ = json.Unmarshal(raw, &f)
		if code, ok := p.takeFailure(f.Id); ok {
			failed = append(failed, map[string]string{"Id": f.Id, "ErrorCode": code, "ErrorMessage": "injected by the test (gapfill)"})
			continue
		}
		keep = append(keep, raw)
	}
	if len(failed) == 0 {
		return false
	}
	out := struct {
		FailedCount    int
		SuccessCount   int
		FailedFindings []map[string]string
	}{}
	if len(keep) > 0 {
		body, _ := json.Marshal(map[string]any{"Findings": keep})
		fwd := *r
		fwd.Body = body
		status, _, respBody, err := p.Forward(&fwd)
		if err != nil || status != http.StatusOK {
			http.Error(w, fmt.Sprintf("moto: %d %v %s", status, err, respBody), http.StatusBadGateway)
			return true
		}
		if err := json.Unmarshal(respBody, &out); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
	}
	out.FailedCount += len(failed)
	out.FailedFindings = append(out.FailedFindings, failed...)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
	return true
}
