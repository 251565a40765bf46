package sqlite

import (
	"context"
	"database/sql"

	"github.com/trent-kms/trent/internal/store"
)

// CreateAccessKey stores a new access key; ErrExists if the ID exists.
func (db *DB) CreateAccessKey(ctx context.Context, k store.AccessKey) error {
	op := "create access key " + k.ID
	created, err := toNanos(k.CreatedAt)
	if err != nil {
		return wrapErr(op+": CreatedAt", err)
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO access_keys (id, account, principal_arn,
		wrapped_secret, created_at, active) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Account, k.PrincipalARN, blob(k.WrappedSecret), created, boolInt(k.Active))
	return wrapErr(op, err)
}

// GetAccessKey returns the access key or ErrNotFound.
func (db *DB) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	row := db.r.QueryRowContext(ctx, `SELECT id, account, principal_arn, wrapped_secret,
		created_at, active FROM access_keys WHERE id = ?`, id)
	k, err := scanAccessKey(row)
	return k, wrapErr("get access key "+id, err)
}

// ListAccessKeys returns every access key, ordered by ID.
func (db *DB) ListAccessKeys(ctx context.Context) ([]store.AccessKey, error) {
	const op = "list access keys"
	rows, err := db.r.QueryContext(ctx, `SELECT id, account, principal_arn, wrapped_secret,
		created_at, active FROM access_keys ORDER BY id`)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	ks := []store.AccessKey{}
	for rows.Next() {
		k, err := scanAccessKey(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		ks = append(ks, k)
	}
	return ks, wrapErr(op, rows.Err())
}

func scanAccessKey(s scanner) (store.AccessKey, error) {
	var (
		k       store.AccessKey
		created sql.NullInt64
		active  int64
	)
	if err := s.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.WrappedSecret, &created, &active); err != nil {
		return store.AccessKey{}, err
	}
	k.CreatedAt = fromNanos(created)
	k.Active = active != 0
	return k, nil
}

// GetSetting returns the value or ErrNotFound.
func (db *DB) GetSetting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := db.r.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v)
	if err != nil {
		return nil, wrapErr("get setting "+name, err)
	}
	return blob(v), nil
}

// PutSetting creates or replaces a value.
func (db *DB) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, blob(value))
	return wrapErr("put setting "+name, err)
}
