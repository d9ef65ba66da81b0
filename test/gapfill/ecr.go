package gapfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// A repository created with encryption type KMS and no key is encrypted by
// AWS with the AWS managed key aws/ecr, which AWS creates in the account on
// first use; DescribeRepositories then reports that key's ARN. moto 5.2
// reports a random key ARN that no KMS call knows, so the auditor's key
// model finds no such key. The proxy does what AWS does instead: on such a
// CreateRepository it makes sure moto's KMS has a key aliased alias/aws/ecr
// in that region (as moto itself does for aws/ebs) and passes the request on
// naming that key, so every later answer reports it.
func init() {
	register("ecr", ecrManagedKey)
}

const ecrManagedKeyAlias = "alias/aws/ecr"

// ecrManagedKeyMu makes "find or create the aws/ecr key" one step.
var ecrManagedKeyMu sync.Mutex

var ecrSigningRegion = regexp.MustCompile(`Credential=[^/]+/[^/]+/([^/]+)/`)

func ecrManagedKey(p *Proxy, w http.ResponseWriter, r *Request) bool {
	if r.Operation != "CreateRepository" {
		return false
	}
	var in map[string]any
	if json.Unmarshal(r.Body, &in) != nil {
		return false
	}
	enc, _ := in["encryptionConfiguration"].(map[string]any)
	encType, _ := enc["encryptionType"].(string)
	if key, _ := enc["kmsKey"].(string); (encType != "KMS" && encType != "KMS_DSSE") || key != "" {
		return false
	}
	m := ecrSigningRegion.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return false
	}
	keyARN, err := p.ecrManagedKeyARN(r.Context(), m[1])
	if err != nil {
		http.Error(w, "gapfill: aws/ecr key: "+err.Error(), http.StatusBadGateway)
		return true
	}
	enc["kmsKey"] = keyARN
	body, err := json.Marshal(in)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return true
	}
	r.Body = body
	status, header, out, err := p.Forward(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return true
	}
	copyHeader(w.Header(), header)
	w.WriteHeader(status)
	_, _ = w.Write(out)
	return true
}

// ecrManagedKeyARN finds, or creates, the key aliased alias/aws/ecr in
// moto's KMS in region.
func (p *Proxy) ecrManagedKeyARN(ctx context.Context, region string) (string, error) {
	ecrManagedKeyMu.Lock()
	defer ecrManagedKeyMu.Unlock()
	c := kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(p.moto.Scheme + "://" + p.moto.Host),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	found, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ecrManagedKeyAlias)})
	if err == nil {
		return aws.ToString(found.KeyMetadata.Arn), nil
	}
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		return "", err
	}
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("Default key that protects my ECR data when no other key is defined"),
	})
	if err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(ecrManagedKeyAlias), TargetKeyId: created.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("create alias: %w", err)
	}
	return aws.ToString(created.KeyMetadata.Arn), nil
}
