package asff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/checks/kmschecks"
	"github.com/posture-auditor/posture-auditor/pkg/checks/rdschecks"
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

// taggedInstanceSnapshot holds one unencrypted DB instance with tags.
func taggedInstanceSnapshot(tags map[string]string) *snapshot.Snapshot {
	s := snapshot.New("111122223333", "aws", "eu-west-1")
	s.RDS.Instances = []*snapshot.RDSInstance{{
		ARN: "arn:aws:rds:eu-west-1:111122223333:db:billing", Identifier: "billing", ResourceID: "db-ABCDEFGHIJKLMNOP",
		Engine: "postgres", EngineVersion: "16.3", Class: "db.t3.micro", Status: "available", StorageType: "gp3",
		AllocatedStorage: 20, AvailabilityZone: "eu-west-1a", CreateTime: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		StorageEncrypted: snapshot.KnownFact(false), Tags: snapshot.TagsOf(tags),
	}}
	return s
}

// TestGolden maps real check results (through the check, not hand-built
// results) and compares the JSON with testdata; run with -update to accept.
func TestGolden(t *testing.T) {
	params := check.Params{kmschecks.MaxRotationPeriodDays: 365}
	type golden struct {
		check check.Check
		snap  *snapshot.Snapshot
	}
	cases := map[string]golden{
		"kms-rotation-failed":        {kmschecks.Rotation, keySnapshot(snapshot.KnownFact(snapshot.KeyRotation{}))},
		"kms-rotation-passed":        {kmschecks.Rotation, keySnapshot(snapshot.KnownFact(snapshot.KeyRotation{Enabled: true, PeriodDays: 365}))},
		"kms-rotation-not-available": {kmschecks.Rotation, keySnapshot(snapshot.UnknownFact[snapshot.KeyRotation]("GetKeyRotationStatus failed: AccessDeniedException: denied"))},
		// A tagged resource: its tags are Resources[0].Tags, where Security
		// Hub automation rules match them (docs/suppression.md).
		"rds-instance-tagged": {rdschecks.InstanceCMK, taggedInstanceSnapshot(map[string]string{
			"posture-auditor:exempt": "rds.instance-cmk", "team": "payments", "aws:cloudformation:stack-name": "billing",
		})},
		// Tags ASFF cannot carry are left out, with a note, never failing
		// the import: an empty value, and a key over 128 characters.
		"rds-instance-tags-fitted": {rdschecks.InstanceCMK, taggedInstanceSnapshot(map[string]string{
			"posture-auditor:exempt": "rds.instance-cmk", "empty": "", strings.Repeat("k", 129): "v",
		})},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			results := tc.check.Results(tc.snap, params)
			if len(results) != 1 {
				t.Fatalf("%d results", len(results))
			}
			if results[0].Region == "" {
				results[0].Region = tc.snap.Region // as the runner does
			}
			f := Map(tc.check, results[0], ctx)
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

// TestTagsGoToResourceZero: a result's tags are the main resource's, as a
// copy; related resources carry none; a result without tags has no Tags.
func TestTagsGoToResourceZero(t *testing.T) {
	tags := map[string]string{"posture-auditor:exempt": "kms.rotation", "team": "payments"}
	r := check.Result{CheckID: "kms.rotation", ResourceARN: "arn:x", Region: "eu-west-1", Status: check.Failed, Tags: snapshot.TagsOf(tags),
		Related: []check.RelatedResource{{Type: "AwsRdsDbInstance", ARN: "arn:y"}}}
	f := Map(kmschecks.Rotation, r, ctx)
	if !maps.Equal(f.Resources[0].Tags, tags) || f.Resources[1].Tags != nil {
		t.Errorf("tags %v and %v", f.Resources[0].Tags, f.Resources[1].Tags)
	}
	if _, ok := f.ProductFields[TruncatedField]; ok {
		t.Errorf("note on tags that fit: %q", f.ProductFields[TruncatedField])
	}
	tags["team"] = "changed later"
	if f.Resources[0].Tags["team"] != "payments" {
		t.Error("the finding shares the result's tag map")
	}
	r.Tags = nil
	if f := Map(kmschecks.Rotation, r, ctx); f.Resources[0].Tags != nil {
		t.Errorf("untagged result: %v", f.Resources[0].Tags)
	}
}

// TestTagsFitASFF: AWS tag limits (50 tags, keys of 128 and values of 256
// characters) and Security Hub's non-blank pattern are met by leaving out
// or cutting, never by failing; this tool's own tags are kept first and
// AWS's aws: tags dropped first; the note says what happened.
func TestTagsFitASFF(t *testing.T) {
	in := map[string]string{
		"posture-auditor:exempt": "rds.instance-cmk",
		"blank":                  "   ",
		"empty":                  "",
		"two\nlines":             "v",
		"multi":                  "line\nvalue",
		strings.Repeat("é", 129): "v", // 129 characters
		strings.Repeat("é", 128): "v", // 128 characters: kept
		"long":                   strings.Repeat("ü", 300),
	}
	for i := 0; i < 30; i++ {
		in[fmt.Sprintf("aws:tag-%02d", i)] = "x"
		in[fmt.Sprintf("user-%02d", i)] = "y"
	}
	got, note := resourceTags(snapshot.TagsOf(in))
	if len(got) != MaxTags {
		t.Fatalf("%d tags, want %d", len(got), MaxTags)
	}
	if got["posture-auditor:exempt"] != "rds.instance-cmk" || got[strings.Repeat("é", 128)] != "v" || got["user-29"] != "y" {
		t.Errorf("kept the wrong tags: %v", got)
	}
	aws := 0
	for k, v := range got {
		if strings.HasPrefix(k, "aws:") {
			aws++
		}
		if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" || strings.ContainsAny(k+v, "\n\r") ||
			utf8.RuneCountInString(k) > MaxTagKey || utf8.RuneCountInString(v) > MaxTagValue {
			t.Errorf("tag ASFF cannot take: %q=%q", k, v)
		}
	}
	// 1 exempt + 1 long key + 1 long value + 30 user tags = 33, so 17 of the
	// 30 aws: tags fit, in key order.
	if aws != 17 || got["aws:tag-16"] != "x" || got["aws:tag-17"] != "" {
		t.Errorf("%d aws: tags kept: %v", aws, got)
	}
	if v := got["long"]; utf8.RuneCountInString(v) != MaxTagValue || !strings.HasSuffix(v, "...") || !utf8.ValidString(v) {
		t.Errorf("long value %d characters: %q", utf8.RuneCountInString(v), v)
	}
	want := "resource tags: 4 left out (blank or multi-line key or value), 1 left out (key over 128 characters), 13 left out (over 50 tags), 1 value(s) cut to 256 characters"
	if note != want {
		t.Errorf("note %q, want %q", note, want)
	}

	// Through Map, the note is in ProductFields.
	f := Map(kmschecks.Rotation, check.Result{CheckID: "kms.rotation", ResourceARN: "arn:x", Region: "eu-west-1", Status: check.Failed, Tags: snapshot.TagsOf(in)}, ctx)
	if f.ProductFields[TruncatedField] != want || len(f.Resources[0].Tags) != MaxTags {
		t.Errorf("Map: note %q, %d tags", f.ProductFields[TruncatedField], len(f.Resources[0].Tags))
	}
	if got, note := resourceTags(snapshot.TagsOf(map[string]string{"empty": ""})); got != nil || note == "" {
		t.Errorf("only unusable tags: %v %q", got, note)
	}
}

// TestTagChangeChangesTheFingerprint: tags are part of what a finding says,
// so a tag added, removed or changed reaches Security Hub (a new
// fingerprint means an import); the same tags give the same fingerprint.
func TestTagChangeChangesTheFingerprint(t *testing.T) {
	r := check.Result{CheckID: "kms.rotation", ResourceARN: "arn:x", Region: "eu-west-1", Status: check.Failed}
	fp := func(tags map[string]string) string {
		r.Tags = snapshot.TagsOf(tags)
		return Map(kmschecks.Rotation, r, ctx).ProductFields[FingerprintField]
	}
	none := fp(nil)
	exempt := fp(map[string]string{"posture-auditor:exempt": "kms.rotation", "team": "a"})
	if none == exempt || exempt == fp(map[string]string{"posture-auditor:exempt": "all", "team": "a"}) || exempt == fp(map[string]string{"team": "a"}) {
		t.Error("a tag change left the fingerprint unchanged")
	}
	if exempt != fp(map[string]string{"team": "a", "posture-auditor:exempt": "kms.rotation"}) {
		t.Error("the same tags gave another fingerprint")
	}
}

// A fingerprint is the one already stored for the same finding: the first
// 16 bytes of the SHA-256 of json.Marshal's output, without the times,
// record state and the fields that hold the fingerprint and observation.
func TestFingerprintIsTheStoredOnesHash(t *testing.T) {
	r := check.Result{CheckID: "kms.rotation", ResourceARN: "arn:aws:kms:eu-west-1:111122223333:key/k", Region: "eu-west-1", Status: check.Failed,
		Reason: "rotation is off <&>", Tags: snapshot.TagsOf(map[string]string{"team": "payments"})}
	f := Map(kmschecks.Rotation, r, ctx)
	g := f
	g.CreatedAt, g.UpdatedAt, g.FirstObservedAt, g.LastObservedAt, g.RecordState = nil, nil, nil, nil, ""
	g.ProductFields = map[string]string{}
	for k, v := range f.ProductFields {
		if k != ObservedAtField && k != FingerprintField {
			g.ProductFields[k] = v
		}
	}
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if want := hex.EncodeToString(sum[:16]); Fingerprint(f) != want || f.ProductFields[FingerprintField] != want {
		t.Errorf("fingerprint %q (in the finding %q), want %q", Fingerprint(f), f.ProductFields[FingerprintField], want)
	}
}
