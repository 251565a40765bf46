package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// writeIntent writes the audit intent ctx carries (store.AuditIntent), if
// any, in the write transaction tx after its own statements, and returns
// it: every write — the shared ones, the one-statement writer and the
// store's own — runs through try, so each commits its request's intent
// with its change.
func writeIntent(ctx context.Context, tx *sqlTx) (*store.AuditIntent, error) {
	in := store.AuditIntentFrom(ctx)
	if in == nil {
		return nil, nil
	}
	q, args := sqlrows.IntentStatement(in)
	_, err := tx.ExecContext(ctx, q, args...)
	return in, err
}

// DeleteAuditIntents deletes the given intents, a thousand to a
// statement, each in a READ COMMITTED transaction of its own: the rows are
// deleted by primary key and nothing depends on reading them, so the
// janitor stays out of serializable isolation's conflict tracking, which
// would otherwise tie it to every CreateKey inserting into the same pages.
func (db *DB) DeleteAuditIntents(ctx context.Context, ids []store.AuditIntentID) error {
	ctx, cancel := bound(ctx, db.timeout)
	defer cancel()
	for len(ids) > 0 {
		var q string
		var args []any
		q, args, ids = sqlrows.DeleteIntentsStatement(ids)
		tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
		if err != nil {
			return wrapErr("delete audit intents", err)
		}
		_, err = tx.ExecContext(ctx, rebind(q), args...)
		if err != nil {
			rollback(tx)
			return wrapErr(fmt.Sprintf("delete %d audit intents", len(args)/2), err)
		}
		if err := tx.Commit(); err != nil {
			return wrapErr("delete audit intents", err)
		}
	}
	return nil
}
