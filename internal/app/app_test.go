//go:build unix

package app

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStoreFilesPrivateWhateverTheUmask opens installations in-process,
// where the command's umask 077 does not apply, under umask 022: the store
// and SQLite's -wal and -shm must still be 0600, because the store file is
// created 0600 before SQLite opens it and SQLite copies its mode.
func TestStoreFilesPrivateWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		open func(t *testing.T, dir string) *App
	}{
		{"dev", func(t *testing.T, dir string) *App {
			a, err := Open(ctx, Config{DataDir: dir, Dev: true})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
		{"production", func(t *testing.T, dir string) *App {
			key := filepath.Join(t.TempDir(), "seal.key")
			if err := Init(ctx, InitOptions{DataDir: dir, SealKeyFile: key}, nil); err != nil {
				t.Fatal(err)
			}
			a, err := Open(ctx, Config{DataDir: dir, SealKeyFile: key})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			a := tt.open(t, dir)
			defer a.Close()
			if _, _, err := a.Directory.CreateAccessKey(ctx, a.Account); err != nil { // a write
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				fi, err := e.Info()
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, e.Name())
				want := os.FileMode(0o600)
				if e.IsDir() { // the audit log's directory
					want = 0o700
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s has mode %04o, want %04o", e.Name(), fi.Mode().Perm(), want)
				}
			}
			if !strings.Contains(strings.Join(names, " "), dbFile+"-wal") {
				t.Errorf("no -wal file among %v: the test does not see SQLite's side files", names)
			}
			if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("data dir: %v, mode %v, want 0700", err, fi.Mode().Perm())
			}
		})
	}
}

func TestCheckKeyFileOutside(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	for _, d := range []string{data, filepath.Join(data, "sub"), filepath.Join(base, "etc")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mustLink := func(target, link string) {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	mustLink(data, filepath.Join(base, "datalink"))
	mustLink(filepath.Join(data, "sub"), filepath.Join(base, "etc", "trent"))
	mustLink(filepath.Join(base, "etc"), filepath.Join(data, "outlink"))
	for _, tt := range []struct {
		name, dataDir, key string
		inside             bool
	}{
		{"beside", data, filepath.Join(base, "etc", "seal.key"), false},
		{"sibling with the same prefix", data, data + "2/seal.key", false},
		{"parent dir", data, filepath.Join(base, "seal.key"), false},
		{"in it", data, filepath.Join(data, "seal.key"), true},
		{"the dir itself", data, data, true},
		{"in a subdirectory", data, filepath.Join(data, "sub", "x", "seal.key"), true},
		{"through a link to it", data, filepath.Join(base, "datalink", "seal.key"), true},
		{"data dir given through a link", filepath.Join(base, "datalink"), filepath.Join(data, "seal.key"), true},
		{"through a linked directory", data, filepath.Join(base, "etc", "trent", "seal.key"), true},
		{"dot-dot after a link", data, filepath.Join(base, "etc", "trent") + "/../seal.key", true},
		{"a link in the data dir to outside it", data, filepath.Join(data, "outlink") + "/seal.key", false},
		{"data dir not made yet", filepath.Join(base, "new", "data"), filepath.Join(base, "new", "data", "seal.key"), true},
		{"nothing exists", "/nonexistent-trent/a", "/nonexistent-trent/a/b/../seal.key", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkKeyFileOutside(tt.dataDir, tt.key)
			if got := err != nil; got != tt.inside {
				t.Fatalf("checkKeyFileOutside(%s, %s) = %v, want inside=%v", tt.dataDir, tt.key, err, tt.inside)
			}
			if err != nil && !strings.Contains(err.Error(), "inside the data dir") {
				t.Fatalf("error %q does not say what is wrong", err)
			}
		})
	}
}

func TestCheckPrivate(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		mode fs.FileMode
		ok   bool
	}{{0o700, true}, {0o500, true}, {0o750, false}, {0o705, false}, {0o710, false}, {0o777, false}} {
		if err := os.Chmod(dir, tt.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckDataDir(dir)
		if (err == nil) != tt.ok {
			t.Errorf("CheckDataDir at %04o = %v, want ok=%v", tt.mode, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod 700 "+dir) {
			t.Errorf("CheckDataDir at %04o = %v: does not name the fix", tt.mode, err)
		}
	}
	os.Chmod(dir, 0o700)
	if err := checkPrivate(filepath.Join(dir, "absent-wal"), false); err != nil {
		t.Errorf("a missing side file: %v", err)
	}
}
