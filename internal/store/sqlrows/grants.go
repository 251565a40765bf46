package sqlrows

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/trent-kms/trent/internal/store"
)

// Grants are rows of the table grants (migrations/0002_identity.sql of
// both stores); the foreign key to keys deletes them with their key.
// Operations and the encryption-context constraints are stored as JSON
// text: they are always read and written whole.

const grantSelect = `SELECT grant_id, key_id, name, account, region, grantee_principal,
	retiring_principal, issuing_account, operations, constraints_equals, constraints_subset,
	created_at FROM grants`

func scanGrant(s scanner) (store.Grant, error) {
	var (
		g              store.Grant
		ops            string
		equals, subset sql.NullString
		created        sql.NullInt64
	)
	if err := s.Scan(&g.GrantID, &g.KeyID, &g.Name, &g.Account, &g.Region, &g.GranteePrincipal,
		&g.RetiringPrincipal, &g.IssuingAccount, &ops, &equals, &subset, &created); err != nil {
		return store.Grant{}, err
	}
	if err := json.Unmarshal([]byte(ops), &g.Operations); err != nil {
		return store.Grant{}, fmt.Errorf("grant %s: stored operations: %w", g.GrantID, err)
	}
	if len(g.Operations) == 0 {
		g.Operations = nil
	}
	var err error
	if g.ConstraintsEncryptionContextEquals, err = decodeContext(equals); err != nil {
		return store.Grant{}, fmt.Errorf("grant %s: stored constraint: %w", g.GrantID, err)
	}
	if g.ConstraintsEncryptionContextSubset, err = decodeContext(subset); err != nil {
		return store.Grant{}, fmt.Errorf("grant %s: stored constraint: %w", g.GrantID, err)
	}
	g.CreatedAt = FromNanos(created)
	return g, nil
}

// encodeContext is the stored form of an encryption-context constraint:
// NULL for nil, else a JSON object (json.Marshal sorts its keys).
func encodeContext(m map[string]string) (sql.NullString, error) {
	if m == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

func decodeContext(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func queryGrants(ctx context.Context, q Tx, query string, args ...any) ([]store.Grant, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	gs := []store.Grant{}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	return gs, rows.Err()
}

// sameGrant reports whether a and b have the parameters that make a
// CreateGrant with a Name a retry: principals, issuing account, operations
// as a set, and the constraints (nil and empty differ).
func sameGrant(a, b store.Grant) bool {
	return a.GranteePrincipal == b.GranteePrincipal &&
		a.RetiringPrincipal == b.RetiringPrincipal &&
		a.IssuingAccount == b.IssuingAccount &&
		slices.Equal(opSet(a.Operations), opSet(b.Operations)) &&
		sameContext(a.ConstraintsEncryptionContextEquals, b.ConstraintsEncryptionContextEquals) &&
		sameContext(a.ConstraintsEncryptionContextSubset, b.ConstraintsEncryptionContextSubset)
}

func opSet(ops []string) []string {
	s := slices.Clone(ops)
	slices.Sort(s)
	return slices.Compact(s)
}

func sameContext(a, b map[string]string) bool {
	return (a == nil) == (b == nil) && maps.Equal(a, b)
}

// CreateGrant stores g, or returns the grant g retries with ErrExists; see
// store.Grants.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant, maxPerKey int) (store.Grant, error) {
	op := fmt.Sprintf("create grant on key %s", g.KeyID)
	if maxPerKey <= 0 {
		return store.Grant{}, fmt.Errorf("%s: %s: cap %d is not positive", s.prefix, op, maxPerKey)
	}
	ops, err := json.Marshal(g.Operations)
	if err != nil {
		return store.Grant{}, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	if g.Operations == nil {
		ops = []byte("[]")
	}
	equals, err := encodeContext(g.ConstraintsEncryptionContextEquals)
	if err != nil {
		return store.Grant{}, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	subset, err := encodeContext(g.ConstraintsEncryptionContextSubset)
	if err != nil {
		return store.Grant{}, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	created, err := ToNanos(g.CreatedAt)
	if err != nil {
		return store.Grant{}, fmt.Errorf("%s: %s: CreatedAt: %w", s.prefix, op, err)
	}

	var out store.Grant
	err = s.writeKey(ctx, op, func(ctx context.Context, tx Tx) error {
		n, err := count(ctx, tx, "SELECT count(*) FROM keys WHERE id = ? AND account = ? AND region = ?",
			g.KeyID, g.Account, g.Region)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("key %s in %s %s: %w", g.KeyID, g.Account, g.Region, sql.ErrNoRows)
		}
		if g.Name != "" {
			named, err := queryGrants(ctx, tx, grantSelect+" WHERE key_id = ? AND name = ? ORDER BY grant_id", g.KeyID, g.Name)
			if err != nil {
				return err
			}
			for _, e := range named {
				if sameGrant(e, g) {
					out = e
					return fmt.Errorf("grant %s named %q: %w", e.GrantID, g.Name, store.ErrExists)
				}
			}
		}
		n, err = count(ctx, tx, "SELECT count(*) FROM grants WHERE key_id = ?", g.KeyID)
		if err != nil {
			return err
		}
		if n >= maxPerKey {
			return fmt.Errorf("key has %d grants: %w", n, store.ErrLimit)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO grants (grant_id, key_id, name, account, region,
			grantee_principal, retiring_principal, issuing_account, operations, constraints_equals,
			constraints_subset, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			g.GrantID, g.KeyID, g.Name, g.Account, g.Region, g.GranteePrincipal, g.RetiringPrincipal,
			g.IssuingAccount, string(ops), equals, subset, created); err != nil {
			return err
		}
		out, err = scanGrant(tx.QueryRowContext(ctx, grantSelect+" WHERE grant_id = ?", g.GrantID))
		return err
	})
	return out, err
}

// GetGrant returns the key's grant, or ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, keyID, grantID string) (store.Grant, error) {
	op := fmt.Sprintf("get grant %s of key %s", grantID, keyID)
	g, err := scanGrant(s.r.QueryRowContext(ctx, grantSelect+" WHERE grant_id = ? AND key_id = ?", grantID, keyID))
	if err != nil {
		return store.Grant{}, s.wrapErr(op, err)
	}
	return g, nil
}

// ListGrants lists the key's grants that pass f, by GrantID.
func (s *Store) ListGrants(ctx context.Context, keyID string, f store.GrantFilter, after string, limit int) ([]store.Grant, error) {
	op := "list grants of key " + keyID
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	q := grantSelect + " WHERE key_id = ? AND grant_id > ?"
	args := []any{keyID, after}
	if f.GrantID != "" {
		q += " AND grant_id = ?"
		args = append(args, f.GrantID)
	}
	if f.GranteePrincipal != "" {
		q += " AND grantee_principal = ?"
		args = append(args, f.GranteePrincipal)
	}
	gs, err := queryGrants(ctx, s.r, q+" ORDER BY grant_id LIMIT ?", append(args, limit)...)
	return gs, s.wrapErr(op, err)
}

// ListGrantsByRetiringPrincipal lists grants on any key that principal may
// retire, by GrantID.
func (s *Store) ListGrantsByRetiringPrincipal(ctx context.Context, principal, after string, limit int) ([]store.Grant, error) {
	op := "list grants retirable by " + principal
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	if principal == "" {
		return []store.Grant{}, nil // "" is "no retiring principal", not a principal
	}
	gs, err := queryGrants(ctx, s.r, grantSelect+`
		WHERE retiring_principal = ? AND grant_id > ? ORDER BY grant_id LIMIT ?`, principal, after, limit)
	return gs, s.wrapErr(op, err)
}

// DeleteGrant removes the key's grant, or reports ErrNotFound.
func (s *Store) DeleteGrant(ctx context.Context, keyID, grantID string) error {
	op := fmt.Sprintf("delete grant %s of key %s", grantID, keyID)
	return s.writeKey(ctx, op, func(ctx context.Context, tx Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM grants WHERE grant_id = ? AND key_id = ?", grantID, keyID)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}
