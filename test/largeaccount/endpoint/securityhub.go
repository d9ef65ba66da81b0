package endpoint

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

func init() { register("securityhub", serveSecurityHub) }

// Security Hub's BatchImportFindings limits (API reference).
const (
	maxImportFindings = 100
	maxImportBytes    = 6 * 1024 * 1024
	maxFindingBytes   = 240 * 1024
	maxGetFindings    = 100
)

// requiredFindingFields are the ASFF attributes a finding must carry.
var requiredFindingFields = []string{"AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources", "SchemaVersion", "Title", "UpdatedAt"}

// securityHub keeps the imported findings of every region.
type securityHub struct {
	mu      sync.Mutex
	regions map[string]*hubRegion
}

type hubRegion struct {
	findings map[string]*storedFinding // by ProductArn|Id
	sorted   []string
	dirty    bool
}

// storedFinding is the compact form kept of a finding: the fields the
// filters match on, and the finding's JSON without resource details (the
// bulk of a finding; the publisher reads none of them back).
type storedFinding struct {
	key                             string
	id, product, account, generator string
	updatedAt                       time.Time
	resourceIDs                     []string
	doc                             []byte
	// workflow and workflowState are the doc's Workflow and
	// WorkflowState, kept by an update.
	workflow, workflowState json.RawMessage
}

func newSecurityHub() *securityHub { return &securityHub{regions: map[string]*hubRegion{}} }

func (h *securityHub) region(r string) *hubRegion {
	hr := h.regions[r]
	if hr == nil {
		hr = &hubRegion{findings: map[string]*storedFinding{}}
		h.regions[r] = hr
	}
	return hr
}

// StoredFindings is how many findings Security Hub holds in each region.
func (s *Server) StoredFindings() map[string]int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	out := map[string]int{}
	for r, hr := range s.hub.regions {
		out[r] = len(hr.findings)
	}
	return out
}

// serveSecurityHub answers BatchImportFindings and GetFindings (REST-JSON).
//
// BatchImportFindings: at most 100 findings and 6 MB a call (else
// InvalidInputException); a finding of another account or product fails
// the whole call with AccessDeniedException, as AWS does; a finding over
// 240 KB or missing a required attribute is reported in FailedFindings; an
// update only takes effect when its UpdatedAt is later than the stored one
// (otherwise it counts as a success and changes nothing).
//
// GetFindings: the filters ProductArn, AwsAccountId, GeneratorId, Id and
// ResourceId with EQUALS or PREFIX (values of a field OR'ed, fields
// AND'ed), MaxResults up to 100, NextToken. Any other filter is refused so
// a client change is noticed.
func serveSecurityHub(q *req) {
	switch q.op {
	case "BatchImportFindings":
		q.importFindings()
	case "GetFindings":
		q.getFindings()
	default:
		q.unknownOperation()
	}
}

func (q *req) productARN() string {
	a := q.s.Data
	return "arn:aws:securityhub:" + q.region + ":" + a.ID + ":product/" + a.ID + "/default"
}

func (q *req) importFindings() {
	if len(q.body) > maxImportBytes {
		q.invalid("InvalidInputException", "request of %d bytes is over the 6 MB limit", len(q.body))
		return
	}
	findings, err := importInput(q.body)
	if err != nil {
		q.invalid("InvalidInputException", "%s", err)
		return
	}
	if len(findings) == 0 || len(findings) > maxImportFindings {
		q.invalid("InvalidInputException", "1 validation error detected: Value at 'findings' failed to satisfy constraint: Member must have length between 1 and %d", maxImportFindings)
		return
	}
	type parsed struct {
		top map[string]json.RawMessage
		f   *storedFinding
	}
	var failed []map[string]string
	var ok []parsed
	fail := func(id, code, msg string) {
		failed = append(failed, map[string]string{"Id": id, "ErrorCode": code, "ErrorMessage": msg})
	}
	product := q.productARN()
	for _, raw := range findings {
		top, err := objectMembers(raw)
		if err != nil {
			fail("", "InvalidInput", err.Error())
			continue
		}
		f := &storedFinding{id: jsonString(top["Id"]), product: jsonString(top["ProductArn"]), account: jsonString(top["AwsAccountId"]), generator: jsonString(top["GeneratorId"])}
		if f.account != q.s.Data.ID || f.product != product {
			q.fail(http.StatusForbidden, "AccessDeniedException", fmt.Sprintf("User: arn:aws:iam::%s:user/largeaccount-bench is not authorized to perform: securityhub:BatchImportFindings on resource: %s", q.s.Data.ID, f.product))
			return
		}
		if len(raw) > maxFindingBytes {
			fail(f.id, "InvalidInput", fmt.Sprintf("Finding size %d bytes exceeds the 240 KB limit", len(raw)))
			continue
		}
		var missing []string
		for _, k := range requiredFindingFields {
			if v, has := top[k]; !has || len(v) == 0 || string(v) == "null" || string(v) == `""` || string(v) == "[]" {
				missing = append(missing, k)
			}
		}
		if _, has := top["Severity"]; !has && !hasMember(top["FindingProviderFields"], "Severity") {
			missing = append(missing, "Severity")
		}
		if _, has := top["Types"]; !has && !hasMember(top["FindingProviderFields"], "Types") {
			missing = append(missing, "Types")
		}
		if len(missing) > 0 {
			fail(f.id, "InvalidInput", "Finding is missing required attributes: "+strings.Join(missing, ", "))
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, jsonString(top["UpdatedAt"]))
		if err != nil {
			fail(f.id, "InvalidInput", "UpdatedAt is not an ISO 8601 timestamp")
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, jsonString(top["CreatedAt"])); err != nil {
			fail(f.id, "InvalidInput", "CreatedAt is not an ISO 8601 timestamp")
			continue
		}
		f.updatedAt = t
		resources, err := arrayOfObjects(top["Resources"])
		if err != nil || len(resources) == 0 || len(resources) > 32 {
			fail(f.id, "InvalidInput", "Resources must list 1 to 32 resources")
			continue
		}
		var rs []byte
		rs = append(rs, '[')
		for i, r := range resources {
			f.resourceIDs = append(f.resourceIDs, jsonString(r["Id"]))
			delete(r, "Details")
			if i > 0 {
				rs = append(rs, ',')
			}
			rs = appendObject(rs, r)
		}
		top["Resources"] = append(rs, ']')
		f.key = f.product + "|" + f.id
		ok = append(ok, parsed{top, f})
	}
	h := q.s.hub
	h.mu.Lock()
	hr := h.region(q.region)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	for _, p := range ok {
		old := hr.findings[p.f.key]
		if old != nil && !p.f.updatedAt.After(old.updatedAt) {
			continue // not later than what is stored: ignored, as AWS does
		}
		p.top["ProcessedAt"] = json.RawMessage(`"` + now + `"`)
		// Workflow belongs to the customer: kept on update, NEW on creation.
		p.top["Workflow"], p.top["WorkflowState"] = json.RawMessage(`{"Status":"NEW"}`), json.RawMessage(`"NEW"`)
		if old != nil {
			p.top["Workflow"], p.top["WorkflowState"] = old.workflow, old.workflowState
		}
		p.f.workflow, p.f.workflowState = p.top["Workflow"], p.top["WorkflowState"]
		if _, has := p.top["RecordState"]; !has {
			p.top["RecordState"] = json.RawMessage(`"ACTIVE"`)
		}
		p.f.doc = appendObject(nil, p.top)
		if old == nil {
			hr.dirty = true
		}
		hr.findings[p.f.key] = p.f
	}
	h.mu.Unlock()
	if failed == nil {
		failed = []map[string]string{}
	}
	q.json(map[string]any{"FailedCount": len(failed), "SuccessCount": len(findings) - len(failed), "FailedFindings": failed})
}

// jsonString is the string a JSON value holds ("" for any other value).
func jsonString(raw json.RawMessage) string {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		// Without escapes (a string of a valid document then holds no
		// quote either) and in UTF-8, it is its own text.
		if s := raw[1 : n-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
			return string(s)
		}
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func hasMember(raw json.RawMessage, k string) bool {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	_, ok := m[k]
	return ok
}

type stringFilter struct {
	Value      string
	Comparison string
}

func (q *req) getFindings() {
	var in struct {
		Filters      map[string][]stringFilter
		MaxResults   *int
		NextToken    string
		SortCriteria json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(q.body))
	if err := dec.Decode(&in); err != nil {
		q.invalid("InvalidInputException", "%s", err)
		return
	}
	size := maxGetFindings
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxGetFindings {
			q.invalid("InvalidInputException", "MaxResults must be between 1 and %d", maxGetFindings)
			return
		}
		size = *in.MaxResults
	}
	served := map[string]bool{"ProductArn": true, "AwsAccountId": true, "GeneratorId": true, "Id": true, "ResourceId": true}
	for field, fs := range in.Filters {
		if !served[field] {
			q.invalid("InvalidInputException", "filter %s is not served by the largeaccount endpoint", field)
			return
		}
		for _, f := range fs {
			if f.Comparison != "EQUALS" && f.Comparison != "PREFIX" {
				q.invalid("InvalidInputException", "comparison %s is not served by the largeaccount endpoint", f.Comparison)
				return
			}
		}
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || !strings.HasPrefix(string(b), q.region+"|") {
			q.invalid("InvalidInputException", "The NextToken is not valid.")
			return
		}
		after = strings.TrimPrefix(string(b), q.region+"|")
	}
	match := func(vals []string, fs []stringFilter) bool {
		if len(fs) == 0 {
			return true
		}
		for _, f := range fs {
			for _, v := range vals {
				if f.Comparison == "EQUALS" && v == f.Value || f.Comparison == "PREFIX" && strings.HasPrefix(v, f.Value) {
					return true
				}
			}
		}
		return false
	}
	h := q.s.hub
	h.mu.Lock()
	hr := h.region(q.region)
	if hr.dirty || len(hr.sorted) != len(hr.findings) {
		hr.sorted = hr.sorted[:0]
		for k := range hr.findings {
			hr.sorted = append(hr.sorted, k)
		}
		sort.Strings(hr.sorted)
		hr.dirty = false
	}
	start := sort.SearchStrings(hr.sorted, after)
	if after != "" && start < len(hr.sorted) && hr.sorted[start] == after {
		start++
	}
	var out []json.RawMessage
	next, last := "", ""
	for _, k := range hr.sorted[start:] {
		f := hr.findings[k]
		if !match([]string{f.product}, in.Filters["ProductArn"]) || !match([]string{f.account}, in.Filters["AwsAccountId"]) ||
			!match([]string{f.generator}, in.Filters["GeneratorId"]) || !match([]string{f.id}, in.Filters["Id"]) ||
			!match(f.resourceIDs, in.Filters["ResourceId"]) {
			continue
		}
		if len(out) == size {
			next = base64.RawURLEncoding.EncodeToString([]byte(q.region + "|" + last))
			break
		}
		out, last = append(out, f.doc), k
	}
	h.mu.Unlock()
	// The stored documents are JSON already: the answer is put together
	// around them, {"Findings":[...],"NextToken":"..."}.
	n := len(`{"Findings":[],"NextToken":""}`) + len(next) + len(out)
	for _, d := range out {
		n += len(d)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"Findings":[`...)
	for i, d := range out {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, d...)
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"NextToken":"`...)
		b = append(b, next...) // URL-safe base64: nothing to escape
		b = append(b, '"')
	}
	q.rawJSON(append(b, '}'))
}
