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
}

// NewLimiters returns an empty set.
func NewLimiters() *Limiters {
	return &Limiters{imports: map[string]*rate.Limiter{}, reads: map[string]*rate.Limiter{}}
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
		lim = rate.NewLimiter(r, burst)
		m[key] = lim
	}
	return lim
}
