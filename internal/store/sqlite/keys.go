package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Keys: the statements, the stored forms and the transaction bodies are
// in internal/store/sqlrows/keys.go; this file runs them through the group
// commit, with the hot statements prepared (group.go).

// CreateKey stores k with revision 1, its tags and its first version in one
// transaction.
func (db *DB) CreateKey(ctx context.Context, k store.Key, first store.KeyVersion) error {
	op := "create key " + k.ID
	ka, err := dialect.KeyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	va, err := dialect.VersionArgs(k.ID, first)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	store.NoteCreatedKey(ctx, k)
	return db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx)
		if _, err := db.txExec(ctx, tx, insertKeyQuery, append(ka, k.ID)...); err != nil {
			return err
		}
		if err := dialect.InsertTags(ctx, tx, k.ID, k.Tags); err != nil {
			return err
		}
		_, err := db.txExec(ctx, tx, insertVersionQuery, va...)
		return err
	})
}

// GetKey returns the key with its tags, or ErrNotFound.
func (db *DB) GetKey(ctx context.Context, id string) (store.Key, error) {
	op := "get key " + id
	// One statement reads the key and its tags from one snapshot.
	rows, err := db.rquery(ctx, getKeyQuery, id)
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
	rows, err := db.rquery(ctx, keyVersionsQuery, keyID)
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
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	// A zero now is NULL and matches nothing. Each half searches its
	// partial index; the order and the duplicates are dealt with here,
	// because with ORDER BY or UNION SQLite walks every key in id order
	// instead (a full scan per job run: a million rows at a million keys).
	rows, err := db.r.QueryContext(ctx, `
		SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= ?1
		UNION ALL
		SELECT id FROM keys WHERE rotation_enabled = 1 AND next_rotation <= ?1`, n)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	ids, err := sqlrows.ScanIDs(rows)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// The statements of CreateKey, prepared once (DB.txExec): parsing them
// anew for every key cost the committer a quarter of its time.
const (
	insertKeyQuery     = sqlrows.InsertKeyQuery
	insertVersionQuery = sqlrows.InsertVersionQuery
)

// The statements of a cache miss (GetKey, KeyVersions, the aliases of a
// key), prepared once on the reader pool (DB.rquery): parsing them was
// half of a miss's store time.
const (
	getKeyQuery      = sqlrows.GetKeyQuery
	keyVersionsQuery = sqlrows.KeyVersionsQuery
)

// inTx runs f in a transaction of its own on the writer, outside the group
// commit, and commits it if f succeeds. Errors come back through wrapErr
// with op.
func (db *DB) inTx(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(op, err)
	}
	defer rollback(tx)
	f, done := db.withIntent(ctx, f)
	if err := f(tx); err != nil {
		return wrapErr(op, err)
	}
	return wrapErr(op, done(tx.Commit()))
}
