package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sqlite "modernc.org/sqlite"

	"github.com/trent-kms/trent/internal/store"
)

// holdCommitter queues a write that blocks the committer until the returned
// function is called, so that writes queued meanwhile deterministically
// share the next batch.
func holdCommitter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	started, hold := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.write(context.Background(), "hold", func(tx *sql.Tx) error {
			close(started)
			<-hold
			return nil
		})
	}()
	<-started
	return func() {
		close(hold)
		if err := <-done; err != nil {
			t.Errorf("the holding write: %v", err)
		}
	}
}

// waitQueued waits until n writes wait in the queue.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(db.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(db.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitOneBatch puts conflicting and independent writes in one
// batch and checks that each is answered as if they had committed one after
// the other: the second of two updates at one revision gets ErrConflict, the
// second of two aliases with one name ErrExists, a write whose function
// fails leaves nothing — and the others commit, durably (after a reopen).
func TestGroupCommitOneBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trent.db")
	db := mustOpen(t, path)
	ctx := t.Context()
	base, v := testKey("base")
	if err := db.CreateKey(ctx, base, v); err != nil {
		t.Fatal(err)
	}
	base.Revision = 1
	before := db.WriteStats()

	release := holdCommitter(t, db)
	type result struct {
		name string
		err  error
	}
	results := make(chan result, 16)
	var wg sync.WaitGroup
	submit := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- result{name, f()}
		}()
	}
	// Queued one at a time, so the batch's order is known.
	queued := 0
	step := func(name string, f func() error) {
		submit(name, f)
		queued++
		waitQueued(t, db, queued)
	}
	update := func(desc string) func() error {
		return func() error {
			k := base
			k.Description = desc
			_, err := db.UpdateKey(ctx, k)
			return err
		}
	}
	alias := func(key string) func() error {
		return func() error {
			return db.CreateAlias(ctx, store.Alias{Account: base.Account, Region: base.Region,
				Name: "alias/one", KeyID: key, CreatedAt: time.Now(), UpdatedAt: time.Now()})
		}
	}
	failing := errors.New("refused by the test")
	step("update first", update("first"))
	step("update second", update("second"))
	step("alias first", alias("base"))
	step("alias second", alias("base"))
	step("failing write", func() error {
		return db.write(ctx, "failing", func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value) VALUES ('group-test', x'01')"); err != nil {
				return err
			}
			return failing
		})
	})
	for i := range 3 {
		id := fmt.Sprintf("new-%d", i)
		step("create "+id, func() error {
			k, v := testKey(id)
			return db.CreateKey(ctx, k, v)
		})
	}
	release()
	wg.Wait()
	close(results)

	want := map[string]error{
		"update first": nil, "update second": store.ErrConflict,
		"alias first": nil, "alias second": store.ErrExists,
		"failing write": failing,
		"create new-0":  nil, "create new-1": nil, "create new-2": nil,
	}
	for r := range results {
		w := want[r.name]
		if w == nil && r.err != nil || w != nil && !errors.Is(r.err, w) {
			t.Errorf("%s: %v, want %v", r.name, r.err, w)
		}
	}
	after := db.WriteStats()
	if writes, batches := after.Writes-before.Writes, after.Batches-before.Batches; writes != 9 || batches != 2 {
		t.Errorf("%d writes in %d batches, want 9 in 2 (the holding write, then the rest together)", writes, batches)
	}

	mustClose(t, db)
	db = mustOpen(t, path)
	defer mustClose(t, db)
	k, err := db.GetKey(ctx, "base")
	if err != nil || k.Description != "first" || k.Revision != 2 {
		t.Errorf("after reopening: %q revision %d, %v; want the first update only", k.Description, k.Revision, err)
	}
	if a, err := db.GetAlias(ctx, base.Account, base.Region, "alias/one"); err != nil || a.KeyID != "base" {
		t.Errorf("alias after reopening: %+v, %v", a, err)
	}
	for i := range 3 {
		if _, err := db.GetKey(ctx, fmt.Sprintf("new-%d", i)); err != nil {
			t.Errorf("new-%d after reopening: %v", i, err)
		}
	}
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM settings WHERE name = 'group-test'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the failed write left %d rows (%v)", n, err)
	}
}

// TestGroupCommitCancelledBeforeItsTurn: a write whose caller has gone
// before its batch runs is not run, and its batch commits the others.
func TestGroupCommitCancelledBeforeItsTurn(t *testing.T) {
	db := openTemp(t)
	defer mustClose(t, db)
	release := holdCommitter(t, db)
	ctx, cancel := context.WithCancel(t.Context())
	gone := make(chan error, 1)
	go func() {
		k, v := testKey("gone")
		gone <- db.CreateKey(ctx, k, v)
	}()
	waitQueued(t, db, 1)
	stays := make(chan error, 1)
	go func() {
		k, v := testKey("stays")
		stays <- db.CreateKey(t.Context(), k, v)
	}()
	waitQueued(t, db, 2)
	cancel()
	release()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: %v, want context.Canceled", err)
	}
	if err := <-stays; err != nil {
		t.Errorf("the other write: %v", err)
	}
	if _, err := db.GetKey(t.Context(), "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the cancelled key: %v, want ErrNotFound", err)
	}
}

// TestWriteAfterClose: a write after Close is refused, not left waiting.
func TestWriteAfterClose(t *testing.T) {
	db := openTemp(t)
	mustClose(t, db)
	k, v := testKey("late")
	if err := db.CreateKey(t.Context(), k, v); !errors.Is(err, errClosed) {
		t.Fatalf("CreateKey after Close: %v, want %v", err, errClosed)
	}
}

// TestBackgroundCheckpoint: the writer never checkpoints in a commit
// (wal_autocheckpoint 0), and the background loop copies the WAL into the
// database file.
func TestBackgroundCheckpoint(t *testing.T) {
	db := openTemp(t)
	defer mustClose(t, db)
	var auto int
	if err := db.w.QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer wal_autocheckpoint = %d, %v; want 0", auto, err)
	}
	k, v := testKey("big")
	v.Wrapped = make([]byte, 64<<10)
	for i := 0; i < walRestartFrames*4096/len(v.Wrapped)+8; i++ {
		k.ID, v.KeyID = fmt.Sprintf("big-%d", i), fmt.Sprintf("big-%d", i)
		if err := db.CreateKey(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for db.WriteStats().Checkpoints == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no background checkpoint after the WAL passed its threshold")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWALStartsOver: under a steady stream of commits the WAL is written
// from its beginning again, again and again, instead of growing: the
// writer writes several times more pages to it than the file ever holds,
// and the file stays below walTruncateBytes. (Before, a checkpoint on
// another connection never caught up with the writer, and the WAL grew
// until the loop truncated it at walTruncateBytes.)
func TestWALStartsOver(t *testing.T) {
	db := openTemp(t)
	defer mustClose(t, db)
	conn, err := db.w.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const frame = 4096 + 24
	written := func() int64 { // bytes written to the WAL so far
		var n int
		if err := conn.Raw(func(dc any) error {
			var err error
			n, _, err = dc.(sqlite.DBStatus).Status(sqlite.DBStatusCacheWrite, false)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return int64(n) * frame
	}
	conn.Close() // for the committer; written takes it back between writes
	k, v := testKey("big")
	v.Wrapped = make([]byte, 16<<10)
	walPath := db.path + "-wal"
	var largest, total int64
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; total < 4*largest || total < 4*walRestartFrames*frame; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d MiB written to a WAL of %d MiB in 60s", total>>20, largest>>20)
		}
		k.ID, v.KeyID = fmt.Sprintf("big-%d", i), fmt.Sprintf("big-%d", i)
		if err := db.CreateKey(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(walPath); err == nil && fi.Size() > largest {
			largest = fi.Size()
		}
		if i%16 == 0 {
			if conn, err = db.w.Conn(t.Context()); err != nil {
				t.Fatal(err)
			}
			total = written()
			conn.Close()
		}
	}
	// How large the WAL gets before it starts over depends on how fast
	// this machine writes between two of the loop's looks (about 33 MiB
	// at CI's pace, 19 MiB on the test machine); what must hold is that
	// it was started over, not only cut back by the truncation at
	// walTruncateBytes.
	if db.WriteStats().Finished == 0 {
		t.Errorf("the WAL was never started over")
	}
	if largest >= walTruncateBytes {
		t.Errorf("the WAL grew to %d MiB, the size at which it is truncated", largest>>20)
	}
	t.Logf("%d MiB written to a WAL of at most %.1f MiB; started over %d times", total>>20, float64(largest)/(1<<20), db.WriteStats().Finished)
}

// TestPurgeWaitsForBackgroundCheckpoint: DeleteKey's purge must not fail
// because the checkpoint loop happens to be checkpointing (SQLite answers
// a second checkpoint "busy" at once, without waiting): a reader's old
// snapshot is the only reason for ErrNotPurged.
func TestPurgeWaitsForBackgroundCheckpoint(t *testing.T) {
	db := openTemp(t)
	defer mustClose(t, db)
	ctx := t.Context()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the loop's checkpoints, as often as they can run
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _, _ = db.checkpoint(ctx, "PASSIVE")
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range 50 {
		k, v := testKey(fmt.Sprint("purge-", i))
		v.Wrapped = make([]byte, 8<<10) // frames for the checkpoints to copy
		if err := db.CreateKey(ctx, k, v); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteKey(ctx, k.ID, 1); err != nil {
			t.Fatalf("DeleteKey %d with checkpoints running: %v", i, err)
		}
	}
}
