package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Aliases: the statements are in internal/store/sqlrows/aliases.go.

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
		return sqlrows.InsertAlias(uninterrupted(ctx), tx, a, created, updated)
	})
}

// GetAlias returns the alias or ErrNotFound.
func (db *DB) GetAlias(ctx context.Context, account, region, name string) (store.Alias, error) {
	op := fmt.Sprintf("get alias %s %s %s", account, region, name)
	a, err := sqlrows.GetAlias(ctx, db.r, account, region, name)
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
		return sqlrows.UpdateAlias(uninterrupted(ctx), tx, a, updated)
	})
}

// DeleteAlias removes the alias or reports ErrNotFound.
func (db *DB) DeleteAlias(ctx context.Context, account, region, name string) error {
	op := fmt.Sprintf("delete alias %s %s %s", account, region, name)
	return db.write(ctx, op, func(tx *sql.Tx) error {
		return sqlrows.DeleteAlias(uninterrupted(ctx), tx, account, region, name)
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
	var (
		rows *sql.Rows
		err  error
	)
	if keyID == "" {
		rows, err = db.r.QueryContext(ctx, sqlrows.AliasesQuery, account, region, after, limit)
	} else {
		rows, err = db.rquery(ctx, keyAliasesQuery, account, region, keyID, after, limit)
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	as, err := sqlrows.ScanAliases(rows)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return as, nil
}

// keyAliasesQuery is prepared once on the reader pool (group.go).
const keyAliasesQuery = sqlrows.KeyAliasesQuery
