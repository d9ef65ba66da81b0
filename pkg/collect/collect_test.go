package collect

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

type tag struct{ k, v *string }

func TestTagsSortedKeyOnceLastValueWins(t *testing.T) {
	kv := func(t tag) (*string, *string) { return t.k, t.v }
	for name, c := range map[string]struct {
		in   []tag
		want snapshot.Tags
	}{
		"none":          {nil, nil},
		"only keyless":  {[]tag{{nil, aws.String("x")}, {aws.String(""), aws.String("y")}}, nil},
		"sorted":        {[]tag{{aws.String("team"), aws.String("a")}, {aws.String("Name"), aws.String("b")}}, snapshot.Tags{{Key: "Name", Value: "b"}, {Key: "team", Value: "a"}}},
		"missing value": {[]tag{{aws.String("k"), nil}}, snapshot.Tags{{Key: "k", Value: ""}}},
		"key twice":     {[]tag{{aws.String("k"), aws.String("first")}, {aws.String("a"), aws.String("1")}, {aws.String("k"), aws.String("last")}}, snapshot.Tags{{Key: "a", Value: "1"}, {Key: "k", Value: "last"}}},
	} {
		if got := Tags(c.in, kv); !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

// A call whose endpoint does not resolve (the service is not offered in
// the region) has its own code, not the transient RequestError.
func TestErrorCodeOfAnEndpointThatDoesNotResolve(t *testing.T) {
	notFound := &url.Error{Op: "Post", URL: "https://ecr.xx-new-1.amazonaws.com/", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "ecr.xx-new-1.amazonaws.com", IsNotFound: true}}}
	if got := ErrorCode(fmt.Errorf("operation error ECR: DescribeRepositories: %w", notFound)); got != EndpointNotFound {
		t.Errorf("code %q, want %q", got, EndpointNotFound)
	}
	timeout := &url.Error{Op: "Post", URL: "https://ecr.eu-west-1.amazonaws.com/", Err: &net.DNSError{Err: "i/o timeout", Name: "ecr.eu-west-1.amazonaws.com", IsTimeout: true}}
	if got := ErrorCode(timeout); got != "RequestError" {
		t.Errorf("a DNS timeout: code %q, want RequestError (transient)", got)
	}
}
