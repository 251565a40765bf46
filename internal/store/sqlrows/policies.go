package sqlrows

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// Inline policies.

// PutInlinePolicy creates or replaces the entity's policy of that name.
func (s *Store) PutInlinePolicy(ctx context.Context, e store.EntityRef, name, document string) error {
	op := fmt.Sprintf("put inline policy %s of %s %s %s", name, e.Kind, e.Account, e.Name)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		id, err := s.principalID(ctx, tx, e.Kind, e.Account, e.Name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO inline_policies (principal_id, name, document)
			VALUES (?, ?, ?)
			ON CONFLICT (principal_id, name) DO UPDATE SET document = excluded.document`,
			id, name, document)
		return err
	})
}

// GetInlinePolicy returns the document, or ErrNotFound.
func (s *Store) GetInlinePolicy(ctx context.Context, e store.EntityRef, name string) (string, error) {
	op := fmt.Sprintf("get inline policy %s of %s %s %s", name, e.Kind, e.Account, e.Name)
	if err := checkKind(e.Kind); err != nil {
		return "", fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	var doc string
	err := s.r.QueryRowContext(ctx, `SELECT i.document FROM inline_policies AS i
		JOIN principals AS p ON p.id = i.principal_id
		WHERE p.account = ? AND p.kind = ? AND lower(p.name) = `+s.dialect.LowerArg+` AND i.name = ?`,
		e.Account, string(e.Kind), e.Name, name).Scan(&doc)
	return doc, s.wrapErr(op, err)
}

// DeleteInlinePolicy removes the policy, or reports ErrNotFound.
func (s *Store) DeleteInlinePolicy(ctx context.Context, e store.EntityRef, name string) error {
	op := fmt.Sprintf("delete inline policy %s of %s %s %s", name, e.Kind, e.Account, e.Name)
	if err := checkKind(e.Kind); err != nil {
		return fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM inline_policies WHERE name = ? AND principal_id =
		(SELECT id FROM principals WHERE `+s.byName+`)`, name, e.Account, string(e.Kind), e.Name)
	if err != nil {
		return s.wrapErr(op, err)
	}
	return s.wrapErr(op, oneRow(res))
}

// ListInlinePolicies lists the entity's policy names.
func (s *Store) ListInlinePolicies(ctx context.Context, e store.EntityRef, after string, limit int) ([]string, error) {
	op := fmt.Sprintf("list inline policies of %s %s %s", e.Kind, e.Account, e.Name)
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	var names []string
	err := s.read(ctx, op, func(ctx context.Context, tx Tx) error {
		id, err := s.principalID(ctx, tx, e.Kind, e.Account, e.Name)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT name FROM inline_policies
			WHERE principal_id = ? AND name > ? ORDER BY name LIMIT ?`, id, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		names = []string{}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			names = append(names, n)
		}
		return rows.Err()
	})
	return names, err
}

// Managed policies.

// policySelect reads policies (p) in the order scanPolicy takes them. Its
// attachment count, as the account bound to its two parameters sees it,
// counts that account's entities, or every entity for the owner.
const policySelect = `SELECT p.id, p.account, p.name, p.path, p.arn, p.default_version,
	p.description, p.created_at, p.updated_at,
	(SELECT count(*) FROM policy_attachments AS a JOIN principals AS e ON e.id = a.principal_id
		WHERE a.policy_id = p.id AND (e.account = ? OR p.account = ?)) AS attachment_count
	FROM policies AS p`

func scanPolicy(s scanner) (store.Policy, error) {
	var (
		p                store.Policy
		def              int64
		created, updated sql.NullInt64
	)
	if err := s.Scan(&p.ID, &p.Account, &p.Name, &p.Path, &p.ARN, &def, &p.Description,
		&created, &updated, &p.AttachmentCount); err != nil {
		return store.Policy{}, err
	}
	p.DefaultVersion = versionID(def)
	p.CreatedAt = FromNanos(created)
	p.UpdatedAt = FromNanos(updated)
	return p, nil
}

func scanPolicies(rows *sql.Rows) ([]store.Policy, error) {
	defer rows.Close()
	ps := []store.Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// versionID is the IAM name of version number n.
func versionID(n int64) string { return "v" + strconv.FormatInt(n, 10) }

// versionNumber parses a version ID the store made ("v" and a number
// without leading zeros); ok is false for anything else, which names no
// version.
func versionNumber(id string) (n int64, ok bool) {
	digits, found := strings.CutPrefix(id, "v")
	if !found || digits == "" || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// policyID returns the ID of the policy arn, and its owner, if account may
// see it (owner: if account owns it) or sql.ErrNoRows.
func policyID(ctx context.Context, q Tx, account, arn string, owner bool) (string, error) {
	var id, acct string
	if err := q.QueryRowContext(ctx, "SELECT id, account FROM policies WHERE arn = ?", arn).Scan(&id, &acct); err != nil {
		return "", fmt.Errorf("policy %s: %w", arn, err)
	}
	if acct != account && (owner || acct != store.AWSAccount) {
		return "", fmt.Errorf("policy %s of account %s: %w", arn, acct, sql.ErrNoRows)
	}
	return id, nil
}

// CreatePolicy stores p with version v1 holding document.
func (s *Store) CreatePolicy(ctx context.Context, p store.Policy, document string) error {
	op := fmt.Sprintf("create policy %s", p.ARN)
	created, err := ToNanos(p.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %s: CreatedAt: %w", s.prefix, op, err)
	}
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		if p.Account != store.AWSAccount {
			n, err := count(ctx, tx, "SELECT count(*) FROM accounts WHERE id = ?", p.Account)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("account %s: %w", p.Account, sql.ErrNoRows)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policies (id, account, name, path, arn,
			description, default_version, next_version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 1, 2, ?, ?)`,
			p.ID, p.Account, p.Name, p.Path, p.ARN, p.Description, created, created); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO policy_versions (policy_id, version, document, created_at)
			VALUES (?, 1, ?, ?)`, p.ID, document, created)
		return err
	})
}

// GetPolicy returns the policy if account may see it, or ErrNotFound.
func (s *Store) GetPolicy(ctx context.Context, account, arn string) (store.Policy, error) {
	op := fmt.Sprintf("get policy %s for %s", arn, account)
	p, err := scanPolicy(s.r.QueryRowContext(ctx, policySelect+` WHERE p.arn = ? AND p.account IN (?, ?)`,
		account, account, arn, account, store.AWSAccount))
	if err != nil {
		return store.Policy{}, s.wrapErr(op, err)
	}
	return p, nil
}

// DeletePolicy removes an unattached policy that has one version.
func (s *Store) DeletePolicy(ctx context.Context, account, arn string) error {
	op := fmt.Sprintf("delete policy %s of %s", arn, account)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		id, err := policyID(ctx, tx, account, arn, true)
		if err != nil {
			return err
		}
		n, err := count(ctx, tx, "SELECT count(*) FROM policy_attachments WHERE policy_id = ?", id)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("attached to %d entities: %w", n, store.ErrDeleteConflict)
		}
		n, err = count(ctx, tx, "SELECT count(*) FROM policy_versions WHERE policy_id = ?", id)
		if err != nil {
			return err
		}
		if n > 1 {
			return fmt.Errorf("has %d versions: %w", n, store.ErrDeleteConflict)
		}
		// The foreign key cascades too; explicit, as in DeleteKey.
		if _, err := tx.ExecContext(ctx, "DELETE FROM policy_versions WHERE policy_id = ?", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM policies WHERE id = ?", id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

// ListPolicies lists the policies account sees that pass f, by ARN.
func (s *Store) ListPolicies(ctx context.Context, account string, f store.PolicyFilter, after string, limit int) ([]store.Policy, error) {
	op := fmt.Sprintf("list policies of %s", account)
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	args := []any{account, account}
	var owners string
	switch f.Scope {
	case store.ScopeAll, "":
		owners = "p.account IN (?, ?)"
		args = append(args, account, store.AWSAccount)
	case store.ScopeLocal:
		owners = "p.account = ?"
		args = append(args, account)
	case store.ScopeAWS:
		owners = "p.account = ?"
		args = append(args, store.AWSAccount)
	default:
		return nil, fmt.Errorf("%s: %s: unknown scope %q", s.prefix, op, f.Scope)
	}
	args = append(args, after, f.PathPrefix, f.PathPrefix)
	q := policySelect + " WHERE " + owners + " AND p.arn > ? AND " + s.pathPrefix("p.path")
	if f.OnlyAttached {
		q = "SELECT * FROM (" + q + ") AS listed WHERE attachment_count > 0"
	}
	rows, err := s.r.QueryContext(ctx, q+" ORDER BY arn LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	ps, err := scanPolicies(rows)
	return ps, s.wrapErr(op, err)
}

// Policy versions.

// CreatePolicyVersion adds the policy's next version.
func (s *Store) CreatePolicyVersion(ctx context.Context, account, arn, document string, setDefault bool, at time.Time) (store.PolicyVersion, error) {
	op := fmt.Sprintf("create version of policy %s of %s", arn, account)
	created, err := ToNanos(at)
	if err != nil {
		return store.PolicyVersion{}, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	var v store.PolicyVersion
	err = s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		id, err := policyID(ctx, tx, account, arn, true)
		if err != nil {
			return err
		}
		n, err := count(ctx, tx, "SELECT count(*) FROM policy_versions WHERE policy_id = ?", id)
		if err != nil {
			return err
		}
		if n >= store.MaxPolicyVersions {
			return fmt.Errorf("has %d versions: %w", n, store.ErrLimit)
		}
		var next int64
		if err := tx.QueryRowContext(ctx, "SELECT next_version FROM policies WHERE id = ?", id).Scan(&next); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_versions (policy_id, version, document, created_at)
			VALUES (?, ?, ?, ?)`, id, next, document, created); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET next_version = next_version + 1,
			updated_at = ?, default_version = CASE WHEN ? = 1 THEN ? ELSE default_version END
			WHERE id = ?`, created, boolInt(setDefault), next, id); err != nil {
			return err
		}
		v = store.PolicyVersion{PolicyARN: arn, VersionID: versionID(next), Document: document,
			IsDefault: setDefault, CreatedAt: FromNanos(created)}
		return nil
	})
	return v, err
}

// versionSelect reads versions (v) of a policy (p) in the order
// scanVersion takes them.
const versionSelect = `SELECT p.arn, v.version, v.document, v.version = p.default_version, v.created_at
	FROM policy_versions AS v JOIN policies AS p ON p.id = v.policy_id`

func scanVersion(s scanner) (store.PolicyVersion, error) {
	var (
		v       store.PolicyVersion
		n       int64
		created sql.NullInt64
	)
	if err := s.Scan(&v.PolicyARN, &n, &v.Document, &v.IsDefault, &created); err != nil {
		return store.PolicyVersion{}, err
	}
	v.VersionID = versionID(n)
	v.CreatedAt = FromNanos(created)
	return v, nil
}

// GetPolicyVersion returns the version, or ErrNotFound.
func (s *Store) GetPolicyVersion(ctx context.Context, account, arn, versionID string) (store.PolicyVersion, error) {
	op := fmt.Sprintf("get version %s of policy %s for %s", versionID, arn, account)
	n, ok := versionNumber(versionID)
	if !ok {
		return store.PolicyVersion{}, s.wrapErr(op, sql.ErrNoRows)
	}
	v, err := scanVersion(s.r.QueryRowContext(ctx, versionSelect+`
		WHERE p.arn = ? AND p.account IN (?, ?) AND v.version = ?`, arn, account, store.AWSAccount, n))
	if err != nil {
		return store.PolicyVersion{}, s.wrapErr(op, err)
	}
	return v, nil
}

// ListPolicyVersions returns the policy's versions, newest first.
func (s *Store) ListPolicyVersions(ctx context.Context, account, arn string) ([]store.PolicyVersion, error) {
	op := fmt.Sprintf("list versions of policy %s for %s", arn, account)
	var vs []store.PolicyVersion
	err := s.read(ctx, op, func(ctx context.Context, tx Tx) error {
		id, err := policyID(ctx, tx, account, arn, false)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, versionSelect+" WHERE p.id = ? ORDER BY v.version DESC", id)
		if err != nil {
			return err
		}
		defer rows.Close()
		vs = []store.PolicyVersion{}
		for rows.Next() {
			v, err := scanVersion(rows)
			if err != nil {
				return err
			}
			vs = append(vs, v)
		}
		return rows.Err()
	})
	return vs, err
}

// DeletePolicyVersion removes a version that is not the default.
func (s *Store) DeletePolicyVersion(ctx context.Context, account, arn, versionID string) error {
	op := fmt.Sprintf("delete version %s of policy %s of %s", versionID, arn, account)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		id, err := policyID(ctx, tx, account, arn, true)
		if err != nil {
			return err
		}
		n, ok := versionNumber(versionID)
		if !ok {
			return sql.ErrNoRows
		}
		var def int64
		if err := tx.QueryRowContext(ctx, "SELECT default_version FROM policies WHERE id = ?", id).Scan(&def); err != nil {
			return err
		}
		if n == def {
			return fmt.Errorf("version %s is the default: %w", versionID, store.ErrDeleteConflict)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM policy_versions WHERE policy_id = ? AND version = ?", id, n)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

// SetDefaultPolicyVersion makes an existing version the default.
func (s *Store) SetDefaultPolicyVersion(ctx context.Context, account, arn, versionID string) error {
	op := fmt.Sprintf("set default version %s of policy %s of %s", versionID, arn, account)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		id, err := policyID(ctx, tx, account, arn, true)
		if err != nil {
			return err
		}
		n, ok := versionNumber(versionID)
		if !ok {
			return sql.ErrNoRows
		}
		res, err := tx.ExecContext(ctx, `UPDATE policies SET default_version = ?
			WHERE id = ? AND EXISTS (SELECT 1 FROM policy_versions WHERE policy_id = ? AND version = ?)`,
			n, id, id, n)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

// Attachments.

// AttachPolicy attaches the policy to the entity, once.
func (s *Store) AttachPolicy(ctx context.Context, e store.EntityRef, policyARN string) error {
	op := fmt.Sprintf("attach policy %s to %s %s %s", policyARN, e.Kind, e.Account, e.Name)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		eid, err := s.principalID(ctx, tx, e.Kind, e.Account, e.Name)
		if err != nil {
			return err
		}
		pid, err := policyID(ctx, tx, e.Account, policyARN, false)
		if err != nil {
			return err
		}
		n, err := count(ctx, tx, "SELECT count(*) FROM policy_attachments WHERE principal_id = ? AND policy_id = ?", eid, pid)
		if err != nil || n > 0 {
			return err // attached already
		}
		n, err = count(ctx, tx, "SELECT count(*) FROM policy_attachments WHERE principal_id = ?", eid)
		if err != nil {
			return err
		}
		if n >= store.MaxAttachedPolicies {
			return fmt.Errorf("%d policies attached: %w", n, store.ErrLimit)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO policy_attachments (principal_id, policy_id) VALUES (?, ?)", eid, pid)
		return err
	})
}

// DetachPolicy detaches the policy, or reports ErrNotFound.
func (s *Store) DetachPolicy(ctx context.Context, e store.EntityRef, policyARN string) error {
	op := fmt.Sprintf("detach policy %s from %s %s %s", policyARN, e.Kind, e.Account, e.Name)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		eid, err := s.principalID(ctx, tx, e.Kind, e.Account, e.Name)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM policy_attachments WHERE principal_id = ? AND policy_id =
			(SELECT id FROM policies WHERE arn = ?)`, eid, policyARN)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return fmt.Errorf("not attached: %w", err)
		}
		return nil
	})
}

// ListAttachedPolicies lists the entity's policies by ARN.
func (s *Store) ListAttachedPolicies(ctx context.Context, e store.EntityRef, pathPrefix, after string, limit int) ([]store.Policy, error) {
	op := fmt.Sprintf("list policies attached to %s %s %s", e.Kind, e.Account, e.Name)
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	var ps []store.Policy
	err := s.read(ctx, op, func(ctx context.Context, tx Tx) error {
		eid, err := s.principalID(ctx, tx, e.Kind, e.Account, e.Name)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, policySelect+`
			JOIN policy_attachments AS pa ON pa.policy_id = p.id
			WHERE pa.principal_id = ? AND p.arn > ? AND `+s.pathPrefix("p.path")+`
			ORDER BY p.arn LIMIT ?`,
			e.Account, e.Account, eid, after, pathPrefix, pathPrefix, limit)
		if err != nil {
			return err
		}
		ps, err = scanPolicies(rows)
		return err
	})
	return ps, err
}

// ListEntitiesForPolicy lists account's entities the policy is attached to,
// by ARN.
func (s *Store) ListEntitiesForPolicy(ctx context.Context, account, policyARN string, kind store.EntityKind, pathPrefix, after string, limit int) ([]store.Entity, error) {
	op := fmt.Sprintf("list entities of policy %s in %s", policyARN, account)
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	if kind != "" {
		if err := checkKind(kind); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
		}
	}
	var es []store.Entity
	err := s.read(ctx, op, func(ctx context.Context, tx Tx) error {
		pid, err := policyID(ctx, tx, account, policyARN, false)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT e.kind, e.account, e.name, e.path, e.id, e.arn
			FROM principals AS e JOIN policy_attachments AS a ON a.principal_id = e.id
			WHERE a.policy_id = ? AND e.account = ? AND (? = '' OR e.kind = ?)
				AND e.arn > ? AND `+s.pathPrefix("e.path")+`
			ORDER BY e.arn LIMIT ?`,
			pid, account, string(kind), string(kind), after, pathPrefix, pathPrefix, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		es = []store.Entity{}
		for rows.Next() {
			var (
				e store.Entity
				k string
			)
			if err := rows.Scan(&k, &e.Account, &e.Name, &e.Path, &e.ID, &e.ARN); err != nil {
				return err
			}
			e.Kind = store.EntityKind(k)
			es = append(es, e)
		}
		return rows.Err()
	})
	return es, err
}
