package findingstate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
)

// A record keeps its finding slim (attrFindingS): without what the item's
// own attributes say (Id, check, times, states, fingerprint, resource) or
// what its check's boilerplate says alike in every finding (title,
// description, remediation, types, requirements: asff.Boilerplate), and
// without empty fields, with the names of what was left out. Read, the
// finding is whole again. A record is then under 1 KB, 2 write units
// where the whole finding made it 4: a first sweep's state writes, which
// DynamoDB takes at 4,000 units a second on a new table, go twice as fast.
//
// A left-out field is only ever one equal to what takes it back. A check's
// boilerplate changed by a later version is read back as the later one:
// its findings observed again are imported again anyway (the fingerprint
// holds the version), and an archive or refresh of one not observed then
// sends the check's current wording, fitted to ASFF's limits; a product
// field the later version no longer writes is left out.

// Names of what a slim finding left out.
const (
	fromID              = "Id"
	fromCheck           = "GeneratorId"
	fromCreatedAt       = "CreatedAt"
	fromFirstObservedAt = "FirstObservedAt"
	fromUpdatedAt       = "UpdatedAt"
	fromLastObservedAt  = "LastObservedAt"
	fromRecordState     = "RecordState"
	fromStatus          = "Status"
	fromFingerprint     = "Fingerprint"
	fromObservedAt      = "ObservedAt"
	fromResource        = "Resource"
	bpSchemaVersion     = "SchemaVersion"
	bpCompanyName       = "CompanyName"
	bpProductName       = "ProductName"
	bpTitle             = "Title"
	bpTypes             = "Types"
	bpDescription       = "Description"
	// bpDescriptionEnd: the finding's description is what it keeps
	// (its reason), ". ", and the check's description.
	bpDescriptionEnd = "DescriptionEnd"
	bpRemediation    = "Remediation"
	bpRequirements   = "Requirements"
	bpProviderTypes  = "ProviderTypes"
	// bpProductField starts the name of a product field left out.
	bpProductField = "ProductField:"
)

// slimFinding is f (a Compact finding, not modified) without what item's
// attributes and bp (nil: none) say, and the names of what it left out.
func slimFinding(f types.AwsSecurityFinding, bp *types.AwsSecurityFinding) (types.AwsSecurityFinding, []string) {
	var out []string
	take := func(p **string, name string) {
		if aws.ToString(*p) != "" {
			*p, out = nil, append(out, name)
		}
	}
	take(&f.Id, fromID)
	take(&f.GeneratorId, fromCheck)
	take(&f.CreatedAt, fromCreatedAt)
	take(&f.FirstObservedAt, fromFirstObservedAt)
	take(&f.UpdatedAt, fromUpdatedAt)
	take(&f.LastObservedAt, fromLastObservedAt)
	if f.RecordState != "" {
		f.RecordState, out = "", append(out, fromRecordState)
	}
	if f.Compliance != nil {
		c := *f.Compliance
		f.Compliance = &c
		if c.Status != "" {
			f.Compliance.Status, out = "", append(out, fromStatus)
		}
	}
	if len(f.ProductFields) > 0 {
		f.ProductFields = maps(f.ProductFields)
	}
	for _, fn := range [][2]string{{asff.FingerprintField, fromFingerprint}, {asff.ObservedAtField, fromObservedAt}} {
		if f.ProductFields[fn[0]] != "" {
			delete(f.ProductFields, fn[0])
			out = append(out, fn[1])
		}
	}
	if len(f.Resources) > 0 {
		f.Resources = slices.Clone(f.Resources)
		take(&f.Resources[0].Id, fromResource)
	}
	if bp != nil {
		same := func(p **string, v *string, name string) {
			if aws.ToString(*p) != "" && aws.ToString(*p) == aws.ToString(v) {
				*p, out = nil, append(out, name)
			}
		}
		same(&f.SchemaVersion, bp.SchemaVersion, bpSchemaVersion)
		same(&f.CompanyName, bp.CompanyName, bpCompanyName)
		same(&f.ProductName, bp.ProductName, bpProductName)
		same(&f.Title, bp.Title, bpTitle)
		if len(f.Types) > 0 && slices.Equal(f.Types, bp.Types) {
			f.Types, out = nil, append(out, bpTypes)
		}
		if desc, end := aws.ToString(f.Description), aws.ToString(bp.Description); end != "" {
			if desc == end {
				f.Description, out = nil, append(out, bpDescription)
			} else if reason, ok := strings.CutSuffix(desc, ". "+end); ok {
				f.Description, out = aws.String(reason), append(out, bpDescriptionEnd)
			}
		}
		if f.Remediation != nil && reflect.DeepEqual(f.Remediation, bp.Remediation) {
			f.Remediation, out = nil, append(out, bpRemediation)
		}
		if f.Compliance != nil && bp.Compliance != nil && len(f.Compliance.RelatedRequirements) > 0 && slices.Equal(f.Compliance.RelatedRequirements, bp.Compliance.RelatedRequirements) {
			f.Compliance.RelatedRequirements, out = nil, append(out, bpRequirements)
		}
		if f.FindingProviderFields != nil && bp.FindingProviderFields != nil && len(f.FindingProviderFields.Types) > 0 && slices.Equal(f.FindingProviderFields.Types, bp.FindingProviderFields.Types) {
			p := *f.FindingProviderFields
			p.Types, f.FindingProviderFields, out = nil, &p, append(out, bpProviderTypes)
		}
		keys := make([]string, 0, len(bp.ProductFields))
		for k := range bp.ProductFields {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same record for the same finding
		for _, k := range keys {
			if v := bp.ProductFields[k]; f.ProductFields[k] != "" && f.ProductFields[k] == v {
				delete(f.ProductFields, k)
				out = append(out, bpProductField+k)
			}
		}
	}
	return f, out
}

// wholeFinding takes back into f what slimFinding left out (omitted), from
// item's attributes and from the boilerplate of f's check.
func wholeFinding(f types.AwsSecurityFinding, omitted []string, item map[string]ddbtypes.AttributeValue, boilerplate func(string) (types.AwsSecurityFinding, bool)) (types.AwsSecurityFinding, error) {
	attr := func(name string) *string { return aws.String(str(item, name)) }
	field := func(k, v string) {
		if f.ProductFields == nil {
			f.ProductFields = map[string]string{}
		}
		f.ProductFields[k] = v
	}
	compliance := func() *types.Compliance {
		if f.Compliance == nil {
			f.Compliance = &types.Compliance{}
		}
		return f.Compliance
	}
	var bp *types.AwsSecurityFinding
	for _, name := range omitted {
		switch name {
		case fromID:
			f.Id = attr(attrID)
		case fromCheck:
			f.GeneratorId = attr(attrCheck)
		case fromCreatedAt:
			f.CreatedAt = attr(attrCreatedAt)
		case fromFirstObservedAt:
			f.FirstObservedAt = aws.String(or(str(item, attrFirstObservedAt), str(item, attrCreatedAt)))
		case fromUpdatedAt:
			f.UpdatedAt = attr(attrUpdatedAt)
		case fromLastObservedAt:
			f.LastObservedAt = aws.String(or(str(item, attrLastObservedAt), str(item, attrUpdatedAt)))
		case fromRecordState:
			f.RecordState = types.RecordState(str(item, attrRecordState))
		case fromStatus:
			compliance().Status = types.ComplianceStatus(str(item, attrStatus))
		case fromFingerprint:
			field(asff.FingerprintField, str(item, attrFingerprint))
		case fromObservedAt:
			field(asff.ObservedAtField, str(item, attrObservedAt))
		case fromResource:
			if len(f.Resources) == 0 {
				return f, fmt.Errorf("finding state record %s: its resource is left out, but it has none", str(item, attrID))
			}
			f.Resources[0].Id = aws.String(or(str(item, attrResource), resourceOf(str(item, attrCheck), str(item, attrID))))
		default:
			if bp == nil {
				check := str(item, attrCheck)
				b, ok := boilerplate(check)
				if !ok {
					return f, fmt.Errorf("finding state record %s: check %q is not known to this version, and the record left out its boilerplate", str(item, attrID), check)
				}
				bp = &b
			}
			// Copies: the boilerplate is shared by every record read.
			switch {
			case name == bpSchemaVersion:
				f.SchemaVersion = aws.String(aws.ToString(bp.SchemaVersion))
			case name == bpCompanyName:
				f.CompanyName = aws.String(aws.ToString(bp.CompanyName))
			case name == bpProductName:
				f.ProductName = aws.String(aws.ToString(bp.ProductName))
			case name == bpTitle:
				f.Title = aws.String(asff.Truncate(aws.ToString(bp.Title), asff.MaxTitle))
			case name == bpTypes:
				f.Types = slices.Clone(bp.Types)
			case name == bpDescription:
				f.Description = aws.String(asff.Truncate(aws.ToString(bp.Description), asff.MaxDescription))
			case name == bpDescriptionEnd:
				f.Description = aws.String(asff.Truncate(aws.ToString(f.Description)+". "+aws.ToString(bp.Description), asff.MaxDescription))
			case name == bpRemediation:
				f.Remediation = copyRemediation(bp.Remediation)
			case name == bpRequirements && bp.Compliance != nil:
				compliance().RelatedRequirements = slices.Clone(bp.Compliance.RelatedRequirements)
			case name == bpProviderTypes && bp.FindingProviderFields != nil:
				if f.FindingProviderFields == nil {
					f.FindingProviderFields = &types.FindingProviderFields{}
				}
				f.FindingProviderFields.Types = slices.Clone(bp.FindingProviderFields.Types)
			case strings.HasPrefix(name, bpProductField):
				// One the check no longer writes stays out.
				if k := strings.TrimPrefix(name, bpProductField); bp.ProductFields[k] != "" {
					field(k, bp.ProductFields[k])
				}
			default:
				return f, fmt.Errorf("finding state record %s: left out %q, which this version cannot take back", str(item, attrID), name)
			}
		}
	}
	return f, nil
}

func copyRemediation(r *types.Remediation) *types.Remediation {
	if r == nil {
		return nil
	}
	c := *r
	if r.Recommendation != nil {
		rec := *r.Recommendation
		c.Recommendation = &rec
	}
	return &c
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// encodeSlim is the JSON of a slim record: {"o": omitted, "f": finding},
// the finding without its empty fields (json.Marshal writes every field of
// the SDK's types, null or not: most of a finding's JSON).
func encodeSlim(f types.AwsSecurityFinding, omitted []string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"o":`)
	o, err := json.Marshal(omitted)
	if err != nil {
		return nil, err
	}
	b.Write(o)
	b.WriteString(`,"f":`)
	if err := appendNonEmpty(&b, reflect.ValueOf(f)); err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decodeSlim reads encodeSlim's JSON.
func decodeSlim(b []byte) (types.AwsSecurityFinding, []string, error) {
	var v struct {
		O []string
		F types.AwsSecurityFinding
	}
	err := json.Unmarshal(b, &v)
	return v.F, v.O, err
}

// appendNonEmpty writes v as encoding/json would (field names as they are,
// so json.Unmarshal reads it back), leaving out zero fields, empty slices
// and maps, and the SDK's unexported fields.
func appendNonEmpty(b *bytes.Buffer, v reflect.Value) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		if v.Kind() == reflect.Interface {
			return appendJSON(b, v.Interface())
		}
		return appendNonEmpty(b, v.Elem())
	case reflect.Struct:
		b.WriteByte('{')
		first := true
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			fv := v.Field(i)
			if !sf.IsExported() || empty(fv) {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(strconv.Quote(sf.Name))
			b.WriteByte(':')
			if err := appendNonEmpty(b, fv); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return appendJSON(b, v.Interface())
		}
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendNonEmpty(b, v.Index(i)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return appendJSON(b, v.Interface())
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendJSON(b, k); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := appendNonEmpty(b, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	default:
		return appendJSON(b, v.Interface())
	}
}

// empty reports a field appendNonEmpty leaves out.
func empty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

func appendJSON(b *bytes.Buffer, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(j)
	return nil
}
