package gapfill

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// ACMCertificate is what moto cannot show of a seeded AMAZON_ISSUED
// certificate: moto leaves a requested certificate PENDING_VALIDATION for a
// minute (no DNS validation happens in emulation) and never returns a
// RenewalSummary. A seeder stores it with SetACMCertificate; the hook patches
// moto's ListCertificates and DescribeCertificate answers for that ARN only.
type ACMCertificate struct {
	// Issued reports the certificate ISSUED, as AWS does once its DNS
	// validation record resolves.
	Issued bool
	// RenewalStatus and RenewalStatusReason, when set, make
	// DescribeCertificate return a RenewalSummary.
	RenewalStatus       string
	RenewalStatusReason string
}

// SetACMCertificate stores the fill for one certificate ARN.
func (p *Proxy) SetACMCertificate(arn string, c ACMCertificate) { p.Set(acmKey(arn), c) }

func acmKey(arn string) string { return "acm/certificate/" + arn }

func init() { register("acm", fillACM) }

func fillACM(p *Proxy, w http.ResponseWriter, r *Request) bool {
	if r.Operation != "ListCertificates" && r.Operation != "DescribeCertificate" {
		return false
	}
	status, header, body, err := p.Forward(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return true
	}
	if status == http.StatusOK {
		body = patchACM(p, r.Operation, body)
	}
	copyHeader(w.Header(), header)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return true
}

// patchACM applies the stored fills to moto's JSON answer; an answer it
// cannot parse passes through unchanged.
func patchACM(p *Proxy, operation string, body []byte) []byte {
	var out map[string]any
	if json.Unmarshal(body, &out) != nil {
		return body
	}
	var certs []any
	switch operation {
	case "ListCertificates":
		certs, _ = out["CertificateSummaryList"].([]any)
	case "DescribeCertificate":
		certs = []any{out["Certificate"]}
	}
	for _, c := range certs {
		cert, ok := c.(map[string]any)
		if !ok {
			continue
		}
		arn, _ := cert["CertificateArn"].(string)
		v, ok := p.Get(acmKey(arn))
		if !ok {
			continue
		}
		fill := v.(ACMCertificate)
		if fill.Issued {
			cert["Status"] = "ISSUED"
			if dvos, ok := cert["DomainValidationOptions"].([]any); ok {
				for _, d := range dvos {
					if dvo, ok := d.(map[string]any); ok {
						dvo["ValidationStatus"] = "SUCCESS"
					}
				}
			}
		}
		if fill.RenewalStatus == "" {
			continue
		}
		// ACM renews, and so reports renewal, only for eligible certificates.
		cert["RenewalEligibility"] = "ELIGIBLE"
		if operation == "DescribeCertificate" {
			// As in AWS, the summary's time is when the renewal status last
			// changed, not when it was asked for: the certificate's creation
			// stands in for it, so that repeated reads answer the same.
			updated, ok := cert["CreatedAt"]
			if !ok {
				updated = json.Number(strconv.FormatInt(time.Now().Unix(), 10))
			}
			summary := map[string]any{
				"RenewalStatus": fill.RenewalStatus,
				"UpdatedAt":     updated,
			}
			if dvos, ok := cert["DomainValidationOptions"]; ok {
				summary["DomainValidationOptions"] = dvos
			}
			if fill.RenewalStatusReason != "" {
				summary["RenewalStatusReason"] = fill.RenewalStatusReason
			}
			cert["RenewalSummary"] = summary
		}
	}
	patched, err := json.Marshal(out)
	if err != nil {
		return body
	}
	return patched
}
