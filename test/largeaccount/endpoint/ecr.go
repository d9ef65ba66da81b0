package endpoint

import (
	"strconv"
	"strings"
)

func init() { register("ecr", serveECR) }

// serveECR answers DescribeRepositories (JSON 1.1): maxResults 1-1000
// (default 100) with nextToken, or repositoryNames (at most 100, any
// missing one fails the call with RepositoryNotFoundException; not
// combinable with maxResults or nextToken).
func serveECR(q *req) {
	a := q.s.Data
	if q.op != "DescribeRepositories" {
		q.unknownOperation()
		return
	}
	if id := q.str("registryId"); id != "" && id != a.ID {
		q.invalid("RepositoryNotFoundException", "The repository with name does not exist in the registry with id '%s'", id)
		return
	}
	if names, ok := q.in["repositoryNames"].([]any); ok {
		if _, has := q.in["maxResults"]; has || q.str("nextToken") != "" {
			q.invalid("InvalidParameterException", "Invalid parameter at 'maxResults' failed to satisfy constraint: 'maxResults cannot be specified with repositoryNames'")
			return
		}
		if len(names) > 100 {
			q.invalid("InvalidParameterException", "repositoryNames: at most 100")
			return
		}
		var out []map[string]any
		for _, n := range names {
			name, _ := n.(string)
			j, ok := repositoryIndex(name)
			if !ok || j >= a.N.Repositories || a.Repository(q.region, j).Name != name {
				q.invalid("RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", name, a.ID)
				return
			}
			out = append(out, repositoryJSON(a.Repository(q.region, j)))
		}
		q.json(map[string]any{"repositories": out})
		return
	}
	size, err := q.pageSize("maxResults", 100, 1, 1000)
	if err != nil {
		q.invalid("InvalidParameterException", "%s", err)
		return
	}
	start, end, next, ok := page("DescribeRepositories", q.region, q.str("nextToken"), a.N.Repositories, size)
	if !ok {
		q.invalid("InvalidParameterException", "Invalid parameter at 'nextToken'")
		return
	}
	out := make([]map[string]any, 0, end-start)
	for j := start; j < end; j++ {
		out = append(out, repositoryJSON(a.Repository(q.region, j)))
	}
	res := map[string]any{"repositories": out}
	if next != "" {
		res["nextToken"] = next
	}
	q.json(res)
}

func repositoryIndex(name string) (int, bool) {
	i := strings.LastIndex(name, "/app-")
	if i < 0 {
		return 0, false
	}
	j, err := strconv.Atoi(name[i+len("/app-"):])
	return j, err == nil && j >= 0
}

func repositoryJSON(r Repository) map[string]any {
	enc := map[string]any{"encryptionType": "AES256"}
	if r.Enc.Mode != "" {
		enc = map[string]any{"encryptionType": "KMS", "kmsKey": r.Enc.Key.ARN}
	}
	return map[string]any{
		"repositoryArn": r.ARN, "registryId": strings.Split(r.ARN, ":")[4], "repositoryName": r.Name, "repositoryUri": r.URI,
		"createdAt": epoch(r.Created), "imageTagMutability": r.Mutability,
		"imageScanningConfiguration": map[string]any{"scanOnPush": r.ScanOnPush}, "encryptionConfiguration": enc,
	}
}
