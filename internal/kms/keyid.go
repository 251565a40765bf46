package kms

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/ids"
)

// Key ids that keep the store's indexes local.
//
// A key id is a version-4 UUID, as AWS's are. Fully random ids scatter
// every new key over the whole of each index the store keeps by id (the
// keys' primary key, the (account, region, id) listing index, the
// versions' primary key): each creation dirties about three index pages
// no other key of its commit shares, so a group commit of 16 keys writes
// ~50 pages to the WAL, and at a million keys each of those pages must
// first be read from disk. That was most of the committer's time per key.
//
// So the first three bytes of an id are a random prefix shared by the
// keys made within one short window (prefixKeys keys or prefixAge,
// whichever ends first), then replaced by a fresh random prefix. Keys
// created together land next to each other in every index — a commit of
// 16 keys dirties a few pages — while ids stay random-looking version-4
// UUIDs: the prefix reveals no time and does not grow, and 98 bits stay
// random per key (a caller who sees a key made in the same window learns
// the prefix, nothing else). Ids stay unique as before: the store refuses
// a duplicate, which at 98 random bits per window does not happen.
//
// The window is small on purpose: the keys of one window are random among
// themselves, so a window of thousands of keys spreads over tens of leaf
// pages of each index, and a commit of 16 of them dirtied most of those
// (about 3 WAL frames per key at 16 per commit). A window of 64 keys fits
// a leaf of each index: about 1.2 frames per key (sqlite
// BenchmarkCreateKeyConcurrent, docs/ARCHITECTURE.md).

const (
	prefixKeys = 64
	prefixAge  = time.Second
)

// idSource makes key ids with a prefix shared by a window of keys.
type idSource struct {
	mu      sync.Mutex
	prefix  [3]byte
	left    int       // ids the prefix still serves
	expires time.Time // when it stops serving them
	now     func() time.Time
}

// next returns a new key id.
func (g *idSource) next() string {
	var u [16]byte
	_, _ = rand.Read(u[3:]) // crypto/rand.Read never fails; it crashes the program instead.
	now := g.now()
	g.mu.Lock()
	if g.left <= 0 || !now.Before(g.expires) {
		_, _ = rand.Read(g.prefix[:])
		g.left, g.expires = prefixKeys, now.Add(prefixAge)
	}
	g.left--
	copy(u[:3], g.prefix[:])
	g.mu.Unlock()
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return ids.FormatUUID(&u)
}
