package acmcollect_test

import (
	"context"
	"crypto/elliptic"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/acmcollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/testcert"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "eu-west-1"

const day = 24 * time.Hour

// TestCollectAgainstMoto lists imported and requested certificates through
// the real client, then reads two of them by ARN alone.
func TestCollectAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := acm.NewFromConfig(cfg)
	importPEM := func(p testcert.PEM, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: p.Certificate, PrivateKey: p.PrivateKey})
		if err != nil {
			t.Fatal(err)
		}
		return *out.CertificateArn
	}
	rsa2048 := importPEM(testcert.RSA("rsa2048.example.com", 2048, 365*day))
	rsa1024 := importPEM(testcert.RSA("rsa1024.example.com", 1024, 365*day))
	p384 := importPEM(testcert.ECDSA("p384.example.com", elliptic.P384(), 10*day))
	req, err := c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("www.example.com"), ValidationMethod: acmtypes.ValidationMethodDns})
	if err != nil {
		t.Fatal(err)
	}
	requested := *req.CertificateArn

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	collectedAt := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	snap := snapshot.New(motoserver.Account, "aws", region)
	acmcollect.Collector{Now: func() time.Time { return collectedAt }}.Collect(ctx, cfg, snap, collect.Scope{})

	if !snap.Complete(snapshot.ACM) {
		t.Fatalf("collection not complete: %v", snap.Errors)
	}
	if !snap.ACM.CollectedAt.Equal(collectedAt) {
		t.Errorf("CollectedAt %v", snap.ACM.CollectedAt)
	}
	certs := snap.ACM.Certificates
	if len(certs) != 4 {
		t.Fatalf("got %d certificates, want 4", len(certs))
	}
	for arn, want := range map[string]string{rsa2048: "RSA_2048", rsa1024: "RSA_1024", p384: "EC_secp384r1", requested: "RSA_2048"} {
		if got := certs[arn].KeyAlgorithm; got != want {
			t.Errorf("%s: key algorithm %q, want %q", certs[arn].DomainName, got, want)
		}
	}
	p := certs[p384]
	if p.Type != "IMPORTED" || p.Status != "ISSUED" || p.NotAfter == nil || p.NotAfter.Sub(time.Now()) > 10*day ||
		!p.InUse.Known || p.InUse.Value || p.DomainName != "p384.example.com" || p.Described || p.Renewal.Known {
		t.Errorf("imported P-384 certificate: %+v", p)
	}
	if r := certs[requested]; r.Type != "AMAZON_ISSUED" || r.Status != "PENDING_VALIDATION" || r.Described ||
		!strings.Contains(r.Renewal.Reason, "PENDING_VALIDATION") {
		t.Errorf("requested certificate: %+v", r)
	}
	// One list call for every certificate; no describe, since no issued
	// AMAZON_ISSUED certificate exists (moto issues after a minute).
	for op, want := range map[string]int{"ListCertificates": 1, "DescribeCertificate": 0} {
		if got := counter.Count("ACM", op); got != want {
			t.Errorf("%s called %d times, want %d", op, got, want)
		}
	}

	// A one-certificate run describes, and never lists.
	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap = snapshot.New(motoserver.Account, "aws", region)
	acmcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{rsa1024, requested}})
	if !snap.Complete(snapshot.ACM) || len(snap.ACM.Certificates) != 2 {
		t.Fatalf("scoped collection: %d certificates, errors %v", len(snap.ACM.Certificates), snap.Errors)
	}
	if r := snap.ACM.Certificates[rsa1024]; !r.Described || r.KeyAlgorithm != "RSA_1024" || r.Type != "IMPORTED" ||
		r.ImportedAt == nil || r.NotAfter == nil || !r.InUse.Known || r.InUse.Value {
		t.Errorf("described RSA-1024 certificate: %+v", r)
	}
	// moto never returns a RenewalSummary: known, with no renewal under way.
	if r := snap.ACM.Certificates[requested]; !r.Described || !r.Renewal.Known || r.Renewal.Value.Status != "" {
		t.Errorf("described requested certificate: %+v", r)
	}
	if n, d := counter.Count("ACM", "ListCertificates"), counter.Count("ACM", "DescribeCertificate"); n != 0 || d != 2 {
		t.Errorf("scoped run: %d ListCertificates, %d DescribeCertificate; want 0 and 2", n, d)
	}
}

const fakeAccount = "111122223333"

func fakeARN(i int) string {
	return fmt.Sprintf("arn:aws:acm:%s:%s:certificate/00000000-0000-0000-0000-%012d", region, fakeAccount, i)
}

// awsSpellings are the key algorithms as AWS writes them in list and
// describe output; filters use the enum spelling with underscores.
var awsSpellings = []string{"RSA-1024", "RSA-2048", "RSA-3072", "RSA-4096", "EC-prime256v1", "EC-secp384r1", "EC-secp521r1"}

// fakeACM serves n certificates the way AWS does: ListCertificates keeps to
// RSA_1024 and RSA_2048 unless Includes.KeyTypes names others, and pages by
// MaxItems/NextToken (moto does neither). Every 250th certificate is an
// issued AMAZON_ISSUED one, and the 125th after each an issued PRIVATE one;
// certificate 1 is AMAZON_ISSUED and pending.
type fakeACM struct {
	*wirefake.Server
	mu       sync.Mutex
	keyTypes [][]string // Includes.KeyTypes of each ListCertificates call
}

func newFakeACM(n int, failedRenewal, deniedDescribe int, listErr *wirefake.Error) *fakeACM {
	f := &fakeACM{}
	summaries := make([]map[string]any, n)
	notAfter := float64(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).Unix())
	for i := range summaries {
		s := map[string]any{
			"CertificateArn": fakeARN(i), "DomainName": fmt.Sprintf("c%d.example.com", i),
			"Type": "IMPORTED", "Status": "ISSUED", "KeyAlgorithm": awsSpellings[i%len(awsSpellings)],
			"NotAfter": notAfter, "InUse": i%2 == 0, "RenewalEligibility": "INELIGIBLE",
		}
		switch {
		case i%250 == 0:
			s["Type"] = "AMAZON_ISSUED"
		case i%250 == 125:
			s["Type"] = "PRIVATE"
		case i == 1:
			s["Type"], s["Status"] = "AMAZON_ISSUED", "PENDING_VALIDATION"
			delete(s, "NotAfter")
		}
		summaries[i] = s
	}
	f.Server = wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		switch op {
		case "ListCertificates":
			if listErr != nil {
				return nil, listErr
			}
			allowed := map[string]bool{"RSA_1024": true, "RSA_2048": true} // AWS's default
			var sent []string
			if inc, ok := in["Includes"].(map[string]any); ok {
				// The wire name is camel-case: Includes.keyTypes.
				if kts, ok := inc["keyTypes"].([]any); ok {
					allowed = map[string]bool{}
					for _, kt := range kts {
						sent = append(sent, kt.(string))
						allowed[kt.(string)] = true
					}
				}
			}
			f.mu.Lock()
			f.keyTypes = append(f.keyTypes, sent)
			f.mu.Unlock()
			var matching []map[string]any
			for _, s := range summaries {
				if allowed[strings.ReplaceAll(s["KeyAlgorithm"].(string), "-", "_")] {
					matching = append(matching, s)
				}
			}
			// A small default page: a collector that does not ask for 1000
			// a page makes hundreds of calls.
			page, next := wirefake.Page(matching, in, "MaxItems", "NextToken", 10)
			out := map[string]any{"CertificateSummaryList": page}
			if next != "" {
				out["NextToken"] = next
			}
			return out, nil
		case "DescribeCertificate":
			arn := in["CertificateArn"].(string)
			var i int
			fmt.Sscanf(arn[strings.LastIndex(arn, "-")+1:], "%d", &i)
			if i == deniedDescribe {
				return nil, wirefake.AccessDenied("acm:DescribeCertificate")
			}
			d := map[string]any{}
			for k, v := range summaries[i] {
				d[k] = v
			}
			delete(d, "InUse")
			d["InUseBy"] = []string{}
			if summaries[i]["InUse"] == true {
				d["InUseBy"] = []string{"arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/1"}
			}
			if i == failedRenewal {
				d["RenewalSummary"] = map[string]any{"RenewalStatus": "FAILED", "RenewalStatusReason": "CAA_ERROR",
					"UpdatedAt": 1.77e9, "DomainValidationOptions": []any{}}
			}
			return map[string]any{"Certificate": d}, nil
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
	return f
}

// fakeConfig allows one retry: with 1000-certificate pages (~250 KB) the
// SDK's client now and then reads a 200 response from a connection its own
// request writer closed ("use of closed network connection",
// aws/aws-sdk-go-v2#1825, #2737), an error its retryer retries, as a scan
// does with its 8 attempts. AccessDenied is never retried.
func fakeConfig(t *testing.T, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, region, counter)
}

// TestCollectEveryKeyTypePagedAndDeniedDescribeUnknown pages through 2,500
// certificates of every key type (3 pages of 1000), describes only the 20
// issued certificates ACM issued (10 AMAZON_ISSUED, 10 PRIVATE: managed
// renewal covers both), and keeps a denied describe's renewal unknown.
func TestCollectEveryKeyTypePagedAndDeniedDescribeUnknown(t *testing.T) {
	const failed, denied = 500, 1000
	fake := newFakeACM(2500, failed, denied, nil)
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New(fakeAccount, "aws", region)
	acmcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})

	if got := len(snap.ACM.Certificates); got != 2500 {
		t.Fatalf("got %d certificates, want 2500 (ECDSA and large RSA certificates must not be missed); errors %v", got, snap.Errors)
	}
	want := []string{"RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"}
	if n := len(fake.keyTypes); n < 3 || n > 6 {
		t.Fatalf("ListCertificates requests: got %d, want 3 pages (at most one retry each)", n)
	}
	for i, sent := range fake.keyTypes {
		if !reflect.DeepEqual(sent, want) {
			t.Errorf("call %d: Includes.KeyTypes %v, want every key type %v", i, sent, want)
		}
	}
	if got := counter.Count("ACM", "ListCertificates"); got != 3 {
		t.Errorf("ListCertificates: got %d, want 3", got)
	}
	if got := counter.Count("ACM", "DescribeCertificate"); got != 20 {
		t.Errorf("DescribeCertificate: got %d, want 20 (issued AMAZON_ISSUED and PRIVATE certificates, no IMPORTED one)", got)
	}
	if p := snap.ACM.Certificates[fakeARN(375)]; p.Type != "PRIVATE" || !p.Described || !p.Renewal.Known || p.Renewal.Value.Status != "" {
		t.Errorf("issued private certificate must be described for its renewal: %+v %+v", p, p.Renewal)
	}

	ec := snap.ACM.Certificates[fakeARN(4)]
	if ec.KeyAlgorithm != "EC_prime256v1" || ec.Type != "IMPORTED" || ec.Described || !ec.InUse.Known || !ec.InUse.Value ||
		ec.NotAfter == nil || ec.Renewal.Reason != "ACM does not renew imported certificates" {
		t.Errorf("imported ECDSA certificate: %+v", ec)
	}
	if p := snap.ACM.Certificates[fakeARN(1)]; p.Described || p.NotAfter != nil || p.Renewal.Known {
		t.Errorf("pending AMAZON_ISSUED certificate must not be described: %+v", p)
	}
	f := snap.ACM.Certificates[fakeARN(failed)]
	if !f.Described || !f.Renewal.Known || f.Renewal.Value.Status != "FAILED" || f.Renewal.Value.Reason != "CAA_ERROR" ||
		len(f.InUseBy) != 1 || f.KeyAlgorithm != "RSA_4096" {
		t.Errorf("failed renewal: %+v %+v", f, f.Renewal)
	}
	if ok := snap.ACM.Certificates[fakeARN(250)]; !ok.Renewal.Known || ok.Renewal.Value.Status != "" || len(ok.InUseBy) != 1 {
		t.Errorf("no renewal under way: %+v", ok.Renewal)
	}
	d := snap.ACM.Certificates[fakeARN(denied)]
	if d.Renewal.Known || d.Described || d.ReadError != "" || d.Type != "AMAZON_ISSUED" || d.NotAfter == nil {
		t.Fatalf("denied describe: renewal must be unknown, the listed facts kept: %+v", d)
	}
	if want := "DescribeCertificate failed: AccessDeniedException: User is not authorized to perform: acm:DescribeCertificate"; d.Renewal.Reason != want {
		t.Errorf("reason %q, want %q", d.Renewal.Reason, want)
	}
	errs := snap.Errors[snapshot.ACM]
	if len(errs) != 1 || errs[0].Operation != "DescribeCertificate" || errs[0].Resource != fakeARN(denied) || errs[0].Code != "AccessDeniedException" {
		t.Errorf("errors: %+v", errs)
	}
	if snap.Complete(snapshot.ACM) {
		t.Error("a denied describe must make the ACM scope incomplete")
	}
}

// TestCollectListDenied records the failed list and reads no certificate.
func TestCollectListDenied(t *testing.T) {
	fake := newFakeACM(3, -1, -1, wirefake.AccessDenied("acm:ListCertificates"))
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New(fakeAccount, "aws", region)
	acmcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})
	if len(snap.ACM.Certificates) != 0 {
		t.Errorf("got %d certificates after a failed ListCertificates", len(snap.ACM.Certificates))
	}
	if errs := snap.Errors[snapshot.ACM]; len(errs) != 1 || errs[0].Operation != "ListCertificates" || errs[0].Resource != "" || errs[0].Code != "AccessDeniedException" {
		t.Errorf("errors: %+v", errs)
	}
	if !snap.Collected[snapshot.ACM] || snap.Complete(snapshot.ACM) {
		t.Error("a failed ListCertificates must leave ACM collected but incomplete")
	}
	if counter.Count("ACM", "DescribeCertificate") != 0 {
		t.Error("nothing may be described after a failed list")
	}
}

// TestCollectOneCertificateServerError keeps a certificate named in the
// scope whose describe fails with a 5xx: unread, with the reason, not dropped.
func TestCollectOneCertificateServerError(t *testing.T) {
	fake := wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		if op == "DescribeCertificate" {
			return nil, &wirefake.Error{Status: 500, Code: "InternalFailure", Message: "internal"}
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
	defer fake.Close()
	snap := snapshot.New(fakeAccount, "aws", region)
	acmcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{fakeARN(7)}})
	c := snap.ACM.Certificates[fakeARN(7)]
	if c == nil || c.Described || c.Renewal.Known || !strings.HasPrefix(c.ReadError, "DescribeCertificate failed: InternalFailure") {
		t.Fatalf("certificate must be kept, unread, with a reason: %+v", c)
	}
	if fake.Calls("ListCertificates") != 0 {
		t.Error("a one-certificate scope must not list every certificate")
	}
	if snap.Absent(snapshot.ACM, fakeARN(7)) || snap.Complete(snapshot.ACM) {
		t.Error("a 5xx is an error, never an absence")
	}
}

// TestCollectNamedAbsentAgainstMoto: a named certificate ACM answers
// ResourceNotFoundException for is marked absent as named, not stored, and
// ACM stays complete; one that exists is read alongside; an ARN of another
// region is not asked about here (ACM would answer not found for it).
func TestCollectNamedAbsentAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := testcert.RSA("here.example.com", 2048, 365*day)
	if err != nil {
		t.Fatal(err)
	}
	imported, err := acm.NewFromConfig(cfg).ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: p.Certificate, PrivateKey: p.PrivateKey})
	if err != nil {
		t.Fatal(err)
	}
	here := aws.ToString(imported.CertificateArn)
	gone := "arn:aws:acm:eu-west-1:" + motoserver.Account + ":certificate/0badc0de-0000-4000-8000-000000000000"
	elsewhere := "arn:aws:acm:us-east-1:" + motoserver.Account + ":certificate/0badc0de-0000-4000-8000-000000000001"

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	acmcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{here, gone, elsewhere}})
	if !snap.Complete(snapshot.ACM) {
		t.Fatalf("a certificate that does not exist is an answer, not an error: %v", snap.Errors)
	}
	if !snap.Absent(snapshot.ACM, gone) || snap.Absent(snapshot.ACM, here) || snap.Absent(snapshot.ACM, elsewhere) {
		t.Errorf("absent: gone %v, here %v, elsewhere %v", snap.Absent(snapshot.ACM, gone), snap.Absent(snapshot.ACM, here), snap.Absent(snapshot.ACM, elsewhere))
	}
	if len(snap.ACM.Certificates) != 1 || snap.ACM.Certificates[here] == nil || !snap.ACM.Certificates[here].Described {
		t.Errorf("certificates: %+v", snap.ACM.Certificates)
	}
	if n := counter.Count("ACM", "DescribeCertificate"); n != 2 || counter.Total() != 2 {
		t.Errorf("calls %+v, want two DescribeCertificate (none for another region)", counter.Snapshot())
	}
}

// TestCollectNamedDenied: a denied describe keeps the certificate unread,
// with the error naming it, and never marks it absent.
func TestCollectNamedDenied(t *testing.T) {
	fake := newFakeACM(3, -1, 2, nil)
	defer fake.Close()
	snap := snapshot.New(fakeAccount, "aws", region)
	acmcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{fakeARN(2)}})
	c := snap.ACM.Certificates[fakeARN(2)]
	if c == nil || c.Described || !strings.HasPrefix(c.ReadError, "DescribeCertificate failed: AccessDeniedException") {
		t.Fatalf("certificate: %+v", c)
	}
	if errs := snap.Errors[snapshot.ACM]; len(errs) != 1 || errs[0].Resource != fakeARN(2) || errs[0].Code != "AccessDeniedException" {
		t.Errorf("errors: %+v", errs)
	}
	if snap.Absent(snapshot.ACM, fakeARN(2)) {
		t.Error("a denied describe marked the certificate absent")
	}
}

// TestDescribeWithoutCertificateIsRecorded: a DescribeCertificate answer
// without a certificate leaves the renewal unknown and is recorded as a
// collection error, in a full scan and on a one-certificate run alike, so
// nothing is archived on it.
func TestDescribeWithoutCertificateIsRecorded(t *testing.T) {
	fake := wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		switch op {
		case "ListCertificates":
			return map[string]any{"CertificateSummaryList": []any{map[string]any{
				"CertificateArn": fakeARN(0), "DomainName": "c0.example.com", "Type": "AMAZON_ISSUED", "Status": "ISSUED",
				"KeyAlgorithm": "RSA-2048", "InUse": true,
			}}}, nil
		case "DescribeCertificate":
			return map[string]any{}, nil
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
	defer fake.Close()
	const reason = "DescribeCertificate returned no certificate"
	for _, scope := range []collect.Scope{{}, {ResourceIDs: []string{fakeARN(0)}}} {
		snap := snapshot.New(fakeAccount, "aws", region)
		acmcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, scope)
		c := snap.ACM.Certificates[fakeARN(0)]
		if c == nil || c.Described || c.Renewal.Known || c.Renewal.Reason != reason {
			t.Fatalf("scope %v: renewal must be unknown with the reason: %+v", scope, c)
		}
		if !scope.All() && c.ReadError != reason {
			t.Errorf("one-certificate run: ReadError %q, want %q", c.ReadError, reason)
		}
		errs := snap.Errors[snapshot.ACM]
		if len(errs) != 1 || errs[0].Operation != "DescribeCertificate" || errs[0].Resource != fakeARN(0) || errs[0].Code != collect.IncompleteResponse {
			t.Errorf("scope %v: errors %+v", scope, errs)
		}
		if snap.Complete(snapshot.ACM) {
			t.Errorf("scope %v: an unanswered describe must make the ACM scope incomplete", scope)
		}
	}
}
