package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/store"
)

var _ store.KeyUses = (*DB)(nil)

// LastKeyUse and KeyUseMark are sqlrows.Store's.

// PutKeyUses stores uses, each replacing a key's row only if it is later
// (store.KeyUse.Later), and node's mark, in one transaction and one
// statement for the uses. It runs at READ COMMITTED, not in the store's
// serializable writes: the upserts only ever move a row forward, and the
// flusher that calls it sorts the uses by ARN, so that nodes writing the
// same keys lock them in one order.
func (db *DB) PutKeyUses(ctx context.Context, node string, uses []store.KeyUse, mark store.KeyUseMark) error {
	op := fmt.Sprintf("record %d key uses", len(uses))
	markArgs, err := store.KeyUseMarkArgs(node, uses, mark)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	n := len(uses)
	arns, ops, ids, reqs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, seqs := make([]int64, n), make([]int64, n)
	for i, u := range uses {
		arns[i], ops[i], ids[i], reqs[i] = u.KeyARN, u.Operation, u.EventID, u.RequestID
		times[i], seqs[i] = u.Time.Unix(), int64(u.Seq)
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if n > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO key_last_use (arn, event_time, node, seq, operation, event_id, request_id)
				SELECT u.arn, u.t, $7, u.s, u.op, u.id, u.req
				FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS u(arn, t, s, op, id, req)
				`+store.KeyLastUseUpsert, arns, times, seqs, ops, ids, reqs, node); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, rebind(store.KeyUseMarkUpsert), markArgs...)
		return err
	})
	return wrapErr(op, err)
}
