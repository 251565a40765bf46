package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/store"
)

// RewrapStore is a Store that also implements store.Rewrap.
type RewrapStore interface {
	store.Store
	store.Rewrap
}

// RunRewrap runs the conformance suite of store.Rewrap; open is as for Run.
func RunRewrap(t *testing.T, open func(t *testing.T) RewrapStore) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s RewrapStore)
	}{
		{"WrappedKeyVersions", testWrappedKeyVersions},
		{"ReplaceWrappedKeyVersion", testReplaceWrappedKeyVersion},
		{"ReplaceWrappedSecret", testReplaceWrappedSecret},
		{"ReplaceSetting", testReplaceSetting},
		{"UpdateSettings", testUpdateSettings},
	} {
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

// testWrappedKeyVersions pages through every version of every key, in
// (key, version) order, with the key's account and region.
func testWrappedKeyVersions(t *testing.T, s RewrapStore) {
	ctx := t.Context()
	got, err := s.WrappedKeyVersions(ctx, "", 0, 10)
	wantErr(t, "WrappedKeyVersions(empty)", err, nil)
	if len(got) != 0 {
		t.Fatalf("WrappedKeyVersions of an empty store = %+v", got)
	}
	var want []store.WrappedKeyVersion
	for i := 3; i >= 1; i-- { // created out of order
		k := mustCreate(t, s, newKey(keyID(i), []string{account, account2}[i%2], []string{region, region2}[i%2]))
		want = append(want, store.WrappedKeyVersion{KeyID: k.ID, Account: k.Account, Region: k.Region, Version: 1, Wrapped: newVersion(k.ID, 1).Wrapped})
		for v := uint32(2); v <= uint32(i); v++ {
			k.CurrentVersion = v
			k, err = s.AddKeyVersion(ctx, k, newVersion(k.ID, v))
			wantErr(t, "AddKeyVersion", err, nil)
			want = append(want, store.WrappedKeyVersion{KeyID: k.ID, Account: k.Account, Region: k.Region, Version: v, Wrapped: newVersion(k.ID, v).Wrapped})
		}
	}
	// A version whose (imported) material was deleted holds nothing to
	// rewrap and is not listed.
	k3 := mustGet(t, s, keyID(3))
	_, err = s.DeleteKeyMaterial(ctx, k3, []uint32{2})
	if err != nil && !errors.Is(err, store.ErrNotPurged) {
		t.Fatalf("DeleteKeyMaterial: %v", err)
	}
	want = slices.DeleteFunc(want, func(w store.WrappedKeyVersion) bool { return w.KeyID == k3.ID && w.Version == 2 })
	slices.SortFunc(want, func(a, b store.WrappedKeyVersion) int {
		if c := strings.Compare(a.KeyID, b.KeyID); c != 0 {
			return c
		}
		return int(a.Version) - int(b.Version)
	})
	var all []store.WrappedKeyVersion
	afterKey, afterVersion := "", uint32(0)
	for page := 0; ; page++ {
		got, err := s.WrappedKeyVersions(ctx, afterKey, afterVersion, 2)
		wantErr(t, "WrappedKeyVersions", err, nil)
		if len(got) > 2 {
			t.Fatalf("page of %d rows, limit 2", len(got))
		}
		if len(got) == 0 {
			break
		}
		all = append(all, got...)
		afterKey, afterVersion = got[len(got)-1].KeyID, got[len(got)-1].Version
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("WrappedKeyVersions paged\n got %+v\nwant %+v", all, want)
	}
}

func testReplaceWrappedKeyVersion(t *testing.T, s RewrapStore) {
	ctx := t.Context()
	k := mustCreate(t, s, newKey(keyID(1), account, region))
	old := newVersion(k.ID, 1).Wrapped
	wantErr(t, "Replace(stale old)", s.ReplaceWrappedKeyVersion(ctx, k.ID, 1, []byte("not it"), []byte("new")), store.ErrConflict)
	wantErr(t, "Replace(absent version)", s.ReplaceWrappedKeyVersion(ctx, k.ID, 2, old, []byte("new")), store.ErrNotFound)
	wantErr(t, "Replace(absent key)", s.ReplaceWrappedKeyVersion(ctx, keyID(9), 1, old, []byte("new")), store.ErrNotFound)
	vs, _ := s.KeyVersions(ctx, k.ID)
	if !bytes.Equal(vs[0].Wrapped, old) {
		t.Fatal("a refused replace changed the material")
	}
	wantErr(t, "Replace", s.ReplaceWrappedKeyVersion(ctx, k.ID, 1, old, []byte("rewrapped\x00")), nil)
	vs, _ = s.KeyVersions(ctx, k.ID)
	if !bytes.Equal(vs[0].Wrapped, []byte("rewrapped\x00")) {
		t.Fatalf("after replace: %q", vs[0].Wrapped)
	}
	// The key's metadata, revision included, is untouched.
	sameKey(t, "key after rewrap", mustGet(t, s, k.ID), k)
	// The same replace again is a conflict: old is gone.
	wantErr(t, "Replace(again)", s.ReplaceWrappedKeyVersion(ctx, k.ID, 1, old, []byte("x")), store.ErrConflict)
}

func testReplaceWrappedSecret(t *testing.T, s RewrapStore) {
	ctx := t.Context()
	k := store.AccessKey{ID: "AKIAREWRAP", Account: account, PrincipalARN: "arn:aws:iam::" + account + ":root", WrappedSecret: []byte("old secret"), CreatedAt: base, Active: true}
	wantErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, k), nil)
	wantErr(t, "Replace(stale)", s.ReplaceWrappedSecret(ctx, k.ID, []byte("other"), []byte("new")), store.ErrConflict)
	wantErr(t, "Replace(absent)", s.ReplaceWrappedSecret(ctx, "AKIAABSENT", k.WrappedSecret, []byte("new")), store.ErrNotFound)
	wantErr(t, "Replace", s.ReplaceWrappedSecret(ctx, k.ID, k.WrappedSecret, []byte("new secret")), nil)
	got, err := s.GetAccessKey(ctx, k.ID)
	wantErr(t, "GetAccessKey", err, nil)
	k.WrappedSecret = []byte("new secret")
	same(t, "access key after rewrap", got, k, normAccessKey)
}

func testReplaceSetting(t *testing.T, s RewrapStore) {
	ctx := t.Context()
	wantErr(t, "Replace(absent)", s.ReplaceSetting(ctx, "x", []byte("a"), []byte("b")), store.ErrNotFound)
	wantErr(t, "PutSetting", s.PutSetting(ctx, "x", []byte("a")), nil)
	wantErr(t, "Replace(stale)", s.ReplaceSetting(ctx, "x", []byte("z"), []byte("b")), store.ErrConflict)
	wantErr(t, "Replace", s.ReplaceSetting(ctx, "x", []byte("a"), []byte("b")), nil)
	if v, _ := s.GetSetting(ctx, "x"); string(v) != "b" {
		t.Fatalf("setting after replace = %q", v)
	}
}

func testUpdateSettings(t *testing.T, s RewrapStore) {
	ctx := t.Context()
	wantErr(t, "PutSetting", s.PutSetting(ctx, "keep", []byte("k")), nil)
	wantErr(t, "PutSetting", s.PutSetting(ctx, "gone", []byte("g")), nil)
	wantErr(t, "PutSetting", s.PutSetting(ctx, "changed", []byte("c")), nil)
	err := s.UpdateSettings(ctx, map[string][]byte{"changed": []byte("c2"), "new": {0, 255}}, []string{"gone", "never there"})
	wantErr(t, "UpdateSettings", err, nil)
	for name, want := range map[string]string{"keep": "k", "changed": "c2", "new": "\x00\xff"} {
		if v, err := s.GetSetting(ctx, name); err != nil || string(v) != want {
			t.Errorf("%s = %q, %v; want %q", name, v, err, want)
		}
	}
	_, err = s.GetSetting(ctx, "gone")
	wantErr(t, "GetSetting(removed)", err, store.ErrNotFound)
	// A cancelled context stores nothing.
	cctx, cancel := contextCancelled(t)
	defer cancel()
	if err := s.UpdateSettings(cctx, map[string][]byte{"keep": []byte("no")}, []string{"new"}); err == nil {
		t.Fatal("UpdateSettings with a cancelled context succeeded")
	}
	if v, _ := s.GetSetting(ctx, "keep"); string(v) != "k" {
		t.Errorf("a failed UpdateSettings changed keep to %q", v)
	}
}

func contextCancelled(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx, cancel
}
