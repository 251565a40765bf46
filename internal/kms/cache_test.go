package kms

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/store"
)

// blocked is how long a test waits for a call that must not block before
// it calls it blocked. Generous: the point is that the call returns at all
// while the write lock is held, not how fast.
const blocked = 30 * time.Second

// forgedBlob returns a well-formed ciphertext blob that names the key id
// instead of the key that made it.
func forgedBlob(t *testing.T, n *testNode, id string) []byte {
	t.Helper()
	real := n.createKey(t)
	out, err := n.run(t.Context(), "Encrypt", &awsproto.EncryptInput{KeyId: &real, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	blob := out.(*awsproto.EncryptOutput).CiphertextBlob
	// The header: format byte, then the key id's 16 bytes.
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil || len(raw) != 16 {
		t.Fatalf("key id %s: %v", id, err)
	}
	copy(blob[1:17], raw)
	return blob
}

// TestMissDoesNotTakeWriteLock holds the write lock, as a slow write
// would, and looks up keys that are not in the cache: the lookups must
// answer, not queue behind the writer.
func TestMissDoesNotTakeWriteLock(t *testing.T) {
	tests := []struct {
		name   string
		lookup func(t *testing.T, n, other *testNode) (string, func() error)
		want   string // error code, "" for success
	}{
		{"DescribeKey of an unknown key", func(t *testing.T, n, other *testNode) (string, func() error) {
			id := ids.NewUUID()
			return id, func() error { _, err := n.describe(t, id); return err }
		}, apierr.NotFound},
		{"DescribeKey of a key this node has not seen", func(t *testing.T, n, other *testNode) (string, func() error) {
			id := other.createKey(t)
			return id, func() error { _, err := n.describe(t, id); return err }
		}, ""},
		{"Decrypt of a blob naming an unknown key", func(t *testing.T, n, other *testNode) (string, func() error) {
			id := ids.NewUUID()
			blob := forgedBlob(t, n, id)
			return id, func() error {
				_, err := n.run(t.Context(), "Decrypt", &awsproto.DecryptInput{CiphertextBlob: blob})
				return err
			}
		}, apierr.InvalidCiphertext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			other := newNodeOn(t, n.db, n.root, n.clock)
			id, lookup := tt.lookup(t, n, other)
			if _, ok := n.keys.Load(id); ok {
				t.Fatal("the key is cached: the test would not miss")
			}

			n.writeMu.Lock()
			defer n.writeMu.Unlock()
			done := make(chan error, 1)
			go func() { done <- lookup() }()
			select {
			case err := <-done:
				if tt.want == "" && err != nil {
					t.Fatalf("lookup: %v", err)
				}
				if tt.want != "" {
					wantCode(t, "lookup", err, tt.want)
				}
			case <-time.After(blocked):
				t.Fatalf("the lookup did not return in %v with the write lock held: a miss waits for writers", blocked)
			}
		})
	}
}

// TestLookupFloodReadsStoreOnce sends many lookups of one key that is
// not cached, at once and one after another: the store is read once.
func TestLookupFloodReadsStoreOnce(t *testing.T) {
	const flood = 64
	tests := []struct {
		name  string
		known bool // the key exists (created by another node)
	}{
		{"unknown key", false},
		{"key this node has not seen", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := newTestNode(t)
			spy := &spyStore{Store: base.db}
			n := newNodeOn(t, spy, base.root, base.clock)
			id := ids.NewUUID()
			if tt.known {
				id = base.createKey(t)
			}
			check := func(err error) error {
				switch {
				case tt.known && err != nil:
					return err
				case !tt.known && !apierr.Is(err, apierr.NotFound):
					return fmt.Errorf("%v, want NotFoundException", err)
				}
				return nil
			}

			var wg sync.WaitGroup
			errs := make(chan error, flood)
			for range flood {
				wg.Go(func() {
					_, err := n.describe(t, id)
					if err := check(err); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("concurrent DescribeKey: %v", err)
			}
			for range flood {
				_, err := n.describe(t, id)
				if err := check(err); err != nil {
					t.Fatalf("DescribeKey: %v", err)
				}
			}
			if got := spy.getKey.Load(); got != 1 {
				t.Errorf("%d lookups read the store %d times, want 1", 2*flood, got)
			}

			// An unknown id is remembered for negativeTTL only.
			n.clock.Advance(negativeTTL)
			n.describe(t, id)
			want := int64(1)
			if !tt.known {
				want = 2
			}
			if got := spy.getKey.Load(); got != want {
				t.Errorf("after negativeTTL the store was read %d times, want %d", got, want)
			}
		})
	}
}

// TestKeyFoundAfterNegativeLookup looks a key id up before the key exists,
// then creates it: it must be found — at once when this node creates it,
// within negativeTTL when another node does.
func TestKeyFoundAfterNegativeLookup(t *testing.T) {
	tests := []struct {
		name    string
		create  func(t *testing.T, n, other *testNode, id string)
		waitTTL bool
	}{
		{"CreateKey on this node", func(t *testing.T, n, other *testNode, id string) {
			n.newID = func() string { return id }
			n.createKey(t)
		}, false},
		{"CreateKey on another node", func(t *testing.T, n, other *testNode, id string) {
			other.newID = func() string { return id }
			other.createKey(t)
		}, true},
		{"CreateKey on this node, then its cache entry dropped", func(t *testing.T, n, other *testNode, id string) {
			n.newID = func() string { return id }
			n.createKey(t)
			// A change through another node makes this node's next write
			// of the key conflict; the conflict drops the cached entry and
			// the write is applied again to the key as stored, keeping the
			// other node's change.
			desc := "changed elsewhere"
			if _, err := other.run(t.Context(), "UpdateKeyDescription", &awsproto.UpdateKeyDescriptionInput{KeyId: &id, Description: &desc}); err != nil {
				t.Fatalf("UpdateKeyDescription on the other node: %v", err)
			}
			if _, err := n.run(t.Context(), "DisableKey", &awsproto.KeyIdInput{KeyId: &id}); err != nil {
				t.Fatalf("DisableKey after a change through another node: %v", err)
			}
			md, err := n.describe(t, id)
			if err != nil || md.Enabled || md.Description != desc {
				t.Fatalf("after the retried DisableKey: %+v, %v; want disabled with the other node's description", md, err)
			}
			if _, err := n.run(t.Context(), "EnableKey", &awsproto.KeyIdInput{KeyId: &id}); err != nil {
				t.Fatalf("EnableKey: %v", err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			other := newNodeOn(t, n.db, n.root, n.clock)
			id := ids.NewUUID()
			_, err := n.describe(t, id)
			wantCode(t, "DescribeKey before CreateKey", err, apierr.NotFound)

			tt.create(t, n, other, id)
			if tt.waitTTL {
				n.clock.Advance(negativeTTL)
			}
			md, err := n.describe(t, id)
			if err != nil {
				t.Fatalf("DescribeKey after CreateKey: %v", err)
			}
			if md.KeyId != id {
				t.Fatalf("found key %s, want %s", md.KeyId, id)
			}
			n.roundTrip(t, id)
		})
	}
}

// TestStaleNegativeFillAfterCreate: a lookup reads "absent" from the
// store, CreateKey of that id commits before the lookup publishes; the
// lookup must not leave a negative entry behind.
func TestStaleNegativeFillAfterCreate(t *testing.T) {
	base := newTestNode(t)
	spy := &spyStore{Store: base.db}
	n := newNodeOn(t, spy, base.root, base.clock)
	id := ids.NewUUID()
	read, release := make(chan struct{}), make(chan struct{})
	spy.afterRead = func(op, name string) {
		if op == "GetKey" && name == id {
			close(read)
			<-release
		}
	}
	done := make(chan error, 1)
	go func() { _, err := n.describe(t, id); done <- err }()
	<-read
	spy.afterRead = nil
	n.newID = func() string { return id }
	n.createKey(t)
	close(release)
	if err := <-done; err != nil && !apierr.Is(err, apierr.NotFound) {
		t.Fatalf("the concurrent DescribeKey: %v", err)
	}

	n.cacheMu.Lock()
	_, stale := n.missing[id]
	n.cacheMu.Unlock()
	if stale {
		t.Error("a key created during a lookup is in the negative cache")
	}
	if _, err := n.describe(t, id); err != nil {
		t.Fatalf("DescribeKey after CreateKey: %v", err)
	}
}

// TestAliasFillDoesNotGoBack: a lookup reads an alias from the store, the
// alias is changed before the lookup publishes it; the cache must not keep
// the old target.
func TestAliasFillDoesNotGoBack(t *testing.T) {
	const alias = "alias/moving"
	tests := []struct {
		name   string
		change func(t *testing.T, n *testNode, to string)
		want   func(to string) string // key id the alias names after; "" for none
	}{
		{"UpdateAlias", func(t *testing.T, n *testNode, to string) {
			in := &awsproto.AliasInput{AliasName: new(alias), TargetKeyId: &to}
			if _, err := n.run(t.Context(), "UpdateAlias", in); err != nil {
				t.Fatalf("UpdateAlias: %v", err)
			}
		}, func(to string) string { return to }},
		{"DeleteAlias", func(t *testing.T, n *testNode, to string) {
			if _, err := n.run(t.Context(), "DeleteAlias", &awsproto.AliasInput{AliasName: new(alias)}); err != nil {
				t.Fatalf("DeleteAlias: %v", err)
			}
		}, func(string) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := newTestNode(t)
			spy := &spyStore{Store: base.db}
			n := newNodeOn(t, spy, base.root, base.clock)
			from, to := n.createKey(t), n.createKey(t)
			// Made through another node, so this one has not cached it.
			in := &awsproto.AliasInput{AliasName: new(alias), TargetKeyId: &from}
			if _, err := base.run(t.Context(), "CreateAlias", in); err != nil {
				t.Fatalf("CreateAlias: %v", err)
			}

			var first atomic.Bool
			read, release := make(chan struct{}), make(chan struct{})
			spy.afterRead = func(op, name string) {
				if op == "GetAlias" && first.CompareAndSwap(false, true) {
					close(read)
					<-release
				}
			}
			done := make(chan struct{})
			go func() { defer close(done); n.describe(t, alias) }()
			<-read
			tt.change(t, n, to)
			close(release)
			<-done

			md, err := n.describe(t, alias)
			want := tt.want(to)
			switch {
			case want == "":
				wantCode(t, "DescribeKey of the alias after "+tt.name, err, apierr.NotFound)
			case err != nil:
				t.Fatalf("DescribeKey of the alias after %s: %v", tt.name, err)
			case md.KeyId != want:
				t.Fatalf("after %s the alias names %s (the old target: %v), want %s", tt.name, md.KeyId, md.KeyId == from, want)
			}
		})
	}
}

// TestPublishNeverGoesBack pins the publication rules of cache.go that a
// single node cannot reach through the API (writers wait for a fill of the
// key they write): an older revision never replaces a newer one, and a
// fill that began before a removal publishes nothing.
func TestPublishNeverGoesBack(t *testing.T) {
	n := newTestNode(t)
	entry := func(rev int64) *keyEntry { return &keyEntry{meta: store.Key{ID: "k", Revision: rev}} }
	cached := func() int64 {
		e, ok := n.keys.Load("k")
		if !ok {
			return 0
		}
		return e.meta.Revision
	}

	n.publish(entry(2))
	n.cacheMu.Lock()
	got := n.publishLocked(entry(1), n.removals)
	n.cacheMu.Unlock()
	if cached() != 2 || got.meta.Revision != 2 {
		t.Errorf("after publishing revision 1 over 2: cached %d, returned %d; want 2 and 2", cached(), got.meta.Revision)
	}
	n.publish(entry(3))
	if cached() != 3 {
		t.Errorf("after publishing revision 3 over 2: cached %d", cached())
	}

	n.cacheMu.Lock()
	began := n.removals
	n.cacheMu.Unlock()
	n.forget("k")
	n.cacheMu.Lock()
	n.publishLocked(entry(3), began)
	n.cacheMu.Unlock()
	if r := cached(); r != 0 {
		t.Errorf("a fill that began before the key was forgotten published revision %d", r)
	}
}

// TestNegativeCacheBounded fills the negative cache past maxNegative:
// expired ids go first, and it never holds more than maxNegative.
func TestNegativeCacheBounded(t *testing.T) {
	n := newTestNode(t)
	add := func(count int) {
		n.cacheMu.Lock()
		defer n.cacheMu.Unlock()
		for range count {
			n.addMissingLocked(rand.Text())
		}
	}
	size := func() int {
		n.cacheMu.Lock()
		defer n.cacheMu.Unlock()
		return len(n.missing)
	}
	half := maxNegative / 2
	add(half)
	n.clock.Advance(negativeTTL / 2)
	add(maxNegative - half)
	n.clock.Advance(negativeTTL / 2) // the first half has expired
	add(1)
	if got, want := size(), maxNegative-half+1; got != want {
		t.Errorf("full with half expired, one more: %d ids, want %d", got, want)
	}
	add(maxNegative)
	if got := size(); got > maxNegative {
		t.Errorf("%d ids, more than maxNegative %d", got, maxNegative)
	}
}

// TestConcurrentMissesShareOneRead holds the store read of a key until
// every concurrent lookup of it is blocked (synctest.Wait): they must all
// be waiting for that one read, not reading the store themselves.
func TestConcurrentMissesShareOneRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newTestNode(t)
		spy := &spyStore{Store: base.db}
		n := newNodeOn(t, spy, base.root, base.clock)
		id := base.createKey(t)
		release := make(chan struct{})
		spy.afterRead = func(op, name string) {
			if op == "GetKey" && name == id {
				<-release
			}
		}
		const lookups = 16
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range lookups {
			wg.Go(func() {
				if _, err := n.describe(t, id); err != nil {
					failed.Add(1)
				}
			})
		}
		synctest.Wait()
		if got := spy.getKey.Load(); got != 1 {
			t.Errorf("%d concurrent lookups of one key read the store %d times, want 1", lookups, got)
		}
		close(release)
		wg.Wait()
		if f := failed.Load(); f != 0 {
			t.Errorf("%d lookups failed", f)
		}
	})
}
