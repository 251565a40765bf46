package postgres

import (
	"context"
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

// checkLimit refuses a limit that is not positive.
func checkLimit(op string, limit int) error {
	if limit <= 0 {
		return fmt.Errorf("postgres: %s: limit %d is not positive", op, limit)
	}
	return nil
}

// shared returns the methods whose SQL is in sqlrows, run on this DB:
// every write transaction serializable and retried (write).
func (db *DB) shared() sqlrows.Store {
	return sqlrows.NewStore(sqlrows.Backend{
		Prefix: "postgres", Reader: db.r, Writer: db.w,
		Write: func(ctx context.Context, op string, f func(sqlrows.Tx) error) error {
			return db.write(ctx, op, func(tx *sqlTx) error { return f(tx) })
		},
		Read: func(ctx context.Context, op string, f func(sqlrows.Tx) error) error {
			return db.read(ctx, op, func(tx *sqlTx) error { return f(tx) })
		},
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
