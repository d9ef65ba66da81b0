package gapfill

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Error injection for end-to-end tests: Deny makes one operation of one
// service answer AccessDenied, as AWS does for a missing IAM permission,
// in the service's own wire protocol, so the real SDK client and the
// collector's error handling are exercised.
//
//	gaps.Deny("kms", "ListKeys")                 // JSON protocol (X-Amz-Target)
//	gaps.Deny("rds", "DescribeDBInstances")      // query protocol (Action=)
//	gaps.Deny("cloudfront", "GET /2020-05-31/distribution") // REST: method and path prefix
//
// The hook runs before every other hook of the service.
func init() {
	for _, svc := range []string{"acm", "cloudfront", "cloudtrail", "ec2", "ecr", "kms", "rds", "secretsmanager", "securityhub", "sts", "iam", "s3", "lambda"} {
		// Prepend: files named before this one have already registered.
		hooks[svc] = append([]Hook{denyHook}, hooks[svc]...)
	}
}

func denyKey(service, operation string) string { return "deny:" + service + ":" + operation }

// Deny makes service's operation answer AccessDenied until Allow.
func (p *Proxy) Deny(service, operation string) { p.Set(denyKey(service, operation), true) }

// Allow undoes Deny.
func (p *Proxy) Allow(service, operation string) { p.Set(denyKey(service, operation), false) }

// denied reports whether r matches a Deny. For REST services (no
// operation) the key is "METHOD /path-prefix".
func (p *Proxy) denied(r *Request) bool {
	if r.Operation != "" {
		v, _ := p.Get(denyKey(r.Service, r.Operation))
		b, _ := v.(bool)
		return b
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	prefix := denyKey(r.Service, "")
	path := servicePath(r)
	for k, v := range p.state {
		if b, _ := v.(bool); b && strings.HasPrefix(k, prefix) && strings.HasPrefix(path, strings.TrimPrefix(k, prefix)) {
			return true
		}
	}
	return false
}

func denyHook(p *Proxy, w http.ResponseWriter, r *Request) bool {
	if !p.denied(r) {
		return false
	}
	action := r.Service + ":" + r.Operation
	msg := fmt.Sprintf("User: arn:aws:sts::123456789012:assumed-role/posture-auditor/test is not authorized to perform: %s because no identity-based policy allows the %s action", action, action)
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "AccessDeniedException", "message": msg})
	case r.Service == "ec2":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>%s</Message></Error></Errors><RequestID>gapfill-deny</RequestID></Response>`, msg)
	case r.Operation != "" || r.Service == "cloudfront" || r.Service == "s3":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>%s</Message></Error><RequestId>gapfill-deny</RequestId></ErrorResponse>`, msg)
	default: // REST-JSON (Security Hub, Lambda)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{"Code": "AccessDeniedException", "Message": msg})
	}
	return true
}

// servicePath names a REST request for Deny: "METHOD /path".
func servicePath(r *Request) string { return r.Method + " " + r.URL.Path }
