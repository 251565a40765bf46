package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/audit"
)

// KeyLastUse returns the latest successful cryptographic use of the key
// keyARN that any node has shipped (migration 0007's key_last_use), or
// false if none has.
func (db *DB) KeyLastUse(ctx context.Context, keyARN string) (audit.Usage, bool, error) {
	var (
		u  audit.Usage
		at int64
	)
	err := db.pool.QueryRow(ctx, `SELECT event_time, operation, event_id, request_id FROM key_last_use WHERE arn = $1`, keyARN).
		Scan(&at, &u.Operation, &u.EventID, &u.RequestID)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Usage{}, false, nil
	}
	if err != nil {
		return audit.Usage{}, false, wrapErr("key last use "+keyARN, err)
	}
	u.Time = time.Unix(at, 0).UTC()
	return u, true, nil
}
