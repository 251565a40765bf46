package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
// one caller's sake. The key, alias and grant writes do; the
// rarer writes written before the group commit still use the caller's
// context.
//
// Checkpoints run off the request path: the writer connection has
// wal_autocheckpoint off, and a background loop (checkpointLoop) copies the
// WAL into the database file on a connection of its own with PASSIVE
// checkpoints, which block no reader and no writer, and truncates a WAL
// grown past walTruncateBytes. DeleteKey still truncates the WAL itself
// before it answers (purge), which shreds the deleted key's old page
// images.

// maxBatch bounds the writes in one transaction, so that one commit does
// not keep the first writer of a long queue waiting for the last one's
// statements.
const maxBatch = 128

const (
	// checkpointEvery is how often the checkpoint loop looks at the WAL.
	checkpointEvery = 200 * time.Millisecond
	// walCheckpointBytes is the WAL size from which the loop checkpoints
	// (SQLite's own automatic checkpoint starts at 1000 pages of 4 KiB).
	walCheckpointBytes = 4 << 20
	// walTruncateBytes is the WAL size from which the loop truncates the
	// WAL. A PASSIVE checkpoint never shrinks the file, and under steady
	// writes SQLite may never find the moment to start it over from the
	// beginning. The truncation holds writers up for as long as it takes
	// to copy what the last PASSIVE checkpoint left, which is little.
	walTruncateBytes = 64 << 20
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
var preparedQueries = []string{savepointQuery, releaseQuery, rollbackToQuery, insertKeyQuery, insertVersionQuery}

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
	return wrapErr(op, <-w.done)
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
	defer close(db.committerDone)
	batch := make([]*pending, 0, maxBatch)
	for w := range db.queue {
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
	}
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
		fi, err := os.Stat(db.path + "-wal")
		if err != nil || fi.Size() < walCheckpointBytes {
			continue
		}
		mode := "PASSIVE"
		if fi.Size() >= walTruncateBytes {
			// Copy most of it without holding anybody up first.
			if err := db.checkpoint(ctx, "PASSIVE"); err != nil {
				continue
			}
			mode = "TRUNCATE"
		}
		_ = db.checkpoint(ctx, mode)
	}
}

// checkpoint runs one checkpoint of the given mode on the checkpoint
// connection.
func (db *DB) checkpoint(ctx context.Context, mode string) error {
	var busy, logFrames, checkpointed int
	err := db.c.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		if ctx.Err() == nil {
			slog.Warn("sqlite: background checkpoint failed", "path", db.path, "mode", mode, "err", err)
		}
		return err
	}
	db.checkpoints.Add(1)
	if busy != 0 {
		return fmt.Errorf("checkpoint %s busy (%d of %d WAL frames copied)", mode, checkpointed, logFrames)
	}
	return nil
}

// WriteStats counts group commits since Open.
type WriteStats struct {
	Writes      uint64 // writes through the group commit (answered or being committed)
	Batches     uint64 // transactions they were committed in (or tried)
	Checkpoints uint64 // background checkpoints run
}

// WriteStats returns the counts of group commits so far.
func (db *DB) WriteStats() WriteStats {
	return WriteStats{Writes: db.writes.Load(), Batches: db.batches.Load(), Checkpoints: db.checkpoints.Load()}
}
