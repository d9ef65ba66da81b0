// Package ecrcollect reads the private ECR repositories of one region with
// DescribeRepositories alone: every repository it returns carries its
// encryption configuration, so no per-repository call is made.
package ecrcollect

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// API is the part of the ECR client the collector uses; each method is one
// IAM action in template.yaml.
type API interface {
	DescribeRepositories(context.Context, *ecr.DescribeRepositoriesInput, ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
}

// Operations are the IAM actions of every call the collector can make: one
// per method of API, which TestOperationsMatchAPI keeps equal. docs/checks.md
// lists them under each check that reads this service.
var Operations = []string{"ecr:DescribeRepositories"}

// Collector is the ECR collector.
type Collector struct {
	// NewAPI builds the client; nil means ecr.NewFromConfig.
	NewAPI func(aws.Config) API
}

// Service implements collect.Collector.
func (Collector) Service() snapshot.Service { return snapshot.ECR }

const (
	// pageSize is DescribeRepositories' largest page (without maxResults
	// it returns 100 a page).
	pageSize = 1000
	// namesPerCall is the most repositoryNames one call accepts.
	namesPerCall = 100
	// notFound is the error of a named repository that does not exist; it
	// fails the whole call, whatever the other names.
	notFound = "RepositoryNotFoundException"
)

// Collect implements collect.Collector. A scope names repositories by name
// or ARN; they are described by name, 100 to a call, without listing.
func (c Collector) Collect(ctx context.Context, cfg aws.Config, snap *snapshot.Snapshot, scope collect.Scope) {
	api := c.api(cfg)
	rec := collect.NewRecorder(snap, snapshot.ECR)
	var repos []ecrtypes.Repository
	if scope.All() {
		listed, err := listAll(ctx, api)
		if err != nil {
			rec.Fail("DescribeRepositories", "", err)
			return
		}
		repos = listed
	} else {
		repos = describeNamed(ctx, api, rec, snap, scope.ResourceIDs)
	}
	for _, r := range repos {
		repo := fromAPI(r)
		snap.ECR.Repositories = append(snap.ECR.Repositories, repo)
		if repo.UsesKMS() {
			snap.AddKeyUse(snapshot.KeyUse{
				Service: snapshot.ECR, ResourceARN: repo.ARN, ResourceName: repo.Name,
				ResourceType: snapshot.ECRRepositoryType, KeyRef: repo.KMSKey,
				DefaultAlias: snapshot.ECRDefaultKeyAlias,
			})
		}
	}
}

func (c Collector) api(cfg aws.Config) API {
	if c.NewAPI != nil {
		return c.NewAPI(cfg)
	}
	return ecr.NewFromConfig(cfg)
}

// listAll pages through every repository of the caller's registry. A page
// that fails fails the listing: a partial list would read as repositories
// that vanished.
func listAll(ctx context.Context, api API) ([]ecrtypes.Repository, error) {
	var out []ecrtypes.Repository
	p := ecr.NewDescribeRepositoriesPaginator(api, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Repositories...)
	}
	return out, nil
}

// describeNamed describes the named repositories, 100 to a call, and
// returns those that exist. One missing name fails its whole call, so that
// call's names are then asked for one by one: the others are still read.
// Each named repository ends in exactly one outcome: returned; marked
// absent, as the scope named it, when its own call answered
// RepositoryNotFoundException; or a recorded error naming it. A repository
// ARN of another region or account is not this registry's to read.
func describeNamed(ctx context.Context, api API, rec *collect.Recorder, snap *snapshot.Snapshot, scoped []string) []ecrtypes.Repository {
	named := map[string][]string{} // name -> the scope's spellings of it
	var names []string
	for _, id := range scoped {
		name, ok := repositoryName(snap, id)
		if !ok {
			continue
		}
		if named[name] == nil {
			names = append(names, name)
		}
		named[name] = append(named[name], id)
	}
	var out []ecrtypes.Repository
	keep := func(got []ecrtypes.Repository, asked []string) {
		out = append(out, got...)
		for _, name := range asked {
			if !returned(got, name) {
				// AWS answers every name or RepositoryNotFoundException: an
				// answer without one is no proof it is gone.
				rec.Incomplete("DescribeRepositories", name, "repository")
			}
		}
	}
	describeOne := func(name string) {
		one, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
		switch {
		case err == nil:
			keep(one.Repositories, []string{name})
		case collect.ErrorCode(err) == notFound:
			for _, id := range named[name] {
				snap.MarkAbsent(snapshot.ECR, id)
			}
		default:
			rec.Fail("DescribeRepositories", name, err)
		}
	}
	for start := 0; start < len(names); start += namesPerCall {
		chunk := names[start:min(start+namesPerCall, len(names))]
		if len(chunk) == 1 {
			describeOne(chunk[0])
			continue
		}
		got, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: chunk})
		switch {
		case err == nil:
			keep(got.Repositories, chunk)
		case collect.ErrorCode(err) == notFound:
			for _, name := range chunk {
				describeOne(name)
			}
		default:
			rec.Fail("DescribeRepositories", strings.Join(chunk, ","), err)
		}
	}
	return out
}

func returned(repos []ecrtypes.Repository, name string) bool {
	for _, r := range repos {
		if aws.ToString(r.RepositoryName) == name {
			return true
		}
	}
	return false
}

// repositoryName turns a repository ARN (arn:aws:ecr:<region>:<account>:
// repository/<name>) into its name; anything else is taken as a name. It
// reports false for an ARN of another region or account.
func repositoryName(snap *snapshot.Snapshot, id string) (string, bool) {
	a, err := arn.Parse(id)
	if err != nil || !strings.HasPrefix(a.Resource, "repository/") {
		return id, true
	}
	if a.Region != snap.Region || a.AccountID != snap.Account {
		return "", false
	}
	return strings.TrimPrefix(a.Resource, "repository/"), true
}

func fromAPI(r ecrtypes.Repository) *snapshot.ECRRepository {
	repo := &snapshot.ECRRepository{
		ARN:                aws.ToString(r.RepositoryArn),
		Name:               aws.ToString(r.RepositoryName),
		URI:                aws.ToString(r.RepositoryUri),
		RegistryID:         aws.ToString(r.RegistryId),
		CreatedAt:          aws.ToTime(r.CreatedAt),
		ImageTagMutability: string(r.ImageTagMutability),
	}
	if r.ImageScanningConfiguration != nil {
		repo.ScanOnPush = r.ImageScanningConfiguration.ScanOnPush
	}
	if e := r.EncryptionConfiguration; e != nil {
		repo.EncryptionType = string(e.EncryptionType)
		repo.KMSKey = aws.ToString(e.KmsKey)
	}
	return repo
}
