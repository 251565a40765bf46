package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
)

var _ store.KeyUses = (*DB)(nil)

// LastKeyUse and KeyUseMark are sqlrows.Store's.

// PutKeyUses stores uses and node's mark in one transaction. A use
// replaces a key's row only if it is later (store.KeyUse.Later).
func (db *DB) PutKeyUses(ctx context.Context, node string, uses []store.KeyUse, mark store.KeyUseMark) error {
	op := fmt.Sprintf("record %d key uses", len(uses))
	markArgs, err := store.KeyUseMarkArgs(node, uses, mark)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx) // as every group-committed write (group.go)
		st, err := tx.PrepareContext(ctx, `INSERT INTO key_last_use (arn, event_time, node, seq, operation, event_id, request_id)
			VALUES (?, ?, ?, ?, ?, ?, ?) `+store.KeyLastUseUpsert)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, u := range uses {
			if _, err := st.ExecContext(ctx, u.KeyARN, u.Time.Unix(), u.Node, int64(u.Seq), u.Operation, u.EventID, u.RequestID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, store.KeyUseMarkUpsert, markArgs...)
		return err
	})
}
