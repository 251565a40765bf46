package iam

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// countingStore is a real SQLite store that counts GetAccessKey calls and,
// when gate is set, holds each call until gate yields.
type countingStore struct {
	store.AccessKeys
	gets     atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
	entered  chan struct{} // if set, receives once per call
	gate     chan struct{} // if set, each call waits for a value or close
}

func (s *countingStore) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	s.gets.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxIn.Load()
		if n <= m || s.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	return s.AccessKeys.GetAccessKey(ctx, id)
}

// newTestDirectory returns a Directory over a fresh SQLite store, wrapped
// to count reads, with a clock the test moves.
func newTestDirectory(t *testing.T) (*Directory, *countingStore, *time.Time) {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := seal.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	root, err := seal.NewRootKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	clear(raw)
	cs := &countingStore{AccessKeys: db}
	d := NewDirectory(cs, root)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d.now = func() time.Time { return now }
	return d, cs, &now
}

func TestLookupRemembersUnknownIDs(t *testing.T) {
	d, cs, now := newTestDirectory(t)
	// other is a second node over the same store.
	other := NewDirectory(cs.AccessKeys, d.root)
	const (
		unknown = "AKIAUNKNOWN00000001"
		later   = "AKIALATER0000000001"
		here    = "AKIAHERE00000000001"
	)
	steps := []struct {
		name      string
		do        func(t *testing.T)
		lookup    string
		wantFound bool
		wantReads int64 // store reads so far
	}{
		{name: "unknown id reads the store", lookup: unknown, wantReads: 1},
		{name: "unknown id again is remembered", lookup: unknown, wantReads: 1},
		{name: "and again", lookup: unknown, wantReads: 1},
		{name: "malformed id never reads", lookup: "short", wantReads: 1},
		{
			name: "remembered for missTTL only", lookup: unknown, wantReads: 2,
			do: func(*testing.T) { *now = now.Add(missTTL) },
		},
		{name: "id created later on another node: miss", lookup: later, wantReads: 3},
		{
			name: "another node creates it: still a miss until missTTL", lookup: later, wantReads: 3,
			do: func(t *testing.T) {
				if err := other.ImportAccessKey(context.Background(), "111122223333", later, "secret-of-sixteen-chars"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "then found", lookup: later, wantFound: true, wantReads: 4,
			do: func(*testing.T) { *now = now.Add(missTTL) },
		},
		{name: "id created here: miss", lookup: here, wantReads: 5},
		{
			name: "created through this directory: found at once", lookup: here, wantFound: true,
			wantReads: 7, // ImportAccessKey reads before and after it stores
			do: func(t *testing.T) {
				if err := d.ImportAccessKey(context.Background(), "111122223333", here, "secret-of-sixteen-chars"); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, st := range steps {
		if st.do != nil {
			st.do(t)
		}
		c, found := d.Lookup(st.lookup)
		if found != st.wantFound || (found && c.AccessKeyID != st.lookup) {
			t.Fatalf("%s: Lookup(%q) = %v, %v; want found=%v", st.name, st.lookup, c, found, st.wantFound)
		}
		if got := cs.gets.Load(); got != st.wantReads {
			t.Fatalf("%s: %d store reads so far, want %d", st.name, got, st.wantReads)
		}
	}
}

func TestLookupMissCacheIsBounded(t *testing.T) {
	d, cs, _ := newTestDirectory(t)
	id := func(i int) string { return fmt.Sprintf("AKIAFLOOD%010d", i) }
	for i := range maxMisses + 10 {
		d.Lookup(id(i))
	}
	if n := len(d.misses.at); n > maxMisses {
		t.Fatalf("the miss cache holds %d ids, bound is %d", n, maxMisses)
	}
	reads := cs.gets.Load()
	d.Lookup(id(maxMisses + 9)) // the newest is remembered
	if got := cs.gets.Load(); got != reads {
		t.Fatalf("looking up the newest unknown id read the store")
	}
	d.Lookup(id(0)) // the oldest was dropped
	if got := cs.gets.Load(); got != reads+1 {
		t.Fatalf("looking up the oldest unknown id made %d reads, want 1", got-reads)
	}
}

// A flood of distinct unknown ids defeats any cache; what keeps it from
// taking every store reader is the bound on reads in flight.
func TestLookupBoundsConcurrentStoreReads(t *testing.T) {
	d, cs, _ := newTestDirectory(t)
	cs.entered = make(chan struct{}, 64)
	cs.gate = make(chan struct{})
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Lookup(fmt.Sprintf("AKIAFLOOD%010d", i))
		}()
	}
	for range maxMissReads {
		<-cs.entered
	}
	// The store holds maxMissReads calls and lets none go: a call beyond
	// the bound could only come from a Lookup that did not wait. The wait
	// can make this test pass wrongly on a slow machine, never fail wrongly.
	select {
	case <-cs.entered:
		t.Errorf("%d store reads in flight, bound is %d", cs.inFlight.Load(), maxMissReads)
	case <-time.After(200 * time.Millisecond):
	}
	close(cs.gate)
	wg.Wait()
	if got := cs.gets.Load(); got != n {
		t.Fatalf("%d store reads, want %d: every lookup must get its turn", got, n)
	}
	if m := cs.maxIn.Load(); m > maxMissReads {
		t.Fatalf("up to %d store reads in flight, bound is %d", m, maxMissReads)
	}
}
