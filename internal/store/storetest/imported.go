package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

var zeroTime time.Time

var importTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ImportedMaterial", testImportedMaterial},
	{"ImportedMaterialErrors", testImportedMaterialErrors},
	{"KeysMaterialExpired", testKeysMaterialExpired},
	{"PutKeysMaterial", testPutKeysMaterial},
}

func externalKey(id string) store.Key {
	k := newKey(id, account, region)
	k.Origin, k.State, k.CurrentVersion = "EXTERNAL", "PendingImport", 0
	k.RotationEnabled, k.RotationPeriodDays, k.NextRotation = false, 0, zeroTime
	return k
}

func importedVersion(n uint32, wrapped []byte) store.KeyVersion {
	return store.KeyVersion{
		Version: n, MaterialID: bytesHex(byte(n), 32), Wrapped: wrapped, CreatedAt: base,
		ImportState: "IMPORTED", ExpirationModel: "KEY_MATERIAL_EXPIRES", ValidTo: base.AddDate(0, 1, 0),
		Description: "material",
	}
}

func bytesHex(b byte, n int) string {
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 2*n)
	for range n {
		out = append(out, hexdigits[b>>4], hexdigits[b&15])
	}
	return string(out)
}

// testImportedMaterial: a key without material, material put, replaced,
// deleted (the row stays without material), every field round-tripping.
func testImportedMaterial(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := externalKey(keyID(1))
	if err := s.CreateKeyWithoutMaterial(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKeyWithoutMaterial(ctx, k); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second CreateKeyWithoutMaterial: %v, want ErrExists", err)
	}
	got, err := s.GetKey(ctx, k.ID)
	if err != nil || got.Revision != 1 || got.CurrentVersion != 0 || got.State != "PendingImport" {
		t.Fatalf("GetKey = %+v, %v", got, err)
	}
	if vs, err := s.KeyVersions(ctx, k.ID); err != nil || len(vs) != 0 {
		t.Fatalf("KeyVersions of a key without material = %v, %v", vs, err)
	}

	got.State, got.CurrentVersion = "Enabled", 1
	v1 := importedVersion(1, []byte("wrapped-1"))
	got, err = s.PutKeyMaterial(ctx, got, v1)
	if err != nil || got.Revision != 2 {
		t.Fatalf("PutKeyMaterial = %+v, %v", got, err)
	}
	v2 := importedVersion(2, []byte("wrapped-2"))
	v2.ExpirationModel, v2.ValidTo = "KEY_MATERIAL_DOES_NOT_EXPIRE", zeroTime
	if got, err = s.PutKeyMaterial(ctx, got, v2); err != nil {
		t.Fatal(err)
	}
	// Replacing version 1 (a re-import with a new expiration).
	v1b := v1
	v1b.Wrapped, v1b.ValidTo, v1b.Description = []byte("wrapped-1b"), base.AddDate(0, 2, 0), "again"
	if got, err = s.PutKeyMaterial(ctx, got, v1b); err != nil {
		t.Fatal(err)
	}
	vs, err := s.KeyVersions(ctx, k.ID)
	if err != nil || len(vs) != 2 {
		t.Fatalf("KeyVersions = %v, %v", vs, err)
	}
	checkVersion(t, vs[0], k.ID, v1b)
	checkVersion(t, vs[1], k.ID, v2)

	got.State = "PendingImport"
	if got, err = s.DeleteKeyMaterial(ctx, got, []uint32{1}); err != nil {
		t.Fatalf("DeleteKeyMaterial: %v", err)
	}
	if stored, err := s.GetKey(ctx, k.ID); err != nil || stored.State != "PendingImport" || stored.Revision != got.Revision {
		t.Fatalf("after DeleteKeyMaterial: %+v, %v (returned revision %d)", stored, err, got.Revision)
	}
	vs, _ = s.KeyVersions(ctx, k.ID)
	want := v1b
	want.Wrapped, want.ImportState, want.ExpirationModel, want.ValidTo = nil, "PENDING_IMPORT", "", zeroTime
	checkVersion(t, vs[0], k.ID, want)
	checkVersion(t, vs[1], k.ID, v2)
}

func checkVersion(t *testing.T, got store.KeyVersion, keyID string, want store.KeyVersion) {
	t.Helper()
	if got.KeyID != keyID || got.Version != want.Version || got.MaterialID != want.MaterialID ||
		!bytes.Equal(got.Wrapped, want.Wrapped) || !got.CreatedAt.Equal(want.CreatedAt) ||
		got.ImportState != want.ImportState || got.ExpirationModel != want.ExpirationModel ||
		!got.ValidTo.Equal(want.ValidTo) || got.Description != want.Description {
		t.Errorf("version %d = %+v, want %+v", want.Version, got, want)
	}
}

// testImportedMaterialErrors: the revision check and absent keys, and
// nothing written by a refused call.
func testImportedMaterialErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.PutKeyMaterial(ctx, externalKey(keyID(9)), importedVersion(1, []byte("w"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutKeyMaterial of an absent key: %v", err)
	}
	k := externalKey(keyID(2))
	if err := s.CreateKeyWithoutMaterial(ctx, k); err != nil {
		t.Fatal(err)
	}
	k.Revision = 1
	cur, err := s.PutKeyMaterial(ctx, k, importedVersion(1, []byte("w")))
	if err != nil {
		t.Fatal(err)
	}
	stale := k // revision 1
	if _, err := s.PutKeyMaterial(ctx, stale, importedVersion(2, []byte("x"))); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale PutKeyMaterial: %v, want ErrConflict", err)
	}
	if _, err := s.DeleteKeyMaterial(ctx, stale, []uint32{1}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale DeleteKeyMaterial: %v, want ErrConflict", err)
	}
	vs, _ := s.KeyVersions(ctx, k.ID)
	if len(vs) != 1 || !bytes.Equal(vs[0].Wrapped, []byte("w")) {
		t.Fatalf("a refused call changed the versions: %+v", vs)
	}
	if _, err := s.DeleteKeyMaterial(ctx, cur, []uint32{1}); err != nil {
		t.Fatal(err)
	}
}

func testKeysMaterialExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, v := range []store.KeyVersion{
		importedVersion(1, []byte("a")), // expires base+1 month
		func() store.KeyVersion {
			v := importedVersion(1, []byte("b"))
			v.ValidTo = base.AddDate(0, 3, 0)
			return v
		}(),
		func() store.KeyVersion {
			v := importedVersion(1, []byte("c"))
			v.ExpirationModel, v.ValidTo = "KEY_MATERIAL_DOES_NOT_EXPIRE", zeroTime
			return v
		}(),
	} {
		k := externalKey(keyID(10 + i))
		if err := s.CreateKeyWithoutMaterial(ctx, k); err != nil {
			t.Fatal(err)
		}
		k.Revision = 1
		if _, err := s.PutKeyMaterial(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		at   int // months after base
		want []string
	}{
		{0, []string{}},
		{1, []string{keyID(10)}},
		{4, []string{keyID(10), keyID(11)}},
	} {
		got, err := s.KeysMaterialExpired(ctx, base.AddDate(0, c.at, 0))
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("KeysMaterialExpired(+%d months) = %v, %v; want %v", c.at, got, err, c.want)
		}
	}
	// Deleted material is not expired material.
	k, _ := s.GetKey(ctx, keyID(10))
	if _, err := s.DeleteKeyMaterial(ctx, k, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.KeysMaterialExpired(ctx, base.AddDate(0, 4, 0)); !slices.Equal(got, []string{keyID(11)}) {
		t.Errorf("after deleting the material: %v", got)
	}
}

// testPutKeysMaterial: several keys' versions replaced in one transaction;
// one stale revision writes nothing.
func testPutKeysMaterial(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ks []store.Key
	for i := 20; i < 22; i++ {
		k := externalKey(keyID(i))
		if err := s.CreateKeyWithoutMaterial(ctx, k); err != nil {
			t.Fatal(err)
		}
		k.Revision, k.State, k.CurrentVersion = 1, "Enabled", 1
		k, err := s.PutKeyMaterial(ctx, k, importedVersion(1, []byte("w1")))
		if err != nil {
			t.Fatal(err)
		}
		if k, err = s.PutKeyMaterial(ctx, k, importedVersion(2, []byte("w2"))); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	v2 := importedVersion(2, []byte("w2"))
	v2.RotationType = "ON_DEMAND"
	stale := slices.Clone(ks)
	stale[1].Revision--
	stale[0].CurrentVersion, stale[1].CurrentVersion = 2, 2
	if _, err := s.PutKeysMaterial(ctx, stale, []store.KeyVersion{v2, v2}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("PutKeysMaterial with a stale revision: %v, want ErrConflict", err)
	}
	if got, _ := s.GetKey(ctx, ks[0].ID); got.CurrentVersion != 1 || got.Revision != ks[0].Revision {
		t.Fatalf("a refused PutKeysMaterial changed the first key: %+v", got)
	}
	for i := range ks {
		ks[i].CurrentVersion = 2
	}
	out, err := s.PutKeysMaterial(ctx, ks, []store.KeyVersion{v2, v2})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range out {
		got, err := s.GetKey(ctx, k.ID)
		if err != nil || got.CurrentVersion != 2 || got.Revision != ks[i].Revision+1 || k.Revision != got.Revision {
			t.Fatalf("after PutKeysMaterial: %+v, %v (returned %d)", got, err, k.Revision)
		}
		vs, _ := s.KeyVersions(ctx, k.ID)
		if len(vs) != 2 {
			t.Fatalf("KeyVersions = %+v", vs)
		}
		checkVersion(t, vs[1], k.ID, v2)
	}
	if _, err := s.PutKeysMaterial(ctx, []store.Key{externalKey(keyID(29))}, []store.KeyVersion{v2}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutKeysMaterial of an absent key: %v, want ErrNotFound", err)
	}
}
