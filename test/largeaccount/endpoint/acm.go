package endpoint

import (
	"strings"
)

func init() { register("acm", serveACM) }

// defaultKeyTypes are what ListCertificates returns without
// Includes.keyTypes: RSA_1024 and RSA_2048 only, as AWS does.
var defaultKeyTypes = []string{"RSA_1024", "RSA_2048"}

// serveACM answers ACM (JSON 1.1): ListCertificates (MaxItems 1-1000,
// Includes.keyTypes, CertificateStatuses) and DescribeCertificate, whose
// KeyAlgorithm is spelled with a hyphen ("RSA-2048") where the list's is
// not ("RSA_2048").
func serveACM(q *req) {
	a := q.s.Data
	switch q.op {
	case "ListCertificates":
		size, err := q.pageSize("MaxItems", 1000, 1, 1000)
		if err != nil {
			q.invalid("ValidationException", "%s", err)
			return
		}
		types := map[string]bool{}
		for _, t := range defaultKeyTypes {
			types[t] = true
		}
		if inc, ok := q.in["Includes"].(map[string]any); ok {
			for k := range inc {
				if k != "keyTypes" {
					q.invalid("ValidationException", "Includes.%s is not served by the largeaccount endpoint", k)
					return
				}
			}
			if kt, ok := inc["keyTypes"].([]any); ok && len(kt) > 0 {
				types = map[string]bool{}
				for _, t := range kt {
					s, _ := t.(string)
					types[s] = true
				}
			}
		}
		statuses := map[string]bool{}
		if st, ok := q.in["CertificateStatuses"].([]any); ok {
			for _, s := range st {
				v, _ := s.(string)
				statuses[v] = true
			}
		}
		var listed []int
		for j := 0; j < a.N.Certificates; j++ {
			c := a.Certificate(q.region, j)
			if types[c.KeyType] && (len(statuses) == 0 || statuses[c.Status]) {
				listed = append(listed, j)
			}
		}
		start, end, next, ok := page("ListCertificates", q.region, q.str("NextToken"), len(listed), size)
		if !ok {
			q.invalid("InvalidArgsException", "The NextToken is not valid.")
			return
		}
		out := make([]map[string]any, 0, end-start)
		for _, j := range listed[start:end] {
			out = append(out, certSummary(a.Certificate(q.region, j)))
		}
		res := map[string]any{"CertificateSummaryList": out}
		if next != "" {
			res["NextToken"] = next
		}
		q.json(res)
	case "DescribeCertificate":
		arn := q.str("CertificateArn")
		c, ok := a.certificateByARN(q.region, arn)
		if !ok {
			q.invalid("ResourceNotFoundException", "Could not find certificate %s.", arn)
			return
		}
		q.json(map[string]any{"Certificate": certDetail(c)})
	default:
		q.unknownOperation()
	}
}

func (a *Account) certificateByARN(region, arn string) (Certificate, bool) {
	prefix := "arn:aws:acm:" + region + ":" + a.ID + ":certificate/"
	if !strings.HasPrefix(arn, prefix) {
		return Certificate{}, false
	}
	r, j, ok := parseUUID("cert", strings.TrimPrefix(arn, prefix))
	if !ok || r != a.regionIndex(region) || j >= a.N.Certificates {
		return Certificate{}, false
	}
	return a.Certificate(region, j), true
}

func certSummary(c Certificate) map[string]any {
	s := map[string]any{
		"CertificateArn": c.ARN, "DomainName": c.Domain, "SubjectAlternativeNameSummaries": []string{c.Domain, "www." + c.Domain},
		"HasAdditionalSubjectAlternativeNames": false, "Status": c.Status, "Type": c.Type, "KeyAlgorithm": c.KeyType,
		"KeyUsages": []string{"DIGITAL_SIGNATURE", "KEY_ENCIPHERMENT"}, "ExtendedKeyUsages": []string{"TLS_WEB_SERVER_AUTHENTICATION"},
		"InUse": c.InUse, "Exported": false, "RenewalEligibility": c.RenewalEligibility, "CreatedAt": epoch(c.Created),
	}
	timesOf(c, s)
	return s
}

func timesOf(c Certificate, m map[string]any) {
	if c.NotBefore != nil {
		m["NotBefore"] = epoch(*c.NotBefore)
		m["NotAfter"] = epoch(*c.NotAfter)
	}
	if c.Issued != nil {
		m["IssuedAt"] = epoch(*c.Issued)
	}
	if c.Imported != nil {
		m["ImportedAt"] = epoch(*c.Imported)
	}
}

func certDetail(c Certificate) map[string]any {
	d := map[string]any{
		"CertificateArn": c.ARN, "DomainName": c.Domain, "SubjectAlternativeNames": []string{c.Domain, "www." + c.Domain},
		"Status": c.Status, "Type": c.Type, "KeyAlgorithm": strings.Replace(c.KeyType, "_", "-", 1),
		"SignatureAlgorithm": "SHA256WITHRSA", "Subject": "CN=" + c.Domain, "Serial": digest("serial", c.ARN)[:32],
		"InUseBy": c.InUseBy, "RenewalEligibility": c.RenewalEligibility, "CreatedAt": epoch(c.Created),
		"KeyUsages":         []map[string]string{{"Name": "DIGITAL_SIGNATURE"}, {"Name": "KEY_ENCIPHERMENT"}},
		"ExtendedKeyUsages": []map[string]string{{"Name": "TLS_WEB_SERVER_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.1"}},
		"Options":           map[string]string{"CertificateTransparencyLoggingPreference": "ENABLED"},
	}
	if c.InUseBy == nil {
		d["InUseBy"] = []string{}
	}
	switch c.Type {
	case "AMAZON_ISSUED":
		d["Issuer"] = "Amazon"
	case "PRIVATE":
		d["Issuer"] = "Example Private CA"
		d["CertificateAuthorityArn"] = "arn:aws:acm-pca:" + strings.Split(c.ARN, ":")[3] + ":123456789012:certificate-authority/" + digest("ca")[:8] + "-0000-4000-8000-000000000000"
	default:
		d["Issuer"] = "Example Imported CA"
	}
	if c.RenewalStatus != "" {
		rs := map[string]any{"RenewalStatus": c.RenewalStatus, "UpdatedAt": epoch(c.Created)}
		if c.RenewalReason != "" {
			rs["RenewalStatusReason"] = c.RenewalReason
		}
		rs["DomainValidationOptions"] = []map[string]any{{"DomainName": c.Domain, "ValidationMethod": "DNS",
			"ValidationStatus": map[bool]string{true: "SUCCESS", false: "PENDING_VALIDATION"}[c.RenewalStatus == "SUCCESS" || c.RenewalStatus == "PENDING_AUTO_RENEWAL"]}}
		d["RenewalSummary"] = rs
	}
	timesOf(c, d)
	return d
}
