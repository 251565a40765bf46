package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// The multi-Region columns GetKey and ListKeys read after a key's tag,
// from a LEFT JOIN of multi_region_keys (NULL for a single-Region key).
const (
	multiRegionColumns = `m.mrk, m.primary_region`
	multiRegionJoin    = `LEFT JOIN multi_region_keys AS m ON m.key_id = k.id`
)

// CreateMultiRegionKey stores k with its versions and its membership of
// k.MultiRegionKey in one transaction.
func (db *DB) CreateMultiRegionKey(ctx context.Context, k store.Key, versions []store.KeyVersion) error {
	op := "create multi-Region key " + k.ID
	if k.MultiRegionKey == "" || k.PrimaryRegion == "" {
		return fmt.Errorf("sqlite: %s: MultiRegionKey and PrimaryRegion are required", op)
	}
	if err := sqlrows.CheckTags(k.Tags); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	ka, err := keyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	current := false
	vas := make([][]any, len(versions))
	for i, v := range versions {
		if vas[i], err = versionArgs(k.ID, v); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		current = current || v.Version == k.CurrentVersion
	}
	// A key without material (imported material not imported yet) has
	// current version 0 and no versions.
	if !current && k.CurrentVersion != 0 {
		return fmt.Errorf("sqlite: %s: current version %d is not among the versions", op, k.CurrentVersion)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(op, err)
	}
	defer rollback(tx)
	// The same INSERT as CreateKey's: keep the two in step.
	if _, err := tx.ExecContext(ctx, `INSERT INTO keys (account, region, description, key_spec,
		key_usage, origin, state, created_at, deletion_date, pending_window_days, policy,
		rotation_enabled, rotation_period_days, next_rotation, current_version,
		on_demand_rotations, id, revision)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		append(ka, k.ID)...); err != nil {
		return wrapErr(op, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO multi_region_keys (key_id, mrk, region, primary_region)
		VALUES (?, ?, ?, ?)`, k.ID, k.MultiRegionKey, k.Region, k.PrimaryRegion); err != nil {
		return wrapErr(op, err)
	}
	if err := insertTags(ctx, tx, k.ID, k.Tags); err != nil {
		return wrapErr(op, err)
	}
	for _, va := range vas {
		if err := insertVersion(ctx, tx, va); err != nil {
			return wrapErr(op, err)
		}
	}
	return wrapErr(op, tx.Commit())
}

// MultiRegionMembers returns the members of mrk with their tags, ordered
// by region.
func (db *DB) MultiRegionMembers(ctx context.Context, mrk string) ([]store.Key, error) {
	op := "members of multi-Region key " + mrk
	rows, err := db.r.QueryContext(ctx, `SELECT `+keyColumns+`, t.tag_key, t.tag_value, `+multiRegionColumns+`
		FROM keys AS k JOIN multi_region_keys AS m ON m.key_id = k.id
		LEFT JOIN key_tags AS t ON t.key_id = k.id
		WHERE m.mrk = ?
		ORDER BY m.region, k.id, t.position`, mrk)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	ks, err := scanKeys(rows)
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
	kas := make([][]any, len(ks))
	for i, k := range ks {
		if err := sqlrows.CheckTags(k.Tags); err != nil {
			return nil, fmt.Errorf("sqlite: %s: key %s: %w", op, k.ID, err)
		}
		var err error
		if kas[i], err = keyArgs(k); err != nil {
			return nil, fmt.Errorf("sqlite: %s: key %s: %w", op, k.ID, err)
		}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rollback(tx)
	for i, k := range ks {
		if err := updateKey(ctx, tx, k, kas[i]); err != nil {
			return nil, wrapErr(op+": key "+k.ID, err)
		}
		if err := setPrimaryRegion(ctx, tx, k); err != nil {
			return nil, wrapErr(op+": key "+k.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrapErr(op, err)
	}
	out := make([]store.Key, len(ks))
	for i, k := range ks {
		out[i] = stored(k)
	}
	return out, nil
}

// setPrimaryRegion writes k's primary region to its membership row, and
// refuses a primary region for a key that has none.
func setPrimaryRegion(ctx context.Context, tx *sql.Tx, k store.Key) error {
	res, err := tx.ExecContext(ctx, "UPDATE multi_region_keys SET primary_region = ? WHERE key_id = ?", k.PrimaryRegion, k.ID)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 && k.PrimaryRegion != "" {
		return errors.New("primary region set on a key that is not multi-Region")
	}
	return nil
}

// AddKeyVersions stores vs[i] and updates ks[i], with UpdateKey's
// revision check, for every i, in one transaction.
func (db *DB) AddKeyVersions(ctx context.Context, ks []store.Key, vs []store.KeyVersion) ([]store.Key, error) {
	op := fmt.Sprintf("add versions to %d keys", len(ks))
	if len(ks) != len(vs) {
		return nil, fmt.Errorf("sqlite: %s: %d versions", op, len(vs))
	}
	kas := make([][]any, len(ks))
	vas := make([][]any, len(ks))
	for i, k := range ks {
		if err := sqlrows.CheckTags(k.Tags); err != nil {
			return nil, fmt.Errorf("sqlite: %s: key %s: %w", op, k.ID, err)
		}
		var err error
		if kas[i], err = keyArgs(k); err != nil {
			return nil, fmt.Errorf("sqlite: %s: key %s: %w", op, k.ID, err)
		}
		if vas[i], err = versionArgs(k.ID, vs[i]); err != nil {
			return nil, fmt.Errorf("sqlite: %s: key %s: %w", op, k.ID, err)
		}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rollback(tx)
	for i, k := range ks {
		if err := updateKey(ctx, tx, k, kas[i]); err != nil {
			return nil, wrapErr(op+": key "+k.ID, err)
		}
		if err := insertVersion(ctx, tx, vas[i]); err != nil {
			return nil, wrapErr(op+": key "+k.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrapErr(op, err)
	}
	out := make([]store.Key, len(ks))
	for i, k := range ks {
		out[i] = stored(k)
	}
	return out, nil
}
