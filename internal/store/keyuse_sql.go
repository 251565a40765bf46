package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// The SQL stores keep key uses in the same two tables, key_last_use and
// key_use_marks (SQLite migrations 0005 and 0006, PostgreSQL 0008 to
// 0011); what follows is what the two stores share of reading and
// writing them. Queries take ? placeholders (the PostgreSQL store's
// handles rebind them).

// RowQuerier is a database/sql handle or transaction.
type RowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// QueryLastKeyUse reads keyARN's row of key_last_use; false if it has
// none.
func QueryLastKeyUse(ctx context.Context, q RowQuerier, keyARN string) (KeyUse, bool, error) {
	u := KeyUse{KeyARN: keyARN}
	var at, seq int64
	err := q.QueryRowContext(ctx, `SELECT event_time, node, seq, operation, event_id, request_id
		FROM key_last_use WHERE arn = ?`, keyARN).Scan(&at, &u.Node, &seq, &u.Operation, &u.EventID, &u.RequestID)
	if errors.Is(err, sql.ErrNoRows) {
		return KeyUse{}, false, nil
	}
	if err != nil {
		return KeyUse{}, false, err
	}
	u.Time, u.Seq = time.Unix(at, 0).UTC(), uint64(seq)
	return u, true, nil
}

// QueryKeyUseMark reads node's row of key_use_marks; the zero mark if it
// has none.
func QueryKeyUseMark(ctx context.Context, q RowQuerier, node string) (KeyUseMark, error) {
	var (
		seq   int64
		start sql.NullInt64
		hash  []byte
	)
	err := q.QueryRowContext(ctx, `SELECT seq, tracking_start, hash FROM key_use_marks WHERE node = ?`, node).Scan(&seq, &start, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return KeyUseMark{}, nil
	}
	if err != nil {
		return KeyUseMark{}, err
	}
	m := KeyUseMark{Seq: uint64(seq)}
	if start.Valid {
		m.TrackingStart = time.Unix(0, start.Int64).UTC()
	}
	switch len(hash) {
	case 0: // NULL: a mark stored before marks had hashes
	case len(m.Hash):
		copy(m.Hash[:], hash)
	default:
		return KeyUseMark{}, fmt.Errorf("key use mark of %q: a hash of %d bytes", node, len(hash))
	}
	return m, nil
}

// KeyLastUseUpsert ends an INSERT INTO key_last_use (arn, event_time,
// node, seq, operation, event_id, request_id): a use replaces a key's row
// only if it is later (KeyUse.Later).
const KeyLastUseUpsert = `ON CONFLICT (arn) DO UPDATE SET event_time = excluded.event_time, node = excluded.node,
	seq = excluded.seq, operation = excluded.operation, event_id = excluded.event_id,
	request_id = excluded.request_id
	WHERE (key_last_use.event_time, key_last_use.node, key_last_use.seq)
		< (excluded.event_time, excluded.node, excluded.seq)`

// KeyUseMarkUpsert stores a node's mark; its arguments are
// KeyUseMarkArgs's.
const KeyUseMarkUpsert = `INSERT INTO key_use_marks (node, seq, tracking_start, hash) VALUES (?, ?, ?, ?)
	ON CONFLICT (node) DO UPDATE SET seq = excluded.seq, tracking_start = excluded.tracking_start, hash = excluded.hash`

// KeyUseMarkArgs checks that uses and mark fit the tables' columns
// (sequence numbers in a signed 64-bit integer, the tracking start in
// Unix nanoseconds) and returns the arguments of KeyUseMarkUpsert.
func KeyUseMarkArgs(node string, uses []KeyUse, mark KeyUseMark) ([]any, error) {
	if mark.Seq > math.MaxInt64 {
		return nil, fmt.Errorf("mark %d out of range", mark.Seq)
	}
	for _, u := range uses {
		if u.Seq > math.MaxInt64 {
			return nil, fmt.Errorf("%s: seq %d out of range", u.KeyARN, u.Seq)
		}
	}
	var start sql.NullInt64
	if t := mark.TrackingStart; !t.IsZero() {
		if !time.Unix(0, t.UnixNano()).Equal(t) {
			return nil, fmt.Errorf("tracking start %s outside the storable range", t.Format(time.RFC3339Nano))
		}
		start = sql.NullInt64{Int64: t.UnixNano(), Valid: true}
	}
	var hash []byte // NULL: no line to check (Seq 0)
	if mark.Hash != ([32]byte{}) {
		hash = mark.Hash[:]
	}
	return []any{node, int64(mark.Seq), start, hash}, nil
}
