package gapfill

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Throttle makes service's operation (JSON or query protocol) answer
// AWS's throttling error until Unthrottle, on every retry too, so a caller
// sees the error the SDK gives up with: a transient failure.
func (p *Proxy) Throttle(service, operation string) { p.Set(throttleKey(service, operation), true) }

// Unthrottle undoes Throttle.
func (p *Proxy) Unthrottle(service, operation string) { p.Set(throttleKey(service, operation), false) }

func throttleKey(service, operation string) string { return "throttle:" + service + ":" + operation }

func init() {
	for _, svc := range []string{"acm", "cloudtrail", "ec2", "ecr", "kms", "rds", "secretsmanager", "securityhub"} {
		hooks[svc] = append([]Hook{throttleHook}, hooks[svc]...)
	}
}

func throttleHook(p *Proxy, w http.ResponseWriter, r *Request) bool {
	v, _ := p.Get(throttleKey(r.Service, r.Operation))
	if on, _ := v.(bool); !on || r.Operation == "" {
		return false
	}
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "ThrottlingException", "message": "Rate exceeded"})
	case r.Service == "ec2":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>gapfill-throttle</RequestID></Response>`)
	default: // query protocol (RDS)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>gapfill-throttle</RequestId></ErrorResponse>`)
	}
	return true
}
