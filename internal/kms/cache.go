package kms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/store"
)

// The key, alias and grant caches.
//
// A hit is one lookup in a shard of idMap under its read lock. A miss
// reads the store without writeMu, so a flood of lookups of unknown keys
// (random key ids, forged blobs) cannot queue behind writes or hold writes
// up. Concurrent misses of one id share one store read (Service.loading).
// Nothing is published to a cache except under cacheMu, by these rules, so
// a cache never goes back in time:
//
//   - a key entry never replaces one with the same or a higher store
//     revision;
//   - a fill that began before a key left the cache (deleted, or dropped
//     after a failed write) publishes nothing, since what it read may be
//     what was removed (Service.removals counts removals);
//   - an alias fill (name → key, or a key's alias names for
//     kms:ResourceAliases) publishes nothing if any alias changed since it
//     began (Service.aliasGen); an alias write drops the alias names of
//     the keys it moved the alias from and to;
//   - a grant fill (a key's grants) publishes nothing if any grant changed
//     since it began (Service.grantGen); a grant write drops its key's
//     grants after the store accepted it and before the write answers, so
//     the next request reads them afresh;
//   - an id the store does not know is remembered for negativeTTL, at most
//     maxNegative ids, so repeating it reaches the store once per TTL; a key
//     that appears (CreateKey, a fill that finds it) clears its entry, and a
//     fill that read "absent" adds none if the key appeared meanwhile.
//
// Key and alias writers hold writeMu, write the store, then publish under
// cacheMu, so cacheMu always nests inside writeMu and never the other way
// round. Grant writes need no writeMu: the store counts and checks in one
// transaction, and the cache is dropped, never patched.
//
// The key cache is bounded in keys, bytes of material and idle time, and
// what leaves it is zeroed once no request holds it (keycache.go,
// reclaim.go).
//
// A key entry carries what authorization needs of the key: its policy
// compiled and its tags as condition keys, prepared once per revision
// (keyEntry.prepare), so a request never parses a policy.

const (
	// negativeTTL bounds how long an unknown key id is answered from
	// memory. Short, because with several nodes a key created on another
	// node stays invisible here that long; long enough that a client
	// retrying a bad id, or an attacker repeating one, costs one store
	// read per id every few seconds instead of one per request.
	negativeTTL = 5 * time.Second
	// maxNegative bounds the memory of the negative cache (about 100 bytes
	// per id). A flood of distinct unknown ids gains nothing from it
	// anyway — each id costs one store read — so when it is full it is
	// emptied rather than managed.
	maxNegative = 10000
)

// keyLoad is one store read in flight; its waiters read e and err after
// done is closed.
type keyLoad struct {
	done chan struct{}
	e    *keyEntry
	err  error
}

// entry returns the cached key, loading it from the store on a miss.
func (s *Service) entry(ctx context.Context, id string) (*keyEntry, error) {
	if e, ok := s.keys.Load(id); ok {
		s.touch(e)
		s.cstats.hits.Add(1)
		return e, nil
	}
	s.cstats.misses.Add(1)
	s.cacheMu.Lock()
	if e, ok := s.keys.Load(id); ok { // published since the first look
		s.cacheMu.Unlock()
		return e, nil
	}
	if until, ok := s.missing[id]; ok {
		if s.now().Before(until) {
			s.cacheMu.Unlock()
			return nil, errKeyAbsent
		}
		delete(s.missing, id)
	}
	l := s.loading[id]
	if l == nil {
		l = &keyLoad{done: make(chan struct{})}
		s.loading[id] = l
		// The read runs apart from this request, so that the request
		// giving up (its context ends) does not fail the others waiting.
		go s.fill(context.WithoutCancel(ctx), id, l, s.removals)
	}
	s.cacheMu.Unlock()
	select {
	case <-l.done:
		return l.e, l.err
	case <-ctx.Done():
		return nil, apierr.Internal(fmt.Errorf("load key %s: %w", id, ctx.Err()))
	}
}

// fill reads key id for l and publishes the result by the rules above;
// removals is the count when the read began.
func (s *Service) fill(ctx context.Context, id string, l *keyLoad, removals uint64) {
	e, err := s.read(ctx, id)
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	delete(s.loading, id)
	switch {
	case err == nil:
		if cur := s.publishLocked(e, removals); cur != e {
			clearMaterial(e) // never handed out
			e = cur
		}
	case errors.Is(err, errKeyAbsent):
		if cur, ok := s.keys.Load(id); ok {
			e, err = cur, nil // created while the read ran
		} else if removals == s.removals {
			s.addMissingLocked(id)
		}
	}
	l.e, l.err = e, err
	close(l.done)
}

// read loads key id, of whatever tenant, from the store and unwraps its
// backing keys. It takes no lock.
func (s *Service) read(ctx context.Context, id string) (*keyEntry, error) {
	k, err := s.store.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errKeyAbsent
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("load key %s: %w", id, err))
	}
	versions, err := s.store.KeyVersions(ctx, id)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("load versions of key %s: %w", id, err))
	}
	if len(versions) == 0 && k.Origin != OriginExternal {
		// A key always has a version while it exists (but a key made
		// for imported material before its first import): it was deleted
		// between the two reads.
		return nil, errKeyAbsent
	}
	e, err := s.buildEntry(k, versions)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	return e, nil
}

// publish caches e, written by the caller under writeMu, unless the cache
// holds the same or a newer revision.
func (s *Service) publish(e *keyEntry) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.publishLocked(e, s.removals)
}

// publishLocked caches e if the cache holds no entry of the same or a
// newer revision and no key left the cache since removals was read. It
// returns the entry that is current: the cached one if it is at least as
// new, else e.
//
// e is not cached, and its material is retired (zeroed once the requests
// holding it end), when caching is off (idle expiry 0), when e alone is
// larger than the byte bound, or when e holds material already retired (a
// writer derived it from an entry evicted meanwhile). An older entry of the
// key is then dropped too, so the cache never answers with it.
func (s *Service) publishLocked(e *keyEntry, removals uint64) *keyEntry {
	id := e.meta.ID
	cur, cached := s.keys.Load(id)
	if cached && cur.meta.Revision >= e.meta.Revision {
		return cur
	}
	if removals != s.removals {
		s.retireLocked(e) // fresh from the store: no cached entry shares it
		s.reclaimLocked()
		return e
	}
	size := materialBytes(e)
	if s.cache.Idle == 0 || size > s.cache.MaxBytes || holdsRetired(e) {
		if cached {
			s.evictLocked(cur.slot)
		}
		s.retireLocked(e)
		s.reclaimLocked()
		delete(s.missing, id)
		return e
	}
	if cached {
		sl := cur.slot
		s.cacheBytes += size - sl.bytes
		sl.bytes = size
		e.slot = sl
	} else {
		e.slot = &cacheSlot{id: id, idx: len(s.slots), bytes: size}
		s.slots = append(s.slots, e.slot)
		s.cacheBytes += size
	}
	e.slot.used.Store(s.clock.Now().UnixNano())
	// e is not visible to any other request yet: its id may still change
	// to an equal string.
	e.meta.ID = idInARN(id, e.arn)
	s.keys.Store(e.meta.ID, e)
	delete(s.missing, id)
	s.shrinkLocked(e.slot)
	s.reclaimLocked()
	return e
}

// forget removes key id from the cache: after it was deleted, or when the
// cached entry may be stale because a write of it failed.
func (s *Service) forget(id string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if e, ok := s.keys.Load(id); ok {
		s.evictLocked(e.slot)
		s.reclaimLocked()
	}
	s.removals++
}

func (s *Service) addMissingLocked(id string) {
	if len(s.missing) >= maxNegative {
		now := s.now()
		for k, until := range s.missing {
			if !now.Before(until) {
				delete(s.missing, k)
			}
		}
		if len(s.missing) >= maxNegative {
			clear(s.missing)
		}
	}
	s.missing[id] = s.now().Add(negativeTTL)
}

// clearMaterial zeroes the backing keys of an entry no one else holds.
func clearMaterial(e *keyEntry) {
	for _, b := range e.versions {
		clear(b.material)
	}
}

// aliasGeneration returns the count of alias changes, to pass to
// publishAlias or publishKeyAliases after a store read.
func (s *Service) aliasGeneration() uint64 {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	return s.aliasGen
}

// publishAlias caches a → keyID, read from the store when the alias
// generation was gen, unless an alias changed since.
func (s *Service) publishAlias(a aliasKey, keyID string, gen uint64) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if gen == s.aliasGen {
		s.aliases.Store(a, keyID)
	}
}

// publishKeyAliases caches the alias names of key id, read from the store
// when the alias generation was gen, unless an alias changed since.
func (s *Service) publishKeyAliases(id string, names []string, gen uint64) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	// Only for a key in the key cache, whose eviction drops them: else
	// every key ever used would leave an entry behind.
	if _, cached := s.keys.Load(id); cached && gen == s.aliasGen {
		s.keyAliases.Store(id, names)
	}
}

// setAlias records an alias write: a now points at keyID, or at nothing
// if keyID is "". affected are the keys whose alias sets changed (the old
// and the new target), whose kms:ResourceAliases are read afresh.
func (s *Service) setAlias(a aliasKey, keyID string, affected ...string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.aliasGen++
	if keyID == "" {
		s.aliases.Delete(a)
	} else {
		s.aliases.Store(a, keyID)
	}
	for _, id := range affected {
		s.keyAliases.Delete(id)
	}
}

// forgetAliasesOf drops the cached aliases of a deleted key.
func (s *Service) forgetAliasesOf(keyID string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.aliasGen++
	s.aliases.Range(func(a, id any) bool {
		if id.(string) == keyID {
			s.aliases.Delete(a)
		}
		return true
	})
	s.keyAliases.Delete(keyID)
}

// grantGeneration returns the count of grant changes, to pass to
// publishGrants after a store read.
func (s *Service) grantGeneration() uint64 {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	return s.grantGen
}

// publishGrants caches the grants of key id, read from the store when the
// grant generation was gen, unless a grant changed since.
func (s *Service) publishGrants(id string, g *grantSet, gen uint64) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	// As publishKeyAliases: bounded by the key cache.
	if _, cached := s.keys.Load(id); cached && gen == s.grantGen {
		s.grants.Store(id, g)
	}
}

// grantsChanged records a grant write on key id: its cached grants are
// dropped and read afresh by the next request that needs them, so a new,
// retired or revoked grant counts from the next request on.
func (s *Service) grantsChanged(id string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.grantGen++
	s.grants.Delete(id)
}
