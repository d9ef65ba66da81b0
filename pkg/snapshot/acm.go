package snapshot

import (
	"strings"
	"time"
)

// ACMData is what the acm collector read: the region's ACM certificates.
type ACMData struct {
	// CollectedAt is when the certificates were read. Expiry is measured from
	// it, not from the clock, so the checks stay pure and repeatable.
	CollectedAt time.Time
	// Certificates by certificate ARN.
	Certificates map[string]*ACMCertificate
}

// Certificate types (ACM's CertificateType).
const (
	CertAmazonIssued = "AMAZON_ISSUED"
	CertImported     = "IMPORTED"
	CertPrivate      = "PRIVATE"
)

// Certificate statuses (ACM's CertificateStatus) the checks branch on.
const (
	CertIssued  = "ISSUED"
	CertExpired = "EXPIRED"
)

// ACMCertificate is one certificate as the collector saw it: from the
// ListCertificates summary, and from DescribeCertificate where the summary
// lacks what a check needs (renewal status) or on a one-certificate run.
type ACMCertificate struct {
	ARN        string
	DomainName string
	// SubjectAlternativeNames may be truncated in list summaries (ACM's
	// HasAdditionalSubjectAlternativeNames); it is informational only.
	SubjectAlternativeNames []string

	// ReadError is set when nothing but the ARN is known: the certificate
	// was named in the scope and DescribeCertificate failed. Every check then
	// says NOT_AVAILABLE with this reason.
	ReadError string

	Type   string // AMAZON_ISSUED, IMPORTED, PRIVATE
	Status string // PENDING_VALIDATION, ISSUED, INACTIVE, EXPIRED, VALIDATION_TIMED_OUT, REVOKED, FAILED
	// KeyAlgorithm is normalised to the enum spelling (RSA_2048,
	// EC_prime256v1) whatever spelling the API answered with; see
	// NormalizeKeyAlgorithm.
	KeyAlgorithm       string
	RenewalEligibility string // ELIGIBLE, INELIGIBLE
	ManagedBy          string // CLOUDFRONT for certificates CloudFront manages

	// NotBefore and NotAfter are nil until the certificate is issued.
	NotBefore, NotAfter *time.Time
	CreatedAt           *time.Time
	IssuedAt            *time.Time
	ImportedAt          *time.Time

	// InUse says whether another AWS service uses the certificate (the list
	// summary's InUse, or a non-empty InUseBy from describe).
	InUse Fact[bool]
	// InUseBy names the resources using the certificate; only
	// DescribeCertificate returns it, so it is empty for certificates that
	// were not described.
	InUseBy []string

	// Described is true when DescribeCertificate answered for this certificate.
	Described bool
	// Renewal is ACM's managed renewal state (DescribeCertificate's
	// RenewalSummary). It is read only for issued certificates ACM issued
	// (AMAZON_ISSUED and PRIVATE), the ones it renews by itself; for
	// imported ones, or when the describe failed, it is unknown with the
	// reason.
	Renewal Fact[CertRenewal]
}

// CertRenewal is the managed renewal state of a certificate ACM issued.
// A zero Status means no managed renewal is under way (ACM starts renewing
// 60 days before expiry; until then DescribeCertificate has no RenewalSummary).
type CertRenewal struct {
	Status    string // PENDING_AUTO_RENEWAL, PENDING_VALIDATION, SUCCESS, FAILED
	Reason    string // RenewalStatusReason, e.g. CAA_ERROR
	UpdatedAt *time.Time
}

// Name is the certificate's domain name, or its ARN.
func (c *ACMCertificate) Name() string {
	if c.DomainName != "" {
		return c.DomainName
	}
	return c.ARN
}

// NormalizeKeyAlgorithm is the one place the two spellings of an ACM key
// algorithm meet: describe and list output say "RSA-2048" and
// "EC-prime256v1", filters and the SDK enum say "RSA_2048" and
// "EC_prime256v1". It returns the enum spelling (also ASFF's).
func NormalizeKeyAlgorithm(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "-", "_")
}
