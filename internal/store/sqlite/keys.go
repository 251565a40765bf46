package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// keyColumns are the columns of keys in the order scanKeys reads them,
// followed there by a tag's key and value from a LEFT JOIN of key_tags.
const keyColumns = `k.id, k.account, k.region, k.description, k.key_spec, k.key_usage,
	k.origin, k.state, k.created_at, k.deletion_date, k.pending_window_days, k.policy,
	k.rotation_enabled, k.rotation_period_days, k.next_rotation, k.current_version,
	k.on_demand_rotations, k.revision`

// CreateKey stores k with revision 1, its tags and its first version in one
// transaction.
func (db *DB) CreateKey(ctx context.Context, k store.Key, first store.KeyVersion) error {
	op := "create key " + k.ID
	if err := sqlrows.CheckTags(k.Tags); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	ka, err := keyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	va, err := versionArgs(k.ID, first)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx)
		if _, err := db.txExec(ctx, tx, insertKeyQuery, append(ka, k.ID)...); err != nil {
			return err
		}
		if err := insertTags(ctx, tx, k.ID, k.Tags); err != nil {
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
	ks, err := scanKeys(rows)
	if err != nil {
		return store.Key{}, wrapErr(op, err)
	}
	if len(ks) == 0 {
		return store.Key{}, wrapErr(op, sql.ErrNoRows)
	}
	return ks[0], nil
}

// ListKeys returns up to limit keys of the account and region with IDs after
// `after`, ordered by ID, with their tags. limit must be positive.
func (db *DB) ListKeys(ctx context.Context, account, region, after string, limit int) ([]store.Key, error) {
	op := fmt.Sprintf("list keys %s %s", account, region)
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit %d is not positive", op, limit)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+keyColumns+`, t.tag_key, t.tag_value, `+multiRegionColumns+`
		FROM (SELECT * FROM keys
			WHERE account = ? AND region = ? AND id > ?
			ORDER BY id LIMIT ?) AS k
		LEFT JOIN key_tags AS t ON t.key_id = k.id
		`+multiRegionJoin+`
		ORDER BY k.id, t.position`, account, region, after, limit)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	ks, err := scanKeys(rows)
	return ks, wrapErr(op, err)
}

// UpdateKey replaces the key's metadata and tags if its revision is still
// k.Revision.
func (db *DB) UpdateKey(ctx context.Context, k store.Key) (store.Key, error) {
	op := "update key " + k.ID
	if err := sqlrows.CheckTags(k.Tags); err != nil {
		return store.Key{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	ka, err := keyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx)
		return updateKey(ctx, tx, k, ka)
	}); err != nil {
		return store.Key{}, err
	}
	return stored(k), nil
}

// AddKeyVersion stores v and updates the key, with UpdateKey's revision
// check, in one transaction.
func (db *DB) AddKeyVersion(ctx context.Context, k store.Key, v store.KeyVersion) (store.Key, error) {
	op := fmt.Sprintf("add version %d of key %s", v.Version, k.ID)
	if err := sqlrows.CheckTags(k.Tags); err != nil {
		return store.Key{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	ka, err := keyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	va, err := versionArgs(k.ID, v)
	if err != nil {
		return store.Key{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx)
		// The revision check first: a stale caller gets ErrConflict even
		// if the version it tries to add exists by now.
		if err := updateKey(ctx, tx, k, ka); err != nil {
			return err
		}
		return insertVersion(ctx, tx, va)
	}); err != nil {
		return store.Key{}, err
	}
	return stored(k), nil
}

// KeyVersions returns the key's versions, oldest first.
func (db *DB) KeyVersions(ctx context.Context, keyID string) ([]store.KeyVersion, error) {
	op := "list versions of key " + keyID
	rows, err := db.rquery(ctx, keyVersionsQuery, keyID)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	vs := []store.KeyVersion{}
	for rows.Next() {
		var (
			v       store.KeyVersion
			version int64
			created sql.NullInt64
			validTo sql.NullInt64
		)
		if err := rows.Scan(&v.KeyID, &version, &v.MaterialID, &v.Wrapped, &created, &v.RotationType,
			&v.ImportState, &v.ExpirationModel, &validTo, &v.Description); err != nil {
			return nil, wrapErr(op, err)
		}
		if version < 1 || version > math.MaxUint32 {
			return nil, fmt.Errorf("sqlite: %s: stored version %d out of range", op, version)
		}
		v.Version = uint32(version)
		v.CreatedAt = sqlrows.FromNanos(created)
		v.ValidTo = sqlrows.FromNanos(validTo)
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return vs, nil
}

// DeleteKey removes the key, its versions, tags and aliases in one
// transaction if its revision is still revision, then purges the WAL (see
// purge).
func (db *DB) DeleteKey(ctx context.Context, id string, revision int64) error {
	op := "delete key " + id
	err := db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx)
		// The revision check first: a key that changed since the caller
		// looked at it (its deletion was cancelled) is left whole.
		res, err := tx.ExecContext(ctx, "DELETE FROM keys WHERE id = ? AND revision = ?", id, revision)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			var exists int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM keys WHERE id = ?", id).Scan(&exists); err != nil {
				return err
			}
			if exists == 0 {
				return sql.ErrNoRows
			}
			return fmt.Errorf("revision %d: %w", revision, store.ErrConflict)
		}
		// The foreign keys cascade too; deleting explicitly keeps the
		// contract independent of the foreign_keys pragma.
		for _, q := range []string{
			"DELETE FROM aliases WHERE key_id = ?",
			"DELETE FROM key_tags WHERE key_id = ?",
			"DELETE FROM key_versions WHERE key_id = ?",
			"DELETE FROM multi_region_keys WHERE key_id = ?",
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := db.purge(ctx); err != nil {
		return fmt.Errorf("sqlite: %s: %w: %v", op, store.ErrNotPurged, err)
	}
	return nil
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
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrapErr(op, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// updateKey is the compare-and-swap of UpdateKey and AddKeyVersion: it
// writes the key's columns (ka from keyArgs) and replaces its tags if the
// stored revision is k.Revision, and bumps the revision.
func updateKey(ctx context.Context, tx *sql.Tx, k store.Key, ka []any) error {
	res, err := tx.ExecContext(ctx, `UPDATE keys SET account = ?, region = ?, description = ?,
		key_spec = ?, key_usage = ?, origin = ?, state = ?, created_at = ?, deletion_date = ?,
		pending_window_days = ?, policy = ?, rotation_enabled = ?, rotation_period_days = ?,
		next_rotation = ?, current_version = ?, on_demand_rotations = ?,
		revision = revision + 1
		WHERE id = ? AND revision = ?`, append(ka, k.ID, k.Revision)...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		var exists int
		err := tx.QueryRowContext(ctx, "SELECT count(*) FROM keys WHERE id = ?", k.ID).Scan(&exists)
		switch {
		case err != nil:
			return err
		case exists == 0:
			return sql.ErrNoRows
		default:
			return fmt.Errorf("revision %d: %w", k.Revision, store.ErrConflict)
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM key_tags WHERE key_id = ?", k.ID); err != nil {
		return err
	}
	return insertTags(ctx, tx, k.ID, k.Tags)
}

// stored is k as GetKey returns it after a successful update.
func stored(k store.Key) store.Key {
	k.Revision++
	k.CreatedAt = sqlrows.NormTime(k.CreatedAt)
	k.DeletionDate = sqlrows.NormTime(k.DeletionDate)
	k.NextRotation = sqlrows.NormTime(k.NextRotation)
	if len(k.Tags) == 0 {
		k.Tags = nil
	} else {
		k.Tags = append([]store.Tag(nil), k.Tags...)
	}
	return k
}

// keyArgs are the values of k for the columns account … on_demand_rotations,
// in the order of the INSERT in CreateKey and the UPDATE in updateKey.
func keyArgs(k store.Key) ([]any, error) {
	created, err := sqlrows.ToNanos(k.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("CreatedAt: %w", err)
	}
	deletion, err := sqlrows.ToNanos(k.DeletionDate)
	if err != nil {
		return nil, fmt.Errorf("DeletionDate: %w", err)
	}
	next, err := sqlrows.ToNanos(k.NextRotation)
	if err != nil {
		return nil, fmt.Errorf("NextRotation: %w", err)
	}
	return []any{k.Account, k.Region, k.Description, k.KeySpec, k.KeyUsage, k.Origin, k.State,
		created, deletion, int64(k.PendingWindowDays), k.Policy, sqlrows.BoolInt(k.RotationEnabled),
		int64(k.RotationPeriodDays), next, int64(k.CurrentVersion), int64(k.OnDemandRotations)}, nil
}

func insertTags(ctx context.Context, tx *sql.Tx, keyID string, tags []store.Tag) error {
	for i, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO key_tags (key_id, position, tag_key, tag_value)
			VALUES (?, ?, ?, ?)`, keyID, i, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// versionArgs are the column values of v, a version of the key keyID.
// v.KeyID may be empty; if it is not, it must be keyID.
func versionArgs(keyID string, v store.KeyVersion) ([]any, error) {
	if v.KeyID != "" && v.KeyID != keyID {
		return nil, fmt.Errorf("version %d belongs to key %s", v.Version, v.KeyID)
	}
	if v.Version == 0 {
		return nil, errors.New("version number 0: versions are numbered from 1")
	}
	created, err := sqlrows.ToNanos(v.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("version %d CreatedAt: %w", v.Version, err)
	}
	validTo, err := sqlrows.ToNanos(v.ValidTo)
	if err != nil {
		return nil, fmt.Errorf("version %d ValidTo: %w", v.Version, err)
	}
	return []any{keyID, int64(v.Version), v.MaterialID, sqlrows.Blob(v.Wrapped), created, v.RotationType,
		v.ImportState, v.ExpirationModel, validTo, v.Description}, nil
}

func insertVersion(ctx context.Context, tx *sql.Tx, va []any) error {
	_, err := tx.ExecContext(ctx, insertVersionQuery, va...)
	return err
}

// The statements of CreateKey, prepared once (DB.txExec): parsing them
// anew for every key cost the committer a quarter of its time.
const (
	insertKeyQuery = `INSERT INTO keys (account, region, description, key_spec,
		key_usage, origin, state, created_at, deletion_date, pending_window_days, policy,
		rotation_enabled, rotation_period_days, next_rotation, current_version,
		on_demand_rotations, id, revision)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`
	insertVersionQuery = `INSERT INTO key_versions (key_id, version, material_id,
		wrapped, created_at, rotation_type, import_state, expiration_model, valid_to, description)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// The statements of a cache miss (GetKey, KeyVersions, the aliases of a
// key), prepared once on the reader pool (DB.rquery): parsing them was
// half of a miss's store time.
var (
	getKeyQuery = `SELECT ` + keyColumns + `, t.tag_key, t.tag_value, ` + multiRegionColumns + `
		FROM keys AS k LEFT JOIN key_tags AS t ON t.key_id = k.id
		` + multiRegionJoin + `
		WHERE k.id = ?
		ORDER BY t.position`
	keyVersionsQuery = `SELECT key_id, version, material_id, wrapped,
		created_at, rotation_type, import_state, expiration_model, valid_to, description
		FROM key_versions WHERE key_id = ? ORDER BY version`
)

// scanKeys reads rows of keyColumns plus a tag key and value, ordered by key
// ID and then tag position, into keys with their tags, and closes rows.
func scanKeys(rows *sql.Rows) ([]store.Key, error) {
	defer rows.Close()
	var ks []store.Key
	for rows.Next() {
		var (
			k                          store.Key
			created, deletion, next    sql.NullInt64
			rotation, current, ondemnd int64
			tagKey, tagValue           sql.NullString
			mrk, primaryRegion         sql.NullString
		)
		if err := rows.Scan(&k.ID, &k.Account, &k.Region, &k.Description, &k.KeySpec,
			&k.KeyUsage, &k.Origin, &k.State, &created, &deletion, &k.PendingWindowDays,
			&k.Policy, &rotation, &k.RotationPeriodDays, &next, &current, &ondemnd,
			&k.Revision, &tagKey, &tagValue, &mrk, &primaryRegion); err != nil {
			return nil, err
		}
		if len(ks) == 0 || ks[len(ks)-1].ID != k.ID {
			if current < 0 || current > math.MaxUint32 {
				return nil, fmt.Errorf("key %s: stored current version %d out of range", k.ID, current)
			}
			k.CreatedAt = sqlrows.FromNanos(created)
			k.DeletionDate = sqlrows.FromNanos(deletion)
			k.NextRotation = sqlrows.FromNanos(next)
			k.RotationEnabled = rotation != 0
			k.CurrentVersion = uint32(current)
			k.OnDemandRotations = int(ondemnd)
			k.MultiRegionKey, k.PrimaryRegion = mrk.String, primaryRegion.String
			ks = append(ks, k)
		}
		if tagKey.Valid {
			last := &ks[len(ks)-1]
			last.Tags = append(last.Tags, store.Tag{Key: tagKey.String, Value: tagValue.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ks, nil
}
