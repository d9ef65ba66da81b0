// Package localrun runs a function's handler outside Lambda, from a shell:
// one event read from stdin, the result printed as JSON on stdout. The
// functions' mains share it so that each is only its wiring.
package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
)

// Run reads one event from in, calls handle with it and writes its result
// (when there is one, even beside an error) to out as indented JSON. The
// error it returns names what failed: reading, handling or writing.
func Run[T any](ctx context.Context, in io.Reader, out io.Writer, handle func(context.Context, json.RawMessage) (T, error)) error {
	event, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read event from stdin: %w", err)
	}
	res, err := handle(ctx, event)
	if !isNil(res) {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(res); werr != nil {
			return fmt.Errorf("write result: %w", werr)
		}
	}
	return err
}

// Main is Run on stdin and stdout for the command name: an error is
// printed on stderr and exits 1.
func Main[T any](name string, handle func(context.Context, json.RawMessage) (T, error)) {
	if err := Run(context.Background(), os.Stdin, os.Stdout, handle); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// isNil reports a result that is no result (a nil pointer, map, slice).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
