package postgres

import (
	"context"

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

// shared returns the methods whose SQL is in sqlrows, run on this DB:
// every write transaction serializable and retried (write).
func (db *DB) shared() sqlrows.Store {
	write := func(ctx context.Context, op string, f func(context.Context, sqlrows.Tx) error) error {
		return db.write(ctx, op, func(tx *sqlTx) error { return f(ctx, tx) })
	}
	return sqlrows.NewStore(sqlrows.Backend{
		Prefix: "postgres", Reader: db.r, Writer: db.w,
		Write: write, WriteKey: write, WriteKeys: write,
		Read: func(ctx context.Context, op string, f func(context.Context, sqlrows.Tx) error) error {
			return db.read(ctx, op, func(tx *sqlTx) error { return f(ctx, tx) })
		},
		Purge:   db.purge,
		WrapErr: wrapErr,
		Dialect: dialect,
	})
}

// dialect is PostgreSQL's spelling of what the stores' SQL does not share.
var dialect = sqlrows.Dialect{
	// PostgreSQL cannot type a parameter that only length() or lower()
	// sees; COLLATE "C" matches the index principals_by_name.
	TextArg:  "CAST(? AS text)",
	LowerArg: `lower(CAST(? AS text) COLLATE "C")`,
	// Descriptions and tags are bytea (migrations/0007_nul.sql).
	Text:      func(s string) any { return []byte(s) },
	EmptyBlob: `'\x'::bytea`,
}
