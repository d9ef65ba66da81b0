package endpoint

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Account is the synthetic account the endpoint serves. Nothing of it is
// stored: every resource is computed from its region and index when a call
// asks for it, so a listing of 20,000 volumes costs a page's worth of work.
// The same Account gives the same answers for the same call, which is what
// makes the second sweep see an unchanged account.
type Account struct {
	ID      string
	Regions []string
	// Home is the region of global resources (CloudFront, the multi-region
	// trail) and of the finding state table.
	Home string
	N    Sizes
	// t0 anchors every date: dates are whole days before or after it, and
	// t0 itself is six hours before the endpoint started, so the day
	// counts a check prints ("45 days ago") do not change during a run of
	// less than 18 hours. Date-based verdicts are kept at least two days
	// away from every threshold the checks use, so crossing a UTC midnight
	// during a run changes no verdict either.
	t0 time.Time
	// dataKeys are the customer key indexes resources are encrypted with.
	dataKeys []int
}

// Sizes are the resources of each kind in one region (Distributions are
// global: served once, for the home region).
type Sizes struct {
	Keys, Secrets, Certificates, Distributions       int
	Instances, Clusters, Snapshots, ClusterSnapshots int
	Repositories, Volumes                            int
}

// BaseSizes are the sizes at scale 1, per region: the GitHub issue's large
// account (clusters and cluster snapshots are extra, so that every RDS
// describe has something to page through).
var BaseSizes = Sizes{
	Keys: 2000, Secrets: 5000, Certificates: 1000, Distributions: 200,
	Instances: 1000, Clusters: 50, Snapshots: 2000, ClusterSnapshots: 100,
	Repositories: 2000, Volumes: 20000,
}

func scaled(n int, scale float64) int {
	return max(1, int(math.Round(float64(n)*scale)))
}

// NewAccount generates the account at scale (1 = BaseSizes).
func NewAccount(id string, regions []string, home string, scale float64, now time.Time) *Account {
	b := BaseSizes
	return NewAccountSized(id, regions, home, Sizes{
		Keys: scaled(b.Keys, scale), Secrets: scaled(b.Secrets, scale), Certificates: scaled(b.Certificates, scale),
		Distributions: scaled(b.Distributions, scale), Instances: scaled(b.Instances, scale), Clusters: scaled(b.Clusters, scale),
		Snapshots: scaled(b.Snapshots, scale), ClusterSnapshots: scaled(b.ClusterSnapshots, scale),
		Repositories: scaled(b.Repositories, scale), Volumes: scaled(b.Volumes, scale),
	}, now)
}

// NewAccountSized generates the account with n of each kind a region (a
// count below 1 is taken as 1: the generators index every kind).
func NewAccountSized(id string, regions []string, home string, sizes Sizes, now time.Time) *Account {
	for _, c := range []*int{&sizes.Keys, &sizes.Secrets, &sizes.Certificates, &sizes.Distributions, &sizes.Instances, &sizes.Clusters,
		&sizes.Snapshots, &sizes.ClusterSnapshots, &sizes.Repositories, &sizes.Volumes} {
		*c = max(*c, 1)
	}
	a := &Account{
		ID: id, Regions: regions, Home: home, N: sizes,
		t0: now.UTC().Truncate(time.Second).Add(-6 * time.Hour),
	}
	// About one key in ten of those that can encrypt protects resources,
	// always including a disabled key and a key pending deletion when the
	// account has them (kms.key-in-use-unhealthy then has FAILED findings
	// at every scale).
	var candidates []int
	disabled, pending := -1, -1
	for i := 0; i < a.N.Keys; i++ {
		k := a.customerKey("", i)
		if k.Usage != "ENCRYPT_DECRYPT" {
			continue
		}
		candidates = append(candidates, i)
		if k.State == "Disabled" && disabled < 0 {
			disabled = i
		}
		if k.State == "PendingDeletion" && pending < 0 {
			pending = i
		}
	}
	n := max(min(len(candidates), 5), len(candidates)/10)
	a.dataKeys = candidates[:n]
	for _, i := range []int{disabled, pending} {
		if i >= 0 && !slices.Contains(a.dataKeys, i) {
			a.dataKeys = append(a.dataKeys, i)
		}
	}
	return a
}

const day = 24 * time.Hour

// daysAgo is a date d whole days before t0 (negative: after).
func (a *Account) daysAgo(d int) time.Time { return a.t0.Add(-time.Duration(d) * day) }

func (a *Account) regionIndex(region string) int {
	for i, r := range a.Regions {
		if r == region {
			return i
		}
	}
	return -1
}

// digest is a deterministic hex string of the parts.
func digest(parts ...any) string {
	h := sha1.Sum([]byte(fmt.Sprint(parts...)))
	return hex.EncodeToString(h[:])
}

// uuidOf is a UUID-shaped ID whose last 12 hex digits encode (region
// index, index), so that a lookup by ID needs no stored table.
func uuidOf(kind string, r, i int) string {
	h := digest(kind, r, i)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + fmt.Sprintf("%04x%08x", r, i)
}

// parseUUID returns the (region index, index) a uuidOf ID encodes.
func parseUUID(kind, id string) (r, i int, ok bool) {
	if len(id) != 36 {
		return 0, 0, false
	}
	r64, err1 := strconv.ParseInt(id[24:28], 16, 32)
	i64, err2 := strconv.ParseInt(id[28:], 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	r, i = int(r64), int(i64)
	return r, i, uuidOf(kind, r, i) == id
}

// ---------------------------------------------------------------- KMS

// Key is one KMS key as DescribeKey and GetKeyRotationStatus see it.
type Key struct {
	Index                   int
	ID, ARN                 string
	Manager                 string // CUSTOMER or AWS
	Spec, Usage, Origin     string
	State, CustomKeyStoreID string
	Created                 time.Time
	DeletionDate            *time.Time
	RotationEnabled         bool
	RotationPeriodDays      int
	Aliases                 []string
	Description             string
}

// RotationApplies mirrors AWS: automatic rotation exists only for
// symmetric encryption keys with KMS key material outside custom key
// stores.
func (k Key) RotationApplies() bool {
	return k.Spec == "SYMMETRIC_DEFAULT" && k.Usage == "ENCRYPT_DECRYPT" && k.Origin == "AWS_KMS" && k.CustomKeyStoreID == ""
}

// awsManagedKeys are the AWS managed keys every region lists after the
// customer keys (alias/aws/<service>).
var awsManagedKeys = []string{"rds", "secretsmanager", "ebs", "ecr", "acm", "s3", "lambda"}

// aliasesWithoutKey are AWS managed aliases whose key was never created:
// ListAliases returns them without TargetKeyId, as AWS does.
var aliasesWithoutKey = []string{"alias/aws/dynamodb", "alias/aws/sns", "alias/aws/sqs"}

// KeyCount is how many keys ListKeys returns in a region.
func (a *Account) KeyCount() int { return a.N.Keys + len(awsManagedKeys) }

// Key returns key i of the region's listing (customer keys first, then the
// AWS managed ones).
func (a *Account) Key(region string, i int) Key {
	if i < a.N.Keys {
		return a.customerKey(region, i)
	}
	m := i - a.N.Keys
	r := a.regionIndex(region)
	id := uuidOf("key", r, i)
	return Key{
		Index: i, ID: id, ARN: "arn:aws:kms:" + region + ":" + a.ID + ":key/" + id,
		Manager: "AWS", Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Origin: "AWS_KMS", State: "Enabled",
		Created: a.daysAgo(900 + m), RotationEnabled: true, RotationPeriodDays: 365,
		Aliases:     []string{"alias/aws/" + awsManagedKeys[m]},
		Description: "Default key that protects my " + awsManagedKeys[m] + " data when no other key is defined",
	}
}

// AWSManagedKey is the region's AWS managed key of a service (rds, ebs,
// ecr, secretsmanager, ...).
func (a *Account) AWSManagedKey(region, service string) Key {
	for m, s := range awsManagedKeys {
		if s == service {
			return a.Key(region, a.N.Keys+m)
		}
	}
	panic("no AWS managed key for " + service)
}

// customerKey is customer key i: a mix of key specs, origins, states and
// rotation settings decided by i alone (the same in every region).
func (a *Account) customerKey(region string, i int) Key {
	r := a.regionIndex(region)
	id := uuidOf("key", r, i)
	k := Key{
		Index: i, ID: id, ARN: "arn:aws:kms:" + region + ":" + a.ID + ":key/" + id,
		Manager: "CUSTOMER", Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Origin: "AWS_KMS", State: "Enabled",
		Created: a.daysAgo(30 + i%700), Description: fmt.Sprintf("synthetic key %d", i),
	}
	switch i % 20 {
	case 3:
		k.Spec, k.Usage = "RSA_2048", "SIGN_VERIFY"
	case 9:
		k.Spec, k.Usage = "HMAC_256", "GENERATE_VERIFY_MAC"
	case 15:
		k.Spec, k.Usage = "ECC_NIST_P256", "SIGN_VERIFY"
	case 11:
		k.Origin = "EXTERNAL" // imported key material
	case 17:
		k.Origin, k.CustomKeyStoreID = "AWS_CLOUDHSM", "cks-"+digest("cks", r)[:17]
	}
	switch i % 50 {
	case 7:
		k.State = "Disabled"
	case 13:
		k.State = "PendingDeletion"
		d := a.daysAgo(-(3 + i%25))
		k.DeletionDate = &d
	}
	if k.RotationApplies() && k.State != "PendingDeletion" && i%3 != 0 {
		k.RotationEnabled = true
		switch i % 7 {
		case 0:
			k.RotationPeriodDays = 730 // longer than the checks' 365-day maximum
		case 1:
			k.RotationPeriodDays = 90
		default:
			k.RotationPeriodDays = 365
		}
	}
	if i%3 != 2 {
		k.Aliases = append(k.Aliases, fmt.Sprintf("alias/app-%05d", i))
		if i%10 == 0 {
			k.Aliases = append(k.Aliases, fmt.Sprintf("alias/team-%05d", i))
		}
	}
	return k
}

// KeyByRef finds a key of the region by key ID, key ARN, alias name or
// alias ARN, as DescribeKey accepts them.
func (a *Account) KeyByRef(region, ref string) (Key, bool) {
	if strings.HasPrefix(ref, "arn:") {
		p := strings.SplitN(ref, ":", 6)
		if len(p) != 6 || p[2] != "kms" || p[3] != region || p[4] != a.ID {
			return Key{}, false
		}
		ref = p[5]
		if strings.HasPrefix(ref, "key/") {
			ref = strings.TrimPrefix(ref, "key/")
		}
	}
	if strings.HasPrefix(ref, "alias/") {
		for _, al := range a.Aliases(region) {
			if al.Name == ref && al.Target >= 0 {
				return a.Key(region, al.Target), true
			}
		}
		return Key{}, false
	}
	r, i, ok := parseUUID("key", ref)
	if !ok || r != a.regionIndex(region) || i >= a.KeyCount() {
		return Key{}, false
	}
	return a.Key(region, i), true
}

// Alias is one ListAliases entry; Target is -1 for an AWS managed alias
// whose key was never created.
type Alias struct {
	Name   string
	Target int
}

// Aliases are the region's aliases in listing order.
func (a *Account) Aliases(region string) []Alias {
	var out []Alias
	for i := 0; i < a.N.Keys; i++ {
		if i%3 != 2 {
			out = append(out, Alias{fmt.Sprintf("alias/app-%05d", i), i})
			if i%10 == 0 {
				out = append(out, Alias{fmt.Sprintf("alias/team-%05d", i), i})
			}
		}
	}
	for m, s := range awsManagedKeys {
		out = append(out, Alias{"alias/aws/" + s, a.N.Keys + m})
	}
	for _, n := range aliasesWithoutKey {
		out = append(out, Alias{n, -1})
	}
	return out
}

// dataKey is the customer key resource j of a kind is encrypted with: a
// few keys protect many resources, as in a real account, and the few
// include disabled and pending-deletion keys.
func (a *Account) dataKey(region string, salt, j int) Key {
	return a.customerKey(region, a.dataKeys[(j+salt)%len(a.dataKeys)])
}

// encryption is how a resource is encrypted: "" (not), "cmk" or "aws".
type encryption struct {
	Mode string
	Key  Key
}

func (a *Account) encryptionOf(region, awsService string, salt, j, modes int) encryption {
	switch j % modes {
	case 0:
		return encryption{}
	case 1, 3:
		return encryption{"cmk", a.dataKey(region, salt, j)}
	default:
		return encryption{"aws", a.AWSManagedKey(region, awsService)}
	}
}

// ---------------------------------------------------------------- Secrets Manager

// Secret is one secret as ListSecrets returns it.
type Secret struct {
	Index                int
	ARN, Name, KmsKeyID  string
	keyIndex             int // customer key behind KmsKeyID, or -1
	OwningService        string
	RotationEnabled      bool
	RotationLambdaARN    string
	AfterDays            int
	ScheduleExpression   string
	Duration             string
	Created, LastChanged time.Time
	LastRotated          *time.Time
	LastAccessed         *time.Time
	Deleted              *time.Time
	Tags                 [][2]string
	VersionID            string
}

// Secret returns secret j of the region.
func (a *Account) Secret(region string, j int) Secret {
	r := a.regionIndex(region)
	teams := []string{"payments", "search", "identity", "data", "web"}
	s := Secret{Index: j, keyIndex: -1, Name: fmt.Sprintf("%s/app-%05d", teams[j%5], j)}
	if j%40 == 5 {
		s.OwningService = "rds"
		s.Name = "rds!db-" + uuidOf("rdssecret", r, j)
	}
	s.ARN = "arn:aws:secretsmanager:" + region + ":" + a.ID + ":secret:" + s.Name + "-" + suffix6(r, j)
	s.VersionID = uuidOf("version", r, j)
	s.Tags = [][2]string{{"team", teams[j%5]}, {"env", []string{"prod", "staging", "dev"}[j%3]}}
	switch {
	case s.OwningService != "":
		// Managed rotation by RDS: on, every 7 days, no Lambda.
		s.RotationEnabled, s.AfterDays, s.ScheduleExpression = true, 7, "rate(7 days)"
		last := a.daysAgo([]int{2, 20}[j%2]) // 20: late by far more than the grace
		s.LastRotated = &last
	case j%2 == 0:
		s.RotationEnabled = true
		s.RotationLambdaARN = "arn:aws:lambda:" + region + ":" + a.ID + ":function:rotate-" + teams[j%5]
		if j%8 == 6 {
			s.ScheduleExpression, s.Duration = "cron(0 12 * * ? *)", "2h" // daily
			last := a.daysAgo(3 + j%40)                                   // at least two days late
			s.LastRotated = &last
		} else {
			s.AfterDays, s.ScheduleExpression = 30, "rate(30 days)"
			// Due 30 days after: either well ahead (3 to 25 days ago) or
			// well past the grace (35 to 100 days ago).
			d := []int{3 + j%23, 35 + j%66}[(j/2)%2]
			last := a.daysAgo(d)
			s.LastRotated = &last
		}
	default:
		if j%3 != 0 {
			d := []int{10 + j%70, 100 + j%300}[(j/3)%2] // never near the 90-day maximum age
			last := a.daysAgo(d)
			s.LastRotated = &last
		}
	}
	created := []int{5 + j%50, 120 + j%600}[(j/7)%2] // never near the 90-day unused limit
	if s.LastRotated != nil {
		created = max(created, int(a.t0.Sub(*s.LastRotated)/day)+5+j%30)
	}
	s.Created = a.daysAgo(created)
	s.LastChanged = a.daysAgo(created / 2)
	if s.LastRotated != nil && s.LastRotated.After(s.LastChanged) {
		s.LastChanged = *s.LastRotated
	}
	if j%5 != 0 {
		acc := []int{j % 40, 120 + j%250}[(j/5)%2]
		if acc > created {
			acc = created
		}
		t := a.daysAgo(acc).Truncate(day) // Secrets Manager keeps it to the day
		s.LastAccessed = &t
	}
	if secretDeleted(j) {
		d := a.daysAgo(1)
		s.Deleted = &d // scheduled for deletion: listed only with IncludePlannedDeletion
	}
	switch j % 6 {
	case 1, 4:
		k := a.dataKey(region, 11, j)
		s.KmsKeyID, s.keyIndex = k.ARN, k.Index
	case 2:
		k := a.dataKey(region, 11, j)
		s.KmsKeyID, s.keyIndex = k.ARN, k.Index
		if len(k.Aliases) > 0 {
			s.KmsKeyID = "arn:aws:kms:" + region + ":" + a.ID + ":" + k.Aliases[0]
		}
	case 5:
		s.KmsKeyID = "alias/aws/secretsmanager"
	}
	return s
}

// secretDeleted reports a secret scheduled for deletion (one in a hundred).
func secretDeleted(j int) bool { return j%100 == 99 }

func suffix6(r, j int) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	h := digest("secret", r, j)
	out := make([]byte, 6)
	for i := range out {
		out[i] = chars[int(h[i*2])%len(chars)]
	}
	return string(out)
}

// ---------------------------------------------------------------- ACM

// Certificate is one ACM certificate.
type Certificate struct {
	Index               int
	ARN, Domain         string
	Type, Status        string
	KeyType             string // list form: RSA_2048, EC_prime256v1
	InUse               bool
	InUseBy             []string
	NotBefore, NotAfter *time.Time
	Created             time.Time
	Issued, Imported    *time.Time
	RenewalStatus       string // "" when no renewal is under way
	RenewalReason       string
	RenewalEligibility  string
}

var certKeyTypes = []string{"RSA_2048", "RSA_1024", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "RSA_2048", "RSA_3072"}

// Certificate returns certificate j of the region.
func (a *Account) Certificate(region string, j int) Certificate {
	r := a.regionIndex(region)
	id := uuidOf("cert", r, j)
	c := Certificate{
		Index: j, ARN: "arn:aws:acm:" + region + ":" + a.ID + ":certificate/" + id,
		Domain: fmt.Sprintf("svc-%05d.%s.example.com", j, region), KeyType: certKeyTypes[j%len(certKeyTypes)],
		Type: "AMAZON_ISSUED", Status: "ISSUED", Created: a.daysAgo(400 + j%300),
	}
	switch {
	case j%3 == 0:
		c.Type = "IMPORTED"
	case j%31 == 7:
		c.Type = "PRIVATE"
	}
	switch {
	case j%25 == 3:
		c.Status = "EXPIRED"
	case j%25 == 8 && c.Type == "AMAZON_ISSUED":
		c.Status = "PENDING_VALIDATION"
	case j%50 == 17 && c.Type == "AMAZON_ISSUED":
		c.Status = "FAILED"
	case j%50 == 42 && c.Type != "IMPORTED":
		c.Status = "REVOKED"
	}
	c.InUse = j%2 == 0 && c.Status != "PENDING_VALIDATION" && c.Status != "FAILED"
	if c.InUse {
		c.InUseBy = []string{fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/lb-%05d/%s", region, a.ID, j, digest("lb", r, j)[:16])}
	}
	if c.Status == "ISSUED" || c.Status == "EXPIRED" || c.Status == "REVOKED" {
		var e int
		switch {
		case c.Status == "EXPIRED":
			e = -(2 + j%100)
		case j%4 == 0:
			e = 3 + j%23 // expiring within the 30-day threshold
		case j%4 == 1:
			e = 40 + j%50
		default:
			e = 120 + j%275
		}
		after := a.daysAgo(-e)
		before := after.Add(-395 * day)
		c.NotAfter, c.NotBefore = &after, &before
		if c.Type == "IMPORTED" {
			c.Imported = &before
		} else {
			c.Issued = &before
		}
	}
	if c.Type != "IMPORTED" && c.Status == "ISSUED" {
		switch j % 10 {
		case 1:
			c.RenewalStatus, c.RenewalReason = "FAILED", "CAA_ERROR"
		case 4:
			c.RenewalStatus = "PENDING_AUTO_RENEWAL"
		case 6:
			c.RenewalStatus, c.RenewalReason = "PENDING_VALIDATION", "NO_AVAILABLE_CONTACTS"
		case 8:
			c.RenewalStatus = "SUCCESS"
		}
	}
	c.RenewalEligibility = "INELIGIBLE"
	if c.InUse && c.Type != "IMPORTED" {
		c.RenewalEligibility = "ELIGIBLE"
	}
	return c
}

// ---------------------------------------------------------------- CloudFront

// Distribution is one CloudFront distribution (global).
type Distribution struct {
	Index                     int
	ID, ARN, Domain           string
	Enabled                   bool
	Aliases                   []string
	DefaultCert               bool
	CertARN, MinProtocol      string
	Origins                   []Origin
	DefaultViewer, DefaultRHP string
	Behaviors                 []Behavior
	LastModified              time.Time
}

// Origin is one origin: S3 (no custom config) or custom.
type Origin struct {
	ID, Domain     string
	Custom         bool
	ProtocolPolicy string
	SSLProtocols   []string
}

// Behavior is one ordered cache behaviour.
type Behavior struct {
	Path, Origin, Viewer, RHP string
}

// Response headers policies the distributions use: two of AWS's managed
// policies and two custom ones.
const (
	ManagedSecurityHeaders = "67f7725c-6f97-4210-82d7-5512b31e9d03"
	ManagedSimpleCORS      = "60669652-455b-4ae9-85a4-c4c02393f86c"
	CustomHSTSPolicy       = "a1b2c3d4-0001-4000-8000-000000000001"
	CustomNoHSTSPolicy     = "a1b2c3d4-0002-4000-8000-000000000002"
)

var viewerPolicies = []string{"TLSv1.2_2021", "TLSv1.2_2019", "TLSv1", "TLSv1.1_2016", "TLSv1.2_2018", "TLSv1.2_2025"}

// Distribution returns distribution d.
func (a *Account) Distribution(d int) Distribution {
	id := "E" + strings.ToUpper(digest("dist", d)[:7]) + fmt.Sprintf("%06d", d)
	x := Distribution{
		Index: d, ID: id, ARN: "arn:aws:cloudfront::" + a.ID + ":distribution/" + id,
		Domain: strings.ToLower("d"+digest("distdomain", d)[:13]) + ".cloudfront.net", Enabled: d%20 != 19,
		LastModified: a.daysAgo(10 + d%300),
	}
	if d%2 == 0 {
		x.Aliases = []string{fmt.Sprintf("www-%04d.example.com", d)}
	}
	if d%5 == 0 {
		x.DefaultCert, x.MinProtocol = true, "TLSv1"
	} else {
		x.CertARN = a.Certificate(a.Home, d%a.N.Certificates).ARN
		x.MinProtocol = viewerPolicies[d%len(viewerPolicies)]
	}
	s3 := Origin{ID: "s3-assets", Domain: fmt.Sprintf("assets-%04d.s3.%s.amazonaws.com", d, a.Home)}
	switch d % 3 {
	case 0:
		x.Origins = []Origin{s3}
	case 1:
		x.Origins = []Origin{{ID: "app", Domain: fmt.Sprintf("app-%04d.example.com", d), Custom: true, ProtocolPolicy: "https-only", SSLProtocols: []string{"TLSv1.2"}}}
	default:
		o := Origin{ID: "legacy", Domain: fmt.Sprintf("legacy-%04d.example.com", d), Custom: true,
			ProtocolPolicy: []string{"http-only", "match-viewer", "https-only"}[(d/3)%3]}
		o.SSLProtocols = []string{"TLSv1.2"}
		if d%4 == 2 {
			o.SSLProtocols = []string{"TLSv1", "TLSv1.1", "TLSv1.2"}
		}
		x.Origins = []Origin{o}
	}
	if d%4 == 1 {
		x.Origins = append(x.Origins, s3)
	}
	x.DefaultViewer = []string{"redirect-to-https", "https-only", "redirect-to-https", "allow-all"}[d%4]
	x.DefaultRHP = []string{ManagedSecurityHeaders, CustomHSTSPolicy, CustomNoHSTSPolicy, ""}[(d/2)%4]
	if d%2 == 0 {
		x.Behaviors = []Behavior{{Path: "/api/*", Origin: x.Origins[len(x.Origins)-1].ID,
			Viewer: []string{"https-only", "allow-all"}[(d/2)%2], RHP: []string{ManagedSecurityHeaders, ManagedSimpleCORS, CustomHSTSPolicy}[d%3]}}
	}
	return x
}

// DistributionIndex parses a distribution ID back to its index.
func (a *Account) DistributionIndex(id string) (int, bool) {
	if len(id) != 14 {
		return 0, false
	}
	d, err := strconv.Atoi(id[8:])
	if err != nil || d < 0 || d >= a.N.Distributions || a.Distribution(d).ID != id {
		return 0, false
	}
	return d, true
}

// ---------------------------------------------------------------- RDS

// DBInstance is one DB instance.
type DBInstance struct {
	Index               int
	ID, ARN, ResourceID string
	Engine, Class       string
	Cluster             string // "" when not a cluster member
	Writer              bool
	Enc                 encryption
	Created             time.Time
}

var instanceEngines = []string{"mysql", "postgres", "mariadb", "oracle-ee", "sqlserver-se"}

// DBInstance returns instance j of the region. The first 2 x Clusters
// instances are cluster members (two per cluster).
func (a *Account) DBInstance(region string, j int) DBInstance {
	r := a.regionIndex(region)
	x := DBInstance{Index: j, ID: fmt.Sprintf("db-%05d", j), Class: []string{"db.t3.medium", "db.r6g.large", "db.m6i.xlarge"}[j%3],
		ResourceID: "db-" + strings.ToUpper(digest("dbi", r, j)[:26]), Created: a.daysAgo(50 + j%500)}
	x.ARN = "arn:aws:rds:" + region + ":" + a.ID + ":db:" + x.ID
	if c := j / 2; c < a.N.Clusters && j < 2*a.N.Clusters {
		cl := a.DBCluster(region, c)
		x.Cluster, x.Writer, x.Engine, x.Enc = cl.ID, j%2 == 0, cl.Engine, cl.Enc
		return x
	}
	x.Engine = instanceEngines[j%len(instanceEngines)]
	x.Enc = a.encryptionOf(region, "rds", 3, j, 3)
	return x
}

// DBCluster is one DB cluster.
type DBCluster struct {
	Index               int
	ID, ARN, ResourceID string
	Engine              string
	Enc                 encryption
	Created             time.Time
}

// DBCluster returns cluster c of the region.
func (a *Account) DBCluster(region string, c int) DBCluster {
	r := a.regionIndex(region)
	x := DBCluster{Index: c, ID: fmt.Sprintf("cluster-%04d", c), Engine: []string{"aurora-mysql", "aurora-postgresql"}[c%2],
		ResourceID: "cluster-" + strings.ToUpper(digest("dbc", r, c)[:26]), Created: a.daysAgo(60 + c%400)}
	x.ARN = "arn:aws:rds:" + region + ":" + a.ID + ":cluster:" + x.ID
	x.Enc = a.encryptionOf(region, "rds", 7, c, 3)
	return x
}

// DBSnapshot is one DB snapshot or DB cluster snapshot.
type DBSnapshot struct {
	Index            int
	ID, ARN, Source  string
	SourceResourceID string
	Engine, Type     string
	Enc              encryption
	Created          time.Time
}

// DBSnapshot returns DB snapshot s of the region: of a DB instance, with
// its encryption; even indexes are automated, odd ones manual.
func (a *Account) DBSnapshot(region string, s int) DBSnapshot {
	src := a.DBInstance(region, s%a.N.Instances)
	created := a.daysAgo(1 + s%35)
	x := DBSnapshot{Index: s, Source: src.ID, SourceResourceID: src.ResourceID, Engine: src.Engine, Enc: src.Enc, Created: created}
	if s%2 == 0 {
		x.Type, x.ID = "automated", fmt.Sprintf("rds:%s-%s-%05d", src.ID, created.Format("2006-01-02-15-04"), s)
	} else {
		x.Type, x.ID = "manual", fmt.Sprintf("snap-%05d", s)
	}
	x.ARN = "arn:aws:rds:" + region + ":" + a.ID + ":snapshot:" + x.ID
	return x
}

// DBClusterSnapshot returns cluster snapshot s of the region.
func (a *Account) DBClusterSnapshot(region string, s int) DBSnapshot {
	src := a.DBCluster(region, s%a.N.Clusters)
	created := a.daysAgo(1 + s%35)
	x := DBSnapshot{Index: s, Source: src.ID, SourceResourceID: src.ResourceID, Engine: src.Engine, Enc: src.Enc, Created: created}
	if s%2 == 0 {
		x.Type, x.ID = "automated", fmt.Sprintf("rds:%s-%s-%05d", src.ID, created.Format("2006-01-02-15-04"), s)
	} else {
		x.Type, x.ID = "manual", fmt.Sprintf("cluster-snap-%05d", s)
	}
	x.ARN = "arn:aws:rds:" + region + ":" + a.ID + ":cluster-snapshot:" + x.ID
	return x
}

// ---------------------------------------------------------------- ECR and EBS

// Repository is one ECR repository.
type Repository struct {
	Index          int
	Name, ARN, URI string
	Enc            encryption // "" is AES256
	ScanOnPush     bool
	Mutability     string
	Created        time.Time
}

// Repository returns repository j of the region: AES256, a customer key,
// or KMS with the AWS managed aws/ecr key (which AWS reports by ARN).
func (a *Account) Repository(region string, j int) Repository {
	x := Repository{Index: j, Name: fmt.Sprintf("team-%d/app-%05d", j%7, j), ScanOnPush: j%2 == 0,
		Mutability: []string{"MUTABLE", "IMMUTABLE"}[j%2], Created: a.daysAgo(20 + j%600)}
	x.ARN = "arn:aws:ecr:" + region + ":" + a.ID + ":repository/" + x.Name
	x.URI = a.ID + ".dkr.ecr." + region + ".amazonaws.com/" + x.Name
	x.Enc = a.encryptionOf(region, "ecr", 5, j, 3)
	return x
}

// Volume is one EBS volume.
type Volume struct {
	Index           int
	ID, State, Type string
	Size            int
	Enc             encryption
	Name, Instance  string
	Created         time.Time
}

// Volume returns volume j of the region.
func (a *Account) Volume(region string, j int) Volume {
	r := a.regionIndex(region)
	x := Volume{Index: j, ID: fmt.Sprintf("vol-0%04x%012x", r, j), Type: []string{"gp3", "gp2", "io2", "st1"}[j%4],
		Size: 8 << (j % 6), Created: a.daysAgo(1 + j%800), State: "in-use"}
	switch {
	case j%500 == 499:
		x.State = "deleting" // the checks skip it
	case j%3 == 0:
		x.State = "available"
	default:
		x.Instance = fmt.Sprintf("i-0%04x%011x", r, j/2)
	}
	if j%2 == 0 {
		x.Name = fmt.Sprintf("data-%05d", j)
	}
	x.Enc = a.encryptionOf(region, "ebs", 13, j, 4)
	return x
}

// EBSDefaults is the region's encryption-by-default setting: on with a
// customer key in the home region, off (with the AWS managed key named)
// elsewhere.
func (a *Account) EBSDefaults(region string) (enabled bool, key string) {
	if region == a.Home {
		return true, a.dataKey(region, 0, 0).ARN
	}
	return false, "alias/aws/ebs"
}

// ---------------------------------------------------------------- CloudTrail

// Trail is one CloudTrail trail.
type Trail struct {
	Name, ARN, Home string
	MultiRegion     bool
	Validation      bool
	KmsKeyID        string
	keyIndex        int
}

// Trails are the account's trails: a multi-region trail and a
// single-region one homed in the home region, and a single-region trail
// in the second region.
func (a *Account) Trails() []Trail {
	mk := func(name, home string, multi, validation, kms bool) Trail {
		t := Trail{Name: name, Home: home, MultiRegion: multi, Validation: validation, keyIndex: -1,
			ARN: "arn:aws:cloudtrail:" + home + ":" + a.ID + ":trail/" + name}
		if kms {
			k := a.dataKey(home, 0, 0)
			t.KmsKeyID, t.keyIndex = k.ARN, k.Index
		}
		return t
	}
	out := []Trail{mk("org-trail", a.Home, true, true, true), mk("app-audit", a.Home, false, false, false)}
	for _, r := range a.Regions {
		if r != a.Home {
			out = append(out, mk("data-trail", r, false, true, true))
			break
		}
	}
	return out
}
