package findingstate

import (
	"context"
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
