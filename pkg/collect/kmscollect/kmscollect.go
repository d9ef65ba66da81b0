// Package kmscollect reads the KMS keys of one region: ListKeys, ListAliases,
// then DescribeKey and GetKeyRotationStatus only where they can matter.
package kmscollect

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
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

// Collect implements collect.Collector.
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(cfg)
	rec := collect.NewRecorder(snap, snapshot.KMS)
	if snap.KMS.Keys == nil {
		snap.KMS.Keys = map[string]*snapshot.KMSKey{}
	}

	aliases, aliasErr := listAliases(ctx, api)
	if aliasErr != nil {
		// Without aliases AWS managed keys are still told apart by
		// DescribeKey's KeyManager, so collection goes on.
		rec.Fail("ListAliases", "", aliasErr)
	}

	var keys []*snapshot.KMSKey
	if scope.All() {
		listed, err := listKeys(ctx, api)
		if err != nil {
			rec.Fail("ListKeys", "", err)
			return
		}
		keys = listed
	} else {
		for _, id := range scope.ResourceIDs {
			keys = append(keys, &snapshot.KMSKey{ID: id})
		}
	}

	for _, k := range keys {
		for _, a := range aliases[k.ID] {
			k.Aliases = append(k.Aliases, a)
			if strings.HasPrefix(a, awsManagedAliasPrefix) {
				k.Manager = snapshot.ManagerAWS
			}
		}
		k.Rotation = snapshot.UnknownFact[snapshot.KeyRotation]("rotation status not read")
	}

	collect.ForEach(ctx, c.workers(), keys, func(ctx context.Context, k *snapshot.KMSKey) {
		if k.Manager == snapshot.ManagerAWS {
			k.DescribeReason = "AWS managed key: not described"
			k.Rotation.Reason = "AWS managed keys rotate automatically every year"
			return
		}
		describeKey(ctx, api, rec, k)
		if !k.Described {
			k.Rotation.Reason = k.DescribeReason
			return
		}
		switch {
		case !k.RotationApplies():
			k.Rotation.Reason = "automatic rotation does not apply to this key"
		case k.PendingDeletion():
			k.Rotation.Reason = "key is pending deletion"
		default:
			readRotation(ctx, api, rec, k)
		}
	})

	for _, k := range keys {
		if k.ID != "" {
			snap.KMS.Keys[k.ID] = k
		}
	}
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

// listAliases maps target key ID to its alias names.
func listAliases(ctx context.Context, api API) (map[string][]string, error) {
	out := map[string][]string{}
	p := kms.NewListAliasesPaginator(api, &kms.ListAliasesInput{Limit: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, err
		}
		for _, a := range page.Aliases {
			if a.TargetKeyId == nil {
				continue // an AWS managed alias whose key was never created
			}
			id := aws.ToString(a.TargetKeyId)
			out[id] = append(out[id], aws.ToString(a.AliasName))
		}
	}
	return out, nil
}

func describeKey(ctx context.Context, api API, rec *collect.Recorder, k *snapshot.KMSKey) {
	out, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyRef(k))})
	if err != nil {
		rec.Fail("DescribeKey", keyRef(k), err)
		k.DescribeReason = collect.Reason("DescribeKey", err)
		return
	}
	m := out.KeyMetadata
	k.Described = true
	k.ID = aws.ToString(m.KeyId)
	k.ARN = aws.ToString(m.Arn)
	k.Manager = snapshot.KeyManager(m.KeyManager)
	k.State = string(m.KeyState)
	k.Spec = string(m.KeySpec)
	k.Usage = string(m.KeyUsage)
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
