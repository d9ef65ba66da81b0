package endpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// rawJSONSeeds are documents well-formed and not: escapes, non-UTF-8
// bytes, duplicate and differently-cased keys, white space, numbers,
// nesting, trailing data.
var rawJSONSeeds = []string{
	``, ` `, `{}`, ` { } `, `[]`, `null`, `7`, `"s"`, `{`, `{"a":}`, `{"a":1}x`, `{"a":1} {"b":2}`, `{"a":1}` + "\n",
	`{"a":"b","c":[1,-2.5e3,true,false,null,{"d":[]},[[]],""],"e":{"f":{"g":"h"}}}`,
	"{\n\t\"a\" : [ 1 , { \"b\" : \"c\" } ] ,\r\n \"d\" : { } }",
	`{"a":1,"a":2,"A":3}`, `{"k\u0065y":"v\u00e9\n\"q\" \\ \/","\"":"\\","":""}`,
	"{\"a\":\"\xff\xfe\",\"\xff\":1}", `{"a":"\ud800","b":"\uD83D\uDE00"}`,
	`{"a":"]}\\","b":"\\\"]","c":"x\\\\"}`,
	`{"TransactItems":[{"Put":{"TableName":"t","Item":{"scope":{"S":"123|us-east-1|0"},"id":{"S":"arn:1"},"findingZ":{"B":"eJzLSM3JyVcozy/KSQEAGgQEXQ=="}},"ConditionExpression":"attribute_not_exists(#s) OR #s <= :s","ExpressionAttributeNames":{"#s":"saved"},"ExpressionAttributeValues":{":s":{"S":"2025-01-01T00:00:00.000Z"}}}}]}`,
	`{"Limit":100,"Big":123456789012345678901234567890,"Neg":-0.0e-10}`,
	`{"Findings":[{"Id":"1"}]}`, `{"findings":[{"Id":"1"}]}`, `{"Findings":[{"Id":"1"}],"Findings":[{"Id":"2"}]}`, `{"Findings":null}`,
	`{"Findings":"x"}`, `{"Findings":[1,null,"x",[{"Id":"3"}]]}`, ` {"Other":{"Findings":[]},"Findings":[ {"Id":"4"} , {"Id":"5"} ] } `,
	`{"F\u0069ndings":[{"Id":"6"}]}`, `[{"Id":"1","Details":{"a":[1]}},null,{}]`, `[1]`, `[{"a":1},2]`,
}

// decodeAsBefore decodes b as the endpoint decoded every JSON request.
func decodeAsBefore(b []byte) (map[string]any, error) {
	in := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return in, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := dec.Decode(&in)
	return in, err
}

// checkRawJSON compares the helpers of rawjson.go with encoding/json on b.
func checkRawJSON(t *testing.T, b []byte) {
	if got, ok := decodeObject(b); ok {
		want, err := decodeAsBefore(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeObject(%q) = %#v, encoding/json: %#v, %v", b, got, want, err)
		}
	}
	same := func(what string, got any, gotErr error, want any, wantErr error) {
		t.Helper()
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || (wantErr == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s(%q) = %#v, %v; encoding/json: %#v, %v", what, b, got, gotErr, want, wantErr)
		}
	}
	findings, err := importInput(b)
	var in struct{ Findings []json.RawMessage }
	wantErr := json.Unmarshal(b, &in)
	same("importInput", compactAll(findings), err, compactAll(in.Findings), wantErr)
	if !json.Valid(b) {
		return // the others are given values of valid documents only
	}
	b = bytes.TrimSpace(b)
	m, err := objectMembers(b)
	var wantM map[string]json.RawMessage
	wantErr = json.Unmarshal(b, &wantM)
	same("objectMembers", compactMap(m), err, compactMap(wantM), wantErr)
	a, err := arrayOfObjects(b)
	var wantA []map[string]json.RawMessage
	wantErr = json.Unmarshal(b, &wantA)
	var got, want []any
	for _, x := range a {
		got = append(got, compactMap(x))
	}
	for _, x := range wantA {
		want = append(want, compactMap(x))
	}
	same("arrayOfObjects", got, err, want, wantErr)
	if err == nil {
		// Put back together, each object is the same JSON as json.Marshal's.
		for i, x := range a {
			var g, w any
			if e1, e2 := json.Unmarshal(appendObject(nil, x), &g), json.Unmarshal(mustMarshal(t, wantA[i]), &w); e1 != nil || e2 != nil || !reflect.DeepEqual(g, w) {
				t.Errorf("appendObject of %q's element %d: %v %v, json.Marshal's %v %v", b, i, g, e1, w, e2)
			}
		}
	}
}

func compactAll(rs []json.RawMessage) []string {
	var out []string
	for _, r := range rs {
		var b bytes.Buffer
		_ = json.Compact(&b, r)
		out = append(out, b.String())
	}
	return out
}

func compactMap(m map[string]json.RawMessage) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, r := range m {
		var b bytes.Buffer
		_ = json.Compact(&b, r)
		out[k] = b.String()
	}
	return out
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRawJSONAsEncodingJSON(t *testing.T) {
	for _, s := range rawJSONSeeds {
		checkRawJSON(t, []byte(s))
	}
}

func FuzzRawJSON(f *testing.F) {
	for _, s := range rawJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkRawJSON(t, b) })
}
