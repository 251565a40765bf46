package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Aliases: the statements are in internal/store/sqlrows/aliases.go.

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
