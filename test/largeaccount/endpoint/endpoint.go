// Package endpoint is a wire-level AWS endpoint serving a large synthetic
// account: every API the auditor calls, in each service's own protocol
// (JSON 1.1 and 1.0, query XML, EC2 query, REST-XML, REST-JSON), with AWS's
// page sizes and pagination, AWS's documented request quotas enforced per
// account and region with AWS's real throttling answers, a fixed latency
// added to every call, and counters of calls and throttles.
//
// Requests are routed by the SigV4 credential scope of their Authorization
// header (Credential=AKID/date/REGION/SERVICE/aws4_request), which gives
// both the service and the region. Signatures are not verified.
//
// The account's resources are computed from indexes (data.go); what a
// client writes (Security Hub findings, DynamoDB items) is kept in memory.
package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure New.
type Options struct {
	// Scale sizes the account: 1 is BaseSizes (0 means 1).
	Scale float64
	// Sizes, when set, are the account's sizes instead of Scale's (a
	// small account of a handful of each kind; every count at least 1).
	Sizes *Sizes
	// Latency is added before every answer (throttled ones included).
	Latency time.Duration
	// Regions of the account (default us-east-1, eu-west-1); Home is the
	// home region (default the first).
	Regions []string
	Home    string
	// Account is the account ID (default 123456789012).
	Account string
	// Now anchors the generated dates (default time.Now()).
	Now time.Time
	// Quotas replaces entries of the Quotas table (tests); a zero Rate
	// removes the quota.
	Quotas map[string]Quota
	// PartitionWCU, when set, is DynamoDB's write throughput of one
	// partition key, in write capacity units a second (AWS: 1,000 per
	// partition, on demand or provisioned; a transactional write costs 2
	// units per KB of item, rounded up): a TransactWriteItems that would
	// exceed it is cancelled, its writes to that key with ThrottlingError,
	// as DynamoDB cancels one before its adaptive capacity splits a hot
	// key. 0: unlimited.
	PartitionWCU float64
	// TableWCU, when set, is the write throughput of one table (a new
	// on-demand table: 4,000 units a second; more once warmed): a
	// TransactWriteItems beyond it is cancelled, every write
	// ThrottlingError. 0: unlimited.
	TableWCU float64
}

// Server is a running endpoint.
type Server struct {
	URL  string
	Data *Account

	opts   Options
	quotas map[string]Quota
	srv    *http.Server
	ln     net.Listener

	mu        sync.Mutex
	calls     map[Call]int
	throttled map[Call]int
	// seconds counts accepted calls by (call, unix second): when a sweep's
	// imports and state writes ran, not only how many.
	seconds map[Call]map[int64]int
	buckets map[string]*bucket
	reqID   atomic.Int64

	hub *securityHub
	ddb *dynamo
}

// New starts an endpoint on 127.0.0.1 (a random port).
func New(o Options) (*Server, error) {
	if o.Scale == 0 {
		o.Scale = 1
	}
	if len(o.Regions) == 0 {
		o.Regions = []string{"us-east-1", "eu-west-1"}
	}
	if o.Home == "" {
		o.Home = o.Regions[0]
	}
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	s := &Server{
		Data: newAccount(o), opts: o,
		quotas: map[string]Quota{}, calls: map[Call]int{}, throttled: map[Call]int{}, seconds: map[Call]map[int64]int{}, buckets: map[string]*bucket{},
		hub: newSecurityHub(), ddb: newDynamo(o.PartitionWCU, o.TableWCU),
	}
	for k, q := range Quotas {
		s.quotas[k] = q
	}
	for k, q := range o.Quotas {
		if q.Rate == 0 {
			delete(s.quotas, k)
			continue
		}
		if q.Bucket == "" {
			q.Bucket = k
		}
		s.quotas[k] = q
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func newAccount(o Options) *Account {
	if o.Sizes != nil {
		return NewAccountSized(o.Account, o.Regions, o.Home, *o.Sizes, o.Now)
	}
	return NewAccount(o.Account, o.Regions, o.Home, o.Scale, o.Now)
}

// ServeHTTP answers one request as the endpoint's own listener does, for a
// server in front of several endpoints (one per account) that routes each
// request by its credentials.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }

// Close stops the endpoint.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Quota returns the quota of "service:Operation", if it has one.
func (s *Server) Quota(op string) (Quota, bool) {
	q, ok := s.quotas[op]
	return q, ok
}

// Counts is a snapshot of the counters.
type Counts struct {
	// Calls are requests received by (region, service, operation),
	// throttled ones included; Throttled those answered with a throttle.
	Calls, Throttled map[Call]int
}

// Counts returns the counters so far.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Counts{Calls: map[Call]int{}, Throttled: map[Call]int{}}
	for k, v := range s.calls {
		c.Calls[k] = v
	}
	for k, v := range s.throttled {
		c.Throttled[k] = v
	}
	return c
}

// PerSecond returns the accepted calls of service and operation, over
// every region, by unix second from..to (inclusive).
func (s *Server) PerSecond(service, operation string, from, to time.Time) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, max(0, to.Unix()-from.Unix()+1))
	for c, secs := range s.seconds {
		if c.Service != service || c.Operation != operation {
			continue
		}
		for sec, n := range secs {
			if i := sec - from.Unix(); i >= 0 && i < int64(len(out)) {
				out[i] += n
			}
		}
	}
	return out
}

// Sub is what was counted after before.
func (c Counts) Sub(before Counts) Counts {
	out := Counts{Calls: map[Call]int{}, Throttled: map[Call]int{}}
	for k, v := range c.Calls {
		if d := v - before.Calls[k]; d > 0 {
			out.Calls[k] = d
		}
	}
	for k, v := range c.Throttled {
		if d := v - before.Throttled[k]; d > 0 {
			out.Throttled[k] = d
		}
	}
	return out
}

// Total adds up the calls of a service ("" for all) and operation ("" for
// all), over every region.
func (c Counts) Total(service, operation string) int {
	n := 0
	for k, v := range c.Calls {
		if (service == "" || k.Service == service) && (operation == "" || k.Operation == operation) {
			n += v
		}
	}
	return n
}

// RefillBuckets fills every token bucket, as if the account had been left
// alone long enough (between two scheduled sweeps).
func (s *Server) RefillBuckets() {
	s.mu.Lock()
	s.buckets = map[string]*bucket{}
	s.mu.Unlock()
}

// BucketOf returns the quota an operation ("service:Operation", with the
// "#unpaginated" variant for DescribeVolumes) is counted against.
func (s *Server) BucketOf(op string) (Quota, bool) { return s.Quota(op) }

// allow takes a token from the bucket of (region, op); false is a throttle.
func (s *Server) allow(region, op string) bool {
	q, ok := s.quotas[op]
	if !ok {
		return true
	}
	if q.Bucket == "cloudfront:api" {
		region = "global" // CloudFront is global: one bucket for the account
	}
	key := region + "|" + q.Bucket
	s.mu.Lock()
	b := s.buckets[key]
	if b == nil {
		b = newBucket(q)
		s.buckets[key] = b
	}
	s.mu.Unlock()
	return b.take(time.Now())
}

// protocol is how a service encodes requests and errors.
type protocol int

const (
	protoJSON11 protocol = iota
	protoJSON10
	protoQuery
	protoEC2
	protoRESTXML
	protoRESTJSON
)

var protocols = map[string]protocol{
	"kms": protoJSON11, "secretsmanager": protoJSON11, "acm": protoJSON11, "ecr": protoJSON11, "cloudtrail": protoJSON11,
	"dynamodb": protoJSON10, "sts": protoQuery, "rds": protoQuery, "ec2": protoEC2,
	"cloudfront": protoRESTXML, "securityhub": protoRESTJSON,
}

// req is one request being answered.
type req struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	body    []byte
	region  string
	service string
	op      string
	proto   protocol
	form    url.Values     // query protocols
	in      map[string]any // JSON protocols
	id      string
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

func (s *Server) serve(w http.ResponseWriter, hr *http.Request) {
	body, _ := readBody(hr)
	_ = hr.Body.Close()
	q := &req{s: s, w: w, r: hr, body: body, id: fmt.Sprintf("largeaccount-%08d", s.reqID.Add(1))}
	m := credentialScope.FindStringSubmatch(hr.Header.Get("Authorization"))
	if m == nil {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"message":"Missing Authentication Token"}`)
		return
	}
	q.region, q.service = m[1], m[2]
	proto, known := protocols[q.service]
	q.proto = proto
	if !known {
		q.op = "?"
		s.count(q, false)
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, "service %q is not served by the largeaccount endpoint", q.service)
		return
	}
	if err := q.parse(); err != nil {
		s.count(q, false)
		q.sleep()
		q.fail(http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	bucketOp := q.service + ":" + q.op
	if q.service == "ec2" && q.op == "DescribeVolumes" && q.form.Get("MaxResults") == "" && !hasPrefixKey(q.form, "VolumeId.") {
		bucketOp += "#unpaginated"
	}
	ok := s.allow(q.region, bucketOp)
	s.count(q, !ok)
	q.sleep()
	if !ok {
		q.throttle()
		return
	}
	handlers[q.service](q)
}

// readBody reads a request's body, in one buffer of its Content-Length
// when it has one (io.ReadAll grows its buffer from 512 bytes: a 1 MB
// import was copied a dozen times).
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= maxImportBytes+1 {
		b := make([]byte, n, n+1)
		k, err := io.ReadFull(r.Body, b)
		if err != nil {
			return b[:k], err
		}
		// Nothing should follow; read it all the same, as io.ReadAll would.
		rest, err := io.ReadAll(r.Body)
		return append(b, rest...), err
	}
	return io.ReadAll(r.Body)
}

func hasPrefixKey(v url.Values, prefix string) bool {
	for k := range v {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func (s *Server) count(q *req, throttled bool) {
	c := Call{q.region, q.service, q.op}
	s.mu.Lock()
	s.calls[c]++
	if throttled {
		s.throttled[c]++
	} else {
		if s.seconds[c] == nil {
			s.seconds[c] = map[int64]int{}
		}
		s.seconds[c][time.Now().Unix()]++
	}
	s.mu.Unlock()
}

func (q *req) sleep() {
	if d := q.s.opts.Latency; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-q.r.Context().Done():
		}
	}
}

// parse finds the operation and decodes the input.
func (q *req) parse() error {
	switch q.proto {
	case protoJSON11, protoJSON10:
		t := q.r.Header.Get("X-Amz-Target")
		q.op = t[strings.LastIndex(t, ".")+1:]
		if q.op == "" {
			q.op = "?"
			return fmt.Errorf("no X-Amz-Target")
		}
		q.in = map[string]any{}
		if in, ok := decodeObject(q.body); ok {
			q.in = in
		} else if len(bytes.TrimSpace(q.body)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(q.body))
			dec.UseNumber()
			if err := dec.Decode(&q.in); err != nil {
				return err
			}
		}
	case protoQuery, protoEC2:
		v, err := url.ParseQuery(string(q.body))
		if err != nil {
			q.op = "?"
			return err
		}
		q.form = v
		q.op = v.Get("Action")
		if q.op == "" {
			q.op = "?"
			return fmt.Errorf("no Action")
		}
	case protoRESTXML:
		q.op = cloudFrontOperation(q.r)
	case protoRESTJSON:
		switch {
		case q.r.Method == http.MethodPost && q.r.URL.Path == "/findings/import":
			q.op = "BatchImportFindings"
		case q.r.Method == http.MethodPost && q.r.URL.Path == "/findings":
			q.op = "GetFindings"
		default:
			q.op = q.r.Method + " " + q.r.URL.Path
		}
	}
	return nil
}

var handlers = map[string]func(*req){}

func register(service string, h func(*req)) { handlers[service] = h }

// ---------------------------------------------------------------- answers

func (q *req) header(contentType string) {
	q.w.Header().Set("Content-Type", contentType)
	q.w.Header().Set("X-Amzn-RequestId", q.id)
}

// json answers a JSON protocol call.
func (q *req) json(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		q.fail(http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	q.rawJSON(b)
}

// rawJSON answers a JSON protocol call with a document already encoded.
func (q *req) rawJSON(b []byte) {
	switch q.proto {
	case protoJSON10:
		q.header("application/x-amz-json-1.0")
	case protoJSON11:
		q.header("application/x-amz-json-1.1")
	default:
		q.header("application/json")
	}
	q.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if q.service == "dynamodb" {
		// DynamoDB signs every answer with the CRC32 of its body, and the
		// SDK checks it.
		q.w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	}
	q.w.WriteHeader(http.StatusOK)
	_, _ = q.w.Write(b)
}

// xml answers a query, EC2 or REST-XML call with a document already built.
func (q *req) xml(doc string) {
	q.header("text/xml")
	q.w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	q.w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(q.w, doc)
}

// queryResponse wraps a query protocol result (RDS, STS).
func (q *req) queryResponse(namespace, result string) {
	q.xml(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<" + q.op + `Response xmlns="` + namespace + `"><` + q.op + "Result>" + result +
		"</" + q.op + "Result><ResponseMetadata><RequestId>" + q.id + "</RequestId></ResponseMetadata></" + q.op + "Response>")
}

// fail answers an error in the service's own format.
func (q *req) fail(status int, code, message string) {
	switch q.proto {
	case protoJSON11, protoJSON10:
		typ := code
		if q.proto == protoJSON10 && q.service == "dynamodb" {
			typ = "com.amazonaws.dynamodb.v20120810#" + code
		}
		q.header(map[protocol]string{protoJSON11: "application/x-amz-json-1.1", protoJSON10: "application/x-amz-json-1.0"}[q.proto])
		q.w.Header().Set("X-Amzn-ErrorType", code)
		q.w.WriteHeader(status)
		_ = json.NewEncoder(q.w).Encode(map[string]string{"__type": typ, "message": message})
	case protoRESTJSON:
		q.header("application/json")
		q.w.Header().Set("X-Amzn-ErrorType", code)
		q.w.WriteHeader(status)
		_ = json.NewEncoder(q.w).Encode(map[string]string{"Code": code, "Message": message})
	case protoQuery:
		ns := map[string]string{"rds": "http://rds.amazonaws.com/doc/2014-10-31/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}[q.service]
		q.header("text/xml")
		q.w.WriteHeader(status)
		_, _ = fmt.Fprintf(q.w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			ns, esc(code), esc(message), q.id)
	case protoEC2:
		q.header("text/xml;charset=UTF-8")
		q.w.WriteHeader(status)
		_, _ = fmt.Fprintf(q.w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
			esc(code), esc(message), q.id)
	case protoRESTXML:
		q.header("text/xml")
		q.w.WriteHeader(status)
		_, _ = fmt.Fprintf(q.w, `<?xml version="1.0"?>`+"\n"+`<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			esc(code), esc(message), q.id)
	}
}

// throttle answers with the service's real throttling response.
func (q *req) throttle() {
	switch q.service {
	case "ec2":
		q.fail(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
	case "rds", "sts", "cloudfront":
		q.fail(http.StatusBadRequest, "Throttling", "Rate exceeded")
	case "securityhub":
		q.header("application/json")
		q.w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
		q.w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(q.w, `{"message":"Too Many Requests"}`)
	case "dynamodb":
		q.fail(http.StatusBadRequest, "ThrottlingException", "Throughput exceeds the current capacity of your table or index.")
	default:
		q.fail(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	}
}

// unknownOperation answers an operation the endpoint does not serve, so a
// client calling something new fails loudly (and the call is counted).
func (q *req) unknownOperation() {
	code := "UnknownOperationException"
	switch q.proto {
	case protoQuery, protoEC2:
		code = "InvalidAction"
	case protoRESTXML, protoRESTJSON:
		code = "NotImplemented"
	}
	q.fail(http.StatusBadRequest, code, q.service+":"+q.op+" is not served by the largeaccount endpoint")
}

func (q *req) invalid(code, format string, args ...any) {
	q.fail(http.StatusBadRequest, code, fmt.Sprintf(format, args...))
}

// ---------------------------------------------------------------- input helpers

func (q *req) str(key string) string {
	v, _ := q.in[key].(string)
	return v
}

// intIn reads an optional JSON integer; ok is false when it is absent.
func (q *req) intIn(key string) (n int, present bool, err error) {
	v, ok := q.in[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	num, isNum := v.(json.Number)
	if !isNum {
		return 0, true, fmt.Errorf("%s must be a number", key)
	}
	i, err := num.Int64()
	return int(i), true, err
}

// pageSize reads a page-size member: def when absent, an error outside
// [lo, hi] as AWS validates it.
func (q *req) pageSize(key string, def, lo, hi int) (int, error) {
	n, present, err := q.intIn(key)
	if err != nil {
		return 0, err
	}
	if !present {
		return def, nil
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between %d and %d", n, key, lo, hi)
	}
	return n, nil
}

// ---------------------------------------------------------------- paging

// token is an opaque page token: the offset of the next item, bound to
// the operation and region so a token from another listing is refused.
func token(op, region string, offset int) string {
	return fmt.Sprintf("%s.%s.%d.%s", op, region, offset, digest("tok", op, region, offset)[:8])
}

func parseToken(op, region, t string) (int, bool) {
	p := strings.Split(t, ".")
	if len(p) != 4 || p[0] != op || p[1] != region {
		return 0, false
	}
	n, err := strconv.Atoi(p[2])
	if err != nil || n < 0 || token(op, region, n) != t {
		return 0, false
	}
	return n, true
}

// page returns [start, end) of the page after tok, and the next token ("" at
// the end). ok is false for a token it did not issue.
func page(op, region, tok string, total, size int) (start, end int, next string, ok bool) {
	if tok != "" {
		if start, ok = parseToken(op, region, tok); !ok || start > total {
			return 0, 0, "", false
		}
	}
	end = min(start+size, total)
	if end < total {
		next = token(op, region, end)
	}
	return start, end, next, true
}

// ---------------------------------------------------------------- encoding helpers

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// epoch is a JSON-protocol timestamp (seconds since the epoch).
func epoch(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64))
}

// iso is an XML-protocol timestamp.
func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// xb builds XML.
type xb struct{ strings.Builder }

func (b *xb) el(name, text string) *xb {
	b.WriteString("<" + name + ">" + esc(text) + "</" + name + ">")
	return b
}

func (b *xb) open(name string) *xb  { b.WriteString("<" + name + ">"); return b }
func (b *xb) close(name string) *xb { b.WriteString("</" + name + ">"); return b }

func (b *xb) elIf(name, text string) *xb {
	if text != "" {
		b.el(name, text)
	}
	return b
}

func (b *xb) bool(name string, v bool) *xb { return b.el(name, strconv.FormatBool(v)) }
func (b *xb) int(name string, v int) *xb   { return b.el(name, strconv.Itoa(v)) }
