package sqlite

import (
	"context"
	"database/sql"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// The audit outbox (store.AuditIntent): every write transaction — the
// group commit's (write), those of their own (inTx) and the one-statement
// writes (intentWriter) — inserts the intent its caller's context carries
// after its own statements, so that it commits or rolls back with them.

// withIntent returns f followed by the insert of ctx's intent, or f itself
// when ctx carries none. The intent is encoded here, on the caller's
// goroutine, not in the committer's.
func (db *DB) withIntent(ctx context.Context, f func(tx *sql.Tx) error) func(tx *sql.Tx) error {
	in := store.AuditIntentFrom(ctx)
	if in == nil {
		return f
	}
	args := sqlrows.IntentArgs(in)
	return func(tx *sql.Tx) error {
		if err := f(tx); err != nil {
			return err
		}
		_, err := db.txExec(context.WithoutCancel(ctx), tx, insertIntentQuery, args...)
		return err
	}
}

// intentWriter runs the shared one-statement writes on the writer: alone
// as before when the context carries no intent, else in a transaction
// with it.
type intentWriter struct{ db *DB }

func (w intentWriter) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if store.AuditIntentFrom(ctx) == nil {
		return w.db.w.ExecContext(ctx, q, args...)
	}
	tx, err := w.db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer rollback(tx)
	var res sql.Result
	err = w.db.withIntent(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, q, args...)
		return err
	})(tx)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// insertIntentQuery is prepared with CreateKey's statements (group.go):
// every CreateKey through the API runs it.
const insertIntentQuery = sqlrows.InsertIntentQuery
