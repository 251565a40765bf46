package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

var _ store.KeyUses = (*DB)(nil)

// LastKeyUse returns the key's latest stored use (migration 0005).
func (db *DB) LastKeyUse(ctx context.Context, keyARN string) (store.KeyUse, bool, error) {
	u := store.KeyUse{KeyARN: keyARN}
	var at, seq int64
	err := db.r.QueryRowContext(ctx, `SELECT event_time, node, seq, operation, event_id, request_id
		FROM key_last_use WHERE arn = ?`, keyARN).Scan(&at, &u.Node, &seq, &u.Operation, &u.EventID, &u.RequestID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.KeyUse{}, false, nil
	}
	if err != nil {
		return store.KeyUse{}, false, wrapErr("key last use "+keyARN, err)
	}
	u.Time, u.Seq = time.Unix(at, 0).UTC(), uint64(seq)
	return u, true, nil
}

// KeyUseMark returns node's mark.
func (db *DB) KeyUseMark(ctx context.Context, node string) (store.KeyUseMark, error) {
	var seq int64
	var start sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT seq, tracking_start FROM key_use_marks WHERE node = ?`, node).Scan(&seq, &start)
	if errors.Is(err, sql.ErrNoRows) {
		return store.KeyUseMark{}, nil
	}
	if err != nil {
		return store.KeyUseMark{}, wrapErr("key use mark", err)
	}
	return store.KeyUseMark{Seq: uint64(seq), TrackingStart: fromNanos(start)}, nil
}

// PutKeyUses stores uses and node's mark in one transaction. A use
// replaces a key's row only if it is later (store.KeyUse.Later).
func (db *DB) PutKeyUses(ctx context.Context, node string, uses []store.KeyUse, mark store.KeyUseMark) error {
	op := fmt.Sprintf("record %d key uses", len(uses))
	start, err := toNanos(mark.TrackingStart)
	if err != nil {
		return fmt.Errorf("sqlite: %s: tracking start: %w", op, err)
	}
	if mark.Seq > math.MaxInt64 {
		return fmt.Errorf("sqlite: %s: mark %d out of range", op, mark.Seq)
	}
	for _, u := range uses {
		if u.Seq > math.MaxInt64 {
			return fmt.Errorf("sqlite: %s: %s: seq %d out of range", op, u.KeyARN, u.Seq)
		}
	}
	return db.write(ctx, op, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO key_last_use (arn, event_time, node, seq, operation, event_id, request_id)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (arn) DO UPDATE SET event_time = excluded.event_time, node = excluded.node,
					seq = excluded.seq, operation = excluded.operation, event_id = excluded.event_id,
					request_id = excluded.request_id
				WHERE (key_last_use.event_time, key_last_use.node, key_last_use.seq)
					< (excluded.event_time, excluded.node, excluded.seq)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, u := range uses {
			if _, err := st.ExecContext(ctx, u.KeyARN, u.Time.Unix(), u.Node, int64(u.Seq), u.Operation, u.EventID, u.RequestID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO key_use_marks (node, seq, tracking_start) VALUES (?, ?, ?)
			ON CONFLICT (node) DO UPDATE SET seq = excluded.seq, tracking_start = excluded.tracking_start`,
			node, int64(mark.Seq), start)
		return err
	})
}
