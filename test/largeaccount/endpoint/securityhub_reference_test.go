package endpoint

// The Security Hub handlers as they were before they stopped decoding and
// re-encoding every finding with encoding/json (rawjson.go): the reference
// the new ones are compared with (TestSecurityHubAsBefore).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

func (q *req) refImportFindings() {
	if len(q.body) > maxImportBytes {
		q.invalid("InvalidInputException", "request of %d bytes is over the 6 MB limit", len(q.body))
		return
	}
	var in struct{ Findings []json.RawMessage }
	if err := json.Unmarshal(q.body, &in); err != nil {
		q.invalid("InvalidInputException", "%s", err)
		return
	}
	if len(in.Findings) == 0 || len(in.Findings) > maxImportFindings {
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
	for _, raw := range in.Findings {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			fail("", "InvalidInput", err.Error())
			continue
		}
		f := &storedFinding{id: refJSONString(top["Id"]), product: refJSONString(top["ProductArn"]), account: refJSONString(top["AwsAccountId"]), generator: refJSONString(top["GeneratorId"])}
		if f.account != q.s.Data.ID || f.product != q.productARN() {
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
		if _, has := top["Severity"]; !has && !refHasMember(top["FindingProviderFields"], "Severity") {
			missing = append(missing, "Severity")
		}
		if _, has := top["Types"]; !has && !refHasMember(top["FindingProviderFields"], "Types") {
			missing = append(missing, "Types")
		}
		if len(missing) > 0 {
			fail(f.id, "InvalidInput", "Finding is missing required attributes: "+strings.Join(missing, ", "))
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, refJSONString(top["UpdatedAt"]))
		if err != nil {
			fail(f.id, "InvalidInput", "UpdatedAt is not an ISO 8601 timestamp")
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, refJSONString(top["CreatedAt"])); err != nil {
			fail(f.id, "InvalidInput", "CreatedAt is not an ISO 8601 timestamp")
			continue
		}
		f.updatedAt = t
		var resources []map[string]json.RawMessage
		if err := json.Unmarshal(top["Resources"], &resources); err != nil || len(resources) == 0 || len(resources) > 32 {
			fail(f.id, "InvalidInput", "Resources must list 1 to 32 resources")
			continue
		}
		for _, r := range resources {
			f.resourceIDs = append(f.resourceIDs, refJSONString(r["Id"]))
			delete(r, "Details")
		}
		top["Resources"], _ = json.Marshal(resources)
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
		wf := map[string]json.RawMessage{"Workflow": json.RawMessage(`{"Status":"NEW"}`), "WorkflowState": json.RawMessage(`"NEW"`)}
		if old != nil {
			var prev map[string]json.RawMessage
			_ = json.Unmarshal(old.doc, &prev)
			wf = map[string]json.RawMessage{"Workflow": prev["Workflow"], "WorkflowState": prev["WorkflowState"]}
		}
		for k, v := range wf {
			if v != nil {
				p.top[k] = v
			}
		}
		if _, has := p.top["RecordState"]; !has {
			p.top["RecordState"] = json.RawMessage(`"ACTIVE"`)
		}
		p.f.doc, _ = json.Marshal(p.top)
		if old == nil {
			hr.dirty = true
		}
		hr.findings[p.f.key] = p.f
	}
	h.mu.Unlock()
	if failed == nil {
		failed = []map[string]string{}
	}
	q.json(map[string]any{"FailedCount": len(failed), "SuccessCount": len(in.Findings) - len(failed), "FailedFindings": failed})
}

func refJSONString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func refHasMember(raw json.RawMessage, k string) bool {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	_, ok := m[k]
	return ok
}

func (q *req) refGetFindings() {
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
	next := ""
	for _, k := range hr.sorted[start:] {
		f := hr.findings[k]
		if !match([]string{f.product}, in.Filters["ProductArn"]) || !match([]string{f.account}, in.Filters["AwsAccountId"]) ||
			!match([]string{f.generator}, in.Filters["GeneratorId"]) || !match([]string{f.id}, in.Filters["Id"]) ||
			!match(f.resourceIDs, in.Filters["ResourceId"]) {
			continue
		}
		if len(out) == size {
			next = base64.RawURLEncoding.EncodeToString([]byte(q.region + "|" + refPrevKey(out, hr)))
			break
		}
		out = append(out, f.doc)
	}
	h.mu.Unlock()
	if out == nil {
		out = []json.RawMessage{}
	}
	res := map[string]any{"Findings": out}
	if next != "" {
		res["NextToken"] = next
	}
	q.json(res)
}

// prevKey is the key of the last finding of a page.
func refPrevKey(page []json.RawMessage, hr *hubRegion) string {
	var f struct{ Id, ProductArn string }
	_ = json.Unmarshal(page[len(page)-1], &f)
	return f.ProductArn + "|" + f.Id
}
