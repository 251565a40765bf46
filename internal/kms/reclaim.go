package kms

import "sync/atomic"

// Zeroing evicted key material safely.
//
// Cached entries are immutable snapshots that requests read without a lock,
// and snapshots share their backing keys: a metadata change or a rotation
// publishes a new entry holding the same *backing values, and a request may
// still be working with the entry it looked up before. Zeroing a backing
// key the moment the cache drops it would hand a request in flight a key of
// zeroes half-way through an Encrypt — a ciphertext that decrypts to
// nothing, with no error anywhere.
//
// A reference count per entry would have to be taken on every cache hit
// and released on every path out of every handler; one missed release
// keeps a key forever, one release too many zeroes it under a request.
// The garbage collector cannot do it either: Go's liveness is precise, so
// the backing (and any cleanup attached to it) can die while a callee still
// uses the material slice it was given.
//
// So material is reclaimed by epochs, as read-copy-update does: every
// request runs in a read-side section (enterSection in invoke, one atomic
// add and a re-check; leaveSection at its end). The cache retires what it
// drops — evicted, expired, deleted, or never cached — tagged with the
// epoch of the moment it left every place a new request could find it.
// The epoch advances only when no request of the epoch before the current
// one is still running, so material retired at epoch t is zeroed once the
// epoch reaches t+2: every request that could have seen it has ended.
// Zeroing happens under cacheMu, when a request leaves while something is
// pending, at each eviction and at each sweep.
//
// Only code that reads key material (material, private) must run in a
// section; that is every handler, since all run through invoke. Writers
// and the lifecycle job derive new snapshots from cached ones; a snapshot
// holding a retired backing is never published (publishLocked), so
// retired material cannot come back into the cache.

// section counts the requests in flight that began in epochs of one
// parity, padded so the two counters do not share a cache line.
type section struct {
	n atomic.Int64
	_ [56]byte
}

// retiredMaterial is a backing key waiting for the requests that may hold
// it to end.
type retiredMaterial struct {
	b     *backing
	epoch uint64
}

// firstEpoch keeps epoch-2 from wrapping around.
const firstEpoch = 2

// enterSection marks the start of a request that may read key material and
// returns the epoch to give to leaveSection.
func (s *Service) enterSection() uint64 {
	for {
		e := s.epoch.Load()
		c := &s.active[e&1]
		c.n.Add(1)
		// If the epoch moved meanwhile, the reclaimer may have checked
		// this counter before the add: count in the new epoch instead.
		if s.epoch.Load() == e {
			return e
		}
		c.n.Add(-1)
	}
}

// leaveSection ends a request begun in epoch e, and zeroes retired material
// if this was the last request that could hold it.
func (s *Service) leaveSection(e uint64) {
	s.active[e&1].n.Add(-1)
	if s.pending.Load() > 0 {
		// Only while something waits to be zeroed (an eviction just
		// happened, or the cache is off): a cache hit with nothing
		// pending takes no lock. cacheMu is held for map updates only,
		// so the wait is short, and the material goes as soon as the
		// last request that could hold it ends.
		s.cacheMu.Lock()
		s.reclaimLocked()
		s.cacheMu.Unlock()
	}
}

// retireLocked takes the backings of e that are not retired yet out of
// use: they are zeroed once no request can hold them. The caller has made
// sure no cached entry holds them, and calls reclaimLocked when done.
func (s *Service) retireLocked(e *keyEntry) {
	ep := s.epoch.Load()
	for _, b := range e.versions {
		if !b.retired {
			b.retired = true
			s.retired = append(s.retired, retiredMaterial{b, ep})
		}
	}
	s.pending.Store(int64(len(s.retired)))
}

// reclaimLocked zeroes the retired material no request can hold any more,
// advancing the epoch as far as the requests in flight allow.
func (s *Service) reclaimLocked() {
	for len(s.retired) > 0 {
		ep := s.epoch.Load()
		kept := s.retired[:0]
		for _, r := range s.retired {
			if r.epoch+2 <= ep {
				zeroBacking(r.b)
			} else {
				kept = append(kept, r)
			}
		}
		clear(s.retired[len(kept):])
		s.retired = kept
		if len(kept) == 0 {
			break
		}
		// Requests of epoch ep-1 count in the counter epoch ep+1 will
		// use; the epoch may move on once they have all ended.
		if s.active[(ep+1)&1].n.Load() != 0 {
			break
		}
		s.epoch.Store(ep + 1)
	}
	s.pending.Store(int64(len(s.retired)))
}

// zeroBacking zeroes a backing key's material and drops its parsed form
// (whose big-number and curve internals Go offers no way to zero).
func zeroBacking(b *backing) {
	clear(b.material)
	b.private = nil
}
