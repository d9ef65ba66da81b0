package gapfill

import (
	"encoding/json"
	"net/http"
	"time"
)

func init() { register("secretsmanager", secretsListFields) }

// SecretFields are ListSecrets entry fields a seeder sets on one secret
// where moto 5.2 cannot: it never reports LastAccessedDate, and it stamps
// CreatedDate and LastRotatedDate with the moment of seeding (RotateSecret
// records a rotation "now"), so no demo secret could be old, stale or
// overdue. Nil fields are left as moto answered.
type SecretFields struct {
	CreatedDate     *time.Time
	LastRotatedDate *time.Time
	// LastAccessedDate is reported day-granular, as AWS does: midnight UTC
	// of its day.
	LastAccessedDate *time.Time
}

func secretFieldsKey(arn string) string { return "secretsmanager:fields:" + arn }

// SetSecretFields makes ListSecrets report f for the secret arn.
func (p *Proxy) SetSecretFields(arn string, f SecretFields) { p.Set(secretFieldsKey(arn), f) }

// secretsListFields patches moto's ListSecrets answer with the fields
// seeders set; every other Secrets Manager call passes through.
func secretsListFields(p *Proxy, w http.ResponseWriter, r *Request) bool {
	if r.Operation != "ListSecrets" {
		return false
	}
	status, header, body, err := p.Forward(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return true
	}
	if status == http.StatusOK {
		body = p.patchSecretList(body)
	}
	copyHeader(w.Header(), header)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return true
}

func (p *Proxy) patchSecretList(body []byte) []byte {
	var out map[string]any
	if json.Unmarshal(body, &out) != nil {
		return body
	}
	list, _ := out["SecretList"].([]any)
	for _, e := range list {
		entry, _ := e.(map[string]any)
		arn, _ := entry["ARN"].(string)
		v, ok := p.Get(secretFieldsKey(arn))
		f, _ := v.(SecretFields)
		if !ok {
			continue
		}
		// JSON protocol timestamps are epoch seconds.
		set := func(field string, t *time.Time) {
			if t != nil {
				entry[field] = float64(t.UnixMilli()) / 1000
			}
		}
		set("CreatedDate", f.CreatedDate)
		set("LastRotatedDate", f.LastRotatedDate)
		if f.LastAccessedDate != nil {
			day := f.LastAccessedDate.UTC().Truncate(24 * time.Hour)
			set("LastAccessedDate", &day)
		}
	}
	patched, err := json.Marshal(out)
	if err != nil {
		return body
	}
	return patched
}
