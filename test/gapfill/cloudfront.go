package gapfill

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// CloudFront (REST-XML, signing name "cloudfront") gaps of moto 5.2:
//   - ListDistributions summaries carry only Id, ARN, Status, DomainName and
//     LastModifiedTime; AWS also returns the viewer certificate, origins,
//     origin groups and cache behaviours. The hook fills each summary from
//     moto's own GetDistributionConfig, so the auditor makes only the
//     ListDistributions call it makes on AWS.
//   - Distribution ARNs lack the empty region field
//     (arn:aws:cloudfront:<account>:... instead of arn:aws:cloudfront::<account>:...):
//     they are corrected in every CloudFront answer.
//   - S3OriginConfig is dropped from origins (such an origin comes back with
//     neither S3 nor custom config, which the checks rightly report as an
//     origin of unknown kind): the Origins a CreateDistribution sent are
//     kept and served in the summaries instead of moto's.
//   - GetDistribution is implemented, with the distribution's whole
//     configuration, but drops S3OriginConfig the same way: the kept Origins
//     are served in its DistributionConfig too.
//   - Response headers policies are not implemented: GetResponseHeadersPolicy
//     is served here, for AWS's managed policies and for the policies a
//     seeder stored with PutResponseHeadersPolicy.
func init() {
	register("cloudfront", cloudFrontResponseHeadersPolicy)
	register("cloudfront", cloudFrontFromMoto)
}

const cloudFrontAPI = "/2020-05-31"

// summaryFromConfig are the DistributionConfig elements that AWS also
// returns in a DistributionSummary.
var summaryFromConfig = []string{
	"Aliases", "Comment", "Enabled", "Origins", "OriginGroups", "DefaultCacheBehavior", "CacheBehaviors",
	"CustomErrorResponses", "PriceClass", "ViewerCertificate", "Restrictions", "WebACLId", "HttpVersion", "IsIPV6Enabled",
}

var motoCloudFrontARN = regexp.MustCompile(`arn:(aws[a-z-]*):cloudfront:([0-9]{12}):`)

// cloudFrontFromMoto answers every other CloudFront request from moto, with
// ListDistributions' summaries filled and distribution ARNs corrected.
func cloudFrontFromMoto(p *Proxy, w http.ResponseWriter, r *Request) bool {
	status, header, body, err := p.Forward(r)
	if err == nil && status == http.StatusOK && r.Method == http.MethodGet && r.URL.Path == cloudFrontAPI+"/distribution" {
		body, err = fillSummaries(p, r, body)
	}
	if err == nil && status == http.StatusOK && r.Method == http.MethodGet && isDistributionPath(r.URL.Path) {
		body, err = fillDistribution(p, body)
	}
	if err == nil && status/100 == 2 && (r.Method == http.MethodPost && r.URL.Path == cloudFrontAPI+"/distribution" ||
		r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/config") && isDistributionPath(strings.TrimSuffix(r.URL.Path, "/config"))) {
		// CreateDistribution (with or without tags), UpdateDistribution.
		err = rememberOrigins(p, r.Body, body)
	}
	if err != nil {
		http.Error(w, "gapfill cloudfront: "+err.Error(), http.StatusBadGateway)
		return true
	}
	body = motoCloudFrontARN.ReplaceAll(body, []byte("arn:$1:cloudfront::$2:"))
	copyHeader(w.Header(), header)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return true
}

// fillSummaries rewrites every DistributionSummary of a ListDistributions
// answer with the elements moto leaves out, read from moto's distribution
// config.
func fillSummaries(p *Proxy, r *Request, list []byte) ([]byte, error) {
	summaries, err := xmlChildren(list, "DistributionList", "Items")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	last := 0
	for _, s := range summaries {
		summary := list[s.start:s.end]
		fields, err := xmlChildren(summary, "DistributionSummary")
		if err != nil {
			return nil, err
		}
		id := ""
		have := map[string]bool{}
		for _, f := range fields {
			have[f.name] = true
			if f.name == "Id" {
				id = xmlText(summary[f.start:f.end])
			}
		}
		config, err := distributionConfig(p, r, id)
		if err != nil {
			return nil, err
		}
		configFields, err := xmlChildren(config, "DistributionConfig")
		if err != nil {
			return nil, err
		}
		replace := map[string][]byte{}
		for _, f := range configFields {
			replace[f.name] = config[f.start:f.end]
		}
		if origins, ok := p.Get(createdOriginsKey(id)); ok {
			replace["Origins"] = origins.([]byte)
		}
		var filled bytes.Buffer
		filled.WriteString("<DistributionSummary>")
		for _, f := range fields {
			if _, ok := replace[f.name]; ok {
				continue // moto's copy is empty (OriginGroups): take the config's
			}
			filled.Write(summary[f.start:f.end])
		}
		for _, name := range summaryFromConfig {
			filled.Write(replace[name])
		}
		filled.WriteString("</DistributionSummary>")
		out.Write(list[last:s.start])
		out.Write(filled.Bytes())
		last = s.end
	}
	out.Write(list[last:])
	return out.Bytes(), nil
}

// isDistributionPath reports GetDistribution's path, /distribution/<id>.
func isDistributionPath(path string) bool {
	id, ok := strings.CutPrefix(path, cloudFrontAPI+"/distribution/")
	return ok && id != "" && !strings.Contains(id, "/")
}

// fillDistribution serves, in a GetDistribution answer, the Origins the
// distribution was created or last updated with (moto drops S3OriginConfig).
func fillDistribution(p *Proxy, body []byte) ([]byte, error) {
	top, err := xmlChildren(body, "Distribution")
	if err != nil {
		return nil, err
	}
	id := ""
	for _, f := range top {
		if f.name == "Id" {
			id = xmlText(body[f.start:f.end])
		}
	}
	origins, ok := p.Get(createdOriginsKey(id))
	if !ok {
		return body, nil
	}
	fields, err := xmlChildren(body, "Distribution", "DistributionConfig")
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if f.name == "Origins" {
			out := append(bytes.Clone(body[:f.start]), origins.([]byte)...)
			return append(out, body[f.end:]...), nil
		}
	}
	return body, nil
}

func createdOriginsKey(id string) string { return "cloudfront:created-origins:" + id }

// rememberOrigins keeps the Origins element a CreateDistribution (with or
// without tags) or UpdateDistribution sent, under the distribution's ID:
// AWS returns origins as they were set, S3OriginConfig included.
func rememberOrigins(p *Proxy, request, response []byte) error {
	path := []string{"DistributionConfig"}
	if bytes.Contains(request, []byte("<DistributionConfigWithTags")) {
		path = []string{"DistributionConfigWithTags", "DistributionConfig"}
	}
	fields, err := xmlChildren(request, path...)
	if err != nil {
		return err
	}
	created, err := xmlChildren(response, "Distribution")
	if err != nil {
		return err
	}
	id := ""
	for _, f := range created {
		if f.name == "Id" {
			id = xmlText(response[f.start:f.end])
		}
	}
	for _, f := range fields {
		if f.name == "Origins" && id != "" {
			p.Set(createdOriginsKey(id), bytes.Clone(request[f.start:f.end]))
		}
	}
	return nil
}

// distributionConfig asks moto for GetDistributionConfig directly, with the
// list request's credentials: the auditor never makes this call.
func distributionConfig(p *Proxy, r *Request, id string) ([]byte, error) {
	req := r.Request.Clone(r.Context())
	req.URL.Path = cloudFrontAPI + "/distribution/" + id + "/config"
	req.URL.RawPath, req.URL.RawQuery = "", ""
	status, _, body, err := p.Forward(&Request{Request: req, Service: r.Service})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GetDistributionConfig %s: HTTP %d: %s", id, status, body)
	}
	return body, nil
}

// xmlSpan is one element of a document, by byte offsets.
type xmlSpan struct {
	name       string
	start, end int
}

// xmlChildren returns the child elements of the element at path (from the
// document root, by local name), with their byte offsets in doc.
func xmlChildren(doc []byte, path ...string) ([]xmlSpan, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack []string
	var out []xmlSpan
	start := 0
	atPath := func() bool {
		if len(stack) != len(path)+1 {
			return false
		}
		for i, p := range path {
			if stack[i] != p {
				return false
			}
		}
		return true
	}
	for {
		off := int(dec.InputOffset())
		tok, err := dec.RawToken()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			if atPath() {
				start = off
			}
		case xml.EndElement:
			if atPath() {
				out = append(out, xmlSpan{name: t.Name.Local, start: start, end: int(dec.InputOffset())})
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// xmlText is the character data of a simple element.
func xmlText(elem []byte) string {
	var v string
	_ = xml.Unmarshal(elem, &v)
	return strings.TrimSpace(v)
}

// ResponseHeadersPolicy is a response headers policy a seeder stores for
// GetResponseHeadersPolicy to serve (moto has none).
type ResponseHeadersPolicy struct {
	Name string
	// HSTS adds Strict-Transport-Security with the fields below.
	HSTS              bool
	HSTSMaxAgeSeconds int
	IncludeSubdomains bool
	Preload           bool
	Override          bool
}

// managedResponseHeadersPolicies are AWS's managed policies, readable by
// ID in every account, as the demo attaches them.
var managedResponseHeadersPolicies = map[string]ResponseHeadersPolicy{
	"67f7725c-6f97-4210-82d7-5512b31e9d03": {Name: "Managed-SecurityHeadersPolicy", HSTS: true, HSTSMaxAgeSeconds: 31536000},
	"60669652-455b-4ae9-85a4-c4c02393f86c": {Name: "Managed-SimpleCORS"},
}

func responseHeadersPolicyKey(id string) string { return "cloudfront:response-headers-policy:" + id }

// PutResponseHeadersPolicy stores a custom response headers policy.
func (p *Proxy) PutResponseHeadersPolicy(id string, policy ResponseHeadersPolicy) {
	p.Set(responseHeadersPolicyKey(id), policy)
}

func cloudFrontResponseHeadersPolicy(p *Proxy, w http.ResponseWriter, r *Request) bool {
	id, ok := strings.CutPrefix(r.URL.Path, cloudFrontAPI+"/response-headers-policy/")
	if r.Method != http.MethodGet || !ok || strings.Contains(id, "/") {
		return false
	}
	policy, found := managedResponseHeadersPolicies[id]
	if v, ok := p.Get(responseHeadersPolicyKey(id)); ok {
		policy, found = v.(ResponseHeadersPolicy), true
	}
	w.Header().Set("Content-Type", "text/xml")
	if !found {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>NoSuchResponseHeadersPolicy</Code><Message>The response headers policy does not exist.</Message></Error><RequestId>gapfill</RequestId></ErrorResponse>`)
		return true
	}
	var security string
	if policy.HSTS {
		security = fmt.Sprintf(`<SecurityHeadersConfig><StrictTransportSecurity><Override>%t</Override><IncludeSubdomains>%t</IncludeSubdomains><Preload>%t</Preload><AccessControlMaxAgeSec>%d</AccessControlMaxAgeSec></StrictTransportSecurity></SecurityHeadersConfig>`,
			policy.Override, policy.IncludeSubdomains, policy.Preload, policy.HSTSMaxAgeSeconds)
	}
	var name bytes.Buffer
	_ = xml.EscapeText(&name, []byte(policy.Name))
	w.Header().Set("ETag", "gapfill-"+id)
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<?xml version="1.0"?><ResponseHeadersPolicy xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>%s</Id><LastModifiedTime>2025-01-01T00:00:00Z</LastModifiedTime><ResponseHeadersPolicyConfig><Name>%s</Name>%s</ResponseHeadersPolicyConfig></ResponseHeadersPolicy>`,
		id, name.String(), security)
	return true
}
