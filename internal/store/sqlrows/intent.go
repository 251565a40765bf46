package sqlrows

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// The audit outbox (store.AuditIntent): each store's write transactions
// run InsertIntentQuery with IntentArgs after their own statements when
// the caller's context carries an intent.

// InsertIntentQuery writes a request's intent; a later write of the same
// request replaces what it knew (its event and created keys only grow).
const InsertIntentQuery = `INSERT INTO audit_intents (event_id, node, event_time, keys, body)
	VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (event_time, event_id) DO UPDATE SET keys = excluded.keys, body = excluded.body`

// IntentArgs returns the arguments of InsertIntentQuery for in, and marks
// in written. Call it on the caller's goroutine, before the write is
// queued: it encodes the event as it stands.
func IntentArgs(in *store.AuditIntent) []any {
	in.Written = true
	var body []byte
	if in.Body != nil {
		body = in.Body()
	}
	return []any{in.EventID, in.Node, in.EventTime.UnixNano(), strings.Join(in.Keys, " "), blob(body)}
}

// AuditIntents returns node's intents, oldest first.
func (s *Store) AuditIntents(ctx context.Context, node string) ([]store.StoredIntent, error) {
	op := "audit intents of node " + node
	rows, err := s.r.QueryContext(ctx, `SELECT event_id, node, event_time, keys, body
		FROM audit_intents WHERE node = ? ORDER BY event_time, event_id`, node)
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.StoredIntent
	for rows.Next() {
		var in store.StoredIntent
		var t int64
		var keys string
		if err := rows.Scan(&in.EventID, &in.Node, &t, &keys, &in.Body); err != nil {
			return nil, s.wrapErr(op, err)
		}
		in.EventTime = time.Unix(0, t).UTC()
		in.Keys = strings.Fields(keys)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrapErr(op, err)
	}
	return out, nil
}

// maxIntentDelete bounds the intents one DELETE names (two parameters
// each; SQLite allows 32766 parameters, PostgreSQL 65535).
const maxIntentDelete = 1000

// DeleteAuditIntents deletes the given intents, in one statement per
// thousand, each found by its primary key.
func (s *Store) DeleteAuditIntents(ctx context.Context, ids []store.AuditIntentID) error {
	const row = "(CAST(? AS bigint), CAST(? AS text))"
	for len(ids) > 0 {
		n := min(len(ids), maxIntentDelete)
		part := ids[:n]
		ids = ids[n:]
		q := "DELETE FROM audit_intents WHERE (event_time, event_id) IN (VALUES " + row + strings.Repeat(", "+row, n-1) + ")"
		args := make([]any, 0, 2*n)
		for _, id := range part {
			args = append(args, id.EventTime.UnixNano(), id.EventID)
		}
		err := s.write(ctx, fmt.Sprintf("delete %d audit intents", n), func(ctx context.Context, tx Tx) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
