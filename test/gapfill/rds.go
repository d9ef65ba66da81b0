package gapfill

import (
	"bytes"
	"net/http"
	"regexp"
)

func init() { register("rds", rdsDefaultKey) }

// motoDefaultKMSKey is what moto 5.2 reports as KmsKeyId for storage
// encrypted without a named key. AWS reports the region's aws/rds key there.
var motoDefaultKMSKey = []byte("default_kms_key_id")

// rdsResourceARN finds the partition, region and account of the resources
// in an RDS answer, to name the aws/rds key of that account and region.
var rdsResourceARN = regexp.MustCompile(`arn:(aws[a-z-]*):rds:([a-z0-9-]+):([0-9]{12}):`)

// rdsDefaultKey rewrites moto's placeholder key in every RDS answer to the
// aws/rds key in alias ARN form (arn:aws:kms:<region>:<account>:alias/aws/rds),
// so the demo's default-encrypted resources are judged as on AWS: encrypted
// with the AWS managed key. The product code does not special-case the
// placeholder (the key model calls it unrecognised: NOT_AVAILABLE).
func rdsDefaultKey(p *Proxy, w http.ResponseWriter, r *Request) bool {
	status, header, body, err := p.Forward(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return true
	}
	if bytes.Contains(body, motoDefaultKMSKey) {
		if m := rdsResourceARN.FindSubmatch(body); m != nil {
			alias := "arn:" + string(m[1]) + ":kms:" + string(m[2]) + ":" + string(m[3]) + ":alias/aws/rds"
			body = bytes.ReplaceAll(body, motoDefaultKMSKey, []byte(alias))
		}
	}
	copyHeader(w.Header(), header)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return true
}
