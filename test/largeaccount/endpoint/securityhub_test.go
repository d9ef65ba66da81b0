package endpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestSecurityHubAsBefore sends the same BatchImportFindings and
// GetFindings requests, well-formed and not, to the Security Hub handlers
// and to the ones they replaced (securityhub_reference_test.go), each on
// its own endpoint: the answers and the findings kept must be the same
// JSON (ProcessedAt, the time of the import, aside).
func TestSecurityHubAsBefore(t *testing.T) {
	cur, ref := start(t, Options{Scale: 0.005}), start(t, Options{Scale: 0.005})
	account := cur.Data.ID
	product := "arn:aws:securityhub:us-east-1:" + account + ":product/" + account + "/default"
	finding := func(id, updated string, edits ...func(m map[string]any)) map[string]any {
		m := map[string]any{
			"SchemaVersion": "2018-10-08", "Id": id, "ProductArn": product, "GeneratorId": "posture-auditor/kms.rotation", "AwsAccountId": account,
			"Types": []any{"Software and Configuration Checks/AWS Security Best Practices"}, "CreatedAt": "2025-01-01T00:00:00.000Z", "UpdatedAt": updated,
			"Severity": map[string]any{"Label": "HIGH"}, "Title": "Keys <rotate> & \u2028 \"quoted\"", "Description": "a \\ back\\slash, \"quotes\", ] } [ {, é, 日本",
			"Resources": []any{
				map[string]any{"Type": "AwsKmsKey", "Id": "arn:aws:kms:us-east-1:" + account + ":key/" + id, "Partition": "aws", "Region": "us-east-1",
					"Details": map[string]any{"AwsKmsKey": map[string]any{"KeyId": id, "Odd": []any{1, 2.5, true, nil, map[string]any{"a": "]}\\\""}}}}},
				map[string]any{"Type": "Other", "Id": "other/" + id},
			},
			"ProductFields": map[string]any{"posture-auditor/ObservedAt": "2025-01-01T00:00:00.000Z"},
			"Compliance":    map[string]any{"Status": "FAILED"},
			"Workflow":      map[string]any{"Status": "RESOLVED"},
		}
		for _, e := range edits {
			e(m)
		}
		return m
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	indented := func(v any) string {
		var out bytes.Buffer
		if err := json.Indent(&out, []byte(enc(v)), " ", "\t "); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	body := func(fs ...string) string { return `{"Findings":[` + strings.Join(fs, ",") + `]}` }
	const t1, t2, t0 = "2025-02-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z", "2024-12-01T00:00:00Z"
	many := func(n int) string {
		var fs []string
		for i := range n {
			fs = append(fs, enc(finding(fmt.Sprintf("many-%03d", i), t1)))
		}
		return body(fs...)
	}
	var resources33 []any
	for i := range 33 {
		resources33 = append(resources33, map[string]any{"Type": "Other", "Id": fmt.Sprint(i)})
	}
	imports := []string{
		body(
			enc(finding("f-1", t1)),
			indented(finding("f-2", t1)),
			strings.Replace(enc(finding("f-3", t1)), `"Title"`, `"Titl\u0065"`, 1),               // an escaped key
			strings.Replace(enc(finding("f-4", t1)), `{`, `{"Title":"first","Id":"f-4-dup",`, 1), // duplicate keys, the last one wins
			enc(finding(`f-5 "é" \ </>`, t1)),
			strings.Replace(enc(finding("f-6", t1)), `"Id":"f-6"`, `"Id":"f\u002d6"`, 1),
			strings.Replace(enc(finding("f-7", t1)), "日本", "\xff\xfe", 1), // not UTF-8
			enc(finding("f-8", t1, del("Severity"), set("FindingProviderFields", map[string]any{"Severity": map[string]any{"Label": "LOW"}, "Types": []any{"x"}}))),
			enc(finding("f-9", t1, set("RecordState", "ARCHIVED"))),
			enc(finding("f-10", t1, set("Resources", []any{nil, map[string]any{"Type": "Other", "Id": "r"}}))),
			enc(finding("f-11", t1, set("Resources", []any{map[string]any{"Type": "Other", "Id": "only", "Details": nil}}))),
			enc(finding("bad-1", t1, del("Title"))),
			enc(finding("bad-2", t1, set("Title", ""))),
			enc(finding("bad-3", t1, set("Types", nil))),
			enc(finding("bad-4", t1, del("Types"), del("Severity"))),
			enc(finding("bad-5", "yesterday")),
			enc(finding("bad-6", t1, set("CreatedAt", "2025"))),
			enc(finding("bad-7", t1, set("Resources", []any{}))),
			enc(finding("bad-8", t1, set("Resources", "arn"))),
			enc(finding("bad-9", t1, set("Resources", resources33))),
			enc(finding("bad-10", t1, set("Resources", []any{"arn"}))),
			enc(finding("bad-11", t1, set("Description", strings.Repeat("x", maxFindingBytes)))),
			`7`, `[1]`, `"finding"`,
		),
		// Updates: later ones replace (the workflow kept), earlier ones are ignored.
		body(enc(finding("f-1", t2, set("Title", "updated"))), enc(finding("f-2", t0)), indented(finding("f-8", t2, set("Workflow", map[string]any{"Status": "NEW"})))),
		" \n" + body(enc(finding("f-12", t1))) + "\t ",
		`{"Other":1,"Findings":[` + enc(finding("f-13", t1)) + `],"More":{"Findings":[]}}`,
		`{"findings":[` + enc(finding("f-14", t1)) + `]}`,
		`{"Findings":[` + enc(finding("f-15", t1)) + `],"Findings":[` + enc(finding("f-16", t1)) + `]}`,
		`{"Findings":null}`, `{"Findings":"x"}`, `{"Findings":[]}`, `[]`, `null`, `{"Findings":[`, ``,
		body(enc(finding("f-17", t1)), enc(finding("denied", t1, set("AwsAccountId", "000000000000")))),
		body(enc(finding("f-18", t1)), `null`),
		many(100), many(101),
	}
	for i, b := range imports {
		c1, a1 := handle(cur, "BatchImportFindings", b, (*req).importFindings)
		c2, a2 := handle(ref, "BatchImportFindings", b, (*req).refImportFindings)
		if c1 != c2 || !sameJSON(t, a1, a2) {
			t.Errorf("import %d: answered %d %s, before %d %s", i, c1, a1, c2, a2)
		}
		if s1, s2 := hubState(t, cur), hubState(t, ref); !reflect.DeepEqual(s1, s2) {
			t.Fatalf("import %d: findings kept differ:\n%v\nbefore:\n%v", i, s1, s2)
		}
	}
	if n := cur.StoredFindings()["us-east-1"]; n < 100 {
		t.Fatalf("%d findings kept, want over 100", n)
	}
	gets := []string{
		`{}`, `{"MaxResults":100}`, `{"MaxResults":7}`,
		`{"Filters":{"Id":[{"Value":"f-1","Comparison":"EQUALS"},{"Value":"many-01","Comparison":"PREFIX"}]},"MaxResults":4}`,
		`{"Filters":{"ResourceId":[{"Value":"other/","Comparison":"PREFIX"}],"GeneratorId":[{"Value":"posture-auditor/kms.rotation","Comparison":"EQUALS"}]},"MaxResults":3}`,
		`{"Filters":{"Title":[{"Value":"x","Comparison":"EQUALS"}]}}`, `{"MaxResults":0}`, `{"NextToken":"bm90IG1pbmU"}`, `{`,
	}
	for i, g := range gets {
		token := ""
		for page := 0; ; page++ {
			in := g
			if token != "" {
				in = strings.TrimSuffix(g, "}") + `,"NextToken":` + enc(token) + "}"
			}
			c1, a1 := handle(cur, "GetFindings", in, (*req).getFindings)
			c2, a2 := handle(ref, "GetFindings", in, (*req).refGetFindings)
			if c1 != c2 || !sameJSON(t, a1, a2) {
				t.Fatalf("get %d page %d: answered %d %s, before %d %s", i, page, c1, a1, c2, a2)
			}
			var out struct{ NextToken string }
			_ = json.Unmarshal(a1, &out)
			if token = out.NextToken; token == "" {
				break
			}
		}
	}
}

// handle answers one Security Hub request of s with h.
func handle(s *Server, op, body string, h func(*req)) (int, []byte) {
	rec := httptest.NewRecorder()
	q := &req{s: s, w: rec, r: httptest.NewRequest("POST", "/", strings.NewReader(body)), body: []byte(body), region: "us-east-1",
		service: "securityhub", op: op, proto: protoRESTJSON, id: "test"}
	h(q)
	return rec.Code, rec.Body.Bytes()
}

// sameJSON reports whether a and b decode to the same value, every
// ProcessedAt the same.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(decoded(t, a), decoded(t, b))
}

func decoded(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	var clear func(v any)
	clear = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["ProcessedAt"]; ok {
				v["ProcessedAt"] = "set"
			}
			for _, x := range v {
				clear(x)
			}
		case []any:
			for _, x := range v {
				clear(x)
			}
		}
	}
	clear(v)
	return v
}

// hubState is every finding s keeps, its document decoded.
func hubState(t *testing.T, s *Server) map[string]string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	out := map[string]string{}
	for r, hr := range s.hub.regions {
		for k, f := range hr.findings {
			out[r+" "+k] = fmt.Sprintf("%q %q %q %q %q %s %q %v", f.key, f.id, f.product, f.account, f.generator, f.updatedAt, f.resourceIDs, decoded(t, f.doc))
		}
	}
	return out
}
