// Package throttle limits request rates the way AWS KMS does: per account
// and region, one token bucket per quota class (classes.go), at AWS's
// default rates unless told otherwise. It decides only whether a request
// may go on; the caller answers ThrottlingException. It never blocks and
// never allocates on the path of a request whose (account, region) has
// been seen in the last second or so.
//
// Buckets are GCRA cells (the generic cell rate algorithm, the form of a
// token bucket that needs one number): each holds the theoretical arrival
// time of the next request, and a request is one compare-and-swap on it.
// The buckets of an (account, region) live in one entry of a sharded map;
// an entry whose buckets are all full again is dropped when its shard
// grows, since a full bucket and a new one are the same thing.
package throttle

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Message is what AWS KMS says when it throttles (Developer Guide,
// "Throttling AWS KMS requests").
const Message = "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."

// Rate is one class's limit: requests per second on average, and how many
// may come at once after a quiet spell.
type Rate struct {
	PerSecond float64
	// Burst is the bucket's size, 0 or at least 1; 0 means one second's
	// worth (at least 1), which is what a per-second quota allows.
	Burst float64
	// Off lifts the limit of the class.
	Off bool
}

// Config overrides AWS's default rates. Classes not in Rates keep
// DefaultRate for the request's region.
type Config struct {
	Rates map[Class]Rate
	// Now is a monotonic clock in nanoseconds (tests); nil uses the
	// process's monotonic clock.
	Now func() int64
}

// Limiter holds the buckets. Safe for concurrent use.
type Limiter struct {
	over   []*Rate // per class: the configured rate, or nil for the default
	now    func() int64
	seed   maphash.Seed
	shards [numShards]shard
	// throttled counts refused requests, ever.
	throttled atomic.Uint64
}

const numShards = 32

type tenant struct{ account, region string }

type shard struct {
	mu sync.RWMutex
	m  map[tenant]*entry
	// sweepAt is the size at which the shard next drops its idle entries.
	sweepAt int
	_       [40]byte // keep shards' locks off each other's cache lines
}

// entry is the buckets of one (account, region).
type entry struct {
	cells []cell
}

// cell is one class's bucket: the theoretical arrival time of the next
// request (ns on the limiter's clock), the spacing of requests at the
// class's rate, and the burst's span; interval 0 means no limit.
type cell struct {
	tat      atomic.Int64
	interval int64
	span     int64
}

// New makes a limiter.
func New(cfg Config) (*Limiter, error) {
	l := &Limiter{over: make([]*Rate, NumClasses()), now: cfg.Now, seed: maphash.MakeSeed()}
	for c, r := range cfg.Rates {
		if int(c) >= NumClasses() {
			return nil, fmt.Errorf("throttle: no class %d", c)
		}
		if !r.Off && (!(r.PerSecond > 0) || math.IsInf(r.PerSecond, 0) || !(r.Burst == 0 || r.Burst >= 1) || math.IsInf(r.Burst, 0)) {
			return nil, fmt.Errorf("throttle: %s: the rate must be a positive number and the burst 0 (one second's worth) or at least 1", c)
		}
		r := r
		l.over[c] = &r
	}
	if l.now == nil {
		start := time.Now()
		l.now = func() int64 { return int64(time.Since(start)) }
	}
	for i := range l.shards {
		l.shards[i].m = map[tenant]*entry{}
		l.shards[i].sweepAt = minSweep
	}
	return l, nil
}

// minSweep is the shard size below which idle entries are left alone.
const minSweep = 64

// Allow takes a token from the bucket of class c of (account, region) and
// reports whether there was one. A refused request takes nothing.
func (l *Limiter) Allow(account, region string, c Class) bool {
	e := l.entry(account, region)
	cl := &e.cells[c]
	if cl.interval == 0 {
		return true
	}
	for {
		now := l.now()
		old := cl.tat.Load()
		next := max(old, now) + cl.interval
		if next-now > cl.span {
			l.throttled.Add(1)
			return false
		}
		if cl.tat.CompareAndSwap(old, next) {
			return true
		}
	}
}

// Throttled is how many requests Allow has refused.
func (l *Limiter) Throttled() uint64 { return l.throttled.Load() }

func (l *Limiter) entry(account, region string) *entry {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(account)
	h.WriteString(region)
	sh := &l.shards[h.Sum64()%numShards]
	k := tenant{account, region}
	sh.mu.RLock()
	e := sh.m[k]
	sh.mu.RUnlock()
	if e != nil {
		return e
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e = sh.m[k]; e != nil {
		return e
	}
	if len(sh.m) >= sh.sweepAt {
		l.sweep(sh)
	}
	e = l.newEntry(region)
	sh.m[k] = e
	return e
}

// sweep drops the entries whose buckets are all full. Any region name is
// served, so without it every (account, region) ever named would stay. A
// request that found an entry just before it was dropped counts against
// the dropped one: at most one token per such request goes uncounted.
func (l *Limiter) sweep(sh *shard) {
	now := l.now()
	for k, e := range sh.m {
		if e.idle(now) {
			delete(sh.m, k)
		}
	}
	sh.sweepAt = max(minSweep, 2*len(sh.m))
}

func (e *entry) idle(now int64) bool {
	for i := range e.cells {
		if e.cells[i].tat.Load() > now {
			return false
		}
	}
	return true
}

func (l *Limiter) newEntry(region string) *entry {
	e := &entry{cells: make([]cell, len(l.over))}
	for c := range e.cells {
		r := Rate{PerSecond: DefaultRate(Class(c), region)}
		if o := l.over[c]; o != nil {
			r = *o
		}
		if r.Off {
			continue
		}
		burst := r.Burst
		if burst == 0 {
			burst = max(1, r.PerSecond)
		}
		interval := max(1, int64(float64(time.Second)/r.PerSecond))
		e.cells[c].interval = interval
		e.cells[c].span = int64(math.Min(burst*float64(interval), math.MaxInt64/4))
	}
	return e
}

// ParseRates reads the --throttle-rates syntax: comma-separated
// CLASS=RATE[:BURST] or CLASS=off, for example
// "symmetric=500:1000,rsa=50,GenerateDataKeyPair/RSA_4096=0.5,DescribeKey=off".
// Rates are requests per second; an empty string overrides nothing.
func ParseRates(s string) (map[Class]Rate, error) {
	out := map[Class]Rate{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, item := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not CLASS=RATE[:BURST] or CLASS=off", item)
		}
		c, ok := ClassByName(name)
		if !ok {
			return nil, fmt.Errorf("unknown class %q (classes: symmetric, rsa, ecc, ml-dsa, %sSPEC, or a control-plane operation such as DescribeKey)", name, PairPrefix)
		}
		if _, dup := out[c]; dup {
			return nil, fmt.Errorf("class %s is given twice", name)
		}
		if val == "off" {
			out[c] = Rate{Off: true}
			continue
		}
		rate, burst, hasBurst := strings.Cut(val, ":")
		var r Rate
		var err error
		if r.PerSecond, err = positive(rate); err != nil {
			return nil, fmt.Errorf("%s: rate: %w", name, err)
		}
		if hasBurst {
			if r.Burst, err = positive(burst); err != nil {
				return nil, fmt.Errorf("%s: burst: %w", name, err)
			}
			if r.Burst < 1 {
				return nil, fmt.Errorf("%s: burst %s is below 1: no request would ever pass", name, burst)
			}
		}
		out[c] = r
	}
	return out, nil
}

var errNotPositive = errors.New("must be a positive number")

func positive(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) || f > 1e9 {
		return 0, fmt.Errorf("%q %w (at most 1e9)", s, errNotPositive)
	}
	return f, nil
}
