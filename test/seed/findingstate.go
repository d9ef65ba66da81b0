package seed

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// FindingStateTable is the demo's finding state table, as template.yaml
// declares FindingStateTable.
const FindingStateTable = "posture-auditor-finding-state"

// CreateFindingStateTable creates the finding state table (on-demand, keys
// scope and id) in cfg's region.
func CreateFindingStateTable(ctx context.Context, cfg aws.Config) error {
	_, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(FindingStateTable),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("scope"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("scope"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeRange},
		},
	})
	return err
}
