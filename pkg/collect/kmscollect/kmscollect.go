// Package kmscollect reads the KMS keys of one region: ListKeys, ListAliases,
// then DescribeKey and GetKeyRotationStatus only where they can matter. A
// scoped run reads only the named keys, ListAliases with KeyId in place of
// the full alias listing.
package kmscollect

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/keyref"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// API is the part of the KMS client the collector uses; each method is one
// IAM action in template.yaml.
type API interface {
	ListKeys(context.Context, *kms.ListKeysInput, ...func(*kms.Options)) (*kms.ListKeysOutput, error)
	ListAliases(context.Context, *kms.ListAliasesInput, ...func(*kms.Options)) (*kms.ListAliasesOutput, error)
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyRotationStatus(context.Context, *kms.GetKeyRotationStatusInput, ...func(*kms.Options)) (*kms.GetKeyRotationStatusOutput, error)
}

// Operations are the IAM actions of every call the collector can make: one
// per method of API, which TestOperationsMatchAPI keeps equal. docs/checks.md
// lists them under each check that reads this service.
var Operations = []string{"kms:ListKeys", "kms:ListAliases", "kms:DescribeKey", "kms:GetKeyRotationStatus"}

// ReferencedOperations are the calls of DescribeReferenced, the second pass
// behind snapshot.KMSReferenced; TestDescribeReferencedCallsItsOperations
// keeps it exact.
var ReferencedOperations = []string{"kms:DescribeKey"}

// Collector is the KMS collector.
type Collector struct {
	// Workers bounds concurrent per-key calls (default 8).
	Workers int
	// NewAPI builds the client; nil means kms.NewFromConfig.
	NewAPI func(aws.Config) API
}

// Service implements collect.Collector.
func (Collector) Service() snapshot.Service { return snapshot.KMS }

// awsManagedAliasPrefix marks the aliases AWS creates for its managed keys;
// a key behind one is AWS managed, which saves a DescribeKey per such key.
const awsManagedAliasPrefix = "alias/aws/"

// defaultRotationPeriodDays is what KMS uses when rotation is enabled and no
// period was chosen; older API responses omit the field in that case.
const defaultRotationPeriodDays = 365

// Collect implements collect.Collector. A scope names keys by key ID or
// key ARN; they are read one by one without listing (see collectNamed).
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(cfg)
	rec := collect.NewRecorder(snap, snapshot.KMS)
	if snap.KMS.Keys == nil {
		snap.KMS.Keys = map[string]*snapshot.KMSKey{}
	}
	if !scope.All() {
		// KMS has no account-level setting: a scope of AccountSettings
		// alone reads nothing here.
		c.collectNamed(ctx, api, rec, snap, scope.ResourceIDs)
		return
	}

	aliases, targets, aliasErr := listAliases(ctx, api)
	snap.KMS.Aliases = targets
	if aliasErr != nil {
		// Without aliases AWS managed keys are still told apart by
		// DescribeKey's KeyManager, so collection goes on.
		rec.Fail("ListAliases", "", aliasErr)
	}

	keys, err := listKeys(ctx, api)
	if err != nil {
		rec.Fail("ListKeys", "", err)
		return
	}

	for _, k := range keys {
		applyAliases(k, aliases[k.ID])
		k.Rotation = snapshot.UnknownFact[snapshot.KeyRotation]("rotation status not read")
	}

	collect.ForEach(ctx, c.workers(), keys, func(ctx context.Context, k *snapshot.KMSKey) {
		if skipAWSManaged(k) {
			return
		}
		describeKey(ctx, api, rec, k)
		readRotationIfApplies(ctx, api, rec, k)
	})

	for _, k := range keys {
		if k.ID != "" {
			snap.KMS.Keys[k.ID] = k
		}
	}
}

// applyAliases names k by its aliases; an alias/aws/* alias marks an AWS
// managed key.
func applyAliases(k *snapshot.KMSKey, aliases []string) {
	for _, a := range aliases {
		k.Aliases = append(k.Aliases, a)
		if strings.HasPrefix(a, awsManagedAliasPrefix) {
			k.Manager = snapshot.ManagerAWS
		}
	}
}

// skipAWSManaged reports a key known to be AWS managed from its alias, which
// is not described: AWS rotates it every year by itself.
func skipAWSManaged(k *snapshot.KMSKey) bool {
	if k.Manager != snapshot.ManagerAWS {
		return false
	}
	k.DescribeReason = "AWS managed key: not described"
	k.Rotation.Reason = "AWS managed keys rotate automatically every year"
	return true
}

// readRotationIfApplies reads the rotation status of a described key where
// automatic rotation applies, and otherwise says why it was not read.
func readRotationIfApplies(ctx context.Context, api API, rec *collect.Recorder, k *snapshot.KMSKey) {
	switch {
	case !k.Described:
		k.Rotation.Reason = k.DescribeReason
	case !k.RotationApplies():
		k.Rotation.Reason = "automatic rotation does not apply to this key"
	case k.PendingDeletion():
		k.Rotation.Reason = "key is pending deletion"
	default:
		readRotation(ctx, api, rec, k)
	}
}

// notFound is KMS's answer for a key that does not exist (never created, or
// deleted at the end of its waiting period). A key pending deletion still
// exists: DescribeKey answers with KeyState PendingDeletion.
const notFound = "NotFoundException"

// namedKey is one key a scope names, and what reading it found.
type namedKey struct {
	id  string // as the scope named it
	ref keyref.Ref
	key *snapshot.KMSKey
	// aliasTargets are the alias names ListAliases returned for the key.
	aliasTargets map[string]string
	// gone is set when DescribeKey answered NotFound.
	gone bool
}

// collectNamed reads the named keys one by one, at most three calls each:
// ListAliases with KeyId (names, and an AWS managed key known by its alias
// without a describe), DescribeKey, and GetKeyRotationStatus where rotation
// applies. Each named key ends in exactly one of: in snap.KMS.Keys; absent
// (DescribeKey answered NotFound: marked with snap.MarkAbsent and recorded
// in snap.KMS.Referenced as NotFound, so the key model resolves resources
// under it as Deleted, while kms.rotation does not judge it); or a
// recorded error. An entry that names a key of another region or account
// is not this snapshot's to read and is left alone, as the other region's
// or account's collection reads it; an entry that is not a key ID or key
// ARN is recorded as an error.
func (c Collector) collectNamed(ctx context.Context, api API, rec *collect.Recorder, snap *snapshot.Snapshot, ids []string) {
	targets := map[string]string{}
	snap.KMS.Aliases = targets
	var named []*namedKey
	for _, id := range ids {
		ref := keyref.Parse(snap, id, "")
		switch {
		case ref.Form != keyref.KeyID && ref.Form != keyref.KeyARN:
			rec.Fail("DescribeKey", id, &smithy.GenericAPIError{Code: invalidScopeEntry, Message: "not a KMS key ID or key ARN: " + id})
			continue
		case ref.Partition != snap.Partition || ref.Account != snap.Account || ref.Region != snap.Region:
			continue
		}
		k := &snapshot.KMSKey{ID: ref.KeyID, Rotation: snapshot.UnknownFact[snapshot.KeyRotation]("rotation status not read")}
		if ref.Form == keyref.KeyARN {
			k.ARN = id
		}
		named = append(named, &namedKey{id: id, ref: ref, key: k})
	}

	collect.ForEach(ctx, c.workers(), named, func(ctx context.Context, n *namedKey) {
		readNamed(ctx, api, rec, n)
	})

	for _, n := range named {
		if n.gone {
			if snap.KMS.Referenced == nil {
				snap.KMS.Referenced = map[string]*snapshot.KMSKey{}
			}
			n.key.ARN = n.ref.Lookup()
			snap.KMS.Referenced[n.ref.Lookup()] = n.key
			snap.MarkAbsent(snapshot.KMS, n.id)
			continue
		}
		for alias, target := range n.aliasTargets {
			targets[alias] = target
		}
		if n.key.ID != "" {
			snap.KMS.Keys[n.key.ID] = n.key
		}
	}
}

// invalidScopeEntry is the code recorded for a scope entry that names no
// key the collector can read.
const invalidScopeEntry = "InvalidScopeEntry"

func readNamed(ctx context.Context, api API, rec *collect.Recorder, n *namedKey) {
	k := n.key
	aliases, aliasErr := keyAliases(ctx, api, n.id)
	if aliasErr == nil {
		n.aliasTargets = map[string]string{}
		var names []string
		for _, a := range aliases {
			if a.TargetKeyId == nil {
				continue
			}
			name := aws.ToString(a.AliasName)
			names = append(names, name)
			n.aliasTargets[name] = aws.ToString(a.TargetKeyId)
		}
		applyAliases(k, names)
	}
	if skipAWSManaged(k) {
		return
	}
	out, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(n.id)})
	switch {
	case err == nil:
		fill(k, out)
	case collect.ErrorCode(err) == notFound:
		// The key does not exist: an answer, not a failure. Its aliases
		// (ListAliases answers NotFound too) are moot.
		n.gone = true
		k.NotFound = true
		k.DescribeReason = collect.Reason("DescribeKey", err)
		k.Rotation.Reason = k.DescribeReason
		return
	default:
		rec.Fail("DescribeKey", n.id, err)
		k.DescribeReason = collect.Reason("DescribeKey", err)
	}
	if aliasErr != nil {
		// The key exists (or may): its names, and whether an alias marks
		// it AWS managed, are unknown.
		rec.Fail("ListAliases", n.id, aliasErr)
	}
	readRotationIfApplies(ctx, api, rec, k)
}

// keyAliases pages through the aliases of one key (ListAliases with KeyId).
func keyAliases(ctx context.Context, api API, keyID string) ([]kmstypes.AliasListEntry, error) {
	var out []kmstypes.AliasListEntry
	p := kms.NewListAliasesPaginator(api, &kms.ListAliasesInput{KeyId: aws.String(keyID), Limit: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Aliases...)
	}
	return out, nil
}

func (c Collector) api(cfg aws.Config) API {
	if c.NewAPI != nil {
		return c.NewAPI(cfg)
	}
	return kms.NewFromConfig(cfg)
}

func (c Collector) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return 8
}

func listKeys(ctx context.Context, api API) ([]*snapshot.KMSKey, error) {
	var keys []*snapshot.KMSKey
	p := kms.NewListKeysPaginator(api, &kms.ListKeysInput{Limit: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Keys {
			keys = append(keys, &snapshot.KMSKey{ID: aws.ToString(e.KeyId), ARN: aws.ToString(e.KeyArn)})
		}
	}
	return keys, nil
}

// listAliases maps target key ID to its alias names, and alias name to
// target key ID.
func listAliases(ctx context.Context, api API) (byKey map[string][]string, targets map[string]string, err error) {
	byKey, targets = map[string][]string{}, map[string]string{}
	p := kms.NewListAliasesPaginator(api, &kms.ListAliasesInput{Limit: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return byKey, targets, err
		}
		for _, a := range page.Aliases {
			if a.TargetKeyId == nil {
				continue // an AWS managed alias whose key was never created
			}
			id, name := aws.ToString(a.TargetKeyId), aws.ToString(a.AliasName)
			byKey[id] = append(byKey[id], name)
			targets[name] = id
		}
	}
	return byKey, targets, nil
}

func describeKey(ctx context.Context, api API, rec *collect.Recorder, k *snapshot.KMSKey) {
	out, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyRef(k))})
	if err != nil {
		rec.Fail("DescribeKey", keyRef(k), err)
		k.DescribeReason = collect.Reason("DescribeKey", err)
		return
	}
	fill(k, out)
}

// fill copies DescribeKey's answer into k.
func fill(k *snapshot.KMSKey, out *kms.DescribeKeyOutput) {
	m := out.KeyMetadata
	k.Described = true
	k.ID = aws.ToString(m.KeyId)
	k.ARN = aws.ToString(m.Arn)
	k.Manager = snapshot.KeyManager(m.KeyManager)
	k.State = string(m.KeyState)
	k.Spec = string(m.KeySpec)
	k.Usage = string(m.KeyUsage)
	if k.Usage == "" && k.Spec == "SYMMETRIC_DEFAULT" {
		// The only usage a symmetric default key can have; some endpoints
		// (moto) omit it when the key was created without KeyUsage.
		k.Usage = "ENCRYPT_DECRYPT"
	}
	k.Origin = string(m.Origin)
	k.CustomKeyStoreID = aws.ToString(m.CustomKeyStoreId)
	k.CreationDate = aws.ToTime(m.CreationDate)
	k.DeletionDate = m.DeletionDate
	k.Description = aws.ToString(m.Description)
}

func readRotation(ctx context.Context, api API, rec *collect.Recorder, k *snapshot.KMSKey) {
	out, err := api.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyRef(k))})
	if err != nil {
		rec.Fail("GetKeyRotationStatus", keyRef(k), err)
		k.Rotation = snapshot.UnknownFact[snapshot.KeyRotation](collect.Reason("GetKeyRotationStatus", err))
		return
	}
	r := snapshot.KeyRotation{Enabled: out.KeyRotationEnabled}
	if r.Enabled {
		r.PeriodDays = defaultRotationPeriodDays
		if out.RotationPeriodInDays != nil {
			r.PeriodDays = int(*out.RotationPeriodInDays)
		}
	}
	k.Rotation = snapshot.KnownFact(r)
}

func keyRef(k *snapshot.KMSKey) string {
	if k.ARN != "" {
		return k.ARN
	}
	return k.ID
}

// DescribeReferenced describes, once each, the keys that collected
// resources point at and that the snapshot cannot answer for yet (another
// account or region, or a key the listing did not return). It runs after the
// service collectors. A denied describe leaves the key unknown, with the
// error recorded under snapshot.KMSReferenced, so the checks on those
// resources say NOT_AVAILABLE and archive nothing, while kms.rotation and
// kms.pending-deletion keep their own, complete scope.
func (c Collector) DescribeReferenced(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot) {
	rec := collect.NewRecorder(snap, snapshot.KMSReferenced)
	if snap.KMS.Referenced == nil {
		snap.KMS.Referenced = map[string]*snapshot.KMSKey{}
	}
	var refs []keyref.Ref
	seen := map[string]bool{}
	for _, u := range snap.KeyUses() {
		ref := keyref.Parse(snap, u.KeyRef, u.DefaultAlias)
		if keyref.Known(snap, ref) || seen[ref.Lookup()] {
			continue
		}
		seen[ref.Lookup()] = true
		refs = append(refs, ref)
	}
	// One client per key region, shared by the workers.
	apis := map[string]API{}
	for _, r := range refs {
		if apis[r.Region] == nil {
			apis[r.Region] = c.api(awsconfig.ForRegion(cfg, r.Region))
		}
	}
	described := make([]*snapshot.KMSKey, len(refs))
	collect.ForEach(ctx, c.workers(), collect.Indexes(len(refs)), func(ctx context.Context, i int) {
		ref := refs[i]
		k := &snapshot.KMSKey{ARN: ref.Lookup(), Rotation: snapshot.UnknownFact[snapshot.KeyRotation]("not read for referenced keys")}
		out, err := apis[ref.Region].DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref.Lookup())})
		switch {
		case err == nil:
			fill(k, out)
		case collect.ErrorCode(err) == "NotFoundException" && ref.Account == snap.Account:
			// An answer, not a failure: the account's own key is gone.
			k.NotFound = true
			k.DescribeReason = collect.Reason("DescribeKey", err)
		default:
			rec.Fail("DescribeKey", ref.Lookup(), err)
			k.DescribeReason = collect.Reason("DescribeKey", err)
		}
		described[i] = k
	})
	for i, r := range refs {
		snap.KMS.Referenced[r.Lookup()] = described[i]
	}
}
