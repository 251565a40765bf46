package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Keys with imported material: the transaction bodies are in
// internal/store/sqlrows/keys.go.

// CreateKeyWithoutMaterial stores k with revision 1 and its tags, and no
// version.
func (db *DB) CreateKeyWithoutMaterial(ctx context.Context, k store.Key) error {
	op := "create key without material " + k.ID
	ka, err := dialect.KeyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return db.inTx(ctx, op, func(tx *sql.Tx) error {
		return dialect.CreateKeyWithoutMaterial(ctx, tx, k, ka)
	})
}

// PutKeyMaterial stores v, replacing the row of that version if there is
// one, and updates the key with the revision check, in one transaction.
func (db *DB) PutKeyMaterial(ctx context.Context, k store.Key, v store.KeyVersion) (store.Key, error) {
	op := fmt.Sprintf("put material of version %d of key %s", v.Version, k.ID)
	ka, err := dialect.KeyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	va, err := dialect.VersionArgs(k.ID, v)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		return dialect.PutKeyMaterial(ctx, tx, k, v.Version, ka, va)
	}); err != nil {
		return store.Key{}, err
	}
	return sqlrows.Stored(k), nil
}

// DeleteKeyMaterial empties the material of the versions and updates the
// key in one transaction, then purges the WAL as DeleteKey does.
func (db *DB) DeleteKeyMaterial(ctx context.Context, k store.Key, versions []uint32) (store.Key, error) {
	op := fmt.Sprintf("delete material %v of key %s", versions, k.ID)
	ka, err := dialect.KeyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		return dialect.DeleteKeyMaterial(ctx, tx, k, versions, ka)
	}); err != nil {
		return store.Key{}, err
	}
	if err := db.purge(ctx); err != nil {
		return sqlrows.Stored(k), fmt.Errorf("sqlite: %s: %w: %v", op, store.ErrNotPurged, err)
	}
	return sqlrows.Stored(k), nil
}

// KeysMaterialExpired returns, ordered by ID, the keys with a version whose
// imported material has expired.
func (db *DB) KeysMaterialExpired(ctx context.Context, now time.Time) ([]string, error) {
	op := "keys with expired material"
	n, err := sqlrows.ToNanos(now)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	rows, err := db.r.QueryContext(ctx, sqlrows.KeysMaterialExpiredQuery, n)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	ids, err := sqlrows.ScanIDs(rows)
	return ids, wrapErr(op, err)
}

// PutKeysMaterial is PutKeyMaterial for several keys in one transaction.
func (db *DB) PutKeysMaterial(ctx context.Context, ks []store.Key, vs []store.KeyVersion) ([]store.Key, error) {
	op := fmt.Sprintf("put material of %d keys", len(ks))
	kas, vas, err := dialect.KeysVersionsArgs(ks, vs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		return dialect.PutKeysMaterial(ctx, tx, ks, vs, kas, vas)
	}); err != nil {
		return nil, err
	}
	return sqlrows.StoredAll(ks), nil
}
