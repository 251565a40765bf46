package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Multi-Region keys: the transaction bodies are in
// internal/store/sqlrows/keys.go.

// CreateMultiRegionKey stores k with its versions and its membership of
// k.MultiRegionKey in one transaction.
func (db *DB) CreateMultiRegionKey(ctx context.Context, k store.Key, versions []store.KeyVersion) error {
	op := "create multi-Region key " + k.ID
	ka, vas, err := dialect.MultiRegionKeyArgs(k, versions)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return db.inTx(ctx, op, func(tx *sql.Tx) error {
		return dialect.CreateMultiRegionKey(ctx, tx, k, ka, vas)
	})
}

// MultiRegionMembers returns the members of mrk with their tags, ordered
// by region.
func (db *DB) MultiRegionMembers(ctx context.Context, mrk string) ([]store.Key, error) {
	op := "members of multi-Region key " + mrk
	rows, err := db.r.QueryContext(ctx, sqlrows.MultiRegionMembersQuery, mrk)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	ks, err := sqlrows.ScanKeys(rows)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if ks == nil {
		ks = []store.Key{}
	}
	return ks, nil
}

// UpdateKeys updates every key of ks, with UpdateKey's revision check, and
// its primary region, in one transaction.
func (db *DB) UpdateKeys(ctx context.Context, ks []store.Key) ([]store.Key, error) {
	op := fmt.Sprintf("update %d keys", len(ks))
	kas, err := dialect.KeysArgs(ks)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		return dialect.UpdateKeys(ctx, tx, ks, kas)
	}); err != nil {
		return nil, err
	}
	return sqlrows.StoredAll(ks), nil
}

// AddKeyVersions stores vs[i] and updates ks[i], with UpdateKey's
// revision check, for every i, in one transaction.
func (db *DB) AddKeyVersions(ctx context.Context, ks []store.Key, vs []store.KeyVersion) ([]store.Key, error) {
	op := fmt.Sprintf("add versions to %d keys", len(ks))
	kas, vas, err := dialect.KeysVersionsArgs(ks, vs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		return dialect.AddKeyVersions(ctx, tx, ks, kas, vas)
	}); err != nil {
		return nil, err
	}
	return sqlrows.StoredAll(ks), nil
}
