package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/store"
)

var _ store.KeyUses = (*DB)(nil)

// LastKeyUse returns the key's latest use stored by any node: written by
// the node (PutKeyUses) or by migration 0008's trigger on what it shipped.
func (db *DB) LastKeyUse(ctx context.Context, keyARN string) (store.KeyUse, bool, error) {
	u := store.KeyUse{KeyARN: keyARN}
	var at, seq int64
	err := db.pool.QueryRow(ctx, `SELECT event_time, node, seq, operation, event_id, request_id FROM key_last_use WHERE arn = $1`, keyARN).
		Scan(&at, &u.Node, &seq, &u.Operation, &u.EventID, &u.RequestID)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.KeyUse{}, false, nil
	}
	if err != nil {
		return store.KeyUse{}, false, wrapErr("key last use "+keyARN, err)
	}
	u.Time, u.Seq = time.Unix(at, 0).UTC(), uint64(seq)
	return u, true, nil
}

// KeyUseMark returns node's mark (migration 0009).
func (db *DB) KeyUseMark(ctx context.Context, node string) (store.KeyUseMark, error) {
	var seq int64
	var start *int64
	err := db.pool.QueryRow(ctx, `SELECT seq, tracking_start FROM key_use_marks WHERE node = $1`, node).Scan(&seq, &start)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.KeyUseMark{}, nil
	}
	if err != nil {
		return store.KeyUseMark{}, wrapErr("key use mark", err)
	}
	m := store.KeyUseMark{Seq: uint64(seq)}
	if start != nil {
		m.TrackingStart = time.Unix(0, *start).UTC()
	}
	return m, nil
}

// PutKeyUses stores uses, each replacing a key's row only if it is later
// in the order of migration 0008's trigger, and node's mark, in one
// transaction and one statement for the uses.
func (db *DB) PutKeyUses(ctx context.Context, node string, uses []store.KeyUse, mark store.KeyUseMark) error {
	op := fmt.Sprintf("record %d key uses", len(uses))
	if mark.Seq > math.MaxInt64 {
		return fmt.Errorf("postgres: %s: mark %d out of range", op, mark.Seq)
	}
	var start *int64
	if !mark.TrackingStart.IsZero() {
		n := mark.TrackingStart.UnixNano()
		start = &n
	}
	n := len(uses)
	arns, ops, ids, reqs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, seqs := make([]int64, n), make([]int64, n)
	for i, u := range uses {
		if u.Seq > math.MaxInt64 {
			return fmt.Errorf("postgres: %s: %s: seq %d out of range", op, u.KeyARN, u.Seq)
		}
		arns[i], ops[i], ids[i], reqs[i] = u.KeyARN, u.Operation, u.EventID, u.RequestID
		times[i], seqs[i] = u.Time.Unix(), int64(u.Seq)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if n > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO key_last_use (arn, event_time, node, seq, operation, event_id, request_id)
				SELECT u.arn, u.t, $7, u.s, u.op, u.id, u.req
				FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS u(arn, t, s, op, id, req)
				ON CONFLICT (arn) DO UPDATE SET event_time = excluded.event_time, node = excluded.node,
					seq = excluded.seq, operation = excluded.operation, event_id = excluded.event_id,
					request_id = excluded.request_id
				WHERE (key_last_use.event_time, key_last_use.node, key_last_use.seq)
					< (excluded.event_time, excluded.node, excluded.seq)`,
				arns, times, seqs, ops, ids, reqs, node); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO key_use_marks (node, seq, tracking_start) VALUES ($1, $2, $3)
			ON CONFLICT (node) DO UPDATE SET seq = excluded.seq, tracking_start = excluded.tracking_start`,
			node, int64(mark.Seq), start)
		return err
	})
	return wrapErr(op, err)
}
