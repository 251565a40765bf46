package sqlrows

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/trent-kms/trent/internal/store"
)

// Keys, their tags and versions, and their membership of a multi-Region
// key. The stores run these statements differently — SQLite prepares the
// hot ones and writes keys through its group commit — so this file gives
// the statements, the stored forms and the transaction bodies, and each
// store its own transactions.

// keyColumns are the columns of keys in the order ScanKeys reads them,
// followed there by a tag's key and value from a LEFT JOIN of key_tags
// and the multi-Region columns.
const keyColumns = `k.id, k.account, k.region, k.description, k.key_spec, k.key_usage,
	k.origin, k.state, k.created_at, k.deletion_date, k.pending_window_days, k.policy,
	k.rotation_enabled, k.rotation_period_days, k.next_rotation, k.current_version,
	k.on_demand_rotations, k.revision`

// The multi-Region columns GetKey and ListKeys read after a key's tag,
// from a LEFT JOIN of multi_region_keys (NULL for a single-Region key).
const (
	multiRegionColumns = `m.mrk, m.primary_region`
	multiRegionJoin    = `LEFT JOIN multi_region_keys AS m ON m.key_id = k.id`
)

// The statements that write a new key and a version, with the arguments
// of KeyArgs and the key ID, and of VersionArgs.
const (
	InsertKeyQuery = `INSERT INTO keys (account, region, description, key_spec,
		key_usage, origin, state, created_at, deletion_date, pending_window_days, policy,
		rotation_enabled, rotation_period_days, next_rotation, current_version,
		on_demand_rotations, id, revision)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`
	InsertVersionQuery = `INSERT INTO key_versions (key_id, version, material_id,
		wrapped, created_at, rotation_type, import_state, expiration_model, valid_to, description)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// The statements of a key cache miss: a key with its tags (ScanKeys), by
// ID, and a key's versions (ScanKeyVersions), by key ID.
const (
	GetKeyQuery = `SELECT ` + keyColumns + `, t.tag_key, t.tag_value, ` + multiRegionColumns + `
		FROM keys AS k LEFT JOIN key_tags AS t ON t.key_id = k.id
		` + multiRegionJoin + `
		WHERE k.id = ?
		ORDER BY t.position`
	KeyVersionsQuery = `SELECT key_id, version, material_id, wrapped,
		created_at, rotation_type, import_state, expiration_model, valid_to, description
		FROM key_versions WHERE key_id = ? ORDER BY version`
)

// listKeysQuery lists keys with their tags (ScanKeys): account, region,
// after, limit.
const listKeysQuery = `SELECT ` + keyColumns + `, t.tag_key, t.tag_value, ` + multiRegionColumns + `
		FROM (SELECT * FROM keys
			WHERE account = ? AND region = ? AND id > ?
			ORDER BY id LIMIT ?) AS k
		LEFT JOIN key_tags AS t ON t.key_id = k.id
		` + multiRegionJoin + `
		ORDER BY k.id, t.position`

// multiRegionMembersQuery lists the members of a multi-Region key with
// their tags (ScanKeys), by region: mrk.
const multiRegionMembersQuery = `SELECT ` + keyColumns + `, t.tag_key, t.tag_value, ` + multiRegionColumns + `
		FROM keys AS k JOIN multi_region_keys AS m ON m.key_id = k.id
		LEFT JOIN key_tags AS t ON t.key_id = k.id
		WHERE m.mrk = ?
		ORDER BY m.region, k.id, t.position`

// keysMaterialExpiredQuery lists, by ID, the keys with a version whose
// imported material expired by the bound time.
const keysMaterialExpiredQuery = `SELECT DISTINCT key_id FROM key_versions
		WHERE expiration_model = 'KEY_MATERIAL_EXPIRES' AND length(wrapped) > 0 AND valid_to <= ?
		ORDER BY key_id`

// ScanKeys reads rows of keyColumns plus a tag key and value and the
// multi-Region columns, ordered by key ID and then tag position, into keys
// with their tags, and closes rows. No rows is a nil slice.
func ScanKeys(rows *sql.Rows) ([]store.Key, error) {
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
			k.CreatedAt = FromNanos(created)
			k.DeletionDate = FromNanos(deletion)
			k.NextRotation = FromNanos(next)
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

// ScanKeyVersions reads the rows of KeyVersionsQuery and closes them.
func ScanKeyVersions(rows *sql.Rows) ([]store.KeyVersion, error) {
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
			return nil, err
		}
		if version < 1 || version > math.MaxUint32 {
			return nil, fmt.Errorf("stored version %d out of range", version)
		}
		v.Version = uint32(version)
		v.CreatedAt = FromNanos(created)
		v.ValidTo = FromNanos(validTo)
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return vs, nil
}

// ScanIDs reads rows of one text column and closes them.
func ScanIDs(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// stored is k as GetKey returns it after a successful update.
func stored(k store.Key) store.Key {
	k.Revision++
	k.CreatedAt = normTime(k.CreatedAt)
	k.DeletionDate = normTime(k.DeletionDate)
	k.NextRotation = normTime(k.NextRotation)
	if len(k.Tags) == 0 {
		k.Tags = nil
	} else {
		k.Tags = append([]store.Tag(nil), k.Tags...)
	}
	return k
}

// storedAll is stored of every key of ks.
func storedAll(ks []store.Key) []store.Key {
	out := make([]store.Key, len(ks))
	for i, k := range ks {
		out[i] = stored(k)
	}
	return out
}

// KeyArgs are the values of k for the columns account …
// on_demand_rotations, in the order of InsertKeyQuery and UpdateKey's
// UPDATE. Its tags must pass checkTags.
func (d Dialect) KeyArgs(k store.Key) ([]any, error) {
	if err := checkTags(k.Tags); err != nil {
		return nil, err
	}
	created, err := ToNanos(k.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("CreatedAt: %w", err)
	}
	deletion, err := ToNanos(k.DeletionDate)
	if err != nil {
		return nil, fmt.Errorf("DeletionDate: %w", err)
	}
	next, err := ToNanos(k.NextRotation)
	if err != nil {
		return nil, fmt.Errorf("NextRotation: %w", err)
	}
	return []any{k.Account, k.Region, d.Text(k.Description), k.KeySpec, k.KeyUsage, k.Origin, k.State,
		created, deletion, int64(k.PendingWindowDays), k.Policy, boolInt(k.RotationEnabled),
		int64(k.RotationPeriodDays), next, int64(k.CurrentVersion), int64(k.OnDemandRotations)}, nil
}

// VersionArgs are the column values of v, a version of the key keyID, in
// the order of InsertVersionQuery. v.KeyID may be empty; if it is not, it
// must be keyID.
func (d Dialect) VersionArgs(keyID string, v store.KeyVersion) ([]any, error) {
	if v.KeyID != "" && v.KeyID != keyID {
		return nil, fmt.Errorf("version %d belongs to key %s", v.Version, v.KeyID)
	}
	if v.Version == 0 {
		return nil, errors.New("version number 0: versions are numbered from 1")
	}
	created, err := ToNanos(v.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("version %d CreatedAt: %w", v.Version, err)
	}
	validTo, err := ToNanos(v.ValidTo)
	if err != nil {
		return nil, fmt.Errorf("version %d ValidTo: %w", v.Version, err)
	}
	return []any{keyID, int64(v.Version), v.MaterialID, blob(v.Wrapped), created, v.RotationType,
		v.ImportState, v.ExpirationModel, validTo, d.Text(v.Description)}, nil
}

// keysArgs is KeyArgs of every key of ks.
func (d Dialect) keysArgs(ks []store.Key) ([][]any, error) {
	kas := make([][]any, len(ks))
	for i, k := range ks {
		var err error
		if kas[i], err = d.KeyArgs(k); err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	return kas, nil
}

// keysVersionsArgs is KeyArgs of every key of ks and VersionArgs of its
// version in vs.
func (d Dialect) keysVersionsArgs(ks []store.Key, vs []store.KeyVersion) (kas, vas [][]any, err error) {
	if len(ks) != len(vs) {
		return nil, nil, fmt.Errorf("%d versions", len(vs))
	}
	kas = make([][]any, len(ks))
	vas = make([][]any, len(ks))
	for i, k := range ks {
		if kas[i], err = d.KeyArgs(k); err != nil {
			return nil, nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		if vas[i], err = d.VersionArgs(k.ID, vs[i]); err != nil {
			return nil, nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	return kas, vas, nil
}

// InsertTags stores the key's tags in their order.
func (d Dialect) InsertTags(ctx context.Context, tx Execer, keyID string, tags []store.Tag) error {
	for i, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO key_tags (key_id, position, tag_key, tag_value)
			VALUES (?, ?, ?, ?)`, keyID, i, d.Text(t.Key), d.Text(t.Value)); err != nil {
			return err
		}
	}
	return nil
}

// InsertVersion stores a version (va from VersionArgs).
func InsertVersion(ctx context.Context, tx Execer, va []any) error {
	_, err := tx.ExecContext(ctx, InsertVersionQuery, va...)
	return err
}

// updateKey is the compare-and-swap of UpdateKey and AddKeyVersion: it
// writes the key's columns (ka from KeyArgs) and replaces its tags if the
// stored revision is k.Revision, and bumps the revision.
func (d Dialect) updateKey(ctx context.Context, tx Tx, k store.Key, ka []any) error {
	res, err := tx.ExecContext(ctx, `UPDATE keys SET account = ?, region = ?, description = ?,
		key_spec = ?, key_usage = ?, origin = ?, state = ?, created_at = ?, deletion_date = ?,
		pending_window_days = ?, policy = ?, rotation_enabled = ?, rotation_period_days = ?,
		next_rotation = ?, current_version = ?, on_demand_rotations = ?,
		revision = revision + 1
		WHERE id = ? AND revision = ?`, append(ka, k.ID, k.Revision)...)
	if err != nil {
		return err
	}
	if err := revisionChecked(ctx, tx, res, k.ID, k.Revision); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM key_tags WHERE key_id = ?", k.ID); err != nil {
		return err
	}
	return d.InsertTags(ctx, tx, k.ID, k.Tags)
}

// addKeyVersion is AddKeyVersion's transaction: the key updated with the
// revision check, then its new version stored.
func (d Dialect) addKeyVersion(ctx context.Context, tx Tx, k store.Key, ka, va []any) error {
	// The revision check first: a stale caller gets ErrConflict even if
	// the version it tries to add exists by now.
	if err := d.updateKey(ctx, tx, k, ka); err != nil {
		return err
	}
	return InsertVersion(ctx, tx, va)
}

// deleteKey is DeleteKey's transaction: the key, its versions, tags,
// aliases and membership removed if its revision is still revision.
func deleteKey(ctx context.Context, tx Tx, id string, revision int64) error {
	// The revision check first: a key that changed since the caller
	// looked at it (its deletion was cancelled) is left whole.
	res, err := tx.ExecContext(ctx, "DELETE FROM keys WHERE id = ? AND revision = ?", id, revision)
	if err != nil {
		return err
	}
	if err := revisionChecked(ctx, tx, res, id, revision); err != nil {
		return err
	}
	// The foreign keys cascade too; deleting explicitly keeps the
	// contract independent of SQLite's foreign_keys pragma.
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
}

// createKeyWithoutMaterial is CreateKeyWithoutMaterial's transaction.
func (d Dialect) createKeyWithoutMaterial(ctx context.Context, tx Tx, k store.Key, ka []any) error {
	if _, err := tx.ExecContext(ctx, InsertKeyQuery, append(ka, k.ID)...); err != nil {
		return err
	}
	return d.InsertTags(ctx, tx, k.ID, k.Tags)
}

// putKeyMaterial is PutKeyMaterial's transaction: the key updated with
// the revision check, the version's row replaced.
func (d Dialect) putKeyMaterial(ctx context.Context, tx Tx, k store.Key, version uint32, ka, va []any) error {
	if err := d.updateKey(ctx, tx, k, ka); err != nil {
		return err
	}
	// The old row goes first: an upsert would leave its material in the
	// page until the purge, which DeleteKeyMaterial does, not this.
	if _, err := tx.ExecContext(ctx, "DELETE FROM key_versions WHERE key_id = ? AND version = ?",
		k.ID, int64(version)); err != nil {
		return err
	}
	return InsertVersion(ctx, tx, va)
}

// putKeysMaterial is PutKeyMaterial for every key of ks and its version
// in vs, in one transaction.
func (d Dialect) putKeysMaterial(ctx context.Context, tx Tx, ks []store.Key, vs []store.KeyVersion, kas, vas [][]any) error {
	for i, k := range ks {
		if err := d.putKeyMaterial(ctx, tx, k, vs[i].Version, kas[i], vas[i]); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	return nil
}

// deleteKeyMaterial is DeleteKeyMaterial's transaction: the key updated
// with the revision check, the versions' material emptied.
func (d Dialect) deleteKeyMaterial(ctx context.Context, tx Tx, k store.Key, versions []uint32, ka []any) error {
	if err := d.updateKey(ctx, tx, k, ka); err != nil {
		return err
	}
	for _, v := range versions {
		if _, err := tx.ExecContext(ctx, `UPDATE key_versions SET wrapped = `+d.EmptyBlob+`,
			import_state = 'PENDING_IMPORT', expiration_model = '', valid_to = NULL
			WHERE key_id = ? AND version = ?`, k.ID, int64(v)); err != nil {
			return err
		}
	}
	return nil
}

// multiRegionKeyArgs checks and encodes a multi-Region key and its
// versions for CreateMultiRegionKey.
func (d Dialect) multiRegionKeyArgs(k store.Key, versions []store.KeyVersion) (ka []any, vas [][]any, err error) {
	if k.MultiRegionKey == "" || k.PrimaryRegion == "" {
		return nil, nil, errors.New("MultiRegionKey and PrimaryRegion are required")
	}
	if ka, err = d.KeyArgs(k); err != nil {
		return nil, nil, err
	}
	current := false
	vas = make([][]any, len(versions))
	for i, v := range versions {
		if vas[i], err = d.VersionArgs(k.ID, v); err != nil {
			return nil, nil, err
		}
		current = current || v.Version == k.CurrentVersion
	}
	// A key without material (imported material not imported yet) has
	// current version 0 and no versions.
	if !current && k.CurrentVersion != 0 {
		return nil, nil, fmt.Errorf("current version %d is not among the versions", k.CurrentVersion)
	}
	return ka, vas, nil
}

// createMultiRegionKey is CreateMultiRegionKey's transaction (ka and vas
// from MultiRegionKeyArgs). Two writers replicating one key into the same
// region at once: the UNIQUE (mrk, region) lets one in and gives the
// other a unique violation.
func (d Dialect) createMultiRegionKey(ctx context.Context, tx Tx, k store.Key, ka []any, vas [][]any) error {
	if _, err := tx.ExecContext(ctx, InsertKeyQuery, append(ka, k.ID)...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO multi_region_keys (key_id, mrk, region, primary_region)
			VALUES (?, ?, ?, ?)`, k.ID, k.MultiRegionKey, k.Region, k.PrimaryRegion); err != nil {
		return err
	}
	if err := d.InsertTags(ctx, tx, k.ID, k.Tags); err != nil {
		return err
	}
	for _, va := range vas {
		if err := InsertVersion(ctx, tx, va); err != nil {
			return err
		}
	}
	return nil
}

// updateKeys is UpdateKeys' transaction: every key of ks updated with the
// revision check, and its primary region.
func (d Dialect) updateKeys(ctx context.Context, tx Tx, ks []store.Key, kas [][]any) error {
	for i, k := range ks {
		if err := d.updateKey(ctx, tx, k, kas[i]); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
		if err := setPrimaryRegion(ctx, tx, k); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	return nil
}

// setPrimaryRegion writes k's primary region to its membership row, and
// refuses a primary region for a key that has none.
func setPrimaryRegion(ctx context.Context, tx Tx, k store.Key) error {
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

// addKeyVersions is AddKeyVersions' transaction: AddKeyVersion for every
// key of ks.
func (d Dialect) addKeyVersions(ctx context.Context, tx Tx, ks []store.Key, kas, vas [][]any) error {
	for i, k := range ks {
		if err := d.updateKey(ctx, tx, k, kas[i]); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
		if err := InsertVersion(ctx, tx, vas[i]); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	return nil
}

// revisionChecked tells why a statement on key id guarded by its
// revision (res) changed no row: sql.ErrNoRows if the key is gone,
// ErrConflict if it has another revision; nil if it changed one.
func revisionChecked(ctx context.Context, tx Tx, res sql.Result, id string, revision int64) error {
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	exists, err := count(ctx, tx, "SELECT count(*) FROM keys WHERE id = ?", id)
	switch {
	case err != nil:
		return err
	case exists == 0:
		return sql.ErrNoRows
	default:
		return fmt.Errorf("revision %d: %w", revision, store.ErrConflict)
	}
}
