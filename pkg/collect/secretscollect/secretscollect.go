// Package secretscollect reads the Secrets Manager secrets of one region
// with ListSecrets alone. Its entries already carry everything the checks
// judge (rotation switch, rules and dates, last access, key, owning
// service), so there is no DescribeSecret per secret, and nothing that reads
// secret material (GetSecretValue, BatchGetSecretValue) is ever called.
package secretscollect

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// API is the part of the Secrets Manager client the collector uses; each
// method is one IAM action in template.yaml.
type API interface {
	ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
}

// Operations are the IAM actions of every call the collector can make: one
// per method of API, which TestOperationsMatchAPI keeps equal. docs/checks.md
// lists them under each check that reads this service.
var Operations = []string{"secretsmanager:ListSecrets"}

// Collector is the Secrets Manager collector.
type Collector struct {
	// NewAPI builds the client; nil means secretsmanager.NewFromConfig.
	NewAPI func(aws.Config) API
	// Now is the clock stamped as SecretsManagerData.CollectedAt; nil means
	// time.Now.
	Now func() time.Time
}

// Service implements collect.Collector.
func (Collector) Service() snapshot.Service { return snapshot.SecretsManager }

// pageSize is ListSecrets' maximum MaxResults.
const pageSize = 100

// includePlannedDeletion is false on purpose: a secret scheduled for
// deletion can no longer be retrieved or rotated and disappears when its
// recovery window ends, so judging its rotation or use would only report
// what its owner already retired. Leaving it out of a complete listing lets
// the publisher archive its earlier findings; a restored secret is listed
// (and judged) again.
const includePlannedDeletion = false

// Collect implements collect.Collector. A ListSecrets call that fails
// (denied, throttled out) is recorded and nothing of that listing is kept,
// so no check judges a partial list as if it were the region's.
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(cfg)
	rec := collect.NewRecorder(snap, snapshot.SecretsManager)
	data := &snap.SecretsManager
	data.CollectedAt = c.now().UTC()
	if data.Secrets == nil {
		data.Secrets = map[string]*snapshot.Secret{}
	}

	var secrets []*snapshot.Secret
	if scope.All() {
		listed, err := list(ctx, api, nil)
		if err != nil {
			rec.Fail("ListSecrets", "", err)
			return
		}
		secrets = listed
	} else {
		secrets = listNamed(ctx, api, rec, snap, scope.ResourceIDs)
	}

	for _, s := range secrets {
		data.Secrets[s.ARN] = s
		snap.AddKeyUse(snapshot.KeyUse{
			Service:      snapshot.SecretsManager,
			ResourceARN:  s.ARN,
			ResourceName: s.Name,
			ResourceType: snapshot.SecretType,
			KeyRef:       s.KMSKeyID,
			DefaultAlias: snapshot.SecretsManagerDefaultKeyAlias,
		})
	}
}

// listNamed makes one name-filtered listing per requested secret: the
// filter is a prefix match, so each answer is narrowed to exact matches
// here. A listing that answered without an exact match says the secret does
// not exist, or is scheduled for deletion (left out on purpose, see
// includePlannedDeletion): it is marked absent as the scope named it. A
// failed listing is recorded naming the secret. A secret ARN of another
// region or account is not this region's to read.
func listNamed(ctx context.Context, api API, rec *collect.Recorder, snap *snapshot.Snapshot, ids []string) []*snapshot.Secret {
	var secrets []*snapshot.Secret
	seen := map[string]bool{}
	for _, id := range ids {
		if a, err := arn.Parse(id); err == nil && a.Service == "secretsmanager" && (a.Region != snap.Region || a.AccountID != snap.Account) {
			continue
		}
		listed, err := list(ctx, api, []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{nameOf(id)}}})
		if err != nil {
			rec.Fail("ListSecrets", id, err)
			continue
		}
		found := false
		for _, s := range listed {
			if !Matches(s, id) {
				continue
			}
			found = true
			if !seen[s.ARN] {
				seen[s.ARN] = true
				secrets = append(secrets, s)
			}
		}
		if !found {
			snap.MarkAbsent(snapshot.SecretsManager, id)
		}
	}
	return secrets
}

func (c Collector) api(cfg aws.Config) API {
	if c.NewAPI != nil {
		return c.NewAPI(cfg)
	}
	return secretsmanager.NewFromConfig(cfg)
}

func (c Collector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// list pages through ListSecrets; any failed page fails the whole listing.
func list(ctx context.Context, api API, filters []smtypes.Filter) ([]*snapshot.Secret, error) {
	var out []*snapshot.Secret
	p := secretsmanager.NewListSecretsPaginator(api, &secretsmanager.ListSecretsInput{
		MaxResults:             aws.Int32(pageSize),
		IncludePlannedDeletion: aws.Bool(includePlannedDeletion),
		Filters:                filters,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for i := range page.SecretList {
			out = append(out, fromEntry(&page.SecretList[i]))
		}
	}
	return out, nil
}

// fromEntry copies the fields the checks read, and the secret's tags (they
// come with the entry and go into its findings); version stages and the
// external-secret metadata are not needed.
func fromEntry(e *smtypes.SecretListEntry) *snapshot.Secret {
	s := &snapshot.Secret{
		ARN:               aws.ToString(e.ARN),
		Name:              aws.ToString(e.Name),
		Description:       aws.ToString(e.Description),
		KMSKeyID:          aws.ToString(e.KmsKeyId),
		OwningService:     aws.ToString(e.OwningService),
		PrimaryRegion:     aws.ToString(e.PrimaryRegion),
		RotationEnabled:   aws.ToBool(e.RotationEnabled),
		RotationLambdaARN: aws.ToString(e.RotationLambdaARN),
		CreatedDate:       aws.ToTime(e.CreatedDate),
		LastChangedDate:   e.LastChangedDate,
		LastRotatedDate:   e.LastRotatedDate,
		LastAccessedDate:  e.LastAccessedDate,
		DeletedDate:       e.DeletedDate,
		Tags:              collect.Tags(e.Tags, func(t smtypes.Tag) (*string, *string) { return t.Key, t.Value }),
	}
	if r := e.RotationRules; r != nil {
		s.Rotation = snapshot.SecretRotationRules{
			AutomaticallyAfterDays: aws.ToInt64(r.AutomaticallyAfterDays),
			ScheduleExpression:     aws.ToString(r.ScheduleExpression),
			Duration:               aws.ToString(r.Duration),
		}
	}
	return s
}

// secretARNSuffix is the "-" and six random characters Secrets Manager
// appends to a secret's name in its ARN.
var secretARNSuffix = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// nameOf returns the secret name a scope entry names: the entry itself, or
// the name inside a (possibly partial) secret ARN.
func nameOf(id string) string {
	if !strings.HasPrefix(id, "arn:") {
		return id
	}
	i := strings.Index(id, ":secret:")
	if i < 0 {
		return id
	}
	// A partial ARN without the suffix may lose a name tail that looks like
	// one: harmless, the filter is a prefix match and Matches() decides.
	return secretARNSuffix.ReplaceAllString(id[i+len(":secret:"):], "")
}

// Matches reports whether s is the secret id names: its name, its ARN, or
// its ARN without the random suffix.
func Matches(s *snapshot.Secret, id string) bool {
	if !strings.HasPrefix(id, "arn:") {
		return s.Name == id
	}
	return s.ARN == id || (len(s.ARN) == len(id)+7 && strings.HasPrefix(s.ARN, id) && secretARNSuffix.MatchString(s.ARN[len(id):]))
}
