package sqlrows

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
)

// aliasColumns reads aliases in the order scanAlias takes them.
const aliasColumns = `SELECT account, region, name, key_id, created_at, updated_at FROM aliases`

// KeyAliasesQuery lists a key's aliases (kms:ResourceAliases, read on
// every key cache miss): account, region, key ID, after, limit.
const KeyAliasesQuery = aliasColumns + `
			WHERE account = ? AND region = ? AND key_id = ? AND name > ?
			ORDER BY name LIMIT ?`

// AliasesQuery lists an account's aliases in a region: account, region,
// after, limit.
const AliasesQuery = aliasColumns + `
			WHERE account = ? AND region = ? AND name > ?
			ORDER BY name LIMIT ?`

// CreateAlias stores a new alias: ErrExists if the name is taken in the
// account and region, ErrNotFound if a.KeyID names no key.
func (s *Store) CreateAlias(ctx context.Context, a store.Alias) error {
	op := fmt.Sprintf("create alias %s %s %s", a.Account, a.Region, a.Name)
	created, err := ToNanos(a.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %s: CreatedAt: %w", s.prefix, op, err)
	}
	updated, err := ToNanos(a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %s: UpdatedAt: %w", s.prefix, op, err)
	}
	return s.writeKey(ctx, op, func(ctx context.Context, tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO aliases (account, region, name, key_id,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			a.Account, a.Region, a.Name, a.KeyID, created, updated)
		return err
	})
}

// GetAlias returns the alias or ErrNotFound.
func (s *Store) GetAlias(ctx context.Context, account, region, name string) (store.Alias, error) {
	op := fmt.Sprintf("get alias %s %s %s", account, region, name)
	a, err := scanAlias(s.r.QueryRowContext(ctx, aliasColumns+`
		WHERE account = ? AND region = ? AND name = ?`, account, region, name))
	return a, s.wrapErr(op, err)
}

// UpdateAlias points the alias at a.KeyID and sets its UpdatedAt:
// ErrNotFound if the alias, or the key, does not exist.
func (s *Store) UpdateAlias(ctx context.Context, a store.Alias) error {
	op := fmt.Sprintf("update alias %s %s %s", a.Account, a.Region, a.Name)
	updated, err := ToNanos(a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %s: UpdatedAt: %w", s.prefix, op, err)
	}
	return s.writeKey(ctx, op, func(ctx context.Context, tx Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE aliases SET key_id = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ?`,
			a.KeyID, updated, a.Account, a.Region, a.Name)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

// DeleteAlias removes the alias or reports ErrNotFound.
func (s *Store) DeleteAlias(ctx context.Context, account, region, name string) error {
	op := fmt.Sprintf("delete alias %s %s %s", account, region, name)
	return s.writeKey(ctx, op, func(ctx context.Context, tx Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM aliases
			WHERE account = ? AND region = ? AND name = ?`, account, region, name)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

// ScanAliases reads the rows of a KeyAliasesQuery or AliasesQuery and
// closes them.
func ScanAliases(rows *sql.Rows) ([]store.Alias, error) {
	defer rows.Close()
	as := []store.Alias{}
	for rows.Next() {
		a, err := scanAlias(rows)
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, rows.Err()
}

func scanAlias(s scanner) (store.Alias, error) {
	var (
		a                store.Alias
		created, updated sql.NullInt64
	)
	if err := s.Scan(&a.Account, &a.Region, &a.Name, &a.KeyID, &created, &updated); err != nil {
		return store.Alias{}, err
	}
	a.CreatedAt = FromNanos(created)
	a.UpdatedAt = FromNanos(updated)
	return a, nil
}
