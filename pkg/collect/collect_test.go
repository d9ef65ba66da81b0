package collect

import (
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
