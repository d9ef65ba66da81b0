package acmchecks

import (
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const arnPrefix = "arn:aws:acm:eu-west-1:111122223333:certificate/"

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

const day = 24 * time.Hour

// issued is an issued, in-use, Amazon-issued RSA-2048 certificate valid for
// another 200 days with no renewal under way.
func issued(mod func(*snapshot.ACMCertificate)) *snapshot.ACMCertificate {
	c := &snapshot.ACMCertificate{
		ARN: arnPrefix + "a", DomainName: "www.example.com",
		Type: snapshot.CertAmazonIssued, Status: snapshot.CertIssued, KeyAlgorithm: "RSA_2048",
		NotBefore: at(-165 * day), NotAfter: at(200 * day),
		InUse:     snapshot.KnownFact(false),
		Described: true,
		Renewal:   snapshot.KnownFact(snapshot.CertRenewal{}),
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func imported(mod func(*snapshot.ACMCertificate)) *snapshot.ACMCertificate {
	return issued(func(c *snapshot.ACMCertificate) {
		c.Type, c.Described = snapshot.CertImported, false
		c.Renewal = snapshot.UnknownFact[snapshot.CertRenewal]("not renewed by ACM")
		if mod != nil {
			mod(c)
		}
	})
}

func snap(certs ...*snapshot.ACMCertificate) *snapshot.Snapshot {
	s := snapshot.New("111122223333", "aws", "eu-west-1")
	s.ACM.CollectedAt = now
	s.ACM.Certificates = map[string]*snapshot.ACMCertificate{}
	for _, c := range certs {
		s.ACM.Certificates[c.ARN] = c
	}
	return s
}

// unread is a certificate named in a one-certificate scope whose describe failed.
var unread = &snapshot.ACMCertificate{ARN: arnPrefix + "a", ReadError: "DescribeCertificate failed: AccessDeniedException: no",
	Renewal: snapshot.UnknownFact[snapshot.CertRenewal]("DescribeCertificate failed: AccessDeniedException: no")}

type want struct {
	status   check.Status
	severity check.Severity // "" for PASSED and NOT_AVAILABLE
	reason   string
}

var params = check.Params{ExpiryDays: 30}

func TestExpiry(t *testing.T) {
	inUse := func(c *snapshot.ACMCertificate) { c.InUse = snapshot.KnownFact(true) }
	tests := []struct {
		name string
		cert *snapshot.ACMCertificate
		want *want // nil: not applicable, no result
	}{
		{"valid 200 days", issued(nil), &want{check.Passed, "", "certificate expires on 2026-09-17, in 200 days"}},
		{"exactly at threshold", imported(func(c *snapshot.ACMCertificate) { c.NotAfter = at(30 * day) }), &want{check.Passed, "", "certificate expires on 2026-03-31, in 30 days"}},
		{"expiring in 10 days", imported(func(c *snapshot.ACMCertificate) { c.NotAfter = at(10 * day) }),
			&want{check.Failed, check.Medium, "certificate expires on 2026-03-11, in 10 days, within the 30-day threshold"}},
		{"expiring in 10 days, in use", imported(func(c *snapshot.ACMCertificate) { c.NotAfter = at(10 * day); inUse(c) }),
			&want{check.Failed, check.High, "certificate expires on 2026-03-11, in 10 days, within the 30-day threshold, and it is in use"}},
		{"expiring in hours, in use by a described consumer", issued(func(c *snapshot.ACMCertificate) {
			c.NotAfter = at(5 * time.Hour)
			c.InUse, c.InUseBy = snapshot.KnownFact(true), []string{"arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/1"}
		}), &want{check.Failed, check.High, "certificate expires on 2026-03-01, in less than a day, within the 30-day threshold, and it is in use by arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/1"}},
		{"expiring, in use unknown", imported(func(c *snapshot.ACMCertificate) {
			c.NotAfter = at(1 * day)
			c.InUse = snapshot.UnknownFact[bool]("ListCertificates did not report InUse")
		}), &want{check.Failed, check.Medium, "certificate expires on 2026-03-02, in 1 day, within the 30-day threshold (whether it is in use is unknown: ListCertificates did not report InUse)"}},
		{"status EXPIRED", imported(func(c *snapshot.ACMCertificate) { c.Status, c.NotAfter = snapshot.CertExpired, at(-3*day) }),
			&want{check.Failed, check.High, "certificate expired on 2026-02-26"}},
		{"issued but past NotAfter, in use", imported(func(c *snapshot.ACMCertificate) { c.NotAfter = at(-time.Minute); inUse(c) }),
			&want{check.Failed, check.Critical, "certificate expired on 2026-03-01, and it is in use"}},
		{"issued without NotAfter", issued(func(c *snapshot.ACMCertificate) { c.NotAfter = nil }),
			&want{check.NotAvailable, "", "ACM reported no NotAfter for this ISSUED certificate"}},
		{"describe failed on a one-certificate run", unread, &want{check.NotAvailable, "", "DescribeCertificate failed: AccessDeniedException: no"}},
		{"pending validation", issued(func(c *snapshot.ACMCertificate) { c.Status, c.NotAfter, c.NotBefore = "PENDING_VALIDATION", nil, nil }), nil},
		{"validation timed out", issued(func(c *snapshot.ACMCertificate) { c.Status, c.NotAfter = "VALIDATION_TIMED_OUT", nil }), nil},
		{"failed request", issued(func(c *snapshot.ACMCertificate) { c.Status, c.NotAfter = "FAILED", nil }), nil},
		{"revoked", imported(func(c *snapshot.ACMCertificate) { c.Status, c.NotAfter = "REVOKED", at(2*day) }), nil},
		{"inactive", issued(func(c *snapshot.ACMCertificate) { c.Status = "INACTIVE" }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertOne(t, Expiry.Results(snap(tt.cert), params), tt.want)
		})
	}
}

func TestExpiryThreshold(t *testing.T) {
	cert := imported(func(c *snapshot.ACMCertificate) { c.NotAfter = at(45 * day) })
	if got := Expiry.Results(snap(cert), check.Params{ExpiryDays: 30}); got[0].Status != check.Passed {
		t.Errorf("45 days with threshold 30: %s", got[0].Status)
	}
	if got := Expiry.Results(snap(cert), check.Params{ExpiryDays: 60}); got[0].Status != check.Failed {
		t.Errorf("45 days with threshold 60: %s", got[0].Status)
	}
}

// TestExpiryMeasuresFromCollectedAt: the check is pure, the same snapshot
// gives the same answer whenever it is evaluated.
func TestExpiryMeasuresFromCollectedAt(t *testing.T) {
	s := snap(imported(func(c *snapshot.ACMCertificate) { c.NotAfter = at(10 * day) }))
	s.ACM.CollectedAt = now.Add(-60 * day)
	if got := Expiry.Results(s, params); got[0].Status != check.Passed {
		t.Errorf("70 days before expiry as collected: %s %s", got[0].Status, got[0].Reason)
	}
}

func TestRenewal(t *testing.T) {
	renewal := func(status, reason string) func(*snapshot.ACMCertificate) {
		return func(c *snapshot.ACMCertificate) {
			c.Renewal = snapshot.KnownFact(snapshot.CertRenewal{Status: status, Reason: reason})
		}
	}
	tests := []struct {
		name string
		cert *snapshot.ACMCertificate
		want *want
	}{
		{"no renewal under way", issued(nil), &want{check.Passed, "", "no managed renewal is under way"}},
		{"renewed", issued(renewal("SUCCESS", "")), &want{check.Passed, "", "managed renewal status is SUCCESS"}},
		{"renewing", issued(renewal("PENDING_AUTO_RENEWAL", "")), &want{check.Passed, "", "managed renewal status is PENDING_AUTO_RENEWAL"}},
		{"renewal failed", issued(renewal("FAILED", "CAA_ERROR")), &want{check.Failed, "", "managed renewal failed (CAA_ERROR)"}},
		{"renewal stuck in validation", issued(renewal("PENDING_VALIDATION", "")), &want{check.Failed, "", "managed renewal is waiting for domain validation"}},
		{"describe denied", issued(func(c *snapshot.ACMCertificate) {
			c.Described = false
			c.Renewal = snapshot.UnknownFact[snapshot.CertRenewal]("DescribeCertificate failed: AccessDeniedException: denied")
		}), &want{check.NotAvailable, "", "DescribeCertificate failed: AccessDeniedException: denied"}},
		{"describe failed on a one-certificate run", unread, &want{check.NotAvailable, "", "DescribeCertificate failed: AccessDeniedException: no"}},
		{"imported", imported(renewal("FAILED", "")), nil},
		// ACM's managed renewal covers the private certificates it issued too.
		{"private, no renewal under way", issued(func(c *snapshot.ACMCertificate) { c.Type = snapshot.CertPrivate }), &want{check.Passed, "", "no managed renewal is under way"}},
		{"private renewal failed", issued(func(c *snapshot.ACMCertificate) {
			c.Type = snapshot.CertPrivate
			c.Renewal = snapshot.KnownFact(snapshot.CertRenewal{Status: "FAILED", Reason: "PCA_ACCESS_DENIED"})
		}), &want{check.Failed, "", "managed renewal failed (PCA_ACCESS_DENIED)"}},
		{"private, describe denied", issued(func(c *snapshot.ACMCertificate) {
			c.Type, c.Described = snapshot.CertPrivate, false
			c.Renewal = snapshot.UnknownFact[snapshot.CertRenewal]("DescribeCertificate failed: AccessDeniedException: denied")
		}), &want{check.NotAvailable, "", "DescribeCertificate failed: AccessDeniedException: denied"}},
		{"unknown type", issued(func(c *snapshot.ACMCertificate) { c.Type = "" }), &want{check.NotAvailable, "", `certificate type "": whether ACM renews it is not known`}},
		{"private, pending", issued(func(c *snapshot.ACMCertificate) {
			c.Type, c.Status = snapshot.CertPrivate, "PENDING_VALIDATION"
			c.Renewal = snapshot.UnknownFact[snapshot.CertRenewal]("not issued")
		}), nil},
		{"pending initial validation", issued(func(c *snapshot.ACMCertificate) {
			c.Status = "PENDING_VALIDATION"
			c.Renewal = snapshot.UnknownFact[snapshot.CertRenewal]("not issued")
		}), nil},
		{"expired", issued(func(c *snapshot.ACMCertificate) { c.Status = snapshot.CertExpired; c.Renewal.Value.Status = "FAILED" }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertOne(t, Renewal.Results(snap(tt.cert), nil), tt.want)
		})
	}
}

func TestKeyStrength(t *testing.T) {
	key := func(alg string) func(*snapshot.ACMCertificate) {
		return func(c *snapshot.ACMCertificate) { c.KeyAlgorithm = alg }
	}
	tests := []struct {
		name string
		cert *snapshot.ACMCertificate
		want *want
	}{
		{"RSA 2048", issued(nil), &want{check.Passed, "", "RSA key of 2048 bits"}},
		{"RSA 4096", imported(key("RSA_4096")), &want{check.Passed, "", "RSA key of 4096 bits"}},
		{"RSA 1024", imported(key("RSA_1024")), &want{check.Failed, "", "RSA key of 1024 bits, shorter than 2048"}},
		{"P-256", imported(key("EC_prime256v1")), &want{check.Passed, "", "ECDSA key on curve prime256v1"}},
		{"P-384", issued(key("EC_secp384r1")), &want{check.Passed, "", "ECDSA key on curve secp384r1"}},
		{"P-521", imported(key("EC_secp521r1")), &want{check.Passed, "", "ECDSA key on curve secp521r1"}},
		{"P-224", imported(key("EC_secp224r1")), &want{check.Failed, "", "ECDSA key on curve secp224r1, weaker than P-256"}},
		{"P-192", imported(key("EC_prime192v1")), &want{check.Failed, "", "ECDSA key on curve prime192v1, weaker than P-256"}},
		{"pending validation is judged", issued(func(c *snapshot.ACMCertificate) { c.Status = "PENDING_VALIDATION" }), &want{check.Passed, "", "RSA key of 2048 bits"}},
		{"unknown algorithm", imported(key("ML_DSA_65")), &want{check.NotAvailable, "", "key algorithm ML_DSA_65 is not one this check can judge"}},
		{"malformed RSA", imported(key("RSA_big")), &want{check.NotAvailable, "", "key algorithm RSA_big is not one this check can judge"}},
		{"no algorithm", imported(key("")), &want{check.NotAvailable, "", "ACM reported no key algorithm"}},
		{"describe failed on a one-certificate run", unread, &want{check.NotAvailable, "", "DescribeCertificate failed: AccessDeniedException: no"}},
		{"expired", imported(func(c *snapshot.ACMCertificate) { c.Status, c.KeyAlgorithm = snapshot.CertExpired, "RSA_1024" }), nil},
		{"revoked", imported(func(c *snapshot.ACMCertificate) { c.Status, c.KeyAlgorithm = "REVOKED", "RSA_1024" }), nil},
		{"failed request", issued(func(c *snapshot.ACMCertificate) { c.Status = "FAILED" }), nil},
		{"validation timed out", issued(func(c *snapshot.ACMCertificate) { c.Status = "VALIDATION_TIMED_OUT" }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertOne(t, KeyStrength.Results(snap(tt.cert), nil), tt.want)
		})
	}
}

// TestKeyStrengthReadsBothSpellings: the collector normalises "RSA-1024"
// (describe and list output) to the enum spelling the check reads.
func TestKeyStrengthReadsBothSpellings(t *testing.T) {
	for _, raw := range []string{"RSA-1024", "RSA_1024"} {
		c := imported(func(c *snapshot.ACMCertificate) { c.KeyAlgorithm = snapshot.NormalizeKeyAlgorithm(raw) })
		if got := KeyStrength.Results(snap(c), nil); got[0].Status != check.Failed {
			t.Errorf("%s: %s", raw, got[0].Status)
		}
	}
	if got := snapshot.NormalizeKeyAlgorithm("EC-prime256v1"); got != "EC_prime256v1" {
		t.Errorf("EC-prime256v1 normalised to %s", got)
	}
}

func TestEmptySnapshotYieldsNothing(t *testing.T) {
	for _, c := range Checks() {
		if got := c.Results(snap(), params); len(got) != 0 {
			t.Errorf("%s: %d results on no certificates", c.ID, len(got))
		}
	}
}

func TestResultsAreSortedAndCarryDetails(t *testing.T) {
	updated := now.Add(-day)
	b := issued(func(c *snapshot.ACMCertificate) {
		c.ARN = arnPrefix + "b"
		c.InUse, c.InUseBy = snapshot.KnownFact(true), []string{"arn:aws:cloudfront::111122223333:distribution/E1"}
		c.Renewal = snapshot.KnownFact(snapshot.CertRenewal{Status: "FAILED", Reason: "CAA_ERROR", UpdatedAt: &updated})
	})
	a := imported(func(c *snapshot.ACMCertificate) { c.DomainName = "api.example.com"; c.KeyAlgorithm = "EC_prime256v1" })
	got := KeyStrength.Results(snap(b, a), nil)
	if len(got) != 2 || got[0].ResourceARN != arnPrefix+"a" || got[0].ResourceName != "api.example.com" {
		t.Fatalf("results: %+v", got)
	}
	da := got[0].Details.AwsCertificateManagerCertificate
	if da == nil || *da.DomainName != "api.example.com" || *da.KeyAlgorithm != "EC_prime256v1" || *da.Type != "IMPORTED" ||
		*da.Status != "ISSUED" || *da.NotAfter != "2026-09-17T12:00:00.000Z" || da.InUseBy != nil || da.RenewalSummary != nil {
		t.Errorf("imported details: %+v", da)
	}
	db := got[1].Details.AwsCertificateManagerCertificate
	if len(db.InUseBy) != 1 || db.RenewalSummary == nil || *db.RenewalSummary.RenewalStatus != "FAILED" ||
		*db.RenewalSummary.RenewalStatusReason != "CAA_ERROR" || *db.RenewalSummary.UpdatedAt != "2026-02-28T12:00:00.000Z" {
		t.Errorf("described details: %+v %+v", db, db.RenewalSummary)
	}
}

func assertOne(t *testing.T, got []check.Result, w *want) {
	t.Helper()
	if w == nil {
		if len(got) != 0 {
			t.Fatalf("want no result, got %+v", got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("want 1 result, got %d: %+v", len(got), got)
	}
	r := got[0]
	if r.Status != w.status || r.Reason != w.reason || r.Severity != w.severity || r.ResourceARN != arnPrefix+"a" || r.Region != "eu-west-1" {
		t.Errorf("got %s/%q %q on %s/%s,\nwant %s/%q %q", r.Status, r.Severity, r.Reason, r.ResourceARN, r.Region, w.status, w.severity, w.reason)
	}
	if r.Details == nil || r.Details.AwsCertificateManagerCertificate == nil {
		t.Error("result carries no AwsCertificateManagerCertificate details")
	}
}
