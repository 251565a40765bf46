//go:build unix

package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// withUmask022 gives the test process — and so every trent it starts — the
// common default umask 022, under which files made without an explicit
// mode come out world-readable; that is the setting the permission tests
// must survive. umask is per process, so these tests do not run in
// parallel with others.
func withUmask022(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
}

// modes returns the permission bits of every file and directory under dir
// (dir itself is ".").
func modes(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	m := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		m[rel] = fi.Mode().Perm()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func checkFileModes(t *testing.T, what, dir string, wantDir fs.FileMode) {
	t.Helper()
	for name, perm := range modes(t, dir) {
		want := fs.FileMode(0o600)
		switch name {
		case ".":
			want = wantDir
		case "audit": // the audit log's own directory is always 0700
			want = 0o700
		}
		if perm != want {
			t.Errorf("%s: %s has mode %04o, want %04o", what, filepath.Join(dir, name), perm, want)
		}
	}
}

// runBin runs the trent binary in dir (if not "") and returns its output.
// A command still running after testcmd's bound has started serving where
// it should have refused: it is stopped and the test fails.
func runBinIn(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := testcmd.Command(t, trentBinary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if stoppedByTestcmd(string(out)) {
		t.Fatalf("trent %q did not exit by itself:\n%s", args, out)
	}
	return string(out), err
}

func runBin(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runBinIn(t, "", args...)
}

// TestFilesArePrivate runs init and serve under umask 022 and checks that
// every file they make is 0600 — the store, its WAL and shared-memory
// files, the key files — and that a data directory init creates is 0700.
// Before, trent.db and its -wal/-shm came out 0644.
func TestFilesArePrivate(t *testing.T) {
	withUmask022(t)
	for _, tt := range []struct {
		name       string
		precreated bool
	}{
		{"data dir made by init", false},
		{"pre-created 0755 data dir", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			keyDir := t.TempDir()
			key := filepath.Join(keyDir, "seal.key")
			wantDir := fs.FileMode(0o700)
			if tt.precreated {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
					t.Fatal(err)
				}
				wantDir = 0o755 // init does not change a directory it did not make
			}
			out, err := runBin(t, "init", "--data-dir", dir, "--seal-key-file", key)
			if err != nil {
				t.Fatalf("trent init: %v\n%s", err, out)
			}
			checkFileModes(t, "after init", dir, wantDir)
			if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("seal key file: %v, mode %v", err, fi.Mode())
			}
			if tt.precreated {
				// init warns, and serve refuses, until the operator fixes it.
				if want := "chmod 700 " + dir; !strings.Contains(out, want) {
					t.Errorf("init in a 0755 dir does not tell the operator to %q:\n%s", want, out)
				}
				out, err := runBin(t, "serve", "--data-dir", dir, "--seal-key-file", key, "--listen", "127.0.0.1:0")
				if err == nil || !strings.Contains(out, "chmod 700 "+dir) {
					t.Fatalf("serve of a 0755 data dir: %v\n%s", err, out)
				}
				if err := os.Chmod(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			id, secret := initCredentials(t, out)
			p := startTrentArgs(t, nil, "serve", "--data-dir", dir, "--seal-key-file", key, "--listen", "127.0.0.1:0")
			if _, err := p.Client(id, secret).CreateKey(t.Context(), &kms.CreateKeyInput{}); err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			// While the server runs, the WAL and shared-memory files exist.
			m := modes(t, dir)
			if _, ok := m["trent.db-wal"]; !ok {
				t.Fatalf("no trent.db-wal while serving (files %v): the test does not see SQLite's side files", m)
			}
			checkFileModes(t, "while serving", dir, 0o700)
			p.Kill(t)
		})
	}

	t.Run("dev data dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "dev")
		p := startTrent(t, nil, "--data-dir", dir)
		m := modes(t, dir)
		if _, ok := m["trent.db-wal"]; !ok {
			t.Fatalf("no trent.db-wal while serving (files %v)", m)
		}
		checkFileModes(t, "dev server", dir, 0o700)
		p.Kill(t)
	})
}

func initCredentials(t *testing.T, out string) (id, secret string) {
	t.Helper()
	m := initKeyLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("trent init printed no access key:\n%s", out)
	}
	return m[1], m[2]
}

// TestServeRefusesOpenPermissions makes one thing of a working
// installation readable by group or others and checks that serve refuses
// it, naming the path and the chmod that fixes it.
func TestServeRefusesOpenPermissions(t *testing.T) {
	for _, tt := range []struct {
		name string
		dev  bool
		path string // relative to the data dir; "KEY" is the seal key file
		mode fs.FileMode
		fix  string
	}{
		{"data dir 0755", false, ".", 0o755, "chmod 700"},
		{"data dir 0750", false, ".", 0o750, "chmod 700"},
		{"data dir 0701", false, ".", 0o701, "chmod 700"},
		{"seal key file 0644", false, "KEY", 0o644, "chmod 600"},
		{"seal key file 0660", false, "KEY", 0o660, "chmod 600"},
		{"store 0644", false, "trent.db", 0o644, "chmod 600"},
		{"dev data dir 0755", true, ".", 0o755, "chmod 700"},
		{"dev seal key file 0644", true, "dev-seal.key", 0o644, "chmod 600"},
		{"dev store 0640", true, "trent.db", 0o640, "chmod 600"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			key := filepath.Join(t.TempDir(), "seal.key")
			serveArgs := []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}
			if tt.dev {
				serveArgs = append(serveArgs, "--dev")
				if err := startTrent(t, nil, "--data-dir", dir).Stop(t); err != nil {
					t.Fatal(err)
				}
			} else {
				serveArgs = append(serveArgs, "--seal-key-file", key)
				if out, err := runBin(t, "init", "--data-dir", dir, "--seal-key-file", key); err != nil {
					t.Fatalf("trent init: %v\n%s", err, out)
				}
			}
			path := filepath.Join(dir, tt.path)
			if tt.path == "KEY" {
				path = key
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			out, err := runBin(t, serveArgs...)
			if err == nil {
				t.Fatalf("serve with %s at mode %04o started:\n%s", path, tt.mode, out)
			}
			if want := tt.fix + " " + filepath.Clean(path); !strings.Contains(out, want) {
				t.Fatalf("serve with %s at mode %04o: want a message with %q:\n%s", path, tt.mode, want, out)
			}
		})
	}
}

// TestSealKeyFileOutsideDataDir checks that a production installation
// keeps its seal key file out of its data dir, so that one copy of the data
// dir cannot unseal it: init refuses a key file inside it (however the path
// is spelled) or none at all, and serve refuses the same.
func TestSealKeyFileOutsideDataDir(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	if err := os.MkdirAll(filepath.Join(data, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(data, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(base, "etc"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A directory outside the data dir that is a link into it.
	if err := os.Symlink(filepath.Join(data, "keys"), filepath.Join(base, "etc", "trent")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		key  string // "" for no --seal-key-file
		want string
	}{
		{"no key file", "", "--seal-key-file"},
		{"in the data dir", filepath.Join(data, "seal.key"), "inside the data dir"},
		{"in a subdirectory", filepath.Join(data, "keys", "seal.key"), "inside the data dir"},
		{"through a link to the data dir", filepath.Join(base, "link", "seal.key"), "inside the data dir"},
		{"through a linked directory", filepath.Join(base, "etc", "trent", "seal.key"), "inside the data dir"},
		{"with dot-dot", filepath.Join(base, "etc") + "/../data/seal.key", "inside the data dir"},
		{"dot-dot after a linked directory", filepath.Join(base, "etc", "trent") + "/../seal.key", "inside the data dir"},
		{"relative", "data/seal.key", "inside the data dir"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"init", "--data-dir", data}
			if tt.key != "" {
				args = append(args, "--seal-key-file", tt.key)
			}
			b, err := runBinIn(t, base, args...)
			if err == nil || !strings.Contains(b, tt.want) {
				t.Fatalf("trent %q: %v, want a refusal with %q:\n%s", args, err, tt.want, b)
			}
			if m := modes(t, data); len(m) != 2 { // "." and "keys"
				t.Fatalf("a refused init left files in the data dir: %v", m)
			}
		})
	}

	// A sibling whose name starts with the data dir's is not inside it.
	sibling := data + "2"
	if err := os.Mkdir(sibling, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(sibling, "seal.key")
	if out, err := runBin(t, "init", "--data-dir", data, "--seal-key-file", key); err != nil {
		t.Fatalf("init with the key file in %s: %v\n%s", sibling, err, out)
	}

	// serve needs the key file named, and outside: moved into the data
	// dir, it is refused even though it would unseal.
	out, err := runBin(t, "serve", "--data-dir", data, "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(out, "--seal-key-file") {
		t.Fatalf("serve without --seal-key-file: %v\n%s", err, out)
	}
	inside := filepath.Join(data, "seal.key")
	if err := os.Rename(key, inside); err != nil {
		t.Fatal(err)
	}
	out, err = runBin(t, "serve", "--data-dir", data, "--seal-key-file", inside, "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(out, "inside the data dir") {
		t.Fatalf("serve with the key file in the data dir: %v\n%s", err, out)
	}
	if _, err := os.Stat(inside); err != nil && errors.Is(err, fs.ErrNotExist) {
		t.Fatal("serve removed the key file")
	}
}
