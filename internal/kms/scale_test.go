package kms

import (
	"bytes"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/awsproto"
)

// idMapLen counts the entries of one of the Service's id maps.
func idMapLen[V any](m *idMap[V]) int {
	n := 0
	m.Range(func(string, V) bool { n++; return true })
	return n
}

// TestCachesBoundedByKeyCache uses many more keys than the key cache holds,
// each once, and checks that what is cached beside the keys (a key's alias
// names for kms:ResourceAliases, its grants) stays within the key cache's
// bound instead of growing with every key ever used, and that every key
// PopulateKeys stored works like one CreateKey made.
func TestCachesBoundedByKeyCache(t *testing.T) {
	const bound, keys = 20, 300
	c := CacheConfig{MaxKeys: bound, MaxBytes: 1 << 20, Idle: time.Hour}
	n := newCacheNode(t, c)
	ids, err := n.PopulateKeys(t.Context(), testAccount, testRegion, keys, 16, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != keys {
		t.Fatalf("PopulateKeys returned %d ids, want %d", len(ids), keys)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("PopulateKeys returned %s twice", id)
		}
		seen[id] = true
	}
	// A grant on one key, so that authorizing by grant fills the grant
	// cache too.
	for i, id := range ids {
		n.roundTrip(t, id)
		if i%50 == 0 {
			md, err := n.describe(t, id)
			if err != nil {
				t.Fatal(err)
			}
			if md.KeyState != StateEnabled || md.KeySpec != SpecSymmetric || md.KeyUsage != UsageEncryptDecrypt {
				t.Fatalf("populated key %s: %+v", id, md)
			}
		}
		n.checkBounds(t, c)
	}
	if got := idMapLen(&n.keyAliases); got > bound {
		t.Errorf("alias names cached for %d keys after using %d keys; the key cache holds at most %d", got, keys, bound)
	}
	if got := idMapLen(&n.grants); got > bound {
		t.Errorf("grants cached for %d keys after using %d keys; the key cache holds at most %d", got, keys, bound)
	}
	// A key used again after its eviction still works and is cached again.
	n.roundTrip(t, ids[0])
	if !n.isCached(ids[0]) {
		t.Errorf("key %s not cached after its use", ids[0])
	}
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestKeyIDsShareAWindowPrefix checks the key id source: version-4 UUIDs
// as AWS's, never repeated, the first three bytes shared within a window of
// prefixKeys ids or prefixAge and fresh after it.
func TestKeyIDsShareAWindowPrefix(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	g := &idSource{now: func() time.Time { return now }}
	seen := map[string]bool{}
	prefixes := map[string]int{}
	for range 3 * prefixKeys {
		id := g.next()
		if !uuid4.MatchString(id) {
			t.Fatalf("%q is not a canonical version-4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("%q repeated", id)
		}
		seen[id] = true
		prefixes[id[:6]]++
	}
	if len(prefixes) != 3 {
		t.Fatalf("%d ids under %d prefixes, want 3 of %d: %v", 3*prefixKeys, len(prefixes), prefixKeys, prefixes)
	}
	for p, k := range prefixes {
		if k != prefixKeys {
			t.Errorf("prefix %s served %d ids, want %d", p, k, prefixKeys)
		}
	}
	a := g.next()
	now = now.Add(prefixAge)
	if b := g.next(); a[:6] == b[:6] {
		t.Errorf("ids %s and %s, %v apart, share their prefix", a, b, prefixAge)
	}
	// Within a window the rest of the id is random.
	c, d := g.next(), g.next()
	if c[:6] != d[:6] || c[6:] == d[6:] {
		t.Errorf("ids of one window %s and %s", c, d)
	}
}

// BenchmarkKeyCacheMemory reports the heap a cached symmetric key costs:
// the cache is filled with b.N keys used once each (through Encrypt, as a
// request does), and the live heap measured before and after.
func BenchmarkKeyCacheMemory(b *testing.B) {
	c := CacheConfig{MaxKeys: max(b.N, 1), MaxBytes: 1 << 30, Idle: time.Hour}
	n := newCacheNode(b, c)
	ids, err := n.PopulateKeys(b.Context(), testAccount, testRegion, b.N, 64, nil)
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for _, id := range ids {
		if _, err := n.run(b.Context(), "Encrypt", &awsproto.EncryptInput{KeyId: &id, Plaintext: bytes.Repeat([]byte("x"), 8)}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if b.N > 0 {
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heapB/key")
		b.ReportMetric(float64(int64(after.HeapObjects)-int64(before.HeapObjects))/float64(b.N), "objects/key")
	}
	if k, _, _ := n.cacheSize(); k != b.N {
		b.Fatalf("%d keys cached, want %d", k, b.N)
	}
	runtime.KeepAlive(n)
}
