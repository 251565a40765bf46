package kms

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/clock"
)

// newCacheNode is newTestNode with the key cache bounded by c.
func newCacheNode(t testing.TB, c CacheConfig) *testNode {
	t.Helper()
	db, root := newTestStore(t) // service_test.go
	fake := clock.NewFake(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	s, err := New(Config{Store: db, Root: root, Clock: fake, Logger: slog.New(slog.DiscardHandler), KeyCache: &c})
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{Service: s, db: db, root: root, clock: fake}
}

func (n *testNode) createKeyOf(t *testing.T, spec string) string {
	t.Helper()
	in := &awsproto.CreateKeyInput{}
	if spec != SpecSymmetric {
		usage := UsageSignVerify
		in.KeySpec, in.KeyUsage = &spec, &usage
	}
	out, err := n.run(t.Context(), "CreateKey", in)
	if err != nil {
		t.Fatalf("CreateKey %s: %v", spec, err)
	}
	return out.(*awsproto.KeyMetadataOutput).KeyMetadata.KeyId
}

func (n *testNode) checkBounds(t *testing.T, c CacheConfig) {
	t.Helper()
	keys, size, ok := n.cacheSize()
	if !ok {
		t.Fatalf("cache totals disagree with the cache: %d keys, %d bytes counted", keys, size)
	}
	if keys > c.MaxKeys || size > c.MaxBytes {
		t.Fatalf("cache holds %d keys and %d bytes; bounds are %d and %d", keys, size, c.MaxKeys, c.MaxBytes)
	}
}

// TestKeyCacheBound creates more keys than the cache may hold, by count or
// by bytes: after every operation the cache is within its bounds, and every
// key, evicted or not, still works (it is unwrapped again).
func TestKeyCacheBound(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cache CacheConfig
		spec  string
		keys  int
	}{
		{"count", CacheConfig{MaxKeys: 3, MaxBytes: 1 << 20, Idle: time.Hour}, SpecSymmetric, 10},
		{"bytes", CacheConfig{MaxKeys: 100, MaxBytes: 4 * 32, Idle: time.Hour}, SpecSymmetric, 10},
		{"bytes of asymmetric keys", CacheConfig{MaxKeys: 100, MaxBytes: 400, Idle: time.Hour}, "ECC_NIST_P256", 6},
		{"one key", CacheConfig{MaxKeys: 1, MaxBytes: 1 << 20, Idle: time.Hour}, SpecSymmetric, 4},
		{"key larger than the byte bound", CacheConfig{MaxKeys: 10, MaxBytes: 16, Idle: time.Hour}, SpecSymmetric, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newCacheNode(t, tt.cache)
			var ids []string
			for range tt.keys {
				ids = append(ids, n.createKeyOf(t, tt.spec))
				n.checkBounds(t, tt.cache)
			}
			for range 3 {
				for _, id := range ids {
					if tt.spec == SpecSymmetric {
						n.roundTrip(t, id)
					} else {
						n.signVerify(t, id)
					}
					n.checkBounds(t, tt.cache)
				}
			}
			if keys, _, _ := n.cacheSize(); keys == tt.keys {
				t.Fatalf("all %d keys cached: nothing was evicted", keys)
			}
			if p := n.pendingZero(); p != 0 {
				t.Errorf("%d evicted backing keys not zeroed with no request in flight", p)
			}
		})
	}
}

func (n *testNode) signVerify(t *testing.T, id string) {
	t.Helper()
	alg, mt := "ECDSA_SHA_256", "RAW"
	msg := []byte("still usable")
	out, err := n.run(t.Context(), "Sign", &awsproto.SignInput{KeyId: &id, Message: msg, SigningAlgorithm: &alg, MessageType: &mt})
	if err != nil {
		t.Fatalf("Sign(%s): %v", id, err)
	}
	sig := out.(*awsproto.SignOutput).Signature
	if _, err := n.run(t.Context(), "Verify", &awsproto.VerifyInput{KeyId: &id, Message: msg, Signature: sig, SigningAlgorithm: &alg, MessageType: &mt}); err != nil {
		t.Fatalf("Verify(%s): %v", id, err)
	}
}

func allZero(m [][]byte) bool {
	for _, b := range m {
		if len(b) == 0 || !bytes.Equal(b, make([]byte, len(b))) {
			return false
		}
	}
	return len(m) > 0
}

// TestKeyCacheIdleExpiry moves the fake clock past the idle expiry: after a
// sweep the key is out of the cache and the very bytes that held its
// backing keys are zero; the next use unwraps it again. With expiry 0
// nothing is cached and the material of each use is zeroed when the use
// ends.
func TestKeyCacheIdleExpiry(t *testing.T) {
	for _, tt := range []struct {
		name    string
		idle    time.Duration
		advance time.Duration // before the sweep
		expired bool
	}{
		{"used within the expiry", 10 * time.Minute, 9 * time.Minute, false},
		{"idle past the expiry", 10 * time.Minute, 10*time.Minute + time.Second, true},
		{"expiry 0: nothing cached", 0, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newCacheNode(t, CacheConfig{MaxKeys: 100, MaxBytes: 1 << 20, Idle: tt.idle})
			id := n.createKey(t)
			n.do(t, "RotateKeyOnDemand", id) // two versions to zero
			n.roundTrip(t, id)
			m, err := n.heldMaterial(id)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != 2 {
				t.Fatalf("key has %d versions, want 2", len(m))
			}
			n.clock.Advance(tt.advance)
			n.sweep()
			if got := n.isCached(id); got == tt.expired {
				t.Fatalf("cached after the sweep = %v, want %v", got, !tt.expired)
			}
			if got := allZero(m); got != tt.expired {
				t.Fatalf("material zeroed = %v, want %v", got, tt.expired)
			}
			n.roundTrip(t, id)
			if tt.idle == 0 && n.isCached(id) {
				t.Fatal("expiry 0 cached the key")
			}
		})
	}
}

// TestKeyCacheEvictionUnderLoad evicts (bound, idle sweeps, expiry 0) while
// many goroutines encrypt, decrypt, sign and rotate, and checks every
// result: material zeroed under a request would show as a ciphertext that
// does not decrypt or a signature that does not verify. Run it with -race.
func TestKeyCacheEvictionUnderLoad(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cache CacheConfig
	}{
		{"count bound", CacheConfig{MaxKeys: 2, MaxBytes: 1 << 20, Idle: time.Minute}},
		{"byte bound", CacheConfig{MaxKeys: 100, MaxBytes: 200, Idle: time.Minute}},
		{"expiry 0", CacheConfig{MaxKeys: 100, MaxBytes: 1 << 20, Idle: 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newCacheNode(t, tt.cache)
			var sym, asym []string
			for range 6 {
				sym = append(sym, n.createKey(t))
			}
			for range 2 {
				asym = append(asym, n.createKeyOf(t, "ECC_NIST_P256"))
			}
			const workers, rounds = 16, 40
			var bg, load sync.WaitGroup
			var stop atomic.Bool
			errs := make(chan error, workers+1)
			// The sweeper, with time running fast.
			bg.Go(func() {
				for !stop.Load() {
					n.clock.Advance(20 * time.Second)
					n.sweep()
				}
			})
			// A writer: rotations publish snapshots sharing the material
			// of the ones requests hold.
			bg.Go(func() {
				for i := 0; !stop.Load() && i < 10; i++ {
					id := sym[i%len(sym)]
					if _, err := n.run(t.Context(), "RotateKeyOnDemand", &awsproto.KeyIdInput{KeyId: &id}); err != nil {
						errs <- fmt.Errorf("RotateKeyOnDemand: %w", err)
						return
					}
				}
			})
			for w := range workers {
				load.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 1))
					for i := range rounds {
						if err := n.useOnce(t, r, sym, asym, fmt.Sprintf("w%d-%d", w, i)); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			load.Wait()
			stop.Store(true)
			bg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			n.checkBounds(t, tt.cache)
			// A request that left while the sweeper held the lock left the
			// zeroing to the next sweep.
			n.sweep()
			if p := n.pendingZero(); p != 0 {
				t.Errorf("%d retired backing keys not zeroed after the load ended", p)
			}
		})
	}
}

// useOnce encrypts and decrypts with a random symmetric key, or signs and
// verifies with a random asymmetric one, and reports any wrong result.
func (n *testNode) useOnce(t *testing.T, r *rand.Rand, sym, asym []string, label string) error {
	ctx := t.Context()
	if r.IntN(4) == 0 {
		id := asym[r.IntN(len(asym))]
		alg, mt := "ECDSA_SHA_256", "RAW"
		msg := []byte(label)
		out, err := n.run(ctx, "Sign", &awsproto.SignInput{KeyId: &id, Message: msg, SigningAlgorithm: &alg, MessageType: &mt})
		if err != nil {
			return fmt.Errorf("%s: Sign: %w", label, err)
		}
		sig := out.(*awsproto.SignOutput).Signature
		if _, err := n.run(ctx, "Verify", &awsproto.VerifyInput{KeyId: &id, Message: msg, Signature: sig, SigningAlgorithm: &alg, MessageType: &mt}); err != nil {
			return fmt.Errorf("%s: Verify: %w", label, err)
		}
		return nil
	}
	id := sym[r.IntN(len(sym))]
	pt := []byte(label)
	enc, err := n.run(ctx, "Encrypt", &awsproto.EncryptInput{KeyId: &id, Plaintext: bytes.Clone(pt)})
	if err != nil {
		return fmt.Errorf("%s: Encrypt: %w", label, err)
	}
	dec, err := n.run(ctx, "Decrypt", &awsproto.DecryptInput{CiphertextBlob: enc.(*awsproto.EncryptOutput).CiphertextBlob})
	if err != nil {
		return fmt.Errorf("%s: Decrypt: %w", label, err)
	}
	if got := dec.(*awsproto.DecryptOutput).Plaintext; !bytes.Equal(got, pt) {
		return fmt.Errorf("%s: Decrypt = %q, want %q", label, got, pt)
	}
	return nil
}

// TestEvictedMaterialWaitsForRequests holds a request open (a read-side
// section) across an eviction: the material must stay intact while that
// request may use it, and be zeroed when it ends — even if requests that
// began after the eviction are still running, since those cannot hold it.
func TestEvictedMaterialWaitsForRequests(t *testing.T) {
	n := newCacheNode(t, CacheConfig{MaxKeys: 100, MaxBytes: 1 << 20, Idle: time.Minute})
	id := n.createKey(t)
	n.roundTrip(t, id)
	before := n.enterSection() // a request that looked the key up
	m, err := n.heldMaterial(id)
	if err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(2 * time.Minute)
	n.sweep()
	if n.isCached(id) {
		t.Fatal("idle key still cached after the sweep")
	}
	if allZero(m) || n.pendingZero() == 0 {
		t.Fatal("material zeroed while a request that may hold it is running")
	}
	after := n.enterSection() // began after the eviction
	n.leaveSection(before)
	if !allZero(m) || n.pendingZero() != 0 {
		t.Fatal("material not zeroed when the last request that could hold it ended")
	}
	n.leaveSection(after)
	n.roundTrip(t, id) // unwrapped again
}

// TestCachedKeyIDSharesARN checks the layout publication gives a cached
// key (idInARN): its id, which is also the cache's map key, is the tail of
// its ARN's bytes, not a copy elsewhere in memory — for a key just
// created, one read back from the store and one republished by a write.
// Only speed depends on it, so nothing else would notice if it were lost.
func TestCachedKeyIDSharesARN(t *testing.T) {
	for _, tt := range []struct {
		name string
		then func(t *testing.T, n *testNode, id string)
	}{
		{"created", func(*testing.T, *testNode, string) {}},
		{"read from the store", func(t *testing.T, n *testNode, id string) {
			n.clock.Advance(2 * time.Minute)
			n.sweep() // evicted: the next use reads the key from the store
			if n.isCached(id) {
				t.Fatal("key still cached after its idle expiry")
			}
			n.roundTrip(t, id)
		}},
		{"rotated", func(t *testing.T, n *testNode, id string) { n.do(t, "RotateKeyOnDemand", id) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newCacheNode(t, CacheConfig{MaxKeys: 100, MaxBytes: 1 << 20, Idle: time.Minute})
			id := n.createKey(t)
			tt.then(t, n, id)
			found := false
			n.keys.Range(func(key string, e *keyEntry) bool {
				if key != id {
					return true
				}
				found = true
				tail := unsafe.StringData(e.arn[len(e.arn)-len(id):])
				if unsafe.StringData(e.meta.ID) != tail {
					t.Errorf("the entry's id is a copy, not its ARN's tail")
				}
				if unsafe.StringData(key) != tail {
					t.Errorf("the cache's key is a copy, not the ARN's tail")
				}
				return false
			})
			if !found {
				t.Fatal("key not cached")
			}
		})
	}
}
