// Package asff maps check results to AWS Security Finding Format findings.
// It is one pure function with golden tests; the publisher owns everything
// that depends on what Security Hub already holds (timestamps, archiving).
package asff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const (
	SchemaVersion = "2018-10-08"
	// ProductName is reported in ProductFields and as CompanyName/ProductName.
	ProductName = "posture-auditor"
	// IDPrefix starts every finding Id this tool imports.
	IDPrefix = "posture-auditor/"
	// ObservedAtField is the ProductFields key of when the resource was
	// read: Context.Now, taken before the run's reads began.
	ObservedAtField = "posture-auditor/ObservedAt"
	// FingerprintField is the ProductFields key of a digest of everything
	// the finding says (status, severity, reason, resource details and
	// tags, tool version), without its timestamps: equal fingerprints mean
	// nothing to import, and a tag change is a change.
	FingerprintField = "posture-auditor/Fingerprint"

	// TruncatedField is the ProductFields key that says what the finding
	// left out or shortened to fit ASFF's limits (the publisher adds to it
	// what it drops to fit 240 KB).
	TruncatedField = "posture-auditor/Truncated"
	// ExemptTagPrefix starts the tag keys meant for this tool's findings
	// (posture-auditor:exempt, which docs/suppression.md's automation rules
	// match): they are kept first when a resource has more tags than ASFF
	// takes.
	ExemptTagPrefix = "posture-auditor:"

	// MaxTags, MaxTagKey and MaxTagValue are the AWS tag limits ASFF's
	// Resources[].Tags must follow: 50 tags, keys of at most 128 and values
	// of at most 256 Unicode characters. Security Hub also requires every
	// key and value to hold a non-blank character (pattern .*\S.*).
	MaxTags     = 50
	MaxTagKey   = 128
	MaxTagValue = 256

	MaxTitle          = 256
	MaxDescription    = 1024
	MaxRecommendation = 512
	maxID             = 512
	maxReasonDesc     = 2048
	maxRequirements   = 32
	maxResources      = 32
)

// Context is what the mapping needs beyond the check and its result.
type Context struct {
	Account   string
	Partition string
	// ProductRegion is the region whose Security Hub imports the finding.
	ProductRegion string
	// Now is when the reads behind the result began: the finding's
	// observation time (ObservedAtField).
	Now         time.Time
	ToolVersion string
}

// ProductARN is the account's default product ARN, the only one an account
// may import its own findings under.
func ProductARN(partition, region, account string) string {
	return "arn:" + partition + ":securityhub:" + region + ":" + account + ":product/" + account + "/default"
}

// FindingID is the deterministic Id of (check, account, region, resource):
// the same inputs give the same Id across runs, versions and triggers.
func FindingID(checkID, account, region, resourceARN string) string {
	id := IDPrefix + checkID + "/" + account + "/" + region + "/" + resourceARN
	if len(id) <= maxID {
		return id
	}
	sum := sha256.Sum256([]byte(resourceARN))
	return IDPrefix + checkID + "/" + account + "/" + region + "/sha256:" + hex.EncodeToString(sum[:])
}

// Timestamp formats t as ASFF wants it (RFC 3339, UTC, milliseconds).
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Map builds the finding for one result. CreatedAt, FirstObservedAt,
// LastObservedAt and UpdatedAt are all Now: the publisher keeps the stored
// first-seen times of findings that already exist.
func Map(c check.Check, r check.Result, ctx Context) types.AwsSecurityFinding {
	now := Timestamp(ctx.Now)
	sev := severity(c, r)
	resourceType := c.ResourceType
	if r.ResourceType != "" {
		resourceType = r.ResourceType
	}
	tags, tagsNote := resourceTags(r.Tags)
	description := c.Description
	if r.Reason != "" {
		description = r.Reason + ". " + c.Description
	}
	// What every finding of the check says alike, and then this one's own.
	f := Boilerplate(c)
	f.Compliance.Status = types.ComplianceStatus(r.Status)
	if r.Status == check.NotAvailable {
		f.Compliance.StatusReasons = []types.StatusReason{{
			ReasonCode:  aws.String("COLLECTION_ERROR"),
			Description: aws.String(Truncate(r.Reason, maxReasonDesc)),
		}}
	}
	f.Id = aws.String(FindingID(c.ID, ctx.Account, r.Region, r.ResourceARN))
	f.ProductArn = aws.String(ProductARN(ctx.Partition, ctx.ProductRegion, ctx.Account))
	f.GeneratorId = aws.String(c.ID)
	f.AwsAccountId = aws.String(ctx.Account)
	f.Region = aws.String(r.Region)
	f.CreatedAt, f.UpdatedAt, f.FirstObservedAt, f.LastObservedAt = aws.String(now), aws.String(now), aws.String(now), aws.String(now)
	f.Severity = &types.Severity{Label: sev, Original: aws.String(string(sev))}
	f.Description = aws.String(Truncate(description, MaxDescription))
	f.ProductFields["ProviderVersion"] = ctx.ToolVersion
	f.ProductFields["posture-auditor/ResourceName"] = r.ResourceName
	f.ProductFields[ObservedAtField] = now
	f.Resources = []types.Resource{{
		Type:      aws.String(resourceType),
		Id:        aws.String(r.ResourceARN),
		Partition: types.Partition(ctx.Partition),
		Region:    aws.String(r.Region),
		Details:   r.Details,
		Tags:      tags,
	}}
	f.RecordState = types.RecordStateActive
	f.FindingProviderFields.Severity = &types.FindingProviderSeverity{Label: sev, Original: aws.String(string(sev))}
	for _, rel := range r.Related {
		if len(f.Resources) == maxResources {
			break
		}
		f.Resources = append(f.Resources, types.Resource{
			Type: aws.String(rel.Type), Id: aws.String(rel.ARN), Partition: types.Partition(ctx.Partition), Region: aws.String(r.Region),
		})
	}
	if tagsNote != "" {
		f.ProductFields[TruncatedField] = tagsNote
	}
	f.ProductFields[FingerprintField] = Fingerprint(f)
	return f
}

// Boilerplate is what Map writes alike in every finding of c, whatever the
// result: the finding state keeps a finding without it (a record then fits
// 1 KB) and takes it back from here. Description is the check's own, which
// a finding's ends with after its reason.
func Boilerplate(c check.Check) types.AwsSecurityFinding {
	reqs := c.RelatedRequirements
	if len(reqs) > maxRequirements {
		reqs = reqs[:maxRequirements]
	}
	f := types.AwsSecurityFinding{
		SchemaVersion: aws.String(SchemaVersion),
		CompanyName:   aws.String(ProductName),
		ProductName:   aws.String(ProductName),
		Types:         c.Types,
		Title:         aws.String(Truncate(c.Title, MaxTitle)),
		Description:   aws.String(c.Description),
		Remediation: &types.Remediation{Recommendation: &types.Recommendation{
			Text: aws.String(Truncate(c.Remediation, MaxRecommendation)),
			Url:  aws.String(c.RemediationURL),
		}},
		ProductFields: map[string]string{
			"ProviderName":            ProductName,
			"posture-auditor/CheckId": c.ID,
		},
		Compliance:            &types.Compliance{RelatedRequirements: reqs},
		FindingProviderFields: &types.FindingProviderFields{Types: c.Types},
	}
	if len(c.SecurityHubControls) > 0 {
		f.ProductFields["posture-auditor/RelatedSecurityHubControls"] = strings.Join(c.SecurityHubControls, ",")
	}
	return f
}

// resourceTags fits a resource's tags to ASFF, and says in a note what it
// left out or shortened, so that the import never fails on a tag. A tag
// Security Hub would reject (a blank key or value, or one holding a line
// break) is left out, and so is a key over MaxTagKey characters (a cut key
// would be another tag); a value over MaxTagValue characters is cut. Past
// MaxTags, the posture-auditor: tags are kept first, then the others, then
// AWS's own aws: tags, each in key order.
func resourceTags(in snapshot.Tags) (map[string]string, string) {
	if len(in) == 0 {
		return nil, ""
	}
	var kept snapshot.Tags
	var invalid, longKey, cut int
	for _, t := range in {
		switch {
		case !asffString(t.Key) || !asffString(t.Value):
			invalid++
		case utf8.RuneCountInString(t.Key) > MaxTagKey:
			longKey++
		default:
			kept = append(kept, t)
		}
	}
	sort.Slice(kept, func(i, j int) bool {
		if a, b := tagRank(kept[i].Key), tagRank(kept[j].Key); a != b {
			return a < b
		}
		return kept[i].Key < kept[j].Key
	})
	over := 0
	if len(kept) > MaxTags {
		over, kept = len(kept)-MaxTags, kept[:MaxTags]
	}
	var out map[string]string
	if len(kept) > 0 {
		out = make(map[string]string, len(kept))
	}
	for _, t := range kept {
		k, v := t.Key, t.Value
		if utf8.RuneCountInString(v) > MaxTagValue {
			v = truncateRunes(v, MaxTagValue)
			cut++
		}
		out[k] = v
	}
	var notes []string
	if invalid > 0 {
		notes = append(notes, strconv.Itoa(invalid)+" left out (blank or multi-line key or value)")
	}
	if longKey > 0 {
		notes = append(notes, strconv.Itoa(longKey)+" left out (key over "+strconv.Itoa(MaxTagKey)+" characters)")
	}
	if over > 0 {
		notes = append(notes, strconv.Itoa(over)+" left out (over "+strconv.Itoa(MaxTags)+" tags)")
	}
	if cut > 0 {
		notes = append(notes, strconv.Itoa(cut)+" value(s) cut to "+strconv.Itoa(MaxTagValue)+" characters")
	}
	if len(notes) == 0 {
		return out, ""
	}
	return out, "resource tags: " + strings.Join(notes, ", ")
}

// asffString reports whether s is a valid ASFF map key or value: it holds
// a non-blank character and no line break.
func asffString(s string) bool {
	return strings.TrimSpace(s) != "" && !strings.ContainsAny(s, "\n\r\u0085\u2028\u2029")
}

// tagRank orders tags for keeping: this tool's own first, AWS's last.
func tagRank(key string) int {
	switch {
	case strings.HasPrefix(key, ExemptTagPrefix):
		return 0
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return 2
	}
	return 1
}

// truncateRunes shortens s to at most max characters, marking the cut with
// an ellipsis.
func truncateRunes(s string, max int) string {
	const ellipsis = "..."
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-len(ellipsis)]) + ellipsis
}

// Fingerprint digests what f says, leaving out when: its timestamps, its
// observation time and any earlier fingerprint.
func Fingerprint(f types.AwsSecurityFinding) string {
	f.CreatedAt, f.UpdatedAt, f.FirstObservedAt, f.LastObservedAt = nil, nil, nil, nil
	f.RecordState = ""
	pf := make(map[string]string, len(f.ProductFields))
	for k, v := range f.ProductFields {
		if k != ObservedAtField && k != FingerprintField {
			pf[k] = v
		}
	}
	f.ProductFields = pf
	// The JSON goes straight into the hash (json.Marshal would copy it out
	// for every finding of a sweep); the hash is json.Marshal's, as the
	// fingerprints already stored were made.
	h := sha256.New()
	if err := json.NewEncoder(withoutFinalNewline{h}).Encode(f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// withoutFinalNewline drops the newline json.Encoder.Encode ends its one
// Write with, so that what is written is exactly json.Marshal's output.
type withoutFinalNewline struct{ w io.Writer }

func (n withoutFinalNewline) Write(p []byte) (int, error) {
	if len(p) > 0 && p[len(p)-1] == '\n' {
		_, err := n.w.Write(p[:len(p)-1])
		return len(p), err
	}
	return n.w.Write(p)
}

// severity is INFORMATIONAL unless the result FAILED, as Security Hub's own
// controls do; a FAILED result uses its own severity or its check's.
func severity(c check.Check, r check.Result) types.SeverityLabel {
	if r.Status != check.Failed {
		return types.SeverityLabelInformational
	}
	if r.Severity != "" {
		return types.SeverityLabel(r.Severity)
	}
	return types.SeverityLabel(c.Severity)
}

// Truncate shortens s to at most max bytes on a UTF-8 boundary, marking the
// cut with an ellipsis.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "..."
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
