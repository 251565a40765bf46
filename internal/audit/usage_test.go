package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// openUsageStore opens a real SQLite store for the usage index to write to.
func openUsageStore(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// lagStore puts the closed store at path where a crash leaves it when the
// flusher last wrote at seq mark: the mark there, and no use after it.
func lagStore(t testing.TB, path string, mark uint64) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DELETE FROM key_last_use WHERE seq > ?`, `UPDATE key_use_marks SET seq = ?`} {
		if _, err := db.Exec(q, int64(mark)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func keyARN(i int) string {
	return fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-12ab-34cd-56ef-1234567890ab", i)
}

// TestLastUsageBounded uses many distinct keys with no flush due: the
// index holds at most its limit (the uses beyond it are dropped, and the
// writer never waits), a flush then reads the dropped ones back from the
// log — from the first dropped, not from the start — and leaves nothing in
// memory, after which the index holds exactly the uses not yet flushed.
// Every key's last use is answered throughout.
func TestLastUsageBounded(t *testing.T) {
	old := usageLimits
	t.Cleanup(func() { usageLimits = old })
	const limit, n = 64, 1000
	usageLimits.limit, usageLimits.batch, usageLimits.every = limit, 1<<30, time.Hour

	db := openUsageStore(t, filepath.Join(t.TempDir(), "trent.db"))
	l := openLog(t, t.TempDir(), Options{KeyUses: db})
	ctx := context.Background()
	use := func(i int) {
		if err := l.Record(ctx, ev(i, SourceKMS, "Encrypt", false, alice, keyARN(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		use(i)
		if h := l.usage.held(); h > limit {
			t.Fatalf("after %d keys the index holds %d uses, over its limit %d", i+1, h, limit)
		}
	}
	l.usage.mu.Lock()
	dropped := l.usage.dropped
	l.usage.mu.Unlock()
	if dropped != n-limit {
		t.Errorf("%d uses dropped, want %d", dropped, n-limit)
	}
	tail := usageTailLines.Load()
	if err := l.usage.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := usageTailLines.Load() - tail; got != n-limit {
		t.Errorf("reading the dropped uses back read %d lines, want %d (from the first dropped on)", got, n-limit)
	}
	if h := l.usage.held(); h != 0 {
		t.Errorf("after a flush the index holds %d uses, want 0", h)
	}
	for i := n; i < n+10; i++ {
		use(i)
	}
	if h := l.usage.held(); h != 10 {
		t.Errorf("with 10 uses unflushed the index holds %d, want 10", h)
	}
	checkAll := func(l *Log, keys int) {
		t.Helper()
		for i := range keys {
			u, ok, _, err := l.LastUsage(ctx, keyARN(i))
			if err != nil || !ok || u.Operation != "Encrypt" || !u.Time.Equal(base.Add(time.Duration(i)*time.Second)) {
				t.Fatalf("LastUsage of key %d: %+v, %v, %v", i, u, ok, err)
			}
		}
	}
	checkAll(l, n+10)
	// Dropped uses at Close: the mark written stops before the first of
	// them, and the next Open reads the log from there.
	for i := n + 10; i < n+110; i++ {
		use(i)
	}
	closeLog(t, l)
	tail = usageTailLines.Load()
	l = openLog(t, l.dir, Options{KeyUses: db})
	checkAll(l, n+110)
	if got, want := usageTailLines.Load()-tail, uint64(110-limit); got != want {
		t.Errorf("Open after dropped uses read %d lines, want %d", got, want)
	}
}

// TestLastUsageLongLine: a line longer than the reader's 256 KiB buffer —
// an event at the 256 KiB limit, plus the log's own fields — is read back
// whole.
func TestLastUsageLongLine(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	e := ev(1, SourceKMS, "Encrypt", false, alice, testKeyARN)
	e.RequestParameters = json.RawMessage(`{"keyId":"alias/app","encryptionContext":{"big":"` + strings.Repeat("x", 261320) + `"}}`)
	if err := l.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	// Without a store, Open reads the whole log.
	l = openLog(t, dir, Options{})
	u, ok, _, err := l.LastUsage(context.Background(), testKeyARN)
	if err != nil || !ok || u.EventID != e.EventID {
		t.Fatalf("LastUsage = %+v, %v, %v; want the Encrypt %s", u, ok, err, e.EventID)
	}
}

// swappableStore is a real SQLite store that a test can take down (close)
// and bring back (reopen on the same file).
type swappableStore struct {
	mu sync.Mutex
	db *sqlite.DB
}

func (s *swappableStore) get() *sqlite.DB { s.mu.Lock(); defer s.mu.Unlock(); return s.db }

func (s *swappableStore) LastKeyUse(ctx context.Context, arn string) (store.KeyUse, bool, error) {
	return s.get().LastKeyUse(ctx, arn)
}

func (s *swappableStore) KeyUseMark(ctx context.Context, node string) (store.KeyUseMark, error) {
	return s.get().KeyUseMark(ctx, node)
}

func (s *swappableStore) PutKeyUses(ctx context.Context, node string, uses []store.KeyUse, m store.KeyUseMark) error {
	return s.get().PutKeyUses(ctx, node, uses, m)
}

// TestLastUsageStoreDown: while the store fails, recording goes on at
// full speed (the writer never waits for the store), memory stays within
// the limit, and once the store is back every use reaches it — the ones
// dropped meanwhile read back from the log.
func TestLastUsageStoreDown(t *testing.T) {
	old := usageLimits
	t.Cleanup(func() { usageLimits = old })
	const limit, n = 64, 500
	usageLimits.limit, usageLimits.batch, usageLimits.every = limit, 16, 5*time.Millisecond

	path := filepath.Join(t.TempDir(), "trent.db")
	st := &swappableStore{db: openUsageStore(t, path)}
	l := openLog(t, t.TempDir(), Options{KeyUses: st})
	ctx := context.Background()
	<-l.usage.ready  // the mark is read
	st.get().Close() // the store goes down
	for i := range n {
		if err := l.Record(ctx, ev(i, SourceKMS, "Encrypt", false, alice, keyARN(i))); err != nil {
			t.Fatal(err)
		}
		if h := l.usage.held(); h > limit {
			t.Fatalf("after %d keys with the store down the index holds %d uses, over its limit %d", i+1, h, limit)
		}
	}
	l.usage.mu.Lock()
	dropped := l.usage.dropped
	l.usage.mu.Unlock()
	if dropped == 0 {
		t.Fatal("no use was dropped with the store down: the test did not reach the limit")
	}
	st.mu.Lock()
	st.db = openUsageStore(t, path) // back
	st.mu.Unlock()
	waitFor(t, "the uses to reach the store", func() bool { return l.usage.sync(ctx) == nil && l.usage.held() == 0 })
	for i := range n {
		u, ok, _, err := l.LastUsage(ctx, keyARN(i))
		if err != nil || !ok || !u.Time.Equal(base.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("LastUsage of key %d: %+v, %v, %v", i, u, ok, err)
		}
	}
	if m, err := st.get().KeyUseMark(ctx, ""); err != nil || m.Seq != n {
		t.Errorf("the stored mark is %+v, %v; want seq %d", m, err, n)
	}
}
