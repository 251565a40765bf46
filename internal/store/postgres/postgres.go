// Package postgres implements store.Store on a PostgreSQL database, for
// several Trent nodes sharing one database (github.com/jackc/pgx/v5).
//
// Open the database with Open and hand the *DB to the service as a
// store.Store; Close it once, after every other call has returned. The
// schema is created and upgraded by the embedded migrations when the store
// is opened, under a session advisory lock, so nodes starting together
// apply each migration once and the others wait for it. A database written
// by a newer Trent (a migration this binary does not know) is refused.
//
// Connections come from a pgxpool.Pool. The queries are spoken through
// database/sql on that pool (pgx's stdlib.OpenDBFromPool), in the same
// shape as the SQLite store's, so the two stores read alike; pgx prepares
// every statement once per connection and caches it (its default
// QueryExecModeCacheStatement), so a query is parsed and planned once per
// connection, not per call.
//
// Concurrency between nodes. Every write runs in a SERIALIZABLE
// transaction; one that PostgreSQL aborts with a serialization failure or a
// deadlock (SQLSTATE 40001, 40P01) is run again from its first statement,
// until the call's deadline. So the read-then-write checks of the store — a
// revision compare-and-swap, a per-user limit counted before an insert, a
// grant looked up by name before a new one is stored — hold across nodes
// exactly as they hold inside one SQLite writer: two nodes creating the
// same alias get one success and one store.ErrExists (the primary key),
// two AddKeyVersion calls on one revision get one success and one
// store.ErrConflict (the retried loser sees the moved revision). Reads of
// several statements run in one READ ONLY REPEATABLE READ transaction (one
// snapshot).
//
// Deleted keys (crypto-shredding): see DeleteKey and docs/postgres.md —
// PostgreSQL can remove the rows and VACUUM their dead tuples, but cannot
// promise that no copy remains in the write-ahead log, its archive,
// replicas or backups.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

var _ store.Store = (*DB)(nil)

// defaultConnectTimeout bounds the opening of one connection.
const defaultConnectTimeout = 10 * time.Second

// maxAttempts bounds how often a write transaction is tried when
// PostgreSQL aborts it for a serialization failure or a deadlock. The
// call's deadline (--database-timeout) is what ends the retries in
// practice: with the pause below, this many attempts take longer than the
// default deadline. (A cap of 50 starved a writer among six contending
// for one row within 1.4 s, about one run in fifty of the conformance
// test under load, while the others kept winning.)
const maxAttempts = 1000

// maxRetryPause bounds the random pause before another attempt, which
// grows by a millisecond per attempt up to it.
const maxRetryPause = 16 * time.Millisecond

// DB is a Trent store in a PostgreSQL database. It is safe for concurrent
// use, and several DBs (on several nodes) may share one database.
type DB struct {
	// Store holds the methods whose SQL both stores share (sqlrows).
	sqlrows.Store

	pool *pgxpool.Pool
	sql  *sql.DB
	w    writer // autocommit writes: each one a serializable transaction
	r    reader // reads
	// purgePending is set when a DeleteKey's VACUUM failed; Close retries it.
	purgePending atomic.Bool
	// leasePIDs holds the backend pids (uint32) of this DB's lease
	// sessions (lease.go).
	leasePIDs sync.Map
	// timeout bounds each call (unavailable.go).
	timeout time.Duration
}

// Open connects to the database at url (a postgres:// URL or a libpq
// key=value string, as pgx parses them), checks that it answers and applies
// any migrations it lacks.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, o Options) (*DB, error) {
	if o.CallTimeout < 0 {
		return nil, fmt.Errorf("postgres: open: negative call timeout %v", o.CallTimeout)
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL with its password: say only
		// that it did not parse.
		return nil, errors.New("postgres: open: the database URL does not parse")
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "trent"
	}
	// Times are stored as integers and text compares byte-wise by column
	// collation; the session time zone matters to nothing, but a fixed one
	// keeps logs and ad-hoc queries alike on every node.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// A database that does not answer must not hang a node's start or a
	// request that needs a new connection (connect_timeout in the URL
	// overrides this).
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	sdb := stdlib.OpenDBFromPool(pool)
	db := &DB{pool: pool, sql: sdb, timeout: o.CallTimeout}
	db.w = writer{db}
	db.r = reader{sdb, o.CallTimeout, &sharedDeadline{timeout: o.CallTimeout}}
	db.Store = db.shared()
	return db, nil
}

// Close retries a purge that failed, then closes the pool.
func (db *DB) Close() error {
	var errP error
	if db.purgePending.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errP = db.purge(ctx)
		cancel()
	}
	errS := db.sql.Close()
	db.pool.Close()
	if err := errors.Join(errP, errS); err != nil {
		return fmt.Errorf("postgres: close: %w", err)
	}
	return nil
}

// purge removes the dead tuples of deleted key versions (the wrapped
// backing keys) from key_versions, its TOAST table and its indexes. VACUUM
// cannot run inside a transaction block, so it runs after DeleteKey's
// transaction commits, on a connection of its own. It does what PostgreSQL
// allows, no more: VACUUM skips tuples an older snapshot may still see
// (a long transaction anywhere in the cluster), freed space is reused
// rather than zeroed, and the write-ahead log keeps the rows until its
// segments are recycled (see docs/postgres.md).
func (db *DB) purge(ctx context.Context) error {
	if _, err := db.pool.Exec(ctx, "VACUUM key_versions"); err != nil {
		db.purgePending.Store(true)
		return fmt.Errorf("vacuum key_versions: %w", err)
	}
	db.purgePending.Store(false)
	return nil
}

// rebound caches the $n form of each query text.
var rebound sync.Map

// rebind rewrites the ? placeholders of q as PostgreSQL's $1, $2, …. The
// store's queries contain no ? in literals or identifiers.
func rebind(q string) string {
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	rebound.Store(q, s)
	return s
}

// reader runs queries outside a transaction, each under the call
// deadline.
type reader struct {
	db      *sql.DB
	timeout time.Duration
	shared  *sharedDeadline
}

func (r reader) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, cancel := bound(ctx, r.timeout)
	defer cancel()
	return r.db.ExecContext(ctx, rebind(q), args...)
}

func (r reader) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return r.db.QueryContext(boundRows(ctx, r.timeout, r.shared), rebind(q), args...)
}

func (r reader) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return r.db.QueryRowContext(boundRows(ctx, r.timeout, r.shared), rebind(q), args...)
}

// writer runs a one-statement write as a serializable transaction with
// write's retries, so that it takes part in the serializability of the
// other writes.
type writer struct{ db *DB }

func (w writer) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := w.db.run(ctx, func(tx *sqlTx) error {
		var err error
		res, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	return res, err
}

// sqlTx is a transaction that takes queries with ? placeholders. Its
// statements run under the transaction's context (the call's, with the
// call deadline), whatever context they are given: the callers hand them
// the call's own context, which lacks the deadline.
type sqlTx struct {
	tx  *sql.Tx
	ctx context.Context
}

func (t *sqlTx) ExecContext(_ context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, rebind(q), args...)
}

func (t *sqlTx) QueryContext(_ context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(t.ctx, rebind(q), args...)
}

func (t *sqlTx) QueryRowContext(_ context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.ctx, rebind(q), args...)
}

// write runs f in a serializable transaction, again if PostgreSQL aborts it
// for a serialization failure or deadlock, and commits it if f succeeds.
// f must have no effect outside the transaction (it may run several
// times). Errors come back through wrapErr with op.
func (db *DB) write(ctx context.Context, op string, f func(tx *sqlTx) error) error {
	return wrapErr(op, db.run(ctx, f))
}

func (db *DB) run(ctx context.Context, f func(tx *sqlTx) error) error {
	// One deadline for every attempt.
	ctx, cancel := bound(ctx, db.timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := db.try(ctx, f)
		if err == nil || !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		// A short random pause, growing with the attempts, so that the
		// writers that collided do not collide again in step.
		d := time.Duration(rand.Int64N(int64(min(time.Duration(attempt)*time.Millisecond, maxRetryPause)))) + 100*time.Microsecond
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return err
		}
	}
}

func (db *DB) try(ctx context.Context, f func(tx *sqlTx) error) error {
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		return err
	}
	defer rollback(tx)
	if err := f(&sqlTx{tx, ctx}); err != nil {
		return err
	}
	in, err := writeIntent(ctx, &sqlTx{tx, ctx})
	if err != nil {
		return err
	}
	if err := commitError(tx.Commit()); err != nil {
		return err
	}
	if in != nil {
		in.Committed = true
	}
	return nil
}

// read runs f in one read-only transaction, so that the statements in f
// see one snapshot (a name resolved, then the rows under it).
func (db *DB) read(ctx context.Context, op string, f func(tx *sqlTx) error) error {
	ctx, cancel := bound(ctx, db.timeout)
	defer cancel()
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return wrapErr(op, err)
	}
	defer rollback(tx)
	return wrapErr(op, f(&sqlTx{tx, ctx}))
}

// errRetry marks a serialization failure or deadlock that wrapErr turned
// into text, so that run still sees it.
var errRetry = errors.New("serialization failure")

func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code == "40001" || e.Code == "40P01"
	}
	return false
}

// wrapErr maps err to the store sentinels where one applies and adds
// context: "postgres: <op>: …". A unique violation (23505) is
// store.ErrExists; sql.ErrNoRows and a foreign-key violation (23503: a row
// that refers to one that does not exist) are store.ErrNotFound. The
// driver's message stays in the text but its type is not wrapped.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if u := unavailable(err); u != nil {
		return fmt.Errorf("postgres: %s: %w", op, u)
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch e.Code {
		case "23505":
			return fmt.Errorf("postgres: %s: %w (%v)", op, store.ErrExists, err)
		case "23503":
			return fmt.Errorf("postgres: %s: %w (%v)", op, store.ErrNotFound, err)
		case "40001", "40P01":
			return fmt.Errorf("postgres: %s: %w (%v)", op, errRetry, err)
		}
		return fmt.Errorf("postgres: %s: %v", op, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// rollback ends tx if it has not been committed.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }
