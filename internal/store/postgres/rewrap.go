package postgres

import (
	"context"

	"fmt"
	"maps"
	"slices"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

var _ store.Rewrap = (*DB)(nil)

// WrappedKeyVersions implements store.Rewrap.
func (db *DB) WrappedKeyVersions(ctx context.Context, afterKey string, afterVersion uint32, limit int) ([]store.WrappedKeyVersion, error) {
	const op = "list wrapped key versions"
	rows, err := db.r.QueryContext(ctx, `SELECT v.key_id, k.account, k.region, v.version, v.wrapped
		FROM key_versions AS v JOIN keys AS k ON k.id = v.key_id
		WHERE (v.key_id, v.version) > ($1, $2) AND length(v.wrapped) > 0
		ORDER BY v.key_id, v.version LIMIT $3`, afterKey, int64(afterVersion), limit)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	out := []store.WrappedKeyVersion{}
	for rows.Next() {
		var v store.WrappedKeyVersion
		var version int64
		if err := rows.Scan(&v.KeyID, &v.Account, &v.Region, &version, &v.Wrapped); err != nil {
			return nil, wrapErr(op, err)
		}
		v.Version = uint32(version)
		out = append(out, v)
	}
	return out, wrapErr(op, rows.Err())
}

// replace runs a conditional UPDATE of one row: exists tells a row gone
// (ErrNotFound) from a row changed (ErrConflict) when nothing was updated.
// The queries number their parameters ($1 …) themselves: the UPDATE binds
// the new and old values before the row's key columns.
func (db *DB) replace(ctx context.Context, op, update, exists string, args ...any) error {
	return db.write(ctx, op, func(tx *sqlTx) error {
		res, err := tx.ExecContext(ctx, update, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		// The row's key columns are the arguments after the two values.
		if err := tx.QueryRowContext(ctx, exists, args[2:]...).Scan(&one); err != nil {
			return err // sql.ErrNoRows: gone
		}
		return store.ErrConflict
	})
}

// ReplaceWrappedKeyVersion implements store.Rewrap.
func (db *DB) ReplaceWrappedKeyVersion(ctx context.Context, keyID string, version uint32, old, new []byte) error {
	return db.replace(ctx, fmt.Sprintf("rewrap key %s version %d", keyID, version),
		`UPDATE key_versions SET wrapped = $1 WHERE wrapped = $2 AND key_id = $3 AND version = $4`,
		`SELECT 1 FROM key_versions WHERE key_id = $1 AND version = $2`,
		sqlrows.Blob(new), sqlrows.Blob(old), keyID, int64(version))
}

// ReplaceWrappedSecret implements store.Rewrap.
func (db *DB) ReplaceWrappedSecret(ctx context.Context, accessKeyID string, old, new []byte) error {
	return db.replace(ctx, "rewrap access key "+accessKeyID,
		`UPDATE access_keys SET wrapped_secret = $1 WHERE wrapped_secret = $2 AND id = $3`,
		`SELECT 1 FROM access_keys WHERE id = $1`,
		sqlrows.Blob(new), sqlrows.Blob(old), accessKeyID)
}

// ReplaceSetting implements store.Rewrap.
func (db *DB) ReplaceSetting(ctx context.Context, name string, old, new []byte) error {
	return db.replace(ctx, "replace setting "+name,
		`UPDATE settings SET value = $1 WHERE value = $2 AND name = $3`,
		`SELECT 1 FROM settings WHERE name = $1`,
		sqlrows.Blob(new), sqlrows.Blob(old), name)
}

// UpdateSettings implements store.Rewrap.
func (db *DB) UpdateSettings(ctx context.Context, put map[string][]byte, remove []string) error {
	return db.write(ctx, "update settings", func(tx *sqlTx) error {
		for _, name := range slices.Sorted(maps.Keys(put)) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, sqlrows.Blob(put[name])); err != nil {
				return fmt.Errorf("put %s: %w", name, err)
			}
		}
		for _, name := range remove {
			if _, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE name = ?`, name); err != nil {
				return fmt.Errorf("remove %s: %w", name, err)
			}
		}
		return nil
	})
}
