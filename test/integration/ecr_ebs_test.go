package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

type ecrEBSVerdict struct {
	status   check.Status
	severity string
}

// TestDemoECRAndEBS runs the ECR and EBS checks over the demo account: each
// check gives a PASSED and a FAILED, none is NOT_AVAILABLE, the repository
// created with KMS and no key reads as the AWS managed key aws/ecr (through
// the gap-filling proxy, as on AWS), and the demo region's encryption by
// default (on, default key unchanged) fails LOW. One call per operation.
func TestDemoECRAndEBS(t *testing.T) {
	acct := seedDemo(t)
	demo := acct.demo
	r, counter := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"checks":["ecr.repository-cmk","ebs.volume-cmk","ebs.default-encryption"]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ecrEBSVerdict{}
	reasons := map[string]string{}
	for _, f := range s.Findings {
		got[f.CheckID+" "+f.ResourceARN] = ecrEBSVerdict{f.Status, f.Severity}
		reasons[f.CheckID+" "+f.ResourceARN] = f.Reason
		if !strings.HasPrefix(f.CheckID, "ecr.") && !strings.HasPrefix(f.CheckID, "ebs.") {
			t.Errorf("unselected check ran: %s", f.CheckID)
		}
		if f.Status == check.NotAvailable {
			t.Errorf("%s %s: NOT_AVAILABLE: %s", f.CheckID, f.ResourceName, f.Reason)
		}
	}
	account := "AWS::::Account:" + s.Account
	want := map[string]ecrEBSVerdict{
		"ecr.repository-cmk " + demo["ecr/cmk"]:         {check.Passed, "INFORMATIONAL"},
		"ecr.repository-cmk " + demo["ecr/aes256"]:      {check.Failed, "MEDIUM"},
		"ecr.repository-cmk " + demo["ecr/aws-managed"]: {check.Failed, "MEDIUM"},
		"ebs.volume-cmk " + demo["ebs/cmk"]:             {check.Passed, "INFORMATIONAL"},
		"ebs.volume-cmk " + demo["ebs/unencrypted"]:     {check.Failed, "HIGH"},
		"ebs.volume-cmk " + demo["ebs/aws-managed"]:     {check.Failed, "MEDIUM"},
		"ebs.default-encryption " + account:             {check.Failed, "LOW"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v (%s)", k, got[k], w, reasons[k])
		}
	}
	if len(s.Findings) != len(want) {
		t.Errorf("%d findings, want %d: %+v", len(s.Findings), len(want), s.Findings)
	}
	if r := reasons["ecr.repository-cmk "+demo["ecr/aws-managed"]]; !strings.Contains(r, "AWS managed key alias/aws/ecr") {
		t.Errorf("aws/ecr reason: %q", r)
	}
	if r := reasons["ebs.default-encryption "+account]; !strings.Contains(r, "alias/aws/ebs") {
		t.Errorf("default encryption reason: %q", r)
	}
	if len(s.FailedScopes) != 0 {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
	if len(s.Published) != 1 || s.Published[0].Imported != len(s.Findings) || len(s.Published[0].Failed) != 0 {
		t.Errorf("published: %+v (findings %d)", s.Published, len(s.Findings))
	}
	for _, c := range []struct{ service, op string }{
		{"ECR", "DescribeRepositories"}, {"EC2", "DescribeVolumes"}, {"EC2", "GetEbsEncryptionByDefault"}, {"EC2", "GetEbsDefaultKmsKeyId"},
	} {
		if n := counter.Count(c.service, c.op); n != 1 {
			t.Errorf("%s:%s called %d times, want 1", c.service, c.op, n)
		}
	}
}

// TestEBSDefaultEncryptionPerRegion audits three regions: the demo region
// (on, AWS managed default key: FAILED LOW), eu-west-1 (on, customer managed
// default key: PASSED) and us-west-2 (never turned on: FAILED MEDIUM). The
// account is the resource of all three, and each region has its own finding.
func TestEBSDefaultEncryptionPerRegion(t *testing.T) {
	acct := seedDemo(t)
	ctx := context.Background()
	eu, err := acct.srv.ConfigAt(ctx, acct.endpoint, "eu-west-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	euKey, err := seed.CreateKey(ctx, kms.NewFromConfig(eu), "alias/demo/ebs-default", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt)
	if err != nil {
		t.Fatal(err)
	}
	euEC2 := ec2.NewFromConfig(eu)
	if _, err := euEC2.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := euEC2.ModifyEbsDefaultKmsKeyId(ctx, &ec2.ModifyEbsDefaultKmsKeyIdInput{KmsKeyId: aws.String(euKey)}); err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{"eu-west-1", "us-west-2"} {
		cfg, err := acct.srv.ConfigAt(ctx, acct.endpoint, region, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := seed.EnableSecurityHub(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}

	r, _ := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(ctx, []byte(`{"regions":["us-east-1","eu-west-1","us-west-2"],"checks":["ebs.default-encryption"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ecrEBSVerdict{
		"us-east-1": {check.Failed, "LOW"},
		"eu-west-1": {check.Passed, "INFORMATIONAL"},
		"us-west-2": {check.Failed, "MEDIUM"},
	}
	ids := map[string]bool{}
	for _, f := range s.Findings {
		if f.ResourceARN != "AWS::::Account:"+s.Account {
			t.Errorf("%s: resource %s", f.Region, f.ResourceARN)
		}
		if got := (ecrEBSVerdict{f.Status, f.Severity}); got != want[f.Region] {
			t.Errorf("%s: got %+v, want %+v (%s)", f.Region, got, want[f.Region], f.Reason)
		}
		if f.Region == "eu-west-1" && !strings.Contains(f.Reason, "alias/demo/ebs-default") {
			t.Errorf("eu-west-1 reason: %q", f.Reason)
		}
		ids[f.FindingID] = true
	}
	if len(s.Findings) != 3 || len(ids) != 3 {
		t.Errorf("want one finding per region with its own Id: %+v", s.Findings)
	}
	if len(s.FailedScopes) != 0 {
		t.Errorf("failed scopes: %+v", s.FailedScopes)
	}
	for _, p := range s.Published {
		if p.Imported != 1 || len(p.Failed) != 0 {
			t.Errorf("published in %s: %+v", p.Region, p)
		}
	}
}

// TestECRAndEBSDenied: a denied DescribeRepositories gives no ECR verdict; a
// denied GetEbsDefaultKmsKeyId, with encryption by default on, makes the
// setting NOT_AVAILABLE (never PASSED or FAILED) while volumes are still
// judged. Both scopes are reported incomplete with the AWS error.
func TestECRAndEBSDenied(t *testing.T) {
	acct := seedDemo(t)
	acct.gaps.Deny("ecr", "DescribeRepositories")
	acct.gaps.Deny("ec2", "GetEbsDefaultKmsKeyId")
	r, _ := newRunner(t, acct.srv, acct.endpoint)
	s, err := r.Handle(context.Background(), []byte(`{"checks":["ecr.repository-cmk","ebs.volume-cmk","ebs.default-encryption"]}`))
	if err != nil {
		t.Fatal(err)
	}
	volumes := 0
	for _, f := range s.Findings {
		switch f.CheckID {
		case "ecr.repository-cmk":
			t.Errorf("ECR finding despite a denied listing: %+v", f)
		case "ebs.default-encryption":
			if f.Status != check.NotAvailable || !strings.Contains(f.Reason, "GetEbsDefaultKmsKeyId failed: UnauthorizedOperation") {
				t.Errorf("default encryption with the key denied: %s %q", f.Status, f.Reason)
			}
		case "ebs.volume-cmk":
			volumes++
		}
	}
	if volumes != 3 {
		t.Errorf("%d volume findings, want 3", volumes)
	}
	failed := map[string]string{}
	for _, sc := range s.FailedScopes {
		if sc.Complete || len(sc.Errors) == 0 {
			t.Errorf("scope %+v", sc)
			continue
		}
		failed[sc.CheckID] = sc.Errors[0].Operation + " " + sc.Errors[0].Code
	}
	for id, w := range map[string]string{
		"ecr.repository-cmk":     "DescribeRepositories AccessDeniedException",
		"ebs.volume-cmk":         "GetEbsDefaultKmsKeyId UnauthorizedOperation",
		"ebs.default-encryption": "GetEbsDefaultKmsKeyId UnauthorizedOperation",
	} {
		if failed[id] != w {
			t.Errorf("%s scope error %q, want %q", id, failed[id], w)
		}
	}
}
