package awsconfig

import "strings"

// iamPrefix maps the SDK's service ID to the IAM action prefix.
var iamPrefix = map[string]string{
	"ACM":             "acm",
	"CloudFront":      "cloudfront",
	"CloudTrail":      "cloudtrail",
	"EC2":             "ec2",
	"ECR":             "ecr",
	"KMS":             "kms",
	"RDS":             "rds",
	"Secrets Manager": "secretsmanager",
	"SecurityHub":     "securityhub",
	"STS":             "sts",
}

// batchActions are operations IAM authorises with another operation's
// action: SQS's batch calls are allowed by the single call's action, and
// a DynamoDB transaction by the action of each of its writes (CallCount's
// Parts, when the counter saw them; else its puts).
var batchActions = map[Call]string{
	{Service: "SQS", Operation: "SendMessageBatch"}:        "sqs:SendMessage",
	{Service: "DynamoDB", Operation: "TransactWriteItems"}: "dynamodb:PutItem",
}

// IAMAction is the IAM action that authorises c, e.g. "kms:ListKeys".
func (c Call) IAMAction() string {
	if a, ok := batchActions[c]; ok {
		return a
	}
	return c.iamAction()
}

// IAMActions are the IAM actions the calls counted needed: their parts'
// for a transaction whose parts the counter saw (puts, deletes).
func (c CallCount) IAMActions() []string {
	if len(c.Parts) > 0 {
		return c.Parts
	}
	return []string{c.IAMAction()}
}

func (c Call) iamAction() string {
	p, ok := iamPrefix[c.Service]
	if !ok {
		p = strings.ToLower(strings.ReplaceAll(c.Service, " ", ""))
	}
	return p + ":" + c.Operation
}

// NeedsNoPermission reports calls IAM does not authorise:
// sts:GetCallerIdentity works even under an explicit deny.
func (c Call) NeedsNoPermission() bool {
	return c.Service == "STS" && c.Operation == "GetCallerIdentity"
}
