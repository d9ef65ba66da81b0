package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type result struct {
	Got string `json:"got"`
}

func TestRun(t *testing.T) {
	echo := func(_ context.Context, ev json.RawMessage) (*result, error) { return &result{Got: string(ev)}, nil }
	var out bytes.Buffer
	if err := Run(context.Background(), strings.NewReader(`{"a":1}`), &out, echo); err != nil || !strings.Contains(out.String(), `"got": "{\"a\":1}"`) {
		t.Fatalf("%v: %q", err, out.String())
	}
	// A result beside an error is printed, and the error returned.
	failing := func(context.Context, json.RawMessage) (*result, error) {
		return &result{Got: "partial"}, errors.New("boom")
	}
	out.Reset()
	if err := Run(context.Background(), strings.NewReader(`{}`), &out, failing); err == nil || err.Error() != "boom" || !strings.Contains(out.String(), "partial") {
		t.Fatalf("%v: %q", err, out.String())
	}
	// No result: nothing printed.
	none := func(context.Context, json.RawMessage) (*result, error) { return nil, errors.New("refused") }
	out.Reset()
	if err := Run(context.Background(), strings.NewReader(`{}`), &out, none); err == nil || out.Len() != 0 {
		t.Fatalf("%v: %q", err, out.String())
	}
}
