package sqlrows

import (
	"context"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// The methods of store.Store on keys that both stores run alike: through
// the Backend's WriteKey (one key) and WriteKeys (several keys, imported
// material). CreateKey, GetKey, KeyVersions, KeysDue and ListAliases stay
// in the stores: SQLite prepares their statements, and KeysDue's SQL
// differs.

// ListKeys returns up to limit keys of the account and region with IDs after
// `after`, ordered by ID, with their tags. limit must be positive.
func (s *Store) ListKeys(ctx context.Context, account, region, after string, limit int) ([]store.Key, error) {
	op := fmt.Sprintf("list keys %s %s", account, region)
	if limit <= 0 {
		return nil, fmt.Errorf("%s: %s: limit %d is not positive", s.prefix, op, limit)
	}
	rows, err := s.r.QueryContext(ctx, listKeysQuery, account, region, after, limit)
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	ks, err := ScanKeys(rows)
	return ks, s.wrapErr(op, err)
}

// UpdateKey replaces the key's metadata and tags if its revision is still
// k.Revision.
func (s *Store) UpdateKey(ctx context.Context, k store.Key) (store.Key, error) {
	op := "update key " + k.ID
	ka, err := s.dialect.KeyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	if err := s.writeKey(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.updateKey(ctx, tx, k, ka)
	}); err != nil {
		return store.Key{}, err
	}
	return stored(k), nil
}

// AddKeyVersion stores v and updates the key, with UpdateKey's revision
// check, in one transaction.
func (s *Store) AddKeyVersion(ctx context.Context, k store.Key, v store.KeyVersion) (store.Key, error) {
	op := fmt.Sprintf("add version %d of key %s", v.Version, k.ID)
	ka, va, err := s.keyVersionArgs(op, k, v)
	if err != nil {
		return store.Key{}, err
	}
	if err := s.writeKey(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.addKeyVersion(ctx, tx, k, ka, va)
	}); err != nil {
		return store.Key{}, err
	}
	return stored(k), nil
}

// DeleteKey removes the key, its versions, tags and aliases in one
// transaction if its revision is still revision, then has the backend
// purge what the deleted rows leave behind (SQLite: its WAL; PostgreSQL:
// the dead tuples, by VACUUM, as far as PostgreSQL allows, see
// docs/postgres.md). ErrNotPurged if the purge failed.
func (s *Store) DeleteKey(ctx context.Context, id string, revision int64) error {
	op := "delete key " + id
	if err := s.writeKey(ctx, op, func(ctx context.Context, tx Tx) error {
		return deleteKey(ctx, tx, id, revision)
	}); err != nil {
		return err
	}
	if err := s.purge(ctx); err != nil {
		return fmt.Errorf("%s: %s: %w: %v", s.prefix, op, store.ErrNotPurged, err)
	}
	return nil
}

// Keys with imported material.

// CreateKeyWithoutMaterial stores k with revision 1 and its tags, and no
// version.
func (s *Store) CreateKeyWithoutMaterial(ctx context.Context, k store.Key) error {
	op := "create key without material " + k.ID
	ka, err := s.dialect.KeyArgs(k)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	store.NoteCreatedKey(ctx, k)
	return s.writeKeys(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.createKeyWithoutMaterial(ctx, tx, k, ka)
	})
}

// PutKeyMaterial stores v, replacing the row of that version if there is
// one, and updates the key with the revision check, in one transaction.
func (s *Store) PutKeyMaterial(ctx context.Context, k store.Key, v store.KeyVersion) (store.Key, error) {
	op := fmt.Sprintf("put material of version %d of key %s", v.Version, k.ID)
	ka, va, err := s.keyVersionArgs(op, k, v)
	if err != nil {
		return store.Key{}, err
	}
	if err := s.writeKeys(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.putKeyMaterial(ctx, tx, k, v.Version, ka, va)
	}); err != nil {
		return store.Key{}, err
	}
	return stored(k), nil
}

// DeleteKeyMaterial empties the material of the versions and updates the
// key in one transaction, then purges as DeleteKey does (on PostgreSQL the
// UPDATE leaves the old row, with the material, as a dead tuple).
func (s *Store) DeleteKeyMaterial(ctx context.Context, k store.Key, versions []uint32) (store.Key, error) {
	op := fmt.Sprintf("delete material %v of key %s", versions, k.ID)
	ka, err := s.dialect.KeyArgs(k)
	if err != nil {
		return store.Key{}, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	if err := s.writeKeys(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.deleteKeyMaterial(ctx, tx, k, versions, ka)
	}); err != nil {
		return store.Key{}, err
	}
	if err := s.purge(ctx); err != nil {
		return stored(k), fmt.Errorf("%s: %s: %w: %v", s.prefix, op, store.ErrNotPurged, err)
	}
	return stored(k), nil
}

// KeysMaterialExpired returns, ordered by ID, the keys with a version whose
// imported material has expired.
func (s *Store) KeysMaterialExpired(ctx context.Context, now time.Time) ([]string, error) {
	op := "keys with expired material"
	n, err := ToNanos(now)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	rows, err := s.r.QueryContext(ctx, keysMaterialExpiredQuery, n)
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	ids, err := ScanIDs(rows)
	return ids, s.wrapErr(op, err)
}

// PutKeysMaterial is PutKeyMaterial for several keys in one transaction.
func (s *Store) PutKeysMaterial(ctx context.Context, ks []store.Key, vs []store.KeyVersion) ([]store.Key, error) {
	op := fmt.Sprintf("put material of %d keys", len(ks))
	kas, vas, err := s.dialect.keysVersionsArgs(ks, vs)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	if err := s.writeKeys(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.putKeysMaterial(ctx, tx, ks, vs, kas, vas)
	}); err != nil {
		return nil, err
	}
	return storedAll(ks), nil
}

// Multi-Region keys.

// CreateMultiRegionKey stores k with its versions and its membership of
// k.MultiRegionKey in one transaction. Two writers (PostgreSQL nodes)
// replicating one key into the same region at once: the UNIQUE (mrk,
// region) lets one in and gives the other ErrExists.
func (s *Store) CreateMultiRegionKey(ctx context.Context, k store.Key, versions []store.KeyVersion) error {
	op := "create multi-Region key " + k.ID
	ka, vas, err := s.dialect.multiRegionKeyArgs(k, versions)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	store.NoteCreatedKey(ctx, k)
	return s.writeKeys(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.createMultiRegionKey(ctx, tx, k, ka, vas)
	})
}

// MultiRegionMembers returns the members of mrk with their tags, ordered
// by region.
func (s *Store) MultiRegionMembers(ctx context.Context, mrk string) ([]store.Key, error) {
	op := "members of multi-Region key " + mrk
	rows, err := s.r.QueryContext(ctx, multiRegionMembersQuery, mrk)
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	ks, err := ScanKeys(rows)
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	if ks == nil {
		ks = []store.Key{}
	}
	return ks, nil
}

// UpdateKeys updates every key of ks, with UpdateKey's revision check, and
// its primary region, in one transaction.
func (s *Store) UpdateKeys(ctx context.Context, ks []store.Key) ([]store.Key, error) {
	op := fmt.Sprintf("update %d keys", len(ks))
	kas, err := s.dialect.keysArgs(ks)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	if err := s.writeKeys(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.updateKeys(ctx, tx, ks, kas)
	}); err != nil {
		return nil, err
	}
	return storedAll(ks), nil
}

// AddKeyVersions stores vs[i] and updates ks[i], with UpdateKey's
// revision check, for every i, in one transaction.
func (s *Store) AddKeyVersions(ctx context.Context, ks []store.Key, vs []store.KeyVersion) ([]store.Key, error) {
	op := fmt.Sprintf("add versions to %d keys", len(ks))
	kas, vas, err := s.dialect.keysVersionsArgs(ks, vs)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	if err := s.writeKeys(ctx, op, func(ctx context.Context, tx Tx) error {
		return s.dialect.addKeyVersions(ctx, tx, ks, kas, vas)
	}); err != nil {
		return nil, err
	}
	return storedAll(ks), nil
}

// keyVersionArgs returns the statement arguments of k and of its version
// v, or why they cannot be stored, under op.
func (s *Store) keyVersionArgs(op string, k store.Key, v store.KeyVersion) (ka, va []any, err error) {
	if ka, err = s.dialect.KeyArgs(k); err == nil {
		va, err = s.dialect.VersionArgs(k.ID, v)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	return ka, va, nil
}
