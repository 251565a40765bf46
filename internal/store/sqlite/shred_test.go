package sqlite

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// The shredding tests read the database files the way someone who copied
// the data directory would, and look for the wrapped backing keys of
// deleted keys: random bytes, so they can be there only because they were
// stored.

// randomWrapped returns n random bytes standing for a wrapped backing key.
func randomWrapped(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// remnants returns "<what> in <file>" for every needle found in a file of
// dir (the database, its WAL and its shared-memory index).
func remnants(t *testing.T, dir string, needles map[string][]byte) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for what, n := range needles {
			if bytes.Contains(b, n) {
				found = append(found, what+" in "+e.Name())
			}
		}
	}
	slices.Sort(found)
	return found
}

// needlesOf is the wrapped value and 16-byte fragments of it from every
// 256 bytes and its end: a surviving fragment is as bad as the whole, and a
// value larger than a page is stored in pieces (overflow pages), so only
// its fragments can be found.
func needlesOf(name string, wrapped []byte) map[string][]byte {
	needles := map[string][]byte{name: wrapped}
	for i := 0; i+16 <= len(wrapped); i += 256 {
		needles[fmt.Sprintf("%s (bytes %d-%d)", name, i, i+16)] = wrapped[i : i+16]
	}
	n := len(wrapped)
	needles[fmt.Sprintf("%s (bytes %d-%d)", name, n-16, n)] = wrapped[n-16:]
	return needles
}

// storeShredKey creates a key with two versions whose wrapped values are
// random, and returns the key as stored and the needles of its values.
func storeShredKey(t *testing.T, db *DB, id string, size int) (store.Key, map[string][]byte) {
	t.Helper()
	ctx := t.Context()
	k, v := testKey(id)
	v.Wrapped = randomWrapped(size)
	if err := db.CreateKey(ctx, k, v); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	k.Revision = 1
	k.CurrentVersion = 2
	v2 := v
	v2.Version = 2
	v2.Wrapped = randomWrapped(size)
	k, err := db.AddKeyVersion(ctx, k, v2)
	if err != nil {
		t.Fatalf("AddKeyVersion: %v", err)
	}
	needles := needlesOf(id+" v1", v.Wrapped)
	for what, n := range needlesOf(id+" v2", v2.Wrapped) {
		needles[what] = n
	}
	return k, needles
}

// TestDeleteKeyLeavesNoRemnants deletes keys and checks that their wrapped
// backing keys are in none of the files: not in the WAL right after the
// delete (the store is still open), not in free pages after Close. Before
// the delete they are found, so the scan is not blind.
func TestDeleteKeyLeavesNoRemnants(t *testing.T) {
	tests := []struct {
		name   string
		keys   int
		delete []int // indexes of the keys deleted
		size   int   // bytes of each wrapped value
	}{
		{"one key among many", 40, []int{7}, 90},
		{"every key: pages freed", 40, nil, 90},
		{"overflow pages", 6, []int{2}, 6000},
		{"overflow pages freed", 3, nil, 6000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			db := mustOpen(t, filepath.Join(dir, "trent.db"))
			defer db.Close()
			keys := make([]store.Key, tt.keys)
			needles := make([]map[string][]byte, tt.keys)
			for i := range tt.keys {
				keys[i], needles[i] = storeShredKey(t, db, fmt.Sprintf("key-%02d", i), tt.size)
			}
			del := tt.delete
			if del == nil {
				for i := range tt.keys {
					del = append(del, i)
				}
			}
			doomed := map[string][]byte{}
			for _, i := range del {
				for what, n := range needles[i] {
					doomed[what] = n
				}
			}
			if got := remnants(t, dir, doomed); len(got) == 0 {
				t.Fatal("before the delete the wrapped values are in no file: the scan is blind")
			}

			for _, i := range del {
				if err := db.DeleteKey(ctx, keys[i].ID, keys[i].Revision); err != nil {
					t.Fatalf("DeleteKey(%s): %v", keys[i].ID, err)
				}
			}
			if got := remnants(t, dir, doomed); len(got) != 0 {
				t.Errorf("after DeleteKey, still open: %q", got)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if got := remnants(t, dir, doomed); len(got) != 0 {
				t.Errorf("after Close: %q", got)
			}
			for i := range tt.keys {
				if !slices.Contains(del, i) && len(remnants(t, dir, needles[i])) == 0 {
					t.Errorf("nothing of %s, not deleted, is found: the scan is blind", keys[i].ID)
				}
			}
		})
	}
}

// TestDeleteKeyPurgeBlockedByReader holds a read snapshot open in another
// connection, as a long query or a backup in another process would: the
// WAL cannot be truncated, DeleteKey reports ErrNotPurged (the key is gone
// all the same), and the next DeleteKey after the reader left purges both.
func TestDeleteKeyPurgeBlockedByReader(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "trent.db")
	// A short busy timeout: the checkpoint waits that long for the reader.
	db, err := open(path, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first, firstNeedles := storeShredKey(t, db, "first", 90)
	second, secondNeedles := storeShredKey(t, db, "second", 90)

	other, err := sql.Open("sqlite", dsn(db.Path(), false, busyTimeout))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	reader, err := other.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM key_versions").Scan(&n); err != nil || n != 4 {
		t.Fatalf("reader sees %d versions, %v; want 4", n, err)
	}

	err = db.DeleteKey(ctx, first.ID, first.Revision)
	if !errors.Is(err, store.ErrNotPurged) {
		t.Fatalf("DeleteKey with a reader on an old snapshot: %v, want ErrNotPurged", err)
	}
	if _, err := db.GetKey(ctx, first.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetKey after a DeleteKey that was not purged: %v, want ErrNotFound", err)
	}
	if got := remnants(t, dir, firstNeedles); len(got) == 0 {
		t.Error("nothing of the key is left although the purge failed: the test does not hold a snapshot")
	}

	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteKey(ctx, second.ID, second.Revision); err != nil {
		t.Fatalf("DeleteKey after the reader left: %v", err)
	}
	for what, needles := range map[string]map[string][]byte{"first key": firstNeedles, "second key": secondNeedles} {
		if got := remnants(t, dir, needles); len(got) != 0 {
			t.Errorf("%s after the next DeleteKey: %q", what, got)
		}
	}
}
