// Package sqlite implements store.Store on one SQLite database file, the
// embedded default for a single Trent node (modernc.org/sqlite, pure Go).
//
// Open the file with Open and hand the *DB to the service as a store.Store;
// Close it once, after every other call has returned. The schema is created
// and upgraded by the embedded migrations when the file is opened. A
// database written by a newer Trent (a migration this binary does not know)
// is refused, never guessed at.
//
// The package stores the bytes it is given: it never wraps, unwraps or
// inspects secrets, and it never reports a driver error type to a caller —
// only the sentinels of package store, wrapped with context.
//
// Connections: all writes go through one connection (SQLite has one writer
// at a time; queueing writers in database/sql instead of in SQLite's busy
// handler means concurrent writers in this process never see SQLITE_BUSY),
// and every write transaction starts with BEGIN IMMEDIATE, so it holds the
// write lock from its first statement and cannot fail to upgrade a read lock
// halfway through. Reads go through a separate pool of read-only
// (query_only) connections and run concurrently with each other and with the
// writer, which WAL mode allows. synchronous=FULL makes every commit wait
// for the WAL to reach stable storage before it is acknowledged.
//
// Writes are committed in groups (group.go): many concurrent writes share
// one transaction and one fsync, each in its own savepoint, and none is
// answered before its group is on stable storage. WAL checkpoints run in the
// background on a connection of their own, not in a writer's commit.
//
// Deleted keys must not be recoverable from the files (crypto-shredding):
// the writer runs with secure_delete=ON, so SQLite zeroes deleted cells and
// freed pages, and DeleteKey truncates the WAL after it commits, so no older
// page image with the wrapped key stays behind in the WAL either.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

var _ store.Store = (*DB)(nil)

// busyTimeout is how long a statement waits for a lock held by another
// connection before failing with SQLITE_BUSY. Inside one process the writer
// pool already serializes writes; the wait matters for another process
// holding the file (a CLI command, a backup) and for WAL checkpoints.
const busyTimeout = 10 * time.Second

// DB is a Trent store in one SQLite database file. It is safe for concurrent
// use.
type DB struct {
	// Store holds the methods whose SQL both stores share (sqlrows).
	sqlrows.Store

	path string
	w    *sql.DB // exactly one connection; every write goes here
	r    *sql.DB // read-only connections, for queries
	c    *sql.DB // one connection for background checkpoints

	stmts map[string]*sql.Stmt // prepared on w: preparedQueries (group.go)
	// rstmts are prepared on r: readQueries (group.go).
	rstmts map[string]*sql.Stmt

	// The group commit (group.go): writes wait in queue for the committer.
	queue         chan *pending
	queueMu       sync.RWMutex // queueClosed, and sends against Close
	queueClosed   bool
	committerDone chan struct{}

	stopCheckpoints  context.CancelFunc
	checkpointerDone chan struct{}

	writes, batches, checkpoints atomic.Uint64

	// finishCheckpoint asks the committer to copy the rest of the WAL
	// between two batches (group.go); finished counts those it did.
	finishCheckpoint      atomic.Bool
	finished, finishNanos atomic.Uint64
	// ckptMu serializes this process's checkpoints (the loop's, the
	// committer's, purge's): SQLite answers a checkpoint that finds
	// another one running with "busy" at once, without waiting, and
	// purge must not fail for that.
	ckptMu sync.Mutex
	// The counts of the checkpoint loop's last checkpoint (its own).
	lastLog, lastCheckpointed int
}

// Open opens the database file at path, creating it if needed, switches it
// to WAL mode and applies any migrations it lacks. path names a file in the
// file system; ":memory:" and URIs are refused, since the writer and the
// readers must share one database.
func Open(path string) (*DB, error) { return open(path, busyTimeout) }

// open is Open with a busy timeout other than busyTimeout, for tests that
// need a lock to give up quickly.
func open(path string, busy time.Duration) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ctx := context.Background()
	useFdatasync()

	w, err := sql.Open("sqlite", dsn(abs, true, busy))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	// One writer, kept open for the life of the DB.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := checkWriter(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	r, err := sql.Open("sqlite", dsn(abs, false, busy))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n) // opening a connection re-reads the schema: keep them
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	c, err := sql.Open("sqlite", checkpointDSN(abs))
	if err == nil {
		c.SetMaxOpenConns(1)
		c.SetMaxIdleConns(1)
		c.SetConnMaxLifetime(0)
		c.SetConnMaxIdleTime(0)
		if err = c.PingContext(ctx); err != nil {
			c.Close()
		}
	}
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	db := &DB{
		path: abs, w: w, r: r, c: c,
		queue:            make(chan *pending, maxBatch),
		committerDone:    make(chan struct{}),
		checkpointerDone: make(chan struct{}),
	}
	db.Store = db.shared()
	if err := db.prepare(ctx); err != nil {
		c.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	go db.commitLoop()
	cctx, cancel := context.WithCancel(context.Background())
	db.stopCheckpoints = cancel
	go db.checkpointLoop(cctx)
	return db, nil
}

// useFdatasync has SQLite sync its files with fdatasync(2) instead of
// fsync(2), as SQLite built by its own configure script does on Linux
// (the transpiled library keeps SQLite's source default, fsync): the same
// durability — the data and the size needed to read it back — without
// also writing the file's timestamps, which on a journaling file system
// can be most of a commit's wait. Process-wide; where fdatasync does not
// exist SQLite keeps fsync.
func useFdatasync() { _, _ = sqlite.Fdatasync(true) }

// checkpointDSN is the data source name of the checkpoint connection: it
// writes nothing but the database file from the WAL, and gives up on a
// lock soon (checkpointBusy).
func checkpointDSN(abs string) string {
	d := dsn(abs, false, checkpointBusy)
	return strings.Replace(d, url.QueryEscape("query_only(1)"), url.QueryEscape("wal_autocheckpoint(0)"), 1)
}

// dsn is the modernc.org/sqlite data source name for the file at abs. The
// pragmas run on every new connection of the pool.
func dsn(abs string, writer bool, busy time.Duration) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/…
	}
	// An escaped path: '?', '#' and '%' in a file name must not be read as
	// the start of the query or an escape.
	u := url.URL{Scheme: "file", Path: p}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		// Zero what is deleted instead of leaving it in free space: only
		// the writer deletes, so only the writer needs it.
		q.Add("_pragma", "secure_delete(1)")
		// Checkpoints run in the background (group.go), not in the
		// commit of whichever writer crosses the threshold.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		// A WAL grown past this (a reader kept it from being started
		// over) is cut back when it next starts over (group.go).
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", journalSizeLimit))
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return u.String() + "?" + q.Encode()
}

// checkWriter opens the writer connection and checks that the pragmas took:
// journal_mode=WAL is refused silently by some file systems, and SQLite
// ignores a pragma it does not know; secure_delete must be on.
func checkWriter(ctx context.Context, w *sql.DB) error {
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var sync int
	if err := w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if sync != 2 { // FULL
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", sync)
	}
	var secure int
	if err := w.QueryRowContext(ctx, "PRAGMA secure_delete").Scan(&secure); err != nil {
		return err
	}
	if secure != 1 {
		return fmt.Errorf("secure_delete is %d, want 1", secure)
	}
	return nil
}

// purge checkpoints the WAL into the database file and truncates it to
// zero bytes. secure_delete has already zeroed deleted rows in the newest
// image of their pages; older images, with the rows, stay in WAL frames
// until the WAL is truncated (a plain checkpoint leaves old frames in the
// file, to be overwritten some day).
//
// It runs on the writer, so no writer of this process interferes, and
// under ckptMu, so no checkpoint of this process does either. A
// TRUNCATE checkpoint waits, up to the busy timeout, for readers still on
// an older snapshot (another process's long read, a backup); if one
// outlasts the wait, SQLite reports the checkpoint busy and purge fails.
// Every purge checkpoints all frames, so the next DeleteKey completes an
// earlier one that failed, and so does Close (the last connection
// checkpoints and removes the WAL).
func (db *DB) purge(ctx context.Context) error {
	db.ckptMu.Lock()
	defer db.ckptMu.Unlock()
	var busy, logFrames, checkpointed int
	err := db.w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint blocked by a reader (%d of %d WAL frames copied)", checkpointed, logFrames)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Close answers the writes still queued, stops the background checkpoints
// and closes the readers, then the writer. Closing the last connection
// checkpoints the WAL into the database file.
func (db *DB) Close() error {
	db.closeQueue()
	db.stopCheckpoints()
	<-db.checkpointerDone
	db.closeStmts()
	errC := db.c.Close()
	errR := db.r.Close()
	errW := db.w.Close()
	if err := errors.Join(errC, errR, errW); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", db.path, err)
	}
	return nil
}

// wrapErr maps err to the store sentinels where one applies and adds
// context: "sqlite: <op>: …". A unique or primary-key violation is
// store.ErrExists; sql.ErrNoRows and a foreign-key violation (a row that
// refers to a key that does not exist) are store.ErrNotFound. The driver's
// message stays in the text but its type is not wrapped.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("sqlite: %s: %w (%v)", op, store.ErrExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("sqlite: %s: %w (%v)", op, store.ErrNotFound, err)
		}
		return fmt.Errorf("sqlite: %s: %v", op, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// rollback ends tx if it has not been committed; the error of a rollback
// after a failed statement adds nothing, and after Commit it is
// sql.ErrTxDone.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }
