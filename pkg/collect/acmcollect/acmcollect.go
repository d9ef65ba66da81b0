// Package acmcollect reads the ACM certificates of one region: one
// ListCertificates pass naming every key type, then DescribeCertificate only
// for issued certificates ACM issued itself (AMAZON_ISSUED and PRIVATE),
// whose managed renewal status the list summary lacks.
package acmcollect

import (
	"context"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// API is the part of the ACM client the collector uses; each method is one
// IAM action in template.yaml.
type API interface {
	ListCertificates(context.Context, *acm.ListCertificatesInput, ...func(*acm.Options)) (*acm.ListCertificatesOutput, error)
	DescribeCertificate(context.Context, *acm.DescribeCertificateInput, ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
}

// Operations are the IAM actions of every call the collector can make: one
// per method of API, which TestOperationsMatchAPI keeps equal. docs/checks.md
// lists them under each check that reads this service.
var Operations = []string{"acm:ListCertificates", "acm:DescribeCertificate"}

// Collector is the ACM collector.
type Collector struct {
	// Workers bounds concurrent DescribeCertificate calls (default 8:
	// enough to keep the paced 9 a second in flight at up to 0.9 s a call,
	// so the quota and not the workers sets the pace).
	Workers int
	// NewAPI builds the client; nil means acm.NewFromConfig.
	NewAPI func(aws.Config) API
	// Now stamps ACMData.CollectedAt; nil means time.Now.
	Now func() time.Time
}

// ACM's request quotas (ListCertificates 8/s, DescribeCertificate 10/s per
// account and region) are kept by the config's pacer (pkg/pace, through
// awsconfig): every attempt of every call waits for its token there, shared
// by every Collect of the account and region, so this collector makes its
// calls as fast as its workers allow and never paces them itself.

// pageSize is ListCertificates' largest MaxItems: fewest list calls.
const pageSize = 1000

// Service implements collect.Collector.
func (Collector) Service() snapshot.Service { return snapshot.ACM }

// Collect implements collect.Collector.
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(cfg)
	rec := collect.NewRecorder(snap, snapshot.ACM)
	if snap.ACM.Certificates == nil {
		snap.ACM.Certificates = map[string]*snapshot.ACMCertificate{}
	}
	snap.ACM.CollectedAt = c.now()

	if !scope.All() {
		c.collectNamed(ctx, api, rec, snap, scope.ResourceIDs)
		return
	}

	certs, err := listCertificates(ctx, api)
	if err != nil {
		rec.Fail("ListCertificates", "", err)
		return
	}
	var toDescribe []*snapshot.ACMCertificate
	for _, cert := range certs {
		if reason := renewalNotRead(cert); reason != "" {
			cert.Renewal = snapshot.UnknownFact[snapshot.CertRenewal](reason)
			continue
		}
		toDescribe = append(toDescribe, cert)
	}
	collect.ForEach(ctx, c.workers(), toDescribe, func(ctx context.Context, cert *snapshot.ACMCertificate) {
		describe(ctx, api, rec, cert)
	})
	for _, cert := range certs {
		snap.ACM.Certificates[cert.ARN] = cert
	}
}

// notFound is ACM's answer for a certificate that does not exist in the
// caller's account and region (deleted, or never there).
const notFound = "ResourceNotFoundException"

// collectNamed is a one-certificate run: DescribeCertificate answers
// everything the summary would, and listing the whole region would cost
// more. Each named certificate ends in exactly one outcome: described;
// marked absent, as the scope named it, when DescribeCertificate answered
// ResourceNotFoundException (not stored, so nothing judges it); or kept
// unread with its ReadError and the error recorded. A certificate ARN of
// another region or account is not this region's to read: ACM would answer
// ResourceNotFoundException for it here.
func (c Collector) collectNamed(ctx context.Context, api API, rec *collect.Recorder, snap *snapshot.Snapshot, ids []string) {
	var certs []*snapshot.ACMCertificate
	var named []string
	for _, id := range ids {
		if a, err := arn.Parse(id); err == nil && a.Service == "acm" && (a.Region != snap.Region || a.AccountID != snap.Account) {
			continue
		}
		certs = append(certs, &snapshot.ACMCertificate{ARN: id})
		named = append(named, id)
	}
	gone := make([]bool, len(certs))
	collect.ForEach(ctx, c.workers(), collect.Indexes(len(certs)), func(ctx context.Context, i int) {
		cert := certs[i]
		out, err := api.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(cert.ARN)})
		if err != nil && collect.ErrorCode(err) == notFound {
			gone[i] = true
			return
		}
		if !answered(rec, cert, out, err) {
			cert.ReadError = cert.Renewal.Reason
		}
	})
	for i, cert := range certs {
		if gone[i] {
			snap.MarkAbsent(snapshot.ACM, named[i])
			continue
		}
		snap.ACM.Certificates[cert.ARN] = cert
	}
}

func (c Collector) api(cfg aws.Config) API {
	if c.NewAPI != nil {
		return c.NewAPI(cfg)
	}
	return acm.NewFromConfig(cfg)
}

func (c Collector) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return 8
}

func (c Collector) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// AllKeyTypes is every key algorithm the SDK knows. ListCertificates
// returns only RSA_1024 and RSA_2048 certificates unless Includes.KeyTypes
// names the others, so ECDSA and larger RSA certificates would silently be
// missed.
func AllKeyTypes() []acmtypes.KeyAlgorithm {
	return acmtypes.KeyAlgorithm("").Values()
}

// listCertificates pages through every certificate of every key type and
// status.
func listCertificates(ctx context.Context, api API) ([]*snapshot.ACMCertificate, error) {
	var certs []*snapshot.ACMCertificate
	p := acm.NewListCertificatesPaginator(api, &acm.ListCertificatesInput{
		Includes: &acmtypes.Filters{KeyTypes: AllKeyTypes()},
		MaxItems: aws.Int32(pageSize),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.CertificateSummaryList {
			certs = append(certs, fromSummary(s))
		}
	}
	return certs, nil
}

// fromSummary reads a list summary.
func fromSummary(s acmtypes.CertificateSummary) *snapshot.ACMCertificate {
	cert := &snapshot.ACMCertificate{
		ARN:                     aws.ToString(s.CertificateArn),
		DomainName:              aws.ToString(s.DomainName),
		SubjectAlternativeNames: s.SubjectAlternativeNameSummaries,
		Type:                    string(s.Type),
		Status:                  string(s.Status),
		KeyAlgorithm:            snapshot.NormalizeKeyAlgorithm(string(s.KeyAlgorithm)),
		RenewalEligibility:      string(s.RenewalEligibility),
		ManagedBy:               string(s.ManagedBy),
		NotBefore:               s.NotBefore,
		NotAfter:                s.NotAfter,
		CreatedAt:               s.CreatedAt,
		IssuedAt:                s.IssuedAt,
		ImportedAt:              s.ImportedAt,
		InUse:                   snapshot.UnknownFact[bool]("ListCertificates did not report InUse"),
	}
	if s.InUse != nil {
		cert.InUse = snapshot.KnownFact(*s.InUse)
	}
	return cert
}

// renewalNotRead says why a listed certificate's renewal status is not
// worth a DescribeCertificate call, or "" when it is. ACM's managed renewal
// covers the public (AMAZON_ISSUED) and private (PRIVATE, from AWS Private
// CA through RequestCertificate) certificates it issued; only imported ones
// are out of its scope. A type ACM adds later is described rather than
// guessed out of scope.
func renewalNotRead(cert *snapshot.ACMCertificate) string {
	switch {
	case cert.Type == snapshot.CertImported:
		return "ACM does not renew imported certificates"
	case cert.Status != snapshot.CertIssued:
		return "certificate is " + cert.Status + ": managed renewal applies to issued certificates only"
	}
	return ""
}

// describe fills cert from DescribeCertificate and reports whether it
// answered. On error the certificate's renewal becomes unknown, with the
// error recorded.
func describe(ctx context.Context, api API, rec *collect.Recorder, cert *snapshot.ACMCertificate) bool {
	out, err := api.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(cert.ARN)})
	return answered(rec, cert, out, err)
}

// answered fills cert from a DescribeCertificate answer and reports
// whether it carried the certificate; an error or an empty answer is
// recorded, leaving the renewal unknown.
func answered(rec *collect.Recorder, cert *snapshot.ACMCertificate, out *acm.DescribeCertificateOutput, err error) bool {
	if err != nil {
		recordDescribeFailure(rec, cert, err)
		return false
	}
	if out.Certificate == nil {
		cert.Renewal = snapshot.UnknownFact[snapshot.CertRenewal](rec.Incomplete("DescribeCertificate", cert.ARN, "certificate"))
		return false
	}
	fromDetail(cert, out.Certificate)
	return true
}

func recordDescribeFailure(rec *collect.Recorder, cert *snapshot.ACMCertificate, err error) {
	rec.Fail("DescribeCertificate", cert.ARN, err)
	cert.Renewal = snapshot.UnknownFact[snapshot.CertRenewal](collect.Reason("DescribeCertificate", err))
}

// fromDetail overlays DescribeCertificate's answer, which is at least as
// fresh as the summary and adds InUseBy and the renewal summary.
func fromDetail(cert *snapshot.ACMCertificate, d *acmtypes.CertificateDetail) {
	cert.Described = true
	if arn := aws.ToString(d.CertificateArn); arn != "" {
		cert.ARN = arn
	}
	cert.DomainName = aws.ToString(d.DomainName)
	cert.SubjectAlternativeNames = d.SubjectAlternativeNames
	cert.Type = string(d.Type)
	cert.Status = string(d.Status)
	cert.KeyAlgorithm = snapshot.NormalizeKeyAlgorithm(string(d.KeyAlgorithm))
	cert.RenewalEligibility = string(d.RenewalEligibility)
	cert.ManagedBy = string(d.ManagedBy)
	cert.NotBefore, cert.NotAfter = d.NotBefore, d.NotAfter
	cert.CreatedAt, cert.IssuedAt, cert.ImportedAt = d.CreatedAt, d.IssuedAt, d.ImportedAt
	cert.InUseBy = append([]string(nil), d.InUseBy...)
	sort.Strings(cert.InUseBy)
	cert.InUse = snapshot.KnownFact(len(d.InUseBy) > 0)

	switch {
	case cert.Type == snapshot.CertImported:
		cert.Renewal = snapshot.UnknownFact[snapshot.CertRenewal](renewalNotRead(cert))
	case d.RenewalSummary == nil:
		cert.Renewal = snapshot.KnownFact(snapshot.CertRenewal{}) // no renewal under way
	default:
		cert.Renewal = snapshot.KnownFact(snapshot.CertRenewal{
			Status:    string(d.RenewalSummary.RenewalStatus),
			Reason:    string(d.RenewalSummary.RenewalStatusReason),
			UpdatedAt: d.RenewalSummary.UpdatedAt,
		})
	}
}
