package publish

import (
	"sync"

	"golang.org/x/time/rate"
)

// Security Hub request quotas, per account and region.
const (
	ImportRate  rate.Limit = 10 // BatchImportFindings requests a second
	ImportBurst            = 30
	ReadRate    rate.Limit = 3 // GetFindings requests a second
	ReadBurst              = 6
)

// Limiters paces Security Hub calls client-side so that a large run stays
// within the quotas and never sees a throttling error. One limiter pair
// exists per (account, region), because that is what the quotas count:
// every Publisher in a process shares DefaultLimiters unless told otherwise.
type Limiters struct {
	mu      sync.Mutex
	imports map[string]*rate.Limiter
	reads   map[string]*rate.Limiter
	// fraction is the share of each quota (rate and burst) used.
	fraction float64
}

// NewLimiters returns an empty set at the whole of each quota.
func NewLimiters() *Limiters { return NewLimitersAt(1) }

// NewLimitersAt returns an empty set that paces at fraction (0 < f <= 1)
// of each quota, rate and burst: the account's other finding providers
// share its Security Hub quotas, and a client at exactly the quota still
// meets throttling answers (its calls reach Security Hub unevenly).
func NewLimitersAt(fraction float64) *Limiters {
	if fraction <= 0 || fraction > 1 {
		fraction = 1
	}
	return &Limiters{imports: map[string]*rate.Limiter{}, reads: map[string]*rate.Limiter{}, fraction: fraction}
}

// DefaultLimiters is shared by every Publisher of the process (a Lambda
// container runs one audit at a time, but a warm container keeps it).
var DefaultLimiters = NewLimiters()

// Import is the BatchImportFindings limiter of (account, region).
func (l *Limiters) Import(account, region string) *rate.Limiter {
	return l.get(l.imports, account, region, ImportRate, ImportBurst)
}

// Read is the GetFindings limiter of (account, region).
func (l *Limiters) Read(account, region string) *rate.Limiter {
	return l.get(l.reads, account, region, ReadRate, ReadBurst)
}

func (l *Limiters) get(m map[string]*rate.Limiter, account, region string, r rate.Limit, burst int) *rate.Limiter {
	key := account + "/" + region
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := m[key]
	if !ok {
		lim = rate.NewLimiter(r*rate.Limit(l.fraction), max(1, int(float64(burst)*l.fraction)))
		m[key] = lim
	}
	return lim
}
