package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/trent-kms/trent/internal/store"
)

// TestDeleteKeyMaterialLeavesNoRemnants: deleting imported material is
// crypto-shredding, as deleting a key is. The wrapped material of the
// deleted version is in no file of the data directory afterwards, while
// the version kept is (which shows the scan finds what is there).
func TestDeleteKeyMaterialLeavesNoRemnants(t *testing.T) {
	for _, size := range []int{60, 3000} { // in the page, and in overflow pages
		dir := t.TempDir()
		db, err := Open(filepath.Join(dir, "trent.db"))
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		k, _ := testKey("00000000-0000-4000-8000-000000000001")
		k.Origin, k.State, k.CurrentVersion = "EXTERNAL", "PendingImport", 0
		if err := db.CreateKeyWithoutMaterial(ctx, k); err != nil {
			t.Fatal(err)
		}
		k.Revision, k.State, k.CurrentVersion = 1, "Enabled", 2
		gone, kept := randomWrapped(size), randomWrapped(size)
		for i, w := range [][]byte{gone, kept} {
			v := store.KeyVersion{Version: uint32(i + 1), MaterialID: "m", Wrapped: w, ImportState: "IMPORTED",
				ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"}
			if k, err = db.PutKeyMaterial(ctx, k, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.DeleteKeyMaterial(ctx, k, []uint32{1}); err != nil {
			t.Fatalf("DeleteKeyMaterial: %v", err)
		}
		if found := remnants(t, dir, needlesOf("deleted material", gone)); len(found) != 0 {
			t.Errorf("%d bytes: deleted material remains: %v", size, found)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if found := remnants(t, dir, map[string][]byte{"kept": kept[:16]}); len(found) == 0 {
			t.Errorf("%d bytes: the kept material is not found either: the scan proves nothing", size)
		}
	}
}
