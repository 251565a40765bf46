package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Keys: the statements, the stored forms and the transaction bodies are
// in internal/store/sqlrows/keys.go; this file runs them as serializable,
// retried transactions.

// CreateKey stores k with revision 1, its tags and its first version in one
// transaction.
func (db *DB) CreateKey(ctx context.Context, k store.Key, first store.KeyVersion) error {
	op := "create key " + k.ID
	ka, err := dialect.KeyArgs(k)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	va, err := dialect.VersionArgs(k.ID, first)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	store.NoteCreatedKey(ctx, k)
	return db.write(ctx, op, func(tx *sqlTx) error {
		if _, err := tx.ExecContext(ctx, sqlrows.InsertKeyQuery, append(ka, k.ID)...); err != nil {
			return err
		}
		if err := dialect.InsertTags(ctx, tx, k.ID, k.Tags); err != nil {
			return err
		}
		return sqlrows.InsertVersion(ctx, tx, va)
	})
}

// GetKey returns the key with its tags, or ErrNotFound.
func (db *DB) GetKey(ctx context.Context, id string) (store.Key, error) {
	op := "get key " + id
	// One statement reads the key and its tags from one snapshot.
	rows, err := db.r.QueryContext(ctx, sqlrows.GetKeyQuery, id)
	if err != nil {
		return store.Key{}, wrapErr(op, err)
	}
	ks, err := sqlrows.ScanKeys(rows)
	if err != nil {
		return store.Key{}, wrapErr(op, err)
	}
	if len(ks) == 0 {
		return store.Key{}, wrapErr(op, sql.ErrNoRows)
	}
	return ks[0], nil
}

// KeyVersions returns the key's versions, oldest first.
func (db *DB) KeyVersions(ctx context.Context, keyID string) ([]store.KeyVersion, error) {
	op := "list versions of key " + keyID
	rows, err := db.r.QueryContext(ctx, sqlrows.KeyVersionsQuery, keyID)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	vs, err := sqlrows.ScanKeyVersions(rows)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return vs, nil
}

// KeysDue returns, ordered by ID, the keys whose deletion date or rotation
// time has come.
func (db *DB) KeysDue(ctx context.Context, now time.Time) ([]string, error) {
	op := "keys due"
	n, err := sqlrows.ToNanos(now)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	// A zero now is NULL and matches nothing.
	rows, err := db.r.QueryContext(ctx, `
		SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= $1
		UNION
		SELECT id FROM keys WHERE rotation_enabled = 1 AND next_rotation <= $1
		ORDER BY id`, n)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	ids, err := sqlrows.ScanIDs(rows)
	return ids, wrapErr(op, err)
}
