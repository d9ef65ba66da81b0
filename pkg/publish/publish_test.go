package publish_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/kmschecks"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "us-east-1"

func findings(n int) []types.AwsSecurityFinding {
	out := make([]types.AwsSecurityFinding, n)
	ctx := asff.Context{Account: motoserver.Account, Partition: "aws", ProductRegion: region, Now: time.Now(), ToolVersion: "test"}
	for i := range out {
		r := check.Result{CheckID: "kms.rotation", ResourceARN: fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/%04d", motoserver.Account, i), Region: region, Status: check.Failed, Reason: "rotation disabled"}
		out[i] = asff.Map(kmschecks.Rotation, r, ctx)
	}
	return out
}

// TestPublish250FindingsIn3Calls imports 250 findings into moto's Security
// Hub and reads every one back.
func TestPublish250FindingsIn3Calls(t *testing.T) {
	srv := motoserver.Fresh(t)
	ctx := context.Background()
	counter := awsconfig.NewCallCounter()
	cfg, err := srv.Config(ctx, region, counter)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.EnableSecurityHub(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	fs := findings(250)
	rep := publish.Publisher{}.Publish(ctx, cfg, fs)
	if rep.Sent != 250 || rep.Imported != 250 || rep.Calls != 3 || len(rep.Failed) != 0 || rep.Error != "" {
		t.Fatalf("report %+v", rep)
	}
	if got := counter.Count("SecurityHub", "BatchImportFindings"); got != 3 {
		t.Errorf("BatchImportFindings calls: %d, want 3", got)
	}
	stored := map[string]bool{}
	p := securityhub.NewGetFindingsPaginator(securityhub.NewFromConfig(cfg), &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Findings {
			stored[*f.Id] = true
		}
	}
	for _, f := range fs {
		if !stored[*f.Id] {
			t.Fatalf("finding %s not in Security Hub", *f.Id)
		}
	}
}

// fakeSecurityHub answers BatchImportFindings over the real REST-JSON wire
// protocol, failing the Ids in failIDs inside a successful response, or the
// whole call with status/code.
func fakeSecurityHub(t *testing.T, failIDs map[string]bool, status int, code string) (*httptest.Server, *int) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/findings/import" {
			http.NotFound(w, r)
			return
		}
		calls++
		if status != 0 {
			w.Header().Set("X-Amzn-ErrorType", code)
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"Code":%q,"Message":"Account is not subscribed to AWS Security Hub"}`, code)
			return
		}
		var in struct{ Findings []struct{ Id string } }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Error(err)
		}
		var failed []map[string]string
		for _, f := range in.Findings {
			if failIDs[f.Id] {
				failed = append(failed, map[string]string{"Id": f.Id, "ErrorCode": "InvalidInput", "ErrorMessage": "bad finding"})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"FailedCount": len(failed), "SuccessCount": len(in.Findings) - len(failed), "FailedFindings": failed})
	}))
	return srv, &calls
}

func fakeConfig(t *testing.T, url string) aws.Config {
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{Region: region, EndpointURL: url, MaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestFailedFindingsInASuccessfulCallAreReported: a 200 response with
// FailedCount > 0 must not read as success.
func TestFailedFindingsInASuccessfulCallAreReported(t *testing.T) {
	fs := findings(150)
	srv, calls := fakeSecurityHub(t, map[string]bool{*fs[7].Id: true, *fs[120].Id: true}, 0, "")
	defer srv.Close()
	rep := publish.Publisher{}.Publish(context.Background(), fakeConfig(t, srv.URL), fs)
	if *calls != 2 || rep.Imported != 148 || len(rep.Failed) != 2 {
		t.Fatalf("calls %d report %+v", *calls, rep)
	}
	if rep.Failed[0].ID != *fs[7].Id || rep.Failed[0].ErrorCode != "InvalidInput" {
		t.Errorf("failed: %+v", rep.Failed)
	}
}

// TestSecurityHubNotEnabled: every finding of the region is reported failed
// with the error, none silently dropped.
func TestSecurityHubNotEnabled(t *testing.T) {
	fs := findings(120)
	srv, _ := fakeSecurityHub(t, nil, 401, "InvalidAccessException")
	defer srv.Close()
	rep := publish.Publisher{}.Publish(context.Background(), fakeConfig(t, srv.URL), fs)
	if rep.Imported != 0 || len(rep.Failed) != 120 || rep.Error == "" || rep.Failed[0].ErrorCode != "InvalidAccessException" {
		t.Fatalf("report: imported %d failed %d error %q", rep.Imported, len(rep.Failed), rep.Error)
	}
}

func TestBatchesRespectCountAndSize(t *testing.T) {
	if got := len(publish.Batches(findings(250))); got != 3 {
		t.Errorf("250 findings: %d batches", got)
	}
	if got := len(publish.Batches(findings(100))); got != 1 {
		t.Errorf("100 findings: %d batches", got)
	}
	big := findings(30)
	pad := make([]byte, 230*1024)
	for i := range pad {
		pad[i] = 'x'
	}
	for i := range big {
		big[i].ProductFields["pad"] = string(pad)
	}
	for _, b := range publish.Batches(big) {
		size := 0
		for _, f := range b {
			size += publish.EncodedSize(f)
		}
		if size > publish.MaxBatchBytes {
			t.Errorf("batch of %d findings is %d bytes", len(b), size)
		}
	}
}
