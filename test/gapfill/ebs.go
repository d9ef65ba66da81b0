package gapfill

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// moto 5.2 does not implement GetEbsDefaultKmsKeyId (HTTP 500). It does
// implement ModifyEbsDefaultKmsKeyId, and honours it for volumes created
// encrypted without a key, but keeps the key where no call can read it. The
// proxy therefore notes every successful modify in its state and answers
// Get from there, as AWS does: "alias/aws/ebs" until the default key is
// changed, the key ARN after.
func init() {
	register("ec2", ebsDefaultKMSKey)
}

// ebsEC2Namespace is the XML namespace of every EC2 answer.
const ebsEC2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ebsUnchangedDefaultKey is GetEbsDefaultKmsKeyId's answer on AWS while the
// region's default key was never changed.
const ebsUnchangedDefaultKey = "alias/aws/ebs"

var ebsSigningRegion = regexp.MustCompile(`Credential=[^/]+/[^/]+/([^/]+)/`)

func ebsStateKey(r *Request) string {
	region := "us-east-1"
	if m := ebsSigningRegion.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		region = m[1]
	}
	return "ebs/default-kms-key/" + region
}

func ebsDefaultKMSKey(p *Proxy, w http.ResponseWriter, r *Request) bool {
	switch r.Operation {
	case "GetEbsDefaultKmsKeyId":
		key := ebsUnchangedDefaultKey
		if v, ok := p.Get(ebsStateKey(r)); ok {
			key = v.(string)
		}
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<GetEbsDefaultKmsKeyIdResponse xmlns="%s"><requestId>gapfill-ebs</requestId><kmsKeyId>%s</kmsKeyId></GetEbsDefaultKmsKeyIdResponse>`,
			ebsEC2Namespace, ebsXMLEscape(key))
		return true
	case "ModifyEbsDefaultKmsKeyId":
		// moto resolves the key (any of the four forms) to its ARN, as AWS
		// does; keep that answer.
		status, header, body, err := p.Forward(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
		var out struct {
			KMSKeyID string `xml:"kmsKeyId"`
		}
		if status == http.StatusOK && xml.Unmarshal(body, &out) == nil && out.KMSKeyID != "" {
			p.Set(ebsStateKey(r), out.KMSKeyID)
		}
		copyHeader(w.Header(), header)
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return true
	}
	return false
}

func ebsXMLEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
