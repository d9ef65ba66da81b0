package endpoint

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aws/smithy-go"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/findingstate"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

const stateTable = "posture-auditor-finding-state"

func start(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func config(t testing.TB, s *Server, region string, counter *awsconfig.CallCounter, attempts int) aws.Config {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{
		Region: region, EndpointURL: s.URL, Counter: counter, MaxAttempts: attempts, MaxBackoff: 20 * time.Millisecond,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLARGEACCOUNT", "secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// CreateStateTable creates the finding state table as the stack does.
func createStateTable(t testing.TB, cfg aws.Config) {
	t.Helper()
	_, err := dynamodb.NewFromConfig(cfg).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(stateTable), BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema: []ddbtypes.KeySchemaElement{{AttributeName: aws.String("scope"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeRange}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("scope"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTwoSweepsOfASmallAccount sweeps a tiny account twice through the
// auditor's runner and the real SDK clients: the first sweep judges every
// generated resource (the count each check must produce is derived from
// the data) without a failed scope; the second, of the unchanged account,
// imports nothing and reads nothing back from Security Hub.
func TestTwoSweepsOfASmallAccount(t *testing.T) {
	s := start(t, Options{Scale: 0.005})
	home := s.Data.Home
	counter := awsconfig.NewCallCounter()
	cfg := config(t, s, home, counter, 8)
	createStateTable(t, cfg)
	r := &runner.Runner{
		AWS: cfg, Counter: counter, Regions: s.Data.Regions, HomeRegion: home, Collectors: runner.Collectors(),
		Publisher:   publish.Publisher{State: &findingstate.Store{Table: stateTable, Region: home, Boilerplate: runner.Boilerplate}, Limiters: publish.NewLimiters()},
		ToolVersion: "test", Getenv: func(string) string { return "" }, Now: time.Now,
	}
	want := map[string]int{}
	for _, region := range s.Data.Regions {
		for c, n := range s.Data.ExpectedFindings(region) {
			want[c] += n
		}
	}

	before := s.Counts()
	first, err := r.Handle(context.Background(), []byte(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	sweep1 := s.Counts().Sub(before)
	if len(first.FailedScopes) > 0 {
		t.Fatalf("failed scopes: %+v", first.FailedScopes)
	}
	total := 0
	for _, c := range first.Checks {
		got := 0
		for _, n := range first.Counts[c] {
			got += n
		}
		total += got
		if got != want[c] {
			t.Errorf("%s: %d findings, the generated data implies %d (%v)", c, got, want[c], first.Counts[c])
		}
	}
	if first.Lifecycle.New != total || first.Lifecycle.Imported != total || first.Lifecycle.Failed != 0 {
		t.Errorf("first sweep lifecycle %+v, want %d new and imported", first.Lifecycle, total)
	}
	if n := s.StoredFindings(); n[home]+n[s.Data.Regions[1]] != total {
		t.Errorf("Security Hub holds %v findings, want %d", n, total)
	}
	if sweep1.Total("securityhub", "BatchImportFindings") == 0 {
		t.Error("first sweep imported nothing")
	}
	if n := len(sweep1.Throttled); n > 0 {
		t.Errorf("first sweep was throttled: %v", sweep1.Throttled)
	}

	before = s.Counts()
	second, err := r.Handle(context.Background(), []byte(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	sweep2 := s.Counts().Sub(before)
	if len(second.FailedScopes) > 0 {
		t.Fatalf("second sweep failed scopes: %+v", second.FailedScopes)
	}
	if n := sweep2.Total("securityhub", "BatchImportFindings"); n != 0 || second.Lifecycle.Imported != 0 {
		t.Errorf("second sweep of an unchanged account: %d BatchImportFindings, %d imported (lifecycle %+v)", n, second.Lifecycle.Imported, second.Lifecycle)
	}
	if n := sweep2.Total("securityhub", "GetFindings"); n != 0 {
		t.Errorf("second sweep made %d GetFindings calls, want 0 (planned from the finding state)", n)
		for _, p := range second.Published {
			t.Logf("%s: state source %q, state error %q", p.Region, p.StateSource, p.StateError)
		}
		for _, p := range first.Published {
			t.Logf("first %s: state source %q, state error %q", p.Region, p.StateSource, p.StateError)
		}
	}
	if second.Lifecycle.Unchanged != total {
		t.Errorf("second sweep: %d unchanged, want %d", second.Lifecycle.Unchanged, total)
	}
	for c, statuses := range second.Counts {
		for st, n := range statuses {
			if first.Counts[c][st] != n {
				t.Errorf("%s %s: %d in the second sweep, %d in the first", c, st, n, first.Counts[c][st])
			}
		}
	}
	mixed := 0
	for _, c := range first.Checks {
		if first.Counts[c][check.Passed] > 0 && first.Counts[c][check.Failed] > 0 {
			mixed++
		}
	}
	t.Logf("%d findings; %d of %d checks have both PASSED and FAILED findings at this scale", total, mixed, len(first.Checks))
}

// TestExpectationsAtScaleOne checks the generated account at full size:
// the sizes the benchmark promises, and a PASSED/FAILED mix the data
// implies for the mixes the generator sets up.
func TestExpectationsAtScaleOne(t *testing.T) {
	a := NewAccount("123456789012", []string{"us-east-1", "eu-west-1"}, "us-east-1", 1, time.Now())
	if a.N != BaseSizes {
		t.Fatalf("sizes %+v, want %+v", a.N, BaseSizes)
	}
	types := map[string]bool{}
	for j := 0; j < a.N.Certificates; j++ {
		types[a.Certificate("us-east-1", j).KeyType] = true
	}
	for _, kt := range []string{"RSA_2048", "RSA_1024", "RSA_4096", "EC_prime256v1", "EC_secp384r1"} {
		if !types[kt] {
			t.Errorf("no %s certificate", kt)
		}
	}
	n := a.ExpectedFindings("us-east-1")
	if n["ebs.volume-cmk"] < 19000 || n["secretsmanager.cmk"] < 4900 || n["cloudfront.hsts"] != 200 {
		t.Errorf("unexpected finding counts: %v", n)
	}
	min := a.MinimumCalls()
	if got := min[Call{"us-east-1", "ec2", "DescribeVolumes"}]; got != 40 {
		t.Errorf("DescribeVolumes minimum %d, want 40", got)
	}
}

// TestThrottlingAnswers drives one operation of each protocol over its
// quota and checks the SDK sees AWS's own throttling answer: the error
// code, the HTTP status, and retry.IsErrorThrottle classifying it as a
// throttle.
func TestThrottlingAnswers(t *testing.T) {
	tiny := Quota{Rate: 0.001, Burst: 1}
	s := start(t, Options{Scale: 0.005, Quotas: map[string]Quota{
		"kms:ListKeys": tiny, "dynamodb:Query": tiny, "rds:DescribeDBInstances": tiny, "sts:GetCallerIdentity": tiny,
		"ec2:DescribeVolumes": tiny, "cloudfront:ListDistributions": tiny, "securityhub:GetFindings": tiny,
	}})
	home := s.Data.Home
	cfg := config(t, s, home, nil, 1) // one attempt: the throttle is returned, not retried
	createStateTable(t, cfg)
	ctx := context.Background()
	cases := []struct {
		name, code string
		status     int
		call       func() error
	}{
		{"JSON 1.1 (KMS ListKeys)", "ThrottlingException", 400, func() error {
			_, err := kms.NewFromConfig(cfg).ListKeys(ctx, &kms.ListKeysInput{})
			return err
		}},
		{"JSON 1.0 (DynamoDB Query)", "ThrottlingException", 400, func() error {
			_, err := dynamodb.NewFromConfig(cfg).Query(ctx, &dynamodb.QueryInput{TableName: aws.String(stateTable),
				KeyConditionExpression: aws.String("#s = :s"), ExpressionAttributeNames: map[string]string{"#s": "scope"},
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: "x"}}})
			return err
		}},
		{"query XML (RDS DescribeDBInstances)", "Throttling", 400, func() error {
			_, err := rds.NewFromConfig(cfg).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{MaxRecords: aws.Int32(100)})
			return err
		}},
		{"query XML (STS GetCallerIdentity)", "Throttling", 400, func() error {
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}},
		{"EC2 query (DescribeVolumes)", "RequestLimitExceeded", 503, func() error {
			_, err := ec2.NewFromConfig(cfg).DescribeVolumes(ctx, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)})
			return err
		}},
		{"REST-XML (CloudFront ListDistributions)", "Throttling", 400, func() error {
			_, err := cloudfront.NewFromConfig(cfg).ListDistributions(ctx, &cloudfront.ListDistributionsInput{MaxItems: aws.Int32(100)})
			return err
		}},
		{"REST-JSON (Security Hub GetFindings)", "TooManyRequestsException", 429, func() error {
			_, err := securityhub.NewFromConfig(cfg).GetFindings(ctx, &securityhub.GetFindingsInput{MaxResults: aws.Int32(100)})
			return err
		}},
	}
	throttles := retry.IsErrorThrottles(retry.DefaultThrottles)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The first call takes the bucket's only token; the next is
			// throttled. A call that fails otherwise (the SDK now and then
			// fails a 200 answer with "use of closed network connection",
			// see test/wirefake) is tried again.
			var err error
			var apiErr smithy.APIError
			for try := 0; try < 4; try++ {
				err = c.call()
				if errors.As(err, &apiErr) {
					break
				}
			}
			if apiErr == nil || apiErr.ErrorCode() != c.code {
				t.Fatalf("over the quota: %v, want %s", err, c.code)
			}
			var resp *smithyhttp.ResponseError
			if !errors.As(err, &resp) || resp.HTTPStatusCode() != c.status {
				t.Errorf("HTTP status of %v, want %d", err, c.status)
			}
			if throttles.IsErrorThrottle(err) != aws.TrueTernary || !awsconfig.IsThrottle(err) {
				t.Errorf("the SDK does not classify %v as a throttle", err)
			}
		})
	}
	if n := len(s.Counts().Throttled); n != len(cases) {
		t.Errorf("throttled operations counted: %v", s.Counts().Throttled)
	}
}

// TestPartitionWriteCapacity: with PartitionWCU, a transaction whose
// writes to one partition key exceed its capacity (2 units a KB a write)
// is cancelled, nothing written, those writes' reasons ThrottlingError
// and the other key's None; another key's capacity is its own; the
// capacity comes back with time.
func TestPartitionWriteCapacity(t *testing.T) {
	s, api := startWithStateTable(t, Options{Scale: 0.005, PartitionWCU: 100})
	ctx := context.Background()
	// 20 writes of 4 units to key a: 80 of its 100.
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: statePuts("a", 20)}); err != nil {
		t.Fatal(err)
	}
	// 10 more to a (40 units, 20 left) and 2 to b: cancelled, a's writes ThrottlingError.
	_, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(statePuts("b", 2), statePuts("a", 10)...)})
	var cancelled *ddbtypes.TransactionCanceledException
	if !errors.As(err, &cancelled) || len(cancelled.CancellationReasons) != 12 ||
		aws.ToString(cancelled.CancellationReasons[0].Code) != "None" || aws.ToString(cancelled.CancellationReasons[2].Code) != "ThrottlingError" {
		t.Fatalf("over capacity: %v", err)
	}
	if n := s.ThrottledTransactions(); n != 1 {
		t.Errorf("%d throttled transactions counted, want 1", n)
	}
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: statePuts("b", 20)}); err != nil {
		t.Errorf("another key's capacity: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // 50 units back
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: statePuts("a", 10)}); err != nil {
		t.Errorf("after the capacity came back: %v", err)
	}
}

// TestTableWriteCapacity: with TableWCU, the writes to every partition key
// of a table draw on the table's capacity: a transaction beyond it is
// cancelled whole (every write ThrottlingError, no capacity taken, neither
// the table's nor a key's), and the capacity comes back with time.
func TestTableWriteCapacity(t *testing.T) {
	s, api := startWithStateTable(t, Options{Scale: 0.005, PartitionWCU: 100, TableWCU: 120})
	ctx := context.Background()
	// 80 units to a, then 60 to b: b's key has them, the table (40 left) not.
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: statePuts("a", 20)}); err != nil {
		t.Fatal(err)
	}
	_, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: statePuts("b", 15)})
	var cancelled *ddbtypes.TransactionCanceledException
	if !errors.As(err, &cancelled) || len(cancelled.CancellationReasons) != 15 || aws.ToString(cancelled.CancellationReasons[14].Code) != "ThrottlingError" {
		t.Fatalf("over the table's capacity: %v", err)
	}
	// Nothing was taken by the cancelled one: 40 units (10 writes) still go.
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: statePuts("b", 10)}); err != nil {
		t.Errorf("within the table's remaining capacity: %v", err)
	}
	if n := s.ThrottledTransactions(); n != 1 {
		t.Errorf("%d throttled transactions counted, want 1", n)
	}
	time.Sleep(500 * time.Millisecond) // 60 units back
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: statePuts("c", 15)}); err != nil {
		t.Errorf("after the table's capacity came back: %v", err)
	}
}

// startWithStateTable starts an endpoint with o and the finding state
// table, and returns a DynamoDB client of it.
func startWithStateTable(t *testing.T, o Options) (*Server, *dynamodb.Client) {
	t.Helper()
	s := start(t, o)
	cfg := config(t, s, s.Data.Home, nil, 1)
	createStateTable(t, cfg)
	return s, dynamodb.NewFromConfig(cfg)
}

// statePuts are n transactional writes of 2 KB items (4 units each) under
// partition key scope.
func statePuts(scope string, n int) []ddbtypes.TransactWriteItem {
	var out []ddbtypes.TransactWriteItem
	for i := range n {
		out = append(out, ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: aws.String(stateTable), Item: map[string]ddbtypes.AttributeValue{
			"scope": &ddbtypes.AttributeValueMemberS{Value: scope}, "id": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint("finding-", i)},
			"z": &ddbtypes.AttributeValueMemberB{Value: make([]byte, 1500)},
		}}})
	}
	return out
}

// TestUnshard: the state laid out as before sharding: items of a shard
// key under their scope's own key, a marker's time under reconciledAt and
// no shard count.
func TestUnshard(t *testing.T) {
	s, api := startWithStateTable(t, Options{Scale: 0.005})
	ctx := context.Background()
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: statePuts("111122223333#us-east-1#2", 3)}); err != nil {
		t.Fatal(err)
	}
	marker := map[string]ddbtypes.AttributeValue{
		"scope": &ddbtypes.AttributeValueMemberS{Value: "111122223333#us-east-1"}, "id": &ddbtypes.AttributeValueMemberS{Value: "#reconciled#kms.rotation"},
		"reconciledAtSharded": &ddbtypes.AttributeValueMemberS{Value: "2026-12-02T00:00:00Z"}, "shards": &ddbtypes.AttributeValueMemberS{Value: "4"},
	}
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{{Put: &ddbtypes.Put{TableName: aws.String(stateTable), Item: marker}}}}); err != nil {
		t.Fatal(err)
	}
	if moved := s.Unshard(s.Data.Home, stateTable); moved != 3 || s.Items(s.Data.Home, stateTable) != 4 {
		t.Fatalf("moved %d, %d items", moved, s.Items(s.Data.Home, stateTable))
	}
	scope := &ddbtypes.AttributeValueMemberS{Value: "111122223333#us-east-1"}
	got, err := api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{stateTable: {Keys: []map[string]ddbtypes.AttributeValue{
		{"scope": scope, "id": &ddbtypes.AttributeValueMemberS{Value: "finding-1"}}, {"scope": scope, "id": marker["id"]}}}}})
	if err != nil || len(got.Responses[stateTable]) != 2 {
		t.Fatalf("a moved item and the marker under the scope's key: %v, %v", got, err)
	}
	for _, it := range got.Responses[stateTable] {
		if it["id"].(*ddbtypes.AttributeValueMemberS).Value == "#reconciled#kms.rotation" && (it["reconciledAt"] == nil || it["shards"] != nil || it["reconciledAtSharded"] != nil) {
			t.Errorf("the marker: %v", it)
		}
	}
}

// TestTransactionalDeletes: a transaction's Delete removes its item when
// its condition holds (a record saved before a reconciliation's read-back),
// and cancels the transaction (ConditionalCheckFailed, nothing deleted)
// when it does not (one saved after).
func TestTransactionalDeletes(t *testing.T) {
	_, api := startWithStateTable(t, Options{Scale: 0.005, PartitionWCU: 100})
	ctx := context.Background()
	puts := statePuts("a", 2)
	puts[1].Put.Item["savedAt"] = &ddbtypes.AttributeValueMemberS{Value: "2026-12-02T12:00:00.000000000Z"}
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: puts}); err != nil {
		t.Fatal(err)
	}
	del := func(id string) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{Delete: &ddbtypes.Delete{TableName: aws.String(stateTable),
			Key:                       map[string]ddbtypes.AttributeValue{"scope": &ddbtypes.AttributeValueMemberS{Value: "a"}, "id": &ddbtypes.AttributeValueMemberS{Value: id}},
			ConditionExpression:       aws.String("attribute_not_exists(#sv) OR #sv < :sv"),
			ExpressionAttributeNames:  map[string]string{"#sv": "savedAt"},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":sv": &ddbtypes.AttributeValueMemberS{Value: "2026-12-02T11:00:00.000000000Z"}}}}
	}
	_, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{del("finding-0"), del("finding-1")}})
	var cancelled *ddbtypes.TransactionCanceledException
	if !errors.As(err, &cancelled) || aws.ToString(cancelled.CancellationReasons[0].Code) != "None" || aws.ToString(cancelled.CancellationReasons[1].Code) != "ConditionalCheckFailed" {
		t.Fatalf("a delete whose condition fails: %v", err)
	}
	if _, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{del("finding-0")}}); err != nil {
		t.Fatal(err)
	}
	got, err := api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{stateTable: {Keys: []map[string]ddbtypes.AttributeValue{
		{"scope": &ddbtypes.AttributeValueMemberS{Value: "a"}, "id": &ddbtypes.AttributeValueMemberS{Value: "finding-0"}},
		{"scope": &ddbtypes.AttributeValueMemberS{Value: "a"}, "id": &ddbtypes.AttributeValueMemberS{Value: "finding-1"}}}}}})
	if err != nil || len(got.Responses[stateTable]) != 1 || got.Responses[stateTable][0]["id"].(*ddbtypes.AttributeValueMemberS).Value != "finding-1" {
		t.Errorf("after deleting finding-0: %v, %v", got, err)
	}
}
