package sqlite

import (
	"context"
	"database/sql"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Accounts, users, groups, roles, their policies and access keys,
// settings, grants, aliases and most writes of keys: their SQL is the same
// in both stores and lives in internal/store/sqlrows, whose Store the DB
// embeds. This file gives it this store's transactions and dialect.

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

// shared returns the methods whose SQL is in sqlrows, run on this DB:
// reads on the reader pool, writes through the group commit (those of keys,
// aliases and grants uninterrupted, see uninterrupted), and writes of
// several keys or of imported material in a transaction of their own on
// the writer (inTx).
func (db *DB) shared() sqlrows.Store {
	return sqlrows.NewStore(sqlrows.Backend{
		Prefix: "sqlite", Reader: db.r, Writer: intentWriter{db},
		// Every group-committed write runs uninterrupted: one caller's
		// cancellation must not roll back the other writes of its batch.
		Write: func(ctx context.Context, op string, f func(context.Context, sqlrows.Tx) error) error {
			return db.write(ctx, op, func(tx *sql.Tx) error { return f(uninterrupted(ctx), tx) })
		},
		WriteKey: func(ctx context.Context, op string, f func(context.Context, sqlrows.Tx) error) error {
			return db.write(ctx, op, func(tx *sql.Tx) error { return f(uninterrupted(ctx), tx) })
		},
		WriteKeys: func(ctx context.Context, op string, f func(context.Context, sqlrows.Tx) error) error {
			return db.inTx(ctx, op, func(tx *sql.Tx) error { return f(ctx, tx) })
		},
		Read: func(ctx context.Context, op string, f func(context.Context, sqlrows.Tx) error) error {
			return db.read(ctx, op, func(tx *sql.Tx) error { return f(ctx, tx) })
		},
		Purge:   db.purge,
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
