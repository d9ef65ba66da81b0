// Package snapshot is the typed model that collectors fill and checks read.
// It holds no clients and makes no calls: everything a check needs to judge
// a resource is here, including what could not be read and why.
package snapshot

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Service names one collection. It is also the unit of completeness: a
// service whose collection errored in a region makes every check that reads
// it incomplete there, so none of its findings are archived.
type Service string

const (
	KMS            Service = "kms"
	RDS            Service = "rds"
	ECR            Service = "ecr"
	EBS            Service = "ebs"
	SecretsManager Service = "secretsmanager"
	ACM            Service = "acm"
	CloudFront     Service = "cloudfront"
	CloudTrail     Service = "cloudtrail"
	// KMSReferenced is the describe of keys that resources point at but the
	// region's KMS listing did not cover (another account or region). It is
	// a scope of its own so that a foreign key that can never be described
	// blocks archiving only for the checks that resolve keys, not for
	// kms.rotation and kms.pending-deletion, whose own data was complete.
	KMSReferenced Service = "kms-referenced"
)

// Snapshot is what one run saw of one account in one region. Global services
// (CloudFront) are collected into the home region's snapshot only.
type Snapshot struct {
	Account   string
	Partition string
	Region    string

	// Collected lists the services whose collection ran in this snapshot,
	// whether or not it completed.
	Collected map[Service]bool
	// Errors are the collection errors, by service. A service with errors is
	// incomplete: checks still judge what was read, but nothing is archived.
	Errors map[Service][]CollectionError

	KMS            KMSData
	RDS            RDSData
	ECR            ECRData
	EBS            EBSData
	SecretsManager SecretsManagerData
	ACM            ACMData
	CloudFront     CloudFrontData
	CloudTrail     CloudTrailData

	// absent are the resources a scoped collection named that AWS answered
	// do not exist, by service, as the scope named them.
	absent map[Service]map[string]bool

	// mu guards Collected, Errors, absent and keyUses, which collectors running in
	// parallel all write.
	mu sync.Mutex
	// keyUses are the KMS key references of every resource collected: the
	// key model resolves them once, and kms.key-in-use-unhealthy reads them.
	keyUses []KeyUse
}

// KeyUse is one resource protected by (or pointing at) a KMS key.
type KeyUse struct {
	Service      Service
	ResourceARN  string
	ResourceName string
	// ResourceType is the ASFF type of the resource (AwsRdsDbInstance, ...).
	ResourceType string
	// KeyRef is the key reference as the service reported it: a key ID, key
	// ARN, alias name or alias ARN; empty means the service's AWS managed
	// key (DefaultAlias).
	KeyRef string
	// DefaultAlias is the service's AWS managed key alias (alias/aws/rds).
	DefaultAlias string
	// Setting marks a key named by an account setting (the EBS default
	// key) rather than one protecting data: it is resolved and described
	// like any other, but it is no dependent of kms.key-in-use-unhealthy.
	Setting bool
}

// AddKeyUse records a resource's key; collectors call it concurrently.
func (s *Snapshot) AddKeyUse(u KeyUse) {
	s.mu.Lock()
	s.keyUses = append(s.keyUses, u)
	s.mu.Unlock()
}

// KeyUses returns every recorded key use.
func (s *Snapshot) KeyUses() []KeyUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]KeyUse(nil), s.keyUses...)
}

// MarkCollected records that svc's collection ran here.
func (s *Snapshot) MarkCollected(svc Service) {
	s.mu.Lock()
	s.Collected[svc] = true
	s.mu.Unlock()
}

// AddError records a failed call of a collector.
func (s *Snapshot) AddError(e CollectionError) {
	s.mu.Lock()
	s.Errors[e.Service] = append(s.Errors[e.Service], e)
	s.mu.Unlock()
}

// MarkAbsent records that a scoped read of id (as the scope named it) was
// answered "does not exist". It is an answer, not an error: the service's
// collection stays complete.
func (s *Snapshot) MarkAbsent(svc Service, id string) {
	s.mu.Lock()
	if s.absent == nil {
		s.absent = map[Service]map[string]bool{}
	}
	if s.absent[svc] == nil {
		s.absent[svc] = map[string]bool{}
	}
	s.absent[svc][id] = true
	s.mu.Unlock()
}

// Absent reports whether a scoped read of id was answered "does not exist".
func (s *Snapshot) Absent(svc Service, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.absent[svc][id]
}

// New returns an empty snapshot for one account and region.
func New(account, partition, region string) *Snapshot {
	return &Snapshot{
		Account:   account,
		Partition: partition,
		Region:    region,
		Collected: map[Service]bool{},
		Errors:    map[Service][]CollectionError{},
	}
}

// Complete reports whether svc was collected here without any error.
func (s *Snapshot) Complete(svc Service) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Collected[svc] && len(s.Errors[svc]) == 0
}

// ErrorsOf returns a copy of svc's collection errors (other collectors may
// still be writing theirs).
func (s *Snapshot) ErrorsOf(svc Service) []CollectionError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CollectionError(nil), s.Errors[svc]...)
}

// WasCollected reports whether svc's collector ran here.
func (s *Snapshot) WasCollected(svc Service) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Collected[svc]
}

// CollectionError is one failed AWS call during collection.
type CollectionError struct {
	Service   Service `json:"service"`
	Region    string  `json:"region"`
	Operation string  `json:"operation"`
	// Resource is empty when a list call failed (the whole scope is unread).
	Resource string `json:"resource,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

func (e CollectionError) Error() string {
	where := e.Region
	if e.Resource != "" {
		where += " " + e.Resource
	}
	return fmt.Sprintf("%s:%s in %s: %s: %s", e.Service, e.Operation, where, e.Code, e.Message)
}

// Fact is a value that may not have been readable. Checks must look at Known
// before Value: an unknown fact yields NOT_AVAILABLE, never a verdict.
type Fact[T any] struct {
	Value T
	Known bool
	// Reason says why the value is unknown (the AWS error code and message).
	Reason string
}

// KnownFact wraps a value that was read.
func KnownFact[T any](v T) Fact[T] { return Fact[T]{Value: v, Known: true} }

// UnknownFact records why a value could not be read.
func UnknownFact[T any](reason string) Fact[T] { return Fact[T]{Reason: reason} }

// Tags are a resource's tags, sorted by key, each key once. A sweep holds
// the tags of every resource it read (40,000 volumes in a large account):
// as a slice two tags take 64 bytes, as a map about 300.
type Tags []Tag

// Tag is one tag.
type Tag struct{ Key, Value string }

// TagsOf returns m as Tags; nil when m is empty.
func TagsOf(m map[string]string) Tags {
	if len(m) == 0 {
		return nil
	}
	t := make(Tags, 0, len(m))
	for k, v := range m {
		t = append(t, Tag{k, v})
	}
	slices.SortFunc(t, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return t
}

// Get returns the value of key.
func (t Tags) Get(key string) (string, bool) {
	i, ok := slices.BinarySearchFunc(t, key, func(tag Tag, k string) int { return strings.Compare(tag.Key, k) })
	if !ok {
		return "", false
	}
	return t[i].Value, true
}

// Map returns the tags as a map; nil when there are none.
func (t Tags) Map() map[string]string {
	if len(t) == 0 {
		return nil
	}
	m := make(map[string]string, len(t))
	for _, tag := range t {
		m[tag.Key] = tag.Value
	}
	return m
}
