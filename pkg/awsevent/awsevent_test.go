package awsevent

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/resource"
)

const acct = "123456789012"

func call(source, name, region string, req, resp map[string]any, extra map[string]any) []byte {
	detail := map[string]any{
		"eventSource": strings.TrimPrefix(source, "aws.") + ".amazonaws.com", "eventName": name, "awsRegion": region,
		"recipientAccountId": acct, "eventType": "AwsApiCall", "readOnly": false,
		"requestParameters": req, "responseElements": resp,
	}
	for k, v := range extra {
		detail[k] = v
	}
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": source,
		"account": acct, "region": region, "resources": []string{}, "detail": detail})
	return b
}

func TestParse(t *testing.T) {
	const keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
	keyARN := "arn:aws:kms:us-east-1:" + acct + ":key/" + keyID
	secretARN := "arn:aws:secretsmanager:eu-west-1:" + acct + ":secret:prod/db-AbCdEf"
	for _, tc := range []struct {
		name string
		raw  []byte
		// want is "kind id" per target, in order; dependents marks targets with "+".
		want    []string
		skipped string
	}{
		{"kms rotation off", call("aws.kms", "DisableKeyRotation", "us-east-1", map[string]any{"keyId": keyID}, nil, nil), []string{"kms-key " + keyARN}, ""},
		{"kms key ARN wins over awsRegion", call("aws.kms", "DisableKey", "eu-west-1", map[string]any{"keyId": keyARN}, nil, nil), []string{"kms-key+ " + keyARN}, ""},
		{"kms create from response", call("aws.kms", "CreateKey", "us-east-1", map[string]any{}, map[string]any{"keyMetadata": map[string]any{"arn": keyARN, "keyId": keyID}}, nil), []string{"kms-key " + keyARN}, ""},
		{"kms delete service event", call("aws.kms", "DeleteKey", "us-east-1", nil, nil, map[string]any{"eventType": "AwsServiceEvent", "resources": []map[string]any{{"ARN": keyARN, "type": "AWS::KMS::Key"}}}), []string{"kms-key+ " + keyARN}, ""},
		{"kms alias only", call("aws.kms", "DisableKey", "us-east-1", map[string]any{"keyId": "alias/app"}, nil, nil), nil, "alias"},
		{"failed call", call("aws.kms", "DisableKey", "us-east-1", map[string]any{"keyId": keyID}, nil, map[string]any{"errorCode": "AccessDenied"}), nil, "failed"},
		{"read-only call", call("aws.kms", "DisableKey", "us-east-1", map[string]any{"keyId": keyID}, nil, map[string]any{"readOnly": true}), nil, "read-only"},
		{"unknown call", call("aws.kms", "TagResource", "us-east-1", map[string]any{"keyId": keyID}, nil, nil), nil, "changes nothing"},
		{"secret ARN from response", call("aws.secretsmanager", "UpdateSecret", "eu-west-1", map[string]any{"secretId": "prod/db"}, map[string]any{"arn": secretARN}, nil), []string{"secretsmanager-secret " + secretARN}, ""},
		{"secret by name only", call("aws.secretsmanager", "RotateSecret", "eu-west-1", map[string]any{"secretId": "prod/db"}, nil, nil), []string{"secretsmanager-secret prod/db"}, ""},
		{"secret rotation service event", call("aws.secretsmanager", "RotationFailed", "eu-west-1", nil, nil, map[string]any{"eventType": "AwsServiceEvent", "additionalEventData": map[string]any{"SecretId": secretARN}}), []string{"secretsmanager-secret " + secretARN}, ""},
		{"secret replicas", call("aws.secretsmanager", "ReplicateSecretToRegions", "eu-west-1", map[string]any{"secretId": secretARN, "addReplicaRegions": []any{map[string]any{"region": "us-west-2"}}}, nil, nil),
			[]string{"secretsmanager-secret " + secretARN, "secretsmanager-secret " + strings.Replace(secretARN, "eu-west-1", "us-west-2", 1)}, ""},
		{"cloudfront versioned name", call("aws.cloudfront", "UpdateDistribution2020_05_31", "us-east-1", map[string]any{"id": "E2QWRUHEXAMPLE"}, nil, nil), []string{"cloudfront-distribution arn:aws:cloudfront::" + acct + ":distribution/E2QWRUHEXAMPLE"}, ""},
		{"cloudfront policy update", call("aws.cloudfront", "UpdateResponseHeadersPolicy", "us-east-1", map[string]any{"id": "p-1"}, nil, nil), []string{"cloudfront-response-headers-policy response-headers-policy/p-1"}, ""},
		{"cloudfront policy create", call("aws.cloudfront", "CreateResponseHeadersPolicy", "us-east-1", map[string]any{}, map[string]any{"responseHeadersPolicy": map[string]any{"id": "p-1"}}, nil), nil, "no distribution"},
		{"trail by name", call("aws.cloudtrail", "UpdateTrail", "eu-west-1", map[string]any{"name": "main"}, nil, nil),
			[]string{"cloudtrail-account-coverage AWS::::Account:" + acct, "cloudtrail-trail arn:aws:cloudtrail:eu-west-1:" + acct + ":trail/main"}, ""},
		{"trail logging", call("aws.cloudtrail", "StopLogging", "eu-west-1", map[string]any{"name": "main"}, nil, nil), []string{"cloudtrail-account-coverage AWS::::Account:" + acct}, ""},
		{"rds rename", call("aws.rds", "ModifyDBInstance", "us-east-1", map[string]any{"dBInstanceIdentifier": "Old-DB", "newDBInstanceIdentifier": "new-db"}, map[string]any{"dBInstanceArn": "arn:aws:rds:us-east-1:" + acct + ":db:new-db"}, nil),
			[]string{"rds-db-instance arn:aws:rds:us-east-1:" + acct + ":db:new-db", "rds-db-instance arn:aws:rds:us-east-1:" + acct + ":db:old-db"}, ""},
		{"rds rename without response", call("aws.rds", "ModifyDBCluster", "us-east-1", map[string]any{"dBClusterIdentifier": "a", "newDBClusterIdentifier": "b"}, nil, nil),
			[]string{"rds-db-cluster arn:aws:rds:us-east-1:" + acct + ":cluster:a", "rds-db-cluster arn:aws:rds:us-east-1:" + acct + ":cluster:b"}, ""},
		{"rds point in time", call("aws.rds", "RestoreDBInstanceToPointInTime", "us-east-1", map[string]any{"sourceDBInstanceIdentifier": "a", "targetDBInstanceIdentifier": "b"}, nil, nil),
			[]string{"rds-db-instance arn:aws:rds:us-east-1:" + acct + ":db:b"}, ""},
		{"volumes of a new instance", call("aws.ec2", "RunInstances", "us-east-1", map[string]any{"instanceType": "t3.micro"}, map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": "i-1", "blockDeviceMapping": map[string]any{"items": []any{map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{"volumeId": "vol-0123456789abcdef1"}}}}}}}}, nil),
			[]string{"ebs-volume arn:aws:ec2:us-east-1:" + acct + ":volume/vol-0123456789abcdef1"}, ""},
		{"replica removed", call("aws.secretsmanager", "RemoveRegionsFromReplication", "eu-west-1", map[string]any{"secretId": secretARN, "removeReplicaRegions": []any{"us-west-2"}}, map[string]any{"arn": secretARN}, nil),
			[]string{"secretsmanager-secret " + secretARN, "secretsmanager-secret " + strings.Replace(secretARN, "eu-west-1", "us-west-2", 1)}, ""},
		{"rds snapshot copy", call("aws.rds", "CopyDBSnapshot", "us-east-1", map[string]any{"sourceDBSnapshotIdentifier": "a", "targetDBSnapshotIdentifier": "b"}, nil, nil), []string{"rds-db-snapshot arn:aws:rds:us-east-1:" + acct + ":snapshot:b"}, ""},
		{"ecr delete by name", call("aws.ecr", "DeleteRepository", "us-east-1", map[string]any{"repositoryName": "team/app"}, nil, nil), []string{"ecr-repository arn:aws:ecr:us-east-1:" + acct + ":repository/team/app"}, ""},
		{"ec2 volume", call("aws.ec2", "CreateVolume", "us-east-1", map[string]any{"size": 8}, map[string]any{"volumeId": "vol-0123456789abcdef0"}, nil), []string{"ebs-volume arn:aws:ec2:us-east-1:" + acct + ":volume/vol-0123456789abcdef0"}, ""},
		{"ec2 default", call("aws.ec2", "DisableEbsEncryptionByDefault", "ap-southeast-2", map[string]any{}, nil, nil), []string{"ebs-encryption-by-default AWS::::Account:" + acct}, ""},
		{"native kms", []byte(`{"detail-type":"KMS CMK Deletion","source":"aws.kms","account":"` + acct + `","region":"us-east-1","resources":["` + keyARN + `"],"detail":{"key-id":"` + keyID + `"}}`), []string{"kms-key+ " + keyARN}, ""},
		{"native acm", []byte(`{"detail-type":"ACM Certificate Approaching Expiration","source":"aws.acm","account":"` + acct + `","region":"us-east-1","resources":["arn:aws:acm:us-east-1:` + acct + `:certificate/abc"],"detail":{}}`), []string{"acm-certificate arn:aws:acm:us-east-1:" + acct + ":certificate/abc"}, ""},
		{"unknown detail-type", []byte(`{"detail-type":"Object Created","source":"aws.s3","detail":{}}`), nil, "not an event"},
		{"no account", []byte(`{"detail-type":"AWS API Call via CloudTrail","source":"aws.kms","detail":{"eventName":"DisableKey","eventSource":"kms.amazonaws.com","recipientAccountId":"1234"}}`), nil, "account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tg := range p.Targets {
				s := string(tg.Ref.Kind)
				if tg.Dependents {
					s += "+"
				}
				got = append(got, s+" "+tg.Ref.ID)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.skipped != "" && !strings.Contains(strings.Join(p.Skipped, ";"), tc.skipped) {
				t.Errorf("skipped %q, want a reason with %q", p.Skipped, tc.skipped)
			}
			for _, tg := range p.Targets {
				if tg.Ref.Account != acct {
					t.Errorf("account %q", tg.Ref.Account)
				}
			}
		})
	}
}

func TestParseRejectsNonEvents(t *testing.T) {
	for _, raw := range []string{``, `not json`, `[]`, `{}`, `{"detail-type":"x"}`, `{"source":"aws.kms"}`} {
		if _, err := Parse([]byte(raw)); err == nil {
			t.Errorf("accepted %q", raw)
		}
	}
}

func TestEveryHandledKindIsAuditable(t *testing.T) {
	for src, names := range Handled() {
		if len(names) == 0 {
			t.Errorf("%s: no event names", src)
		}
	}
	for _, k := range resource.Kinds() {
		if spec, _ := resource.SpecOf(k); len(spec.Checks) == 0 {
			t.Errorf("%s has no checks", k)
		}
	}
}

// FuzzParse: no input panics, and every target is a well-formed resource
// of a 12-digit account.
func FuzzParse(f *testing.F) {
	f.Add(call("aws.kms", "DisableKey", "us-east-1", map[string]any{"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}, nil, nil))
	f.Add(call("aws.ec2", "CopyVolumes", "us-east-1", nil, map[string]any{"volumes": []any{map[string]any{"volumeId": "vol-0123456789abcdef0"}}}, nil))
	f.Add([]byte(`{"detail-type":"Security Hub Findings - Custom Action","source":"aws.securityhub","detail":{"findings":[{"AwsAccountId":"123456789012","Resources":[{"Type":"AwsKmsKey","Id":"arn:aws:kms:us-east-1:123456789012:key/k"}]}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw)
		if err != nil {
			return
		}
		for _, tg := range p.Targets {
			if !resource.ValidAccount(tg.Ref.Account) || tg.Ref.ID == "" {
				t.Fatalf("malformed target %+v from %q", tg.Ref, raw)
			}
			if _, ok := resource.SpecOf(tg.Ref.Kind); !ok {
				t.Fatalf("unknown kind %q", tg.Ref.Kind)
			}
		}
	})
}
