package trigger

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/resource"
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
		{"every enabled region", `{"regions":["all"]}`, Request{Kind: OnDemand, AllRegions: true}},
		{"every enabled region, dry run of one check", `{"regions":["all"],"checks":["kms.rotation"],"dryRun":true}`,
			Request{Kind: OnDemand, AllRegions: true, Checks: []string{"kms.rotation"}, DryRun: true}},
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
		{"all with a region", `{"regions":["us-east-1","all"]}`, `"all" must be the only entry of "regions"`},
		{"all twice", `{"regions":["all","all"]}`, `"all" must be the only entry of "regions"`},
		{"all in capitals", `{"regions":["ALL"]}`, `malformed region "ALL"`},
		{"all padded", `{"regions":[" all"]}`, `malformed region " all"`},
		{"all with resources", `{"regions":["all"],"resources":["arn:aws:kms:us-east-1:123456789012:key/a"]}`, `"regions" and "resources" cannot be combined`},
		{"thresholds in a published run", `{"thresholds":{"kmsMaxRotationPeriodDays":2560}}`, `"thresholds" can only be overridden in a dry run`},
		{"thresholds with dryRun false", `{"dryRun":false,"thresholds":{"acmExpiryDays":1}}`, `"thresholds" can only be overridden in a dry run`},
		{"empty checks", `{"checks":[]}`, `"checks" is empty`},
		{"trailing data", `{} {}`, "event is not a JSON object: invalid character '{' after top-level value"},
		{"other EventBridge event", `{"detail-type":"AWS API Call via CloudTrail","source":"aws.kms","detail":{}}`, `unsupported EventBridge event: detail-type "AWS API Call via CloudTrail"`},
		{"detail-type wrong type", `{"detail-type":5}`, "malformed EventBridge event"},
		{"unknown field lists resources", `{"resource":["arn:aws:kms:us-east-1:123456789012:key/a"]}`, `unknown field "resource" (known: regions, checks, dryRun, thresholds, resources)`},
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
		`{"detail-type":"Scheduled Event"}`, `{"thresholds":{"a":1}}`, `[1,2]`, `{"regions":[""]}`, `{"regions":["all"]}`, `{"regions":["all","us-east-1"]}`,
		`{"resources":["arn:aws:kms:us-east-1:123456789012:key/a","arn:aws:cloudfront::123456789012:distribution/D"],"checks":["kms.rotation"]}`,
		`{"resources":["arn:aws:s3:::bucket"]}`, `{"resources":[]}`, `{"resources":"arn:aws:kms:us-east-1:123456789012:key/a"}`} {
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
		if req.AllRegions && (len(req.Regions) > 0 || len(req.Resources) > 0) {
			t.Fatalf("accepted all regions with regions %v and %d resources", req.Regions, len(req.Resources))
		}
		if len(req.Resources) > MaxResources || (len(req.Resources) > 0 && len(req.Regions) > 0) {
			t.Fatalf("accepted %d resources with regions %v", len(req.Resources), req.Regions)
		}
		seen := map[string]bool{}
		for _, r := range req.Resources {
			if _, ok := resource.SpecOf(r.Kind); !ok || !resource.ValidAccount(r.Account) || r.ARN == "" || seen[r.Key()] {
				t.Fatalf("accepted resource %+v", r)
			}
			seen[r.Key()] = true
		}
	})
}

// TestParseResources: the ARNs of a resource-targeted run become Refs,
// deduplicated in order; anything FromARN refuses, or a list that is
// empty, too long or combined with "regions", is refused before any read.
func TestParseResources(t *testing.T) {
	const (
		key  = "arn:aws:kms:us-east-1:123456789012:key/a"
		dist = "arn:aws:cloudfront::123456789012:distribution/D"
		snap = "arn:aws:rds:eu-west-1:123456789012:snapshot:rds:db-2024-01-01-00-00"
		repo = "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
	)
	ref := func(a string) resource.Ref {
		r, err := resource.FromARN(a)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	payload := func(arns ...string) string {
		b, _ := json.Marshal(map[string]any{"resources": arns})
		return string(b)
	}
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("arn:aws:kms:us-east-1:123456789012:key/%04d", i)
		}
		return out
	}
	accepts := []struct {
		name string
		in   string
		want Request
	}{
		{"one key", payload(key), Request{Kind: OnDemand, Resources: []resource.Ref{ref(key)}}},
		{"several kinds, in order", payload(snap, dist, key, repo), Request{Kind: OnDemand, Resources: []resource.Ref{ref(snap), ref(dist), ref(key), ref(repo)}}},
		{"duplicates dropped, first kept", payload(key, dist, key, " "+key+" ", dist), Request{Kind: OnDemand, Resources: []resource.Ref{ref(key), ref(dist)}}},
		{"with checks and dryRun", `{"resources":["` + key + `"],"checks":["kms.rotation","kms.rotation"],"dryRun":true}`,
			Request{Kind: OnDemand, Checks: []string{"kms.rotation"}, DryRun: true, Resources: []resource.Ref{ref(key)}}},
		{"null resources is no resources", `{"resources":null}`, Request{Kind: OnDemand}},
		{"exactly MaxResources", payload(many(MaxResources)...), Request{Kind: OnDemand, Resources: func() []resource.Ref {
			var out []resource.Ref
			for _, a := range many(MaxResources) {
				out = append(out, ref(a))
			}
			return out
		}()}},
	}
	for _, tt := range accepts {
		t.Run("accepts/"+tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	rejects := []struct{ name, in, err string }{
		{"empty list", `{"resources":[]}`, `"resources" is empty; omit it to audit every resource`},
		{"not a list", `{"resources":"` + key + `"}`, `field "resources" must be a list of strings, not a JSON string`},
		{"list of numbers", `{"resources":[1]}`, `must be a list of strings, not a JSON number`},
		{"object", `{"resources":{"arn":"` + key + `"}}`, `field "resources" must be a list of strings, not a JSON object`},
		{"more than MaxResources", payload(many(MaxResources + 1)...), fmt.Sprintf(`"resources" names %d ARNs; at most %d`, MaxResources+1, MaxResources)},
		// The bound is on the ARNs given, not the distinct ones.
		{"more than MaxResources with duplicates", payload(append(many(MaxResources), key, key)...), fmt.Sprintf(`"resources" names %d ARNs`, MaxResources+2)},
		{"malformed ARN", payload(key, "key/a"), `"resources": malformed ARN "key/a"`},
		{"empty ARN", payload(""), `"resources": malformed ARN ""`},
		{"11-digit account", payload("arn:aws:kms:us-east-1:12345678901:key/a"), `12-digit account ID`},
		{"unsupported service", payload("arn:aws:s3:::bucket"), `"resources": ARN "arn:aws:s3:::bucket" is of service "s3", which this tool does not audit`},
		{"unsupported type", payload("arn:aws:ec2:us-east-1:123456789012:instance/i-1"), `ec2 resource type this tool does not audit`},
		{"KMS alias", payload("arn:aws:kms:us-east-1:123456789012:alias/a"), `give the key's ARN`},
		{"combined with regions", `{"resources":["` + key + `"],"regions":["us-east-1"]}`, `"regions" and "resources" cannot be combined`},
		{"combined with empty regions", `{"resources":["` + key + `"],"regions":[]}`, `"regions" is empty`},
		{"bad check with resources", `{"resources":["` + key + `"],"checks":["kms.rotaton"]}`, `unknown check ID "kms.rotaton"`},
		{"field in the wrong case", `{"Resources":["` + key + `"]}`, `unknown field "Resources"`},
	}
	for _, tt := range rejects {
		t.Run("rejects/"+tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %+v, err %v; want it to contain %q", got, err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "invalid on-demand payload: ") {
				t.Errorf("error %q does not say the payload is invalid", err)
			}
		})
	}
}
