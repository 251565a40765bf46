// Package sqlrows holds what the SQLite store (internal/store/sqlite) and
// the PostgreSQL store (internal/store/postgres) share: their statements,
// SELECT column lists and row scanners, the stored forms of values, and
// the transaction bodies. Most of it is Store, which each store's DB
// embeds: the methods of store.Store whose SQL is the same in both.
//
// Everything here is written against Tx, with ? placeholders; the
// PostgreSQL store's transactions and reader rebind them. The stores keep
// what is their own and hand it to Store through Backend: opening
// transactions, retries and group commit, the context a statement runs
// under, the purge after key material is deleted, mapping driver errors to
// the store sentinels with the "sqlite:"/"postgres:" prefix, and the SQL
// that differs between the dialects (Dialect). Migrations (but for the
// rule that names and numbers them, EachMigration), and the statements
// SQLite prepares (CreateKey, GetKey, KeyVersions, a key's aliases), stay
// in the stores. This package must not import either driver.
package sqlrows

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
)

// Execer runs a statement that returns no rows.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Tx is what a transaction, a connection pool and the PostgreSQL store's
// rebinding wrappers have in common: helpers that resolve names run inside
// a write transaction or on their own.
type Tx interface {
	Execer
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// count runs a SELECT count(*) query.
func count(ctx context.Context, q Tx, query string, args ...any) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// oneRow returns sql.ErrNoRows if res affected no row.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}

// The range of time.Time that Unix nanoseconds in an int64 can hold:
// about 1677-09-21 to 2262-04-11.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// ToNanos converts t for storage: NULL for the zero time, else Unix
// nanoseconds (PostgreSQL's timestamptz keeps only microseconds; the
// store's contract is nanoseconds). A time outside the range an int64
// holds is an error rather than a silently wrong value.
func ToNanos(t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return sql.NullInt64{}, fmt.Errorf("time %s outside the storable range", t.Format(time.RFC3339Nano))
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}, nil
}

// FromNanos is the inverse of ToNanos: the zero time for NULL, else the
// instant in UTC.
func FromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// normTime returns t as it reads back after storage: UTC, without a
// monotonic clock reading.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

// blob returns b, or an empty non-nil slice for nil: the drivers bind a
// nil slice as NULL, which the NOT NULL BLOB (bytea) columns refuse.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// boolInt is the INTEGER 0/1 form of b (the PostgreSQL schema keeps the
// SQLite store's integer flags, so both stores share their queries).
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
