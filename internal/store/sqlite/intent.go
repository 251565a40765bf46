package sqlite

import (
	"context"
	"database/sql"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// The audit outbox (store.AuditIntent): every write transaction — the
// group commit's (write), those of their own (inTx) and the one-statement
// writes (intentWriter) — writes the intent its caller's context carries
// after its own statements, so that it commits or rolls back with them.

// withIntent returns f followed by the write of ctx's intent, and a
// function to call with the transaction's outcome; or f itself when ctx
// carries none. The intent is encoded here, on the caller's goroutine,
// not in the committer's.
func (db *DB) withIntent(ctx context.Context, f func(tx *sql.Tx) error) (func(tx *sql.Tx) error, func(error) error) {
	in := store.AuditIntentFrom(ctx)
	if in == nil {
		return f, func(err error) error { return err }
	}
	q, args := sqlrows.IntentStatement(in)
	return func(tx *sql.Tx) error {
			if err := f(tx); err != nil {
				return err
			}
			_, err := db.txExec(context.WithoutCancel(ctx), tx, q, args...)
			return err
		}, func(err error) error {
			if err == nil {
				in.Committed = true
			}
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
	f, done := w.db.withIntent(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	if err := f(tx); err != nil {
		return nil, err
	}
	return res, done(tx.Commit())
}

// The intent's statements are prepared with CreateKey's (group.go):
// every CreateKey through the API runs one.
const (
	insertIntentQuery = sqlrows.InsertIntentQuery
	updateIntentQuery = sqlrows.UpdateIntentQuery
)
