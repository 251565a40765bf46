package sqlrows

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/trent-kms/trent/internal/store"
)

// WrappedKeyVersions implements store.Rewrap.
func (s *Store) WrappedKeyVersions(ctx context.Context, afterKey string, afterVersion uint32, limit int) ([]store.WrappedKeyVersion, error) {
	const op = "list wrapped key versions"
	rows, err := s.r.QueryContext(ctx, `SELECT v.key_id, k.account, k.region, v.version, v.wrapped
		FROM key_versions AS v JOIN keys AS k ON k.id = v.key_id
		WHERE (v.key_id, v.version) > (?, ?) AND length(v.wrapped) > 0
		ORDER BY v.key_id, v.version LIMIT ?`, afterKey, int64(afterVersion), limit)
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	defer rows.Close()
	out := []store.WrappedKeyVersion{}
	for rows.Next() {
		var v store.WrappedKeyVersion
		var version int64
		if err := rows.Scan(&v.KeyID, &v.Account, &v.Region, &version, &v.Wrapped); err != nil {
			return nil, s.wrapErr(op, err)
		}
		v.Version = uint32(version)
		out = append(out, v)
	}
	return out, s.wrapErr(op, rows.Err())
}

// replace runs a conditional UPDATE of one row: exists tells a row gone
// (ErrNotFound) from a row changed (ErrConflict) when nothing was updated.
// The UPDATE binds the new and the old value, then the row's key columns;
// exists binds the key columns.
func (s *Store) replace(ctx context.Context, op, update, exists string, args ...any) error {
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
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
func (s *Store) ReplaceWrappedKeyVersion(ctx context.Context, keyID string, version uint32, old, new []byte) error {
	return s.replace(ctx, fmt.Sprintf("rewrap key %s version %d", keyID, version),
		`UPDATE key_versions SET wrapped = ? WHERE wrapped = ? AND key_id = ? AND version = ?`,
		`SELECT 1 FROM key_versions WHERE key_id = ? AND version = ?`,
		blob(new), blob(old), keyID, int64(version))
}

// ReplaceWrappedSecret implements store.Rewrap.
func (s *Store) ReplaceWrappedSecret(ctx context.Context, accessKeyID string, old, new []byte) error {
	return s.replace(ctx, "rewrap access key "+accessKeyID,
		`UPDATE access_keys SET wrapped_secret = ? WHERE wrapped_secret = ? AND id = ?`,
		`SELECT 1 FROM access_keys WHERE id = ?`,
		blob(new), blob(old), accessKeyID)
}

// ReplaceSetting implements store.Rewrap.
func (s *Store) ReplaceSetting(ctx context.Context, name string, old, new []byte) error {
	return s.replace(ctx, "replace setting "+name,
		`UPDATE settings SET value = ? WHERE value = ? AND name = ?`,
		`SELECT 1 FROM settings WHERE name = ?`,
		blob(new), blob(old), name)
}

// UpdateSettings implements store.Rewrap.
func (s *Store) UpdateSettings(ctx context.Context, put map[string][]byte, remove []string) error {
	return s.write(ctx, "update settings", func(ctx context.Context, tx Tx) error {
		for _, name := range slices.Sorted(maps.Keys(put)) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, blob(put[name])); err != nil {
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
