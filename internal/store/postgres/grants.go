package postgres

import (
	"context"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Grants are rows of the table grants; their statements are in
// internal/store/sqlrows/grants.go.

// CreateGrant stores g, or returns the grant g retries with ErrExists; see
// store.Grants.
func (db *DB) CreateGrant(ctx context.Context, g store.Grant, maxPerKey int) (store.Grant, error) {
	op := fmt.Sprintf("create grant on key %s", g.KeyID)
	ng, err := sqlrows.PrepareGrant(g, maxPerKey)
	if err != nil {
		return store.Grant{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	var out store.Grant
	err = db.write(ctx, op, func(tx *sqlTx) error {
		var err error
		out, err = ng.Create(ctx, tx)
		return err
	})
	return out, err
}

// GetGrant returns the key's grant, or ErrNotFound.
func (db *DB) GetGrant(ctx context.Context, keyID, grantID string) (store.Grant, error) {
	op := fmt.Sprintf("get grant %s of key %s", grantID, keyID)
	g, err := sqlrows.GetGrant(ctx, db.r, keyID, grantID)
	if err != nil {
		return store.Grant{}, wrapErr(op, err)
	}
	return g, nil
}

// ListGrants lists the key's grants that pass f, by GrantID.
func (db *DB) ListGrants(ctx context.Context, keyID string, f store.GrantFilter, after string, limit int) ([]store.Grant, error) {
	op := "list grants of key " + keyID
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	gs, err := sqlrows.ListGrants(ctx, db.r, keyID, f, after, limit)
	return gs, wrapErr(op, err)
}

// ListGrantsByRetiringPrincipal lists grants on any key that principal may
// retire, by GrantID.
func (db *DB) ListGrantsByRetiringPrincipal(ctx context.Context, principal, after string, limit int) ([]store.Grant, error) {
	op := "list grants retirable by " + principal
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	gs, err := sqlrows.ListGrantsByRetiringPrincipal(ctx, db.r, principal, after, limit)
	return gs, wrapErr(op, err)
}

// DeleteGrant removes the key's grant, or reports ErrNotFound.
func (db *DB) DeleteGrant(ctx context.Context, keyID, grantID string) error {
	op := fmt.Sprintf("delete grant %s of key %s", grantID, keyID)
	return wrapErr(op, sqlrows.DeleteGrant(ctx, db.w, keyID, grantID))
}
