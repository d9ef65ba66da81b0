package snapshot

import (
	"maps"
	"testing"
)

func TestTags(t *testing.T) {
	m := map[string]string{"team": "payments", "Name": "db", "posture-auditor:exempt": "rds.instance-cmk", "empty": ""}
	tags := TagsOf(m)
	for i := 1; i < len(tags); i++ {
		if tags[i-1].Key >= tags[i].Key {
			t.Fatalf("not sorted by key: %v", tags)
		}
	}
	for k, v := range m {
		if got, ok := tags.Get(k); !ok || got != v {
			t.Errorf("Get(%q) = %q, %v; want %q", k, got, ok, v)
		}
	}
	if _, ok := tags.Get("absent"); ok {
		t.Error("Get of an absent key found it")
	}
	if !maps.Equal(tags.Map(), m) {
		t.Errorf("Map() = %v, want %v", tags.Map(), m)
	}
	if TagsOf(nil) != nil || TagsOf(map[string]string{}) != nil || Tags(nil).Map() != nil {
		t.Error("no tags must be nil")
	}
}
