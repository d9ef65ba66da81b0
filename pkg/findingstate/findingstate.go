// Package findingstate keeps, in a DynamoDB table, a compact record of
// every finding this tool imported: what the publisher needs to plan a
// finding's lifecycle (Id, check, resource, status, fingerprint, first-seen
// and last-update times, record state, observation time) without reading
// every finding back from Security Hub, whose GetFindings is paced at 3
// requests a second. AWS's guidance for finding providers is to keep this
// state on the provider's side.
//
// Security Hub stays the truth for what the team sees: a scope (account,
// region) whose records were never reconciled from Security Hub, or not for
// ReconcileEvery, is reported as not fresh, and the publisher then reads
// Security Hub back and replaces the scope's records (Reconcile), so a lost
// or stale table heals itself.
package findingstate

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"golang.org/x/time/rate"

	"github.com/posture-auditor/posture-auditor/pkg/asff"
	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
)

// API is the part of the DynamoDB client the store uses; each method is
// an IAM action in template.yaml, but TransactWriteItems, which its puts
// (dynamodb:PutItem) and a reconciliation's deletes (dynamodb:DeleteItem)
// need.
type API interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// DefaultReconcileEvery is how often a scope's records are checked against
// Security Hub, which the team (or another tool) can change behind ours.
const DefaultReconcileEvery = 7 * 24 * time.Hour

// Store is the table. Build it with the table's name; the zero Store is not
// usable.
type Store struct {
	Table string
	// Region is the table's region (the stack's): every scope's records
	// live there, whatever region the findings are about. Empty means the
	// region of the config each call is given.
	Region string
	// NewAPI builds the client; nil means dynamodb.NewFromConfig.
	NewAPI func(aws.Config) API
	// ReconcileEvery (0: DefaultReconcileEvery) is the age after which a
	// scope is not fresh.
	ReconcileEvery time.Duration
	// Workers bounds concurrent writes (default 16).
	Workers int
	// PartitionWriteUnits paces the writes to one scope, in write capacity
	// units a second (0: DefaultPartitionWriteUnits; negative: unpaced).
	// Every record of a scope shares its partition key, DynamoDB serves
	// one partition at most 1,000 units a second (on demand too, until it
	// splits a hot one), and a transactional write costs 2 units a KB: a
	// first sweep of a large account made ~3,600 a second per region and
	// had its transactions cancelled until the state's saves timed out
	// (BENCHMARKS.md, "partition"). Paced, they wait their turn instead.
	PartitionWriteUnits float64
	// Boilerplate returns what every finding of a check says alike
	// (asff.Boilerplate): records leave it out, and take it back when
	// read. nil: records keep it.
	Boilerplate func(check string) (types.AwsSecurityFinding, bool)
	// TableWriteUnits paces this process's writes to the whole table, in
	// write units a second (0: DefaultTableWriteUnits; negative: unpaced).
	// A new on-demand table takes 4,000 at once, and a first sweep runs
	// on a new table; a table given more (warm throughput, or a peak it
	// has served) can take more.
	TableWriteUnits float64

	paceMu sync.Mutex
	paces  map[string]*rate.Limiter // by partition key; the table's under ""
	// reserveMu serializes reservations across limiters (pace).
	reserveMu sync.Mutex
}

// DefaultPartitionWriteUnits is 90% of a partition's 1,000 write units a
// second, as pkg/pace leaves headroom under AWS's request quotas.
const DefaultPartitionWriteUnits = 900

// DefaultTableWriteUnits is 90% of the 4,000 write units a second a new
// on-demand table takes at once.
const DefaultTableWriteUnits = 3600

// Shards is how many partition keys a scope's records are spread over, by
// a hash of their Id: one key takes 1,000 write units a second, a record
// costs 2 as a transactional write (4 for one of more than 1 KB: a finding
// with many related resources), and a first sweep imports up to 1,000
// findings a second a region (Security Hub's 10 BatchImportFindings of
// 100): four keys take that pace, records of 2 KB too. Reading a check's
// records is a Query per shard, run at once.
const Shards = 4

// partitionKey is the partition key of the record of Id id: shard 0 is the
// scope's own key (where markers live, and where every record was before
// records were sharded), shard k the scope's key and "#k".
func partitionKey(scope, id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	if k := h.Sum32() % Shards; k != 0 {
		return scope + "#" + strconv.Itoa(int(k))
	}
	return scope
}

// shardKeys are the scope's partition keys.
func shardKeys(scope string) []string {
	keys := []string{scope}
	for k := 1; k < Shards; k++ {
		keys = append(keys, scope+"#"+strconv.Itoa(k))
	}
	return keys
}

// writeUnits is what a transactional Put of item costs: 2 units a KB.
func writeUnits(item map[string]ddbtypes.AttributeValue) int {
	return 2 * ((itemBytes(item) + 1023) / 1024)
}

// deleteUnits is what pacing counts for a transactional delete of a
// record, whose size is not read: 2 units a KB, and a record is under 1 KB
// (a record of a version before slim records, about 2).
const deleteUnits = 4

// paceWrites waits until the partitions the Puts of items write (and the
// table) have the write capacity for them.
func (s *Store) paceWrites(ctx context.Context, items []ddbtypes.TransactWriteItem) error {
	units := map[string]int{}
	for _, it := range items {
		switch {
		case it.Put != nil:
			units[str(it.Put.Item, attrScope)] += writeUnits(it.Put.Item)
		case it.Delete != nil:
			units[str(it.Delete.Key, attrScope)] += deleteUnits
		}
	}
	return s.pace(ctx, units)
}

// pace waits until each partition key has its units of write capacity,
// and the table their sum. Every limiter is reserved for the same moment,
// the earliest at which all of them have the capacity: reserved each for
// now, a key would spend its capacity while its write waits on the table,
// and refill for a burst later.
func (s *Store) pace(ctx context.Context, units map[string]int) error {
	partition, table := s.PartitionWriteUnits, s.TableWriteUnits
	if partition == 0 {
		partition = DefaultPartitionWriteUnits
	}
	if table == 0 {
		table = DefaultTableWriteUnits
	}
	type need struct {
		l *rate.Limiter
		n int
	}
	var needs []need
	total := 0
	for key, n := range units {
		total += n
		if partition > 0 {
			needs = append(needs, need{s.limiter(key, partition), n})
		}
	}
	if table > 0 {
		needs = append(needs, need{s.limiter("", table), total})
	}
	if len(needs) == 0 {
		return nil
	}
	now := time.Now()
	// Reserving is serialized, so that no other write takes the capacity
	// between the moment being found and reserved.
	s.reserveMu.Lock()
	// The moment is found by stepping to the time each limiter lacks
	// (a limiter whose capacity is reserved past the moment counts its
	// tokens at its last reservation, so a step may fall short, never
	// past: a few steps settle it).
	at := now
	for range 8 {
		later := at
		for _, nd := range needs {
			// A second's worth at most is ready at once (the burst);
			// more is reserved a second's worth at a time, below.
			if short := float64(min(nd.n, nd.l.Burst())) - nd.l.TokensAt(at); short > 0 {
				later = maxTime(later, at.Add(time.Duration(short/float64(nd.l.Limit())*float64(time.Second))))
			}
		}
		if !later.After(at) {
			break
		}
		at = later
	}
	var held []*rate.Reservation
	var wait time.Duration
	for _, nd := range needs {
		for n := nd.n; n > 0; n -= nd.l.Burst() {
			r := nd.l.ReserveN(at, min(n, nd.l.Burst()))
			held = append(held, r)
			wait = max(wait, r.DelayFrom(now))
		}
	}
	s.reserveMu.Unlock()
	if err := sleep(ctx, wait); err != nil {
		for _, r := range held {
			r.Cancel()
		}
		return err
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// limiter is key's limiter, made at perSecond with a second's burst.
func (s *Store) limiter(key string, perSecond float64) *rate.Limiter {
	s.paceMu.Lock()
	defer s.paceMu.Unlock()
	if s.paces == nil {
		s.paces = map[string]*rate.Limiter{}
	}
	l := s.paces[key]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
		s.paces[key] = l
	}
	return l
}

// Table attributes. The partition key is the scope (with its shard,
// partitionKey), the sort key the finding Id; one marker item per check,
// under the scope's own key, records its last reconciliation.
const (
	attrScope      = "scope"
	attrID         = "id"
	attrCheck      = "check"
	attrObservedAt = "observedAt"
	attrFinding    = "finding"
	// attrFindingS is the finding slim (slim.go), DEFLATE-compressed
	// JSON. attrFindingZ is the whole finding so compressed, attrFinding
	// uncompressed: what older versions wrote.
	attrFindingS = "findings"
	attrFindingZ = "findingz"
	// The record's planning attributes (Record), read without the finding.
	attrResource        = "resource"
	attrStatus          = "status"
	attrRecordState     = "recordState"
	attrCreatedAt       = "createdAt"
	attrFirstObservedAt = "firstObservedAt"
	attrUpdatedAt       = "updatedAt"
	attrLastObservedAt  = "lastObservedAt"
	attrFingerprint     = "fingerprint"
	// attrReconciled is when a check's records were last reconciled. It
	// was "reconciledAt" before records were sharded: a version of then,
	// run again (a rollback), finds no time it knows on this version's
	// markers and reconciles, rather than plan from shard 0 alone.
	attrReconciled = "reconciledAtSharded"
	// attrSaved is when the record was written: a reconciliation replaces
	// or deletes only records written before its read-back began.
	attrSaved = "savedAt"
	// attrShards, on a marker, is the Shards its check's records were
	// reconciled under: a marker without it (or with another count) was
	// written when records lay elsewhere.
	attrShards = "shards"
	markerID   = "#reconciled"
)

func scopeKey(account, region string) string { return account + "#" + region }

// Freshness says whether a scope's records can be planned from.
type Freshness string

const (
	Fresh Freshness = "fresh"
	// Empty: the scope was never reconciled (a new table, a new region).
	Empty Freshness = "empty"
	// Stale: the last reconciliation is older than ReconcileEvery.
	Stale Freshness = "stale"
	// Unsharded: the checks were last reconciled by a version that kept
	// a scope's records under one partition key (or another Shards).
	Unsharded Freshness = "written by an older version"
)

// Scope reads whether the scope's records of every one of checks are fresh:
// each check has its own reconciliation marker, so that a run of some
// checks never vouches for the others.
func (s *Store) Scope(ctx context.Context, cfg aws.Config, account, region string, checks []string) (Freshness, error) {
	items, err := s.getItems(ctx, cfg, markerKeys(account, region, checks))
	if err != nil {
		return "", err
	}
	if len(items) < len(checks) {
		return Empty, nil
	}
	for _, item := range items {
		if !ofThisLayout(item) {
			return Unsharded, nil
		}
	}
	for _, item := range items {
		v, ok := item[attrReconciled].(*ddbtypes.AttributeValueMemberS)
		if !ok {
			return Empty, nil
		}
		at, err := time.Parse(time.RFC3339Nano, v.Value)
		if err != nil || time.Since(at) > s.reconcileEvery() {
			return Stale, nil
		}
	}
	return Fresh, nil
}

// ofThisLayout reports a marker written under this version's Shards.
func ofThisLayout(marker map[string]ddbtypes.AttributeValue) bool {
	n, ok := marker[attrShards].(*ddbtypes.AttributeValueMemberS)
	return ok && n.Value == strconv.Itoa(Shards)
}

// markerKeys are the keys of the checks' reconciliation markers.
func markerKeys(account, region string, checks []string) []map[string]ddbtypes.AttributeValue {
	keys := make([]map[string]ddbtypes.AttributeValue, len(checks))
	for i, id := range markerIDs(checks) {
		keys[i] = key(scopeKey(account, region), id)
	}
	return keys
}

// markerIDs are the Ids of the checks' reconciliation markers.
func markerIDs(checks []string) []string {
	ids := make([]string, len(checks))
	for i, c := range checks {
		ids[i] = markerID + "#" + c
	}
	return ids
}

// Invalidate marks the checks stale, so that the next run reads Security
// Hub back: what a failed write leaves unsure.
func (s *Store) Invalidate(ctx context.Context, cfg aws.Config, account, region string, checks []string) error {
	return s.mark(ctx, cfg, account, region, checks, time.Time{})
}

// mark writes the checks' reconciliation markers, all at at.
func (s *Store) mark(ctx context.Context, cfg aws.Config, account, region string, checks []string, at time.Time) error {
	m := Markers{}
	for _, c := range checks {
		m[c] = at
	}
	return s.putMarkers(ctx, cfg, account, region, m)
}

// putMarkers writes one marker per check, in transactions of up to
// saveChunk (one for a scope's checks): a run writes its markers two or
// three times, and an organization's thousands of scopes would otherwise
// make that a call per check each time.
func (s *Store) putMarkers(ctx context.Context, cfg aws.Config, account, region string, m Markers) error {
	checks := make([]string, 0, len(m))
	for c := range m {
		checks = append(checks, c)
	}
	sort.Strings(checks)
	var chunks [][]ddbtypes.TransactWriteItem
	for start := 0; start < len(checks); start += saveChunk {
		var chunk []ddbtypes.TransactWriteItem
		for _, c := range checks[start:min(start+saveChunk, len(checks))] {
			marker := key(scopeKey(account, region), markerID+"#"+c)
			marker[attrReconciled] = &ddbtypes.AttributeValueMemberS{Value: m[c].UTC().Format(time.RFC3339Nano)}
			marker[attrShards] = &ddbtypes.AttributeValueMemberS{Value: strconv.Itoa(Shards)}
			chunk = append(chunk, ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: aws.String(s.Table), Item: marker}})
		}
		chunks = append(chunks, chunk)
	}
	api := s.api(cfg)
	return forEach(ctx, s.workers(), chunks, func(ctx context.Context, items []ddbtypes.TransactWriteItem) error {
		return s.transact(ctx, api, items)
	})
}

// ErrOldRecords is Load's answer for a scope holding records written by a
// version that kept no planning attributes: the publisher then reads
// Security Hub back and reconciles, which rewrites them.
var ErrOldRecords = errors.New("finding state records of an older format")

// recordAttrs are the attributes Load reads: a record, not the finding.
var recordAttrs = []string{attrID, attrCheck, attrResource, attrStatus, attrRecordState, attrCreatedAt, attrFirstObservedAt, attrUpdatedAt, attrLastObservedAt, attrFingerprint, attrObservedAt}

// Load returns the records of the scope's findings of checks: only the
// attributes planning needs are read (not the findings).
func (s *Store) Load(ctx context.Context, cfg aws.Config, account, region string, checks []string) ([]Record, error) {
	var out []Record
	err := s.query(ctx, cfg, account, region, checks, recordAttrs, func(partition string, item map[string]ddbtypes.AttributeValue) error {
		if _, ok := item[attrStatus]; !ok {
			return ErrOldRecords
		}
		if partitionKey(scopeKey(account, region), str(item, attrID)) != partition {
			// Written under the scope's own key by an unsharded version
			// still running (a rollout): Get would not find it, and the
			// record where it belongs may be older or missing.
			return ErrOldRecords
		}
		// One allocation per record: the SDK's strings share their
		// response page's buffer, which a kept string would keep whole.
		v := packed(item, recordAttrs)
		out = append(out, Record{
			ID: v[0], Check: v[1], ResourceID: or(v[2], resourceOf(v[1], v[0])), Status: types.ComplianceStatus(v[3]), RecordState: types.RecordState(v[4]),
			CreatedAt: v[5], FirstObservedAt: or(v[6], v[5]), UpdatedAt: v[7], LastObservedAt: or(v[8], v[7]), Fingerprint: v[9], ObservedAt: v[10],
		})
		return nil
	})
	return out, err
}

// resourceOf is the resource ARN the finding Id id of check ends with
// (asff.FindingID: the check, the account and the region before it), a
// substring of id; "" when it holds a digest instead (an ARN too long).
func resourceOf(check, id string) string {
	rest, ok := strings.CutPrefix(id, asff.IDPrefix+check+"/")
	if !ok {
		return ""
	}
	_, rest, ok1 := strings.Cut(rest, "/")     // the account
	_, resource, ok2 := strings.Cut(rest, "/") // the region
	if !ok1 || !ok2 || strings.HasPrefix(resource, "sha256:") {
		return ""
	}
	return resource
}

func or(v, otherwise string) string {
	if v != "" {
		return v
	}
	return otherwise
}

// query pages through the scope's items of checks (markers left out),
// reading attrs only, consistently: every shard at once, fn called for
// one item at a time with the item's partition key.
func (s *Store) query(ctx context.Context, cfg aws.Config, account, region string, checks, attrs []string, fn func(partition string, item map[string]ddbtypes.AttributeValue) error) error {
	want := map[string]bool{}
	for _, c := range checks {
		want[c] = true
	}
	names := map[string]string{"#s": attrScope}
	projection := make([]string, len(attrs))
	for i, a := range attrs {
		n := fmt.Sprintf("#a%d", i) // several are reserved words (status)
		names[n] = a
		projection[i] = n
	}
	condition := "#s = :s"
	var prefix ddbtypes.AttributeValue
	if len(checks) == 1 {
		// A finding's Id begins with its check's: one check's records are
		// a range of each shard, read without the others'.
		condition = "#s = :s AND begins_with(#i, :p)"
		names["#i"] = attrID
		prefix = &ddbtypes.AttributeValueMemberS{Value: asff.IDPrefix + checks[0] + "/"}
	}
	api := s.api(cfg)
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return forEach(ctx, Shards, shardKeys(scopeKey(account, region)), func(ctx context.Context, partition string) (err error) {
		defer func() {
			if err != nil {
				cancel() // the other shards' reads are not needed
			}
		}()
		values := map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: partition}}
		if prefix != nil {
			values[":p"] = prefix
		}
		p := dynamodb.NewQueryPaginator(api, &dynamodb.QueryInput{
			TableName:                 aws.String(s.Table),
			KeyConditionExpression:    aws.String(condition),
			ProjectionExpression:      aws.String(strings.Join(projection, ", ")),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ConsistentRead:            aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			mu.Lock()
			for _, item := range page.Items {
				if c := str(item, attrCheck); c == "" || !want[c] {
					continue // a marker, or a check not asked for
				}
				if err := fn(partition, item); err != nil {
					mu.Unlock()
					return err
				}
			}
			mu.Unlock()
		}
		return nil
	})
}

// packed returns the string values of attrs in item, copied into one new
// string they are substrings of. A value found inside an earlier one (a
// finding Id holds its check and resource; a finding's first timestamps
// are often equal) or naming a status is not copied again: a sweep holds
// one record per stored finding of a check, tens of thousands.
func packed(item map[string]ddbtypes.AttributeValue, attrs []string) []string {
	out := make([]string, len(attrs))
	// from[i] is the earlier value out[i] lies in (its offset at[i]), -2
	// for a constant, or -1 when out[i] is copied.
	var fromA, atA, endsA [16]int // on the stack: Load reads 11 attributes
	from, at, ends := fromA[:], atA[:], endsA[:]
	if len(attrs) > len(fromA) {
		from, at, ends = make([]int, len(attrs)), make([]int, len(attrs)), make([]int, len(attrs))
	}
	n := 0
	for i, a := range attrs {
		v := str(item, a)
		out[i], from[i] = v, -1
		if c, ok := constants[v]; ok {
			out[i], from[i] = c, -2
			continue
		}
		for j := range i {
			if from[j] == -1 {
				if k := strings.Index(out[j], v); k >= 0 {
					from[i], at[i] = j, k
					break
				}
			}
		}
		if from[i] == -1 {
			n += len(v)
		}
	}
	var b strings.Builder
	b.Grow(n)
	for i, v := range out {
		if from[i] == -1 {
			b.WriteString(v)
			ends[i] = b.Len()
		}
	}
	all, start := b.String(), 0
	for i := range out {
		if from[i] == -1 {
			out[i], start = all[start:ends[i]], ends[i]
		}
	}
	for i := range out {
		if j := from[i]; j >= 0 {
			out[i] = out[j][at[i] : at[i]+len(out[i])]
		}
	}
	return out
}

// constants are the values a record shares with every other.
var constants = func() map[string]string {
	m := map[string]string{"": ""}
	for _, v := range types.ComplianceStatus("").Values() {
		m[string(v)] = string(v)
	}
	for _, v := range types.RecordState("").Values() {
		m[string(v)] = string(v)
	}
	return m
}()

func str(item map[string]ddbtypes.AttributeValue, attr string) string {
	if v, ok := item[attr].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// Get returns the stored records of the findings with these Ids (a
// re-check's), missing ones left out.
func (s *Store) Get(ctx context.Context, cfg aws.Config, account, region string, ids []string) ([]types.AwsSecurityFinding, error) {
	scope := scopeKey(account, region)
	keys := make([]map[string]ddbtypes.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = key(partitionKey(scope, id), id)
	}
	items, err := s.getItems(ctx, cfg, keys)
	if err != nil {
		return nil, err
	}
	out := make([]types.AwsSecurityFinding, 0, len(items))
	for _, item := range items {
		f, err := s.decode(item)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// getItems reads items by key, 100 to a call, retrying unprocessed keys.
func (s *Store) getItems(ctx context.Context, cfg aws.Config, keys []map[string]ddbtypes.AttributeValue) ([]map[string]ddbtypes.AttributeValue, error) {
	api := s.api(cfg)
	var out []map[string]ddbtypes.AttributeValue
	seen := map[string]bool{}
	var unique []map[string]ddbtypes.AttributeValue
	for _, k := range keys {
		if id := str(k, attrScope) + "\x00" + str(k, attrID); !seen[id] {
			seen[id] = true
			unique = append(unique, k)
		}
	}
	for start := 0; start < len(unique); start += 100 {
		req := map[string]ddbtypes.KeysAndAttributes{s.Table: {Keys: unique[start:min(start+100, len(unique))], ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt == 8 {
				return nil, fmt.Errorf("BatchGetItem left keys unprocessed after %d attempts", attempt)
			}
			page, err := api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, err
			}
			out = append(out, page.Responses[s.Table]...)
			req = page.UnprocessedKeys
			if len(req) > 0 {
				if err := sleep(ctx, time.Duration(50<<attempt)*time.Millisecond); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// Save records what Security Hub now holds for these findings (just
// imported). A record observed later than the one being saved is kept:
// newer observation wins here as in Security Hub. Records are written up
// to saveChunk in one TransactWriteItems, each Put with its own condition:
// a first sweep writes one record per finding, and 100,000 PutItem calls
// cost more CPU than anything else the sweep does (signing, encoding, a
// round trip each). Transactional writes cost twice the write units; a
// steady-state sweep writes next to nothing.
func (s *Store) Save(ctx context.Context, cfg aws.Config, account, region string, findings []types.AwsSecurityFinding) error {
	return s.putRecords(ctx, cfg, account, region, findings, func(item map[string]ddbtypes.AttributeValue) condition {
		obs, ok := item[attrObservedAt]
		if !ok {
			return condition{}
		}
		return condition{
			expr:   aws.String("attribute_not_exists(#o) OR #o <= :o"),
			names:  map[string]string{"#o": attrObservedAt},
			values: map[string]ddbtypes.AttributeValue{":o": obs},
		}
	})
}

// putRecords writes the findings' records, each under its condition (a
// record the condition refuses is left as it is), up to saveChunk to a
// transaction.
func (s *Store) putRecords(ctx context.Context, cfg aws.Config, account, region string, findings []types.AwsSecurityFinding, cond func(map[string]ddbtypes.AttributeValue) condition) error {
	var chunks [][]ddbtypes.TransactWriteItem
	var chunk []ddbtypes.TransactWriteItem
	bytes := 0
	seen := map[string]int{}
	for _, f := range findings {
		item, err := s.encode(account, region, f)
		if err != nil {
			return err
		}
		c := cond(item)
		put := &ddbtypes.Put{TableName: aws.String(s.Table), Item: item,
			ConditionExpression: c.expr, ExpressionAttributeNames: c.names, ExpressionAttributeValues: c.values}
		size := itemBytes(item)
		// A transaction may not name an item twice: of two records of one
		// Id, the newer observation is kept, as two writes would have.
		if i, ok := seen[aws.ToString(f.Id)]; ok {
			if str(item, attrObservedAt) >= str(chunk[i].Put.Item, attrObservedAt) {
				bytes += size - itemBytes(chunk[i].Put.Item)
				chunk[i] = ddbtypes.TransactWriteItem{Put: put}
			}
			continue
		}
		if len(chunk) == saveChunk || bytes+size > saveChunkBytes {
			chunks, chunk, bytes, seen = append(chunks, chunk), nil, 0, map[string]int{}
		}
		seen[aws.ToString(f.Id)] = len(chunk)
		chunk = append(chunk, ddbtypes.TransactWriteItem{Put: put})
		bytes += size
	}
	if len(chunk) > 0 {
		chunks = append(chunks, chunk)
	}
	api := s.api(cfg)
	return forEach(ctx, s.workers(), chunks, func(ctx context.Context, items []ddbtypes.TransactWriteItem) error {
		return s.transact(ctx, api, items)
	})
}

const (
	// saveChunk is TransactWriteItems' largest number of actions.
	saveChunk = 100
	// saveChunkBytes keeps a transaction under its 4 MB limit.
	saveChunkBytes = 3 << 20
	// transactAttempts bounds the sends of a cancelled transaction (after
	// dropping the Puts a newer record refused; after a conflict with
	// another run's write or a throttled item, waiting 0.1 s doubling to
	// 5 s between: about 20 s in all, as the SDK's own retries allow).
	transactAttempts = 10
)

// transactBackoff is the first wait after a conflicted or throttled
// transaction (a variable for the tests).
var transactBackoff = 100 * time.Millisecond

// transact writes items in one transaction. A transaction fails whole:
// when it is cancelled because some Puts' conditions failed (a newer
// observation is recorded for them, which stays), it is sent again
// without them; when it conflicts with another write, it is sent again.
func (s *Store) transact(ctx context.Context, api API, items []ddbtypes.TransactWriteItem) error {
	return s.transactRefusing(ctx, api, items, nil)
}

// transactRefusing is transact, calling refused (when not nil) with each
// item whose condition failed (left out of the transaction sent again).
func (s *Store) transactRefusing(ctx context.Context, api API, items []ddbtypes.TransactWriteItem, refused func(ddbtypes.TransactWriteItem)) error {
	backoff := transactBackoff
	for attempt := 1; ; attempt++ {
		if err := s.paceWrites(ctx, items); err != nil {
			return err
		}
		_, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var cancelled *ddbtypes.TransactionCanceledException
		if err == nil || !errors.As(err, &cancelled) {
			return err // the SDK has retried what it retries (throttled calls)
		}
		if len(cancelled.CancellationReasons) != len(items) {
			return err // reasons that do not say which Put failed
		}
		var again []ddbtypes.TransactWriteItem
		wait := false
		for i, r := range cancelled.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				// A later observation is already recorded.
				if refused != nil {
					refused(items[i])
				}
			case "None":
				again = append(again, items[i]) // cancelled by another's failure
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
				again, wait = append(again, items[i]), true
			default:
				return err
			}
		}
		if len(again) == 0 {
			return nil // every Put was refused by a newer record: nothing left to write
		}
		if attempt == transactAttempts {
			return err
		}
		if wait {
			if err := sleep(ctx, backoff); err != nil {
				return err
			}
			backoff = min(2*backoff, 5*time.Second)
		}
		items = again
	}
}

// itemBytes is about an item's size as DynamoDB counts it (names and
// values).
func itemBytes(item map[string]ddbtypes.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k)
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			n += len(v.Value)
		case *ddbtypes.AttributeValueMemberB:
			n += len(v.Value)
		default:
			n += 32
		}
	}
	return n
}

// Reconcile replaces the scope's records of checks with what Security Hub
// holds (read back whole for those checks, the read having begun at
// readStart), drops records Security Hub no longer has, and marks the checks
// fresh. A record written after readStart (another run imported it while
// this one was reading back) is newer than what was read: it is neither
// replaced nor deleted.
func (s *Store) Reconcile(ctx context.Context, cfg aws.Config, account, region string, checks []string, held []types.AwsSecurityFinding, readStart time.Time) error {
	r := s.BeginReconcile(cfg, account, region, checks, readStart)
	if err := r.Put(ctx, held); err != nil {
		return err
	}
	return r.End(ctx)
}

// Reconciliation is a Reconcile fed page by page, so that a read-back is
// never held whole: Put each page of what Security Hub holds, then End.
type Reconciliation struct {
	store           *Store
	cfg             aws.Config
	account, region string
	checks          []string
	before          condition
	readStart       time.Time
	held            map[string]bool
}

// BeginReconcile starts a reconciliation of the checks' records whose
// read-back of Security Hub began at readStart.
func (s *Store) BeginReconcile(cfg aws.Config, account, region string, checks []string, readStart time.Time) *Reconciliation {
	return &Reconciliation{store: s, cfg: cfg, account: account, region: region, checks: checks,
		before: olderThan(readStart), readStart: readStart, held: map[string]bool{}}
}

// Put records findings Security Hub holds, unless a newer record exists.
func (r *Reconciliation) Put(ctx context.Context, held []types.AwsSecurityFinding) error {
	for _, f := range held {
		r.held[aws.ToString(f.Id)] = true
	}
	return r.store.putRecords(ctx, r.cfg, r.account, r.region, held, func(map[string]ddbtypes.AttributeValue) condition { return r.before })
}

// End deletes the records of findings Security Hub no longer holds (unless
// written after the read-back began), and those an unsharded version left
// in the scope's own key, and marks the checks fresh.
func (r *Reconciliation) End(ctx context.Context) error {
	scope := scopeKey(r.account, r.region)
	var gone []map[string]ddbtypes.AttributeValue
	misplaced := map[string]bool{} // by partition key and Id
	err := r.store.query(ctx, r.cfg, r.account, r.region, r.checks, []string{attrID, attrCheck}, func(partition string, item map[string]ddbtypes.AttributeValue) error {
		id := str(item, attrID)
		if partitionKey(scope, id) != partition {
			misplaced[partition+"\x00"+id] = true
		} else if r.held[id] {
			return nil
		}
		gone = append(gone, key(partition, id))
		return nil
	})
	if err != nil {
		return err
	}
	// Deleted up to saveChunk to a transaction, each under its condition:
	// a migration deletes most of a scope's old records, and a call each
	// was most of its CPU.
	var chunks [][]ddbtypes.TransactWriteItem
	for start := 0; start < len(gone); start += saveChunk {
		var chunk []ddbtypes.TransactWriteItem
		for _, k := range gone[start:min(start+saveChunk, len(gone))] {
			chunk = append(chunk, ddbtypes.TransactWriteItem{Delete: &ddbtypes.Delete{TableName: aws.String(r.store.Table), Key: k,
				ConditionExpression: r.before.expr, ExpressionAttributeNames: r.before.names, ExpressionAttributeValues: r.before.values}})
		}
		chunks = append(chunks, chunk)
	}
	api := r.store.api(r.cfg)
	var mu sync.Mutex
	var newer []string // misplaced records written after the read-back began
	err = forEach(ctx, r.store.workers(), chunks, func(ctx context.Context, items []ddbtypes.TransactWriteItem) error {
		// A record written after the read-back began is newer than what
		// was read: its delete is refused and it stays. One an unsharded
		// version wrote (misplaced) this version cannot see where it lies.
		return r.store.transactRefusing(ctx, api, items, func(it ddbtypes.TransactWriteItem) {
			if k := it.Delete.Key; misplaced[str(k, attrScope)+"\x00"+str(k, attrID)] {
				mu.Lock()
				newer = append(newer, str(k, attrID))
				mu.Unlock()
			}
		})
	})
	if err != nil {
		return err
	}
	if len(newer) > 0 {
		// The checks stay unfresh, and the next reconciliation moves them.
		return fmt.Errorf("%d records (%s first) were written under the scope's unsharded key during the reconciliation", len(newer), newer[0])
	}
	return r.store.mark(ctx, r.cfg, r.account, r.region, r.checks, r.readStart)
}

type condition struct {
	expr   *string
	names  map[string]string
	values map[string]ddbtypes.AttributeValue
}

// olderThan matches a record written before t (or by a version that did
// not record when).
func olderThan(t time.Time) condition {
	return condition{
		expr:   aws.String("attribute_not_exists(#sv) OR #sv < :sv"),
		names:  map[string]string{"#sv": attrSaved},
		values: map[string]ddbtypes.AttributeValue{":sv": &ddbtypes.AttributeValueMemberS{Value: stamp(t)}},
	}
}

// Suspend marks the checks stale before an import, and returns what
// Resume needs to put their markers back once the import's records are
// saved. A run that dies in between (deadline, crash) leaves the checks
// stale, and the next run reconciles them from Security Hub instead of
// planning from records that miss what was imported.
func (s *Store) Suspend(ctx context.Context, cfg aws.Config, account, region string, checks []string) (Markers, error) {
	items, err := s.getItems(ctx, cfg, markerKeys(account, region, checks))
	if err != nil {
		return nil, err
	}
	m := Markers{}
	for _, item := range items {
		if !ofThisLayout(item) {
			continue // not fresh: put back, it would vouch for misplaced records
		}
		id, _ := item[attrID].(*ddbtypes.AttributeValueMemberS)
		at, _ := item[attrReconciled].(*ddbtypes.AttributeValueMemberS)
		if id == nil || at == nil {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, at.Value); err == nil {
			m[strings.TrimPrefix(id.Value, markerID+"#")] = t
		}
	}
	return m, s.mark(ctx, cfg, account, region, checks, time.Time{})
}

// Markers are the reconciliation times Suspend took, by check.
type Markers map[string]time.Time

// Resume puts back the markers Suspend took (their original times, so the
// periodic reconciliation still comes due).
func (s *Store) Resume(ctx context.Context, cfg aws.Config, account, region string, m Markers) error {
	return s.putMarkers(ctx, cfg, account, region, m)
}

// Compact is the record kept of f: everything the lifecycle needs to plan,
// archive or refresh it, without resource details (the bulk of a finding).
func Compact(f types.AwsSecurityFinding) types.AwsSecurityFinding {
	c := f
	c.Resources = make([]types.Resource, len(f.Resources))
	for i, r := range f.Resources {
		c.Resources[i] = types.Resource{Type: r.Type, Id: r.Id, Partition: r.Partition, Region: r.Region}
	}
	// Security Hub's and the team's fields are never ours to send.
	c.Workflow, c.WorkflowState, c.Note, c.UserDefinedFields, c.VerificationState = nil, "", nil, nil, ""
	c.ProcessedAt = nil
	return c
}

func (s *Store) encode(account, region string, f types.AwsSecurityFinding) (map[string]ddbtypes.AttributeValue, error) {
	var bp *types.AwsSecurityFinding
	if s.Boilerplate != nil {
		if b, ok := s.Boilerplate(aws.ToString(f.GeneratorId)); ok {
			bp = &b
		}
	}
	slim, omitted := slimFinding(Compact(f), bp)
	b, err := encodeSlim(slim, omitted)
	if err != nil {
		return nil, err
	}
	item := key(partitionKey(scopeKey(account, region), aws.ToString(f.Id)), aws.ToString(f.Id))
	item[attrSaved] = &ddbtypes.AttributeValueMemberS{Value: stamp(time.Now())}
	item[attrCheck] = &ddbtypes.AttributeValueMemberS{Value: aws.ToString(f.GeneratorId)}
	z, err := deflate(b)
	if err != nil {
		return nil, err
	}
	item[attrFindingS] = &ddbtypes.AttributeValueMemberB{Value: z}
	r := RecordOf(f, false)
	// attrStatus is always written: Load tells this format by it.
	item[attrStatus] = &ddbtypes.AttributeValueMemberS{Value: string(r.Status)}
	// Left out, as Load reads them back: the resource when the Id ends
	// with it, the first and last observation times when they are the
	// creation and update times (as they mostly are).
	if r.ResourceID != "" && r.ResourceID == resourceOf(r.Check, r.ID) {
		r.ResourceID = ""
	}
	if r.FirstObservedAt == r.CreatedAt {
		r.FirstObservedAt = ""
	}
	if r.LastObservedAt == r.UpdatedAt {
		r.LastObservedAt = ""
	}
	for attr, v := range map[string]string{
		attrResource: r.ResourceID, attrRecordState: string(r.RecordState), attrCreatedAt: r.CreatedAt,
		attrFirstObservedAt: r.FirstObservedAt, attrUpdatedAt: r.UpdatedAt, attrLastObservedAt: r.LastObservedAt,
		attrFingerprint: r.Fingerprint,
		// ASFF timestamps (UTC, fixed milliseconds) sort as strings.
		attrObservedAt: r.ObservedAt,
	} {
		if v != "" {
			item[attr] = &ddbtypes.AttributeValueMemberS{Value: v}
		}
	}
	return item, nil
}

func (s *Store) decode(item map[string]ddbtypes.AttributeValue) (types.AwsSecurityFinding, error) {
	var body io.Reader
	switch {
	case item[attrFindingS] != nil:
		z, ok := item[attrFindingS].(*ddbtypes.AttributeValueMemberB)
		if !ok {
			return types.AwsSecurityFinding{}, fmt.Errorf("finding state item: %q is not binary", attrFindingS)
		}
		b, err := io.ReadAll(flate.NewReader(bytes.NewReader(z.Value)))
		if err != nil {
			return types.AwsSecurityFinding{}, fmt.Errorf("finding state item: %w", err)
		}
		f, omitted, err := decodeSlim(b)
		if err != nil {
			return types.AwsSecurityFinding{}, fmt.Errorf("finding state item: %w", err)
		}
		return wholeFinding(f, omitted, item, s.boilerplate)
	case item[attrFindingZ] != nil:
		z, ok := item[attrFindingZ].(*ddbtypes.AttributeValueMemberB)
		if !ok {
			return types.AwsSecurityFinding{}, fmt.Errorf("finding state item: %q is not binary", attrFindingZ)
		}
		body = flate.NewReader(bytes.NewReader(z.Value))
	case item[attrFinding] != nil:
		v, ok := item[attrFinding].(*ddbtypes.AttributeValueMemberS)
		if !ok {
			return types.AwsSecurityFinding{}, fmt.Errorf("finding state item: %q is not a string", attrFinding)
		}
		body = strings.NewReader(v.Value) // written before findings were compressed
	default:
		return types.AwsSecurityFinding{}, fmt.Errorf("finding state item without %q", attrFindingS)
	}
	var f types.AwsSecurityFinding
	if err := json.NewDecoder(body).Decode(&f); err != nil {
		return types.AwsSecurityFinding{}, fmt.Errorf("finding state item: %w", err)
	}
	return f, nil
}

func (s *Store) boilerplate(check string) (types.AwsSecurityFinding, bool) {
	if s.Boilerplate == nil {
		return types.AwsSecurityFinding{}, false
	}
	return s.Boilerplate(check)
}

// deflate compresses a finding's JSON: a Query reads 1 MB of whole items a
// page, whatever it projects, so the finding's size sets how many pages a
// sweep's Load takes (about a third as many as uncompressed).
func deflate(b []byte) ([]byte, error) {
	var out bytes.Buffer
	w := takeDeflater()
	defer func() { idleDeflaters <- w }()
	w.Reset(&out)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// A flate.Writer holds about 800 KB of tables whatever the level, and a
// first sweep compresses a record per finding from tens of writers at
// once (every save's workers): a sync.Pool kept one writer for each, 25 MB
// in the large account's benchmark. Compressing a finding is short and
// CPU-bound, so a writer per CPU is enough; a writer is made only while
// fewer than that exist, else the next one put back is waited for.
var (
	maxDeflaters  = runtime.GOMAXPROCS(0)
	idleDeflaters = make(chan *flate.Writer, maxDeflaters)
	deflaterSlots = make(chan struct{}, maxDeflaters)
)

func takeDeflater() *flate.Writer {
	select {
	case w := <-idleDeflaters:
		return w
	default:
	}
	select {
	case w := <-idleDeflaters:
		return w
	case deflaterSlots <- struct{}{}:
		w, _ := flate.NewWriter(nil, flate.BestSpeed) // only fails on a bad level
		return w
	}
}

// stamp is a fixed-width UTC time that sorts as a string.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func key(scope, id string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		attrScope: &ddbtypes.AttributeValueMemberS{Value: scope},
		attrID:    &ddbtypes.AttributeValueMemberS{Value: id},
	}
}

func (s *Store) api(cfg aws.Config) API {
	if s.Region != "" {
		cfg = awsconfig.ForRegion(cfg, s.Region)
	}
	if s.NewAPI != nil {
		return s.NewAPI(cfg)
	}
	return dynamodb.NewFromConfig(cfg)
}

func (s *Store) reconcileEvery() time.Duration {
	if s.ReconcileEvery > 0 {
		return s.ReconcileEvery
	}
	return DefaultReconcileEvery
}

func (s *Store) workers() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return 16
}

// forEach runs fn over items, at most workers at a time, and returns the
// first error (the others still run: a write either lands or is reported).
func forEach[T any](ctx context.Context, workers int, items []T, fn func(context.Context, T) error) error {
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, it); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
