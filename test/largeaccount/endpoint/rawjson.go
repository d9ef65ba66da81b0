package endpoint

// Splitting JSON documents into their members without decoding them, for
// Security Hub's findings: a BatchImportFindings body is hundreds of KB of
// findings that the endpoint only takes apart (a few top-level members
// read, the resources' details dropped) and puts back together. Decoding
// each finding into a map of raw members and encoding it back with
// encoding/json ran its scanner over every byte about eight times, most of
// the endpoints' process's CPU in the organization benchmark; here the body
// is validated once (json.Valid) and then cut at its members' boundaries.
//
// Whatever these helpers do not handle exactly as encoding/json would (an
// escaped or non-UTF-8 key, a value of another type than expected) they
// leave to encoding/json, so the results, errors included, are its own.

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// importInput returns the raw findings of a BatchImportFindings body, as
// json.Unmarshal into struct{ Findings []json.RawMessage } would.
func importInput(body []byte) ([]json.RawMessage, error) {
	if json.Valid(body) {
		var findings []json.RawMessage
		seen, ok := false, true
		members := eachMember(body, func(k string, v []byte) bool {
			if !strings.EqualFold(k, "Findings") {
				return true // ignored, as by encoding/json
			}
			if k != "Findings" || seen || v[0] != '[' {
				ok = false // left to encoding/json
				return false
			}
			seen = true
			return eachElement(v, func(e []byte) bool {
				findings = append(findings, e)
				return true
			})
		})
		if members && ok {
			return findings, nil
		}
	}
	var in struct{ Findings []json.RawMessage }
	err := json.Unmarshal(body, &in)
	return in.Findings, err
}

// objectMembers is json.Unmarshal of raw (an element of a valid document)
// into a map of raw members; the values share raw's bytes.
func objectMembers(raw []byte) (map[string]json.RawMessage, error) {
	if len(raw) > 0 && raw[0] == '{' {
		m := make(map[string]json.RawMessage, 32)
		if eachMember(raw, func(k string, v []byte) bool { m[k] = v; return true }) {
			return m, nil
		}
	}
	var m map[string]json.RawMessage
	err := json.Unmarshal(raw, &m)
	return m, err
}

// arrayOfObjects is json.Unmarshal of raw (an element of a valid
// document) into a slice of maps of raw members.
func arrayOfObjects(raw []byte) ([]map[string]json.RawMessage, error) {
	if len(raw) > 0 && raw[0] == '[' {
		var out []map[string]json.RawMessage
		ok := eachElement(raw, func(e []byte) bool {
			if e[0] != '{' {
				return false
			}
			m := map[string]json.RawMessage{}
			out = append(out, m)
			return eachMember(e, func(k string, v []byte) bool { m[k] = v; return true })
		})
		if ok {
			return out, nil
		}
	}
	var out []map[string]json.RawMessage
	err := json.Unmarshal(raw, &out)
	return out, err
}

// appendObject appends m as a JSON object, its members in key order (as
// json.Marshal orders a map's); a nil map or value is null. The values are put in
// as they are (valid JSON: parts of a validated document).
func appendObject(b []byte, m map[string]json.RawMessage) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	n := 2
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(v) + 4
	}
	sort.Strings(keys)
	b = slices.Grow(b, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, k)
		b = append(b, ':')
		if v := m[k]; v != nil {
			b = append(b, v...)
		} else {
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// appendKey appends k as a JSON string.
func appendKey(b []byte, k string) []byte {
	plain := utf8.ValidString(k)
	for i := 0; plain && i < len(k); i++ {
		plain = k[i] >= 0x20 && k[i] != '"' && k[i] != '\\'
	}
	if plain {
		b = append(b, '"')
		b = append(b, k...)
		return append(b, '"')
	}
	q, _ := json.Marshal(k)
	return append(b, q...)
}

// The scanners below take a valid JSON document (json.Valid, or a value cut
// from one): they find where things end, they check nothing.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd is the index after the string that starts at b[i] ('"').
func stringEnd(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		i += j
		// Escaped when preceded by an odd number of backslashes.
		n := 0
		for k := i - 1; b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
		i++
	}
}

// valueEnd is the index after the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // a number, true, false or null
		for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// eachMember calls fn with each member of the object b (leading and
// trailing white space allowed), in order, while fn returns true. It
// returns false when b is not an object, a key is escaped or not UTF-8
// (encoding/json would unescape or replace it), or fn returned false.
func eachMember(b []byte, fn func(k string, v []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	if i = skipSpace(b, i+1); b[i] == '}' {
		return true
	}
	for {
		e := stringEnd(b, i)
		key := b[i+1 : e-1]
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			return false
		}
		i = skipSpace(b, skipSpace(b, e)+1) // past the colon
		e = valueEnd(b, i)
		if !fn(string(key), b[i:e]) {
			return false
		}
		if i = skipSpace(b, e); b[i] == '}' {
			return true
		}
		i = skipSpace(b, i+1) // past the comma
	}
}

// eachElement calls fn with each element of the array b, in order, while
// fn returns true; false when fn returned false.
func eachElement(b []byte, fn func(v []byte) bool) bool {
	i := skipSpace(b, 1)
	if b[i] == ']' {
		return true
	}
	for {
		e := valueEnd(b, i)
		if !fn(b[i:e]) {
			return false
		}
		if i = skipSpace(b, e); b[i] == ']' {
			return true
		}
		i = skipSpace(b, i+1)
	}
}

// decodeObject is json.Decoder.Decode with UseNumber of the object b into
// a map[string]any, for a valid document (json.Valid) whose value is an
// object; ok is false otherwise, for encoding/json to decode (and say
// what is wrong). The JSON protocols' requests (DynamoDB's transactions:
// the finding state's records, base64 in long strings) are read this way:
// one validating pass of encoding/json's scanner instead of two and its
// decoder's work per byte.
func decodeObject(b []byte) (map[string]any, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' || !json.Valid(b) {
		return nil, false
	}
	d := anyDecoder{b: b, i: i}
	m, _ := d.value().(map[string]any)
	return m, true
}

// anyDecoder decodes a valid document's values as encoding/json decodes
// them into an interface value, numbers as json.Number.
type anyDecoder struct {
	b []byte
	i int
}

func (d *anyDecoder) value() any {
	b := d.b
	d.i = skipSpace(b, d.i)
	switch b[d.i] {
	case '{':
		m := map[string]any{}
		if d.i = skipSpace(b, d.i+1); b[d.i] == '}' {
			d.i++
			return m
		}
		for {
			e := stringEnd(b, d.i)
			k := jsonString(b[d.i:e])
			d.i = skipSpace(b, e) + 1 // past the colon
			m[k] = d.value()
			if d.i = skipSpace(b, d.i); b[d.i] == '}' {
				d.i++
				return m
			}
			d.i = skipSpace(b, d.i+1) // past the comma
		}
	case '[':
		a := make([]any, 0)
		if d.i = skipSpace(b, d.i+1); b[d.i] == ']' {
			d.i++
			return a
		}
		for {
			a = append(a, d.value())
			if d.i = skipSpace(b, d.i); b[d.i] == ']' {
				d.i++
				return a
			}
			d.i++ // past the comma
		}
	case '"':
		e := stringEnd(b, d.i)
		s := jsonString(b[d.i:e])
		d.i = e
		return s
	case 't':
		d.i += len("true")
		return true
	case 'f':
		d.i += len("false")
		return false
	case 'n':
		d.i += len("null")
		return nil
	default:
		e := valueEnd(b, d.i)
		n := json.Number(b[d.i:e])
		d.i = e
		return n
	}
}
