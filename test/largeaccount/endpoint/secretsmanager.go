package endpoint

import "strings"

func init() { register("secretsmanager", serveSecretsManager) }

// serveSecretsManager answers ListSecrets (JSON 1.1): MaxResults 1-100
// (default 100), secrets scheduled for deletion only with
// IncludePlannedDeletion, the "name" filter (a prefix match, not case
// sensitive). Other filters are refused so a client change is noticed.
func serveSecretsManager(q *req) {
	a := q.s.Data
	if q.op != "ListSecrets" {
		q.unknownOperation()
		return
	}
	size, err := q.pageSize("MaxResults", 100, 1, 100)
	if err != nil {
		q.invalid("InvalidParameterException", "%s", err)
		return
	}
	includeDeleted, _ := q.in["IncludePlannedDeletion"].(bool)
	var prefixes []string
	if fs, ok := q.in["Filters"].([]any); ok {
		for _, f := range fs {
			fm, _ := f.(map[string]any)
			if key, _ := fm["Key"].(string); key != "name" {
				q.invalid("InvalidParameterException", "filter key %q is not served by the largeaccount endpoint", key)
				return
			}
			vals, _ := fm["Values"].([]any)
			for _, v := range vals {
				s, _ := v.(string)
				prefixes = append(prefixes, strings.ToLower(s))
			}
		}
	}
	var listed []int
	for j := 0; j < a.N.Secrets; j++ {
		if secretDeleted(j) && !includeDeleted {
			continue
		}
		if len(prefixes) > 0 {
			s := a.Secret(q.region, j)
			match := false
			for _, p := range prefixes {
				match = match || strings.HasPrefix(strings.ToLower(s.Name), p)
			}
			if !match {
				continue
			}
		}
		listed = append(listed, j)
	}
	start, end, next, ok := page("ListSecrets", q.region, q.str("NextToken"), len(listed), size)
	if !ok {
		q.invalid("InvalidNextTokenException", "The NextToken value is invalid.")
		return
	}
	out := make([]map[string]any, 0, end-start)
	for _, j := range listed[start:end] {
		out = append(out, secretEntry(a.Secret(q.region, j)))
	}
	res := map[string]any{"SecretList": out}
	if next != "" {
		res["NextToken"] = next
	}
	q.json(res)
}

func secretEntry(s Secret) map[string]any {
	e := map[string]any{
		"ARN": s.ARN, "Name": s.Name, "Description": "synthetic secret",
		"LastChangedDate": epoch(s.LastChanged), "CreatedDate": epoch(s.Created),
		"SecretVersionsToStages": map[string][]string{s.VersionID: {"AWSCURRENT"}},
	}
	if s.KmsKeyID != "" {
		e["KmsKeyId"] = s.KmsKeyID
	}
	if s.RotationEnabled {
		e["RotationEnabled"] = true
		rules := map[string]any{}
		if s.AfterDays > 0 {
			rules["AutomaticallyAfterDays"] = s.AfterDays
		}
		if s.ScheduleExpression != "" {
			rules["ScheduleExpression"] = s.ScheduleExpression
		}
		if s.Duration != "" {
			rules["Duration"] = s.Duration
		}
		e["RotationRules"] = rules
		if s.RotationLambdaARN != "" {
			e["RotationLambdaARN"] = s.RotationLambdaARN
		}
	}
	if s.OwningService != "" {
		e["OwningService"] = s.OwningService
	}
	if s.LastRotated != nil {
		e["LastRotatedDate"] = epoch(*s.LastRotated)
	}
	if s.LastAccessed != nil {
		e["LastAccessedDate"] = epoch(*s.LastAccessed)
	}
	if s.Deleted != nil {
		e["DeletedDate"] = epoch(*s.Deleted)
	}
	tags := make([]map[string]string, 0, len(s.Tags))
	for _, t := range s.Tags {
		tags = append(tags, map[string]string{"Key": t[0], "Value": t[1]})
	}
	e["Tags"] = tags
	return e
}
