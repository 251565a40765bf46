package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// CreateKeyWithoutMaterial stores k with revision 1 and its tags, and no
// version.
func (db *DB) CreateKeyWithoutMaterial(ctx context.Context, k store.Key) error {
	op := "create key without material " + k.ID
	if err := sqlrows.CheckTags(k.Tags); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	ka, err := keyArgs(k)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return db.write(ctx, op, func(tx *sqlTx) error {
		if _, err := tx.ExecContext(ctx, insertKeySQL, append(ka, k.ID)...); err != nil {
			return err
		}
		return insertTags(ctx, tx, k.ID, k.Tags)
	})
}

// insertKeySQL is CreateKey's INSERT, with keyArgs and the ID.
const insertKeySQL = `INSERT INTO keys (account, region, description, key_spec,
	key_usage, origin, state, created_at, deletion_date, pending_window_days, policy,
	rotation_enabled, rotation_period_days, next_rotation, current_version,
	on_demand_rotations, id, revision)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`

// PutKeyMaterial stores v, replacing the row of that version if there is
// one, and updates the key with the revision check, in one transaction.
func (db *DB) PutKeyMaterial(ctx context.Context, k store.Key, v store.KeyVersion) (store.Key, error) {
	op := fmt.Sprintf("put material of version %d of key %s", v.Version, k.ID)
	if err := sqlrows.CheckTags(k.Tags); err != nil {
		return store.Key{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	ka, err := keyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	va, err := versionArgs(k.ID, v)
	if err != nil {
		return store.Key{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if err := db.write(ctx, op, func(tx *sqlTx) error {
		if err := updateKey(ctx, tx, k, ka); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM key_versions WHERE key_id = ? AND version = ?",
			k.ID, int64(v.Version)); err != nil {
			return err
		}
		return insertVersion(ctx, tx, va)
	}); err != nil {
		return store.Key{}, err
	}
	return stored(k), nil
}

// DeleteKeyMaterial empties the material of the versions and updates the
// key in one transaction, then VACUUMs key_versions as DeleteKey does (the
// UPDATE leaves the old row, with the material, as a dead tuple).
func (db *DB) DeleteKeyMaterial(ctx context.Context, k store.Key, versions []uint32) (store.Key, error) {
	op := fmt.Sprintf("delete material %v of key %s", versions, k.ID)
	if err := sqlrows.CheckTags(k.Tags); err != nil {
		return store.Key{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	ka, err := keyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if err := db.write(ctx, op, func(tx *sqlTx) error {
		if err := updateKey(ctx, tx, k, ka); err != nil {
			return err
		}
		for _, v := range versions {
			if _, err := tx.ExecContext(ctx, `UPDATE key_versions SET wrapped = '\x'::bytea,
				import_state = 'PENDING_IMPORT', expiration_model = '', valid_to = NULL
				WHERE key_id = ? AND version = ?`, k.ID, int64(v)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return store.Key{}, err
	}
	if err := db.purge(ctx); err != nil {
		return stored(k), fmt.Errorf("postgres: %s: %w: %v", op, store.ErrNotPurged, err)
	}
	return stored(k), nil
}

// KeysMaterialExpired returns, ordered by ID, the keys with a version whose
// imported material has expired.
func (db *DB) KeysMaterialExpired(ctx context.Context, now time.Time) ([]string, error) {
	op := "keys with expired material"
	n, err := sqlrows.ToNanos(now)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT key_id FROM key_versions
		WHERE expiration_model = 'KEY_MATERIAL_EXPIRES' AND length(wrapped) > 0 AND valid_to <= ?
		ORDER BY key_id`, n)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrapErr(op, err)
		}
		ids = append(ids, id)
	}
	return ids, wrapErr(op, rows.Err())
}

// PutKeysMaterial is PutKeyMaterial for several keys in one transaction.
func (db *DB) PutKeysMaterial(ctx context.Context, ks []store.Key, vs []store.KeyVersion) ([]store.Key, error) {
	op := fmt.Sprintf("put material of %d keys", len(ks))
	if len(ks) != len(vs) {
		return nil, fmt.Errorf("postgres: %s: %d versions", op, len(vs))
	}
	kas := make([][]any, len(ks))
	vas := make([][]any, len(ks))
	for i, k := range ks {
		if err := sqlrows.CheckTags(k.Tags); err != nil {
			return nil, fmt.Errorf("postgres: %s: key %s: %w", op, k.ID, err)
		}
		var err error
		if kas[i], err = keyArgs(k); err != nil {
			return nil, fmt.Errorf("postgres: %s: key %s: %w", op, k.ID, err)
		}
		if vas[i], err = versionArgs(k.ID, vs[i]); err != nil {
			return nil, fmt.Errorf("postgres: %s: key %s: %w", op, k.ID, err)
		}
	}
	if err := db.write(ctx, op, func(tx *sqlTx) error {
		for i, k := range ks {
			if err := updateKey(ctx, tx, k, kas[i]); err != nil {
				return fmt.Errorf("key %s: %w", k.ID, err)
			}
			// As in PutKeyMaterial: the old row goes first.
			if _, err := tx.ExecContext(ctx, "DELETE FROM key_versions WHERE key_id = ? AND version = ?",
				k.ID, int64(vs[i].Version)); err != nil {
				return fmt.Errorf("key %s: %w", k.ID, err)
			}
			if err := insertVersion(ctx, tx, vas[i]); err != nil {
				return fmt.Errorf("key %s: %w", k.ID, err)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]store.Key, len(ks))
	for i, k := range ks {
		out[i] = stored(k)
	}
	return out, nil
}
