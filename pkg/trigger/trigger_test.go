package trigger

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
)

func TestParseAccepts(t *testing.T) {
	sched, _ := os.ReadFile("../../events/scheduled.json")
	ondemand, _ := os.ReadFile("../../events/on-demand.json")
	tests := []struct {
		name string
		in   string
		want Request
	}{
		{"empty", "", Request{Kind: OnDemand}},
		{"null", "null", Request{Kind: OnDemand}},
		{"empty object", "{}", Request{Kind: OnDemand}},
		{"scheduled rule event", string(sched), Request{Kind: Schedule}},
		{"scheduler input", `{"detail-type":"Scheduled Event","source":"aws.scheduler"}`, Request{Kind: Schedule}},
		{"sample payload", string(ondemand), Request{Kind: OnDemand, Regions: []string{"us-east-1"}, Checks: []string{"kms.rotation"}}},
		{"full payload", `{"regions":["us-east-1","eu-west-1","us-east-1"],"checks":["kms.rotation"],"dryRun":true,"thresholds":{"kmsMaxRotationPeriodDays":180}}`,
			Request{Kind: OnDemand, Regions: []string{"us-east-1", "eu-west-1"}, Checks: []string{"kms.rotation"}, DryRun: true, Thresholds: map[string]check.Value{"kmsMaxRotationPeriodDays": check.Number(180)}}},
		{"gov and china regions are well formed", `{"regions":["us-gov-west-1","cn-north-1","ap-southeast-5"]}`, Request{Kind: OnDemand, Regions: []string{"us-gov-west-1", "cn-north-1", "ap-southeast-5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, in, err string }{
		{"not json", `regions=us-east-1`, "event is not a JSON object"},
		{"array", `["us-east-1"]`, "event is not a JSON object"},
		{"unknown check", `{"checks":["kms.rotaton"]}`, `unknown check ID "kms.rotaton"`},
		{"malformed region", `{"regions":["US-EAST-1"]}`, `malformed region "US-EAST-1"`},
		{"region typo", `{"regions":["us-east"]}`, `malformed region "us-east"`},
		{"unknown field", `{"region":["us-east-1"]}`, `unknown field "region"`},
		{"field in the wrong case", `{"dryrun":true}`, `unknown field "dryrun"`},
		{"regions wrong type", `{"regions":"us-east-1"}`, `field "regions" must be a list of strings, not a JSON string`},
		{"check wrong type", `{"checks":[1]}`, `must be a list of strings, not a JSON number`},
		{"dryRun wrong type", `{"dryRun":"yes"}`, `field "dryRun" must be a boolean, not a JSON string`},
		{"threshold wrong type", `{"thresholds":{"kmsMaxRotationPeriodDays":true}}`, `field "thresholds" must be an object of whole numbers or choice names, not a JSON bool`},
		{"threshold fraction", `{"thresholds":{"kmsMaxRotationPeriodDays":90.5}}`, `must be an object of whole numbers or choice names, not a JSON number 90.5`},
		{"empty regions", `{"regions":[]}`, `"regions" is empty`},
		{"thresholds in a published run", `{"thresholds":{"kmsMaxRotationPeriodDays":2560}}`, `"thresholds" can only be overridden in a dry run`},
		{"thresholds with dryRun false", `{"dryRun":false,"thresholds":{"acmExpiryDays":1}}`, `"thresholds" can only be overridden in a dry run`},
		{"empty checks", `{"checks":[]}`, `"checks" is empty`},
		{"trailing data", `{} {}`, "event is not a JSON object: invalid character '{' after top-level value"},
		{"other EventBridge event", `{"detail-type":"AWS API Call via CloudTrail","source":"aws.kms","detail":{}}`, `unsupported EventBridge event: detail-type "AWS API Call via CloudTrail"`},
		{"detail-type wrong type", `{"detail-type":5}`, "malformed EventBridge event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err %v, want it to contain %q", err, tt.err)
			}
		})
	}
}

// FuzzParse: any input either parses into a request with only valid regions
// and known checks, or is rejected with an error; it never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "{}", `{"regions":["us-east-1"],"checks":["kms.rotation"],"dryRun":false}`,
		`{"detail-type":"Scheduled Event"}`, `{"thresholds":{"a":1}}`, `[1,2]`, `{"regions":[""]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := Parse(in)
		if err != nil {
			return
		}
		for _, r := range req.Regions {
			if !ValidRegion(r) {
				t.Fatalf("accepted malformed region %q", r)
			}
		}
		if req.Kind != OnDemand && req.Kind != Schedule {
			t.Fatalf("unknown kind %q", req.Kind)
		}
	})
}
