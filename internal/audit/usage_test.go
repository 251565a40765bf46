package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/clock"
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
// flusher last wrote at seq mark of the log in dir: the mark there, with
// the hash of its line, and no use after it.
func lagStore(t testing.TB, path, dir string, mark uint64) {
	t.Helper()
	hash := sha256.Sum256([]byte(allLines(t, dir)[mark-1]))
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM key_last_use WHERE seq > ?`, int64(mark)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE key_use_marks SET seq = ?, hash = ?`, int64(mark), hash[:]); err != nil {
		t.Fatal(err)
	}
}

func keyARN(i int) string {
	return fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-12ab-34cd-56ef-1234567890ab", i)
}

// markChecker is a key use store that checks every mark written to it:
// its hash must be that of the log's line at its seq (the flusher writes
// marks from the writer's hashes, from the lines it reads back, and from
// what it noted where uses were dropped).
type markChecker struct {
	store.KeyUses
	t      testing.TB
	dir    string
	marks  atomic.Int64 // marks checked
	errors atomic.Int64
}

func (c *markChecker) PutKeyUses(ctx context.Context, node string, uses []store.KeyUse, m store.KeyUseMark) error {
	if m.Seq > 0 {
		c.marks.Add(1)
		if h, err := logLineHash(c.dir, m.Seq); err != nil || h != m.Hash {
			c.errors.Add(1)
			c.t.Errorf("a mark at seq %d with hash %x; the line's is %x (%v)", m.Seq, m.Hash, h, err)
		}
	}
	return c.KeyUses.PutKeyUses(ctx, node, uses, m)
}

// logLineHash is the hash of the line at seq in the log in dir.
func logLineHash(dir string, seq uint64) ([32]byte, error) {
	ls, err := listDir(dir)
	if err != nil {
		return [32]byte{}, err
	}
	for _, f := range ls.events {
		data, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return [32]byte{}, err
		}
		lines, _, _ := splitSegment(data)
		for _, ln := range lines {
			if s, ok := lineSeq(ln[:len(ln)-1]); ok && s == seq {
				return sha256.Sum256(ln), nil
			}
		}
	}
	return [32]byte{}, fmt.Errorf("no line %d", seq)
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

	dir := t.TempDir()
	db := &markChecker{KeyUses: openUsageStore(t, filepath.Join(t.TempDir(), "trent.db")), t: t, dir: dir}
	l := openLog(t, dir, Options{KeyUses: db})
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
	closeLog(t, l)
	if n := db.marks.Load(); n < 10 {
		t.Errorf("%d marks checked, want some written while reading the log back", n)
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

// BenchmarkOpenReadsUses is what Open costs GetKeyLastUsage on a log of
// 20,000 Encrypt events of 1,000 keys: reading the whole log (no mark:
// an upgrade, a replaced log, a log without a store), the last 1,000
// events after a crash (a mark behind the log), and nothing after a clean
// stop (the mark at the log's end). Each op opens the log and waits for
// its first LastUsage; closing is not timed.
//
//	go test ./internal/audit -run '^$' -bench OpenReadsUses -benchmem
func BenchmarkOpenReadsUses(b *testing.B) {
	const n, keys, tail = 20000, 1000, 1000
	dir := b.TempDir()
	path := filepath.Join(b.TempDir(), "trent.db")
	db := openUsageStore(b, path)
	l := openLog(b, dir, Options{KeyUses: db, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	for i := range n {
		if err := l.Record(ctx, ev(i, SourceKMS, "Encrypt", false, alice, keyARN(i%keys))); err != nil {
			b.Fatal(err)
		}
	}
	closeLog(b, l)
	db.Close()
	for _, c := range []struct {
		name string
		lag  uint64 // the mark's seq, 0 for none
		st   bool
	}{{"whole", 0, false}, {"tail", n - tail, true}, {"clean", n, true}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				o := Options{Logger: slog.New(slog.DiscardHandler)}
				if c.st {
					lagStore(b, path, dir, c.lag)
					db := openUsageStore(b, path)
					defer db.Close()
					o.KeyUses = db
				}
				b.StartTimer()
				l := openLog(b, dir, o)
				if _, ok, _, err := l.LastUsage(ctx, keyARN(0)); !ok || err != nil {
					b.Fatal(ok, err)
				}
				b.StopTimer()
				closeLog(b, l)
				b.StartTimer()
			}
		})
	}
}

// TestLastUsageMarkWithoutHash: a mark stored before marks had hashes
// cannot be checked against the log, so the log is read whole once,
// keeping the stored tracking start; the mark then written has the hash,
// and the next Open reads nothing.
func TestLastUsageMarkWithoutHash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "trent.db")
	db := openUsageStore(t, path)
	l := openLog(t, dir, Options{Clock: clock.NewFake(base), KeyUses: db})
	for i := range 5 {
		if err := l.Record(context.Background(), ev(i, SourceKMS, "Encrypt", false, alice, keyARN(i))); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, l)
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE key_use_marks SET hash = NULL`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	for _, want := range []uint64{5, 0} {
		db := openUsageStore(t, path)
		tail := usageTailLines.Load()
		l := openLog(t, dir, Options{Clock: clock.NewFake(base.Add(time.Hour)), KeyUses: db})
		u, ok, start, err := l.LastUsage(context.Background(), keyARN(4))
		if err != nil || !ok || !u.Time.Equal(base.Add(4*time.Second)) || !start.Equal(base) {
			t.Errorf("LastUsage = %+v, %v, %v, %v; want the use at %v, tracking since %v", u, ok, start, err, base.Add(4*time.Second), base)
		}
		if n := usageTailLines.Load() - tail; n != want {
			t.Errorf("Open read %d lines, want %d", n, want)
		}
		closeLog(t, l)
		db.Close()
	}
}

// chunkRecorder records the size and mark of each PutKeyUses.
type chunkRecorder struct {
	store.KeyUses
	mu    sync.Mutex
	sizes []int
	marks []uint64
}

func (c *chunkRecorder) PutKeyUses(ctx context.Context, node string, uses []store.KeyUse, m store.KeyUseMark) error {
	c.mu.Lock()
	c.sizes, c.marks = append(c.sizes, len(uses)), append(c.marks, m.Seq)
	c.mu.Unlock()
	return c.KeyUses.PutKeyUses(ctx, node, uses, m)
}

// TestLastUsageFlushChunks: a flush of more keys than a chunk stores them
// in several transactions, sorted by key, and only the last one moves the
// mark, so that a flush that fails part way leaves it where it was; every
// key is answered from the store afterwards. A node of a cluster flushes
// at the cluster's interval.
func TestLastUsageFlushChunks(t *testing.T) {
	old := usageLimits
	t.Cleanup(func() { usageLimits = old })
	usageLimits.limit, usageLimits.batch, usageLimits.chunk, usageLimits.every = 1000, 1<<30, 4, time.Hour
	usageLimits.cluster = time.Minute

	db := &chunkRecorder{KeyUses: openUsageStore(t, filepath.Join(t.TempDir(), "trent.db"))}
	l := openLog(t, t.TempDir(), Options{KeyUses: db})
	if l.usage.every != time.Hour {
		t.Errorf("one node flushes every %v, want %v", l.usage.every, time.Hour)
	}
	ctx := context.Background()
	<-l.usage.ready
	db.mu.Lock()
	db.sizes, db.marks = nil, nil // what Open stored
	db.mu.Unlock()
	const keys = 10
	for i := range keys {
		if err := l.Record(ctx, ev(i, SourceKMS, "Encrypt", false, alice, keyARN(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.usage.sync(ctx); err != nil {
		t.Fatal(err)
	}
	db.mu.Lock()
	sizes, marks := db.sizes, db.marks
	db.mu.Unlock()
	if !slices.Equal(sizes, []int{4, 4, 2}) {
		t.Errorf("chunks of %v uses, want [4 4 2]", sizes)
	}
	if len(marks) == 3 && (marks[0] != 0 || marks[1] != 0 || marks[2] != keys) {
		t.Errorf("marks written %v, want [0 0 %d]: only the last chunk moves it", marks, keys)
	}
	for i := range keys {
		u, ok, err := db.LastKeyUse(ctx, keyARN(i))
		if err != nil || !ok || u.Operation != "Encrypt" {
			t.Errorf("stored use of key %d: %+v, %v, %v", i, u, ok, err)
		}
	}
	closeLog(t, l)

	n := openLog(t, t.TempDir(), Options{KeyUses: db, NodeID: "node-a"})
	if n.usage.every != time.Minute {
		t.Errorf("a cluster node flushes every %v, want %v", n.usage.every, time.Minute)
	}
	closeLog(t, n)
}

// BenchmarkUsageAdd is the writer's part of last use (usageIndex.add) per
// use, for Encrypt on one key and spread over 10,000 hot keys: batches of
// 4 events, as the audit log's group commit makes them under 16 clients,
// and the pending uses handed to the flusher (a new map) every 55,000 uses,
// as every 5 s at 11,000 requests a second.
func BenchmarkUsageAdd(b *testing.B) {
	for _, keys := range []int{1, 10000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			x := &usageIndex{limit: maxPendingUses, batch: flushUses, pending: map[string]store.KeyUse{}, kick: make(chan struct{}, 1)}
			arns := make([]string, keys)
			for i := range arns {
				arns[i] = keyARN(i)
			}
			ms := make([]eventMeta, 4)
			at := time.Unix(1_800_000_000, 0).UTC()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += len(ms) {
				for j := range ms {
					n := uint64(i + j + 1)
					ms[j] = eventMeta{keys: arns[(n*7919)%uint64(keys):][:1], seq: n,
						u: Usage{Operation: "Encrypt", Time: at.Add(time.Duration(n) * 100 * time.Microsecond).Truncate(time.Second),
							EventID: "4aa7e4d5-d047-452a-a5a6-2cce282a7e82", RequestID: "93746dd6-63bc-11e4-bc2b-4198b6150d5c"}}
				}
				x.add(ms)
				if i%55000 < len(ms) {
					x.mu.Lock()
					x.pending = make(map[string]store.KeyUse, len(x.pending))
					x.mu.Unlock()
				}
			}
		})
	}
}
