package ecrcollect_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/ecrcollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "eu-west-1"

// TestCollectAgainstMoto reads a seeded registry through the real client:
// one DescribeRepositories call carries every repository's encryption.
func TestCollectAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	c := ecr.NewFromConfig(cfg)
	create := func(name string, enc *ecrtypes.EncryptionConfiguration, immutable bool) {
		in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(name), EncryptionConfiguration: enc,
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: immutable}}
		if immutable {
			in.ImageTagMutability = ecrtypes.ImageTagMutabilityImmutable
		}
		if _, err := c.CreateRepository(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	create("plain", nil, false)
	create("team/cmk", &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(keyARN)}, true)
	create("managed", &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms}, false)

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	ecrcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{})

	if !snap.Complete(snapshot.ECR) {
		t.Fatalf("collection not complete: %v", snap.Errors)
	}
	repos := map[string]*snapshot.ECRRepository{}
	for _, r := range snap.ECR.Repositories {
		repos[r.Name] = r
	}
	if len(repos) != 3 {
		t.Fatalf("got %d repositories, want 3", len(repos))
	}
	if r := repos["plain"]; r.EncryptionType != "AES256" || r.KMSKey != "" || r.UsesKMS() || r.ScanOnPush {
		t.Errorf("plain: %+v", r)
	}
	cmkRepo := repos["team/cmk"]
	if cmkRepo.EncryptionType != "KMS" || cmkRepo.KMSKey != keyARN || !cmkRepo.ScanOnPush || cmkRepo.ImageTagMutability != "IMMUTABLE" ||
		cmkRepo.ARN != "arn:aws:ecr:eu-west-1:123456789012:repository/team/cmk" || cmkRepo.RegistryID != motoserver.Account ||
		!strings.HasSuffix(cmkRepo.URI, "/team/cmk") || cmkRepo.CreatedAt.IsZero() {
		t.Errorf("team/cmk: %+v", cmkRepo)
	}
	if r := repos["managed"]; r.EncryptionType != "KMS" || r.KMSKey == "" {
		t.Errorf("managed: %+v (moto reports a key ARN for the AWS managed key, as AWS does)", r)
	}
	uses := map[string]snapshot.KeyUse{}
	for _, u := range snap.KeyUses() {
		uses[u.ResourceName] = u
	}
	if len(uses) != 2 {
		t.Fatalf("key uses %+v: want the two KMS repositories only", uses)
	}
	if u := uses["team/cmk"]; u.Service != snapshot.ECR || u.KeyRef != keyARN || u.DefaultAlias != "alias/aws/ecr" ||
		u.ResourceType != "AwsEcrRepository" || u.ResourceARN != cmkRepo.ARN {
		t.Errorf("key use: %+v", u)
	}
	if got := counter.Count("ECR", "DescribeRepositories"); got != 1 {
		t.Errorf("DescribeRepositories called %d times, want 1", got)
	}
	if n := counter.Total(); n != 1 {
		t.Errorf("%d calls in all, want 1: %+v", n, counter.Snapshot())
	}
}

// TestCollectNamedAgainstMoto reads named repositories (by name and by ARN)
// without listing, and a missing name costs only itself.
func TestCollectNamedAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, _ := moto.Config(ctx, region, nil)
	for _, name := range []string{"one", "two/svc", "three"} {
		if _, err := ecr.NewFromConfig(cfg).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)

	snap := snapshot.New(motoserver.Account, "aws", region)
	ecrcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{"one", "arn:aws:ecr:eu-west-1:123456789012:repository/two/svc"}})
	if len(snap.ECR.Repositories) != 2 || !snap.Complete(snapshot.ECR) || counter.Count("ECR", "DescribeRepositories") != 1 {
		t.Fatalf("named: %d repositories, errors %v, %d calls", len(snap.ECR.Repositories), snap.Errors, counter.Count("ECR", "DescribeRepositories"))
	}

	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap = snapshot.New(motoserver.Account, "aws", region)
	ecrcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{"one", "gone", "three"}})
	if len(snap.ECR.Repositories) != 2 {
		t.Errorf("a missing name must not hide the others: %d repositories", len(snap.ECR.Repositories))
	}
	// RepositoryNotFoundException on the name's own describe is an answer:
	// absent, as the scope named it, and ECR stays complete.
	if !snap.Complete(snapshot.ECR) || !snap.Absent(snapshot.ECR, "gone") || snap.Absent(snapshot.ECR, "one") || snap.Absent(snapshot.ECR, "three") {
		t.Errorf("errors %+v, absent %v", snap.Errors, snap.Absent(snapshot.ECR, "gone"))
	}
	// One call for the three names, then one each after the not-found.
	if got := counter.Count("ECR", "DescribeRepositories"); got != 4 {
		t.Errorf("DescribeRepositories called %d times, want 4", got)
	}

	// One missing repository named by ARN: one call, absent as named; an
	// ARN of another region is not read here.
	goneARN := "arn:aws:ecr:eu-west-1:123456789012:repository/team/gone"
	otherRegion := "arn:aws:ecr:us-east-1:123456789012:repository/one"
	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap = snapshot.New(motoserver.Account, "aws", region)
	ecrcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{goneARN, otherRegion}})
	if !snap.Complete(snapshot.ECR) || !snap.Absent(snapshot.ECR, goneARN) || snap.Absent(snapshot.ECR, otherRegion) ||
		len(snap.ECR.Repositories) != 0 || counter.Total() != 1 {
		t.Errorf("errors %+v, absent %v/%v, calls %+v", snap.Errors, snap.Absent(snapshot.ECR, goneARN), snap.Absent(snapshot.ECR, otherRegion), counter.Snapshot())
	}
}

// fakeECR serves n repositories, paging DescribeRepositories the way AWS does
// (moto ignores maxResults), and fails the page that starts at failAt.
func fakeECR(n int, failAt string, failure *wirefake.Error) *wirefake.Server {
	var repos []map[string]any
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("repo-%04d", i)
		enc := map[string]any{"encryptionType": "AES256"}
		if i%2 == 1 {
			enc = map[string]any{"encryptionType": "KMS", "kmsKey": fmt.Sprintf("arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-%012d", i)}
		}
		repos = append(repos, map[string]any{
			"repositoryArn": "arn:aws:ecr:eu-west-1:111122223333:repository/" + name, "repositoryName": name,
			"registryId": "111122223333", "repositoryUri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/" + name,
			"createdAt": 1.7e9, "imageTagMutability": "MUTABLE", "imageScanningConfiguration": map[string]any{"scanOnPush": false},
			"encryptionConfiguration": enc,
		})
	}
	return wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		if op != "DescribeRepositories" {
			return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
		}
		if tok, _ := in["nextToken"].(string); failure != nil && tok == failAt {
			return nil, failure
		}
		// Without maxResults AWS pages by 100: a collector that forgot it
		// would make 25 calls here, not 3.
		page, next := wirefake.Page(repos, in, "maxResults", "nextToken", 100)
		return map[string]any{"repositories": page, "nextToken": next}, nil
	})
}

func fakeConfig(t *testing.T, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, region, counter)
}

// TestCollectPaginates reads 2,500 repositories in 3 pages of 1000.
func TestCollectPaginates(t *testing.T) {
	fake := fakeECR(2500, "", nil)
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New("111122223333", "aws", region)
	ecrcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})

	if got := len(snap.ECR.Repositories); got != 2500 {
		t.Fatalf("got %d repositories, want 2500", got)
	}
	if got := counter.Count("ECR", "DescribeRepositories"); got != 3 {
		t.Errorf("DescribeRepositories pages: got %d, want 3", got)
	}
	if got := len(snap.KeyUses()); got != 1250 {
		t.Errorf("key uses: %d, want 1250 (the KMS repositories)", got)
	}
	last := snap.ECR.Repositories[2499]
	if last.Name != "repo-2499" || last.EncryptionType != "KMS" || !strings.HasSuffix(last.KMSKey, "000000002499") {
		t.Errorf("last repository: %+v", last)
	}
	if !snap.Complete(snapshot.ECR) {
		t.Errorf("errors: %v", snap.Errors)
	}
}

// TestCollectListDenied: a page denied midway records the error and keeps no
// repository, so none can read as gone.
func TestCollectListDenied(t *testing.T) {
	fake := fakeECR(2500, "1000", wirefake.AccessDenied("ecr:DescribeRepositories"))
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	ecrcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if len(snap.ECR.Repositories) != 0 || len(snap.KeyUses()) != 0 {
		t.Errorf("%d repositories, %d key uses after a failed listing", len(snap.ECR.Repositories), len(snap.KeyUses()))
	}
	errs := snap.Errors[snapshot.ECR]
	if len(errs) != 1 || errs[0].Operation != "DescribeRepositories" || errs[0].Resource != "" || errs[0].Code != "AccessDeniedException" {
		t.Errorf("errors: %+v", errs)
	}
	if !snap.Collected[snapshot.ECR] || snap.Complete(snapshot.ECR) {
		t.Error("a failed listing must leave ECR collected but incomplete")
	}
}

// TestCollectThrottledNamed: an error other than not-found on a named call
// is recorded once for the call, without retrying name by name.
func TestCollectThrottledNamed(t *testing.T) {
	fake := fakeECR(3, "", &wirefake.Error{Code: "ThrottlingException", Message: "Rate exceeded"})
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	ecrcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{"repo-0000", "repo-0001"}})
	errs := snap.Errors[snapshot.ECR]
	// Throttling is retried (TestRetries attempts), then recorded.
	if len(errs) != 1 || errs[0].Resource != "repo-0000,repo-0001" || errs[0].Code != "ThrottlingException" || fake.Calls("DescribeRepositories") != wirefake.TestRetries {
		t.Errorf("errors %+v after %d calls", errs, fake.Calls("DescribeRepositories"))
	}
	if snap.Absent(snapshot.ECR, "repo-0000") || snap.Absent(snapshot.ECR, "repo-0001") {
		t.Error("a throttled describe marked a repository absent")
	}
}

// TestCollectNamedDeniedAndServerError: a denied or failing describe of one
// named repository is an error naming it, never an absence.
func TestCollectNamedDeniedAndServerError(t *testing.T) {
	for _, failure := range []*wirefake.Error{
		wirefake.AccessDenied("ecr:DescribeRepositories"),
		{Status: 500, Code: "ServerException", Message: "internal"},
	} {
		fake := fakeECR(3, "", failure)
		snap := snapshot.New("111122223333", "aws", region)
		ecrcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{"repo-0001"}})
		fake.Close()
		errs := snap.Errors[snapshot.ECR]
		if len(errs) != 1 || errs[0].Resource != "repo-0001" || errs[0].Code != failure.Code || snap.Absent(snapshot.ECR, "repo-0001") || len(snap.ECR.Repositories) != 0 {
			t.Errorf("%s: errors %+v, absent %v", failure.Code, errs, snap.Absent(snapshot.ECR, "repo-0001"))
		}
	}
}
