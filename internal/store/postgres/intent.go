package postgres

import (
	"context"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// insertIntent inserts the audit intent ctx carries (store.AuditIntent),
// if any, in the write transaction tx after its own statements: every
// write — the shared ones, the one-statement writer and the store's own —
// runs through try, so each commits its request's intent with its change.
func insertIntent(ctx context.Context, tx *sqlTx) error {
	in := store.AuditIntentFrom(ctx)
	if in == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, sqlrows.InsertIntentQuery, sqlrows.IntentArgs(in)...)
	return err
}
