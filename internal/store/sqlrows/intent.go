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

// InsertIntentQuery writes a request's intent at its first write;
// UpdateIntentQuery replaces what it knew at a later one (its event and
// created keys only grow). Not one upsert: on PostgreSQL, INSERT … ON
// CONFLICT reads the index under serializable isolation, and with every
// new row going to the same last leaf page, concurrent CreateKeys failed
// each other's serialization and retried (-40% CreateKey/s).
const (
	InsertIntentQuery = `INSERT INTO audit_intents (keys, body, event_time, event_id, node) VALUES (?, ?, ?, ?, ?)`
	UpdateIntentQuery = `UPDATE audit_intents SET keys = ?, body = ? WHERE event_time = ? AND event_id = ?`
)

// IntentStatement returns the statement that writes in and its
// arguments, and marks in written. Call it on the caller's goroutine,
// before the write is queued: it encodes the event as it stands. The
// store sets in.Committed once a write carrying it commits.
func IntentStatement(in *store.AuditIntent) (string, []any) {
	in.Written = true
	var body []byte
	if in.Body != nil {
		body = in.Body()
	}
	args := []any{strings.Join(in.Keys, " "), blob(body), in.EventTime.UnixNano(), in.EventID}
	if in.Committed {
		return UpdateIntentQuery, args
	}
	return InsertIntentQuery, append(args, in.Node)
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

// DeleteIntentsStatement returns the DELETE of up to maxIntentDelete of
// ids, its arguments and the ids left.
func DeleteIntentsStatement(ids []store.AuditIntentID) (q string, args []any, rest []store.AuditIntentID) {
	const row = "(CAST(? AS bigint), CAST(? AS text))"
	n := min(len(ids), maxIntentDelete)
	q = "DELETE FROM audit_intents WHERE (event_time, event_id) IN (VALUES " + row + strings.Repeat(", "+row, n-1) + ")"
	args = make([]any, 0, 2*n)
	for _, id := range ids[:n] {
		args = append(args, id.EventTime.UnixNano(), id.EventID)
	}
	return q, args, ids[n:]
}

// DeleteAuditIntents deletes the given intents, in one statement per
// thousand, each found by its primary key.
func (s *Store) DeleteAuditIntents(ctx context.Context, ids []store.AuditIntentID) error {
	for len(ids) > 0 {
		var q string
		var args []any
		q, args, ids = DeleteIntentsStatement(ids)
		err := s.write(ctx, fmt.Sprintf("delete %d audit intents", len(args)/2), func(ctx context.Context, tx Tx) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// LastKeyUse returns the key's latest stored use (store.KeyUses): written
// by the node that made it, on either store.
func (s *Store) LastKeyUse(ctx context.Context, keyARN string) (store.KeyUse, bool, error) {
	u, ok, err := store.QueryLastKeyUse(ctx, s.r, keyARN)
	return u, ok, s.wrapErr("key last use "+keyARN, err)
}

// KeyUseMark returns node's mark: how far its log's uses are stored.
func (s *Store) KeyUseMark(ctx context.Context, node string) (store.KeyUseMark, error) {
	m, err := store.QueryKeyUseMark(ctx, s.r, node)
	return m, s.wrapErr("key use mark", err)
}
