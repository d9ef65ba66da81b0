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
		repos = describeNamed(ctx, api, rec, repositoryNames(scope.ResourceIDs))
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

// describeNamed describes the named repositories, 100 to a call. One
// missing name fails its whole call, so that call's names are then asked
// for one by one: the others are still read, and the missing one is
// recorded.
func describeNamed(ctx context.Context, api API, rec *collect.Recorder, names []string) []ecrtypes.Repository {
	var out []ecrtypes.Repository
	for start := 0; start < len(names); start += namesPerCall {
		chunk := names[start:min(start+namesPerCall, len(names))]
		got, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: chunk})
		switch {
		case err == nil:
			out = append(out, got.Repositories...)
		case collect.ErrorCode(err) == notFound && len(chunk) > 1:
			for _, name := range chunk {
				one, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
				if err != nil {
					rec.Fail("DescribeRepositories", name, err)
					continue
				}
				out = append(out, one.Repositories...)
			}
		default:
			rec.Fail("DescribeRepositories", strings.Join(chunk, ","), err)
		}
	}
	return out
}

// repositoryNames turns repository ARNs (arn:aws:ecr:<region>:<account>:
// repository/<name>) into names; anything else is taken as a name.
func repositoryNames(ids []string) []string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if a, err := arn.Parse(id); err == nil && strings.HasPrefix(a.Resource, "repository/") {
			id = strings.TrimPrefix(a.Resource, "repository/")
		}
		names = append(names, id)
	}
	return names
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
