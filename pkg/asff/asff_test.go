package asff

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/kmschecks"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var ctx = Context{
	Account: "111122223333", Partition: "aws", ProductRegion: "eu-west-1",
	Now: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), ToolVersion: "1.2.3",
}

func keySnapshot(rotation snapshot.Fact[snapshot.KeyRotation]) *snapshot.Snapshot {
	s := snapshot.New("111122223333", "aws", "eu-west-1")
	s.KMS.Keys = map[string]*snapshot.KMSKey{"k1": {
		ID: "k1", ARN: "arn:aws:kms:eu-west-1:111122223333:key/k1", Aliases: []string{"alias/app"},
		Manager: snapshot.ManagerCustomer, Described: true, State: "Enabled",
		Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Origin: "AWS_KMS",
		CreationDate: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Rotation: rotation,
	}}
	return s
}

// TestGolden maps real check results (through the check, not hand-built
// results) and compares the JSON with testdata; run with -update to accept.
func TestGolden(t *testing.T) {
	params := check.Params{kmschecks.MaxRotationPeriodDays: 365}
	cases := map[string]*snapshot.Snapshot{
		"kms-rotation-failed":        keySnapshot(snapshot.KnownFact(snapshot.KeyRotation{})),
		"kms-rotation-passed":        keySnapshot(snapshot.KnownFact(snapshot.KeyRotation{Enabled: true, PeriodDays: 365})),
		"kms-rotation-not-available": keySnapshot(snapshot.UnknownFact[snapshot.KeyRotation]("GetKeyRotationStatus failed: AccessDeniedException: denied")),
	}
	for name, snap := range cases {
		t.Run(name, func(t *testing.T) {
			results := kmschecks.Rotation.Evaluate(snap, params)
			if len(results) != 1 {
				t.Fatalf("%d results", len(results))
			}
			f := Map(kmschecks.Rotation, results[0], ctx)
			got := compactJSON(t, f)
			path := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/asff -update to create)", err)
			}
			if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
				t.Errorf("%s differs from golden file:\n%s", name, got)
			}
		})
	}
}

func TestFindingIDIsDeterministicAndBounded(t *testing.T) {
	a := FindingID("kms.rotation", "111122223333", "eu-west-1", "arn:aws:kms:eu-west-1:111122223333:key/k1")
	if a != "posture-auditor/kms.rotation/111122223333/eu-west-1/arn:aws:kms:eu-west-1:111122223333:key/k1" {
		t.Errorf("id %s", a)
	}
	if b := FindingID("kms.rotation", "111122223333", "eu-west-1", "arn:aws:kms:eu-west-1:111122223333:key/k1"); a != b {
		t.Error("same inputs, different Ids")
	}
	if FindingID("kms.pending-deletion", "111122223333", "eu-west-1", "x") == FindingID("kms.rotation", "111122223333", "eu-west-1", "x") {
		t.Error("different checks share an Id")
	}
	long := "arn:aws:s3:::" + strings.Repeat("b", 600)
	id := FindingID("kms.rotation", "111122223333", "eu-west-1", long)
	if len(id) > 512 || id != FindingID("kms.rotation", "111122223333", "eu-west-1", long) || id == FindingID("kms.rotation", "111122223333", "eu-west-1", long+"x") {
		t.Errorf("long id %d bytes: %s", len(id), id)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("short", 10); got != "short" {
		t.Error(got)
	}
	s := strings.Repeat("é", 300) // 600 bytes
	got := Truncate(s, MaxTitle)
	if len(got) > MaxTitle || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("%d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestMapLimitsAndSeverity(t *testing.T) {
	c := kmschecks.Rotation
	c.Title = strings.Repeat("t", 400)
	c.Remediation = strings.Repeat("r", 600)
	r := check.Result{CheckID: c.ID, ResourceARN: "arn:x", Region: "eu-west-1", Status: check.Failed, Severity: check.Critical, Reason: strings.Repeat("d", 2000)}
	f := Map(c, r, ctx)
	if len(*f.Title) > MaxTitle || len(*f.Description) > MaxDescription || len(*f.Remediation.Recommendation.Text) > MaxRecommendation {
		t.Errorf("limits: title %d description %d recommendation %d", len(*f.Title), len(*f.Description), len(*f.Remediation.Recommendation.Text))
	}
	if f.FindingProviderFields.Severity.Label != "CRITICAL" || f.Severity.Label != "CRITICAL" {
		t.Errorf("result severity must win: %s", f.FindingProviderFields.Severity.Label)
	}
	r.Status = check.Passed
	if f := Map(c, r, ctx); f.FindingProviderFields.Severity.Label != "INFORMATIONAL" {
		t.Errorf("PASSED must be INFORMATIONAL, got %s", f.FindingProviderFields.Severity.Label)
	}
	if *f.ProductArn != "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default" {
		t.Error(*f.ProductArn)
	}
}

// compactJSON renders v with nulls and empty strings dropped, so the golden
// files show what the mapping sets and nothing of the SDK struct's unset
// fields.
func compactJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(prune(tree), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e = prune(e); e == nil || e == "" {
				delete(x, k)
			} else {
				x[k] = e
			}
		}
		if len(x) == 0 {
			return nil
		}
	case []any:
		for i, e := range x {
			x[i] = prune(e)
		}
	}
	return v
}
