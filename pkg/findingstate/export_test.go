package findingstate

// PartitionKey is the partition key of the record of Id id in the scope.
func PartitionKey(account, region, id string) string {
	return partitionKey(scopeKey(account, region), id)
}

// ItemBytes is an item's size as DynamoDB counts it.
var ItemBytes = itemBytes
