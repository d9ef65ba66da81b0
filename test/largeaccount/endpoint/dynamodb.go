package endpoint

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

func init() { register("dynamodb", serveDynamoDB) }

// DynamoDB limits the finding state depends on.
const (
	maxQueryPage    = 1 << 20 // Query and Scan read at most 1 MB a page
	maxBatchGetKeys = 100
	maxBatchGetSize = 16 << 20
	maxItemSize     = 400 * 1024
)

// dynamo is an on-demand DynamoDB: tables of string attributes, keyed by a
// partition and a sort key, with exactly the expressions pkg/findingstate
// writes. Anything else is refused with ValidationException, so that a
// change in the client is noticed rather than silently misread.
type dynamo struct {
	mu     sync.Mutex
	tables map[string]*table // by region|name
	// partitionWCU is the write capacity of one partition key (0: none);
	// capacity is its buckets, by table|partition key.
	partitionWCU float64
	// tableWCU is the write capacity of one table (0: none); its buckets
	// are in capacity too, by table name.
	tableWCU float64
	capacity map[string]*bucket
	// Throttled counts the transactions cancelled for capacity.
	throttled int
	// written counts the write units of the transactions' Puts that
	// landed, by table|partition key.
	written map[string]float64
}

type table struct {
	name, region, pk, sk string
	parts                map[string]*partition
}

type partition struct {
	items  map[string]item
	sorted []string
	dirty  bool
}

// item is an item of string (S) and binary (B) attributes; a binary value
// is kept as binaryTag followed by its bytes.
type item map[string]string

// binaryTag starts a B attribute's value in an item.
const binaryTag = "\x00B:"

func newDynamo(partitionWCU, tableWCU float64) *dynamo {
	return &dynamo{tables: map[string]*table{}, partitionWCU: partitionWCU, tableWCU: tableWCU, capacity: map[string]*bucket{}, written: map[string]float64{}}
}

// PartitionUnits returns the write units of the transactional Puts written
// so far, by table|partition key.
func (s *Server) PartitionUnits() map[string]float64 {
	s.ddb.mu.Lock()
	defer s.ddb.mu.Unlock()
	out := make(map[string]float64, len(s.ddb.written))
	for k, v := range s.ddb.written {
		out[k] = v
	}
	return out
}

// writeUnits is what a transactional write of it costs: 2 units a KB.
func writeUnits(it item) float64 { return 2 * float64((it.size()+1023)/1024) }

// ThrottledTransactions counts the TransactWriteItems cancelled because a
// partition key's or the table's write capacity (Options.PartitionWCU,
// Options.TableWCU) ran out.
func (s *Server) ThrottledTransactions() int {
	s.ddb.mu.Lock()
	defer s.ddb.mu.Unlock()
	return s.ddb.throttled
}

func (it item) size() int {
	n := 0
	for k, v := range it {
		n += len(k) + len(strings.TrimPrefix(v, binaryTag))
	}
	return n
}

func (it item) wire() map[string]map[string]string {
	out := make(map[string]map[string]string, len(it))
	for k, v := range it {
		if b, ok := strings.CutPrefix(v, binaryTag); ok {
			out[k] = map[string]string{"B": base64.StdEncoding.EncodeToString([]byte(b))}
			continue
		}
		out[k] = map[string]string{"S": v}
	}
	return out
}

// decodeItem reads an item of S attributes.
func decodeItem(v any) (item, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("item must be a map of attribute values")
	}
	out := item{}
	for k, av := range m {
		if b, ok := binaryValue(av); ok {
			raw, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: B is not base64: %w", k, err)
			}
			out[k] = binaryTag + string(raw)
			continue
		}
		s, err := decodeS(av)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// binaryValue is the base64 text of a B attribute value.
func binaryValue(av any) (string, bool) {
	m, _ := av.(map[string]any)
	b, ok := m["B"].(string)
	return b, ok && len(m) == 1
}

func decodeS(av any) (string, error) {
	m, ok := av.(map[string]any)
	if !ok || len(m) != 1 {
		return "", fmt.Errorf("an attribute value must have exactly one type")
	}
	s, ok := m["S"].(string)
	if !ok {
		return "", fmt.Errorf("only string (S) and binary (B) attribute values are served by the largeaccount endpoint")
	}
	return s, nil
}

var (
	// condition is the only condition form pkg/findingstate writes:
	// "attribute_not_exists(#a) OR #a <= :v" (or "<").
	condition = regexp.MustCompile(`^\s*attribute_not_exists\(\s*(#\w+)\s*\)\s+OR\s+(#\w+)\s*(<=|<)\s*(:\w+)\s*$`)
	// keyCondition is "#pk = :v", optionally "AND begins_with(#sk, :p)".
	keyCondition = regexp.MustCompile(`^\s*(#\w+)\s*=\s*(:\w+)\s*(?:AND\s+begins_with\(\s*(#\w+)\s*,\s*(:\w+)\s*\)\s*)?$`)
)

// expression resolves the names and values an expression uses, and checks
// that it uses every one it was given, as DynamoDB does.
type expression struct {
	names  map[string]string
	values map[string]string
	used   map[string]bool
}

func newExpression(in map[string]any) (*expression, error) {
	e := &expression{names: map[string]string{}, values: map[string]string{}, used: map[string]bool{}}
	if n, ok := in["ExpressionAttributeNames"].(map[string]any); ok {
		for k, v := range n {
			s, _ := v.(string)
			e.names[k] = s
		}
	}
	if vs, ok := in["ExpressionAttributeValues"].(map[string]any); ok {
		for k, v := range vs {
			s, err := decodeS(v)
			if err != nil {
				return nil, fmt.Errorf("ExpressionAttributeValues %s: %w", k, err)
			}
			e.values[k] = s
		}
	}
	return e, nil
}

func (e *expression) name(n string) (string, error) {
	v, ok := e.names[n]
	if !ok {
		return "", fmt.Errorf("Value provided in ExpressionAttributeNames unused in expressions or undefined: %s", n)
	}
	e.used[n] = true
	return v, nil
}

func (e *expression) value(n string) (string, error) {
	v, ok := e.values[n]
	if !ok {
		return "", fmt.Errorf("An expression attribute value used in expression is not defined; attribute value: %s", n)
	}
	e.used[n] = true
	return v, nil
}

func (e *expression) allUsed() error {
	for k := range e.names {
		if !e.used[k] {
			return fmt.Errorf("Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", k)
		}
	}
	for k := range e.values {
		if !e.used[k] {
			return fmt.Errorf("Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", k)
		}
	}
	return nil
}

var projectionPath = regexp.MustCompile(`^(#\w+|[A-Za-z_][A-Za-z0-9_]*)$`)

// projection reads a ProjectionExpression of top-level attributes ("" is
// every attribute).
func (e *expression) projection(expr string) ([]string, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(expr, ",") {
		p = strings.TrimSpace(p)
		if !projectionPath.MatchString(p) {
			return nil, fmt.Errorf("ProjectionExpression path %q is not one the largeaccount endpoint serves (top-level attributes only)", p)
		}
		if strings.HasPrefix(p, "#") {
			n, err := e.name(p)
			if err != nil {
				return nil, err
			}
			p = n
		}
		out = append(out, p)
	}
	return out, nil
}

// project keeps attrs of it (nil: all).
func (it item) project(attrs []string) item {
	if attrs == nil {
		return it
	}
	out := item{}
	for _, a := range attrs {
		if v, ok := it[a]; ok {
			out[a] = v
		}
	}
	return out
}

// check evaluates a ConditionExpression against the stored item (nil when
// absent).
func (e *expression) check(expr string, old item) (bool, error) {
	m := condition.FindStringSubmatch(expr)
	if m == nil || m[1] != m[2] {
		return false, fmt.Errorf("ConditionExpression %q is not one the largeaccount endpoint serves", expr)
	}
	attr, err := e.name(m[1])
	if err != nil {
		return false, err
	}
	v, err := e.value(m[4])
	if err != nil {
		return false, err
	}
	if err := e.allUsed(); err != nil {
		return false, err
	}
	cur, exists := old[attr]
	if !exists {
		return true, nil
	}
	if m[3] == "<" {
		return cur < v, nil
	}
	return cur <= v, nil
}

func (q *req) validation(format string, args ...any) {
	q.fail(http.StatusBadRequest, "ValidationException", fmt.Sprintf(format, args...))
}

func serveDynamoDB(q *req) {
	d := q.s.ddb
	switch q.op {
	case "CreateTable":
		d.createTable(q)
		return
	case "DescribeTable":
		d.mu.Lock()
		t := d.tables[q.region+"|"+q.str("TableName")]
		d.mu.Unlock()
		if t == nil {
			q.fail(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found: Table: "+q.str("TableName")+" not found")
			return
		}
		q.json(map[string]any{"Table": t.description(q.s.Data.ID)})
		return
	case "PutItem", "DeleteItem", "Query", "BatchGetItem", "TransactWriteItems":
	default:
		q.unknownOperation()
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch q.op {
	case "TransactWriteItems":
		d.transactWrite(q)
	case "PutItem":
		t := d.table(q, q.str("TableName"))
		if t == nil {
			return
		}
		it, err := decodeItem(q.in["Item"])
		if err != nil {
			q.validation("%s", err)
			return
		}
		if it[t.pk] == "" || it[t.sk] == "" {
			q.validation("One or more parameter values were invalid: Missing the key %s or %s in the item", t.pk, t.sk)
			return
		}
		if it.size() > maxItemSize {
			q.validation("Item size has exceeded the maximum allowed size")
			return
		}
		if !t.conditionHolds(q, t.get(it[t.pk], it[t.sk])) {
			return
		}
		t.put(it)
		q.json(map[string]any{})
	case "DeleteItem":
		t := d.table(q, q.str("TableName"))
		if t == nil {
			return
		}
		key, err := decodeItem(q.in["Key"])
		if err != nil || len(key) != 2 || key[t.pk] == "" || key[t.sk] == "" {
			q.validation("The provided key element does not match the schema")
			return
		}
		if !t.conditionHolds(q, t.get(key[t.pk], key[t.sk])) {
			return
		}
		t.delete(key[t.pk], key[t.sk])
		q.json(map[string]any{})
	case "Query":
		t := d.table(q, q.str("TableName"))
		if t == nil {
			return
		}
		t.query(q)
	case "BatchGetItem":
		batchGet(q, d)
	}
}

func (d *dynamo) createTable(q *req) {
	name := q.str("TableName")
	var pk, sk string
	ks, _ := q.in["KeySchema"].([]any)
	for _, k := range ks {
		m, _ := k.(map[string]any)
		n, _ := m["AttributeName"].(string)
		switch m["KeyType"] {
		case "HASH":
			pk = n
		case "RANGE":
			sk = n
		}
	}
	if name == "" || pk == "" || sk == "" {
		q.validation("the largeaccount endpoint serves tables with a partition and a sort key only")
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := q.region + "|" + name
	if d.tables[key] != nil {
		q.fail(http.StatusBadRequest, "ResourceInUseException", "Table already exists: "+name)
		return
	}
	t := &table{name: name, region: q.region, pk: pk, sk: sk, parts: map[string]*partition{}}
	d.tables[key] = t
	q.json(map[string]any{"TableDescription": t.description(q.s.Data.ID)})
}

func (t *table) description(account string) map[string]any {
	return map[string]any{
		"TableName": t.name, "TableStatus": "ACTIVE", "TableArn": "arn:aws:dynamodb:" + t.region + ":" + account + ":table/" + t.name,
		"KeySchema":            []map[string]string{{"AttributeName": t.pk, "KeyType": "HASH"}, {"AttributeName": t.sk, "KeyType": "RANGE"}},
		"AttributeDefinitions": []map[string]string{{"AttributeName": t.pk, "AttributeType": "S"}, {"AttributeName": t.sk, "AttributeType": "S"}},
		"BillingModeSummary":   map[string]string{"BillingMode": "PAY_PER_REQUEST"},
	}
}

// Items returns how many items a table holds in a region.
func (s *Server) Items(region, tableName string) int {
	s.ddb.mu.Lock()
	defer s.ddb.mu.Unlock()
	t := s.ddb.tables[region+"|"+tableName]
	if t == nil {
		return 0
	}
	n := 0
	for _, p := range t.parts {
		n += len(p.items)
	}
	return n
}

// Unshard lays the finding state table out as versions before its records
// were sharded did: every item under its scope's own key (account#region,
// "#k" dropped), and the reconciliation markers with their time under
// reconciledAt and no shard count. It returns the items moved.
func (s *Server) Unshard(region, tableName string) int {
	s.ddb.mu.Lock()
	defer s.ddb.mu.Unlock()
	t := s.ddb.tables[region+"|"+tableName]
	if t == nil {
		return 0
	}
	var all []item
	for _, p := range t.parts {
		for _, it := range p.items {
			all = append(all, it)
		}
	}
	t.parts = map[string]*partition{}
	moved := 0
	for _, it := range all {
		if account, rest, ok := strings.Cut(it[t.pk], "#"); ok {
			if region, _, sharded := strings.Cut(rest, "#"); sharded {
				it[t.pk] = account + "#" + region
				moved++
			}
		}
		if at, ok := it["reconciledAtSharded"]; ok {
			delete(it, "reconciledAtSharded")
			delete(it, "shards")
			it["reconciledAt"] = at
		}
		t.put(it)
	}
	return moved
}

func (d *dynamo) table(q *req, name string) *table {
	t := d.tables[q.region+"|"+name]
	if t == nil {
		q.fail(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found")
	}
	return t
}

func (t *table) get(pk, sk string) item {
	p := t.parts[pk]
	if p == nil {
		return nil
	}
	return p.items[sk]
}

func (t *table) put(it item) {
	p := t.parts[it[t.pk]]
	if p == nil {
		p = &partition{items: map[string]item{}}
		t.parts[it[t.pk]] = p
	}
	if _, had := p.items[it[t.sk]]; !had {
		p.dirty = true
	}
	p.items[it[t.sk]] = it
}

func (t *table) delete(pk, sk string) {
	if p := t.parts[pk]; p != nil {
		if _, had := p.items[sk]; had {
			delete(p.items, sk)
			p.dirty = true
		}
	}
}

// conditionHolds checks the request's ConditionExpression (if any) against
// old, answering the failure itself.
func (t *table) conditionHolds(q *req, old item) bool {
	ok, err := conditionOK(q.in, old)
	if err != nil {
		q.validation("%s", err)
		return false
	}
	if !ok {
		q.fail(http.StatusBadRequest, "ConditionalCheckFailedException", "The conditional request failed")
		return false
	}
	return true
}

// conditionOK evaluates a write's ConditionExpression (in its request or
// transaction action) against the item it would replace.
func conditionOK(in map[string]any, old item) (bool, error) {
	expr, _ := in["ConditionExpression"].(string)
	e, err := newExpression(in)
	if err != nil {
		return false, err
	}
	if expr == "" {
		if len(e.names)+len(e.values) > 0 {
			return false, fmt.Errorf("ExpressionAttributeNames and ExpressionAttributeValues can only be specified when using expressions")
		}
		return true, nil
	}
	return e.check(expr, old)
}

// transactWrite answers TransactWriteItems of Puts: every condition is
// checked first; one that fails cancels the whole transaction, with a
// reason per action (TransactionCanceledException), as DynamoDB does.
func (d *dynamo) transactWrite(q *req) {
	actions, _ := q.in["TransactItems"].([]any)
	if len(actions) == 0 || len(actions) > 100 {
		q.validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length between 1 and 100")
		return
	}
	// write is a Put of it, or a Delete of the item keyed by it (del),
	// whose units are those of the item deleted.
	type write struct {
		t     *table
		it    item
		del   bool
		units float64
	}
	writes := make([]write, len(actions))
	reasons := make([]map[string]string, len(actions))
	failed, keys := false, map[string]bool{}
	for i, a := range actions {
		m, _ := a.(map[string]any)
		put, isPut := m["Put"].(map[string]any)
		del, isDelete := m["Delete"].(map[string]any)
		if (!isPut && !isDelete) || len(m) != 1 {
			q.validation("TransactWriteItems actions other than Put and Delete are not served by the largeaccount endpoint")
			return
		}
		action, field := put, "Item"
		if isDelete {
			action, field = del, "Key"
		}
		name, _ := action["TableName"].(string)
		t := d.table(q, name)
		if t == nil {
			return
		}
		it, err := decodeItem(action[field])
		if err != nil {
			q.validation("%s", err)
			return
		}
		if it[t.pk] == "" || it[t.sk] == "" || it.size() > maxItemSize || (isDelete && len(it) != 2) {
			q.validation("One or more parameter values were invalid: missing key or item too large")
			return
		}
		k := name + "|" + it[t.pk] + "|" + it[t.sk]
		if keys[k] {
			q.validation("Transaction request cannot include multiple operations on one item")
			return
		}
		keys[k] = true
		old := t.get(it[t.pk], it[t.sk])
		ok, err := conditionOK(action, old)
		if err != nil {
			q.validation("%s", err)
			return
		}
		w := write{t: t, it: it, del: isDelete, units: writeUnits(it)}
		if isDelete {
			w.units = 2 // a transactional delete of no item
			if old != nil {
				w.units = writeUnits(old)
			}
		}
		writes[i], reasons[i] = w, map[string]string{"Code": "None"}
		if !ok {
			failed, reasons[i] = true, map[string]string{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
		}
	}
	if !failed && (d.partitionWCU > 0 || d.tableWCU > 0) {
		// Each partition key's writes draw on its own capacity, and all
		// of them on their table's; one that lacks it cancels the
		// transaction (nothing is written, no capacity taken).
		units, tables := map[string]float64{}, map[string]float64{}
		for _, w := range writes {
			units[w.t.name+"|"+w.it[w.t.pk]] += w.units
			tables[w.t.name] += w.units
		}
		now := time.Now()
		short := map[string]bool{}
		var taken []func()
		take := func(key string, rate, n float64) bool {
			b := d.capacity[key]
			if b == nil {
				b = newBucket(Quota{Rate: rate, Burst: rate})
				d.capacity[key] = b
			}
			if !b.takeN(now, n) {
				return false
			}
			taken = append(taken, func() { b.giveN(n) })
			return true
		}
		if d.partitionWCU > 0 {
			for k, u := range units {
				if !take(k, d.partitionWCU, u) {
					short[k] = true
				}
			}
		}
		tableShort := false
		if d.tableWCU > 0 {
			for name, u := range tables {
				if !take(name, d.tableWCU, u) {
					tableShort = true
				}
			}
		}
		if len(short) > 0 || tableShort {
			d.throttled++
			for _, giveBack := range taken {
				giveBack()
			}
			for i, w := range writes {
				switch {
				case short[w.t.name+"|"+w.it[w.t.pk]]:
					failed, reasons[i] = true, map[string]string{"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity for one or more partitions of the table."}
				case tableShort:
					failed, reasons[i] = true, map[string]string{"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity of your table or index."}
				}
			}
		}
	}
	if failed {
		codes := make([]string, len(reasons))
		for i, r := range reasons {
			codes[i] = r["Code"]
		}
		q.header("application/x-amz-json-1.0")
		q.w.Header().Set("X-Amzn-ErrorType", "TransactionCanceledException")
		q.w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(q.w).Encode(map[string]any{
			"__type":              "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
			"Message":             "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]",
			"CancellationReasons": reasons,
		})
		return
	}
	for _, w := range writes {
		if w.del {
			w.t.delete(w.it[w.t.pk], w.it[w.t.sk])
		} else {
			w.t.put(w.it)
		}
		d.written[w.t.name+"|"+w.it[w.t.pk]] += w.units
	}
	q.json(map[string]any{})
}

// query answers a Query by partition key: items in sort key order, at most
// 1 MB a page, LastEvaluatedKey when more remain.
func (t *table) query(q *req) {
	for k := range q.in {
		switch k {
		case "TableName", "KeyConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues", "ConsistentRead", "ExclusiveStartKey", "Limit", "ProjectionExpression":
		default:
			q.validation("Query parameter %s is not served by the largeaccount endpoint", k)
			return
		}
	}
	e, err := newExpression(q.in)
	if err != nil {
		q.validation("%s", err)
		return
	}
	m := keyCondition.FindStringSubmatch(q.str("KeyConditionExpression"))
	if m == nil {
		q.validation("KeyConditionExpression %q is not one the largeaccount endpoint serves", q.str("KeyConditionExpression"))
		return
	}
	attr, err := e.name(m[1])
	if err == nil && attr != t.pk {
		err = fmt.Errorf("Query condition missed key schema element: %s", t.pk)
	}
	var pk, prefix string
	if err == nil {
		pk, err = e.value(m[2])
	}
	if err == nil && m[3] != "" {
		var skAttr string
		if skAttr, err = e.name(m[3]); err == nil && skAttr != t.sk {
			err = fmt.Errorf("Query key condition not supported: begins_with on %s, not the sort key", skAttr)
		}
		if err == nil {
			prefix, err = e.value(m[4])
		}
	}
	var attrs []string
	if err == nil {
		attrs, err = e.projection(q.str("ProjectionExpression"))
	}
	if err == nil {
		err = e.allUsed()
	}
	if err != nil {
		q.validation("%s", err)
		return
	}
	limit, _, err := q.intIn("Limit")
	if err != nil {
		q.validation("%s", err)
		return
	}
	after := ""
	if esk, ok := q.in["ExclusiveStartKey"]; ok {
		k, err := decodeItem(esk)
		if err != nil || k[t.pk] != pk || k[t.sk] == "" {
			q.validation("The provided starting key is invalid")
			return
		}
		after = k[t.sk]
	}
	p := t.parts[pk]
	items := []map[string]map[string]string{}
	var last item
	more := false
	if p != nil {
		if p.dirty || len(p.sorted) != len(p.items) {
			p.sorted = p.sorted[:0]
			for k := range p.items {
				p.sorted = append(p.sorted, k)
			}
			sort.Strings(p.sorted)
			p.dirty = false
		}
		i := sort.SearchStrings(p.sorted, max(after, prefix))
		if after != "" && i < len(p.sorted) && p.sorted[i] == after {
			i++
		}
		size := 0
		for ; i < len(p.sorted) && strings.HasPrefix(p.sorted[i], prefix); i++ {
			it := p.items[p.sorted[i]]
			if (limit > 0 && len(items) == limit) || (len(items) > 0 && size+it.size() > maxQueryPage) {
				more = true
				break
			}
			// The 1 MB is counted on whole items, before the projection.
			size += it.size()
			items = append(items, it.project(attrs).wire())
			last = it
		}
	}
	out := map[string]any{"Items": items, "Count": len(items), "ScannedCount": len(items)}
	if more {
		out["LastEvaluatedKey"] = item{t.pk: last[t.pk], t.sk: last[t.sk]}.wire()
	}
	q.json(out)
}

func batchGet(q *req, d *dynamo) {
	reqs, ok := q.in["RequestItems"].(map[string]any)
	if !ok || len(reqs) == 0 {
		q.validation("RequestItems must not be empty")
		return
	}
	type want struct {
		t     *table
		keys  []item
		attrs []string
	}
	var wants []want
	total := 0
	for name, v := range reqs {
		t := d.table(q, name)
		if t == nil {
			return
		}
		ka, _ := v.(map[string]any)
		for k := range ka {
			if k != "Keys" && k != "ConsistentRead" && k != "ProjectionExpression" && k != "ExpressionAttributeNames" {
				q.validation("BatchGetItem parameter %s is not served by the largeaccount endpoint", k)
				return
			}
		}
		keys, _ := ka["Keys"].([]any)
		w := want{t: t}
		e, err := newExpression(ka)
		if err == nil {
			pe, _ := ka["ProjectionExpression"].(string)
			w.attrs, err = e.projection(pe)
		}
		if err == nil {
			err = e.allUsed()
		}
		if err != nil {
			q.validation("%s", err)
			return
		}
		seen := map[string]bool{}
		for _, kv := range keys {
			k, err := decodeItem(kv)
			if err != nil || len(k) != 2 || k[t.pk] == "" || k[t.sk] == "" {
				q.validation("The provided key element does not match the schema")
				return
			}
			if seen[k[t.pk]+"\x00"+k[t.sk]] {
				q.validation("Provided list of item keys contains duplicates")
				return
			}
			seen[k[t.pk]+"\x00"+k[t.sk]] = true
			w.keys = append(w.keys, k)
		}
		total += len(w.keys)
		wants = append(wants, w)
	}
	if total > maxBatchGetKeys {
		q.validation("Too many items requested for the BatchGetItem call")
		return
	}
	responses := map[string][]map[string]map[string]string{}
	unprocessed := map[string]any{}
	size := 0
	for _, w := range wants {
		responses[w.t.name] = []map[string]map[string]string{}
		var left []map[string]map[string]string
		for _, k := range w.keys {
			it := w.t.get(k[w.t.pk], k[w.t.sk])
			if it == nil {
				continue
			}
			if size+it.size() > maxBatchGetSize {
				left = append(left, k.wire())
				continue
			}
			size += it.size()
			responses[w.t.name] = append(responses[w.t.name], it.project(w.attrs).wire())
		}
		if len(left) > 0 {
			unprocessed[w.t.name] = map[string]any{"Keys": left, "ConsistentRead": true}
		}
	}
	q.json(map[string]any{"Responses": responses, "UnprocessedKeys": unprocessed})
}
