package findingstate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
)

// scripted answers each TransactWriteItems with the next reasons (one
// code for every action; "" is success) and keeps what was sent.
type scripted struct {
	API
	answers []string
	sent    []*dynamodb.TransactWriteItemsInput
}

func (s *scripted) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	s.sent = append(s.sent, in)
	code := "ThrottlingError"
	if len(s.sent) <= len(s.answers) {
		code = s.answers[len(s.sent)-1]
	}
	if code == "" {
		return &dynamodb.TransactWriteItemsOutput{}, nil
	}
	reasons := make([]ddbtypes.CancellationReason, len(in.TransactItems))
	for i := range reasons {
		reasons[i] = ddbtypes.CancellationReason{Code: aws.String(code)}
	}
	return nil, &ddbtypes.TransactionCanceledException{CancellationReasons: reasons}
}

func TestTransactRetries(t *testing.T) {
	defer func(b time.Duration) { transactBackoff = b }(transactBackoff)
	transactBackoff = time.Millisecond
	items := []ddbtypes.TransactWriteItem{{Put: &ddbtypes.Put{}}, {Put: &ddbtypes.Put{}}}
	for name, c := range map[string]struct {
		answers []string
		calls   int
		ok      bool
	}{
		"written":                            {[]string{""}, 1, true},
		"throttled, then written":            {[]string{"ProvisionedThroughputExceeded", "ThrottlingError", ""}, 3, true},
		"conflicts, then all refused":        {[]string{"TransactionConflict", "TransactionConflict", "TransactionConflict", "TransactionConflict", "TransactionConflict", "ConditionalCheckFailed"}, 6, true},
		"throttled at every attempt":         {nil, transactAttempts, false},
		"a reason it does not know":          {[]string{"ValidationError"}, 1, false},
		"all refused by newer records first": {[]string{"ConditionalCheckFailed"}, 1, true},
	} {
		api := &scripted{answers: c.answers}
		err := (&Store{}).transact(context.Background(), api, items)
		if (err == nil) != c.ok || len(api.sent) != c.calls {
			t.Errorf("%s: %d calls, %v; want %d calls, ok %v", name, len(api.sent), err, c.calls, c.ok)
		}
	}
}

// Of two records of one Id in a save, the newer observation is written
// (a transaction may name an item once).
func TestSaveKeepsTheNewerOfTwoRecordsOfAnId(t *testing.T) {
	api := &scripted{answers: []string{""}}
	s := &Store{Table: "t", NewAPI: func(aws.Config) API { return api }}
	f := func(observed string) types.AwsSecurityFinding {
		return types.AwsSecurityFinding{Id: aws.String("posture-auditor/kms.rotation/1/r/k"), GeneratorId: aws.String("kms.rotation"),
			ProductFields: map[string]string{asff.ObservedAtField: observed}}
	}
	if err := s.Save(context.Background(), aws.Config{}, "111122223333", "eu-west-1", []types.AwsSecurityFinding{f("2026-12-02T00:00:00.000Z"), f("2026-12-01T00:00:00.000Z")}); err != nil {
		t.Fatal(err)
	}
	if len(api.sent) != 1 || len(api.sent[0].TransactItems) != 1 || str(api.sent[0].TransactItems[0].Put.Item, attrObservedAt) != "2026-12-02T00:00:00.000Z" {
		t.Errorf("sent %+v", api.sent)
	}
}

// TestWritesPacedPerPartition: the transactions writing one partition key
// draw on its write capacity (2 units a KB of each item): past the
// second's worth they wait for it, rather than be cancelled by DynamoDB;
// another key's capacity is its own, but every key draws on the table's;
// a negative capacity paces nothing.
func TestWritesPacedPerPartition(t *testing.T) {
	items := func(partition string, n int) []ddbtypes.TransactWriteItem {
		var out []ddbtypes.TransactWriteItem
		for i := range n {
			item := key(partition, fmt.Sprint("id-", i))
			item[attrFindingZ] = &ddbtypes.AttributeValueMemberB{Value: make([]byte, 1500)} // 2 KB: 4 units
			out = append(out, ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{Item: item}})
		}
		return out
	}
	units := 0
	for _, it := range items("a", 20) {
		units += writeUnits(it.Put.Item)
	}
	if units != 80 {
		t.Fatalf("20 items of 1.5 KB: %d units, want 80", units)
	}
	ctx := context.Background()
	transact := func(s *Store, batches ...[]ddbtypes.TransactWriteItem) time.Duration {
		start := time.Now()
		for _, b := range batches {
			if err := s.transact(ctx, &scripted{answers: []string{""}}, b); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	perPartition := &Store{PartitionWriteUnits: 100, TableWriteUnits: -1}
	if d := transact(perPartition, items("a", 20), items("a#1", 20)); d > 100*time.Millisecond {
		t.Errorf("two partitions' first transactions took %v: one key's capacity held the other back", d)
	}
	if d := transact(perPartition, items("a", 20)); d < 500*time.Millisecond { // 60 units short: 0.6 s
		t.Errorf("key a's second 80 units went after %v, want about 0.6 s (100 units a second)", d)
	}
	// Two keys in one transaction: each waits for its own share, at once.
	mixed := append(items("b", 20), items("b#1", 20)...)
	if d := transact(perPartition, mixed, mixed); d < 500*time.Millisecond || d > 1200*time.Millisecond {
		t.Errorf("two transactions of 80 units to each of two keys took %v, want about 0.6 s", d)
	}
	perTable := &Store{PartitionWriteUnits: -1, TableWriteUnits: 100}
	if d := transact(perTable, items("c", 20), items("c#1", 20)); d < 500*time.Millisecond {
		t.Errorf("160 units to two keys of a table of 100 a second went after %v, want about 0.6 s", d)
	}
	unpaced := &Store{PartitionWriteUnits: -1, TableWriteUnits: -1}
	if d := transact(unpaced, items("a", 100), items("a", 100), items("a", 100)); d > 100*time.Millisecond {
		t.Errorf("unpaced writes took %v", d)
	}
	// A cancelled wait gives its capacity back.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	s := &Store{PartitionWriteUnits: 100, TableWriteUnits: -1}
	transact(s, items("d", 20))
	if err := s.transact(cancelled, &scripted{answers: []string{""}}, items("d", 20)); err == nil {
		t.Fatal("a transaction whose wait was cancelled was sent")
	}
	if d := transact(s, items("d", 5)); d > 100*time.Millisecond {
		t.Errorf("after a cancelled wait, 20 units within the key's second waited %v", d)
	}
}

// TestPartitionNotBurstWhileTheTableHoldsItsWrites: when the table's
// capacity is the wait, a key's capacity is taken when its write goes, not
// when it starts waiting: three writes of 80 units to a key of 100 a
// second, behind a table backlog, go at least 0.6 s apart.
func TestPartitionNotBurstWhileTheTableHoldsItsWrites(t *testing.T) {
	s := &Store{PartitionWriteUnits: 100, TableWriteUnits: 400}
	ctx := context.Background()
	units := func(key string, n int) map[string]int { return map[string]int{key: n} }
	// 400 units to other keys: the table's second is spent, and the next
	// 400 wait a second for it.
	for i := range 5 {
		if err := s.pace(ctx, units(fmt.Sprint("other#", i), 80)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		go func() { _ = s.pace(ctx, units(fmt.Sprint("backlog#", i), 80)) }()
	}
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	var sent []time.Duration
	for range 3 {
		if err := s.pace(ctx, units("a", 80)); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, time.Since(start))
	}
	for i := 1; i < len(sent); i++ {
		if gap := sent[i] - sent[i-1]; gap < 550*time.Millisecond {
			t.Errorf("writes of 80 units to a key of 100 a second went %v apart (at %v), want about 0.6 s", gap, sent)
		}
	}
}
