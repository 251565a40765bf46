package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// The conformance tests of identity.go: accounts, users, groups, roles,
// membership, inline and managed policies, attachments, users' access
// keys, grants and the authorization generation. Beyond store's comments
// they pin down:
//
//   - a user, group, role or policy name is found in any ASCII case and
//     reads back in the case it was stored with; renaming an entity to its
//     own name in another case is not a conflict with itself;
//   - a user, a group and a role may share a name; so may two accounts;
//   - path prefixes compare exactly (case and all);
//   - limits count only what exists: an idempotent repeat at the limit
//     succeeds, and the limit holds under concurrent writers;
//   - failed writes and reads leave the authorization generation alone.
var identityTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"Accounts", testAccounts},
	{"EntityNames", testEntityNames},
	{"EntityUpdate", testEntityUpdate},
	{"ListEntities", testListEntities},
	{"UserFields", testUserFields},
	{"RoleFields", testRoleFields},
	{"DeleteConflicts", testDeleteConflicts},
	{"GroupMembership", testGroupMembership},
	{"InlinePolicies", testInlinePolicies},
	{"ManagedPolicies", testManagedPolicies},
	{"ListPolicies", testListPolicies},
	{"PolicyVersions", testPolicyVersions},
	{"PolicyAttachments", testPolicyAttachments},
	{"UserAccessKeys", testUserAccessKeys},
	{"AccessKeyLastUsed", testAccessKeyLastUsed},
	{"Grants", testGrants},
	{"GrantIdempotency", testGrantIdempotency},
	{"GrantCap", testGrantCap},
	{"GrantsDeletedWithKey", testGrantsDeletedWithKey},
	{"AuthzGeneration", testAuthzGeneration},
	{"ConcurrentLimits", testConcurrentLimits},
}

// idSeq numbers the IAM IDs the tests make, so every one is new.
var idSeq atomic.Int64

// newID returns a fresh IAM-style ID: prefix and 16 digits.
func newID(prefix string) string { return fmt.Sprintf("%s%016d", prefix, idSeq.Add(1)) }

func iamARN(acct string, kind store.EntityKind, path, name string) string {
	return "arn:aws:iam::" + acct + ":" + string(kind) + path + name
}

func policyARN(acct, path, name string) string {
	return "arn:aws:iam::" + acct + ":policy" + path + name
}

func doc(action string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:` + action + `","Resource":"*"}]}`
}

// accounts creates the accounts the identity tests use.
func accounts(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		wantErr(t, "CreateAccount("+id+")", s.CreateAccount(t.Context(), store.Account{ID: id, CreatedAt: base}), nil)
	}
}

func newUser(acct, name string) store.User {
	return store.User{Account: acct, Name: name, Path: "/", ID: newID("AIDA"),
		ARN: iamARN(acct, store.KindUser, "/", name), CreatedAt: base}
}

func newGroup(acct, name string) store.Group {
	return store.Group{Account: acct, Name: name, Path: "/", ID: newID("AGPA"),
		ARN: iamARN(acct, store.KindGroup, "/", name), CreatedAt: base}
}

func newRole(acct, name string) store.Role {
	return store.Role{Account: acct, Name: name, Path: "/", ID: newID("AROA"),
		ARN: iamARN(acct, store.KindRole, "/", name), AssumeRolePolicy: doc("AssumeRole"),
		MaxSessionDuration: 3600, CreatedAt: base}
}

func newPolicy(acct, path, name string) store.Policy {
	return store.Policy{Account: acct, Name: name, Path: path, ID: newID("ANPA"),
		ARN: policyARN(acct, path, name), Description: "policy " + name, CreatedAt: base}
}

func mustUser(t *testing.T, s store.Store, acct, name string) store.User {
	t.Helper()
	u := newUser(acct, name)
	wantErr(t, "CreateUser("+name+")", s.CreateUser(t.Context(), u), nil)
	u.Revision = 1
	return u
}

func mustGroup(t *testing.T, s store.Store, acct, name string) store.Group {
	t.Helper()
	g := newGroup(acct, name)
	wantErr(t, "CreateGroup("+name+")", s.CreateGroup(t.Context(), g), nil)
	g.Revision = 1
	return g
}

func mustRole(t *testing.T, s store.Store, acct, name string) store.Role {
	t.Helper()
	r := newRole(acct, name)
	wantErr(t, "CreateRole("+name+")", s.CreateRole(t.Context(), r), nil)
	r.Revision = 1
	return r
}

// mustPolicy creates p with document doc(p.Name) and returns it as
// GetPolicy should return it to its owner.
func mustPolicy(t *testing.T, s store.Store, p store.Policy) store.Policy {
	t.Helper()
	wantErr(t, "CreatePolicy("+p.ARN+")", s.CreatePolicy(t.Context(), p, doc(p.Name)), nil)
	p.DefaultVersion = "v1"
	p.UpdatedAt = p.CreatedAt
	p.AttachmentCount = 0
	return p
}

// mustEntity creates an entity of the kind and returns its ref.
func mustEntity(t *testing.T, s store.Store, kind store.EntityKind, acct, name string) store.EntityRef {
	t.Helper()
	switch kind {
	case store.KindUser:
		mustUser(t, s, acct, name)
	case store.KindGroup:
		mustGroup(t, s, acct, name)
	case store.KindRole:
		mustRole(t, s, acct, name)
	}
	return store.EntityRef{Kind: kind, Account: acct, Name: name}
}

var allKinds = []store.EntityKind{store.KindUser, store.KindGroup, store.KindRole}

func normUser(u store.User) store.User {
	u.CreatedAt = normTime(u.CreatedAt)
	if len(u.Tags) == 0 {
		u.Tags = nil
	}
	return u
}

func normGroup(g store.Group) store.Group {
	g.CreatedAt = normTime(g.CreatedAt)
	return g
}

func normRole(r store.Role) store.Role {
	r.CreatedAt = normTime(r.CreatedAt)
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	return r
}

func normPolicy(p store.Policy) store.Policy {
	p.CreatedAt = normTime(p.CreatedAt)
	p.UpdatedAt = normTime(p.UpdatedAt)
	return p
}

func normPolicyVersion(v store.PolicyVersion) store.PolicyVersion {
	v.CreatedAt = normTime(v.CreatedAt)
	return v
}

func normGrant(g store.Grant) store.Grant {
	g.CreatedAt = normTime(g.CreatedAt)
	if len(g.Operations) == 0 {
		g.Operations = nil
	}
	return g
}

func normUserAccessKey(k store.AccessKey) store.AccessKey {
	k = normAccessKey(k)
	k.LastUsedAt = normTime(k.LastUsedAt)
	return k
}

// normAll applies norm to every element.
func normAll[T any](norm func(T) T) func([]T) []T {
	return func(xs []T) []T {
		var out []T
		for _, x := range xs {
			out = append(out, norm(x))
		}
		return out
	}
}

// entity is what the kind-generic tests see of a user, group or role.
type entity struct {
	Account, Name, Path, ID, ARN string
	Revision                     int64
}

// kindOps reaches one kind of entity through the store's methods for it.
type kindOps struct {
	kind   store.EntityKind
	prefix string // of IDs
	create func(t *testing.T, s store.Store, e entity) error
	get    func(t *testing.T, s store.Store, acct, name string) (entity, error)
	update func(t *testing.T, s store.Store, e entity) (entity, error)
	del    func(t *testing.T, s store.Store, acct, name string) error
	list   func(t *testing.T, s store.Store, acct, prefix, after string, limit int) ([]entity, error)
}

func userEntity(u store.User) entity {
	return entity{u.Account, u.Name, u.Path, u.ID, u.ARN, u.Revision}
}

func groupEntity(g store.Group) entity {
	return entity{g.Account, g.Name, g.Path, g.ID, g.ARN, g.Revision}
}

func roleEntity(r store.Role) entity {
	return entity{r.Account, r.Name, r.Path, r.ID, r.ARN, r.Revision}
}

func mapSlice[T, U any](xs []T, f func(T) U) []U {
	var out []U
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

var kindCases = []kindOps{
	{
		kind: store.KindUser, prefix: "AIDA",
		create: func(t *testing.T, s store.Store, e entity) error {
			return s.CreateUser(t.Context(), store.User{Account: e.Account, Name: e.Name, Path: e.Path, ID: e.ID, ARN: e.ARN, CreatedAt: base})
		},
		get: func(t *testing.T, s store.Store, acct, name string) (entity, error) {
			u, err := s.GetUser(t.Context(), acct, name)
			return userEntity(u), err
		},
		update: func(t *testing.T, s store.Store, e entity) (entity, error) {
			u, err := s.UpdateUser(t.Context(), store.User{Account: e.Account, Name: e.Name, Path: e.Path, ID: e.ID, ARN: e.ARN, Revision: e.Revision})
			return userEntity(u), err
		},
		del: func(t *testing.T, s store.Store, acct, name string) error {
			return s.DeleteUser(t.Context(), acct, name)
		},
		list: func(t *testing.T, s store.Store, acct, prefix, after string, limit int) ([]entity, error) {
			us, err := s.ListUsers(t.Context(), acct, prefix, after, limit)
			return mapSlice(us, userEntity), err
		},
	},
	{
		kind: store.KindGroup, prefix: "AGPA",
		create: func(t *testing.T, s store.Store, e entity) error {
			return s.CreateGroup(t.Context(), store.Group{Account: e.Account, Name: e.Name, Path: e.Path, ID: e.ID, ARN: e.ARN, CreatedAt: base})
		},
		get: func(t *testing.T, s store.Store, acct, name string) (entity, error) {
			g, err := s.GetGroup(t.Context(), acct, name)
			return groupEntity(g), err
		},
		update: func(t *testing.T, s store.Store, e entity) (entity, error) {
			g, err := s.UpdateGroup(t.Context(), store.Group{Account: e.Account, Name: e.Name, Path: e.Path, ID: e.ID, ARN: e.ARN, Revision: e.Revision})
			return groupEntity(g), err
		},
		del: func(t *testing.T, s store.Store, acct, name string) error {
			return s.DeleteGroup(t.Context(), acct, name)
		},
		list: func(t *testing.T, s store.Store, acct, prefix, after string, limit int) ([]entity, error) {
			gs, err := s.ListGroups(t.Context(), acct, prefix, after, limit)
			return mapSlice(gs, groupEntity), err
		},
	},
	{
		kind: store.KindRole, prefix: "AROA",
		create: func(t *testing.T, s store.Store, e entity) error {
			return s.CreateRole(t.Context(), store.Role{Account: e.Account, Name: e.Name, Path: e.Path, ID: e.ID, ARN: e.ARN, CreatedAt: base})
		},
		get: func(t *testing.T, s store.Store, acct, name string) (entity, error) {
			r, err := s.GetRole(t.Context(), acct, name)
			return roleEntity(r), err
		},
		update: func(t *testing.T, s store.Store, e entity) (entity, error) {
			r, err := s.UpdateRole(t.Context(), store.Role{Account: e.Account, Name: e.Name, Path: e.Path, ID: e.ID, ARN: e.ARN, Revision: e.Revision})
			return roleEntity(r), err
		},
		del: func(t *testing.T, s store.Store, acct, name string) error {
			return s.DeleteRole(t.Context(), acct, name)
		},
		list: func(t *testing.T, s store.Store, acct, prefix, after string, limit int) ([]entity, error) {
			rs, err := s.ListRoles(t.Context(), acct, prefix, after, limit)
			return mapSlice(rs, roleEntity), err
		},
	},
}

// newEntity returns an entity of the kind at path, not yet stored.
func (k kindOps) newEntity(acct, path, name string) entity {
	return entity{Account: acct, Name: name, Path: path, ID: newID(k.prefix), ARN: iamARN(acct, k.kind, path, name)}
}

func (k kindOps) mustCreate(t *testing.T, s store.Store, acct, path, name string) entity {
	t.Helper()
	e := k.newEntity(acct, path, name)
	wantErr(t, fmt.Sprintf("create %s %s", k.kind, name), k.create(t, s, e), nil)
	e.Revision = 1
	return e
}

func (k kindOps) mustGet(t *testing.T, s store.Store, acct, name string) entity {
	t.Helper()
	e, err := k.get(t, s, acct, name)
	wantErr(t, fmt.Sprintf("get %s %s", k.kind, name), err, nil)
	return e
}

func names[T any](xs []T, name func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, name(x))
	}
	return out
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetAccount(ctx, account)
	wantErr(t, "GetAccount(absent)", err, store.ErrNotFound)
	as, err := s.ListAccounts(ctx, "", 10)
	wantErr(t, "ListAccounts(empty)", err, nil)
	if as == nil || len(as) != 0 {
		t.Fatalf("ListAccounts of an empty store = %#v, want an empty slice", as)
	}

	ids := []string{"999999999999", account, "000000000001", account2}
	for i, id := range ids {
		a := store.Account{ID: id, CreatedAt: base.Add(time.Duration(i) * time.Nanosecond)}
		wantErr(t, "CreateAccount", s.CreateAccount(ctx, a), nil)
		got, err := s.GetAccount(ctx, id)
		wantErr(t, "GetAccount", err, nil)
		same(t, "GetAccount", got, a, func(a store.Account) store.Account { a.CreatedAt = normTime(a.CreatedAt); return a })
	}
	wantErr(t, "CreateAccount(existing)", s.CreateAccount(ctx, store.Account{ID: account, CreatedAt: base.Add(time.Hour)}), store.ErrExists)
	if got, _ := s.GetAccount(ctx, account); !got.CreatedAt.Equal(base.Add(time.Nanosecond)) {
		t.Errorf("a failed CreateAccount changed CreatedAt to %v", got.CreatedAt)
	}

	for _, bad := range []string{"", "aws", "12345678901", "1234567890123", "12345678901a", " 11122223333", "١١١١٢٢٢٢٣٣٣٣"} {
		err := s.CreateAccount(ctx, store.Account{ID: bad})
		if err == nil || errors.Is(err, store.ErrExists) {
			t.Errorf("CreateAccount(%q) = %v, want an error other than ErrExists", bad, err)
		}
		if _, err := s.GetAccount(ctx, bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount(%q) after a refused create: %v", bad, err)
		}
	}

	tests := []struct {
		name  string
		after string
		limit int
		want  []string
	}{
		{"all", "", 10, []string{"000000000001", account, account2, "999999999999"}},
		{"first page", "", 2, []string{"000000000001", account}},
		{"second page", account, 2, []string{account2, "999999999999"}},
		{"after absent id", "2", 10, []string{account2, "999999999999"}},
		{"after last", "999999999999", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAccounts(ctx, tt.after, tt.limit)
			wantErr(t, "ListAccounts", err, nil)
			if g := names(got, func(a store.Account) string { return a.ID }); !slices.Equal(g, tt.want) {
				t.Errorf("ListAccounts(%q, %d) = %v, want %v", tt.after, tt.limit, g, tt.want)
			}
		})
	}
}

// testEntityNames checks, for each kind, that names are unique and found
// without regard to case, per account and kind.
func testEntityNames(t *testing.T, s store.Store) {
	accounts(t, s, account, account2)
	// The kinds run in turn in one store: each creates the names the one
	// before it did, which must not conflict across kinds.
	for _, k := range kindCases {
		t.Run(string(k.kind), func(t *testing.T) {
			alice := k.mustCreate(t, s, account, "/", "Alice")
			for _, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
				same(t, "get "+name, k.mustGet(t, s, account, name), alice, func(e entity) entity { return e })
			}
			for _, name := range []string{"Alicia", "Alice ", "", "Al%", "Al_ce"} {
				_, err := k.get(t, s, account, name)
				wantErr(t, fmt.Sprintf("get %q", name), err, store.ErrNotFound)
			}
			_, err := k.get(t, s, account2, "Alice")
			wantErr(t, "get in another account", err, store.ErrNotFound)

			conflicts := []struct {
				name string
				e    entity
			}{
				{"same name", k.newEntity(account, "/", "Alice")},
				{"lower case", k.newEntity(account, "/x/", "alice")},
				{"upper case", k.newEntity(account, "/", "ALICE")},
				{"same ID", entity{Account: account, Name: "Other", Path: "/", ID: alice.ID, ARN: iamARN(account, k.kind, "/", "Other")}},
				{"same ARN", entity{Account: account, Name: "Other", Path: "/", ID: newID(k.prefix), ARN: alice.ARN}},
			}
			for _, c := range conflicts {
				wantErr(t, "create with "+c.name, k.create(t, s, c.e), store.ErrExists)
			}
			_, err = k.get(t, s, account, "Other")
			wantErr(t, "get after failed creates", err, store.ErrNotFound)
			same(t, "entity after failed creates", k.mustGet(t, s, account, "alice"), alice, func(e entity) entity { return e })

			// The same name in another account is another entity.
			other := k.mustCreate(t, s, account2, "/", "ALICE")
			if got := k.mustGet(t, s, account2, "alice"); got.ID != other.ID || got.Name != "ALICE" {
				t.Errorf("get in account2 = %+v, want %+v", got, other)
			}
			wantErr(t, "create in an absent account", k.create(t, s, k.newEntity("999999999999", "/", "Bob")), store.ErrNotFound)
		})
	}
}

// testEntityUpdate checks renames and the revision check for each kind.
func testEntityUpdate(t *testing.T, s store.Store) {
	accounts(t, s, account, account2)
	for _, k := range kindCases {
		t.Run(string(k.kind), func(t *testing.T) {
			bob := k.mustCreate(t, s, account, "/", "Bob")
			carol := k.mustCreate(t, s, account, "/", "Carol")

			u := bob
			u.Name, u.Path, u.ARN = "Robert", "/eng/", iamARN(account, k.kind, "/eng/", "Robert")
			got, err := k.update(t, s, u)
			wantErr(t, "rename", err, nil)
			u.Revision = 2
			same(t, "rename result", got, u, func(e entity) entity { return e })
			same(t, "get after rename", k.mustGet(t, s, account, "ROBERT"), u, func(e entity) entity { return e })
			_, err = k.get(t, s, account, "Bob")
			wantErr(t, "get old name", err, store.ErrNotFound)

			// Its own name in another case is no conflict.
			u.Name, u.ARN = "robert", iamARN(account, k.kind, "/eng/", "robert")
			got, err = k.update(t, s, u)
			wantErr(t, "rename to another case", err, nil)
			if got.Name != "robert" || got.Revision != 3 {
				t.Errorf("after renaming to another case: %+v", got)
			}
			current := got

			// The old name is free again.
			k.mustCreate(t, s, account, "/", "bob")

			tests := []struct {
				name string
				edit func(e *entity)
				want error
			}{
				{"stale revision", func(e *entity) { e.Revision = 2 }, store.ErrConflict},
				{"future revision", func(e *entity) { e.Revision = 9 }, store.ErrConflict},
				{"absent ID", func(e *entity) { e.ID = newID(k.prefix) }, store.ErrNotFound},
				{"other account", func(e *entity) { e.Account = account2 }, store.ErrNotFound},
				{"name taken", func(e *entity) { e.Name = "Carol" }, store.ErrExists},
				{"name taken in other case", func(e *entity) { e.Name = "cAROL" }, store.ErrExists},
				{"ARN taken", func(e *entity) { e.ARN = carol.ARN }, store.ErrExists},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					e := current
					e.Path = "/must/not/"
					tt.edit(&e)
					_, err := k.update(t, s, e)
					wantErr(t, "update", err, tt.want)
					same(t, "entity after failed update", k.mustGet(t, s, account, "robert"), current, func(e entity) entity { return e })
					same(t, "other entity after failed update", k.mustGet(t, s, account, "carol"), carol, func(e entity) entity { return e })
				})
			}
			// Another kind's entity of that ID is not this kind's.
			for _, other := range kindCases {
				if other.kind == k.kind {
					continue
				}
				e := current
				_, err := other.update(t, s, e)
				wantErr(t, fmt.Sprintf("update as a %s", other.kind), err, store.ErrNotFound)
			}
		})
	}
}

func testListEntities(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account, account2)
	// Byte order: "Zed" < "a-b" < "a_b" < "al" < "alice" < "bob".
	mine := []struct{ name, path string }{
		{"bob", "/ops/"}, {"al", "/eng/dev/"}, {"Zed", "/"}, {"alice", "/eng/"}, {"a_b", "/eng/"}, {"a-b", "/"},
	}
	for _, k := range kindCases {
		for _, m := range mine {
			k.mustCreate(t, s, account, m.path, m.name)
		}
		k.mustCreate(t, s, account2, "/", "other")
	}
	tests := []struct {
		name    string
		account string
		prefix  string
		after   string
		limit   int
		want    []string
	}{
		{"all", account, "", "", 100, []string{"Zed", "a-b", "a_b", "al", "alice", "bob"}},
		{"root prefix", account, "/", "", 100, []string{"Zed", "a-b", "a_b", "al", "alice", "bob"}},
		{"first page", account, "", "", 2, []string{"Zed", "a-b"}},
		{"second page", account, "", "a-b", 2, []string{"a_b", "al"}},
		{"last page", account, "", "al", 10, []string{"alice", "bob"}},
		{"after absent name", account, "", "alf", 10, []string{"alice", "bob"}},
		{"after last", account, "", "bob", 10, nil},
		{"upper-case marker", account, "", "Zz", 10, []string{"a-b", "a_b", "al", "alice", "bob"}},
		{"path /eng/", account, "/eng/", "", 10, []string{"a_b", "al", "alice"}},
		{"path /eng/dev/", account, "/eng/dev/", "", 10, []string{"al"}},
		{"path is a string prefix", account, "/e", "", 10, []string{"a_b", "al", "alice"}},
		{"path paged", account, "/eng/", "a_b", 1, []string{"al"}},
		{"path in other case", account, "/ENG/", "", 10, nil},
		{"path with LIKE wildcard", account, "/%", "", 10, nil},
		{"other account", account2, "", "", 10, []string{"other"}},
		{"unknown account", "999999999999", "", "", 10, nil},
	}
	for _, k := range kindCases {
		for _, tt := range tests {
			t.Run(string(k.kind)+"/"+tt.name, func(t *testing.T) {
				got, err := k.list(t, s, tt.account, tt.prefix, tt.after, tt.limit)
				wantErr(t, "list", err, nil)
				if g := names(got, func(e entity) string { return e.Name }); !slices.Equal(g, tt.want) {
					t.Errorf("list(%s, %q, after %q, %d) = %v, want %v", tt.account, tt.prefix, tt.after, tt.limit, g, tt.want)
				}
				for _, e := range got {
					if e.Account != tt.account || e.ARN != iamARN(tt.account, k.kind, e.Path, e.Name) {
						t.Errorf("listed %+v", e)
					}
				}
			})
		}
	}
	us, err := s.ListUsers(ctx, "999999999999", "", "", 10)
	wantErr(t, "ListUsers", err, nil)
	if us == nil {
		t.Error("ListUsers of nothing returned nil, want an empty slice")
	}
}

func testUserFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account)
	u := newUser(account, "Alice")
	u.Path = "/eng/"
	u.ARN = iamARN(account, store.KindUser, "/eng/", "Alice")
	u.PermissionsBoundary = policyARN(store.AWSAccount, "/", "PowerUserAccess")
	u.Tags = []store.Tag{{Key: "team", Value: "payments"}, {Key: "Team", Value: "other case"}, {Key: "a", Value: ""}}
	u.Revision = 7 // ignored
	wantErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
	u.Revision = 1
	got, err := s.GetUser(ctx, account, "alice")
	wantErr(t, "GetUser", err, nil)
	same(t, "GetUser", got, u, normUser)

	// The returned user is the caller's.
	got.Tags[0].Value = "changed"
	got, _ = s.GetUser(ctx, account, "Alice")
	same(t, "GetUser after changing a returned user", got, u, normUser)

	// UpdateUser replaces tags and boundary, keeps CreatedAt and ID.
	u.Tags = []store.Tag{{Key: "z", Value: "1"}, {Key: "team", Value: "new"}}
	u.PermissionsBoundary = ""
	changed := u
	changed.CreatedAt = base.Add(time.Hour) // not the caller's to change
	got, err = s.UpdateUser(ctx, changed)
	wantErr(t, "UpdateUser", err, nil)
	u.Revision = 2
	same(t, "UpdateUser result", got, u, normUser)
	got, _ = s.GetUser(ctx, account, "Alice")
	same(t, "GetUser after UpdateUser", got, u, normUser)

	u.Tags = nil
	got, err = s.UpdateUser(ctx, u)
	wantErr(t, "UpdateUser(no tags)", err, nil)
	if len(got.Tags) != 0 || got.Revision != 3 {
		t.Errorf("after clearing tags: %+v", got)
	}
	u = got

	// Two tags with one key are refused, and change nothing.
	dup := u
	dup.Tags = []store.Tag{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}}
	if _, err := s.UpdateUser(ctx, dup); err == nil || errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateUser with a duplicate tag key: %v", err)
	}
	bad := newUser(account, "Bad")
	bad.Tags = dup.Tags
	if err := s.CreateUser(ctx, bad); err == nil || errors.Is(err, store.ErrExists) {
		t.Errorf("CreateUser with a duplicate tag key: %v", err)
	}
	_, err = s.GetUser(ctx, account, "Bad")
	wantErr(t, "GetUser after a refused create", err, store.ErrNotFound)
	got, _ = s.GetUser(ctx, account, "Alice")
	same(t, "user after refused update", got, u, normUser)

	// Listed users carry every field.
	u2 := newUser(account, "Bob")
	u2.Tags = []store.Tag{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}}
	wantErr(t, "CreateUser", s.CreateUser(ctx, u2), nil)
	u2.Revision = 1
	us, err := s.ListUsers(ctx, account, "", "", 10)
	wantErr(t, "ListUsers", err, nil)
	same(t, "ListUsers", us, []store.User{u, u2}, normAll(normUser))
}

func testRoleFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account)
	r := newRole(account, "Deployer")
	r.Path = "/service-role/"
	r.ARN = iamARN(account, store.KindRole, r.Path, r.Name)
	r.Description = "deploys 'things' ; \"quoted\" ünïcödé"
	r.MaxSessionDuration = 43200
	r.PermissionsBoundary = policyARN(account, "/", "Boundary")
	r.Tags = []store.Tag{{Key: "env", Value: "prod"}}
	wantErr(t, "CreateRole", s.CreateRole(ctx, r), nil)
	r.Revision = 1
	got, err := s.GetRole(ctx, account, "DEPLOYER")
	wantErr(t, "GetRole", err, nil)
	same(t, "GetRole", got, r, normRole)

	r.AssumeRolePolicy = doc("Other")
	r.Description = ""
	r.MaxSessionDuration = 3600
	r.Tags = append(r.Tags, store.Tag{Key: "new", Value: "tag"})
	got, err = s.UpdateRole(ctx, r)
	wantErr(t, "UpdateRole", err, nil)
	r.Revision = 2
	same(t, "UpdateRole result", got, r, normRole)
	got, _ = s.GetRole(ctx, account, r.Name)
	same(t, "GetRole after UpdateRole", got, r, normRole)

	rs, err := s.ListRoles(ctx, account, "/service-role/", "", 10)
	wantErr(t, "ListRoles", err, nil)
	same(t, "ListRoles", rs, []store.Role{r}, normAll(normRole))

	g := newGroup(account, "Admins")
	g.Path = "/a/"
	g.ARN = iamARN(account, store.KindGroup, "/a/", "Admins")
	wantErr(t, "CreateGroup", s.CreateGroup(ctx, g), nil)
	g.Revision = 1
	gg, err := s.GetGroup(ctx, account, "admins")
	wantErr(t, "GetGroup", err, nil)
	same(t, "GetGroup", gg, g, normGroup)
}

// testDeleteConflicts checks that an entity with dependent rows cannot be
// deleted, and can once they are gone.
func testDeleteConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account)
	pol := mustPolicy(t, s, newPolicy(account, "/", "P"))
	tests := []struct {
		name  string
		kind  store.EntityKind
		setup func(t *testing.T, name string) // makes the dependent row
		undo  func(t *testing.T, name string) // removes it
	}{
		{"user with access key", store.KindUser,
			func(t *testing.T, name string) {
				wantErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, store.AccessKey{ID: "AKIA" + name, Account: account, UserName: name, WrappedSecret: []byte("w"), Active: true}), nil)
			},
			func(t *testing.T, name string) {
				wantErr(t, "DeleteAccessKey", s.DeleteAccessKey(ctx, "AKIA"+name), nil)
			}},
		{"user with inactive access key", store.KindUser,
			func(t *testing.T, name string) {
				wantErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, store.AccessKey{ID: "AKIA" + name, Account: account, UserName: name, WrappedSecret: []byte("w")}), nil)
			},
			func(t *testing.T, name string) {
				wantErr(t, "DeleteAccessKey", s.DeleteAccessKey(ctx, "AKIA"+name), nil)
			}},
		{"user in a group", store.KindUser,
			func(t *testing.T, name string) {
				mustGroup(t, s, account, "G"+name)
				wantErr(t, "AddUserToGroup", s.AddUserToGroup(ctx, account, "G"+name, name), nil)
			},
			func(t *testing.T, name string) {
				wantErr(t, "RemoveUserFromGroup", s.RemoveUserFromGroup(ctx, account, "G"+name, name), nil)
			}},
		{"group with a member", store.KindGroup,
			func(t *testing.T, name string) {
				mustUser(t, s, account, "U"+name)
				wantErr(t, "AddUserToGroup", s.AddUserToGroup(ctx, account, name, "U"+name), nil)
			},
			func(t *testing.T, name string) {
				wantErr(t, "RemoveUserFromGroup", s.RemoveUserFromGroup(ctx, account, name, "U"+name), nil)
			}},
	}
	for _, kind := range allKinds {
		tests = append(tests,
			struct {
				name  string
				kind  store.EntityKind
				setup func(t *testing.T, name string)
				undo  func(t *testing.T, name string)
			}{string(kind) + " with inline policy", kind,
				func(t *testing.T, name string) {
					wantErr(t, "PutInlinePolicy", s.PutInlinePolicy(ctx, store.EntityRef{Kind: kind, Account: account, Name: name}, "inline", doc("x")), nil)
				},
				func(t *testing.T, name string) {
					wantErr(t, "DeleteInlinePolicy", s.DeleteInlinePolicy(ctx, store.EntityRef{Kind: kind, Account: account, Name: name}, "inline"), nil)
				}},
			struct {
				name  string
				kind  store.EntityKind
				setup func(t *testing.T, name string)
				undo  func(t *testing.T, name string)
			}{string(kind) + " with attached policy", kind,
				func(t *testing.T, name string) {
					wantErr(t, "AttachPolicy", s.AttachPolicy(ctx, store.EntityRef{Kind: kind, Account: account, Name: name}, pol.ARN), nil)
				},
				func(t *testing.T, name string) {
					wantErr(t, "DetachPolicy", s.DetachPolicy(ctx, store.EntityRef{Kind: kind, Account: account, Name: name}, pol.ARN), nil)
				}},
		)
	}
	del := map[store.EntityKind]func(name string) error{
		store.KindUser:  func(name string) error { return s.DeleteUser(ctx, account, name) },
		store.KindGroup: func(name string) error { return s.DeleteGroup(ctx, account, name) },
		store.KindRole:  func(name string) error { return s.DeleteRole(ctx, account, name) },
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprint("E", i)
			mustEntity(t, s, tt.kind, account, name)
			tt.setup(t, name)
			wantErr(t, "delete", del[tt.kind](name), store.ErrDeleteConflict)
			// Refused in any case of the name, and nothing removed.
			wantErr(t, "delete (lower case)", del[tt.kind]("e"+name[1:]), store.ErrDeleteConflict)
			tt.undo(t, name)
			wantErr(t, "delete after undo", del[tt.kind](name), nil)
			wantErr(t, "delete again", del[tt.kind](name), store.ErrNotFound)
			// The name is free again.
			mustEntity(t, s, tt.kind, account, name)
		})
	}
	for _, kind := range allKinds {
		wantErr(t, "delete absent "+string(kind), del[kind]("Absent"), store.ErrNotFound)
	}
	// A user with tags and a boundary has no dependents.
	u := newUser(account, "Tagged")
	u.Tags = []store.Tag{{Key: "a", Value: "b"}}
	u.PermissionsBoundary = pol.ARN
	wantErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
	wantErr(t, "DeleteUser(tagged)", s.DeleteUser(ctx, account, "tagged"), nil)
	u.ID, u.ARN = newID("AIDA"), iamARN(account, store.KindUser, "/", "Tagged")
	u.Tags = nil
	wantErr(t, "CreateUser(again)", s.CreateUser(ctx, u), nil)
	got, err := s.GetUser(ctx, account, "Tagged")
	wantErr(t, "GetUser", err, nil)
	if len(got.Tags) != 0 {
		t.Errorf("a recreated user has the old user's tags %v", got.Tags)
	}
}

func testGroupMembership(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account, account2)
	alice := mustUser(t, s, account, "Alice")
	bob := mustUser(t, s, account, "bob")
	admins := mustGroup(t, s, account, "Admins")
	devs := mustGroup(t, s, account, "devs")
	mustGroup(t, s, account2, "Admins")
	mustUser(t, s, account2, "Alice")

	steps := []struct {
		group, user string
		want        error
	}{
		{"Admins", "Alice", nil},
		{"admins", "ALICE", nil}, // again, in other cases: no change
		{"devs", "alice", nil},
		{"Devs", "bob", nil},
		{"Absent", "Alice", store.ErrNotFound},
		{"Admins", "Absent", store.ErrNotFound},
		{"Alice", "Admins", store.ErrNotFound}, // kinds are not interchangeable
	}
	for _, st := range steps {
		wantErr(t, fmt.Sprintf("AddUserToGroup(%s, %s)", st.group, st.user), s.AddUserToGroup(ctx, account, st.group, st.user), st.want)
	}

	groupsOf := func(user, after string, limit int) []store.Group {
		t.Helper()
		gs, err := s.ListGroupsForUser(ctx, account, user, after, limit)
		wantErr(t, "ListGroupsForUser("+user+")", err, nil)
		return gs
	}
	usersIn := func(group, after string, limit int) []store.User {
		t.Helper()
		us, err := s.ListUsersInGroup(ctx, account, group, after, limit)
		wantErr(t, "ListUsersInGroup("+group+")", err, nil)
		return us
	}
	same(t, "groups of alice", groupsOf("alice", "", 10), []store.Group{admins, devs}, normAll(normGroup))
	same(t, "groups of alice after Admins", groupsOf("ALICE", "Admins", 10), []store.Group{devs}, normAll(normGroup))
	same(t, "groups of alice, limit 1", groupsOf("Alice", "", 1), []store.Group{admins}, normAll(normGroup))
	same(t, "users in devs", usersIn("DEVS", "", 10), []store.User{alice, bob}, normAll(normUser))
	same(t, "users in devs after Alice", usersIn("devs", "Alice", 10), []store.User{bob}, normAll(normUser))
	same(t, "users in Admins", usersIn("admins", "", 10), []store.User{alice}, normAll(normUser))
	if gs, err := s.ListGroupsForUser(ctx, account2, "Alice", "", 10); err != nil || len(gs) != 0 {
		t.Errorf("groups of Alice in account2 = %v, %v; want none", gs, err)
	}
	if gs := groupsOf("bob", "devs", 10); gs == nil || len(gs) != 0 {
		t.Errorf("groups of bob after devs = %#v, want an empty slice", gs)
	}
	_, err := s.ListGroupsForUser(ctx, account, "Absent", "", 10)
	wantErr(t, "ListGroupsForUser(absent)", err, store.ErrNotFound)
	_, err = s.ListUsersInGroup(ctx, account, "Absent", "", 10)
	wantErr(t, "ListUsersInGroup(absent)", err, store.ErrNotFound)

	// Membership follows renames: it is by identity, not by name.
	alice.Name, alice.ARN = "Alicia", iamARN(account, store.KindUser, "/", "Alicia")
	alice, err = s.UpdateUser(ctx, alice)
	wantErr(t, "UpdateUser(rename)", err, nil)
	same(t, "users in Admins after rename", usersIn("Admins", "", 10), []store.User{alice}, normAll(normUser))

	wantErr(t, "RemoveUserFromGroup", s.RemoveUserFromGroup(ctx, account, "ADMINS", "alicia"), nil)
	wantErr(t, "RemoveUserFromGroup(again)", s.RemoveUserFromGroup(ctx, account, "Admins", "Alicia"), store.ErrNotFound)
	wantErr(t, "RemoveUserFromGroup(absent group)", s.RemoveUserFromGroup(ctx, account, "Absent", "Alicia"), store.ErrNotFound)
	wantErr(t, "RemoveUserFromGroup(absent user)", s.RemoveUserFromGroup(ctx, account, "devs", "Absent"), store.ErrNotFound)
	wantErr(t, "RemoveUserFromGroup(other account)", s.RemoveUserFromGroup(ctx, account2, "devs", "bob"), store.ErrNotFound)
	same(t, "groups of alicia", groupsOf("Alicia", "", 10), []store.Group{devs}, normAll(normGroup))

	// At most MaxGroupsPerUser groups per user; adding to one of them
	// again is still fine.
	for i := 1; len(groupsOf("bob", "", 100)) < store.MaxGroupsPerUser; i++ {
		mustGroup(t, s, account, fmt.Sprint("g", i))
		wantErr(t, "AddUserToGroup", s.AddUserToGroup(ctx, account, fmt.Sprint("g", i), "bob"), nil)
	}
	mustGroup(t, s, account, "one-too-many")
	wantErr(t, "AddUserToGroup(over the limit)", s.AddUserToGroup(ctx, account, "one-too-many", "bob"), store.ErrLimit)
	wantErr(t, "AddUserToGroup(member again, at the limit)", s.AddUserToGroup(ctx, account, "devs", "bob"), nil)
	if n := len(groupsOf("bob", "", 100)); n != store.MaxGroupsPerUser {
		t.Errorf("bob is in %d groups, want %d", n, store.MaxGroupsPerUser)
	}
	if us := usersIn("one-too-many", "", 10); len(us) != 0 {
		t.Errorf("members of one-too-many = %v", us)
	}
}

func testInlinePolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account, account2)
	for _, kind := range allKinds {
		t.Run(string(kind), func(t *testing.T) {
			e := mustEntity(t, s, kind, account, "Owner")
			lower := store.EntityRef{Kind: kind, Account: account, Name: "owner"}
			list := func(after string, limit int) []string {
				t.Helper()
				ns, err := s.ListInlinePolicies(ctx, e, after, limit)
				wantErr(t, "ListInlinePolicies", err, nil)
				return ns
			}
			if ns := list("", 10); ns == nil || len(ns) != 0 {
				t.Errorf("ListInlinePolicies of none = %#v, want an empty slice", ns)
			}
			_, err := s.GetInlinePolicy(ctx, e, "p")
			wantErr(t, "GetInlinePolicy(absent)", err, store.ErrNotFound)

			for _, name := range []string{"b", "P", "a-b", "p"} { // "P" and "p" are two policies
				wantErr(t, "PutInlinePolicy", s.PutInlinePolicy(ctx, e, name, doc(name)), nil)
			}
			wantErr(t, "PutInlinePolicy(replace, other case of entity)", s.PutInlinePolicy(ctx, lower, "b", doc("replaced")), nil)
			for name, want := range map[string]string{"b": doc("replaced"), "P": doc("P"), "p": doc("p"), "a-b": doc("a-b")} {
				got, err := s.GetInlinePolicy(ctx, lower, name)
				wantErr(t, "GetInlinePolicy("+name+")", err, nil)
				if got != want {
					t.Errorf("GetInlinePolicy(%s) = %s, want %s", name, got, want)
				}
			}
			_, err = s.GetInlinePolicy(ctx, e, "B")
			wantErr(t, "GetInlinePolicy(other case)", err, store.ErrNotFound)

			tests := []struct {
				after string
				limit int
				want  []string
			}{
				{"", 10, []string{"P", "a-b", "b", "p"}},
				{"", 2, []string{"P", "a-b"}},
				{"a-b", 2, []string{"b", "p"}},
				{"p", 2, nil},
			}
			for _, tt := range tests {
				if got := list(tt.after, tt.limit); !slices.Equal(got, tt.want) {
					t.Errorf("ListInlinePolicies(after %q, %d) = %v, want %v", tt.after, tt.limit, got, tt.want)
				}
			}

			// Another kind's entity of the same name, or the same entity in
			// another account, has none of them.
			for _, other := range []store.EntityRef{
				{Kind: kind, Account: account2, Name: "Owner"},
				{Kind: kind, Account: account, Name: "Absent"},
			} {
				_, err := s.GetInlinePolicy(ctx, other, "b")
				wantErr(t, fmt.Sprintf("GetInlinePolicy(%+v)", other), err, store.ErrNotFound)
				wantErr(t, fmt.Sprintf("PutInlinePolicy(%+v)", other), s.PutInlinePolicy(ctx, other, "b", doc("x")), store.ErrNotFound)
				wantErr(t, fmt.Sprintf("DeleteInlinePolicy(%+v)", other), s.DeleteInlinePolicy(ctx, other, "b"), store.ErrNotFound)
				_, err = s.ListInlinePolicies(ctx, other, "", 10)
				wantErr(t, fmt.Sprintf("ListInlinePolicies(%+v)", other), err, store.ErrNotFound)
			}

			wantErr(t, "DeleteInlinePolicy", s.DeleteInlinePolicy(ctx, lower, "P"), nil)
			wantErr(t, "DeleteInlinePolicy(again)", s.DeleteInlinePolicy(ctx, e, "P"), store.ErrNotFound)
			if got := list("", 10); !slices.Equal(got, []string{"a-b", "b", "p"}) {
				t.Errorf("after delete: %v", got)
			}
			for _, name := range []string{"a-b", "b", "p"} {
				wantErr(t, "DeleteInlinePolicy", s.DeleteInlinePolicy(ctx, e, name), nil)
			}
		})
	}
}

func testManagedPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account, account2)
	p := newPolicy(account, "/team/", "ReadKeys")
	p.DefaultVersion, p.AttachmentCount, p.UpdatedAt = "v9", 5, base.Add(time.Hour) // ignored
	want := mustPolicy(t, s, p)
	awsPol := mustPolicy(t, s, newPolicy(store.AWSAccount, "/", "ReadOnlyAccess"))

	got, err := s.GetPolicy(ctx, account, p.ARN)
	wantErr(t, "GetPolicy", err, nil)
	same(t, "GetPolicy", got, want, normPolicy)
	got, err = s.GetPolicy(ctx, account2, awsPol.ARN)
	wantErr(t, "GetPolicy(AWS-managed, from any account)", err, nil)
	same(t, "GetPolicy(AWS-managed)", got, awsPol, normPolicy)
	got, err = s.GetPolicy(ctx, store.AWSAccount, awsPol.ARN)
	wantErr(t, "GetPolicy(AWS-managed, as AWS)", err, nil)
	same(t, "GetPolicy(AWS-managed, as AWS)", got, awsPol, normPolicy)
	for _, c := range []struct{ account, arn string }{
		{account2, p.ARN},                                   // another account's
		{account, policyARN(account, "/", "No")},            // absent
		{account, policyARN(account, "/team/", "readkeys")}, // ARNs compare exactly
		{store.AWSAccount, p.ARN},
	} {
		_, err := s.GetPolicy(ctx, c.account, c.arn)
		wantErr(t, fmt.Sprintf("GetPolicy(%s, %s)", c.account, c.arn), err, store.ErrNotFound)
	}
	v, err := s.GetPolicyVersion(ctx, account, p.ARN, "v1")
	wantErr(t, "GetPolicyVersion(v1)", err, nil)
	same(t, "first version", v, store.PolicyVersion{PolicyARN: p.ARN, VersionID: "v1", Document: doc(p.Name), IsDefault: true, CreatedAt: base}, normPolicyVersion)

	conflicts := []store.Policy{
		newPolicy(account, "/team/", "ReadKeys"),
		newPolicy(account, "/other/", "readkeys"), // names are unique across paths and case
		{Account: account, Name: "Other", Path: "/", ID: p.ID, ARN: policyARN(account, "/", "Other")},
		{Account: account, Name: "Other", Path: "/", ID: newID("ANPA"), ARN: p.ARN},
		newPolicy(store.AWSAccount, "/x/", "readonlyaccess"),
	}
	for _, c := range conflicts {
		wantErr(t, "CreatePolicy("+c.ARN+")", s.CreatePolicy(ctx, c, doc("x")), store.ErrExists)
	}
	_, err = s.GetPolicy(ctx, account, policyARN(account, "/", "Other"))
	wantErr(t, "GetPolicy after failed creates", err, store.ErrNotFound)
	// The same name in another account, or a local one named as an
	// AWS-managed one, is another policy.
	mustPolicy(t, s, newPolicy(account2, "/team/", "ReadKeys"))
	mustPolicy(t, s, newPolicy(account, "/", "ReadOnlyAccess"))
	wantErr(t, "CreatePolicy(absent account)", s.CreatePolicy(ctx, newPolicy("999999999999", "/", "P"), doc("x")), store.ErrNotFound)

	// Only the owner deletes.
	wantErr(t, "DeletePolicy(other account)", s.DeletePolicy(ctx, account2, p.ARN), store.ErrNotFound)
	wantErr(t, "DeletePolicy(AWS-managed, by an account)", s.DeletePolicy(ctx, account, awsPol.ARN), store.ErrNotFound)
	wantErr(t, "DeletePolicy(absent)", s.DeletePolicy(ctx, account, policyARN(account, "/", "No")), store.ErrNotFound)

	// Attached or with other versions: DeleteConflict.
	mustUser(t, s, account, "u")
	ref := store.EntityRef{Kind: store.KindUser, Account: account, Name: "u"}
	wantErr(t, "AttachPolicy", s.AttachPolicy(ctx, ref, p.ARN), nil)
	wantErr(t, "DeletePolicy(attached)", s.DeletePolicy(ctx, account, p.ARN), store.ErrDeleteConflict)
	wantErr(t, "DetachPolicy", s.DetachPolicy(ctx, ref, p.ARN), nil)
	_, err = s.CreatePolicyVersion(ctx, account, p.ARN, doc("v2"), true, base.Add(time.Minute))
	wantErr(t, "CreatePolicyVersion", err, nil)
	wantErr(t, "DeletePolicy(two versions)", s.DeletePolicy(ctx, account, p.ARN), store.ErrDeleteConflict)
	wantErr(t, "DeletePolicyVersion(v1)", s.DeletePolicyVersion(ctx, account, p.ARN, "v1"), nil)
	// An AWS-managed policy attached in any account cannot go either.
	wantErr(t, "AttachPolicy(AWS-managed)", s.AttachPolicy(ctx, ref, awsPol.ARN), nil)
	wantErr(t, "DeletePolicy(AWS-managed, attached)", s.DeletePolicy(ctx, store.AWSAccount, awsPol.ARN), store.ErrDeleteConflict)

	wantErr(t, "DeletePolicy", s.DeletePolicy(ctx, account, p.ARN), nil)
	_, err = s.GetPolicy(ctx, account, p.ARN)
	wantErr(t, "GetPolicy(deleted)", err, store.ErrNotFound)
	_, err = s.GetPolicyVersion(ctx, account, p.ARN, "v2")
	wantErr(t, "GetPolicyVersion(deleted)", err, store.ErrNotFound)
	wantErr(t, "DeletePolicy(again)", s.DeletePolicy(ctx, account, p.ARN), store.ErrNotFound)
	// The name and ARN are free again, with a fresh v1.
	again := mustPolicy(t, s, newPolicy(account, "/team/", "ReadKeys"))
	vs, err := s.ListPolicyVersions(ctx, account, again.ARN)
	wantErr(t, "ListPolicyVersions(recreated)", err, nil)
	if got := names(vs, func(v store.PolicyVersion) string { return v.VersionID }); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("versions of the recreated policy = %v", got)
	}
}

func testListPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account, account2)
	local := []store.Policy{
		newPolicy(account, "/", "Zeta"),
		newPolicy(account, "/eng/", "alpha"),
		newPolicy(account, "/eng/", "Beta"),
	}
	aws := []store.Policy{
		newPolicy(store.AWSAccount, "/", "AdministratorAccess"),
		newPolicy(store.AWSAccount, "/service-role/", "KMSRole"),
	}
	for _, p := range append(slices.Clone(local), aws...) {
		mustPolicy(t, s, p)
	}
	mustPolicy(t, s, newPolicy(account2, "/", "Theirs"))
	mustUser(t, s, account, "u")
	mustUser(t, s, account2, "u")
	for _, a := range []struct {
		acct string
		arn  string
	}{{account, local[1].ARN}, {account, aws[0].ARN}, {account2, aws[1].ARN}} {
		wantErr(t, "AttachPolicy", s.AttachPolicy(ctx, store.EntityRef{Kind: store.KindUser, Account: a.acct, Name: "u"}, a.arn), nil)
	}
	arn := func(p store.Policy) string { return p.ARN }
	// ARNs order account ids before "aws", then byte-wise by path and
	// name: "policy/Zeta" < "policy/eng/Beta" < "policy/eng/alpha".
	tests := []struct {
		name    string
		account string
		filter  store.PolicyFilter
		after   string
		limit   int
		want    []string
	}{
		{"all", account, store.PolicyFilter{}, "", 100, []string{local[0].ARN, local[2].ARN, local[1].ARN, aws[0].ARN, aws[1].ARN}},
		{"scope All", account, store.PolicyFilter{Scope: store.ScopeAll}, "", 100, []string{local[0].ARN, local[2].ARN, local[1].ARN, aws[0].ARN, aws[1].ARN}},
		{"local", account, store.PolicyFilter{Scope: store.ScopeLocal}, "", 100, []string{local[0].ARN, local[2].ARN, local[1].ARN}},
		{"aws", account, store.PolicyFilter{Scope: store.ScopeAWS}, "", 100, []string{aws[0].ARN, aws[1].ARN}},
		{"paged", account, store.PolicyFilter{}, local[2].ARN, 2, []string{local[1].ARN, aws[0].ARN}},
		{"path", account, store.PolicyFilter{PathPrefix: "/eng/"}, "", 100, []string{local[2].ARN, local[1].ARN}},
		{"path aws", account, store.PolicyFilter{PathPrefix: "/service-role/"}, "", 100, []string{aws[1].ARN}},
		{"only attached", account, store.PolicyFilter{OnlyAttached: true}, "", 100, []string{local[1].ARN, aws[0].ARN}},
		{"only attached local", account, store.PolicyFilter{OnlyAttached: true, Scope: store.ScopeLocal}, "", 100, []string{local[1].ARN}},
		{"only attached, paged", account, store.PolicyFilter{OnlyAttached: true}, "", 1, []string{local[1].ARN}},
		{"only attached, other account", account2, store.PolicyFilter{OnlyAttached: true}, "", 100, []string{aws[1].ARN}},
		{"other account local", account2, store.PolicyFilter{Scope: store.ScopeLocal}, "", 100, []string{policyARN(account2, "/", "Theirs")}},
		{"unknown account", "999999999999", store.PolicyFilter{Scope: store.ScopeLocal}, "", 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListPolicies(ctx, tt.account, tt.filter, tt.after, tt.limit)
			wantErr(t, "ListPolicies", err, nil)
			if g := names(got, arn); !slices.Equal(g, tt.want) {
				t.Errorf("ListPolicies(%s, %+v, %q, %d) =\n%q\nwant\n%q", tt.account, tt.filter, tt.after, tt.limit, g, tt.want)
			}
		})
	}
	// Attachment counts as each account sees them.
	got, err := s.ListPolicies(ctx, account, store.PolicyFilter{Scope: store.ScopeAWS}, "", 10)
	wantErr(t, "ListPolicies", err, nil)
	if len(got) != 2 || got[0].AttachmentCount != 1 || got[1].AttachmentCount != 0 {
		t.Errorf("AWS policies as %s sees them: %+v", account, got)
	}
	p, err := s.GetPolicy(ctx, account2, aws[1].ARN)
	wantErr(t, "GetPolicy", err, nil)
	if p.AttachmentCount != 1 {
		t.Errorf("AttachmentCount of %s for %s = %d, want 1", aws[1].Name, account2, p.AttachmentCount)
	}
	p, err = s.GetPolicy(ctx, store.AWSAccount, aws[1].ARN)
	wantErr(t, "GetPolicy", err, nil)
	if p.AttachmentCount != 1 {
		t.Errorf("AttachmentCount of %s for its owner = %d, want 1", aws[1].Name, p.AttachmentCount)
	}
	// Listed policies carry every field.
	got, err = s.ListPolicies(ctx, account, store.PolicyFilter{Scope: store.ScopeLocal, PathPrefix: "/"}, "", 1)
	wantErr(t, "ListPolicies", err, nil)
	want := local[0]
	want.DefaultVersion, want.UpdatedAt = "v1", want.CreatedAt
	same(t, "listed policy", got, []store.Policy{want}, normAll(normPolicy))
	_, err = s.ListPolicies(ctx, account, store.PolicyFilter{Scope: "Mine"}, "", 10)
	if err == nil {
		t.Error("ListPolicies with an unknown scope succeeded")
	}
}

func testPolicyVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account, account2)
	p := mustPolicy(t, s, newPolicy(account, "/", "P"))
	awsPol := mustPolicy(t, s, newPolicy(store.AWSAccount, "/", "AWSP"))
	ids := func() []string {
		t.Helper()
		vs, err := s.ListPolicyVersions(ctx, account, p.ARN)
		wantErr(t, "ListPolicyVersions", err, nil)
		return names(vs, func(v store.PolicyVersion) string { return v.VersionID })
	}
	policy := func() store.Policy {
		t.Helper()
		got, err := s.GetPolicy(ctx, account, p.ARN)
		wantErr(t, "GetPolicy", err, nil)
		return got
	}

	all := []store.PolicyVersion{{PolicyARN: p.ARN, VersionID: "v1", Document: doc(p.Name), IsDefault: false, CreatedAt: base}}
	for i := 2; i <= store.MaxPolicyVersions; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		setDefault := i == 3
		v, err := s.CreatePolicyVersion(ctx, account, p.ARN, doc(fmt.Sprint("v", i)), setDefault, at)
		wantErr(t, "CreatePolicyVersion", err, nil)
		want := store.PolicyVersion{PolicyARN: p.ARN, VersionID: fmt.Sprint("v", i), Document: doc(fmt.Sprint("v", i)), IsDefault: setDefault, CreatedAt: at}
		same(t, "CreatePolicyVersion result", v, want, normPolicyVersion)
		if pol := policy(); !pol.UpdatedAt.Equal(at) || !pol.CreatedAt.Equal(base) {
			t.Errorf("after version %d: CreatedAt %v UpdatedAt %v", i, pol.CreatedAt, pol.UpdatedAt)
		}
		all = append(all, want)
	}
	all[2].IsDefault = true // v3
	if d := policy().DefaultVersion; d != "v3" {
		t.Errorf("DefaultVersion = %s, want v3", d)
	}
	vs, err := s.ListPolicyVersions(ctx, account, p.ARN)
	wantErr(t, "ListPolicyVersions", err, nil)
	newestFirst := slices.Clone(all)
	slices.Reverse(newestFirst)
	same(t, "ListPolicyVersions, newest first", vs, newestFirst, normAll(normPolicyVersion))
	for _, want := range all {
		got, err := s.GetPolicyVersion(ctx, account, p.ARN, want.VersionID)
		wantErr(t, "GetPolicyVersion("+want.VersionID+")", err, nil)
		same(t, "GetPolicyVersion", got, want, normPolicyVersion)
	}

	_, err = s.CreatePolicyVersion(ctx, account, p.ARN, doc("too many"), true, base.Add(time.Hour))
	wantErr(t, "CreatePolicyVersion(sixth)", err, store.ErrLimit)
	if pol := policy(); pol.DefaultVersion != "v3" || !pol.UpdatedAt.Equal(base.Add(5*time.Minute)) {
		t.Errorf("a refused version changed the policy: %+v", pol)
	}

	notFound := []struct{ what, account, arn, version string }{
		{"absent version", account, p.ARN, "v6"},
		{"version zero", account, p.ARN, "v0"},
		{"leading zero", account, p.ARN, "v01"},
		{"upper case", account, p.ARN, "V1"},
		{"no v", account, p.ARN, "1"},
		{"suffix", account, p.ARN, "v1.x"},
		{"empty", account, p.ARN, ""},
		{"other account", account2, p.ARN, "v1"},
		{"absent policy", account, policyARN(account, "/", "No"), "v1"},
	}
	for _, c := range notFound {
		_, err := s.GetPolicyVersion(ctx, c.account, c.arn, c.version)
		wantErr(t, "GetPolicyVersion("+c.what+")", err, store.ErrNotFound)
		wantErr(t, "SetDefaultPolicyVersion("+c.what+")", s.SetDefaultPolicyVersion(ctx, c.account, c.arn, c.version), store.ErrNotFound)
		wantErr(t, "DeletePolicyVersion("+c.what+")", s.DeletePolicyVersion(ctx, c.account, c.arn, c.version), store.ErrNotFound)
	}
	_, err = s.ListPolicyVersions(ctx, account2, p.ARN)
	wantErr(t, "ListPolicyVersions(other account)", err, store.ErrNotFound)
	_, err = s.CreatePolicyVersion(ctx, account2, p.ARN, doc("x"), false, base)
	wantErr(t, "CreatePolicyVersion(other account)", err, store.ErrNotFound)

	wantErr(t, "DeletePolicyVersion(default)", s.DeletePolicyVersion(ctx, account, p.ARN, "v3"), store.ErrDeleteConflict)
	wantErr(t, "SetDefaultPolicyVersion(v5)", s.SetDefaultPolicyVersion(ctx, account, p.ARN, "v5"), nil)
	wantErr(t, "SetDefaultPolicyVersion(v5 again)", s.SetDefaultPolicyVersion(ctx, account, p.ARN, "v5"), nil)
	wantErr(t, "DeletePolicyVersion(v3, no longer default)", s.DeletePolicyVersion(ctx, account, p.ARN, "v3"), nil)
	wantErr(t, "DeletePolicyVersion(v3 again)", s.DeletePolicyVersion(ctx, account, p.ARN, "v3"), store.ErrNotFound)
	wantErr(t, "SetDefaultPolicyVersion(deleted)", s.SetDefaultPolicyVersion(ctx, account, p.ARN, "v3"), store.ErrNotFound)
	if got := ids(); !slices.Equal(got, []string{"v5", "v4", "v2", "v1"}) {
		t.Errorf("versions after deleting v3 = %v", got)
	}
	if d := policy().DefaultVersion; d != "v5" {
		t.Errorf("DefaultVersion = %s, want v5", d)
	}
	// Numbers are not reused: the next version is v6.
	v, err := s.CreatePolicyVersion(ctx, account, p.ARN, doc("v6"), false, base.Add(time.Hour))
	wantErr(t, "CreatePolicyVersion after a delete", err, nil)
	if v.VersionID != "v6" || v.IsDefault {
		t.Errorf("CreatePolicyVersion after a delete = %+v, want v6, not default", v)
	}
	if got := ids(); !slices.Equal(got, []string{"v6", "v5", "v4", "v2", "v1"}) {
		t.Errorf("versions = %v", got)
	}

	// AWS-managed policies: every account reads their versions, only AWS
	// writes them.
	_, err = s.GetPolicyVersion(ctx, account, awsPol.ARN, "v1")
	wantErr(t, "GetPolicyVersion(AWS-managed)", err, nil)
	vs, err = s.ListPolicyVersions(ctx, account2, awsPol.ARN)
	wantErr(t, "ListPolicyVersions(AWS-managed)", err, nil)
	if len(vs) != 1 || !vs[0].IsDefault {
		t.Errorf("versions of an AWS-managed policy = %+v", vs)
	}
	_, err = s.CreatePolicyVersion(ctx, account, awsPol.ARN, doc("x"), true, base)
	wantErr(t, "CreatePolicyVersion(AWS-managed, by an account)", err, store.ErrNotFound)
	wantErr(t, "SetDefaultPolicyVersion(AWS-managed, by an account)", s.SetDefaultPolicyVersion(ctx, account, awsPol.ARN, "v1"), store.ErrNotFound)
	_, err = s.CreatePolicyVersion(ctx, store.AWSAccount, awsPol.ARN, doc("v2"), true, base.Add(time.Hour))
	wantErr(t, "CreatePolicyVersion(AWS-managed, by AWS)", err, nil)
	got, err := s.GetPolicy(ctx, account, awsPol.ARN)
	wantErr(t, "GetPolicy(AWS-managed)", err, nil)
	if got.DefaultVersion != "v2" {
		t.Errorf("AWS-managed DefaultVersion = %s, want v2", got.DefaultVersion)
	}
}

func testPolicyAttachments(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account, account2)
	local := mustPolicy(t, s, newPolicy(account, "/eng/", "Local"))
	awsPol := mustPolicy(t, s, newPolicy(store.AWSAccount, "/", "AWSManaged"))
	theirs := mustPolicy(t, s, newPolicy(account2, "/", "Theirs"))

	refs := map[store.EntityKind]store.EntityRef{}
	for _, kind := range allKinds {
		refs[kind] = mustEntity(t, s, kind, account, "E")
	}
	u2 := mustEntity(t, s, store.KindUser, account2, "E")
	attached := func(e store.EntityRef, prefix, after string, limit int) []string {
		t.Helper()
		ps, err := s.ListAttachedPolicies(ctx, e, prefix, after, limit)
		wantErr(t, "ListAttachedPolicies", err, nil)
		return names(ps, func(p store.Policy) string { return p.ARN })
	}

	for _, kind := range allKinds {
		e := refs[kind]
		lower := store.EntityRef{Kind: kind, Account: account, Name: "e"}
		wantErr(t, "AttachPolicy(local)", s.AttachPolicy(ctx, e, local.ARN), nil)
		wantErr(t, "AttachPolicy(local, again)", s.AttachPolicy(ctx, lower, local.ARN), nil)
		wantErr(t, "AttachPolicy(AWS-managed)", s.AttachPolicy(ctx, e, awsPol.ARN), nil)
		wantErr(t, "AttachPolicy(another account's)", s.AttachPolicy(ctx, e, theirs.ARN), store.ErrNotFound)
		wantErr(t, "AttachPolicy(absent policy)", s.AttachPolicy(ctx, e, policyARN(account, "/", "No")), store.ErrNotFound)
		wantErr(t, "AttachPolicy(absent entity)", s.AttachPolicy(ctx, store.EntityRef{Kind: kind, Account: account, Name: "No"}, local.ARN), store.ErrNotFound)
		if got := attached(lower, "", "", 10); !slices.Equal(got, []string{local.ARN, awsPol.ARN}) {
			t.Errorf("policies attached to %s = %v", kind, got)
		}
		if got := attached(e, "/eng/", "", 10); !slices.Equal(got, []string{local.ARN}) {
			t.Errorf("policies under /eng/ attached to %s = %v", kind, got)
		}
		if got := attached(e, "", local.ARN, 10); !slices.Equal(got, []string{awsPol.ARN}) {
			t.Errorf("policies attached to %s after the first = %v", kind, got)
		}
	}
	wantErr(t, "AttachPolicy(AWS-managed, account2)", s.AttachPolicy(ctx, u2, awsPol.ARN), nil)
	wantErr(t, "AttachPolicy(account2's own)", s.AttachPolicy(ctx, u2, theirs.ARN), nil)
	_, err := s.ListAttachedPolicies(ctx, store.EntityRef{Kind: store.KindRole, Account: account, Name: "No"}, "", "", 10)
	wantErr(t, "ListAttachedPolicies(absent entity)", err, store.ErrNotFound)

	// Counts and listed entities, per account.
	ps, err := s.ListAttachedPolicies(ctx, refs[store.KindUser], "", "", 10)
	wantErr(t, "ListAttachedPolicies", err, nil)
	if len(ps) != 2 || ps[0].AttachmentCount != 3 || ps[1].AttachmentCount != 3 {
		t.Errorf("attached policies with counts: %+v", ps)
	}
	entities := func(acct, arn string, kind store.EntityKind, prefix, after string, limit int) []string {
		t.Helper()
		es, err := s.ListEntitiesForPolicy(ctx, acct, arn, kind, prefix, after, limit)
		wantErr(t, "ListEntitiesForPolicy", err, nil)
		return names(es, func(e store.Entity) string { return e.ARN })
	}
	all := []string{ // group < role < user
		iamARN(account, store.KindGroup, "/", "E"), iamARN(account, store.KindRole, "/", "E"), iamARN(account, store.KindUser, "/", "E"),
	}
	tests := []struct {
		name    string
		account string
		arn     string
		kind    store.EntityKind
		prefix  string
		after   string
		limit   int
		want    []string
	}{
		{"local", account, local.ARN, "", "", "", 10, all},
		{"aws in account", account, awsPol.ARN, "", "", "", 10, all},
		{"aws in account2", account2, awsPol.ARN, "", "", "", 10, []string{iamARN(account2, store.KindUser, "/", "E")}},
		{"roles", account, local.ARN, store.KindRole, "", "", 10, all[1:2]},
		{"paged", account, local.ARN, "", "", all[0], 1, all[1:2]},
		{"path", account, local.ARN, "", "/x/", "", 10, nil},
		{"after last", account, local.ARN, "", "", all[2], 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := entities(tt.account, tt.arn, tt.kind, tt.prefix, tt.after, tt.limit); !slices.Equal(got, tt.want) {
				t.Errorf("ListEntitiesForPolicy = %v, want %v", got, tt.want)
			}
		})
	}
	es, err := s.ListEntitiesForPolicy(ctx, account, local.ARN, store.KindUser, "/", "", 10)
	wantErr(t, "ListEntitiesForPolicy", err, nil)
	u, _ := s.GetUser(ctx, account, "E")
	same(t, "listed entity", es, []store.Entity{{Kind: store.KindUser, Account: account, Name: "E", Path: "/", ID: u.ID, ARN: u.ARN}}, func(e []store.Entity) []store.Entity { return e })
	_, err = s.ListEntitiesForPolicy(ctx, account, theirs.ARN, "", "", "", 10)
	wantErr(t, "ListEntitiesForPolicy(another account's policy)", err, store.ErrNotFound)

	// Detach.
	wantErr(t, "DetachPolicy", s.DetachPolicy(ctx, refs[store.KindGroup], local.ARN), nil)
	wantErr(t, "DetachPolicy(again)", s.DetachPolicy(ctx, refs[store.KindGroup], local.ARN), store.ErrNotFound)
	wantErr(t, "DetachPolicy(never attached)", s.DetachPolicy(ctx, u2, local.ARN), store.ErrNotFound)
	wantErr(t, "DetachPolicy(absent policy)", s.DetachPolicy(ctx, u2, policyARN(account, "/", "No")), store.ErrNotFound)
	wantErr(t, "DetachPolicy(absent entity)", s.DetachPolicy(ctx, store.EntityRef{Kind: store.KindUser, Account: account, Name: "No"}, local.ARN), store.ErrNotFound)
	if got := entities(account, local.ARN, "", "", "", 10); !slices.Equal(got, all[1:]) {
		t.Errorf("entities after detaching the group = %v", got)
	}

	// At most MaxAttachedPolicies per entity.
	r := refs[store.KindRole]
	for i := 0; len(attached(r, "", "", 100)) < store.MaxAttachedPolicies; i++ {
		p := mustPolicy(t, s, newPolicy(account, "/many/", fmt.Sprint("p", i)))
		wantErr(t, "AttachPolicy", s.AttachPolicy(ctx, r, p.ARN), nil)
	}
	extra := mustPolicy(t, s, newPolicy(account, "/many/", "extra"))
	wantErr(t, "AttachPolicy(over the limit)", s.AttachPolicy(ctx, r, extra.ARN), store.ErrLimit)
	wantErr(t, "AttachPolicy(attached already, at the limit)", s.AttachPolicy(ctx, r, local.ARN), nil)
	if n := len(attached(r, "", "", 100)); n != store.MaxAttachedPolicies {
		t.Errorf("%d policies attached, want %d", n, store.MaxAttachedPolicies)
	}
	// The limit is per entity: the user of the same name is not affected.
	wantErr(t, "AttachPolicy(user)", s.AttachPolicy(ctx, refs[store.KindUser], extra.ARN), nil)
}

func testUserAccessKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account, account2)
	alice := mustUser(t, s, account, "Alice")
	mustUser(t, s, account2, "Alice")
	key := func(id, acct, user string) store.AccessKey {
		arn := "arn:aws:iam::" + acct + ":root"
		if user != "" {
			arn = iamARN(acct, store.KindUser, "/", user)
		}
		return store.AccessKey{ID: id, Account: acct, PrincipalARN: arn, UserName: user,
			WrappedSecret: []byte("wrapped " + id), CreatedAt: base, Active: true}
	}
	list := func(acct, user string) []store.AccessKey {
		t.Helper()
		ks, err := s.ListAccessKeysForUser(ctx, acct, user)
		wantErr(t, "ListAccessKeysForUser", err, nil)
		return ks
	}
	if ks := list(account, "Alice"); ks == nil || len(ks) != 0 {
		t.Errorf("keys of a user without keys = %#v, want an empty slice", ks)
	}

	k2 := key("AKIA2", account, "alice") // stored under the user's own case
	k1 := key("AKIA1", account, "Alice")
	k1.Active = false
	wantErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, k2), nil)
	wantErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, k1), nil)
	k2.UserName = "Alice"
	wantErr(t, "CreateAccessKey(third)", s.CreateAccessKey(ctx, key("AKIA3", account, "Alice")), store.ErrLimit)
	wantErr(t, "CreateAccessKey(absent user)", s.CreateAccessKey(ctx, key("AKIA4", account, "Bob")), store.ErrNotFound)
	wantErr(t, "CreateAccessKey(user, absent account)", s.CreateAccessKey(ctx, key("AKIA5", "999999999999", "Alice")), store.ErrNotFound)
	for _, id := range []string{"AKIA3", "AKIA4", "AKIA5"} {
		_, err := s.GetAccessKey(ctx, id)
		wantErr(t, "GetAccessKey(refused "+id+")", err, store.ErrNotFound)
	}
	// The limit is per user.
	wantErr(t, "CreateAccessKey(other account's Alice)", s.CreateAccessKey(ctx, key("AKIA6", account2, "Alice")), nil)
	// The account root is not limited here, and its keys have no user.
	for _, id := range []string{"AKIAR1", "AKIAR3", "AKIAR2"} {
		wantErr(t, "CreateAccessKey(root)", s.CreateAccessKey(ctx, key(id, account, "")), nil)
	}
	wantErr(t, "CreateAccessKey(root, other account)", s.CreateAccessKey(ctx, key("AKIAR9", account2, "")), nil)

	same(t, "keys of Alice", list(account, "ALICE"), []store.AccessKey{k1, k2}, normAll(normUserAccessKey))
	got, err := s.GetAccessKey(ctx, "AKIA2")
	wantErr(t, "GetAccessKey", err, nil)
	same(t, "GetAccessKey", got, k2, normUserAccessKey)
	if got.Status() != "Active" || k1.Status() != "Inactive" {
		t.Errorf("Status() = %s and %s", got.Status(), k1.Status())
	}
	if g := names(list(account, ""), func(k store.AccessKey) string { return k.ID }); !slices.Equal(g, []string{"AKIAR1", "AKIAR2", "AKIAR3"}) {
		t.Errorf("root keys = %v", g)
	}
	if g := names(list(account2, ""), func(k store.AccessKey) string { return k.ID }); !slices.Equal(g, []string{"AKIAR9"}) {
		t.Errorf("root keys of account2 = %v", g)
	}
	_, err = s.ListAccessKeysForUser(ctx, account, "Bob")
	wantErr(t, "ListAccessKeysForUser(absent user)", err, store.ErrNotFound)

	// Renaming the user renames its keys' user and principal.
	alice.Name, alice.Path, alice.ARN = "Alicia", "/x/", iamARN(account, store.KindUser, "/x/", "Alicia")
	_, err = s.UpdateUser(ctx, alice)
	wantErr(t, "UpdateUser(rename)", err, nil)
	got, err = s.GetAccessKey(ctx, "AKIA1")
	wantErr(t, "GetAccessKey after rename", err, nil)
	if got.UserName != "Alicia" || got.PrincipalARN != alice.ARN {
		t.Errorf("key after rename: user %q principal %q", got.UserName, got.PrincipalARN)
	}
	if ks := list(account, "alicia"); len(ks) != 2 {
		t.Errorf("keys of Alicia = %d", len(ks))
	}

	// Status and deletion.
	wantErr(t, "SetAccessKeyActive(true)", s.SetAccessKeyActive(ctx, "AKIA1", true), nil)
	wantErr(t, "SetAccessKeyActive(true again)", s.SetAccessKeyActive(ctx, "AKIA1", true), nil)
	wantErr(t, "SetAccessKeyActive(false)", s.SetAccessKeyActive(ctx, "AKIA2", false), nil)
	wantErr(t, "SetAccessKeyActive(absent)", s.SetAccessKeyActive(ctx, "AKIAX", false), store.ErrNotFound)
	for id, want := range map[string]bool{"AKIA1": true, "AKIA2": false} {
		got, err := s.GetAccessKey(ctx, id)
		wantErr(t, "GetAccessKey", err, nil)
		if got.Active != want || string(got.WrappedSecret) != "wrapped "+id {
			t.Errorf("%s after SetAccessKeyActive: %+v", id, got)
		}
	}
	wantErr(t, "DeleteAccessKey", s.DeleteAccessKey(ctx, "AKIA2"), nil)
	wantErr(t, "DeleteAccessKey(again)", s.DeleteAccessKey(ctx, "AKIA2"), store.ErrNotFound)
	_, err = s.GetAccessKey(ctx, "AKIA2")
	wantErr(t, "GetAccessKey(deleted)", err, store.ErrNotFound)
	// A deleted key frees a place.
	wantErr(t, "CreateAccessKey(after a delete)", s.CreateAccessKey(ctx, key("AKIA7", account, "Alicia")), nil)
	if g := names(list(account, "Alicia"), func(k store.AccessKey) string { return k.ID }); !slices.Equal(g, []string{"AKIA1", "AKIA7"}) {
		t.Errorf("keys of Alicia = %v", g)
	}
	all, err := s.ListAccessKeys(ctx)
	wantErr(t, "ListAccessKeys", err, nil)
	if len(all) != 7 {
		t.Errorf("ListAccessKeys = %d keys, want 7", len(all))
	}
}

func testAccessKeyLastUsed(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account)
	mustUser(t, s, account, "u")
	for _, k := range []store.AccessKey{
		{ID: "AKIAU", Account: account, UserName: "u", WrappedSecret: []byte("s"), Active: true},
		{ID: "AKIAR", Account: account, WrappedSecret: []byte("s"), Active: true},
	} {
		wantErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, k), nil)
	}
	lastUsed := func(id string) (time.Time, string, string) {
		t.Helper()
		k, err := s.GetAccessKey(ctx, id)
		wantErr(t, "GetAccessKey", err, nil)
		return k.LastUsedAt, k.LastUsedService, k.LastUsedRegion
	}
	if at, svc, reg := lastUsed("AKIAU"); !at.IsZero() || svc != "" || reg != "" {
		t.Errorf("never used key: %v %q %q", at, svc, reg)
	}
	gen := generation(t, s)
	t1, t2, t3 := base.Add(time.Minute), base.Add(2*time.Minute), base.Add(3*time.Minute)
	batches := []struct {
		name string
		uses []store.AccessKeyUse
		want map[string]store.AccessKeyUse
	}{
		{"first", []store.AccessKeyUse{
			{ID: "AKIAU", At: t2, Service: "kms", Region: region},
			{ID: "AKIAR", At: t1, Service: "sts", Region: region2},
			{ID: "AKIAGONE", At: t1, Service: "kms", Region: region}, // skipped
		}, map[string]store.AccessKeyUse{
			"AKIAU": {At: t2, Service: "kms", Region: region},
			"AKIAR": {At: t1, Service: "sts", Region: region2},
		}},
		{"older and newer in one batch", []store.AccessKeyUse{
			{ID: "AKIAU", At: t1, Service: "iam", Region: region2}, // older: skipped
			{ID: "AKIAR", At: t3, Service: "kms", Region: region},
			{ID: "AKIAR", At: t2, Service: "iam", Region: region2}, // older than the one before
		}, map[string]store.AccessKeyUse{
			"AKIAU": {At: t2, Service: "kms", Region: region},
			"AKIAR": {At: t3, Service: "kms", Region: region},
		}},
		{"same time again", []store.AccessKeyUse{{ID: "AKIAU", At: t2, Service: "sts", Region: region2}},
			map[string]store.AccessKeyUse{"AKIAU": {At: t2, Service: "kms", Region: region}}},
		{"empty", nil, map[string]store.AccessKeyUse{"AKIAU": {At: t2, Service: "kms", Region: region}}},
	}
	for _, b := range batches {
		wantErr(t, "UpdateAccessKeyLastUsed("+b.name+")", s.UpdateAccessKeyLastUsed(ctx, b.uses), nil)
		for id, want := range b.want {
			at, svc, reg := lastUsed(id)
			if !at.Equal(want.At) || at.Location() != time.UTC || svc != want.Service || reg != want.Region {
				t.Errorf("after %s: %s last used %v %q %q, want %v %q %q", b.name, id, at, svc, reg, want.At, want.Service, want.Region)
			}
		}
	}
	if err := s.UpdateAccessKeyLastUsed(ctx, []store.AccessKeyUse{{ID: "AKIAU", Service: "kms"}}); err == nil {
		t.Error("UpdateAccessKeyLastUsed with a zero time succeeded")
	}
	if g := generation(t, s); g != gen {
		t.Errorf("recording uses moved the generation from %d to %d", gen, g)
	}
	ks, err := s.ListAccessKeysForUser(ctx, account, "u")
	wantErr(t, "ListAccessKeysForUser", err, nil)
	if len(ks) != 1 || !ks[0].LastUsedAt.Equal(t2) {
		t.Errorf("listed key: %+v", ks)
	}
}

// grantKey creates a key to hang grants on.
func grantKey(t *testing.T, s store.Store, i int) store.Key {
	t.Helper()
	return mustCreate(t, s, newKey(keyID(i), account, region))
}

func newGrant(k store.Key, id int, name string) store.Grant {
	return store.Grant{
		KeyID: k.ID, GrantID: fmt.Sprintf("%064x", id), Name: name, Account: k.Account, Region: k.Region,
		GranteePrincipal:                   "arn:aws:iam::" + account + ":role/app",
		RetiringPrincipal:                  "arn:aws:iam::" + account + ":role/ops",
		IssuingAccount:                     "arn:aws:iam::" + account + ":root",
		Operations:                         []string{"Encrypt", "Decrypt", "GenerateDataKey"},
		ConstraintsEncryptionContextEquals: map[string]string{"app": "pay", "": "empty key"},
		CreatedAt:                          base.Add(time.Duration(id) * time.Second),
	}
}

func testGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1, k2 := grantKey(t, s, 1), grantKey(t, s, 2)
	g1 := newGrant(k1, 3, "")
	g2 := newGrant(k1, 1, "named")
	g2.ConstraintsEncryptionContextEquals = nil
	g2.ConstraintsEncryptionContextSubset = map[string]string{}
	g2.RetiringPrincipal = ""
	g3 := newGrant(k1, 2, "")
	g3.GranteePrincipal = "arn:aws:iam::" + account + ":user/bob"
	g3.Operations = nil
	g3.ConstraintsEncryptionContextEquals = nil
	g4 := newGrant(k2, 4, "")
	for _, g := range []store.Grant{g1, g2, g3, g4} {
		got, err := s.CreateGrant(ctx, g, 100)
		wantErr(t, "CreateGrant", err, nil)
		same(t, "CreateGrant result", got, g, normGrant)
	}
	for _, g := range []store.Grant{g1, g2, g3, g4} {
		got, err := s.GetGrant(ctx, g.KeyID, g.GrantID)
		wantErr(t, "GetGrant", err, nil)
		same(t, "GetGrant", got, g, normGrant)
	}
	got, _ := s.GetGrant(ctx, g2.KeyID, g2.GrantID)
	if got.ConstraintsEncryptionContextEquals != nil || got.ConstraintsEncryptionContextSubset == nil {
		t.Errorf("nil and empty constraints read back as %#v and %#v", got.ConstraintsEncryptionContextEquals, got.ConstraintsEncryptionContextSubset)
	}
	// The returned grant is the caller's.
	got.Operations[0] = "changed"
	got, _ = s.GetGrant(ctx, g2.KeyID, g2.GrantID)
	same(t, "GetGrant after changing a returned grant", got, g2, normGrant)

	_, err := s.GetGrant(ctx, k2.ID, g1.GrantID)
	wantErr(t, "GetGrant(other key)", err, store.ErrNotFound)
	_, err = s.GetGrant(ctx, k1.ID, fmt.Sprintf("%064x", 99))
	wantErr(t, "GetGrant(absent)", err, store.ErrNotFound)

	wrongKey := []struct {
		name string
		edit func(g *store.Grant)
	}{
		{"absent key", func(g *store.Grant) { g.KeyID = keyID(9) }},
		{"other account", func(g *store.Grant) { g.Account = account2 }},
		{"other region", func(g *store.Grant) { g.Region = region2 }},
	}
	for i, c := range wrongKey {
		g := newGrant(k1, 50+i, "")
		c.edit(&g)
		_, err := s.CreateGrant(ctx, g, 100)
		wantErr(t, "CreateGrant("+c.name+")", err, store.ErrNotFound)
	}
	taken := newGrant(k2, 1, "other") // g2's GrantID
	got, err = s.CreateGrant(ctx, taken, 100)
	wantErr(t, "CreateGrant(GrantID taken)", err, store.ErrExists)
	if got.GrantID != "" {
		t.Errorf("CreateGrant with a taken GrantID returned grant %s, want a zero Grant", got.GrantID)
	}
	if _, err := s.CreateGrant(ctx, newGrant(k1, 60, ""), 0); err == nil {
		t.Error("CreateGrant with cap 0 succeeded")
	}

	list := func(keyID string, f store.GrantFilter, after string, limit int) []string {
		t.Helper()
		gs, err := s.ListGrants(ctx, keyID, f, after, limit)
		wantErr(t, "ListGrants", err, nil)
		return names(gs, func(g store.Grant) string { return g.GrantID })
	}
	tests := []struct {
		name   string
		keyID  string
		filter store.GrantFilter
		after  string
		limit  int
		want   []store.Grant
	}{
		{"all of k1", k1.ID, store.GrantFilter{}, "", 10, []store.Grant{g2, g3, g1}},
		{"paged", k1.ID, store.GrantFilter{}, g2.GrantID, 1, []store.Grant{g3}},
		{"after last", k1.ID, store.GrantFilter{}, g1.GrantID, 10, nil},
		{"by id", k1.ID, store.GrantFilter{GrantID: g3.GrantID}, "", 10, []store.Grant{g3}},
		{"by id of other key", k1.ID, store.GrantFilter{GrantID: g4.GrantID}, "", 10, nil},
		{"by grantee", k1.ID, store.GrantFilter{GranteePrincipal: g1.GranteePrincipal}, "", 10, []store.Grant{g2, g1}},
		{"by grantee and id", k1.ID, store.GrantFilter{GranteePrincipal: g1.GranteePrincipal, GrantID: g3.GrantID}, "", 10, nil},
		{"k2", k2.ID, store.GrantFilter{}, "", 10, []store.Grant{g4}},
		{"absent key", keyID(9), store.GrantFilter{}, "", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := names(tt.want, func(g store.Grant) string { return g.GrantID })
			if got := list(tt.keyID, tt.filter, tt.after, tt.limit); !slices.Equal(got, want) {
				t.Errorf("ListGrants = %v, want %v", got, want)
			}
		})
	}
	gs, err := s.ListGrants(ctx, k1.ID, store.GrantFilter{}, "", 10)
	wantErr(t, "ListGrants", err, nil)
	same(t, "listed grants", gs, []store.Grant{g2, g3, g1}, normAll(normGrant))

	retiring := func(p, after string, limit int) []string {
		t.Helper()
		gs, err := s.ListGrantsByRetiringPrincipal(ctx, p, after, limit)
		wantErr(t, "ListGrantsByRetiringPrincipal", err, nil)
		return names(gs, func(g store.Grant) string { return g.GrantID })
	}
	if got := retiring(g1.RetiringPrincipal, "", 10); !slices.Equal(got, []string{g3.GrantID, g1.GrantID, g4.GrantID}) {
		t.Errorf("retirable grants = %v", got)
	}
	if got := retiring(g1.RetiringPrincipal, g3.GrantID, 1); !slices.Equal(got, []string{g1.GrantID}) {
		t.Errorf("retirable grants, paged = %v", got)
	}
	if got := retiring("", "", 10); len(got) != 0 {
		t.Errorf("grants retirable by \"\" = %v", got)
	}

	wantErr(t, "DeleteGrant(other key)", s.DeleteGrant(ctx, k2.ID, g1.GrantID), store.ErrNotFound)
	wantErr(t, "DeleteGrant", s.DeleteGrant(ctx, k1.ID, g1.GrantID), nil)
	wantErr(t, "DeleteGrant(again)", s.DeleteGrant(ctx, k1.ID, g1.GrantID), store.ErrNotFound)
	_, err = s.GetGrant(ctx, k1.ID, g1.GrantID)
	wantErr(t, "GetGrant(deleted)", err, store.ErrNotFound)
	if got := list(k1.ID, store.GrantFilter{}, "", 10); !slices.Equal(got, []string{g2.GrantID, g3.GrantID}) {
		t.Errorf("grants after delete = %v", got)
	}
}

func testGrantIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	k, other := grantKey(t, s, 1), grantKey(t, s, 2)
	orig := newGrant(k, 1, "retry-me")
	stored, err := s.CreateGrant(ctx, orig, 100)
	wantErr(t, "CreateGrant", err, nil)

	tests := []struct {
		name  string
		edit  func(g *store.Grant)
		retry bool // same grant: ErrExists with the original
	}{
		{"identical", func(g *store.Grant) {}, true},
		{"operations reordered", func(g *store.Grant) { g.Operations = []string{"GenerateDataKey", "Encrypt", "Decrypt"} }, true},
		{"operations repeated", func(g *store.Grant) { g.Operations = append(g.Operations, "Encrypt") }, true},
		{"constraint map rebuilt", func(g *store.Grant) {
			g.ConstraintsEncryptionContextEquals = map[string]string{"": "empty key", "app": "pay"}
		}, true},
		{"other time", func(g *store.Grant) { g.CreatedAt = base.Add(time.Hour) }, true},
		{"other name", func(g *store.Grant) { g.Name = "Retry-Me" }, false},
		{"no name", func(g *store.Grant) { g.Name = "" }, false},
		{"other grantee", func(g *store.Grant) { g.GranteePrincipal += "x" }, false},
		{"other retiring", func(g *store.Grant) { g.RetiringPrincipal = "" }, false},
		{"other issuer", func(g *store.Grant) { g.IssuingAccount = "arn:aws:iam::" + account2 + ":root" }, false},
		{"fewer operations", func(g *store.Grant) { g.Operations = g.Operations[:2] }, false},
		{"other constraint value", func(g *store.Grant) {
			g.ConstraintsEncryptionContextEquals = map[string]string{"app": "other", "": "empty key"}
		}, false},
		{"equals constraint dropped", func(g *store.Grant) { g.ConstraintsEncryptionContextEquals = nil }, false},
		{"equals constraint empty", func(g *store.Grant) { g.ConstraintsEncryptionContextEquals = map[string]string{} }, false},
		{"subset constraint added", func(g *store.Grant) { g.ConstraintsEncryptionContextSubset = map[string]string{} }, false},
		{"constraint kind swapped", func(g *store.Grant) {
			g.ConstraintsEncryptionContextSubset, g.ConstraintsEncryptionContextEquals = g.ConstraintsEncryptionContextEquals, nil
		}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGrant(k, 100+i, "retry-me")
			tt.edit(&g)
			got, err := s.CreateGrant(ctx, g, 100)
			if tt.retry {
				wantErr(t, "CreateGrant(retry)", err, store.ErrExists)
				same(t, "grant returned for a retry", got, stored, normGrant)
				_, err := s.GetGrant(ctx, k.ID, g.GrantID)
				wantErr(t, "GetGrant(the retry's own id)", err, store.ErrNotFound)
				return
			}
			wantErr(t, "CreateGrant(not a retry)", err, nil)
			if got.GrantID != g.GrantID {
				t.Errorf("a new grant got GrantID %s, want %s", got.GrantID, g.GrantID)
			}
			// Once stored, it is itself retried by an identical request.
			again := g
			again.GrantID = fmt.Sprintf("%064x", 1000+i)
			got, err = s.CreateGrant(ctx, again, 100)
			if g.Name == "" {
				wantErr(t, "CreateGrant(identical, no name)", err, nil)
				return
			}
			wantErr(t, "CreateGrant(retry of the new grant)", err, store.ErrExists)
			if got.GrantID != g.GrantID {
				t.Errorf("retry of the new grant returned %s, want %s", got.GrantID, g.GrantID)
			}
		})
	}
	// The same Name on another key is another grant.
	g := newGrant(other, 500, "retry-me")
	got, err := s.CreateGrant(ctx, g, 100)
	wantErr(t, "CreateGrant(same name, other key)", err, nil)
	if got.GrantID != g.GrantID {
		t.Errorf("grant on the other key = %s, want %s", got.GrantID, g.GrantID)
	}
	// After the grant is deleted, the Name creates anew.
	wantErr(t, "DeleteGrant", s.DeleteGrant(ctx, k.ID, orig.GrantID), nil)
	fresh := newGrant(k, 600, "retry-me")
	got, err = s.CreateGrant(ctx, fresh, 100)
	wantErr(t, "CreateGrant(after delete)", err, nil)
	if got.GrantID != fresh.GrantID {
		t.Errorf("CreateGrant after delete = %s, want %s", got.GrantID, fresh.GrantID)
	}
}

func testGrantCap(t *testing.T, s store.Store) {
	ctx := t.Context()
	k, other := grantKey(t, s, 1), grantKey(t, s, 2)
	const max = 3
	for i := range max {
		_, err := s.CreateGrant(ctx, newGrant(k, i, fmt.Sprint("n", i)), max)
		wantErr(t, "CreateGrant", err, nil)
	}
	_, err := s.CreateGrant(ctx, newGrant(k, 10, "over"), max)
	wantErr(t, "CreateGrant(over the cap)", err, store.ErrLimit)
	_, err = s.GetGrant(ctx, k.ID, fmt.Sprintf("%064x", 10))
	wantErr(t, "GetGrant(refused)", err, store.ErrNotFound)
	// A retry at the cap still finds its grant.
	got, err := s.CreateGrant(ctx, newGrant(k, 11, "n1"), max)
	wantErr(t, "CreateGrant(retry at the cap)", err, store.ErrExists)
	if got.GrantID != fmt.Sprintf("%064x", 1) {
		t.Errorf("retry at the cap returned %s", got.GrantID)
	}
	// A higher cap admits more; the cap is per key.
	_, err = s.CreateGrant(ctx, newGrant(k, 12, ""), max+1)
	wantErr(t, "CreateGrant(higher cap)", err, nil)
	_, err = s.CreateGrant(ctx, newGrant(other, 13, ""), 1)
	wantErr(t, "CreateGrant(other key)", err, nil)
	// Deleting one frees a place.
	wantErr(t, "DeleteGrant", s.DeleteGrant(ctx, k.ID, fmt.Sprintf("%064x", 0)), nil)
	_, err = s.CreateGrant(ctx, newGrant(k, 14, ""), max+1)
	wantErr(t, "CreateGrant(after delete)", err, nil)
}

func testGrantsDeletedWithKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	k, other := grantKey(t, s, 1), grantKey(t, s, 2)
	for i := range 3 {
		_, err := s.CreateGrant(ctx, newGrant(k, i, ""), 10)
		wantErr(t, "CreateGrant", err, nil)
	}
	kept := newGrant(other, 9, "")
	_, err := s.CreateGrant(ctx, kept, 10)
	wantErr(t, "CreateGrant", err, nil)

	gen := generation(t, s)
	wantErr(t, "DeleteKey", s.DeleteKey(ctx, k.ID, k.Revision), nil)
	if g := generation(t, s); g <= gen {
		t.Errorf("deleting a key with grants left the generation at %d (was %d)", g, gen)
	}
	gs, err := s.ListGrants(ctx, k.ID, store.GrantFilter{}, "", 10)
	wantErr(t, "ListGrants(deleted key)", err, nil)
	if len(gs) != 0 {
		t.Errorf("grants of a deleted key: %d", len(gs))
	}
	_, err = s.GetGrant(ctx, k.ID, fmt.Sprintf("%064x", 0))
	wantErr(t, "GetGrant(deleted key)", err, store.ErrNotFound)
	gs, err = s.ListGrantsByRetiringPrincipal(ctx, kept.RetiringPrincipal, "", 10)
	wantErr(t, "ListGrantsByRetiringPrincipal", err, nil)
	if len(gs) != 1 {
		t.Errorf("retirable grants after DeleteKey = %d, want 1", len(gs))
	}
	// A new key of the same ID starts without grants.
	grantKey(t, s, 1)
	gs, err = s.ListGrants(ctx, k.ID, store.GrantFilter{}, "", 10)
	wantErr(t, "ListGrants(recreated key)", err, nil)
	if len(gs) != 0 {
		t.Errorf("a recreated key has %d grants", len(gs))
	}
}

func generation(t *testing.T, s store.Store) int64 {
	t.Helper()
	g, err := s.AuthzGeneration(t.Context())
	wantErr(t, "AuthzGeneration", err, nil)
	return g
}

// testAuthzGeneration runs one of every write in turn and checks that each
// moves the generation and that reads and refused writes do not.
func testAuthzGeneration(t *testing.T, s store.Store) {
	ctx := t.Context()
	if g := generation(t, s); g != 0 {
		t.Errorf("generation of a new store = %d, want 0", g)
	}
	k := grantKey(t, s, 1)
	var (
		u    store.User
		g    store.Group
		r    store.Role
		err  error
		pol  = newPolicy(account, "/", "P")
		user = store.EntityRef{Kind: store.KindUser, Account: account, Name: "u"}
	)
	writes := []struct {
		name string
		fn   func() error
	}{
		{"CreateAccount", func() error { return s.CreateAccount(ctx, store.Account{ID: account}) }},
		{"CreateUser", func() error { u = newUser(account, "u"); return s.CreateUser(ctx, u) }},
		{"UpdateUser", func() error { u.Revision = 1; u, err = s.UpdateUser(ctx, u); return err }},
		{"UpdateUser(tags)", func() error { u.Tags = []store.Tag{{Key: "a", Value: "b"}}; u, err = s.UpdateUser(ctx, u); return err }},
		{"CreateGroup", func() error { g = newGroup(account, "g"); return s.CreateGroup(ctx, g) }},
		{"UpdateGroup", func() error { g.Revision = 1; g.Path = "/x/"; _, err := s.UpdateGroup(ctx, g); return err }},
		{"AddUserToGroup", func() error { return s.AddUserToGroup(ctx, account, "g", "u") }},
		{"RemoveUserFromGroup", func() error { return s.RemoveUserFromGroup(ctx, account, "g", "u") }},
		{"CreateRole", func() error { r = newRole(account, "r"); return s.CreateRole(ctx, r) }},
		{"UpdateRole", func() error { r.Revision = 1; r.MaxSessionDuration = 7200; _, err := s.UpdateRole(ctx, r); return err }},
		{"PutInlinePolicy", func() error { return s.PutInlinePolicy(ctx, user, "p", doc("a")) }},
		{"PutInlinePolicy(replace)", func() error { return s.PutInlinePolicy(ctx, user, "p", doc("b")) }},
		{"DeleteInlinePolicy", func() error { return s.DeleteInlinePolicy(ctx, user, "p") }},
		{"CreatePolicy", func() error { return s.CreatePolicy(ctx, pol, doc("a")) }},
		{"CreatePolicyVersion", func() error {
			_, err := s.CreatePolicyVersion(ctx, account, pol.ARN, doc("b"), false, base)
			return err
		}},
		{"SetDefaultPolicyVersion", func() error { return s.SetDefaultPolicyVersion(ctx, account, pol.ARN, "v2") }},
		{"DeletePolicyVersion", func() error { return s.DeletePolicyVersion(ctx, account, pol.ARN, "v1") }},
		{"AttachPolicy", func() error { return s.AttachPolicy(ctx, user, pol.ARN) }},
		{"DetachPolicy", func() error { return s.DetachPolicy(ctx, user, pol.ARN) }},
		{"DeletePolicy", func() error { return s.DeletePolicy(ctx, account, pol.ARN) }},
		{"CreateAccessKey(root)", func() error {
			return s.CreateAccessKey(ctx, store.AccessKey{ID: "AKIAROOT", Account: account, WrappedSecret: []byte("s"), Active: true})
		}},
		{"CreateAccessKey(user)", func() error {
			return s.CreateAccessKey(ctx, store.AccessKey{ID: "AKIAUSER", Account: account, UserName: "u", WrappedSecret: []byte("s"), Active: true})
		}},
		{"SetAccessKeyActive", func() error { return s.SetAccessKeyActive(ctx, "AKIAUSER", false) }},
		{"DeleteAccessKey", func() error { return s.DeleteAccessKey(ctx, "AKIAUSER") }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, account, "u") }},
		{"DeleteGroup", func() error { return s.DeleteGroup(ctx, account, "g") }},
		{"DeleteRole", func() error { return s.DeleteRole(ctx, account, "r") }},
		{"CreateGrant", func() error { _, err := s.CreateGrant(ctx, newGrant(k, 1, "n"), 10); return err }},
		{"DeleteGrant", func() error { return s.DeleteGrant(ctx, k.ID, fmt.Sprintf("%064x", 1)) }},
	}
	refused := []struct {
		name string
		fn   func() error
	}{
		{"CreateAccount(existing)", func() error { return s.CreateAccount(ctx, store.Account{ID: account}) }},
		{"CreateUser(existing)", func() error { return s.CreateUser(ctx, newUser(account, "U")) }},
		{"UpdateUser(stale)", func() error { v := u; v.Revision = 1; _, err := s.UpdateUser(ctx, v); return err }},
		{"DeleteUser(absent)", func() error { return s.DeleteUser(ctx, account, "nobody") }},
		{"AttachPolicy(absent)", func() error { return s.AttachPolicy(ctx, user, policyARN(account, "/", "No")) }},
		{"CreateGrant(retry)", func() error { _, err := s.CreateGrant(ctx, newGrant(k, 2, "n"), 10); return err }},
		{"CreateGrant(cap)", func() error { _, err := s.CreateGrant(ctx, newGrant(k, 3, ""), 1); return err }},
	}
	reads := func() {
		s.GetUser(ctx, account, "u")
		s.ListUsers(ctx, account, "", "", 10)
		s.ListPolicies(ctx, account, store.PolicyFilter{}, "", 10)
		s.ListGrants(ctx, k.ID, store.GrantFilter{}, "", 10)
		s.GetAccessKey(ctx, "AKIAROOT")
		s.AuthzGeneration(ctx)
	}
	last := generation(t, s)
	for i, w := range writes {
		wantErr(t, w.name, w.fn(), nil)
		g := generation(t, s)
		if g <= last {
			t.Errorf("%s: generation %d, was %d", w.name, g, last)
		}
		last = g
		reads()
		if g := generation(t, s); g != last {
			t.Errorf("reads after %s moved the generation from %d to %d", w.name, last, g)
		}
		if i == 12 { // users, groups, roles exist; try the refused writes
			for _, r := range refused[:5] {
				if err := r.fn(); err == nil {
					t.Fatalf("%s succeeded", r.name)
				}
			}
		}
		if g := generation(t, s); g != last {
			t.Errorf("refused writes moved the generation from %d to %d", last, g)
		}
	}
	// Create a grant again for the grant refusals.
	_, err = s.CreateGrant(ctx, newGrant(k, 4, "n"), 10)
	wantErr(t, "CreateGrant", err, nil)
	last = generation(t, s)
	for _, r := range refused[5:] {
		if err := r.fn(); err == nil {
			t.Fatalf("%s succeeded", r.name)
		}
	}
	if g := generation(t, s); g != last {
		t.Errorf("refused grant writes moved the generation from %d to %d", last, g)
	}
}

// testConcurrentLimits races writers at every limit: the limit holds
// exactly, and idempotent creates make one row.
func testConcurrentLimits(t *testing.T, s store.Store) {
	ctx := t.Context()
	accounts(t, s, account)
	mustUser(t, s, account, "u")
	user := store.EntityRef{Kind: store.KindUser, Account: account, Name: "u"}
	pol := mustPolicy(t, s, newPolicy(account, "/", "versions"))
	var pols []store.Policy
	for i := range store.MaxAttachedPolicies + 4 {
		pols = append(pols, mustPolicy(t, s, newPolicy(account, "/", fmt.Sprint("p", i))))
	}
	for i := range store.MaxGroupsPerUser + 3 {
		mustGroup(t, s, account, fmt.Sprint("g", i))
	}
	k := grantKey(t, s, 1)
	capped := grantKey(t, s, 2)

	tests := []struct {
		name    string
		racers  int
		wantOK  int
		wantErr error
		fn      func(i int) error
	}{
		{"access keys", 6, store.MaxAccessKeysPerUser, store.ErrLimit, func(i int) error {
			return s.CreateAccessKey(ctx, store.AccessKey{ID: fmt.Sprint("AKIA", i), Account: account, UserName: "U", WrappedSecret: []byte("s"), Active: true})
		}},
		{"attachments", len(pols), store.MaxAttachedPolicies, store.ErrLimit, func(i int) error {
			return s.AttachPolicy(ctx, user, pols[i].ARN)
		}},
		{"policy versions", 8, store.MaxPolicyVersions - 1, store.ErrLimit, func(i int) error {
			_, err := s.CreatePolicyVersion(ctx, account, pol.ARN, doc(fmt.Sprint(i)), i%2 == 0, base)
			return err
		}},
		{"groups", store.MaxGroupsPerUser + 3, store.MaxGroupsPerUser, store.ErrLimit, func(i int) error {
			return s.AddUserToGroup(ctx, account, fmt.Sprint("g", i), "u")
		}},
		{"grant retries", 6, 1, store.ErrExists, func(i int) error {
			_, err := s.CreateGrant(ctx, newGrant(k, i, "once"), 100)
			return err
		}},
		{"grant cap", 8, 3, store.ErrLimit, func(i int) error {
			_, err := s.CreateGrant(ctx, newGrant(capped, 100+i, ""), 3)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := 0
			for i, err := range race(tt.racers, tt.fn) {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, tt.wantErr):
					t.Errorf("racer %d: %v, want success or %v", i, err, tt.wantErr)
				}
			}
			if ok != tt.wantOK {
				t.Errorf("%d racers succeeded, want %d", ok, tt.wantOK)
			}
		})
	}
	ks, err := s.ListAccessKeysForUser(ctx, account, "u")
	wantErr(t, "ListAccessKeysForUser", err, nil)
	if len(ks) != store.MaxAccessKeysPerUser {
		t.Errorf("user has %d keys", len(ks))
	}
	vs, err := s.ListPolicyVersions(ctx, account, pol.ARN)
	wantErr(t, "ListPolicyVersions", err, nil)
	if got := names(vs, func(v store.PolicyVersion) string { return v.VersionID }); !slices.Equal(got, []string{"v5", "v4", "v3", "v2", "v1"}) {
		t.Errorf("versions after the race = %v", got)
	}
	defaults := 0
	for _, v := range vs {
		if v.IsDefault {
			defaults++
		}
	}
	if defaults != 1 {
		t.Errorf("%d default versions", defaults)
	}
	gs, err := s.ListGrants(ctx, k.ID, store.GrantFilter{}, "", 100)
	wantErr(t, "ListGrants", err, nil)
	if len(gs) != 1 {
		t.Errorf("%d grants named once", len(gs))
	}
}
