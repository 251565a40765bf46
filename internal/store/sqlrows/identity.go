package sqlrows

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// Users, groups and roles share one table, principals (see
// migrations/0002_identity.sql); this file maps the three kinds onto it.
// Policies are in policies.go, grants in grants.go.

// Accounts.

// CreateAccount stores a new account.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	op := "create account " + a.ID
	created, err := ToNanos(a.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %s: CreatedAt: %w", s.prefix, op, err)
	}
	_, err = s.w.ExecContext(ctx, "INSERT INTO accounts (id, created_at) VALUES (?, ?)", a.ID, created)
	return s.wrapErr(op, err)
}

// GetAccount returns the account or ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, id string) (store.Account, error) {
	var (
		a       store.Account
		created sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, "SELECT id, created_at FROM accounts WHERE id = ?", id).Scan(&a.ID, &created)
	if err != nil {
		return store.Account{}, s.wrapErr("get account "+id, err)
	}
	a.CreatedAt = FromNanos(created)
	return a, nil
}

// ListAccounts lists accounts by ID.
func (s *Store) ListAccounts(ctx context.Context, after string, limit int) ([]store.Account, error) {
	const op = "list accounts"
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, "SELECT id, created_at FROM accounts WHERE id > ? ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, s.wrapErr(op, err)
	}
	defer rows.Close()
	as := []store.Account{}
	for rows.Next() {
		var (
			a       store.Account
			created sql.NullInt64
		)
		if err := rows.Scan(&a.ID, &created); err != nil {
			return nil, s.wrapErr(op, err)
		}
		a.CreatedAt = FromNanos(created)
		as = append(as, a)
	}
	return as, s.wrapErr(op, rows.Err())
}

// AuthzGeneration returns the authorization generation, which the
// triggers of migration 0002 move.
func (s *Store) AuthzGeneration(ctx context.Context) (int64, error) {
	var g int64
	err := s.r.QueryRowContext(ctx, "SELECT value FROM authz_generation WHERE id = 1").Scan(&g)
	return g, s.wrapErr("read authz generation", err)
}

// principal is a row of principals with its tags: a user, group or role.
type principal struct {
	id, account, name, path, arn string
	kind                         store.EntityKind
	created                      time.Time
	boundary, assumeRolePolicy   string
	description                  string
	maxSession                   int
	revision                     int64
	tags                         []store.Tag
}

func fromUser(u store.User) principal {
	return principal{id: u.ID, account: u.Account, kind: store.KindUser, name: u.Name, path: u.Path,
		arn: u.ARN, created: u.CreatedAt, boundary: u.PermissionsBoundary, revision: u.Revision, tags: u.Tags}
}

func (p principal) user() store.User {
	return store.User{Account: p.account, Name: p.name, Path: p.path, ID: p.id, ARN: p.arn,
		PermissionsBoundary: p.boundary, Tags: p.tags, CreatedAt: p.created, Revision: p.revision}
}

func fromGroup(g store.Group) principal {
	return principal{id: g.ID, account: g.Account, kind: store.KindGroup, name: g.Name, path: g.Path,
		arn: g.ARN, created: g.CreatedAt, revision: g.Revision}
}

func (p principal) group() store.Group {
	return store.Group{Account: p.account, Name: p.name, Path: p.path, ID: p.id, ARN: p.arn,
		CreatedAt: p.created, Revision: p.revision}
}

func fromRole(r store.Role) principal {
	return principal{id: r.ID, account: r.Account, kind: store.KindRole, name: r.Name, path: r.Path,
		arn: r.ARN, created: r.CreatedAt, boundary: r.PermissionsBoundary,
		assumeRolePolicy: r.AssumeRolePolicy, description: r.Description,
		maxSession: r.MaxSessionDuration, revision: r.Revision, tags: r.Tags}
}

func (p principal) role() store.Role {
	return store.Role{Account: p.account, Name: p.name, Path: p.path, ID: p.id, ARN: p.arn,
		AssumeRolePolicy: p.assumeRolePolicy, Description: p.description,
		MaxSessionDuration: p.maxSession, PermissionsBoundary: p.boundary, Tags: p.tags,
		CreatedAt: p.created, Revision: p.revision}
}

// principalColumns are the columns scanPrincipals reads, from a table or
// subquery aliased p, followed there by a tag key and value (t).
const principalColumns = `p.id, p.account, p.kind, p.name, p.path, p.arn, p.created_at,
	p.permissions_boundary, p.assume_role_policy, p.description, p.max_session_duration,
	p.revision, t.tag_key, t.tag_value`

func checkKind(k store.EntityKind) error {
	switch k {
	case store.KindUser, store.KindGroup, store.KindRole:
		return nil
	}
	return fmt.Errorf("unknown entity kind %q", k)
}

// principalID returns the ID of the principal, or sql.ErrNoRows.
func (s *Store) principalID(ctx context.Context, q Tx, kind store.EntityKind, account, name string) (string, error) {
	if err := checkKind(kind); err != nil {
		return "", err
	}
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM principals WHERE "+s.byName, account, string(kind), name).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", kind, name, err)
	}
	return id, nil
}

// queryPrincipals runs inner, a SELECT of whole principals rows ordered
// and limited as the caller wants them, and returns those principals with
// their tags, in inner's order by name.
func queryPrincipals(ctx context.Context, q Tx, inner string, args ...any) ([]principal, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+principalColumns+`
		FROM (`+inner+`) AS p LEFT JOIN principal_tags AS t ON t.principal_id = p.id
		ORDER BY p.name, p.id, t.position`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ps := []principal{}
	for rows.Next() {
		var (
			p                principal
			kind             string
			created          sql.NullInt64
			tagKey, tagValue sql.NullString
		)
		if err := rows.Scan(&p.id, &p.account, &kind, &p.name, &p.path, &p.arn, &created,
			&p.boundary, &p.assumeRolePolicy, &p.description, &p.maxSession, &p.revision,
			&tagKey, &tagValue); err != nil {
			return nil, err
		}
		if len(ps) == 0 || ps[len(ps)-1].id != p.id {
			p.kind = store.EntityKind(kind)
			p.created = FromNanos(created)
			ps = append(ps, p)
		}
		if tagKey.Valid {
			last := &ps[len(ps)-1]
			last.tags = append(last.tags, store.Tag{Key: tagKey.String, Value: tagValue.String})
		}
	}
	return ps, rows.Err()
}

// principalByName returns the principal with its tags, or sql.ErrNoRows.
func (s *Store) principalByName(ctx context.Context, q Tx, kind store.EntityKind, account, name string) (principal, error) {
	if err := checkKind(kind); err != nil {
		return principal{}, err
	}
	ps, err := queryPrincipals(ctx, q, "SELECT * FROM principals WHERE "+s.byName, account, string(kind), name)
	if err != nil {
		return principal{}, err
	}
	if len(ps) == 0 {
		return principal{}, sql.ErrNoRows
	}
	return ps[0], nil
}

func insertPrincipalTags(ctx context.Context, tx Tx, id string, tags []store.Tag) error {
	for i, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO principal_tags (principal_id, position, tag_key, tag_value)
			VALUES (?, ?, ?, ?)`, id, i, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// createPrincipal stores p with revision 1 and its tags.
func (s *Store) createPrincipal(ctx context.Context, p principal) error {
	op := fmt.Sprintf("create %s %s %s", p.kind, p.account, p.name)
	if err := checkTags(p.tags); err != nil {
		return fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	created, err := ToNanos(p.created)
	if err != nil {
		return fmt.Errorf("%s: %s: CreatedAt: %w", s.prefix, op, err)
	}
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO principals (id, account, kind, name, path, arn,
			created_at, permissions_boundary, assume_role_policy, description, max_session_duration,
			revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
			p.id, p.account, string(p.kind), p.name, p.path, p.arn, created, p.boundary,
			p.assumeRolePolicy, p.description, p.maxSession); err != nil {
			return err
		}
		return insertPrincipalTags(ctx, tx, p.id, p.tags)
	})
}

// updatePrincipal is the compare-and-swap of UpdateUser, UpdateGroup and
// UpdateRole: it rewrites the mutable columns and the tags of the
// principal p.id of p.account and p.kind if its revision is p.revision,
// and returns the principal as stored.
func (s *Store) updatePrincipal(ctx context.Context, p principal) (principal, error) {
	op := fmt.Sprintf("update %s %s %s", p.kind, p.account, p.id)
	if err := checkTags(p.tags); err != nil {
		return principal{}, fmt.Errorf("%s: %s: %w", s.prefix, op, err)
	}
	var out principal
	err := s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE principals SET name = ?, path = ?, arn = ?,
			permissions_boundary = ?, assume_role_policy = ?, description = ?,
			max_session_duration = ?, revision = revision + 1
			WHERE id = ? AND account = ? AND kind = ? AND revision = ?`,
			p.name, p.path, p.arn, p.boundary, p.assumeRolePolicy, p.description, p.maxSession,
			p.id, p.account, string(p.kind), p.revision)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			n, err := count(ctx, tx, "SELECT count(*) FROM principals WHERE id = ? AND account = ? AND kind = ?",
				p.id, p.account, string(p.kind))
			switch {
			case err != nil:
				return err
			case n == 0:
				return sql.ErrNoRows
			}
			return fmt.Errorf("revision %d: %w", p.revision, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM principal_tags WHERE principal_id = ?", p.id); err != nil {
			return err
		}
		if err := insertPrincipalTags(ctx, tx, p.id, p.tags); err != nil {
			return err
		}
		if p.kind == store.KindUser {
			// The user's access keys name it by ARN.
			if _, err := tx.ExecContext(ctx, `UPDATE access_keys SET principal_arn = ?
				WHERE user_id = ? AND principal_arn <> ?`, p.arn, p.id, p.arn); err != nil {
				return err
			}
		}
		ps, err := queryPrincipals(ctx, tx, "SELECT * FROM principals WHERE id = ?", p.id)
		if err != nil {
			return err
		}
		if len(ps) != 1 {
			return fmt.Errorf("%s %s vanished during its update", p.kind, p.id)
		}
		out = ps[0]
		return nil
	})
	return out, err
}

// dependents lists, for each kind of principal, the rows that keep it from
// being deleted: what IAM calls DeleteConflict.
var dependents = map[store.EntityKind][]struct{ what, query string }{
	store.KindUser: {
		{"access keys", "SELECT count(*) FROM access_keys WHERE user_id = ?"},
		{"inline policies", "SELECT count(*) FROM inline_policies WHERE principal_id = ?"},
		{"attached policies", "SELECT count(*) FROM policy_attachments WHERE principal_id = ?"},
		{"groups", "SELECT count(*) FROM group_members WHERE user_id = ?"},
	},
	store.KindGroup: {
		{"members", "SELECT count(*) FROM group_members WHERE group_id = ?"},
		{"inline policies", "SELECT count(*) FROM inline_policies WHERE principal_id = ?"},
		{"attached policies", "SELECT count(*) FROM policy_attachments WHERE principal_id = ?"},
	},
	store.KindRole: {
		{"inline policies", "SELECT count(*) FROM inline_policies WHERE principal_id = ?"},
		{"attached policies", "SELECT count(*) FROM policy_attachments WHERE principal_id = ?"},
	},
}

// deletePrincipal removes the principal and its tags, or reports
// ErrDeleteConflict while rows depend on it.
func (s *Store) deletePrincipal(ctx context.Context, kind store.EntityKind, account, name string) error {
	op := fmt.Sprintf("delete %s %s %s", kind, account, name)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		id, err := s.principalID(ctx, tx, kind, account, name)
		if err != nil {
			return err
		}
		for _, d := range dependents[kind] {
			n, err := count(ctx, tx, d.query, id)
			if err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%s has %d %s: %w", kind, n, d.what, store.ErrDeleteConflict)
			}
		}
		// The foreign key cascades too; deleting explicitly keeps the
		// contract independent of SQLite's foreign_keys pragma.
		if _, err := tx.ExecContext(ctx, "DELETE FROM principal_tags WHERE principal_id = ?", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM principals WHERE id = ?", id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
}

// listPrincipals lists the account's principals of a kind under pathPrefix
// after `after`, by name.
func (s *Store) listPrincipals(ctx context.Context, kind store.EntityKind, account, pathPrefix, after string, limit int) ([]principal, error) {
	op := fmt.Sprintf("list %ss %s", kind, account)
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	ps, err := queryPrincipals(ctx, s.r, `SELECT * FROM principals
		WHERE account = ? AND kind = ? AND name > ? AND `+s.pathPrefix("path")+`
		ORDER BY name LIMIT ?`, account, string(kind), after, pathPrefix, pathPrefix, limit)
	return ps, s.wrapErr(op, err)
}

func (s *Store) getPrincipal(ctx context.Context, kind store.EntityKind, account, name string) (principal, error) {
	p, err := s.principalByName(ctx, s.r, kind, account, name)
	return p, s.wrapErr(fmt.Sprintf("get %s %s %s", kind, account, name), err)
}

// Users.

// CreateUser stores u with revision 1.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.createPrincipal(ctx, fromUser(u))
}

// GetUser returns the user, found by name in any case, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, account, name string) (store.User, error) {
	p, err := s.getPrincipal(ctx, store.KindUser, account, name)
	return p.user(), err
}

// UpdateUser replaces the user's mutable fields if its revision is
// u.Revision.
func (s *Store) UpdateUser(ctx context.Context, u store.User) (store.User, error) {
	p, err := s.updatePrincipal(ctx, fromUser(u))
	if err != nil {
		return store.User{}, err
	}
	return p.user(), nil
}

// DeleteUser removes a user that nothing depends on.
func (s *Store) DeleteUser(ctx context.Context, account, name string) error {
	return s.deletePrincipal(ctx, store.KindUser, account, name)
}

// ListUsers lists the account's users by name.
func (s *Store) ListUsers(ctx context.Context, account, pathPrefix, after string, limit int) ([]store.User, error) {
	ps, err := s.listPrincipals(ctx, store.KindUser, account, pathPrefix, after, limit)
	return mapPrincipals(ps, principal.user), err
}

// Groups.

// CreateGroup stores g with revision 1.
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	return s.createPrincipal(ctx, fromGroup(g))
}

// GetGroup returns the group, found by name in any case, or ErrNotFound.
func (s *Store) GetGroup(ctx context.Context, account, name string) (store.Group, error) {
	p, err := s.getPrincipal(ctx, store.KindGroup, account, name)
	return p.group(), err
}

// UpdateGroup renames or moves the group if its revision is g.Revision.
func (s *Store) UpdateGroup(ctx context.Context, g store.Group) (store.Group, error) {
	p, err := s.updatePrincipal(ctx, fromGroup(g))
	if err != nil {
		return store.Group{}, err
	}
	return p.group(), nil
}

// DeleteGroup removes a group that nothing depends on.
func (s *Store) DeleteGroup(ctx context.Context, account, name string) error {
	return s.deletePrincipal(ctx, store.KindGroup, account, name)
}

// ListGroups lists the account's groups by name.
func (s *Store) ListGroups(ctx context.Context, account, pathPrefix, after string, limit int) ([]store.Group, error) {
	ps, err := s.listPrincipals(ctx, store.KindGroup, account, pathPrefix, after, limit)
	return mapPrincipals(ps, principal.group), err
}

// Roles.

// CreateRole stores r with revision 1.
func (s *Store) CreateRole(ctx context.Context, r store.Role) error {
	return s.createPrincipal(ctx, fromRole(r))
}

// GetRole returns the role, found by name in any case, or ErrNotFound.
func (s *Store) GetRole(ctx context.Context, account, name string) (store.Role, error) {
	p, err := s.getPrincipal(ctx, store.KindRole, account, name)
	return p.role(), err
}

// UpdateRole replaces the role's mutable fields if its revision is
// r.Revision.
func (s *Store) UpdateRole(ctx context.Context, r store.Role) (store.Role, error) {
	p, err := s.updatePrincipal(ctx, fromRole(r))
	if err != nil {
		return store.Role{}, err
	}
	return p.role(), nil
}

// DeleteRole removes a role that nothing depends on.
func (s *Store) DeleteRole(ctx context.Context, account, name string) error {
	return s.deletePrincipal(ctx, store.KindRole, account, name)
}

// ListRoles lists the account's roles by name.
func (s *Store) ListRoles(ctx context.Context, account, pathPrefix, after string, limit int) ([]store.Role, error) {
	ps, err := s.listPrincipals(ctx, store.KindRole, account, pathPrefix, after, limit)
	return mapPrincipals(ps, principal.role), err
}

// mapPrincipals converts ps with f; nil for nil (an error).
func mapPrincipals[T any](ps []principal, f func(principal) T) []T {
	if ps == nil {
		return nil
	}
	out := make([]T, 0, len(ps))
	for _, p := range ps {
		out = append(out, f(p))
	}
	return out
}

// Group membership.

// AddUserToGroup makes the user a member of the group.
func (s *Store) AddUserToGroup(ctx context.Context, account, group, user string) error {
	op := fmt.Sprintf("add user %s to group %s in %s", user, group, account)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		gid, err := s.principalID(ctx, tx, store.KindGroup, account, group)
		if err != nil {
			return err
		}
		uid, err := s.principalID(ctx, tx, store.KindUser, account, user)
		if err != nil {
			return err
		}
		n, err := count(ctx, tx, "SELECT count(*) FROM group_members WHERE user_id = ? AND group_id = ?", uid, gid)
		if err != nil || n > 0 {
			return err // a member already
		}
		n, err = count(ctx, tx, "SELECT count(*) FROM group_members WHERE user_id = ?", uid)
		if err != nil {
			return err
		}
		if n >= store.MaxGroupsPerUser {
			return fmt.Errorf("user is in %d groups: %w", n, store.ErrLimit)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO group_members (group_id, user_id) VALUES (?, ?)", gid, uid)
		return err
	})
}

// RemoveUserFromGroup ends a membership, or reports ErrNotFound.
func (s *Store) RemoveUserFromGroup(ctx context.Context, account, group, user string) error {
	op := fmt.Sprintf("remove user %s from group %s in %s", user, group, account)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		gid, err := s.principalID(ctx, tx, store.KindGroup, account, group)
		if err != nil {
			return err
		}
		uid, err := s.principalID(ctx, tx, store.KindUser, account, user)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", gid, uid)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return fmt.Errorf("not a member: %w", err)
		}
		return nil
	})
}

// ListGroupsForUser lists the user's groups by name.
func (s *Store) ListGroupsForUser(ctx context.Context, account, user, after string, limit int) ([]store.Group, error) {
	op := fmt.Sprintf("list groups of user %s %s", account, user)
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	var ps []principal
	err := s.read(ctx, op, func(ctx context.Context, tx Tx) error {
		uid, err := s.principalID(ctx, tx, store.KindUser, account, user)
		if err != nil {
			return err
		}
		ps, err = queryPrincipals(ctx, tx, `SELECT g.* FROM principals AS g
			JOIN group_members AS m ON m.group_id = g.id
			WHERE m.user_id = ? AND g.name > ?
			ORDER BY g.name LIMIT ?`, uid, after, limit)
		return err
	})
	return mapPrincipals(ps, principal.group), err
}

// ListUsersInGroup lists the group's members by name.
func (s *Store) ListUsersInGroup(ctx context.Context, account, group, after string, limit int) ([]store.User, error) {
	op := fmt.Sprintf("list users in group %s %s", account, group)
	if err := s.checkLimit(op, limit); err != nil {
		return nil, err
	}
	var ps []principal
	err := s.read(ctx, op, func(ctx context.Context, tx Tx) error {
		gid, err := s.principalID(ctx, tx, store.KindGroup, account, group)
		if err != nil {
			return err
		}
		ps, err = queryPrincipals(ctx, tx, `SELECT u.* FROM principals AS u
			JOIN group_members AS m ON m.user_id = u.id
			WHERE m.group_id = ? AND u.name > ?
			ORDER BY u.name LIMIT ?`, gid, after, limit)
		return err
	})
	return mapPrincipals(ps, principal.user), err
}

// Access keys of users. The queries shared with the account root's keys
// are in settings.go.

// createUserAccessKey stores k, a key of the user k.UserName, counting the
// user's keys in the same transaction.
func (s *Store) createUserAccessKey(ctx context.Context, k store.AccessKey, created sql.NullInt64) error {
	op := fmt.Sprintf("create access key %s of user %s %s", k.ID, k.Account, k.UserName)
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		uid, err := s.principalID(ctx, tx, store.KindUser, k.Account, k.UserName)
		if err != nil {
			return err
		}
		n, err := count(ctx, tx, "SELECT count(*) FROM access_keys WHERE user_id = ?", uid)
		if err != nil {
			return err
		}
		if n >= store.MaxAccessKeysPerUser {
			return fmt.Errorf("user has %d access keys: %w", n, store.ErrLimit)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO access_keys (id, account, principal_arn,
			wrapped_secret, created_at, active, user_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Account, k.PrincipalARN, blob(k.WrappedSecret), created, boolInt(k.Active), uid)
		return err
	})
}

// ListAccessKeysForUser lists the user's (or, for "", the account root's)
// access keys by ID.
func (s *Store) ListAccessKeysForUser(ctx context.Context, account, user string) ([]store.AccessKey, error) {
	op := fmt.Sprintf("list access keys of %s %q", account, user)
	var ks []store.AccessKey
	err := s.read(ctx, op, func(ctx context.Context, tx Tx) error {
		var (
			rows *sql.Rows
			err  error
		)
		if user == "" {
			rows, err = tx.QueryContext(ctx, accessKeySelect+`
				WHERE ak.account = ? AND ak.user_id IS NULL ORDER BY ak.id`, account)
		} else {
			var uid string
			if uid, err = s.principalID(ctx, tx, store.KindUser, account, user); err != nil {
				return err
			}
			rows, err = tx.QueryContext(ctx, accessKeySelect+`
				WHERE ak.user_id = ? ORDER BY ak.id`, uid)
		}
		if err != nil {
			return err
		}
		ks, err = scanAccessKeys(rows)
		return err
	})
	return ks, err
}

// SetAccessKeyActive sets the key's status.
func (s *Store) SetAccessKeyActive(ctx context.Context, id string, active bool) error {
	op := "set access key active " + id
	res, err := s.w.ExecContext(ctx, "UPDATE access_keys SET active = ? WHERE id = ?", boolInt(active), id)
	if err != nil {
		return s.wrapErr(op, err)
	}
	return s.wrapErr(op, oneRow(res))
}

// DeleteAccessKey removes the key.
func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	op := "delete access key " + id
	res, err := s.w.ExecContext(ctx, "DELETE FROM access_keys WHERE id = ?", id)
	if err != nil {
		return s.wrapErr(op, err)
	}
	return s.wrapErr(op, oneRow(res))
}

// UpdateAccessKeyLastUsed records uses, keeping each key's latest.
func (s *Store) UpdateAccessKeyLastUsed(ctx context.Context, uses []store.AccessKeyUse) error {
	op := fmt.Sprintf("record %d access key uses", len(uses))
	if len(uses) == 0 {
		return nil
	}
	ats := make([]sql.NullInt64, len(uses))
	for i, u := range uses {
		at, err := ToNanos(u.At)
		if err != nil {
			return fmt.Errorf("%s: %s: %s: %w", s.prefix, op, u.ID, err)
		}
		if !at.Valid {
			return fmt.Errorf("%s: %s: %s: %w", s.prefix, op, u.ID, errors.New("zero time"))
		}
		ats[i] = at
	}
	return s.write(ctx, op, func(ctx context.Context, tx Tx) error {
		for i, u := range uses {
			if _, err := tx.ExecContext(ctx, `UPDATE access_keys
				SET last_used_at = ?, last_used_service = ?, last_used_region = ?
				WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
				ats[i], u.Service, u.Region, u.ID, ats[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
