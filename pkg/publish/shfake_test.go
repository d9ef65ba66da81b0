package publish_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// shFake is a wire-level Security Hub (REST-JSON, the real SDK client talks
// to it) with AWS's semantics where moto differs: an update only takes when
// its UpdatedAt is later than the stored one, GetFindings pages by
// MaxResults, and it can refuse the region, fail chosen findings, or
// enforce the BatchImportFindings quota. Like moto it ignores Filters, so
// tests prove the client filters too; it records every request body.
type shFake struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	stored   map[string]map[string]any // Id -> finding as sent
	order    []string
	reads    []map[string]any // GetFindings request bodies
	imports  [][]map[string]any
	ignored  int            // updates dropped for a stale UpdatedAt
	failIDs  map[string]int // Id -> failures left (negative: always)
	failCode string
	// hideFailed answers FailedCount without listing the failed findings.
	hideFailed bool
	// refuse answers every call with this error code (e.g.
	// InvalidAccessException) and status.
	refuse       string
	refuseStatus int
	// quota, when set, answers ThrottlingException past it.
	quota     *rate.Limiter
	throttled int
}

func newSHFake(t *testing.T) *shFake {
	f := &shFake{t: t, stored: map[string]map[string]any{}, failIDs: map[string]int{}, failCode: "InternalFailure"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *shFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != "" {
		f.fail(w, f.refuseStatus, f.refuse, "Account is not subscribed to AWS Security Hub")
		return
	}
	switch r.URL.Path {
	case "/findings":
		f.reads = append(f.reads, in)
		f.getFindings(w, in)
	case "/findings/import":
		if f.quota != nil && !f.quota.Allow() {
			f.throttled++
			f.fail(w, http.StatusTooManyRequests, "ThrottlingException", "Rate exceeded")
			return
		}
		f.importFindings(w, in)
	default:
		http.NotFound(w, r)
	}
}

func (f *shFake) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"Code":%q,"Message":%q}`, code, msg)
}

func (f *shFake) getFindings(w http.ResponseWriter, in map[string]any) {
	size := 100
	if v, ok := in["MaxResults"].(float64); ok {
		size = int(v)
	}
	start := 0
	if tok, ok := in["NextToken"].(string); ok && tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	end := min(start+size, len(f.order))
	page := []map[string]any{}
	for _, id := range f.order[start:end] {
		page = append(page, f.stored[id])
	}
	out := map[string]any{"Findings": page}
	if end < len(f.order) {
		out["NextToken"] = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *shFake) importFindings(w http.ResponseWriter, in map[string]any) {
	raw, _ := in["Findings"].([]any)
	var batch []map[string]any
	var failed []map[string]string
	for _, x := range raw {
		fd := x.(map[string]any)
		batch = append(batch, fd)
		id, _ := fd["Id"].(string)
		if n := f.failIDs[id]; n != 0 {
			if n > 0 {
				f.failIDs[id] = n - 1
			}
			failed = append(failed, map[string]string{"Id": id, "ErrorCode": f.failCode, "ErrorMessage": "injected"})
			continue
		}
		f.put(fd)
	}
	f.imports = append(f.imports, batch)
	listed := failed
	if f.hideFailed {
		listed = nil
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"FailedCount": len(failed), "SuccessCount": len(raw) - len(failed), "FailedFindings": listed})
}

// put stores fd as AWS does: a new Id is created; an existing one is
// updated only when UpdatedAt is later, and only in the provider's fields.
func (f *shFake) put(fd map[string]any) {
	id := fd["Id"].(string)
	merged := make(map[string]any, len(fd)) // the recorded request stays as sent
	for k, v := range fd {
		merged[k] = v
	}
	old, ok := f.stored[id]
	if !ok {
		f.stored[id] = merged
		f.order = append(f.order, id)
		return
	}
	if !after(fd["UpdatedAt"], old["UpdatedAt"]) {
		f.ignored++
		return
	}
	for _, k := range []string{"Workflow", "Note", "UserDefinedFields", "VerificationState"} {
		if v, ok := old[k]; ok {
			merged[k] = v
		}
	}
	f.stored[id] = merged
}

func after(a, b any) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(a))
	tb, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(b))
	return err1 == nil && err2 == nil && ta.After(tb)
}

// seed stores findings directly, as an earlier run would have.
func (f *shFake) seed(fs ...map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fd := range fs {
		f.put(fd)
	}
}

func (f *shFake) get(id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stored[id]
}

func (f *shFake) importCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.imports)
}

func (f *shFake) readBodies() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.reads...)
}

// attempts folds consecutive identical requests into one: a retried
// attempt (see wirefake.TestRetries) is the same body again.
func attempts(reqs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range reqs {
		if len(out) > 0 && reflect.DeepEqual(out[len(out)-1], r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// sentKeys lists every top-level key of every finding imported.
func (f *shFake) sentKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[string]bool{}
	for _, b := range f.imports {
		for _, fd := range b {
			for k := range fd {
				seen[k] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// toMap round-trips v through JSON.
func toMap(t *testing.T, v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
