// Package wirefake serves AWS JSON-protocol APIs (KMS, Secrets Manager, ACM,
// ECR, CloudTrail: "X-Amz-Target: Service.Operation", JSON 1.1 bodies) from
// a Go function, on 127.0.0.1. Tests use it where moto ignores page sizes or
// lacks a field, and to inject AWS errors; the SDK client under test is the
// real one, so serialisation and pagination are exercised for real.
package wirefake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
)

// TestRetries and TestBackoff are the retry settings of every test config.
// The SDK (smithy-go 1.28) now and then fails a 200 response with "use of
// closed network connection" (aws/aws-sdk-go-v2 #1825, #2935; reproduced
// here in 1 to 5 of 400 calls with 250 KB bodies, with the SDK's client, and
// in none with net/http alone). It is retryable and production retries it (8
// attempts); tests retry it too, fast, or they flake. Call counts are
// asserted with awsconfig.CallCounter, which counts a call once however
// many attempts it took.
const (
	TestRetries = 3
	TestBackoff = 5 * time.Millisecond
)

// Error is an AWS error response.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Handler answers one operation: it returns a response body (marshalled to
// JSON) or an *Error.
type Handler func(operation string, input map[string]any) (any, *Error)

// Server is a running fake.
type Server struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
}

// NewJSON starts a fake JSON 1.1 endpoint backed by h.
func NewJSON(h Handler) *Server {
	s := &Server{calls: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		op := target[strings.LastIndex(target, ".")+1:]
		s.mu.Lock()
		s.calls[op]++
		s.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		in := map[string]any{}
		if len(body) > 0 {
			_ = json.Unmarshal(body, &in)
		}
		out, aerr := h(op, in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if aerr != nil {
			status := aerr.Status
			if status == 0 {
				status = http.StatusBadRequest
			}
			w.Header().Set("X-Amzn-ErrorType", aerr.Code)
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": aerr.Code, "message": aerr.Message})
			return
		}
		b, _ := json.Marshal(out)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	}))
	return s
}

// Calls returns how many requests named operation (retries included).
func (s *Server) Calls(operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[operation]
}

// AccessDenied is the error AWS returns for a missing IAM permission.
func AccessDenied(action string) *Error {
	return &Error{Status: 400, Code: "AccessDeniedException", Message: "User is not authorized to perform: " + action}
}

// Page slices items for a paged list call: it reads the page size from
// input[limitKey] and the position from input[tokenKey] (an index encoded
// as a string), and returns the page and the next token ("" at the end).
func Page[T any](items []T, input map[string]any, limitKey, tokenKey string, defaultLimit int) ([]T, string) {
	limit := defaultLimit
	if v, ok := input[limitKey].(float64); ok && int(v) > 0 {
		limit = int(v)
	}
	start := 0
	if t, ok := input[tokenKey].(string); ok && t != "" {
		start, _ = strconv.Atoi(t)
	}
	end := start + limit
	if end >= len(items) {
		return items[start:], ""
	}
	return items[start:end], strconv.Itoa(end)
}

// LocalConfig is the SDK config of a test endpoint (a fake, moto, or the
// gap-filling proxy): built by the production builder, with static
// credentials and the test retry settings.
func LocalConfig(ctx context.Context, url, region string, counter *awsconfig.CallCounter) (aws.Config, error) {
	return awsconfig.Load(ctx, awsconfig.Options{
		Region: region, EndpointURL: url, Counter: counter,
		MaxAttempts: TestRetries, MaxBackoff: TestBackoff,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
}

// Config is LocalConfig for a test, which fails if the config cannot be built.
func Config(t testing.TB, url, region string, counter *awsconfig.CallCounter) aws.Config {
	t.Helper()
	cfg, err := LocalConfig(context.Background(), url, region, counter)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
