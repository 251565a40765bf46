package sqlrows

import (
	"context"
	"database/sql"

	"github.com/trent-kms/trent/internal/store"
)

// CreateAccessKey stores a new access key; ErrExists if the ID exists.
// A user's key is stored by createUserAccessKey (identity.go).
func (s *Store) CreateAccessKey(ctx context.Context, k store.AccessKey) error {
	op := "create access key " + k.ID
	created, err := ToNanos(k.CreatedAt)
	if err != nil {
		return s.wrapErr(op+": CreatedAt", err)
	}
	if k.UserName != "" {
		return s.createUserAccessKey(ctx, k, created)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO access_keys (id, account, principal_arn,
		wrapped_secret, created_at, active) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Account, k.PrincipalARN, blob(k.WrappedSecret), created, boolInt(k.Active))
	return s.wrapErr(op, err)
}

// GetAccessKey returns the access key or ErrNotFound.
func (s *Store) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	row := s.r.QueryRowContext(ctx, accessKeySelect+" WHERE ak.id = ?", id)
	k, err := scanAccessKey(row)
	return k, s.wrapErr("get access key "+id, err)
}

// ListAccessKeys returns every access key, ordered by ID.
func (s *Store) ListAccessKeys(ctx context.Context) ([]store.AccessKey, error) {
	const op = "list access keys"
	rows, err := s.r.QueryContext(ctx, accessKeySelect+" ORDER BY ak.id")
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	ks, err := scanAccessKeys(rows)
	return ks, s.wrapErr(op, err)
}

// accessKeySelect reads access keys (ak) in the order scanAccessKey takes
// them, with the current name of the user a key belongs to.
const accessKeySelect = `SELECT ak.id, ak.account, ak.principal_arn, ak.wrapped_secret,
	ak.created_at, ak.active, coalesce(u.name, ''), ak.last_used_at, ak.last_used_service,
	ak.last_used_region
	FROM access_keys AS ak LEFT JOIN principals AS u ON u.id = ak.user_id`

func scanAccessKey(s scanner) (store.AccessKey, error) {
	var (
		k             store.AccessKey
		created, used sql.NullInt64
		active        int64
	)
	if err := s.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.WrappedSecret, &created, &active,
		&k.UserName, &used, &k.LastUsedService, &k.LastUsedRegion); err != nil {
		return store.AccessKey{}, err
	}
	k.CreatedAt = FromNanos(created)
	k.Active = active != 0
	k.LastUsedAt = FromNanos(used)
	return k, nil
}

// scanAccessKeys reads every row of an accessKeySelect and closes rows.
func scanAccessKeys(rows *sql.Rows) ([]store.AccessKey, error) {
	defer rows.Close()
	ks := []store.AccessKey{}
	for rows.Next() {
		k, err := scanAccessKey(rows)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, rows.Err()
}

// GetSetting returns the value or ErrNotFound.
func (s *Store) GetSetting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v)
	if err != nil {
		return nil, s.wrapErr("get setting "+name, err)
	}
	return blob(v), nil
}

// PutSetting creates or replaces a value.
func (s *Store) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, blob(value))
	return s.wrapErr("put setting "+name, err)
}

// CreateSetting implements store.SettingCreator: the primary key refuses
// a second value (ErrExists).
func (s *Store) CreateSetting(ctx context.Context, name string, value []byte) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)`, name, blob(value))
	return s.wrapErr("create setting "+name, err)
}
