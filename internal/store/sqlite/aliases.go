package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// CreateAlias stores a new alias: ErrExists if the name is taken in the
// account and region, ErrNotFound if a.KeyID names no key.
func (db *DB) CreateAlias(ctx context.Context, a store.Alias) error {
	op := fmt.Sprintf("create alias %s %s %s", a.Account, a.Region, a.Name)
	created, err := sqlrows.ToNanos(a.CreatedAt)
	if err != nil {
		return fmt.Errorf("sqlite: %s: CreatedAt: %w", op, err)
	}
	updated, err := sqlrows.ToNanos(a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("sqlite: %s: UpdatedAt: %w", op, err)
	}
	return db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx)
		_, err := tx.ExecContext(ctx, `INSERT INTO aliases (account, region, name, key_id,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			a.Account, a.Region, a.Name, a.KeyID, created, updated)
		return err
	})
}

// GetAlias returns the alias or ErrNotFound.
func (db *DB) GetAlias(ctx context.Context, account, region, name string) (store.Alias, error) {
	op := fmt.Sprintf("get alias %s %s %s", account, region, name)
	row := db.r.QueryRowContext(ctx, `SELECT account, region, name, key_id, created_at, updated_at
		FROM aliases WHERE account = ? AND region = ? AND name = ?`, account, region, name)
	a, err := scanAlias(row)
	return a, wrapErr(op, err)
}

// UpdateAlias points the alias at a.KeyID and sets its UpdatedAt:
// ErrNotFound if the alias, or the key, does not exist.
func (db *DB) UpdateAlias(ctx context.Context, a store.Alias) error {
	op := fmt.Sprintf("update alias %s %s %s", a.Account, a.Region, a.Name)
	updated, err := sqlrows.ToNanos(a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("sqlite: %s: UpdatedAt: %w", op, err)
	}
	return db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx)
		res, err := tx.ExecContext(ctx, `UPDATE aliases SET key_id = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ?`,
			a.KeyID, updated, a.Account, a.Region, a.Name)
		if err != nil {
			return err
		}
		return sqlrows.OneRow(res)
	})
}

// DeleteAlias removes the alias or reports ErrNotFound.
func (db *DB) DeleteAlias(ctx context.Context, account, region, name string) error {
	op := fmt.Sprintf("delete alias %s %s %s", account, region, name)
	return db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx)
		res, err := tx.ExecContext(ctx, `DELETE FROM aliases
			WHERE account = ? AND region = ? AND name = ?`, account, region, name)
		if err != nil {
			return err
		}
		return sqlrows.OneRow(res)
	})
}

// ListAliases returns up to limit aliases of the account and region named
// after `after`, ordered by name; only those of keyID unless it is "".
// limit must be positive.
func (db *DB) ListAliases(ctx context.Context, account, region, keyID, after string, limit int) ([]store.Alias, error) {
	op := fmt.Sprintf("list aliases %s %s", account, region)
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit %d is not positive", op, limit)
	}
	const cols = aliasColumns
	var (
		rows *sql.Rows
		err  error
	)
	if keyID == "" {
		rows, err = db.r.QueryContext(ctx, cols+`
			WHERE account = ? AND region = ? AND name > ?
			ORDER BY name LIMIT ?`, account, region, after, limit)
	} else {
		rows, err = db.rquery(ctx, keyAliasesQuery, account, region, keyID, after, limit)
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	as := []store.Alias{}
	for rows.Next() {
		a, err := scanAlias(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		as = append(as, a)
	}
	return as, wrapErr(op, rows.Err())
}

func scanAlias(s sqlrows.Scanner) (store.Alias, error) {
	var (
		a                store.Alias
		created, updated sql.NullInt64
	)
	if err := s.Scan(&a.Account, &a.Region, &a.Name, &a.KeyID, &created, &updated); err != nil {
		return store.Alias{}, err
	}
	a.CreatedAt = sqlrows.FromNanos(created)
	a.UpdatedAt = sqlrows.FromNanos(updated)
	return a, nil
}

const aliasColumns = `SELECT account, region, name, key_id, created_at, updated_at FROM aliases`

// keyAliasesQuery lists a key's aliases (kms:ResourceAliases, read on
// every key cache miss): prepared once on the reader pool.
const keyAliasesQuery = aliasColumns + `
			WHERE account = ? AND region = ? AND key_id = ? AND name > ?
			ORDER BY name LIMIT ?`
