package organization

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// stsFront stands before moto_server on 127.0.0.1 and answers STS
// AssumeRole for some accounts as AWS does when the role cannot be assumed
// (AccessDenied) or STS is throttling (Throttling), in STS's Query/XML
// protocol; every other request goes to moto. moto does not enforce IAM.
type stsFront struct {
	*httptest.Server
	denied, throttled map[string]bool

	mu      sync.Mutex
	assumed map[string]int // AssumeRole requests by role account (answered or not)
}

func newSTSFront(t *testing.T, motoURL string, denied, throttled []string) *stsFront {
	t.Helper()
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	f := &stsFront{denied: set(denied), throttled: set(throttled), assumed: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "/sts/aws4_request") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			if form.Get("Action") == "AssumeRole" {
				account := ""
				if a, err := arn.Parse(form.Get("RoleArn")); err == nil {
					account = a.AccountID
				}
				f.mu.Lock()
				f.assumed[account]++
				f.mu.Unlock()
				switch {
				case f.denied[account]:
					stsError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf(
						"User: arn:aws:sts::123456789012:assumed-role/posture-auditor-WorkerFunctionRole/worker is not authorized to perform: sts:AssumeRole on resource: %s", form.Get("RoleArn")))
					return
				case f.throttled[account]:
					stsError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
					return
				}
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// stsError writes an STS Query-protocol error response.
func stsError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>%s</Code>
    <Message>%s</Message>
  </Error>
  <RequestId>4fd1ec4c-0f3f-4e8b-9c3a-7d1e2f3a4b5c</RequestId>
</ErrorResponse>`, code, message)
}

func (f *stsFront) assumeRoleCalls(account string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.assumed[account]
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}
