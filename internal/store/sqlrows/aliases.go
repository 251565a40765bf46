package sqlrows

import (
	"context"
	"database/sql"

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

// InsertAlias stores a new alias with its stored times.
func InsertAlias(ctx context.Context, q Execer, a store.Alias, created, updated sql.NullInt64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO aliases (account, region, name, key_id,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		a.Account, a.Region, a.Name, a.KeyID, created, updated)
	return err
}

// GetAlias returns the alias, or sql.ErrNoRows.
func GetAlias(ctx context.Context, q Tx, account, region, name string) (store.Alias, error) {
	return scanAlias(q.QueryRowContext(ctx, aliasColumns+`
		WHERE account = ? AND region = ? AND name = ?`, account, region, name))
}

// UpdateAlias points the alias at a.KeyID as of updated, or returns
// sql.ErrNoRows.
func UpdateAlias(ctx context.Context, q Execer, a store.Alias, updated sql.NullInt64) error {
	res, err := q.ExecContext(ctx, `UPDATE aliases SET key_id = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ?`,
		a.KeyID, updated, a.Account, a.Region, a.Name)
	if err != nil {
		return err
	}
	return OneRow(res)
}

// DeleteAlias removes the alias, or returns sql.ErrNoRows.
func DeleteAlias(ctx context.Context, q Execer, account, region, name string) error {
	res, err := q.ExecContext(ctx, `DELETE FROM aliases
			WHERE account = ? AND region = ? AND name = ?`, account, region, name)
	if err != nil {
		return err
	}
	return OneRow(res)
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

func scanAlias(s Scanner) (store.Alias, error) {
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
