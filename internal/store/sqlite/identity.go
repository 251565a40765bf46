package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Accounts, users, groups, roles, their policies and access keys, and
// settings: their SQL is the same in both stores and lives in
// internal/store/sqlrows (identity.go, policies.go, settings.go), whose
// Store the DB embeds.

var (
	_ store.SettingCreator = (*DB)(nil)
	_ store.Rewrap         = (*DB)(nil)
)

// write, the group commit of every write transaction, is in group.go.

// read runs f in one read transaction on the reader pool, so that the
// statements in f see one snapshot (a name resolved, then the rows under
// it).
func (db *DB) read(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(op, err)
	}
	defer rollback(tx)
	return wrapErr(op, f(tx))
}

// checkLimit refuses a limit that is not positive.
func checkLimit(op string, limit int) error {
	if limit <= 0 {
		return fmt.Errorf("sqlite: %s: limit %d is not positive", op, limit)
	}
	return nil
}

// shared returns the methods whose SQL is in sqlrows, run on this DB:
// reads on the reader pool, transactions through the group commit.
func (db *DB) shared() sqlrows.Store {
	return sqlrows.NewStore(sqlrows.Backend{
		Prefix: "sqlite", Reader: db.r, Writer: db.w,
		Write: func(ctx context.Context, op string, f func(sqlrows.Tx) error) error {
			return db.write(ctx, op, func(tx *sql.Tx) error { return f(tx) })
		},
		Read: func(ctx context.Context, op string, f func(sqlrows.Tx) error) error {
			return db.read(ctx, op, func(tx *sql.Tx) error { return f(tx) })
		},
		WrapErr: wrapErr,
		Dialect: dialect,
	})
}

// dialect is SQLite's spelling of what the stores' SQL does not share.
var dialect = sqlrows.Dialect{
	TextArg:   "?",
	LowerArg:  "lower(?)",
	Text:      func(s string) any { return s },
	EmptyBlob: "x''",
}
