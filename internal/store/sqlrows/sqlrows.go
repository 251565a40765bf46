// Package sqlrows holds what the SQLite store (internal/store/sqlite) and
// the PostgreSQL store (internal/store/postgres) share: their SELECT column
// lists and row scanners, the stored forms of values, and the statements
// and transaction bodies that are the same in both schemas.
//
// Everything here is written against Tx, with ? placeholders; the
// PostgreSQL store's transaction rebinds them. The backends keep what is
// their own: opening transactions, retries and group commit, the context a
// statement runs under, mapping driver errors to the store sentinels, the
// "sqlite:"/"postgres:" prefix of every error, migrations, and any SQL
// that differs between the dialects. So an error from this package is bare
// (a driver error, sql.ErrNoRows, a store sentinel wrapped with context):
// the backend passes it through its wrapErr.
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

// Scanner is a *sql.Row or *sql.Rows.
type Scanner interface{ Scan(dest ...any) error }

// Count runs a SELECT count(*) query.
func Count(ctx context.Context, q Tx, query string, args ...any) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// OneRow returns sql.ErrNoRows if res affected no row.
func OneRow(res sql.Result) error {
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

// NormTime returns t as it reads back after storage: UTC, without a
// monotonic clock reading.
func NormTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

// Blob returns b, or an empty non-nil slice for nil: the drivers bind a
// nil slice as NULL, which the NOT NULL BLOB (bytea) columns refuse.
func Blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// BoolInt is the INTEGER 0/1 form of b (the PostgreSQL schema keeps the
// SQLite store's integer flags, so both stores share their queries).
func BoolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
