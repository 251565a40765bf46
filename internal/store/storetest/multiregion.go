package storetest

import (
	"slices"
	"testing"

	"github.com/trent-kms/trent/internal/store"
)

// RunMultiRegion runs the conformance suite of store.MultiRegionKeys, with
// open as for Run.
func RunMultiRegion(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateMembers", testMRCreateMembers},
		{"OneMemberPerRegion", testMROneMemberPerRegion},
		{"UpdateKeys", testMRUpdateKeys},
		{"AddKeyVersions", testMRAddKeyVersions},
		{"DeleteMember", testMRDeleteMember},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, s)
		})
	}
}

const testMRK = "mrk-0123456789abcdef0123456789abcdef"

// mrMember returns the member of testMRK in region, primary in primary.
func mrMember(region, primary string) store.Key {
	k := newKey(testMRK+"/"+region, "111122223333", region)
	k.MultiRegionKey, k.PrimaryRegion = testMRK, primary
	return k
}

// mrVersions returns versions 1…n of key id.
func mrVersions(id string, n uint32) []store.KeyVersion {
	var vs []store.KeyVersion
	for v := uint32(1); v <= n; v++ {
		vs = append(vs, newVersion(id, v))
	}
	return vs
}

// mrCreate stores the member of testMRK in region with n versions and
// returns it as GetKey should.
func mrCreate(t *testing.T, s store.Store, region, primary string, n uint32) store.Key {
	t.Helper()
	k := mrMember(region, primary)
	k.CurrentVersion = n
	if err := s.CreateMultiRegionKey(t.Context(), k, mrVersions(k.ID, n)); err != nil {
		t.Fatalf("CreateMultiRegionKey(%s): %v", k.ID, err)
	}
	k.Revision = 1
	return k
}

func testMRCreateMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	single := mustCreate(t, s, newKey(keyID(1), "111122223333", "us-east-1"))
	primary := mrCreate(t, s, "us-east-1", "us-east-1", 1)
	replica := mrCreate(t, s, "eu-west-1", "us-east-1", 1)

	sameKey(t, "GetKey(primary)", mustGet(t, s, primary.ID), primary)
	sameKey(t, "GetKey(replica)", mustGet(t, s, replica.ID), replica)
	if got := mustGet(t, s, single.ID); got.MultiRegionKey != "" || got.PrimaryRegion != "" {
		t.Fatalf("single-Region key reads back as multi-Region: %+v", got)
	}
	listed, err := s.ListKeys(ctx, "111122223333", "us-east-1", "", 10)
	wantErr(t, "ListKeys", err, nil)
	sameKeys(t, "ListKeys(us-east-1)", listed, []store.Key{single, primary})

	members, err := s.MultiRegionMembers(ctx, testMRK)
	wantErr(t, "MultiRegionMembers", err, nil)
	sameKeys(t, "MultiRegionMembers", members, []store.Key{replica, primary}) // by region
	vs, err := s.KeyVersions(ctx, replica.ID)
	wantErr(t, "KeyVersions(replica)", err, nil)
	sameVersions(t, "replica versions", vs, mrVersions(replica.ID, 1))

	none, err := s.MultiRegionMembers(ctx, "mrk-ffffffffffffffffffffffffffffffff")
	wantErr(t, "MultiRegionMembers(unknown)", err, nil)
	if none == nil || len(none) != 0 {
		t.Fatalf("MultiRegionMembers(unknown) = %#v, want an empty slice", none)
	}
}

func testMROneMemberPerRegion(t *testing.T, s store.Store) {
	ctx := t.Context()
	mrCreate(t, s, "us-east-1", "us-east-1", 1)
	// Another row id, same multi-Region key and region: refused whole.
	k := mrMember("us-east-1", "us-east-1")
	k.ID = testMRK + "/other"
	err := s.CreateMultiRegionKey(ctx, k, mrVersions(k.ID, 1))
	wantErr(t, "second member in us-east-1", err, store.ErrExists)
	_, err = s.GetKey(ctx, k.ID)
	wantErr(t, "GetKey after the refused member", err, store.ErrNotFound)
	// The same row id again.
	err = s.CreateMultiRegionKey(ctx, mrMember("us-east-1", "us-east-1"), mrVersions(testMRK+"/us-east-1", 1))
	wantErr(t, "same member again", err, store.ErrExists)
	// A current version that is not stored is a caller's bug.
	k = mrMember("eu-west-1", "us-east-1")
	k.CurrentVersion = 2
	if err := s.CreateMultiRegionKey(ctx, k, mrVersions(k.ID, 1)); err == nil {
		t.Fatal("CreateMultiRegionKey without the current version succeeded")
	}
}

func testMRUpdateKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	primary := mrCreate(t, s, "us-east-1", "us-east-1", 1)
	replica := mrCreate(t, s, "eu-west-1", "us-east-1", 1)

	// A stale revision anywhere: nothing changes.
	p2, r2 := primary, replica
	p2.PrimaryRegion, r2.PrimaryRegion = "eu-west-1", "eu-west-1"
	r2.Revision = 7
	_, err := s.UpdateKeys(ctx, []store.Key{p2, r2})
	wantErr(t, "UpdateKeys with a stale revision", err, store.ErrConflict)
	sameKey(t, "primary after the refused update", mustGet(t, s, primary.ID), primary)

	r2.Revision = replica.Revision
	r2.Description = "now primary"
	got, err := s.UpdateKeys(ctx, []store.Key{p2, r2})
	wantErr(t, "UpdateKeys", err, nil)
	p2.Revision, r2.Revision = 2, 2
	sameKeys(t, "UpdateKeys result", got, []store.Key{p2, r2})
	sameKey(t, "old primary", mustGet(t, s, primary.ID), p2)
	sameKey(t, "new primary", mustGet(t, s, replica.ID), r2)

	// A single-Region key takes no primary region.
	single := mustCreate(t, s, newKey(keyID(1), "111122223333", "us-east-1"))
	single.PrimaryRegion = "us-east-1"
	if _, err := s.UpdateKeys(ctx, []store.Key{single}); err == nil {
		t.Fatal("UpdateKeys set a primary region on a single-Region key")
	}
}

func testMRAddKeyVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	primary := mrCreate(t, s, "us-east-1", "us-east-1", 2)
	replica := mrCreate(t, s, "eu-west-1", "us-east-1", 2)
	p3, r3 := primary, replica
	p3.CurrentVersion, r3.CurrentVersion = 3, 3

	// The replica's version 3 exists already: nothing is written.
	if err := s.CreateMultiRegionKey(ctx, mrMember("ap-south-1", "us-east-1"), mrVersions(testMRK+"/ap-south-1", 1)); err != nil {
		t.Fatal(err)
	}
	bad := mustGet(t, s, testMRK+"/ap-south-1")
	_, err := s.AddKeyVersions(ctx, []store.Key{p3, bad}, []store.KeyVersion{newVersion(p3.ID, 3), newVersion(bad.ID, 1)})
	wantErr(t, "AddKeyVersions with an existing version", err, store.ErrExists)
	vs, _ := s.KeyVersions(ctx, primary.ID)
	sameVersions(t, "primary versions after the refused rotation", vs, mrVersions(primary.ID, 2))
	sameKey(t, "primary after the refused rotation", mustGet(t, s, primary.ID), primary)

	got, err := s.AddKeyVersions(ctx, []store.Key{p3, r3}, []store.KeyVersion{newVersion(p3.ID, 3), newVersion(r3.ID, 3)})
	wantErr(t, "AddKeyVersions", err, nil)
	p3.Revision, r3.Revision = 2, 2
	sameKeys(t, "AddKeyVersions result", got, []store.Key{p3, r3})
	for _, k := range []store.Key{p3, r3} {
		vs, err := s.KeyVersions(ctx, k.ID)
		wantErr(t, "KeyVersions", err, nil)
		sameVersions(t, "versions of "+k.ID, vs, mrVersions(k.ID, 3))
	}
}

func testMRDeleteMember(t *testing.T, s store.Store) {
	ctx := t.Context()
	primary := mrCreate(t, s, "us-east-1", "us-east-1", 2)
	replica := mrCreate(t, s, "eu-west-1", "us-east-1", 2)
	err := s.DeleteKey(ctx, replica.ID, replica.Revision)
	wantErr(t, "DeleteKey(replica)", err, nil)
	members, err := s.MultiRegionMembers(ctx, testMRK)
	wantErr(t, "MultiRegionMembers", err, nil)
	if got := ids(members); !slices.Equal(got, []string{primary.ID}) {
		t.Fatalf("members after deleting the replica: %v, want only the primary", got)
	}
	vs, err := s.KeyVersions(ctx, primary.ID)
	wantErr(t, "KeyVersions(primary)", err, nil)
	sameVersions(t, "the primary's material survives its replica", vs, mrVersions(primary.ID, 2))
	// The region is free again.
	mrCreate(t, s, "eu-west-1", "us-east-1", 2)
}
