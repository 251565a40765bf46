package kms

import "context"

// What the key cache tests observe of the cache (keycache_test.go).

// cacheSize returns the number of cached keys and the bytes of key
// material they hold, as the bounds count them, after checking that the
// running totals agree with the cache itself.
func (s *Service) cacheSize() (keys int, bytes int64, consistent bool) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	var n int
	var b int64
	s.keys.Range(func(_ string, v *keyEntry) bool {
		n++
		b += materialBytes(v)
		return true
	})
	return len(s.slots), s.cacheBytes, n == len(s.slots) && b == s.cacheBytes
}

// isCached reports whether key id has a cache entry.
func (s *Service) isCached(id string) bool {
	_, ok := s.keys.Load(id)
	return ok
}

// heldMaterial looks key id up as a request does, inside a read-side
// section, and returns the backing key slices of its entry: the very
// memory the cache must zero once the entry is dropped and no request
// holds it.
func (s *Service) heldMaterial(id string) ([][]byte, error) {
	defer s.leaveSection(s.enterSection())
	e, err := s.entry(context.Background(), id)
	if err != nil {
		return nil, err
	}
	var m [][]byte
	for _, b := range e.versions {
		m = append(m, b.material)
	}
	return m, nil
}

// pendingZero is the number of retired backing keys not yet zeroed.
func (s *Service) pendingZero() int { return int(s.pending.Load()) }
