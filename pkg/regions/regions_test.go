package regions

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func region(name, status string) types.Region {
	return types.Region{RegionName: aws.String(name), OptInStatus: aws.String(status)}
}

func TestEnabledIn(t *testing.T) {
	tests := []struct {
		name      string
		listed    []types.Region
		partition string
		want      []string
	}{
		{"default and opted-in regions, sorted", []types.Region{region("us-west-2", "opt-in-not-required"), region("af-south-1", "opted-in"), region("eu-west-1", "opt-in-not-required")},
			"aws", []string{"af-south-1", "eu-west-1", "us-west-2"}},
		{"not opted in is dropped", []types.Region{region("us-east-1", "opt-in-not-required"), region("ap-east-1", "not-opted-in")}, "aws", []string{"us-east-1"}},
		{"missing or unknown status is dropped", []types.Region{region("us-east-1", "opt-in-not-required"), {RegionName: aws.String("me-south-1")}, region("il-central-1", "enabling")},
			"aws", []string{"us-east-1"}},
		{"other partitions are dropped (moto lists them)", []types.Region{region("us-east-1", "opt-in-not-required"), region("cn-north-1", "opt-in-not-required"), region("us-gov-west-1", "opt-in-not-required")},
			"aws", []string{"us-east-1"}},
		{"a GovCloud account keeps its own", []types.Region{region("us-east-1", "opt-in-not-required"), region("us-gov-west-1", "opt-in-not-required"), region("us-gov-east-1", "opt-in-not-required")},
			"aws-us-gov", []string{"us-gov-east-1", "us-gov-west-1"}},
		{"a China account keeps its own", []types.Region{region("cn-northwest-1", "opt-in-not-required"), region("cn-north-1", "opt-in-not-required"), region("eu-west-1", "opt-in-not-required")},
			"aws-cn", []string{"cn-north-1", "cn-northwest-1"}},
		{"duplicates and nameless entries", []types.Region{region("us-east-1", "opted-in"), region("us-east-1", "opt-in-not-required"), {OptInStatus: aws.String("opted-in")}}, "aws", []string{"us-east-1"}},
		{"nothing listed", nil, "aws", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EnabledIn(tt.listed, tt.partition); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EnabledIn = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPartitionOf(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "aws", "eu-central-2": "aws", "ap-southeast-7": "aws", "mx-central-1": "aws", "il-central-1": "aws",
		"cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "us-gov-east-1": "aws-us-gov",
		"us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b", "eu-isoe-west-1": "aws-iso-e", "us-isof-south-1": "aws-iso-f",
		"eusc-de-east-1": "aws-eusc",
		// A shape no partition claims resolves to aws, as in the SDK.
		"xx-nowhere-9": "aws",
	} {
		if got := PartitionOf(region); got != want {
			t.Errorf("PartitionOf(%s) = %s, want %s", region, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	enabled := []string{"eu-west-1", "us-east-1", "us-west-2"}
	tests := []struct {
		name string
		req  Request
		want Selection
		err  string
	}{
		{"all", Request{All: true}, Selection{Audit: enabled}, ""},
		{"all minus excluded", Request{All: true, Excluded: []string{"us-west-2", "ap-east-1"}}, Selection{Audit: []string{"eu-west-1", "us-east-1"}}, ""},
		{"all excluded is an error", Request{All: true, Excluded: enabled}, Selection{}, "is excluded"},
		{"named, in order", Request{Named: []string{"us-west-2", "us-east-1"}}, Selection{Audit: []string{"us-west-2", "us-east-1"}}, ""},
		{"named but not enabled is set apart", Request{Named: []string{"ap-east-1", "us-east-1", "me-south-1"}},
			Selection{Audit: []string{"us-east-1"}, NotEnabled: []string{"ap-east-1", "me-south-1"}}, ""},
		{"none enabled of those named", Request{Named: []string{"ap-east-1"}}, Selection{NotEnabled: []string{"ap-east-1"}}, ""},
		// Exclusions narrow "all"; a region named explicitly is what was asked for.
		{"named and excluded is audited", Request{Named: []string{"us-west-2"}, Excluded: []string{"us-west-2"}}, Selection{Audit: []string{"us-west-2"}}, ""},
		// The home region is audited for global services whatever the
		// regional ones: among them, for global services only, or reported.
		{"home among all", Request{All: true, Home: "us-east-1"}, Selection{Audit: enabled}, ""},
		{"home excluded from all", Request{All: true, Excluded: []string{"us-east-1"}, Home: "us-east-1"},
			Selection{Audit: []string{"eu-west-1", "us-west-2"}, GlobalOnly: "us-east-1"}, ""},
		{"home not named", Request{Named: []string{"eu-west-1"}, Home: "us-east-1"}, Selection{Audit: []string{"eu-west-1"}, GlobalOnly: "us-east-1"}, ""},
		{"home not enabled", Request{All: true, Home: "ap-east-1"}, Selection{Audit: enabled, NotEnabled: []string{"ap-east-1"}}, ""},
		{"home named and not enabled, once", Request{Named: []string{"ap-east-1", "us-east-1"}, Home: "ap-east-1"},
			Selection{Audit: []string{"us-east-1"}, NotEnabled: []string{"ap-east-1"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.req, enabled)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}

type fakeAPI struct {
	out *ec2.DescribeRegionsOutput
	err error
	in  *ec2.DescribeRegionsInput
}

func (f *fakeAPI) DescribeRegions(_ context.Context, in *ec2.DescribeRegionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error) {
	f.in = in
	return f.out, f.err
}

func TestEnabled(t *testing.T) {
	api := &fakeAPI{out: &ec2.DescribeRegionsOutput{Regions: []types.Region{region("us-east-1", "opt-in-not-required"), region("ap-east-1", "opted-in")}}}
	got, err := Enabled(context.Background(), api, "aws")
	if err != nil || !reflect.DeepEqual(got, []string{"ap-east-1", "us-east-1"}) {
		t.Fatalf("Enabled = %v, %v", got, err)
	}
	if api.in == nil || api.in.AllRegions == nil || *api.in.AllRegions {
		t.Errorf("asked with AllRegions %v, want false (enabled regions only)", api.in)
	}

	denied := errors.New("UnauthorizedOperation: not authorized to perform: ec2:DescribeRegions")
	if got, err := Enabled(context.Background(), &fakeAPI{err: denied}, "aws"); !errors.Is(err, denied) || got != nil {
		t.Errorf("denied: %v, %v; want the error, no regions", got, err)
	}
	// An answer with no usable region is an error: "no regions" must never
	// read as a run of nothing.
	none := &fakeAPI{out: &ec2.DescribeRegionsOutput{Regions: []types.Region{region("cn-north-1", "opt-in-not-required")}}}
	if got, err := Enabled(context.Background(), none, "aws"); err == nil || got != nil || !strings.Contains(err.Error(), "no enabled region of partition aws") {
		t.Errorf("nothing enabled: %v, %v", got, err)
	}
}

// TestEnabledFromAsksElsewhereWhenARegionRefuses: the home region first;
// where it refuses (not enabled for the account, denied) the next region,
// then the partition's first; repeats, empty names and other partitions'
// regions are not asked; none answering returns the first region's error.
func TestEnabledFromAsksElsewhereWhenARegionRefuses(t *testing.T) {
	listed := &ec2.DescribeRegionsOutput{Regions: []types.Region{region("us-east-1", "opt-in-not-required"), region("eu-west-1", "opt-in-not-required")}}
	for _, c := range []struct {
		name    string
		regions []string
		refuse  map[string]bool
		asked   []string
		err     string
	}{
		{"home answers", []string{"eu-west-1", "eu-west-1"}, nil, []string{"eu-west-1"}, ""},
		{"home refuses", []string{"ap-east-1", "", "cn-north-1", "eu-west-1"}, map[string]bool{"ap-east-1": true}, []string{"ap-east-1", "eu-west-1"}, ""},
		{"then the partition's first", []string{"ap-east-1"}, map[string]bool{"ap-east-1": true}, []string{"ap-east-1", "us-east-1"}, ""},
		{"none answers", []string{"ap-east-1", "eu-west-1"}, map[string]bool{"ap-east-1": true, "eu-west-1": true, "us-east-1": true},
			[]string{"ap-east-1", "eu-west-1", "us-east-1"}, "refused in ap-east-1"},
	} {
		var asked []string
		got, err := EnabledFrom(context.Background(), "aws", c.regions, func(r string) API {
			asked = append(asked, r)
			if c.refuse[r] {
				return &fakeAPI{err: errors.New("refused in " + r)}
			}
			return &fakeAPI{out: listed}
		})
		if !reflect.DeepEqual(asked, c.asked) {
			t.Errorf("%s: asked in %v, want %v", c.name, asked, c.asked)
		}
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: err %v, want %q", c.name, err, c.err)
		case c.err == "" && (err != nil || !reflect.DeepEqual(got, []string{"eu-west-1", "us-east-1"})):
			t.Errorf("%s: %v, %v", c.name, got, err)
		}
	}
}
