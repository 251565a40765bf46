package kms

import "sync/atomic"

// cacheCounters count what the key cache did, for metrics. A hit costs
// one atomic add.
type cacheCounters struct {
	hits, misses, evictions atomic.Uint64
}

// CacheStats describe the key cache since the Service was made.
type CacheStats struct {
	// Hits and Misses count key lookups the cache answered or sent to
	// the store (a miss may still find the key loading for another
	// request).
	Hits, Misses uint64
	// Evictions counts keys dropped for the cache's bounds or idle
	// expiry (not those dropped because they changed).
	Evictions uint64
	// Keys and Bytes are what the cache holds now.
	Keys  int
	Bytes int64
}

// CacheStats returns the key cache's counters and size.
func (s *Service) CacheStats() CacheStats {
	st := CacheStats{Hits: s.cstats.hits.Load(), Misses: s.cstats.misses.Load(), Evictions: s.cstats.evictions.Load()}
	s.cacheMu.Lock()
	st.Keys, st.Bytes = len(s.slots), s.cacheBytes
	s.cacheMu.Unlock()
	return st
}
