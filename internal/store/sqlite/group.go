package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"
)

// Group commit.
//
// Every write method hands its statements to db.write as a function of a
// transaction (new write methods must too: a write straight on db.w is
// still correct and durable, but pays an fsync of its own and waits for the
// connection behind whole batches). One goroutine, the committer, owns the writer connection for
// these writes: it takes whatever writes are waiting (at most maxBatch),
// runs them one after the other in one SQLite transaction, each inside its
// own SAVEPOINT, and commits once. With synchronous=FULL the commit is one
// fsync of the WAL for the whole batch, and no caller is answered before it
// returns, so a write acknowledged is a write on stable storage, as before —
// only the fsync is shared. While one batch commits the next one gathers,
// so the batch size follows the load by itself: one write alone commits at
// once, a hundred concurrent writers share a few fsyncs. No write waits for
// others to arrive.
//
// Each write sees the effects of the writes before it in its batch, exactly
// as if they had committed one after the other in that order: revision
// checks (ErrConflict) and unique constraints (ErrExists) are evaluated
// against them. A write whose function fails is rolled back to its
// savepoint and answered with its own error; the others in the batch are not
// affected. If the transaction as a whole is lost (an I/O error, a full
// disk: SQLite then rolls back the whole transaction and the savepoint is
// gone) or the commit fails, every write of the batch is answered with the
// error and none of it is in the database.
//
// A write whose caller has gone by the time its turn comes is not run at
// all. A function should run its statements with uninterrupted(ctx): one
// whose statement is interrupted halfway by its caller's cancellation makes
// SQLite roll back the whole transaction, so every write of that batch is
// answered with an error and nothing of it is stored — safe, no write is
// acknowledged that is not stored, but the batch's other callers fail for
// one caller's sake. Every write through sqlrows' Backend does (Write and
// WriteKey in identity.go's shared).
//
// Checkpoints run off the request path: the writer connection has
// wal_autocheckpoint off, and a background loop (checkpointLoop) copies the
// WAL into the database file on a connection of its own with PASSIVE
// checkpoints, which block no reader and no writer. DeleteKey still
// truncates the WAL itself before it answers (purge), which shreds the
// deleted key's old page images.
//
// The WAL is reused rather than grown. SQLite writes a WAL from its
// beginning again only when a write transaction starts while every frame
// is already copied into the database file, which under a steady stream of
// commits a checkpoint on another connection never achieves: the writer
// always appends a few frames while it copies. A WAL that only grows makes
// every commit extend the file, and its fsync then writes the new blocks'
// allocation too (about twice the time of an fsync of blocks overwritten in
// place, here). So once the WAL holds walRestartFrames, the loop copies it
// in PASSIVE passes until only a few frames are left, and then asks the
// committer to copy those itself between two batches (finishCheckpoint;
// at its next idle moment, or after maxFinishDefer batches if it has none):
// with no writer appending meanwhile, that leaves nothing uncopied, and the
// next transaction starts the WAL over, on blocks it already has. The
// committer's share is bounded by walFinishFrames (a few hundred KiB and
// two fsyncs, once per walRestartFrames written). A reader holding an old
// snapshot can keep the WAL from being started over; then it grows, and
// past walTruncateBytes the loop truncates it (writers wait for that), and
// journal_size_limit gives back what a grown WAL holds past
// journalSizeLimit when it is next started over.

// maxBatch bounds the writes in one transaction, so that one commit does
// not keep the first writer of a long queue waiting for the last one's
// statements.
const maxBatch = 128

const (
	// checkpointEvery is how often the checkpoint loop looks at the WAL.
	checkpointEvery = 200 * time.Millisecond
	// walRestartFrames is the number of WAL frames from which the loop has
	// the WAL started over (8 MiB of 4 KiB pages; SQLite's own automatic
	// checkpoint starts at 1000 pages). Below it, it copies what is there
	// in the background and leaves the WAL as it is. The committer's share
	// of a restart costs about the same whatever the WAL's size (two
	// fdatasyncs, 2-5 ms on the shared test machine), so a larger WAL
	// pays it less often.
	walRestartFrames = 2048
	// walFinishFrames is how many uncopied frames the loop leaves for the
	// committer to copy before the WAL can start over; the loop copies in
	// PASSIVE passes (at most walCatchUpPasses) until no more are left.
	walFinishFrames  = 64
	walCatchUpPasses = 8
	// maxFinishDefer is how many batches the committer may commit, while
	// writes keep it busy, before it finishes a checkpoint it was asked to
	// anyway; it does so at once when no write waits.
	maxFinishDefer = 16
	// walTruncateBytes is the WAL size from which the loop truncates the
	// WAL: it was not started over (a reader held an old snapshot). The
	// truncation holds writers up for as long as it takes to copy what the
	// last PASSIVE checkpoint left, which is little.
	walTruncateBytes = 64 << 20
	// journalSizeLimit is the size SQLite cuts the WAL file back to when
	// it starts over, if it grew larger (PRAGMA journal_size_limit). Under
	// steady load the WAL reaches 15-25 MiB before it starts over (the
	// loop looks every checkpointEvery), so a smaller limit would have it
	// cut and grown again every time.
	journalSizeLimit = 32 << 20
	// checkpointBusy is how long the checkpoint connection waits for a
	// lock: a truncation that cannot have it soon gives up and is tried
	// again later rather than stall writers behind it.
	checkpointBusy = 100 * time.Millisecond
)

// The statements of the group commit itself.
const (
	savepointQuery  = "SAVEPOINT write"
	releaseQuery    = "RELEASE write"
	rollbackToQuery = "ROLLBACK TO write"
)

// preparedQueries are prepared once on the writer connection when the
// database opens, for txExec: the committer runs them for every write, one
// after the other, and SQLite's parser would otherwise be a large part of
// its time.
var preparedQueries = []string{savepointQuery, releaseQuery, rollbackToQuery, insertKeyQuery, insertVersionQuery, insertIntentQuery, updateIntentQuery}

// prepare prepares preparedQueries on the writer; the connection must be
// free (before the committer starts).
func (db *DB) prepare(ctx context.Context) error {
	db.stmts = make(map[string]*sql.Stmt, len(preparedQueries))
	for _, q := range preparedQueries {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			db.closeStmts()
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		db.stmts[q] = st
	}
	if err := db.prepareReads(ctx); err != nil {
		db.closeStmts()
		return err
	}
	return nil
}

func (db *DB) closeStmts() {
	for _, st := range db.stmts {
		st.Close()
	}
	for _, st := range db.rstmts {
		st.Close()
	}
}

// readQueries are prepared once on the reader pool, for rquery: a key
// cache miss runs them, and parsing them each time cost as much as
// running them. database/sql prepares a statement on each connection of
// the pool the first time it runs there and keeps it.
func readQueries() []string { return []string{getKeyQuery, keyVersionsQuery, keyAliasesQuery} }

// prepareReads prepares readQueries on the reader pool.
func (db *DB) prepareReads(ctx context.Context) error {
	db.rstmts = make(map[string]*sql.Stmt)
	for _, q := range readQueries() {
		st, err := db.r.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		db.rstmts[q] = st
	}
	return nil
}

// rquery is db.r.QueryContext, with the statement prepared at open if
// query is one of readQueries.
func (db *DB) rquery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := db.rstmts[query]; st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.r.QueryContext(ctx, query, args...)
}

// txExec is tx.ExecContext, with the statement prepared at open if query is
// one of preparedQueries.
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := db.stmts[query]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// errClosed answers writes submitted after Close.
var errClosed = errors.New("database closed")

// pending is one write waiting for its batch.
type pending struct {
	ctx  context.Context
	f    func(tx *sql.Tx) error
	done chan error // buffered: the committer never waits for the caller
}

// write runs f in the next group commit and returns once that commit is on
// stable storage: nil if f succeeded and the batch committed; f's error if
// f failed (nothing f did stays); else the error that kept the batch from
// committing. Errors come back through wrapErr with op.
//
// f must use only tx — never db.w or db.write, whose connection the
// committer holds while f runs — and must not commit or roll back tx. f may
// run after statements of other writes in the same transaction, and it
// must not count on running only once per call being enough for its Go
// variables: it is run once, but keep side effects outside tx to setting
// results.
func (db *DB) write(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return wrapErr(op, err)
	}
	f, done := db.withIntent(ctx, f)
	w := &pending{ctx: ctx, f: f, done: make(chan error, 1)}
	db.queueMu.RLock()
	if db.queueClosed {
		db.queueMu.RUnlock()
		return wrapErr(op, errClosed)
	}
	// Sent under the read lock, so that Close cannot close the queue under
	// a sender; the committer drains the queue until it is closed, so the
	// send cannot block forever.
	db.queue <- w
	db.queueMu.RUnlock()
	// Once queued, the outcome is waited for even if ctx ends: the write
	// may already be in the batch being committed, and the caller must not
	// be told it failed when it did not.
	return wrapErr(op, done(<-w.done))
}

// uninterrupted returns ctx without its cancellation, for the statements in
// a write's function: a statement interrupted halfway by its caller's
// cancellation makes SQLite roll back the whole transaction, and with it
// every other write of the batch (they are answered with an error, so
// nothing acknowledged is lost, but they fail for another caller's sake).
// write still refuses a write whose caller has gone before its turn.
func uninterrupted(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// commitLoop is the committer: it runs until the queue is closed and
// drained.
func (db *DB) commitLoop() {
	// The committer keeps an OS thread of its own, so that the thread that
	// sleeps in the commit's fsync runs nothing else: woken, a thread that
	// has used little CPU gets one at once, while one that also ran
	// request handlers waits its turn behind them (internal/audit's
	// thread.go says more). Measured on 2 cores with `make bench-create`
	// (docs/ARCHITECTURE.md, "The writer's own thread"): 6.9–7.0k →
	// 7.95k keys/s, 170 → 150 µs of server CPU per key; on tmpfs, where
	// the fsync never sleeps, 11.6k → 11.9–12.1k (unlike the audit
	// writer's, a batch's SQL outweighs the hand-offs a locked goroutine
	// costs, so it needs no switch). The thread ends with the committer.
	runtime.LockOSThread()
	defer close(db.committerDone)
	batch := make([]*pending, 0, maxBatch)
	deferred := 0 // batches committed since the loop asked for a finish
	for {
		var w *pending
		select {
		case w = <-db.queue:
		default:
			// Idle: the best moment to finish a checkpoint, since no
			// write is waiting for it.
			if db.finishCheckpoint.Load() {
				db.finishWALCheckpoint()
				deferred = 0
			}
			w = <-db.queue
		}
		if w == nil {
			return // closed and drained
		}
		batch = append(batch[:0], w)
	gather:
		for len(batch) < maxBatch {
			select {
			case w, ok := <-db.queue:
				if !ok {
					break gather
				}
				batch = append(batch, w)
			default:
				break gather
			}
		}
		// Counted before the batch is answered, so a caller that reads
		// WriteStats after its write returned sees that write counted.
		db.batches.Add(1)
		db.writes.Add(uint64(len(batch)))
		db.commitBatch(batch)
		clear(batch)
		if db.finishCheckpoint.Load() {
			// Busy without a pause: finish it between two batches after
			// all, before the loop's catching up is lost.
			if deferred++; deferred >= maxFinishDefer {
				db.finishWALCheckpoint()
				deferred = 0
			}
		}
	}
}

// finishWALCheckpoint copies into the database file what the checkpoint
// loop left of the WAL, on the writer between two batches, so that the
// next transaction starts the WAL over (see Group commit above).
func (db *DB) finishWALCheckpoint() {
	defer db.finishCheckpoint.Store(false)
	db.ckptMu.Lock()
	defer db.ckptMu.Unlock()
	began := time.Now()
	var busy, logFrames, checkpointed int
	err := db.w.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		slog.Warn("sqlite: finishing a checkpoint failed", "path", db.path, "err", err)
		return
	}
	if busy != 0 || checkpointed < logFrames {
		return // a reader holds an old snapshot: the loop tries again
	}
	db.finished.Add(1)
	db.finishNanos.Add(uint64(time.Since(began)))
}

// commitBatch runs batch in one transaction and answers every write in it.
func (db *DB) commitBatch(batch []*pending) {
	errs := make([]error, len(batch))
	answer := func(all error) {
		for i, w := range batch {
			if errs[i] == nil {
				errs[i] = all
			}
			w.done <- errs[i]
		}
	}
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		answer(fmt.Errorf("begin: %w", err))
		return
	}
	// lost ends a transaction that can no longer be committed.
	lost := func(err error) {
		_ = tx.Rollback()
		answer(fmt.Errorf("group commit rolled back: %w", err))
	}
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		// The batch's own statements must not be interrupted by one
		// caller's cancellation.
		ctx := context.Background()
		if _, err := db.txExec(ctx, tx, savepointQuery); err != nil {
			lost(err)
			return
		}
		if err := w.f(tx); err != nil {
			errs[i] = err
			// Fails if SQLite has rolled back the whole transaction
			// (SQLITE_FULL, SQLITE_IOERR, …): then nothing of the
			// batch is left to commit.
			if _, err := db.txExec(ctx, tx, rollbackToQuery); err != nil {
				lost(err)
				return
			}
		}
		if _, err := db.txExec(ctx, tx, releaseQuery); err != nil {
			lost(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		answer(fmt.Errorf("commit: %w", err))
		return
	}
	answer(nil)
}

// closeQueue stops accepting writes and waits for the committer to answer
// every write already queued.
func (db *DB) closeQueue() {
	db.queueMu.Lock()
	if !db.queueClosed {
		db.queueClosed = true
		close(db.queue)
	}
	db.queueMu.Unlock()
	<-db.committerDone
}

// checkpointLoop keeps the WAL short, off the request path, until ctx ends.
func (db *DB) checkpointLoop(ctx context.Context) {
	defer close(db.checkpointerDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Unless the committer has yet to finish the last one (it does
		// after its next batch).
		if !db.finishCheckpoint.Load() {
			db.catchUp(ctx)
		}
		if fi, err := os.Stat(db.path + "-wal"); err == nil && fi.Size() >= walTruncateBytes {
			_, _, _ = db.checkpoint(ctx, "TRUNCATE")
		}
	}
}

// catchUp copies the WAL into the database file and, once it holds
// walRestartFrames, copies until at most walFinishFrames are left and
// asks the committer to copy those (finishCheckpoint).
func (db *DB) catchUp(ctx context.Context) {
	logFrames, checkpointed, err := db.checkpoint(ctx, "PASSIVE")
	if err != nil || logFrames < walRestartFrames {
		return
	}
	for i := 0; i < walCatchUpPasses && logFrames-checkpointed > walFinishFrames; i++ {
		if logFrames, checkpointed, err = db.checkpoint(ctx, "PASSIVE"); err != nil {
			return
		}
	}
	if logFrames-checkpointed <= walFinishFrames {
		db.finishCheckpoint.Store(true)
	}
}

// checkpoint runs one checkpoint of the given mode on the checkpoint
// connection (only the checkpoint loop may call it) and returns the frames in the WAL and how many of them are
// copied into the database file. A checkpoint that could not copy
// everything it was asked to (a reader's snapshot, a writer holding the
// lock for TRUNCATE) is not an error: its counts say so.
func (db *DB) checkpoint(ctx context.Context, mode string) (logFrames, checkpointed int, err error) {
	db.ckptMu.Lock()
	defer db.ckptMu.Unlock()
	var busy int
	err = db.c.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		if ctx.Err() == nil {
			slog.Warn("sqlite: background checkpoint failed", "path", db.path, "mode", mode, "err", err)
		}
		return 0, 0, err
	}
	if mode != "PASSIVE" || logFrames != db.lastLog || checkpointed != db.lastCheckpointed {
		db.checkpoints.Add(1) // one that had something to do
	}
	db.lastLog, db.lastCheckpointed = logFrames, checkpointed
	return logFrames, checkpointed, nil
}

// WriteStats counts group commits since Open.
type WriteStats struct {
	Writes      uint64        // writes through the group commit (answered or being committed)
	Batches     uint64        // transactions they were committed in (or tried)
	Checkpoints uint64        // background checkpoints run
	Finished    uint64        // checkpoints finished by the committer, so that the WAL starts over
	FinishTime  time.Duration // the committer's time in them
}

// WriteStats returns the counts of group commits so far.
func (db *DB) WriteStats() WriteStats {
	return WriteStats{Writes: db.writes.Load(), Batches: db.batches.Load(), Checkpoints: db.checkpoints.Load(),
		Finished: db.finished.Load(), FinishTime: time.Duration(db.finishNanos.Load())}
}
