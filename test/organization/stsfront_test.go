package organization

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

// stsFront stands before moto_server on 127.0.0.1 and answers STS
// AssumeRole for some accounts as AWS does when the role cannot be assumed
// (AccessDenied) or STS is throttling (Throttling), in STS's Query/XML
// protocol; every other request goes to moto. moto does not enforce IAM.
//
// It also answers Security Hub, for accounts set with setHubOff, as AWS
// does where Security Hub is not enabled (moto accepts imports there): HTTP
// 401 with the REST-JSON error InvalidAccessException "Account ... is not
// subscribed to AWS Security Hub". A Security Hub request's account is that
// of the access key STS handed out for the member's role.
type stsFront struct {
	*httptest.Server
	denied, throttled map[string]bool

	mu      sync.Mutex
	assumed map[string]int // AssumeRole requests by role account (answered or not)
	hubOff  map[string]bool
	keys    map[string]string // access key ID of an assumed role -> its account
	refused map[string]int    // Security Hub requests refused, by account
	// down answers a service's requests from an account with HTTP 503 and
	// no body (what a load balancer in front of an endpoint may answer):
	// the SDK has no error code for it.
	down map[string]string // account -> signing name ("ec2")
	// regions answers ec2:DescribeRegions for an account as AWS does (its
	// enabled regions only; moto enables every region); signed counts the
	// member calls by "account region".
	regions map[string][][2]string // account -> (name, opt-in status)
	signed  map[string]int
}

func newSTSFront(t *testing.T, motoURL string, denied, throttled []string) *stsFront {
	t.Helper()
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	f := &stsFront{denied: set(denied), throttled: set(throttled), assumed: map[string]int{},
		hubOff: map[string]bool{}, keys: map[string]string{}, refused: map[string]int{}, down: map[string]string{},
		regions: map[string][][2]string{}, signed: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if f.isDown(auth) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if account, region, ok := f.memberCall(auth); ok {
			f.mu.Lock()
			f.signed[account+" "+region]++
			listed, fake := f.regions[account]
			f.mu.Unlock()
			if fake && strings.Contains(auth, "/ec2/aws4_request") {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				if form, _ := url.ParseQuery(string(body)); form.Get("Action") == "DescribeRegions" {
					wirefake.DescribeRegions(w, listed, false)
					return
				}
			}
		}
		if strings.Contains(auth, "/securityhub/aws4_request") {
			if account, off := f.hubOffFor(auth); off {
				hubError(w, account)
				return
			}
		}
		if strings.Contains(auth, "/sts/aws4_request") {
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
					wirefake.STSError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf(
						"User: arn:aws:sts::123456789012:assumed-role/posture-auditor-WorkerFunctionRole/worker is not authorized to perform: sts:AssumeRole on resource: %s", form.Get("RoleArn")))
					return
				case f.throttled[account]:
					wirefake.STSError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
					return
				}
				// Remember which account the handed-out key is of.
				rec := httptest.NewRecorder()
				proxy.ServeHTTP(rec, r)
				if m := accessKeyID.FindStringSubmatch(rec.Body.String()); m != nil {
					f.mu.Lock()
					f.keys[m[1]] = account
					f.mu.Unlock()
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// memberCall returns the account and region of a request signed with a
// member role's credentials.
func (f *stsFront) memberCall(auth string) (account, region string, ok bool) {
	m := signedScope.FindStringSubmatch(auth)
	if m == nil {
		return "", "", false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	account, ok = f.keys[m[1]]
	return account, m[2], ok
}

// setRegions makes ec2:DescribeRegions list these regions for account.
func (f *stsFront) setRegions(account string, listed [][2]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.regions[account] = listed
}

// callsIn counts the calls made with account's member credentials, signed
// for region.
func (f *stsFront) callsIn(account, region string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.signed[account+" "+region]
}

var (
	accessKeyID = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
	credential  = regexp.MustCompile(`Credential=([^/,\s]+)/`)
	signedScope = regexp.MustCompile(`Credential=([^/,\s]+)/[^/]+/([^/]+)/`)
)

// setHubOff turns Security Hub off (or back on) in account, every region.
func (f *stsFront) setHubOff(account string, off bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hubOff[account] = off
}

// hubOffFor reports the account of a signed request's access key, and
// whether Security Hub is off there (it counts the refusal).
func (f *stsFront) hubOffFor(auth string) (string, bool) {
	m := credential.FindStringSubmatch(auth)
	if m == nil {
		return "", false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	account, ok := f.keys[m[1]]
	if !ok || !f.hubOff[account] {
		return account, false
	}
	f.refused[account]++
	return account, true
}

// setDown makes service (its signing name) answer account with HTTP 503.
func (f *stsFront) setDown(account, service string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[account] = service
}

func (f *stsFront) isDown(auth string) bool {
	m := credential.FindStringSubmatch(auth)
	if m == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	account, ok := f.keys[m[1]]
	return ok && f.down[account] != "" && strings.Contains(auth, "/"+f.down[account]+"/aws4_request")
}

func (f *stsFront) hubRefusals(account string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused[account]
}

// hubError writes Security Hub's answer where it is not enabled (REST-JSON:
// the code in X-Amzn-ErrorType and the body, HTTP 401).
func hubError(w http.ResponseWriter, account string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", "InvalidAccessException")
	w.Header().Set("X-Amzn-RequestId", "3e1c0b2a-5d4f-4b8e-9a7c-1f2e3d4c5b6a")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, `{"Code":"InvalidAccessException","Message":"Account %s is not subscribed to AWS Security Hub"}`, account)
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
