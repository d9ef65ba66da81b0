package endpoint

import (
	"fmt"
	"strconv"
	"strings"
)

func init() { register("ec2", serveEC2) }

const ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// serveEC2 answers the EC2 query protocol: DescribeVolumes (MaxResults 5 to
// 500, larger values capped at 500 as AWS does; without MaxResults every
// volume in one answer, counted against the unpaginated quota; VolumeId.N,
// where a missing volume fails the call), GetEbsEncryptionByDefault,
// GetEbsDefaultKmsKeyId and DescribeRegions (the account's regions).
func serveEC2(q *req) {
	a := q.s.Data
	open := func(b *xb) {
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<" + q.op + `Response xmlns="` + ec2Namespace + `">`)
		b.el("requestId", q.id)
	}
	switch q.op {
	case "DescribeVolumes":
		if hasPrefixKey(q.form, "Filter.") {
			q.invalid("InvalidParameterValue", "filters are not served by the largeaccount endpoint")
			return
		}
		var idx []int
		var next string
		if hasPrefixKey(q.form, "VolumeId.") {
			if q.form.Get("MaxResults") != "" || q.form.Get("NextToken") != "" {
				q.invalid("InvalidParameterCombination", "The parameter volumeSet cannot be used with the parameter maxResults")
				return
			}
			for n := 1; ; n++ {
				id := q.form.Get("VolumeId." + strconv.Itoa(n))
				if id == "" {
					break
				}
				j, ok := a.volumeIndex(q.region, id)
				if !ok {
					q.invalid("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
					return
				}
				idx = append(idx, j)
			}
		} else {
			size := a.N.Volumes
			if v := q.form.Get("MaxResults"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 5 {
					q.invalid("InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. Expecting a value greater than 5.", v)
					return
				}
				size = min(n, 500)
			}
			start, end, nt, ok := page("DescribeVolumes", q.region, q.form.Get("NextToken"), a.N.Volumes, max(size, 1))
			if !ok {
				q.invalid("InvalidParameterValue", "The specified NextToken is not valid.")
				return
			}
			for j := start; j < end; j++ {
				idx = append(idx, j)
			}
			next = nt
		}
		var b xb
		open(&b)
		b.open("volumeSet")
		for _, j := range idx {
			volumeXML(&b, a, q.region, a.Volume(q.region, j))
		}
		b.close("volumeSet")
		if next != "" {
			b.el("nextToken", next)
		}
		b.close(q.op + "Response")
		q.xml(b.String())
	case "GetEbsEncryptionByDefault":
		on, _ := a.EBSDefaults(q.region)
		var b xb
		open(&b)
		b.bool("ebsEncryptionByDefault", on).el("sseType", "sse-ebs").close(q.op + "Response")
		q.xml(b.String())
	case "DescribeRegions":
		// The account's regions, every one enabled (AllRegions false).
		var b xb
		open(&b)
		b.open("regionInfo")
		for _, r := range a.Regions {
			b.open("item").el("regionName", r).el("regionEndpoint", "ec2."+r+".amazonaws.com").el("optInStatus", "opt-in-not-required").close("item")
		}
		b.close("regionInfo").close(q.op + "Response")
		q.xml(b.String())
	case "GetEbsDefaultKmsKeyId":
		_, key := a.EBSDefaults(q.region)
		var b xb
		open(&b)
		b.el("kmsKeyId", key).close(q.op + "Response")
		q.xml(b.String())
	default:
		q.unknownOperation()
	}
}

func (a *Account) volumeIndex(region, id string) (int, bool) {
	if !strings.HasPrefix(id, "vol-0") || len(id) != 21 {
		return 0, false
	}
	r, err1 := strconv.ParseInt(id[5:9], 16, 32)
	j, err2 := strconv.ParseInt(id[9:], 16, 64)
	if err1 != nil || err2 != nil || int(r) != a.regionIndex(region) || int(j) >= a.N.Volumes {
		return 0, false
	}
	return int(j), true
}

func volumeXML(b *xb, a *Account, region string, v Volume) {
	b.open("item")
	b.el("volumeId", v.ID).el("volumeArn", fmt.Sprintf("arn:aws:ec2:%s:%s:volume/%s", region, a.ID, v.ID))
	b.int("size", v.Size).el("snapshotId", "").el("availabilityZone", region+"a").el("status", v.State)
	b.el("createTime", iso(v.Created))
	b.open("attachmentSet")
	if v.Instance != "" {
		b.open("item").el("volumeId", v.ID).el("instanceId", v.Instance).el("device", "/dev/xvdf").el("status", "attached").
			el("attachTime", iso(v.Created)).bool("deleteOnTermination", false).close("item")
	}
	b.close("attachmentSet")
	if v.Name != "" {
		b.open("tagSet").open("item").el("key", "Name").el("value", v.Name).close("item").close("tagSet")
	}
	b.el("volumeType", v.Type)
	if v.Type == "gp3" || v.Type == "io2" {
		b.int("iops", 3000)
	}
	if v.Type == "gp3" {
		b.int("throughput", 125)
	}
	b.bool("encrypted", v.Enc.Mode != "")
	if v.Enc.Mode != "" {
		b.el("kmsKeyId", v.Enc.Key.ARN)
	}
	b.bool("multiAttachEnabled", false).close("item")
}
