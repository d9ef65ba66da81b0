package wirefake

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// STSError writes an STS (Query protocol, XML) error response, as STS
// answers an AssumeRole it refuses (AccessDenied) or throttles.
func STSError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>%s</Code>
    <Message>%s</Message>
  </Error>
  <RequestId>4fd1ec4c-0f3f-4e8b-9c3a-7d1e2f3a4b5c</RequestId>
</ErrorResponse>`, code, message)
}

// DescribeRegions writes EC2's DescribeRegions answer for an account's
// regions, each (name, opt-in status): with allRegions false (AWS's
// default) only those it can use, as AWS lists them, not those
// "not-opted-in".
func DescribeRegions(w http.ResponseWriter, listed [][2]string, allRegions bool) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>wirefake</requestId><regionInfo>`)
	for _, r := range listed {
		if !allRegions && r[1] == "not-opted-in" {
			continue
		}
		fmt.Fprintf(&b, `<item><regionName>%s</regionName><regionEndpoint>ec2.%s.amazonaws.com</regionEndpoint><optInStatus>%s</optInStatus></item>`, r[0], r[0], r[1])
	}
	b.WriteString(`</regionInfo></DescribeRegionsResponse>`)
	_, _ = io.WriteString(w, b.String())
}
