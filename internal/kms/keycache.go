package kms

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
	"unique"

	"github.com/trent-kms/trent/internal/store"
)

// Bounds of the key cache: how much unwrapped key material stays in memory,
// and for how long after its last use.
//
// Each cached key has a cacheSlot, shared by the snapshots of the key
// published while it stays cached. A cache hit only stores the time in the
// slot's atomic (and only when it moved by touchEvery, so a hot key does
// not bounce one cache line between cores): Encrypt takes no lock. The
// bounds are kept under cacheMu, where entries are published: when a
// publication takes the cache over a bound, entries are evicted right away,
// the least recently used of a few sampled at random each time (as Redis
// approximates LRU), which costs O(1) per eviction without a list to
// reorder on every hit. The sweeper drops the entries idle longer than the
// idle expiry. Evicted material is retired and zeroed once no request can
// hold it (reclaim.go).

// CacheConfig bounds the cache of unwrapped backing keys and parsed private
// keys.
type CacheConfig struct {
	// MaxKeys is the most keys cached at once (at least 1).
	MaxKeys int
	// MaxBytes is the most bytes of key material cached at once (at least
	// 1): the sum of the unwrapped backing keys of every version of every
	// cached key (a symmetric version is 32 bytes, an RSA 4096 version
	// about 2.4 KB). A key larger than this is unwrapped per request.
	MaxBytes int64
	// Idle is how long a key stays cached after its last use. 0 caches
	// nothing: every request unwraps the key from the store and its
	// material is zeroed when the request ends.
	Idle time.Duration
}

// DefaultCacheConfig keeps the keys of a busy installation cached — a
// working set of up to 10,000 keys, which is 320 KB of symmetric material or
// about 24 MB of RSA 4096 keys — and caps memory at 64 MiB of material
// however many keys the store holds. A key unused for 10 minutes leaves
// memory; unwrapping it again costs one store read.
var DefaultCacheConfig = CacheConfig{MaxKeys: 10000, MaxBytes: 64 << 20, Idle: 10 * time.Minute}

// Check reports a bound that cannot work.
func (c CacheConfig) Check() error {
	switch {
	case c.MaxKeys < 1:
		return fmt.Errorf("kms: key cache: at most %d keys: must be at least 1", c.MaxKeys)
	case c.MaxBytes < 1:
		return fmt.Errorf("kms: key cache: at most %d bytes: must be at least 1", c.MaxBytes)
	case c.Idle < 0:
		return fmt.Errorf("kms: key cache: idle expiry %v: must not be negative (0 caches nothing)", c.Idle)
	}
	return nil
}

const (
	// touchEvery is the resolution of a slot's last use: fine enough
	// that eviction tells a key used this instant from one used a moment
	// ago (at a second, a working set as large as the cache thrashed: the
	// sampled keys all looked equally recent), coarse enough that a key
	// used by every request is written at most 100 times a second.
	touchEvery = 10 * time.Millisecond
	// evictSample is how many cached keys an eviction compares.
	evictSample = 5
)

// cacheSlot is the cache's record of one cached key.
type cacheSlot struct {
	used  atomic.Int64 // last use, Unix nanoseconds of s.clock
	id    string
	idx   int   // position in Service.slots; under cacheMu
	bytes int64 // materialBytes of the cached entry; under cacheMu
}

// touch records a use of the cached entry e.
func (s *Service) touch(e *keyEntry) {
	sl := e.slot
	if sl == nil {
		return
	}
	now := s.clock.Now().UnixNano()
	if now-sl.used.Load() >= int64(touchEvery) {
		sl.used.Store(now)
	}
}

// materialBytes is what e counts against the byte bound.
func materialBytes(e *keyEntry) int64 {
	var n int64
	for _, b := range e.versions {
		n += int64(len(b.material))
	}
	return n
}

// holdsRetired reports whether e holds material retired from the cache.
// The caller holds cacheMu.
func holdsRetired(e *keyEntry) bool {
	for _, b := range e.versions {
		if b.retired {
			return true
		}
	}
	return false
}

// evictLocked drops the key of slot sl from the cache and retires its
// material. It does not count as a removal: the store still has the key as
// cached, so a fill in flight may publish what it read.
func (s *Service) evictLocked(sl *cacheSlot) {
	v, ok := s.keys.Load(sl.id)
	if !ok || v.slot != sl {
		return
	}
	s.keys.Delete(sl.id)
	// What the caches hold beside the entry goes with it, so that their
	// size is bounded by the key cache's: a later request reads them
	// afresh (publishKeyAliases and publishGrants store them only for
	// cached keys).
	s.keyAliases.Delete(sl.id)
	s.grants.Delete(sl.id)
	last := s.slots[len(s.slots)-1]
	s.slots[sl.idx] = last
	last.idx = sl.idx
	s.slots[len(s.slots)-1] = nil
	s.slots = s.slots[:len(s.slots)-1]
	s.cacheBytes -= sl.bytes
	s.retireLocked(v)
}

// shrinkLocked evicts keys other than keep until the cache is within its
// bounds.
func (s *Service) shrinkLocked(keep *cacheSlot) {
	for len(s.slots) > s.cache.MaxKeys || s.cacheBytes > s.cache.MaxBytes {
		var victim *cacheSlot
		for range evictSample {
			c := s.slots[rand.IntN(len(s.slots))]
			if c != keep && (victim == nil || c.used.Load() < victim.used.Load()) {
				victim = c
			}
		}
		if victim == nil {
			continue // sampled keep only; try again
		}
		s.evictLocked(victim)
		s.cstats.evictions.Add(1)
	}
}

// sweep drops the keys idle longer than the idle expiry and zeroes the
// retired material no request holds any more.
func (s *Service) sweep() {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	cutoff := s.clock.Now().Add(-s.cache.Idle).UnixNano()
	for i := 0; i < len(s.slots); {
		if sl := s.slots[i]; sl.used.Load() <= cutoff {
			s.evictLocked(sl) // moves the last slot to i
			s.cstats.evictions.Add(1)
		} else {
			i++
		}
	}
	s.reclaimLocked()
}

// sweepEvery is how often the sweeper runs for an idle expiry: often enough
// that a key outlives its expiry by at most a quarter of it (and a second),
// seldom enough to cost nothing.
func sweepEvery(idle time.Duration) time.Duration {
	return min(max(idle/4, time.Second), time.Minute)
}

// RunCacheSweeper drops idle keys from the cache and zeroes their material,
// every quarter of the idle expiry (at least every second, at most every
// minute), until ctx ends. Without it, keys leave the cache only when a
// bound is reached.
func (s *Service) RunCacheSweeper(ctx context.Context) {
	t := time.NewTicker(sweepEvery(s.cache.Idle))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// idInARN returns id as the tail of arn's bytes when arn ends with it (a
// multi-Region key's stored id does not), else id. A cached entry's id is
// the cache's map key, compared on every lookup and parsed by every
// Encrypt; the ARN is read by every request too (its audit event names
// it). Sharing one object saves a request a memory line: with Encrypt
// spread over 10,000 hot keys of a million, ~2 µs of its CPU, hot ÷ one
// key 0.90 → 0.93 by the means of 12 alternated wrk pairs
// (docs/ARCHITECTURE.md, "A key's id inside its ARN").
func idInARN(id, arn string) string {
	if n := len(arn) - len(id); n > 0 && arn[n-1] == '/' && arn[n:] == id {
		return arn[n:]
	}
	return id
}

// shareStrings replaces the strings of k that many keys have in common —
// the key policy above all (every key made without one carries the same
// default document, 269 bytes), then account, region, spec, usage, origin
// and state — by one canonical copy each (package unique, which holds them
// weakly), so that a cached key costs memory for what is its own. Before,
// each cache fill kept its own copies as read from the store: a quarter of
// a cached symmetric key's heap.
func shareStrings(k *store.Key) {
	for _, s := range []*string{&k.Policy, &k.Account, &k.Region, &k.KeySpec, &k.KeyUsage, &k.Origin, &k.State, &k.PrimaryRegion} {
		if *s != "" {
			*s = unique.Make(*s).Value()
		}
	}
}
