// Package acmchecks holds the checks on ACM certificates: expiry, managed
// renewal and key strength.
package acmchecks

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Checks are this package's checks, in registry order.
func Checks() []check.Check { return []check.Check{Expiry, Renewal, KeyStrength} }

// ExpiryDays is the threshold name for acm.expiry.
const ExpiryDays = "acmExpiryDays"

const resourceType = "AwsCertificateManagerCertificate"

var findingTypes = []string{"Software and Configuration Checks/AWS Security Best Practices"}

// Expiry is acm.expiry (Security Hub ACM.1).
var Expiry = check.Check{
	ID:    "acm.expiry",
	Title: "ACM certificates are not expired or about to expire",
	Description: "An issued ACM certificate should not expire within the configured number of days. " +
		"An expired certificate breaks TLS for every client of the resources using it. " +
		"Severity is HIGH once expired, MEDIUM within the window, one level higher when the certificate is in use. " +
		"Certificates never issued (pending validation, failed, timed out), revoked or inactive have no validity to judge.",
	Rule: "an issued certificate does not expire within `acmExpiryDays` (default 30): FAILED MEDIUM within " +
		"the window, HIGH once expired, one level higher (HIGH, CRITICAL) when the certificate is in " +
		"use. Certificates never issued (pending validation, failed, timed out), revoked or inactive " +
		"have no validity to judge and get no finding.",
	Severity:     check.Medium,
	ResourceType: resourceType,
	Types:        findingTypes,
	Remediation: "Replace the certificate before it expires: re-import a renewed certificate over the same ARN " +
		"(aws acm import-certificate --certificate-arn <arn> ...), or for an ACM-issued certificate complete its " +
		"domain validation so managed renewal can succeed.",
	RemediationURL:      "https://docs.aws.amazon.com/acm/latest/userguide/managed-renewal.html",
	SecurityHubControls: []string{"ACM.1"},
	RelatedRequirements: []string{"NIST.800-53.r5 SC-28(3)", "NIST.800-53.r5 SC-7(16)"},
	Services:            []snapshot.Service{snapshot.ACM},
	Thresholds: []check.Threshold{{
		Name: ExpiryDays, Env: "ACM_EXPIRY_DAYS", Parameter: "AcmExpiryDays",
		Default: 30, Min: 1, Max: 365,
		Description: "a certificate expiring within this many days fails acm.expiry",
	}},
	Stream: evaluateExpiry,
}

func evaluateExpiry(s *snapshot.Snapshot, p check.Params, emit func(check.Result)) {
	days := p.Int(ExpiryDays)
	now := s.ACM.CollectedAt
	for _, c := range sortedCertificates(s) {
		r := result(s, c)
		switch {
		case c.ReadError != "":
			r.Status, r.Reason = check.NotAvailable, c.ReadError
		case c.Status != snapshot.CertIssued && c.Status != snapshot.CertExpired:
			continue // never issued, revoked or inactive: no validity period to judge
		case c.NotAfter == nil:
			r.Status, r.Reason = check.NotAvailable, "ACM reported no NotAfter for this "+c.Status+" certificate"
		case c.Status == snapshot.CertExpired || !c.NotAfter.After(now):
			r.Status, r.Severity = check.Failed, raiseIfInUse(check.High, c)
			r.Reason = "certificate expired on " + date(*c.NotAfter) + inUseNote(c)
		case c.NotAfter.Sub(now) < time.Duration(days)*24*time.Hour:
			r.Status, r.Severity = check.Failed, raiseIfInUse(check.Medium, c)
			r.Reason = fmt.Sprintf("certificate expires on %s, in %s, within the %d-day threshold%s",
				date(*c.NotAfter), daysLeft(c.NotAfter.Sub(now)), days, inUseNote(c))
		default:
			r.Status = check.Passed
			r.Reason = fmt.Sprintf("certificate expires on %s, in %s", date(*c.NotAfter), daysLeft(c.NotAfter.Sub(now)))
		}
		emit(r)
	}
}

// raiseIfInUse raises sev one level for a certificate another service
// serves: its expiry is an outage, not a tidy-up.
func raiseIfInUse(sev check.Severity, c *snapshot.ACMCertificate) check.Severity {
	if c.InUse.Known && c.InUse.Value {
		return sev.Raise()
	}
	return sev
}

func inUseNote(c *snapshot.ACMCertificate) string {
	switch {
	case !c.InUse.Known:
		return " (whether it is in use is unknown: " + c.InUse.Reason + ")"
	case !c.InUse.Value:
		return ""
	case len(c.InUseBy) > 0:
		return ", and it is in use by " + strings.Join(c.InUseBy, ", ")
	default:
		return ", and it is in use"
	}
}

// Renewal is acm.renewal.
var Renewal = check.Check{
	ID:    "acm.renewal",
	Title: "ACM managed renewal of the certificates ACM issued is not failing",
	Description: "ACM renews the public (AMAZON_ISSUED) and private (PRIVATE) certificates it issues by itself, from " +
		"60 days before expiry: public ones once their domains validate again, private ones through their AWS Private " +
		"CA. A renewal that FAILED, or that is stuck in PENDING_VALIDATION, ends in an expired certificate. Imported " +
		"certificates are not renewed by ACM and are not judged.",
	Rule: "an issued certificate ACM issued, public (AMAZON_ISSUED) or private (PRIVATE), has a managed " +
		"renewal that is not FAILED or stuck in PENDING_VALIDATION (`RenewalSummary`, read with one " +
		"`DescribeCertificate` per such certificate). Imported certificates are not judged; a " +
		"certificate type ACM adds later is NOT_AVAILABLE.",
	Severity:     check.Medium,
	ResourceType: resourceType,
	Types:        findingTypes,
	Remediation: "Read the renewal failure reason (aws acm describe-certificate --certificate-arn <arn> " +
		"--query Certificate.RenewalSummary), then restore domain validation: keep the DNS validation CNAME " +
		"records in place, fix CAA records, or answer the validation email. For a private certificate, keep the " +
		"private CA active and ACM's permission to issue from it.",
	RemediationURL:      "https://docs.aws.amazon.com/acm/latest/userguide/troubleshooting-renewal.html",
	SecurityHubControls: []string{"ACM.1"},
	RelatedRequirements: []string{"NIST.800-53.r5 SC-12", "NIST.800-53.r5 SC-7(16)"},
	Services:            []snapshot.Service{snapshot.ACM},
	Stream:              evaluateRenewal,
}

func evaluateRenewal(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	for _, c := range sortedCertificates(s) {
		r := result(s, c)
		switch {
		case c.ReadError != "":
			r.Status, r.Reason = check.NotAvailable, c.ReadError
		case c.Status != snapshot.CertIssued, c.Type == snapshot.CertImported:
			continue // ACM renews only the certificates it issued, while they are valid
		case c.Type != snapshot.CertAmazonIssued && c.Type != snapshot.CertPrivate:
			r.Status = check.NotAvailable
			r.Reason = fmt.Sprintf("certificate type %q: whether ACM renews it is not known", c.Type)
		case !c.Renewal.Known:
			r.Status, r.Reason = check.NotAvailable, c.Renewal.Reason
		case c.Renewal.Value.Status == "FAILED":
			r.Status, r.Reason = check.Failed, "managed renewal failed"+renewalReason(c.Renewal.Value)
		case c.Renewal.Value.Status == "PENDING_VALIDATION":
			r.Status, r.Reason = check.Failed, "managed renewal is waiting for domain validation"+renewalReason(c.Renewal.Value)
		case c.Renewal.Value.Status == "":
			r.Status, r.Reason = check.Passed, "no managed renewal is under way"
		default:
			r.Status, r.Reason = check.Passed, "managed renewal status is "+c.Renewal.Value.Status
		}
		emit(r)
	}
}

func renewalReason(r snapshot.CertRenewal) string {
	if r.Reason == "" {
		return ""
	}
	return " (" + r.Reason + ")"
}

// KeyStrength is acm.key-strength (Security Hub ACM.2).
var KeyStrength = check.Check{
	ID:    "acm.key-strength",
	Title: "ACM certificates use RSA keys of at least 2048 bits or ECDSA keys of at least P-256",
	Description: "A certificate's key is fixed when it is issued: RSA keys shorter than 2048 bits and elliptic " +
		"curves weaker than P-256 no longer protect TLS. Certificates that failed, timed out, were revoked or " +
		"have expired are not judged.",
	Rule: "a certificate's key is RSA of at least 2048 bits or ECDSA on P-256 or stronger; HIGH. Every key " +
		"type is listed (`Includes.keyTypes`), so ECDSA and RSA-3072/4096 certificates are not " +
		"missed. An unrecognised algorithm is NOT_AVAILABLE. Failed, timed-out, revoked and expired " +
		"certificates are not judged.",
	Severity:     check.High,
	ResourceType: resourceType,
	Types:        findingTypes,
	Remediation: "Issue or import a replacement with a strong key (aws acm request-certificate --key-algorithm " +
		"RSA_2048 or EC_prime256v1), move the resources in InUseBy to it, then delete the weak certificate.",
	RemediationURL:      "https://docs.aws.amazon.com/acm/latest/userguide/acm-certificate-characteristics.html",
	SecurityHubControls: []string{"ACM.2"},
	RelatedRequirements: []string{"NIST.800-53.r5 SC-12", "NIST.800-53.r5 SC-13"},
	Services:            []snapshot.Service{snapshot.ACM},
	Stream:              evaluateKeyStrength,
}

// unusable statuses hold no key anyone can serve with.
var unusable = map[string]bool{"FAILED": true, "VALIDATION_TIMED_OUT": true, "REVOKED": true, snapshot.CertExpired: true}

// curveBits is the strength of the curves ACM names, as their field size.
var curveBits = map[string]int{
	"prime192v1": 192, "secp224r1": 224,
	"prime256v1": 256, "secp256r1": 256,
	"secp384r1": 384, "secp521r1": 521,
}

func evaluateKeyStrength(s *snapshot.Snapshot, _ check.Params, emit func(check.Result)) {
	for _, c := range sortedCertificates(s) {
		r := result(s, c)
		switch {
		case c.ReadError != "":
			r.Status, r.Reason = check.NotAvailable, c.ReadError
		case unusable[c.Status]:
			continue
		default:
			r.Status, r.Reason = judgeKey(c.KeyAlgorithm)
		}
		emit(r)
	}
}

// judgeKey judges a normalised key algorithm (RSA_2048, EC_prime256v1). An
// algorithm it does not recognise is NOT_AVAILABLE, never a verdict.
func judgeKey(alg string) (check.Status, string) {
	family, param, _ := strings.Cut(alg, "_")
	switch family {
	case "RSA":
		bits, err := strconv.Atoi(param)
		if err != nil {
			break
		}
		if bits < 2048 {
			return check.Failed, fmt.Sprintf("RSA key of %d bits, shorter than 2048", bits)
		}
		return check.Passed, fmt.Sprintf("RSA key of %d bits", bits)
	case "EC":
		bits, ok := curveBits[param]
		if !ok {
			break
		}
		if bits < 256 {
			return check.Failed, "ECDSA key on curve " + param + ", weaker than P-256"
		}
		return check.Passed, "ECDSA key on curve " + param
	}
	if alg == "" {
		return check.NotAvailable, "ACM reported no key algorithm"
	}
	return check.NotAvailable, "key algorithm " + alg + " is not one this check can judge"
}

func sortedCertificates(s *snapshot.Snapshot) []*snapshot.ACMCertificate {
	out := make([]*snapshot.ACMCertificate, 0, len(s.ACM.Certificates))
	for _, c := range s.ACM.Certificates {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

func result(s *snapshot.Snapshot, c *snapshot.ACMCertificate) check.Result {
	return check.Result{
		ResourceARN:  c.ARN,
		ResourceName: c.Name(),
		Region:       s.Region,
		Details:      &check.ResourceDetails{AwsCertificateManagerCertificate: CertificateDetails(c)},
	}
}

// CertificateDetails is the ASFF AwsCertificateManagerCertificate details
// object of a certificate, holding what was read (InUseBy and the renewal
// summary only for described certificates).
func CertificateDetails(c *snapshot.ACMCertificate) *shtypes.AwsCertificateManagerCertificateDetails {
	d := &shtypes.AwsCertificateManagerCertificateDetails{
		DomainName:              optional(c.DomainName),
		KeyAlgorithm:            optional(c.KeyAlgorithm),
		Status:                  optional(c.Status),
		Type:                    optional(c.Type),
		RenewalEligibility:      optional(c.RenewalEligibility),
		SubjectAlternativeNames: c.SubjectAlternativeNames,
		NotAfter:                timestamp(c.NotAfter),
		NotBefore:               timestamp(c.NotBefore),
		CreatedAt:               timestamp(c.CreatedAt),
		IssuedAt:                timestamp(c.IssuedAt),
		ImportedAt:              timestamp(c.ImportedAt),
	}
	if c.Described {
		d.InUseBy = c.InUseBy
	}
	if c.Renewal.Known && c.Renewal.Value.Status != "" {
		d.RenewalSummary = &shtypes.AwsCertificateManagerCertificateRenewalSummary{
			RenewalStatus:       aws.String(c.Renewal.Value.Status),
			RenewalStatusReason: optional(c.Renewal.Value.Reason),
			UpdatedAt:           timestamp(c.Renewal.Value.UpdatedAt),
		}
	}
	return d
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// timestamp formats t as ASFF timestamps are written.
func timestamp(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	return aws.String(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

func date(t time.Time) string { return t.UTC().Format("2006-01-02") }

// daysLeft rounds down to whole days; under a day it says so.
func daysLeft(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	switch n {
	case 0:
		return "less than a day"
	case 1:
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}
