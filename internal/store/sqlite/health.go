package sqlite

import (
	"context"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
)

var _ store.Observable = (*DB)(nil)

// Ping implements store.Observable with a read of the settings table on
// a reader connection: the file is open, readable and the schema there.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM settings LIMIT 1)`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// CountKeys implements store.Observable. It scans the keys table (no
// index serves a GROUP BY over every account): a few milliseconds per
// hundred thousand keys, paid per metrics scrape.
func (db *DB) CountKeys(ctx context.Context) ([]store.KeyCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT state, key_spec, count(*) FROM keys GROUP BY state, key_spec`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count keys: %w", err)
	}
	defer rows.Close()
	var out []store.KeyCount
	for rows.Next() {
		var c store.KeyCount
		if err := rows.Scan(&c.State, &c.Spec, &c.Count); err != nil {
			return nil, fmt.Errorf("sqlite: count keys: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: count keys: %w", err)
	}
	return out, nil
}
