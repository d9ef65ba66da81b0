package awsconfig_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
)

// kmsFake answers ListKeys with the errors in script, one per attempt,
// then with an empty page; DescribeKey always with AccessDeniedException.
func kmsFake(t *testing.T, script ...string) *httptest.Server {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if r.Header.Get("X-Amz-Target") == "TrentService.DescribeKey" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"denied"}`))
			return
		}
		i := int(n.Add(1)) - 1
		if i < len(script) {
			status := http.StatusBadRequest
			if script[i] == "" {
				status = http.StatusTooManyRequests // unmodeled: no error code
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"__type":"` + script[i] + `","message":"Rate exceeded"}`))
			return
		}
		_, _ = w.Write([]byte(`{"Keys":[],"Truncated":false}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func client(t *testing.T, url string, counter *awsconfig.CallCounter) *kms.Client {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{
		Region: "us-east-1", EndpointURL: url, MaxBackoff: time.Millisecond, Counter: counter,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return kms.NewFromConfig(cfg)
}

// TestCounterCountsThrottledAttempts: a call retried after two throttling
// responses (a modeled code and an unmodeled 429) counts once as a call and
// twice as throttled; an AccessDenied is no throttle.
func TestCounterCountsThrottledAttempts(t *testing.T) {
	counter := awsconfig.NewCallCounter()
	c := client(t, kmsFake(t, "ThrottlingException", "").URL, counter)
	if _, err := c.ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("k")}); err == nil {
		t.Fatal("DescribeKey succeeded")
	}
	if n, th := counter.Count("KMS", "ListKeys"), counter.Throttled("KMS", "ListKeys"); n != 1 || th != 2 {
		t.Errorf("ListKeys: %d calls, %d throttled; want 1, 2", n, th)
	}
	if th := counter.Throttled("KMS", "DescribeKey"); th != 0 {
		t.Errorf("AccessDenied counted as %d throttles", th)
	}
	want := []awsconfig.CallCount{
		{Call: awsconfig.Call{Service: "KMS", Operation: "DescribeKey"}, Count: 1},
		{Call: awsconfig.Call{Service: "KMS", Operation: "ListKeys"}, Count: 1, Throttled: 2},
	}
	if got := counter.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("snapshot %+v, want %+v", got, want)
	}
}

// TestCounterThrottlesGivenUp: a call throttled on every attempt fails,
// each of its attempts counted; Since reports only what came after.
func TestCounterThrottlesGivenUp(t *testing.T) {
	counter := awsconfig.NewCallCounter()
	script := make([]string, 20)
	for i := range script {
		script[i] = "TooManyRequestsException"
	}
	c := client(t, kmsFake(t, script...).URL, counter)
	before := counter.Snapshot()
	if _, err := c.ListKeys(context.Background(), &kms.ListKeysInput{}); err == nil || !awsconfig.IsThrottle(err) {
		t.Fatalf("err %v", err)
	}
	got := counter.Since(before)
	if len(got) != 1 || got[0].Count != 1 || got[0].Throttled != 8 {
		t.Errorf("since: %+v; want one call throttled on each of its 8 attempts", got)
	}
	if again := counter.Since(counter.Snapshot()); len(again) != 0 {
		t.Errorf("nothing happened, yet Since says %+v", again)
	}
}
