// Package storetest is the conformance suite of the store.Store contract.
// Every implementation's tests call Run with a function that opens a fresh,
// empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { … })
//	}
//
// The suite speaks only through store.Store, so it holds for SQLite and
// PostgreSQL alike. Beyond the comments in package store it pins down what
// callers rely on without the interface saying it in words:
//
//   - times round-trip exactly, to the nanosecond, and read back in UTC; the
//     zero time reads back as the zero time and the Unix epoch as the epoch;
//   - tags read back in the order they were written;
//   - names and IDs are ordered byte-wise, as Go compares strings (on
//     PostgreSQL that is COLLATE "C");
//   - CreateAlias and UpdateAlias report ErrNotFound for a KeyID that names
//     no key;
//   - when AddKeyVersion fails, nothing of it is stored: neither the version
//     nor the key's new metadata;
//   - when DeleteKey fails with ErrConflict, nothing is removed: not the
//     key, its versions, its tags nor its aliases.
//
// It must never depend on one implementation: no SQL, no file paths.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// Run runs the conformance suite. open is called once per subtest and must
// return a new, empty store; Run closes it when the subtest ends, so open
// must not close it (it may register other cleanup, such as dropping a
// database, with t.Cleanup: that runs after the Close).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateGetKey", testCreateGetKey},
		{"CreateKeyExists", testCreateKeyExists},
		{"GetKeyNotFound", testGetKeyNotFound},
		{"ListKeys", testListKeys},
		{"UpdateKey", testUpdateKey},
		{"UpdateKeyErrors", testUpdateKeyErrors},
		{"AddKeyVersion", testAddKeyVersion},
		{"AddKeyVersionErrors", testAddKeyVersionErrors},
		{"KeyVersionsUnknownKey", testKeyVersionsUnknownKey},
		{"DeleteKey", testDeleteKey},
		{"DeleteKeyRevision", testDeleteKeyRevision},
		{"KeysDue", testKeysDue},
		{"Aliases", testAliases},
		{"AliasErrors", testAliasErrors},
		{"ListAliases", testListAliases},
		{"AccessKeys", testAccessKeys},
		{"Settings", testSettings},
		{"TimeRoundTrip", testTimeRoundTrip},
		{"BytesRoundTrip", testBytesRoundTrip},
		{"ConcurrentUpdateKey", testConcurrentUpdateKey},
		{"ConcurrentAddKeyVersion", testConcurrentAddKeyVersion},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"ConcurrentDeleteUpdate", testConcurrentDeleteUpdate},
	}
	tests = append(tests, identityTests...) // identity.go
	tests = append(tests, importTests...)   // imported.go
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

const (
	account  = "111122223333"
	account2 = "444455556666"
	region   = "eu-west-1"
	region2  = "us-east-1"
)

// base is a fixed instant with a nanosecond part, not in UTC, so that a
// store that truncates or keeps the location shows.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", 5*3600+30*60))

// keyID returns the i-th test key ID; IDs sort in the order of i.
func keyID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// newKey returns a key with every field set, as the service would create it.
func newKey(id, account, region string) store.Key {
	return store.Key{
		ID:                 id,
		Account:            account,
		Region:             region,
		Description:        "key " + id,
		KeySpec:            "SYMMETRIC_DEFAULT",
		KeyUsage:           "ENCRYPT_DECRYPT",
		Origin:             "AWS_KMS",
		State:              "Enabled",
		CreatedAt:          base,
		Policy:             `{"Version":"2012-10-17","Statement":[]}`,
		RotationEnabled:    true,
		RotationPeriodDays: 365,
		NextRotation:       base.AddDate(1, 0, 0),
		CurrentVersion:     1,
		Tags: []store.Tag{
			{Key: "team", Value: "payments"},
			{Key: "env", Value: "prod"},
			{Key: "a", Value: ""},
		},
		Revision: 42, // ignored by CreateKey
	}
}

// newVersion returns version v of the key id.
func newVersion(id string, v uint32) store.KeyVersion {
	rt := "AUTOMATIC"
	if v == 1 {
		rt = ""
	}
	return store.KeyVersion{
		KeyID:        id,
		Version:      v,
		MaterialID:   fmt.Sprintf("%064x", v),
		Wrapped:      []byte(fmt.Sprintf("wrapped material %d of %s\x00\xff", v, id)),
		CreatedAt:    base.Add(time.Duration(v) * time.Hour),
		RotationType: rt,
	}
}

// mustCreate stores k with its first version and returns k as GetKey
// should return it.
func mustCreate(t *testing.T, s store.Store, k store.Key) store.Key {
	t.Helper()
	if err := s.CreateKey(t.Context(), k, newVersion(k.ID, 1)); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
	k.Revision = 1
	return k
}

func mustGet(t *testing.T, s store.Store, id string) store.Key {
	t.Helper()
	k, err := s.GetKey(t.Context(), id)
	if err != nil {
		t.Fatalf("GetKey(%s): %v", id, err)
	}
	return k
}

// wantErr fails the test unless errors.Is(err, want); want nil means no
// error.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v, want no error", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// normTime is t as an instant: UTC, no monotonic reading, zero stays zero.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

func normKey(k store.Key) store.Key {
	k.CreatedAt = normTime(k.CreatedAt)
	k.DeletionDate = normTime(k.DeletionDate)
	k.NextRotation = normTime(k.NextRotation)
	if len(k.Tags) == 0 {
		k.Tags = nil
	}
	return k
}

func normVersion(v store.KeyVersion) store.KeyVersion {
	v.CreatedAt = normTime(v.CreatedAt)
	if len(v.Wrapped) == 0 {
		v.Wrapped = nil
	}
	return v
}

func normAlias(a store.Alias) store.Alias {
	a.CreatedAt = normTime(a.CreatedAt)
	a.UpdatedAt = normTime(a.UpdatedAt)
	return a
}

func normAccessKey(k store.AccessKey) store.AccessKey {
	k.CreatedAt = normTime(k.CreatedAt)
	if len(k.WrappedSecret) == 0 {
		k.WrappedSecret = nil
	}
	return k
}

// same compares after normalizing with norm: times as instants, an empty
// slice as nil.
func same[T any](t *testing.T, what string, got, want T, norm func(T) T) {
	t.Helper()
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func sameKey(t *testing.T, what string, got, want store.Key) {
	t.Helper()
	same(t, what, got, want, normKey)
}

func sameKeys(t *testing.T, what string, got, want []store.Key) {
	t.Helper()
	same(t, what, got, want, func(ks []store.Key) []store.Key {
		var out []store.Key
		for _, k := range ks {
			out = append(out, normKey(k))
		}
		return out
	})
}

func sameVersions(t *testing.T, what string, got, want []store.KeyVersion) {
	t.Helper()
	same(t, what, got, want, func(vs []store.KeyVersion) []store.KeyVersion {
		var out []store.KeyVersion
		for _, v := range vs {
			out = append(out, normVersion(v))
		}
		return out
	})
}

func ids(ks []store.Key) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}

func aliasNames(as []store.Alias) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func testCreateGetKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := newKey(keyID(1), account, region)
	k.DeletionDate = base.Add(7 * 24 * time.Hour)
	k.PendingWindowDays = 7
	k.State = "PendingDeletion"
	k.OnDemandRotations = 3
	k.Description = "ünïcödé 🔑 'quotes' \"double\" ; DROP TABLE keys; --"
	want := mustCreate(t, s, k)

	got := mustGet(t, s, k.ID)
	sameKey(t, "GetKey", got, want)
	if got.Revision != 1 {
		t.Errorf("Revision = %d, want 1", got.Revision)
	}

	vs, err := s.KeyVersions(ctx, k.ID)
	wantErr(t, "KeyVersions", err, nil)
	sameVersions(t, "KeyVersions", vs, []store.KeyVersion{newVersion(k.ID, 1)})

	// A key without tags or optional times.
	bare := store.Key{ID: keyID(2), Account: account, Region: region, State: "Enabled", CurrentVersion: 1}
	mustCreate(t, s, bare)
	got = mustGet(t, s, bare.ID)
	bare.Revision = 1
	sameKey(t, "GetKey(bare)", got, bare)
	if len(got.Tags) != 0 || !got.CreatedAt.IsZero() || !got.DeletionDate.IsZero() || !got.NextRotation.IsZero() {
		t.Errorf("bare key read back as %+v", got)
	}

	// The returned key is the caller's: changing it changes nothing stored.
	got = mustGet(t, s, k.ID)
	got.Tags[0].Value = "changed"
	sameKey(t, "GetKey after changing a returned key", mustGet(t, s, k.ID), want)
}

func testCreateKeyExists(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := mustCreate(t, s, newKey(keyID(1), account, region))

	other := newKey(keyID(1), account2, region2)
	other.Description = "other"
	other.Tags = []store.Tag{{Key: "other", Value: "x"}}
	v := newVersion(k.ID, 1)
	v.Wrapped = []byte("other material")
	wantErr(t, "CreateKey(same id)", s.CreateKey(ctx, other, v), store.ErrExists)

	// Nothing of the failed create is stored.
	sameKey(t, "GetKey after failed create", mustGet(t, s, k.ID), k)
	vs, err := s.KeyVersions(ctx, k.ID)
	wantErr(t, "KeyVersions", err, nil)
	sameVersions(t, "KeyVersions after failed create", vs, []store.KeyVersion{newVersion(k.ID, 1)})
}

func testGetKeyNotFound(t *testing.T, s store.Store) {
	_, err := s.GetKey(t.Context(), keyID(1))
	wantErr(t, "GetKey(absent)", err, store.ErrNotFound)
	mustCreate(t, s, newKey(keyID(1), account, region))
	_, err = s.GetKey(t.Context(), keyID(2))
	wantErr(t, "GetKey(absent)", err, store.ErrNotFound)
}

func testListKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Created out of order, in two accounts and two regions.
	var mine []store.Key
	for _, i := range []int{5, 1, 9, 3, 7} {
		k := newKey(keyID(i), account, region)
		k.Tags = append(k.Tags, store.Tag{Key: fmt.Sprint("n", i), Value: fmt.Sprint(i)})
		mine = append(mine, mustCreate(t, s, k))
	}
	// Byte-wise, as the store must order them.
	slices.SortFunc(mine, func(a, b store.Key) int { return strings.Compare(a.ID, b.ID) })
	mustCreate(t, s, newKey(keyID(2), account2, region))
	mustCreate(t, s, newKey(keyID(4), account, region2))
	mustCreate(t, s, newKey(keyID(6), account2, region2))

	all, err := s.ListKeys(ctx, account, region, "", 100)
	wantErr(t, "ListKeys", err, nil)
	sameKeys(t, "ListKeys(all)", all, mine)

	tests := []struct {
		name    string
		account string
		region  string
		after   string
		limit   int
		want    []string
	}{
		{"first page", account, region, "", 2, []string{keyID(1), keyID(3)}},
		{"second page", account, region, keyID(3), 2, []string{keyID(5), keyID(7)}},
		{"last page", account, region, keyID(7), 2, []string{keyID(9)}},
		{"after last", account, region, keyID(9), 2, nil},
		{"after absent id", account, region, keyID(4), 10, []string{keyID(5), keyID(7), keyID(9)}},
		{"limit 1", account, region, keyID(1), 1, []string{keyID(3)}},
		{"other account", account2, region, "", 10, []string{keyID(2)}},
		{"other region", account, region2, "", 10, []string{keyID(4)}},
		{"other both", account2, region2, "", 10, []string{keyID(6)}},
		{"unknown account", "999999999999", region, "", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListKeys(ctx, tt.account, tt.region, tt.after, tt.limit)
			wantErr(t, "ListKeys", err, nil)
			if g := ids(got); !slices.Equal(g, tt.want) {
				t.Errorf("ListKeys(%s, %s, %q, %d) = %v, want %v", tt.account, tt.region, tt.after, tt.limit, g, tt.want)
			}
		})
	}

	// Paging through with limit 1 visits every key once, in order.
	var paged []store.Key
	after := ""
	for range 10 {
		page, err := s.ListKeys(ctx, account, region, after, 1)
		wantErr(t, "ListKeys", err, nil)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	sameKeys(t, "ListKeys paged by 1", paged, mine)
}

func testUpdateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := mustCreate(t, s, newKey(keyID(1), account, region))
	other := mustCreate(t, s, newKey(keyID(2), account, region))

	// Change every mutable field, replace tags with fewer in a new order,
	// clear one time and set another.
	k.Description = "updated"
	k.State = "PendingDeletion"
	k.DeletionDate = base.Add(30 * 24 * time.Hour)
	k.PendingWindowDays = 30
	k.Policy = `{"Version":"2012-10-17"}`
	k.RotationEnabled = false
	k.RotationPeriodDays = 0
	k.NextRotation = time.Time{}
	k.OnDemandRotations = 2
	k.Tags = []store.Tag{{Key: "z", Value: "last"}, {Key: "team", Value: "other"}}
	got, err := s.UpdateKey(ctx, k)
	wantErr(t, "UpdateKey", err, nil)
	k.Revision = 2
	sameKey(t, "UpdateKey result", got, k)
	sameKey(t, "GetKey after UpdateKey", mustGet(t, s, k.ID), k)
	if !mustGet(t, s, k.ID).NextRotation.IsZero() {
		t.Error("NextRotation cleared by UpdateKey reads back non-zero")
	}

	// Clearing the tags.
	k.Tags = nil
	got, err = s.UpdateKey(ctx, k)
	wantErr(t, "UpdateKey(no tags)", err, nil)
	k.Revision = 3
	sameKey(t, "UpdateKey(no tags) result", got, k)
	if tags := mustGet(t, s, k.ID).Tags; len(tags) != 0 {
		t.Errorf("tags after clearing = %v", tags)
	}

	// Updating with the returned key works: it carries the new revision.
	got.Description = "again"
	got, err = s.UpdateKey(ctx, got)
	wantErr(t, "UpdateKey(returned key)", err, nil)
	if got.Revision != 4 {
		t.Errorf("Revision = %d, want 4", got.Revision)
	}

	// The other key is untouched.
	sameKey(t, "other key", mustGet(t, s, other.ID), other)
	// Versions are untouched.
	vs, err := s.KeyVersions(ctx, k.ID)
	wantErr(t, "KeyVersions", err, nil)
	sameVersions(t, "KeyVersions after UpdateKey", vs, []store.KeyVersion{newVersion(k.ID, 1)})
}

func testUpdateKeyErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := mustCreate(t, s, newKey(keyID(1), account, region))
	if _, err := s.UpdateKey(ctx, k); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	current := mustGet(t, s, k.ID) // revision 2

	tests := []struct {
		name     string
		id       string
		revision int64
		want     error
	}{
		{"stale revision", k.ID, 1, store.ErrConflict},
		{"future revision", k.ID, 3, store.ErrConflict},
		{"zero revision", k.ID, 0, store.ErrConflict},
		{"absent key", keyID(2), 1, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := k
			u.ID = tt.id
			u.Revision = tt.revision
			u.Description = "must not be stored"
			u.Tags = []store.Tag{{Key: "must", Value: "not"}}
			_, err := s.UpdateKey(ctx, u)
			wantErr(t, "UpdateKey", err, tt.want)
			sameKey(t, "key after failed UpdateKey", mustGet(t, s, k.ID), current)
			if _, err := s.GetKey(ctx, keyID(2)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UpdateKey of an absent key created it: GetKey error %v", err)
			}
		})
	}
}

func testAddKeyVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := mustCreate(t, s, newKey(keyID(1), account, region))
	other := mustCreate(t, s, newKey(keyID(2), account, region))

	want := []store.KeyVersion{newVersion(k.ID, 1)}
	for v := uint32(2); v <= 4; v++ {
		nv := newVersion(k.ID, v)
		if v == 3 {
			nv.RotationType = "ON_DEMAND"
			k.OnDemandRotations++
		}
		k.CurrentVersion = v
		k.NextRotation = base.AddDate(int(v), 0, 0)
		got, err := s.AddKeyVersion(ctx, k, nv)
		wantErr(t, fmt.Sprintf("AddKeyVersion(%d)", v), err, nil)
		k.Revision++
		sameKey(t, "AddKeyVersion result", got, k)
		sameKey(t, "GetKey after AddKeyVersion", mustGet(t, s, k.ID), k)
		want = append(want, nv)
	}
	vs, err := s.KeyVersions(ctx, k.ID)
	wantErr(t, "KeyVersions", err, nil)
	sameVersions(t, "KeyVersions, oldest first", vs, want)

	// Another key's versions are its own, and its version 2 may exist too.
	vs, err = s.KeyVersions(ctx, other.ID)
	wantErr(t, "KeyVersions(other)", err, nil)
	sameVersions(t, "KeyVersions(other)", vs, []store.KeyVersion{newVersion(other.ID, 1)})
	other.CurrentVersion = 2
	if _, err := s.AddKeyVersion(ctx, other, newVersion(other.ID, 2)); err != nil {
		t.Fatalf("AddKeyVersion(other, 2): %v", err)
	}
}

func testAddKeyVersionErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := mustCreate(t, s, newKey(keyID(1), account, region))
	k.CurrentVersion = 2
	k, err := s.AddKeyVersion(ctx, k, newVersion(k.ID, 2))
	wantErr(t, "AddKeyVersion(2)", err, nil)
	current := mustGet(t, s, k.ID)
	currentVersions := []store.KeyVersion{newVersion(k.ID, 1), newVersion(k.ID, 2)}

	tests := []struct {
		name     string
		id       string
		revision int64
		version  uint32
		want     error
	}{
		{"existing version", k.ID, k.Revision, 2, store.ErrExists},
		{"first version again", k.ID, k.Revision, 1, store.ErrExists},
		{"stale revision", k.ID, k.Revision - 1, 3, store.ErrConflict},
		{"absent key", keyID(2), 1, 1, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := k
			u.ID = tt.id
			u.Revision = tt.revision
			u.CurrentVersion = tt.version
			u.Description = "must not be stored"
			v := newVersion(tt.id, tt.version)
			v.Wrapped = []byte("must not overwrite")
			_, err := s.AddKeyVersion(ctx, u, v)
			wantErr(t, "AddKeyVersion", err, tt.want)

			// Neither the key's new metadata nor the version is stored,
			// and no material is overwritten.
			sameKey(t, "key after failed AddKeyVersion", mustGet(t, s, k.ID), current)
			vs, err := s.KeyVersions(ctx, k.ID)
			wantErr(t, "KeyVersions", err, nil)
			sameVersions(t, "versions after failed AddKeyVersion", vs, currentVersions)
			if vs, _ := s.KeyVersions(ctx, keyID(2)); len(vs) != 0 {
				t.Errorf("AddKeyVersion of an absent key stored versions %+v", vs)
			}
		})
	}
}

func testKeyVersionsUnknownKey(t *testing.T, s store.Store) {
	vs, err := s.KeyVersions(t.Context(), keyID(1))
	wantErr(t, "KeyVersions(absent)", err, nil)
	if len(vs) != 0 {
		t.Errorf("KeyVersions(absent) = %+v, want empty", vs)
	}
}

func testDeleteKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := mustCreate(t, s, newKey(keyID(1), account, region))
	k.CurrentVersion = 2
	k, err := s.AddKeyVersion(ctx, k, newVersion(k.ID, 2))
	if err != nil {
		t.Fatalf("AddKeyVersion: %v", err)
	}
	other := mustCreate(t, s, newKey(keyID(2), account, region))
	for _, a := range []store.Alias{
		{Account: account, Region: region, Name: "alias/a", KeyID: k.ID, CreatedAt: base, UpdatedAt: base},
		{Account: account, Region: region, Name: "alias/b", KeyID: k.ID, CreatedAt: base, UpdatedAt: base},
		{Account: account, Region: region, Name: "alias/c", KeyID: other.ID, CreatedAt: base, UpdatedAt: base},
	} {
		if err := s.CreateAlias(ctx, a); err != nil {
			t.Fatalf("CreateAlias(%s): %v", a.Name, err)
		}
	}

	wantErr(t, "DeleteKey", s.DeleteKey(ctx, k.ID, k.Revision), nil)

	_, err = s.GetKey(ctx, k.ID)
	wantErr(t, "GetKey(deleted)", err, store.ErrNotFound)
	vs, err := s.KeyVersions(ctx, k.ID)
	wantErr(t, "KeyVersions(deleted)", err, nil)
	if len(vs) != 0 {
		t.Errorf("versions of a deleted key: %+v", vs)
	}
	for _, name := range []string{"alias/a", "alias/b"} {
		_, err := s.GetAlias(ctx, account, region, name)
		wantErr(t, "GetAlias("+name+") of a deleted key", err, store.ErrNotFound)
	}
	as, err := s.ListAliases(ctx, account, region, "", "", 100)
	wantErr(t, "ListAliases", err, nil)
	if got := aliasNames(as); !slices.Equal(got, []string{"alias/c"}) {
		t.Errorf("aliases after DeleteKey = %v, want [alias/c]", got)
	}
	sameKey(t, "other key after DeleteKey", mustGet(t, s, other.ID), other)
	vs, err = s.KeyVersions(ctx, other.ID)
	wantErr(t, "KeyVersions(other)", err, nil)
	if len(vs) != 1 {
		t.Errorf("other key has %d versions, want 1", len(vs))
	}

	wantErr(t, "DeleteKey(again)", s.DeleteKey(ctx, k.ID, k.Revision), store.ErrNotFound)
	wantErr(t, "DeleteKey(absent)", s.DeleteKey(ctx, keyID(3), 1), store.ErrNotFound)

	// The ID is free again, and nothing of the old key comes back with it.
	fresh := newKey(k.ID, account, region)
	fresh.Tags = []store.Tag{{Key: "new", Value: "1"}}
	want := mustCreate(t, s, fresh)
	sameKey(t, "recreated key", mustGet(t, s, k.ID), want)
	vs, err = s.KeyVersions(ctx, k.ID)
	wantErr(t, "KeyVersions(recreated)", err, nil)
	sameVersions(t, "versions of the recreated key", vs, []store.KeyVersion{newVersion(k.ID, 1)})
	as, err = s.ListAliases(ctx, account, region, k.ID, "", 100)
	wantErr(t, "ListAliases(recreated)", err, nil)
	if len(as) != 0 {
		t.Errorf("aliases of the recreated key: %v", aliasNames(as))
	}
}

// testDeleteKeyRevision pins the guard of crypto-shredding: DeleteKey
// removes a key only at the revision the caller decided on. A key whose
// deletion was cancelled after the deletion job read it must survive whole.
func testDeleteKeyRevision(t *testing.T, s store.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		// change is what happens between the caller's read and its
		// DeleteKey; it returns the revision the caller passes.
		change func(t *testing.T, read store.Key) int64
	}{
		{"deletion cancelled", func(t *testing.T, read store.Key) int64 {
			k := read
			k.State = "Disabled"
			k.DeletionDate = time.Time{}
			k.PendingWindowDays = 0
			if _, err := s.UpdateKey(ctx, k); err != nil {
				t.Fatalf("UpdateKey: %v", err)
			}
			return read.Revision
		}},
		{"cancelled and scheduled again", func(t *testing.T, read store.Key) int64 {
			k := read
			k.State = "Disabled"
			k, err := s.UpdateKey(ctx, k)
			if err != nil {
				t.Fatalf("UpdateKey: %v", err)
			}
			k.State = "PendingDeletion"
			k.DeletionDate = base.AddDate(0, 0, 30)
			if _, err := s.UpdateKey(ctx, k); err != nil {
				t.Fatalf("UpdateKey: %v", err)
			}
			return read.Revision
		}},
		{"rotated", func(t *testing.T, read store.Key) int64 {
			k := read
			k.CurrentVersion = 2
			if _, err := s.AddKeyVersion(ctx, k, newVersion(k.ID, 2)); err != nil {
				t.Fatalf("AddKeyVersion: %v", err)
			}
			return read.Revision
		}},
		{"revision from the future", func(t *testing.T, read store.Key) int64 {
			return read.Revision + 1
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(keyID(i), account, region)
			k.State = "PendingDeletion"
			k.DeletionDate = base
			k.PendingWindowDays = 7
			read := mustCreate(t, s, k)
			alias := store.Alias{Account: account, Region: region, Name: fmt.Sprintf("alias/k%d", i), KeyID: k.ID, CreatedAt: base, UpdatedAt: base}
			if err := s.CreateAlias(ctx, alias); err != nil {
				t.Fatalf("CreateAlias: %v", err)
			}
			rev := tt.change(t, read)
			before := mustGet(t, s, k.ID)
			versions, err := s.KeyVersions(ctx, k.ID)
			wantErr(t, "KeyVersions", err, nil)

			wantErr(t, "DeleteKey(stale revision)", s.DeleteKey(ctx, k.ID, rev), store.ErrConflict)

			sameKey(t, "key after a refused DeleteKey", mustGet(t, s, k.ID), before)
			got, err := s.KeyVersions(ctx, k.ID)
			wantErr(t, "KeyVersions", err, nil)
			sameVersions(t, "versions after a refused DeleteKey", got, versions)
			a, err := s.GetAlias(ctx, account, region, alias.Name)
			wantErr(t, "GetAlias after a refused DeleteKey", err, nil)
			same(t, "alias after a refused DeleteKey", a, alias, normAlias)

			// At the revision it has now, it goes.
			wantErr(t, "DeleteKey(current revision)", s.DeleteKey(ctx, k.ID, before.Revision), nil)
			_, err = s.GetKey(ctx, k.ID)
			wantErr(t, "GetKey(deleted)", err, store.ErrNotFound)
		})
	}
}

func testKeysDue(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(1000 * time.Hour)
	tests := []struct {
		name     string
		state    string
		deletion time.Time
		rotation bool
		next     time.Time
		due      bool
	}{
		{"deletion past", "PendingDeletion", now.Add(-time.Hour), false, time.Time{}, true},
		{"deletion now", "PendingDeletion", now, false, time.Time{}, true},
		{"deletion one ns later", "PendingDeletion", now.Add(time.Nanosecond), false, time.Time{}, false},
		{"deletion future", "PendingDeletion", now.Add(time.Hour), false, time.Time{}, false},
		{"deletion date but not pending", "Enabled", now.Add(-time.Hour), false, time.Time{}, false},
		{"rotation past", "Enabled", time.Time{}, true, now.Add(-time.Hour), true},
		{"rotation now", "Enabled", time.Time{}, true, now, true},
		{"rotation one ns later", "Enabled", time.Time{}, true, now.Add(time.Nanosecond), false},
		{"rotation future", "Enabled", time.Time{}, true, now.Add(time.Hour), false},
		{"rotation off, next past", "Enabled", time.Time{}, false, now.Add(-time.Hour), false},
		{"rotation on, next unset", "Enabled", time.Time{}, true, time.Time{}, false},
		{"rotation past, key disabled", "Disabled", time.Time{}, true, now.Add(-time.Hour), true},
		{"pending, deletion future, rotation past", "PendingDeletion", now.Add(time.Hour), true, now.Add(-time.Hour), true},
		{"both past", "PendingDeletion", now.Add(-time.Hour), true, now.Add(-time.Hour), true},
		{"nothing", "Enabled", time.Time{}, false, time.Time{}, false},
	}
	var want []string
	for i, tt := range tests {
		acct, reg := account, region
		if i%2 == 1 { // any account and region
			acct, reg = account2, region2
		}
		k := newKey(keyID(i), acct, reg)
		k.Description = tt.name
		k.State = tt.state
		k.DeletionDate = tt.deletion
		k.RotationEnabled = tt.rotation
		k.NextRotation = tt.next
		mustCreate(t, s, k)
		if tt.due {
			want = append(want, k.ID)
		}
	}

	got, err := s.KeysDue(ctx, now)
	wantErr(t, "KeysDue", err, nil)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		name := func(ids []string) []string {
			var out []string
			for _, id := range ids {
				out = append(out, mustGet(t, s, id).Description)
			}
			return out
		}
		t.Fatalf("KeysDue:\n got %q\nwant %q", name(got), name(want))
	}

	// now in another location is the same instant.
	got, err = s.KeysDue(ctx, now.In(time.FixedZone("Y", -7*3600)))
	wantErr(t, "KeysDue(other zone)", err, nil)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("KeysDue in another zone = %v, want %v", got, want)
	}

	got, err = s.KeysDue(ctx, base.Add(-time.Hour))
	wantErr(t, "KeysDue(early)", err, nil)
	if len(got) != 0 {
		t.Errorf("KeysDue before anything is due = %v", got)
	}
}

func testAliases(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := mustCreate(t, s, newKey(keyID(1), account, region))
	k2 := mustCreate(t, s, newKey(keyID(2), account, region))

	a := store.Alias{Account: account, Region: region, Name: "alias/app", KeyID: k1.ID, CreatedAt: base, UpdatedAt: base}
	wantErr(t, "CreateAlias", s.CreateAlias(ctx, a), nil)
	got, err := s.GetAlias(ctx, account, region, a.Name)
	wantErr(t, "GetAlias", err, nil)
	same(t, "GetAlias", got, a, normAlias)

	// The same name elsewhere is another alias.
	elsewhere := []store.Alias{
		{Account: account, Region: region2, Name: a.Name, KeyID: k2.ID, CreatedAt: base, UpdatedAt: base},
		{Account: account2, Region: region, Name: a.Name, KeyID: k2.ID, CreatedAt: base, UpdatedAt: base},
	}
	for _, e := range elsewhere {
		wantErr(t, "CreateAlias(same name, other account or region)", s.CreateAlias(ctx, e), nil)
	}

	// Repointing keeps CreatedAt, sets UpdatedAt and KeyID.
	later := base.Add(time.Minute + time.Nanosecond)
	u := store.Alias{Account: account, Region: region, Name: a.Name, KeyID: k2.ID, CreatedAt: later, UpdatedAt: later}
	wantErr(t, "UpdateAlias", s.UpdateAlias(ctx, u), nil)
	got, err = s.GetAlias(ctx, account, region, a.Name)
	wantErr(t, "GetAlias after UpdateAlias", err, nil)
	want := a
	want.KeyID = k2.ID
	want.UpdatedAt = later
	same(t, "GetAlias after UpdateAlias", got, want, normAlias)
	for _, e := range elsewhere {
		got, err := s.GetAlias(ctx, e.Account, e.Region, e.Name)
		wantErr(t, "GetAlias(elsewhere)", err, nil)
		same(t, "alias elsewhere", got, e, normAlias)
	}

	wantErr(t, "DeleteAlias", s.DeleteAlias(ctx, account, region, a.Name), nil)
	_, err = s.GetAlias(ctx, account, region, a.Name)
	wantErr(t, "GetAlias(deleted)", err, store.ErrNotFound)
	for _, e := range elsewhere {
		if _, err := s.GetAlias(ctx, e.Account, e.Region, e.Name); err != nil {
			t.Errorf("DeleteAlias removed the alias in %s %s: %v", e.Account, e.Region, err)
		}
	}
	// The key outlives its alias; the name can be taken again.
	mustGet(t, s, k1.ID)
	wantErr(t, "CreateAlias(again)", s.CreateAlias(ctx, a), nil)
}

func testAliasErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := mustCreate(t, s, newKey(keyID(1), account, region))
	k2 := mustCreate(t, s, newKey(keyID(2), account, region))
	a := store.Alias{Account: account, Region: region, Name: "alias/app", KeyID: k1.ID, CreatedAt: base, UpdatedAt: base}
	wantErr(t, "CreateAlias", s.CreateAlias(ctx, a), nil)

	taken := a
	taken.KeyID = k2.ID
	wantErr(t, "CreateAlias(taken)", s.CreateAlias(ctx, taken), store.ErrExists)

	dangling := store.Alias{Account: account, Region: region, Name: "alias/dangling", KeyID: keyID(9), CreatedAt: base, UpdatedAt: base}
	wantErr(t, "CreateAlias(absent key)", s.CreateAlias(ctx, dangling), store.ErrNotFound)
	_, err := s.GetAlias(ctx, account, region, dangling.Name)
	wantErr(t, "GetAlias(alias of an absent key)", err, store.ErrNotFound)

	repoint := a
	repoint.KeyID = keyID(9)
	wantErr(t, "UpdateAlias(absent key)", s.UpdateAlias(ctx, repoint), store.ErrNotFound)

	absent := store.Alias{Account: account, Region: region, Name: "alias/absent", KeyID: k1.ID, UpdatedAt: base}
	wantErr(t, "UpdateAlias(absent)", s.UpdateAlias(ctx, absent), store.ErrNotFound)
	_, err = s.GetAlias(ctx, account, region, absent.Name)
	wantErr(t, "GetAlias after UpdateAlias(absent)", err, store.ErrNotFound)
	wantErr(t, "DeleteAlias(absent)", s.DeleteAlias(ctx, account, region, absent.Name), store.ErrNotFound)
	wantErr(t, "DeleteAlias(other region)", s.DeleteAlias(ctx, account, region2, a.Name), store.ErrNotFound)
	_, err = s.GetAlias(ctx, account2, region, a.Name)
	wantErr(t, "GetAlias(other account)", err, store.ErrNotFound)

	// None of the failures changed the alias.
	got, err := s.GetAlias(ctx, account, region, a.Name)
	wantErr(t, "GetAlias", err, nil)
	same(t, "alias after failures", got, a, normAlias)
}

func testListAliases(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := mustCreate(t, s, newKey(keyID(1), account, region))
	k2 := mustCreate(t, s, newKey(keyID(2), account, region))
	kx := mustCreate(t, s, newKey(keyID(3), account2, region2))
	// Byte-wise order: "alias/Z" < "alias/a" < "alias/a-b" < "alias/a/b" < "alias/b".
	mine := map[string]string{
		"alias/b":   k1.ID,
		"alias/a/b": k2.ID,
		"alias/Z":   k1.ID,
		"alias/a":   k2.ID,
		"alias/a-b": k1.ID,
	}
	for name, id := range mine {
		wantErr(t, "CreateAlias", s.CreateAlias(ctx, store.Alias{Account: account, Region: region, Name: name, KeyID: id, CreatedAt: base, UpdatedAt: base}), nil)
	}
	for _, where := range [][2]string{{account2, region2}, {account, region2}, {account2, region}} {
		wantErr(t, "CreateAlias(elsewhere)", s.CreateAlias(ctx, store.Alias{Account: where[0], Region: where[1], Name: "alias/a0", KeyID: kx.ID, CreatedAt: base, UpdatedAt: base}), nil)
	}

	tests := []struct {
		name    string
		account string
		region  string
		keyID   string
		after   string
		limit   int
		want    []string
	}{
		{"all", account, region, "", "", 100, []string{"alias/Z", "alias/a", "alias/a-b", "alias/a/b", "alias/b"}},
		{"first page", account, region, "", "", 2, []string{"alias/Z", "alias/a"}},
		{"second page", account, region, "", "alias/a", 2, []string{"alias/a-b", "alias/a/b"}},
		{"last page", account, region, "", "alias/a/b", 2, []string{"alias/b"}},
		{"after last", account, region, "", "alias/b", 2, nil},
		{"after absent name", account, region, "", "alias/a.", 100, []string{"alias/a/b", "alias/b"}},
		{"key 1", account, region, k1.ID, "", 100, []string{"alias/Z", "alias/a-b", "alias/b"}},
		{"key 1 paged", account, region, k1.ID, "alias/Z", 1, []string{"alias/a-b"}},
		{"key 1 after", account, region, k1.ID, "alias/a-b", 100, []string{"alias/b"}},
		{"key 2", account, region, k2.ID, "", 100, []string{"alias/a", "alias/a/b"}},
		{"key with no aliases", account, region, keyID(9), "", 100, nil},
		{"key of another account", account, region, kx.ID, "", 100, nil},
		{"other account and region", account2, region2, "", "", 100, []string{"alias/a0"}},
		{"other region", account, region2, "", "", 100, []string{"alias/a0"}},
		{"unknown account", "999999999999", region, "", "", 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAliases(ctx, tt.account, tt.region, tt.keyID, tt.after, tt.limit)
			wantErr(t, "ListAliases", err, nil)
			if g := aliasNames(got); !slices.Equal(g, tt.want) {
				t.Errorf("ListAliases(%s, %s, key %q, after %q, %d) = %v, want %v",
					tt.account, tt.region, tt.keyID, tt.after, tt.limit, g, tt.want)
			}
			for _, a := range got {
				if a.Account != tt.account || a.Region != tt.region {
					t.Errorf("alias %s listed in %s %s has account %s region %s", a.Name, tt.account, tt.region, a.Account, a.Region)
				}
			}
		})
	}

	// Listed aliases carry every field.
	got, err := s.ListAliases(ctx, account, region, "", "", 1)
	wantErr(t, "ListAliases", err, nil)
	if len(got) != 1 {
		t.Fatalf("ListAliases(limit 1) returned %d", len(got))
	}
	same(t, "listed alias", got[0], store.Alias{Account: account, Region: region, Name: "alias/Z", KeyID: k1.ID, CreatedAt: base, UpdatedAt: base}, normAlias)
}

func testAccessKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	ks, err := s.ListAccessKeys(ctx)
	wantErr(t, "ListAccessKeys(empty)", err, nil)
	if len(ks) != 0 {
		t.Fatalf("ListAccessKeys of an empty store = %+v", ks)
	}
	_, err = s.GetAccessKey(ctx, "AKIAABSENT")
	wantErr(t, "GetAccessKey(absent)", err, store.ErrNotFound)

	all := []store.AccessKey{
		{ID: "AKIAZZZZ", Account: account, PrincipalARN: "arn:aws:iam::" + account + ":root", WrappedSecret: []byte{0, 1, 2, 255}, CreatedAt: base, Active: true},
		{ID: "AKIAAAAA", Account: account2, PrincipalARN: "arn:aws:iam::" + account2 + ":user/alice", WrappedSecret: []byte("secret\x00"), CreatedAt: base.Add(time.Second), Active: false},
		{ID: "AKIAMMMM", Account: account, PrincipalARN: "arn:aws:iam::" + account + ":role/r", WrappedSecret: []byte("s"), Active: true},
	}
	for _, k := range all {
		wantErr(t, "CreateAccessKey("+k.ID+")", s.CreateAccessKey(ctx, k), nil)
	}
	for _, k := range all {
		got, err := s.GetAccessKey(ctx, k.ID)
		wantErr(t, "GetAccessKey("+k.ID+")", err, nil)
		same(t, "GetAccessKey", got, k, normAccessKey)
	}

	dup := all[0]
	dup.WrappedSecret = []byte("must not overwrite")
	dup.Active = false
	wantErr(t, "CreateAccessKey(existing)", s.CreateAccessKey(ctx, dup), store.ErrExists)
	got, err := s.GetAccessKey(ctx, dup.ID)
	wantErr(t, "GetAccessKey", err, nil)
	same(t, "access key after failed create", got, all[0], normAccessKey)

	ks, err = s.ListAccessKeys(ctx)
	wantErr(t, "ListAccessKeys", err, nil)
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b store.AccessKey) int { return strings.Compare(a.ID, b.ID) })
	same(t, "ListAccessKeys", ks, want, func(ks []store.AccessKey) []store.AccessKey {
		var out []store.AccessKey
		for _, k := range ks {
			out = append(out, normAccessKey(k))
		}
		return out
	})
}

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "mode")
	wantErr(t, "GetSetting(absent)", err, store.ErrNotFound)

	steps := []struct {
		name  string
		value []byte
	}{
		{"mode", []byte("dev")},
		{"root", []byte{0, 1, 2, 3, 0, 255}},
		{"mode", []byte("shamir")}, // replaces
		{"empty", []byte{}},
		{"root", []byte{9}}, // replaces with a shorter value
	}
	want := map[string][]byte{}
	for _, st := range steps {
		wantErr(t, "PutSetting("+st.name+")", s.PutSetting(ctx, st.name, st.value), nil)
		want[st.name] = st.value
		for name, v := range want {
			got, err := s.GetSetting(ctx, name)
			wantErr(t, "GetSetting("+name+")", err, nil)
			if !bytes.Equal(got, v) {
				t.Fatalf("after PutSetting(%s): GetSetting(%s) = %q, want %q", st.name, name, got, v)
			}
		}
	}
	// The returned value is the caller's.
	got, _ := s.GetSetting(ctx, "root")
	got[0] = 0
	if got, _ := s.GetSetting(ctx, "root"); !bytes.Equal(got, []byte{9}) {
		t.Errorf("changing a returned value changed the setting: %q", got)
	}
	_, err = s.GetSetting(ctx, "Mode")
	wantErr(t, "GetSetting(other case)", err, store.ErrNotFound)
}

// testTimeRoundTrip stores each time in every time field of every kind of
// row and checks it reads back as the same instant, in UTC, or zero.
func testTimeRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	times := []struct {
		name string
		t    time.Time
	}{
		{"zero", time.Time{}},
		{"unix epoch", time.Unix(0, 0)},
		{"one ns after epoch", time.Unix(0, 1)},
		{"one ns before epoch", time.Unix(0, -1)},
		{"nanoseconds, other zone", base},
		{"now with monotonic reading", time.Now()},
		{"year 2000 local", time.Date(2000, 1, 1, 0, 0, 0, 999999999, time.Local)},
		{"far future", time.Date(2200, 12, 31, 23, 59, 59, 123456789, time.UTC)},
	}
	check := func(t *testing.T, what string, got, want time.Time) {
		t.Helper()
		switch {
		case want.IsZero():
			if !got.IsZero() {
				t.Errorf("%s: zero time read back as %v", what, got)
			}
		case !got.Equal(want):
			t.Errorf("%s: read back %v, want %v", what, got, want)
		case got.Location() != time.UTC:
			t.Errorf("%s: read back in %v, want UTC", what, got.Location())
		}
	}
	for i, tt := range times {
		t.Run(tt.name, func(t *testing.T) {
			id := keyID(i)
			k := newKey(id, account, region)
			k.CreatedAt, k.DeletionDate, k.NextRotation = tt.t, tt.t, tt.t
			v := newVersion(id, 1)
			v.CreatedAt = tt.t
			if err := s.CreateKey(ctx, k, v); err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			got := mustGet(t, s, id)
			check(t, "Key.CreatedAt", got.CreatedAt, tt.t)
			check(t, "Key.DeletionDate", got.DeletionDate, tt.t)
			check(t, "Key.NextRotation", got.NextRotation, tt.t)
			vs, err := s.KeyVersions(ctx, id)
			wantErr(t, "KeyVersions", err, nil)
			check(t, "KeyVersion.CreatedAt", vs[0].CreatedAt, tt.t)

			// Through UpdateKey and AddKeyVersion, and their results.
			u := got
			u.CreatedAt, u.DeletionDate, u.NextRotation = tt.t, tt.t, tt.t
			u.CurrentVersion = 2
			v2 := newVersion(id, 2)
			v2.CreatedAt = tt.t
			r, err := s.AddKeyVersion(ctx, u, v2)
			wantErr(t, "AddKeyVersion", err, nil)
			check(t, "AddKeyVersion result NextRotation", r.NextRotation, tt.t)
			r, err = s.UpdateKey(ctx, r)
			wantErr(t, "UpdateKey", err, nil)
			check(t, "UpdateKey result DeletionDate", r.DeletionDate, tt.t)
			got = mustGet(t, s, id)
			check(t, "Key.DeletionDate after UpdateKey", got.DeletionDate, tt.t)
			vs, err = s.KeyVersions(ctx, id)
			wantErr(t, "KeyVersions", err, nil)
			check(t, "KeyVersion 2 CreatedAt", vs[1].CreatedAt, tt.t)

			// Listed keys carry the same times.
			after := ""
			if i > 0 {
				after = keyID(i - 1)
			}
			ks, err := s.ListKeys(ctx, account, region, after, 1)
			wantErr(t, "ListKeys", err, nil)
			if len(ks) != 1 || ks[0].ID != id {
				t.Fatalf("ListKeys = %v, want [%s]", ids(ks), id)
			}
			check(t, "listed Key.NextRotation", ks[0].NextRotation, tt.t)

			name := fmt.Sprint("alias/t", i)
			a := store.Alias{Account: account, Region: region, Name: name, KeyID: id, CreatedAt: tt.t, UpdatedAt: tt.t}
			wantErr(t, "CreateAlias", s.CreateAlias(ctx, a), nil)
			ga, err := s.GetAlias(ctx, account, region, name)
			wantErr(t, "GetAlias", err, nil)
			check(t, "Alias.CreatedAt", ga.CreatedAt, tt.t)
			check(t, "Alias.UpdatedAt", ga.UpdatedAt, tt.t)
			a.UpdatedAt = tt.t
			wantErr(t, "UpdateAlias", s.UpdateAlias(ctx, a), nil)
			as, err := s.ListAliases(ctx, account, region, id, "", 10)
			wantErr(t, "ListAliases", err, nil)
			if len(as) != 1 {
				t.Fatalf("ListAliases(key %s) = %v", id, aliasNames(as))
			}
			check(t, "listed Alias.UpdatedAt", as[0].UpdatedAt, tt.t)

			ak := store.AccessKey{ID: fmt.Sprint("AKIA", i), Account: account, PrincipalARN: "arn", WrappedSecret: []byte("s"), CreatedAt: tt.t, Active: true}
			wantErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, ak), nil)
			gk, err := s.GetAccessKey(ctx, ak.ID)
			wantErr(t, "GetAccessKey", err, nil)
			check(t, "AccessKey.CreatedAt", gk.CreatedAt, tt.t)
		})
	}
	aks, err := s.ListAccessKeys(ctx)
	wantErr(t, "ListAccessKeys", err, nil)
	for _, ak := range aks {
		var i int
		fmt.Sscanf(ak.ID, "AKIA%d", &i)
		check(t, "listed AccessKey.CreatedAt", ak.CreatedAt, times[i].t)
	}
}

// testBytesRoundTrip checks that wrapped material and secrets come back
// byte for byte: every byte value, and a large value.
func testBytesRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	large := bytes.Repeat([]byte{0xde, 0xad, 0x00, 0xbe, 0xef}, 100_000)
	for i, b := range [][]byte{every, large} {
		id := keyID(i)
		v := newVersion(id, 1)
		v.Wrapped = b
		if err := s.CreateKey(ctx, newKey(id, account, region), v); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		vs, err := s.KeyVersions(ctx, id)
		wantErr(t, "KeyVersions", err, nil)
		if !bytes.Equal(vs[0].Wrapped, b) {
			t.Errorf("Wrapped of %d bytes read back as %d different bytes", len(b), len(vs[0].Wrapped))
		}
		ak := store.AccessKey{ID: fmt.Sprint("AKIA", i), Account: account, WrappedSecret: b, Active: true}
		wantErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, ak), nil)
		got, err := s.GetAccessKey(ctx, ak.ID)
		wantErr(t, "GetAccessKey", err, nil)
		if !bytes.Equal(got.WrappedSecret, b) {
			t.Errorf("WrappedSecret of %d bytes read back as %d different bytes", len(b), len(got.WrappedSecret))
		}
		name := fmt.Sprint("blob", i)
		wantErr(t, "PutSetting", s.PutSetting(ctx, name, b), nil)
		sv, err := s.GetSetting(ctx, name)
		wantErr(t, "GetSetting", err, nil)
		if !bytes.Equal(sv, b) {
			t.Errorf("setting of %d bytes read back as %d different bytes", len(b), len(sv))
		}
	}
}

// race runs f(0) … f(n-1) at once and returns their errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return errs
}

// oneWinner checks that exactly one of errs is nil and every other is
// ErrConflict, and returns the winner's index.
func oneWinner(t *testing.T, what string, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: both %d and %d won", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("%s: racer %d: %v, want success or ErrConflict", what, i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no racer won", what)
	}
	return winner
}

// testConcurrentUpdateKey races writers that read the same revision:
// exactly one of each race wins, and the stored key is the winner's.
func testConcurrentUpdateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	const keys, racers, rounds = 3, 4, 5
	for i := range keys {
		mustCreate(t, s, newKey(keyID(i), account, region))
	}
	for round := range rounds {
		// All keys race at once; the racers of one key race each other.
		var read [keys]store.Key
		for i := range keys {
			read[i] = mustGet(t, s, keyID(i))
		}
		results := make([]store.Key, keys*racers)
		errs := race(keys*racers, func(j int) error {
			k := read[j/racers]
			k.Description = fmt.Sprintf("round %d racer %d", round, j%racers)
			k.Tags = []store.Tag{{Key: "racer", Value: fmt.Sprint(j % racers)}}
			var err error
			results[j], err = s.UpdateKey(ctx, k)
			return err
		})
		for i := range keys {
			w := oneWinner(t, fmt.Sprintf("round %d key %d", round, i), errs[i*racers:(i+1)*racers])
			won := results[i*racers+w]
			if won.Revision != read[i].Revision+1 {
				t.Errorf("winner's revision = %d, want %d", won.Revision, read[i].Revision+1)
			}
			sameKey(t, "stored key after race", mustGet(t, s, keyID(i)), won)
		}
	}
	for i := range keys {
		if r := mustGet(t, s, keyID(i)).Revision; r != 1+rounds {
			t.Errorf("key %d revision = %d, want %d", i, r, 1+rounds)
		}
	}
}

// testConcurrentAddKeyVersion races rotations of one key from the same
// revision: one version is added, and no material is lost or overwritten.
func testConcurrentAddKeyVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	const racers = 6
	k := mustCreate(t, s, newKey(keyID(1), account, region))
	want := []store.KeyVersion{newVersion(k.ID, 1)}
	for round := range 3 {
		read := mustGet(t, s, k.ID)
		next := read.CurrentVersion + 1
		candidates := make([]store.KeyVersion, racers)
		errs := race(racers, func(i int) error {
			u := read
			u.CurrentVersion = next
			v := newVersion(k.ID, next)
			v.Wrapped = []byte(fmt.Sprintf("round %d racer %d", round, i))
			candidates[i] = v
			_, err := s.AddKeyVersion(ctx, u, v)
			return err
		})
		w := oneWinner(t, fmt.Sprintf("round %d", round), errs)
		want = append(want, candidates[w])
		got := mustGet(t, s, k.ID)
		if got.CurrentVersion != next || got.Revision != read.Revision+1 {
			t.Fatalf("after round %d: version %d revision %d, want %d and %d", round, got.CurrentVersion, got.Revision, next, read.Revision+1)
		}
	}
	vs, err := s.KeyVersions(ctx, k.ID)
	wantErr(t, "KeyVersions", err, nil)
	sameVersions(t, "versions after races", vs, want)
}

// testConcurrentDeleteUpdate races DeleteKey against UpdateKey from the
// same revision, as the deletion job races CancelKeyDeletion on another
// node: exactly one wins, and the loser changes nothing.
func testConcurrentDeleteUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	const rounds = 20
	deleted := 0
	for i := range rounds {
		k := newKey(keyID(i), account, region)
		k.State = "PendingDeletion"
		k.DeletionDate = base
		read := mustCreate(t, s, k)
		var updated store.Key
		errs := race(2, func(j int) error {
			if j == 0 {
				return s.DeleteKey(ctx, k.ID, read.Revision)
			}
			u := read
			u.State = "Disabled"
			u.DeletionDate = time.Time{}
			var err error
			updated, err = s.UpdateKey(ctx, u)
			return err
		})
		switch {
		case errs[0] == nil && errors.Is(errs[1], store.ErrNotFound):
			deleted++
			_, err := s.GetKey(ctx, k.ID)
			wantErr(t, "GetKey after the delete won", err, store.ErrNotFound)
		case errs[1] == nil && errors.Is(errs[0], store.ErrConflict):
			sameKey(t, "key after the update won", mustGet(t, s, k.ID), updated)
			vs, err := s.KeyVersions(ctx, k.ID)
			wantErr(t, "KeyVersions after the update won", err, nil)
			sameVersions(t, "versions after the update won", vs, []store.KeyVersion{newVersion(k.ID, 1)})
		default:
			t.Fatalf("round %d: DeleteKey: %v, UpdateKey: %v; want exactly one to win", i, errs[0], errs[1])
		}
	}
	t.Logf("DeleteKey won %d of %d races", deleted, rounds)
}

// testConcurrentIncrements has writers retry read-modify-write on
// ErrConflict, with readers running alongside: no increment is lost.
func testConcurrentIncrements(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const writers, increments = 6, 8
	k := mustCreate(t, s, newKey(keyID(1), account, region))

	readerErr := make(chan error, 1)
	go func() {
		var last int64
		for ctx.Err() == nil {
			got, err := s.GetKey(ctx, k.ID)
			if ctx.Err() != nil {
				break
			}
			if err != nil {
				readerErr <- err
				return
			}
			if got.Revision < last {
				readerErr <- fmt.Errorf("revision went back from %d to %d", last, got.Revision)
				return
			}
			if int64(got.OnDemandRotations) != got.Revision-1 {
				readerErr <- fmt.Errorf("torn read: revision %d with count %d", got.Revision, got.OnDemandRotations)
				return
			}
			last = got.Revision
		}
		readerErr <- nil
	}()

	errs := race(writers, func(int) error {
		for range increments {
			for {
				cur, err := s.GetKey(ctx, k.ID)
				if err != nil {
					return err
				}
				cur.OnDemandRotations++
				if _, err = s.UpdateKey(ctx, cur); err == nil {
					break
				} else if !errors.Is(err, store.ErrConflict) {
					return err
				}
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	cancel()
	if err := <-readerErr; err != nil {
		t.Errorf("reader: %v", err)
	}
	got, err := s.GetKey(t.Context(), k.ID)
	wantErr(t, "GetKey", err, nil)
	if got.OnDemandRotations != writers*increments || got.Revision != 1+writers*increments {
		t.Errorf("count %d revision %d, want %d and %d", got.OnDemandRotations, got.Revision, writers*increments, 1+writers*increments)
	}
}
