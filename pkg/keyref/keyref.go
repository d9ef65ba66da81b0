// Package keyref is the one key model behind every encryption check. It
// answers three questions about a resource's KMS key reference: which key,
// who manages it, and is it healthy. Parsing and resolution are pure: they
// read the snapshot, which holds every key the run described.
package keyref

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// Form is how a reference was written.
type Form string

const (
	// Absent: no key named, meaning the service's AWS managed key.
	Absent    Form = "absent"
	KeyID     Form = "key-id"
	KeyARN    Form = "key-arn"
	AliasName Form = "alias-name"
	AliasARN  Form = "alias-arn"
	// Unrecognised: not a form KMS accepts; the key cannot be judged.
	Unrecognised Form = "unrecognised"
)

// Ref is a normalised key reference.
type Ref struct {
	Raw  string
	Form Form
	// Partition, Account and Region of the key: from the ARN, else the
	// resource's (the snapshot's).
	Partition, Account, Region string
	// KeyID is set for KeyID and KeyARN forms; Alias ("alias/...") for the
	// alias forms and for Absent (the service's default alias).
	KeyID, Alias string
}

// Parse normalises raw as written by a resource of snapshot s. defaultAlias
// is the service's AWS managed key alias (alias/aws/rds).
func Parse(s *snapshot.Snapshot, raw, defaultAlias string) Ref {
	r := Ref{Raw: raw, Partition: s.Partition, Account: s.Account, Region: s.Region}
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		r.Form, r.Alias = Absent, defaultAlias
	case strings.HasPrefix(raw, "arn:"):
		a, err := arn.Parse(raw)
		if err != nil || a.Service != "kms" {
			r.Form = Unrecognised
			return r
		}
		r.Partition, r.Account, r.Region = a.Partition, a.AccountID, a.Region
		switch {
		case strings.HasPrefix(a.Resource, "key/") && len(a.Resource) > len("key/"):
			r.Form, r.KeyID = KeyARN, strings.TrimPrefix(a.Resource, "key/")
		case strings.HasPrefix(a.Resource, "alias/") && len(a.Resource) > len("alias/"):
			r.Form, r.Alias = AliasARN, a.Resource
		default:
			r.Form = Unrecognised
		}
	case strings.HasPrefix(raw, "alias/") && len(raw) > len("alias/"):
		r.Form, r.Alias = AliasName, raw
	case isKeyID(raw):
		r.Form, r.KeyID = KeyID, raw
	default:
		r.Form = Unrecognised
	}
	return r
}

// isKeyID accepts a key UUID or a multi-Region key ID (mrk-<32 hex>).
func isKeyID(s string) bool {
	if strings.HasPrefix(s, "mrk-") {
		return len(s) == 36 && isHex(s[4:])
	}
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isHex(string(c)) {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// AWSManagedAlias reports an alias AWS reserves for its managed keys.
func AWSManagedAlias(alias string) bool { return strings.HasPrefix(alias, "alias/aws/") }

// Lookup is the string a referenced key is stored under in
// snapshot.KMSData.Referenced, and what DescribeKey is called with.
func (r Ref) Lookup() string {
	switch r.Form {
	case KeyARN, AliasARN:
		return r.Raw
	case KeyID:
		return "arn:" + r.Partition + ":kms:" + r.Region + ":" + r.Account + ":key/" + r.KeyID
	case AliasName, Absent:
		return "arn:" + r.Partition + ":kms:" + r.Region + ":" + r.Account + ":" + r.Alias
	}
	return r.Raw
}

// Health is the state of a key as far as the resources it protects care.
type Health string

const (
	Enabled         Health = "Enabled"
	Disabled        Health = "Disabled"
	PendingDeletion Health = "PendingDeletion"
	// Deleted: the account's own key no longer exists (DescribeKey said
	// NotFound), so the data under it cannot be decrypted.
	Deleted Health = "Deleted"
	// Unavailable covers the other KeyStates (PendingImport, Unavailable,
	// Creating, Updating) in which the key cannot be used.
	Unavailable Health = "Unavailable"
	Unknown     Health = "Unknown"
)

// Unhealthy reports a health that breaks the resources using the key.
func (h Health) Unhealthy() bool {
	return h == Disabled || h == PendingDeletion || h == Deleted || h == Unavailable
}

// Key is a resolved reference: the answers to which, who and healthy.
type Key struct {
	Ref Ref
	// ARN is the key's ARN when known (described, or built from a key ID).
	ARN string
	// Manager is empty when it could not be established.
	Manager snapshot.KeyManager
	Health  Health
	// Reason says why Manager or Health is unknown.
	Reason string
	// Described is the key's record when the run read one.
	Described *snapshot.KMSKey
}

// Customer reports a key known to be customer managed.
func (k Key) Customer() bool { return k.Manager == snapshot.ManagerCustomer }

// Name is the friendliest name of the key for a finding.
func (k Key) Name() string {
	switch {
	case k.Described != nil:
		return k.Described.Name()
	case k.Ref.Alias != "":
		return k.Ref.Alias
	case k.ARN != "":
		return k.ARN
	}
	return k.Ref.Raw
}

// Resolve answers which key, who manages it and whether it is healthy, from
// what the snapshot holds. It makes no calls: keys the region's listing did
// not cover were described beforehand (kmscollect.DescribeReferenced).
func Resolve(s *snapshot.Snapshot, ref Ref) Key {
	k := Key{Ref: ref, Health: Unknown}
	if ref.Form == Unrecognised {
		k.Reason = "unrecognised KMS key reference " + quote(ref.Raw)
		return k
	}
	if ref.Alias != "" && AWSManagedAlias(ref.Alias) {
		// AWS managed whatever else is (un)readable; AWS keeps them enabled.
		k.Manager, k.Health = snapshot.ManagerAWS, Enabled
		if id, ok := s.KMS.Aliases[ref.Alias]; ok && local(s, ref) {
			k.ARN = keyARN(ref, id)
		}
		return k
	}
	if d := described(s, ref); d != nil {
		return fromRecord(k, d)
	}
	if ref.Account != "" && ref.Account != s.Account {
		// A key in another account is customer managed by definition (AWS
		// managed keys are never shared); only its health is unknown.
		k.Manager = snapshot.ManagerCustomer
	}
	if ref.KeyID != "" {
		k.ARN = keyARN(ref, ref.KeyID)
	}
	k.Reason = "key " + quote(ref.Raw) + " could not be described"
	if r := listed(s, ref); r != nil && r.DescribeReason != "" {
		k.ARN, k.Reason = r.ARN, r.DescribeReason
	} else if r := s.KMS.Referenced[ref.Lookup()]; r != nil && r.DescribeReason != "" {
		k.Reason = r.DescribeReason
	}
	return k
}

// described finds the key's record: the region's own listing first, then
// the keys described by reference.
func described(s *snapshot.Snapshot, ref Ref) *snapshot.KMSKey {
	if k := listed(s, ref); k != nil && (k.Described || k.Manager == snapshot.ManagerAWS) {
		return k
	}
	if k := s.KMS.Referenced[ref.Lookup()]; k != nil && (k.Described || k.NotFound) {
		return k
	}
	return nil
}

// Known reports whether the snapshot can answer for ref without another
// DescribeKey: an AWS managed alias, a key the run already described, or a
// listed key whose describe already failed (trying again would only record
// the same error twice).
func Known(s *snapshot.Snapshot, ref Ref) bool {
	if ref.Form == Unrecognised || (ref.Alias != "" && AWSManagedAlias(ref.Alias)) {
		return true
	}
	return described(s, ref) != nil || listed(s, ref) != nil
}

// listed is the region's own listed record of ref, described or not.
func listed(s *snapshot.Snapshot, ref Ref) *snapshot.KMSKey {
	if !local(s, ref) {
		return nil
	}
	id := ref.KeyID
	if id == "" {
		id = s.KMS.Aliases[ref.Alias]
	}
	return s.KMS.Keys[id]
}

func fromRecord(k Key, d *snapshot.KMSKey) Key {
	k.Described = d
	k.ARN = d.ARN
	k.Manager = d.Manager
	switch {
	case d.NotFound:
		k.Health, k.Reason = Deleted, "key "+quote(k.Ref.Raw)+" does not exist"
	case d.Manager == snapshot.ManagerAWS && !d.Described:
		k.Health = Enabled
	case d.State == "Enabled":
		k.Health = Enabled
	case d.State == "Disabled":
		k.Health = Disabled
	case d.PendingDeletion():
		k.Health = PendingDeletion
	default:
		k.Health = Unavailable
	}
	return k
}

// local reports a reference into the snapshot's own account and region.
func local(s *snapshot.Snapshot, ref Ref) bool {
	return (ref.Account == "" || ref.Account == s.Account) && (ref.Region == "" || ref.Region == s.Region)
}

func keyARN(ref Ref, id string) string {
	return "arn:" + ref.Partition + ":kms:" + ref.Region + ":" + ref.Account + ":key/" + id
}

func quote(s string) string { return "\"" + s + "\"" }
