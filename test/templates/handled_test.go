package templates

import (
	"sort"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/awsevent"
)

// TestApiCallRuleMatchesWhatTheParserHandles: the rule must deliver every
// call the events function acts on (a missing name is a change never
// re-judged) and nothing it would only acknowledge (an exact name the parser
// does not handle is traffic for nothing). CloudFront names are matched by
// prefix, for their API-version suffixes.
func TestApiCallRuleMatchesWhatTheParserHandles(t *testing.T) {
	pattern, err := load(t, homeTemplate).EventPattern("ApiCallRule")
	if err != nil {
		t.Fatal(err)
	}
	detail, _ := pattern["detail"].(map[string]any)
	names, _ := detail["eventName"].([]any)
	exact := map[string]bool{}
	var prefixes []string
	for _, n := range names {
		switch v := n.(type) {
		case string:
			exact[v] = true
		case map[string]any:
			if p, ok := v["prefix"].(string); ok {
				prefixes = append(prefixes, p)
			}
		}
	}
	matched := func(name string) bool {
		if exact[name] {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	handled := map[string]bool{}
	var missing []string
	for _, evs := range awsevent.Handled() {
		for _, name := range evs {
			handled[name] = true
			if !matched(name) {
				missing = append(missing, name)
			}
		}
	}
	var extra []string
	for name := range exact {
		if !handled[name] {
			extra = append(extra, name)
		}
	}
	for _, p := range prefixes {
		if !handled[p] {
			extra = append(extra, "prefix "+p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("ApiCallRule's eventName differs from pkg/awsevent's handlers:\n  handled but not delivered: %v\n  delivered but not handled: %v", missing, extra)
	}
}
