package kms

import (
	"hash/maphash"
	"sync"
	"unsafe"
)

// idMap is a concurrent map from key ids, for the caches every request
// reads (the key entries, their alias names and grants). It is a set of
// shards, each a plain map under a read-write lock, chosen by the id's
// hash.
//
// It replaced sync.Map there because sync.Map's lookups got dear as the
// cache filled: with Encrypt spread over 10,000 hot keys, its trie walk
// (a node per level, then the entry, then the key's bytes, each a likely
// cache miss) took ~1.5 µs per lookup against ~0.15 µs with one key, and
// a request makes two or three (docs/ARCHITECTURE.md, "Scale: a million
// keys"). A shard's map finds an id in one or two probes.
//
// The zero idMap is empty and ready to use.
type idMap[V any] struct {
	shards [idMapShards]idShard[V]
}

// idSeed picks the shards; each shard's map has its own seed besides.
var idSeed = maphash.MakeSeed()

// idMapShards spreads the locks' cache lines so that two CPUs' readers
// seldom share one; writers (fills, evictions) take one shard's lock.
const idMapShards = 64

type idShard[V any] struct {
	mu sync.RWMutex
	m  map[string]V
	_  [64 - unsafe.Sizeof(sync.RWMutex{}) - unsafe.Sizeof(uintptr(0))]byte // a shard per cache line
}

func (m *idMap[V]) shard(id string) *idShard[V] {
	return &m.shards[maphash.String(idSeed, id)%idMapShards]
}

func (m *idMap[V]) Load(id string) (V, bool) {
	sh := m.shard(id)
	sh.mu.RLock()
	v, ok := sh.m[id]
	sh.mu.RUnlock()
	return v, ok
}

func (m *idMap[V]) Store(id string, v V) {
	sh := m.shard(id)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[string]V)
	}
	sh.m[id] = v
	sh.mu.Unlock()
}

func (m *idMap[V]) Delete(id string) {
	sh := m.shard(id)
	sh.mu.Lock()
	delete(sh.m, id)
	sh.mu.Unlock()
}

func (m *idMap[V]) Clear() {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		sh.m = nil
		sh.mu.Unlock()
	}
}

// Range calls f for each id and value until f returns false. Like
// sync.Map's Range it holds no lock while f runs, so f may change the map;
// each shard is read at one moment, and an id stored meanwhile may or may
// not be seen.
func (m *idMap[V]) Range(f func(id string, v V) bool) {
	type pair struct {
		id string
		v  V
	}
	var pairs []pair
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		pairs = pairs[:0]
		for id, v := range sh.m {
			pairs = append(pairs, pair{id, v})
		}
		sh.mu.RUnlock()
		for _, p := range pairs {
			if !f(p.id, p.v) {
				return
			}
		}
	}
}
