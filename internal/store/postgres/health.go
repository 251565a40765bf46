package postgres

import (
	"context"

	"github.com/trent-kms/trent/internal/store"
)

var _ store.Observable = (*DB)(nil)

// Ping implements store.Observable with a read of the settings table on
// a pool connection: the database answers and the schema is there.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM settings LIMIT 1) AS one`).Scan(&n); err != nil {
		return wrapErr("ping", err)
	}
	return nil
}

// CountKeys implements store.Observable. It scans the keys table (no
// index serves a GROUP BY over every account), once per metrics scrape of
// every node.
func (db *DB) CountKeys(ctx context.Context) ([]store.KeyCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT state, key_spec, count(*) FROM keys GROUP BY state, key_spec`)
	if err != nil {
		return nil, wrapErr("count keys", err)
	}
	defer rows.Close()
	var out []store.KeyCount
	for rows.Next() {
		var c store.KeyCount
		if err := rows.Scan(&c.State, &c.Spec, &c.Count); err != nil {
			return nil, wrapErr("count keys", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("count keys", err)
	}
	return out, nil
}
