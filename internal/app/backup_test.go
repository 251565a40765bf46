package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRestoreOverDamagedStore: a store that cannot be read — a reason to
// restore — is moved aside, not a reason to refuse.
func TestRestoreOverDamagedStore(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	a, err := Open(ctx, Config{DataDir: src, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := Backup(ctx, src, backup); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, dbFile), []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Restore(ctx, dst, backup)
	if err != nil || rep.Replaced == "" {
		t.Fatalf("Restore over a damaged store: %+v %v, want it moved aside", rep, err)
	}
}

// devDataDir makes a dev installation in a new data dir and returns the
// data dir and the path of its store.
func devDataDir(t *testing.T) (dataDir, dbPath string) {
	t.Helper()
	dataDir = filepath.Join(t.TempDir(), "data")
	a, err := Open(context.Background(), Config{DataDir: dataDir, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	return dataDir, filepath.Join(dataDir, dbFile)
}

// backupOf backs the installation in dataDir up to a new file.
func backupOf(t *testing.T, dataDir string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "backup.db")
	if _, err := Backup(context.Background(), dataDir, to); err != nil {
		t.Fatal(err)
	}
	return to
}

// dataDirNames lists the names in dir, for failure messages and for
// checking what a restore left there.
func dataDirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestRestoreRefusesTheStoreItReplaces: a backup that is the data dir's
// own store, under any name, or a store an earlier restore kept aside
// there, is refused, and the store stays where it is. (Restoring the
// store over itself used to move it aside and then find nothing to copy,
// leaving the data dir without a store.)
func TestRestoreRefusesTheStoreItReplaces(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		from func(t *testing.T, dataDir, dbPath string) string
	}{
		{"the store itself", func(t *testing.T, _, dbPath string) string { return dbPath }},
		{"a symbolic link to it", func(t *testing.T, _, dbPath string) string {
			link := filepath.Join(t.TempDir(), "link.db")
			if err := os.Symlink(dbPath, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{"a hard link to it", func(t *testing.T, _, dbPath string) string {
			link := filepath.Join(t.TempDir(), "link.db")
			if err := os.Link(dbPath, link); err != nil {
				t.Skipf("no hard link across temporary dirs: %v", err)
			}
			return link
		}},
		{"a store kept aside by a restore", func(t *testing.T, dataDir, _ string) string {
			rep, err := Restore(ctx, dataDir, backupOf(t, dataDir))
			if err != nil || rep.Replaced == "" {
				t.Fatalf("the first restore: %+v %v", rep, err)
			}
			return filepath.Join(dataDir, rep.Replaced)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir, dbPath := devDataDir(t)
			from := tc.from(t, dataDir, dbPath)
			before := dataDirNames(t, dataDir)
			want, err := os.ReadFile(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Restore(ctx, dataDir, from); err == nil || !strings.Contains(err.Error(), "not restored") {
				t.Fatalf("Restore from %s: %v, want it refused", from, err)
			}
			if got, err := os.ReadFile(dbPath); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the store after the refusal: %d bytes, %v; the data dir holds %v", len(got), err, dataDirNames(t, dataDir))
			}
			if after := dataDirNames(t, dataDir); !slices.Equal(after, before) {
				t.Errorf("the data dir held %v and holds %v after the refusal", before, after)
			}
		})
	}
}

// TestRestoreFailureLeavesTheStore: whichever step of a restore fails —
// the copy (a full disk), moving the store aside, renaming the copy into
// place — the data dir's store is where it was, unchanged, and nothing
// of the restore is left; if the store cannot even be moved back, the
// error says where it is.
func TestRestoreFailureLeavesTheStore(t *testing.T) {
	errDisk := errors.New("injected disk failure")
	for _, tc := range []struct {
		name      string
		copyFails bool
		// renameFails says which renames in the data dir fail, by name.
		renameFails func(oldpath, newpath string) bool
		// wantIn is in the error; stranded: the store is left aside.
		wantIn   string
		stranded bool
	}{
		{name: "the copy", copyFails: true, wantIn: "the store there is unchanged"},
		{
			name:        "moving the store aside",
			renameFails: func(oldpath, _ string) bool { return oldpath == dbFile },
			wantIn:      "moved back",
		},
		{
			name:        "renaming the copy into place",
			renameFails: func(oldpath, _ string) bool { return oldpath == stagedStore },
			wantIn:      "moved back",
		},
		{
			name: "renaming the copy into place and moving the store back",
			renameFails: func(oldpath, _ string) bool {
				return oldpath == stagedStore || strings.HasPrefix(oldpath, replacedPrefix)
			},
			wantIn:   "could not be moved back",
			stranded: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir, dbPath := devDataDir(t)
			backup := backupOf(t, dataDir)
			want, err := os.ReadFile(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			files := storeFiles{copy: copyFileSynced, rename: os.Rename}
			if tc.copyFails {
				files.copy = func(string, string) error { return errDisk }
			}
			if tc.renameFails != nil {
				files.rename = func(oldpath, newpath string) error {
					if tc.renameFails(filepath.Base(oldpath), filepath.Base(newpath)) {
						return errDisk
					}
					return os.Rename(oldpath, newpath)
				}
			}
			_, err = restore(context.Background(), dataDir, backup, files)
			if !errors.Is(err, errDisk) || !strings.Contains(err.Error(), tc.wantIn) {
				t.Fatalf("restore: %v, want the injected failure and %q", err, tc.wantIn)
			}
			names := dataDirNames(t, dataDir)
			if slices.Contains(names, stagedStore) {
				t.Errorf("the copy %s is left in the data dir: %v", stagedStore, names)
			}
			at := dbPath
			if tc.stranded {
				i := slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(n, replacedPrefix) })
				if i < 0 || !strings.Contains(err.Error(), filepath.Join(dataDir, names[i])) {
					t.Fatalf("the error %q does not name where the store is; the data dir holds %v", err, names)
				}
				at = filepath.Join(dataDir, names[i])
			} else if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, replacedPrefix) }) {
				t.Errorf("a store kept aside after a failed restore: %v", names)
			}
			if got, err := os.ReadFile(at); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the store at %s after the failed restore: %d bytes, %v; the data dir holds %v", at, len(got), err, names)
			}
		})
	}
}

// TestRestoreKeepsEveryReplacedStore: two restores within one second
// each keep the store they replace under its own name; the second used
// to take the first's name and overwrite it.
func TestRestoreKeepsEveryReplacedStore(t *testing.T) {
	ctx := context.Background()
	dataDir, dbPath := devDataDir(t)
	backup := backupOf(t, dataDir)
	original, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	var replaced []string
	for range 3 {
		rep, err := Restore(ctx, dataDir, backup)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rep.Replaced, replacedPrefix) || slices.Contains(replaced, rep.Replaced) {
			t.Fatalf("the store replaced is kept as %q, after %v", rep.Replaced, replaced)
		}
		replaced = append(replaced, rep.Replaced)
	}
	if got, err := os.ReadFile(filepath.Join(dataDir, replaced[0])); err != nil || !bytes.Equal(got, original) {
		t.Fatalf("the first store replaced, %s: %d bytes, %v; want the original store", replaced[0], len(got), err)
	}
}

// TestReplacedName: the name for a store kept aside is free of the name
// itself and of its -wal and -shm, whichever of them an earlier restore
// left.
func TestReplacedName(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 2, 3, 0, time.UTC)
	base := replacedPrefix + "20261208T010203Z"
	for _, tc := range []struct {
		existing []string
		want     string
	}{
		{nil, base},
		{[]string{base}, base + "-2"},
		{[]string{base + "-wal"}, base + "-2"},
		{[]string{base + "-shm", base + "-2"}, base + "-3"},
		{[]string{base + "-2"}, base},
	} {
		dir := t.TempDir()
		for _, name := range tc.existing {
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := replacedName(dir, now); err != nil || got != tc.want {
			t.Errorf("with %v: %q %v, want %q", tc.existing, got, err, tc.want)
		}
	}
}
