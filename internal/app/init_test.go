//go:build unix

package app

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/trent-kms/trent/internal/seal"
)

var errStop = errors.New("stopped by the test")

// initCases are the seal types init makes, in a base directory holding
// data/ and keys/.
var initCases = []struct {
	name string
	opts func(base string) InitOptions
	want []string // the files a finished init leaves under base
}{
	{"keyfile", func(base string) InitOptions {
		return InitOptions{DataDir: filepath.Join(base, "data"), SealKeyFile: filepath.Join(base, "keys", "seal.key")}
	}, []string{"data/trent.db", "keys/seal.key"}},
	{"shamir", func(base string) InitOptions {
		return InitOptions{DataDir: filepath.Join(base, "data"), Seal: SealShamir, KeyShares: 3, KeyThreshold: 2}
	}, []string{"data/trent.db"}},
}

func newBase(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	return base
}

// files lists the regular files under base, relative and sorted, but for
// the audit log a served installation writes.
func files(t *testing.T, base string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "audit" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(base, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// copyTree copies src to dst as a crash would leave it: files, modes,
// and hard links within the tree (init commits by linking).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	seen := map[uint64]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, fi.Mode().Perm())
		}
		ino := fi.Sys().(*syscall.Stat_t).Ino
		if first, ok := seen[ino]; ok {
			return os.Link(first, target)
		}
		seen[ino] = target
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// initOnce runs Init and returns what it published.
func initOnce(t *testing.T, o InitOptions) (*InitResult, error) {
	t.Helper()
	var res *InitResult
	err := Init(t.Context(), o, func(r *InitResult) error { res = r; return nil })
	return res, err
}

// checkOpens starts the installation, unseals it with the published
// shares if it has any, and checks that the published root access key is
// the one it knows.
func checkOpens(t *testing.T, o InitOptions, res *InitResult) {
	t.Helper()
	n, err := Start(t.Context(), Config{DataDir: o.DataDir, SealKeyFile: o.SealKeyFile, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("Start after init: %v", err)
	}
	defer n.Close()
	for _, s := range res.UnsealShares[:min(len(res.UnsealShares), o.KeyThreshold)] {
		if _, err := n.SubmitShare(t.Context(), s); err != nil {
			t.Fatalf("SubmitShare: %v", err)
		}
	}
	a := n.App()
	if a == nil {
		t.Fatal("still sealed")
	}
	secret, _, err := a.IAM.Resolve(t.Context(), res.AccessKeyID, "")
	if err != nil || string(secret) != res.SecretAccessKey {
		t.Fatalf("the published root access key does not resolve: %v", err)
	}
}

// TestInitFailureLeavesRerunnable stops init with an error after each of
// its steps, and when publishing fails: nothing may be left that blocks a
// rerun or looks like an installation, and the rerun must work.
func TestInitFailureLeavesRerunnable(t *testing.T) {
	for _, c := range initCases {
		for _, step := range []string{stepStaged, "publish", stepPublished, stepSealCommitted} {
			t.Run(c.name+"/"+step, func(t *testing.T) {
				base := newBase(t)
				o := c.opts(base)
				o.step = func(s string) error {
					if s == step {
						return errStop
					}
					return nil
				}
				publish := func(*InitResult) error {
					if step == "publish" {
						return errStop
					}
					return nil
				}
				if err := Init(t.Context(), o, publish); !errors.Is(err, errStop) {
					t.Fatalf("Init = %v, want it stopped", err)
				}
				if left := files(t, base); len(left) != 0 {
					t.Fatalf("a failed init left %v", left)
				}
				if _, err := os.Stat(o.DataDir); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("a failed init left the data dir it made (%v)", err)
				}
				o.step = nil
				res, err := initOnce(t, o)
				if err != nil {
					t.Fatalf("rerun: %v", err)
				}
				if got := files(t, base); !slices.Equal(got, c.want) {
					t.Fatalf("after the rerun: %v, want %v", got, c.want)
				}
				checkOpens(t, o, res)
			})
		}
	}
}

// TestInitCrashLeavesRerunnable copies the directories as they are after
// each step of init — what a crash (kill -9, power loss) would leave — and
// checks that on the copy a rerun works or, once the store is committed,
// that the installation is whole and serve tidies what init left.
func TestInitCrashLeavesRerunnable(t *testing.T) {
	for _, c := range initCases {
		for _, step := range []string{stepStaged, stepPublished, stepSealCommitted, stepStoreLinked} {
			t.Run(c.name+"/"+step, func(t *testing.T) {
				base, snap := newBase(t), filepath.Join(t.TempDir(), "snap")
				o := c.opts(base)
				o.step = func(s string) error {
					if s == step {
						copyTree(t, base, snap)
						return errStop
					}
					return nil
				}
				first, _ := initOnce(t, o)
				so := c.opts(snap)
				t.Logf("left by the crash: %v", files(t, snap))
				if step == stepStoreLinked {
					if _, err := initOnce(t, so); err == nil || !strings.Contains(err.Error(), "already holds") {
						t.Fatalf("rerun after the commit = %v, want a refusal", err)
					}
					checkOpens(t, so, first)
					if got := files(t, snap); !slices.Equal(got, c.want) {
						t.Fatalf("after serving: %v, want %v (init's staging names removed)", got, c.want)
					}
					return
				}
				res, err := initOnce(t, so)
				if err != nil {
					t.Fatalf("rerun after a crash at %q: %v", step, err)
				}
				if got := files(t, snap); !slices.Equal(got, c.want) {
					t.Fatalf("after the rerun: %v, want %v", got, c.want)
				}
				checkOpens(t, so, res)
			})
		}
	}
}

// TestInitKeepsForeignKeyFile: a key file already at the path is never
// replaced or removed — not even when an unfinished init's store is
// waiting in the data dir — unless it is the one that store was sealed
// with.
func TestInitKeepsForeignKeyFile(t *testing.T) {
	base, snap := newBase(t), filepath.Join(t.TempDir(), "snap")
	o := initCases[0].opts(base)
	o.step = func(s string) error {
		if s == stepPublished {
			copyTree(t, base, snap)
			return errStop
		}
		return nil
	}
	initOnce(t, o)
	so := initCases[0].opts(snap)
	os.Remove(so.SealKeyFile + stagingSuffix)
	if _, err := seal.CreateKeyFile(so.SealKeyFile); err != nil { // someone else's
		t.Fatal(err)
	}
	before, _ := os.ReadFile(so.SealKeyFile)
	_, err := initOnce(t, so)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Init over a foreign key file = %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(so.SealKeyFile); string(after) != string(before) {
		t.Fatal("Init changed a key file it did not make")
	}
	if _, err := os.Stat(filepath.Join(so.DataDir, dbFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused init made a store")
	}
}

// TestInitLocksDataDir: a second init of the same data dir while one is
// under way is refused, not interleaved.
func TestInitLocksDataDir(t *testing.T) {
	base := newBase(t)
	o := initCases[1].opts(base)
	var second error
	o.step = func(s string) error {
		if s == stepStaged {
			_, second = initOnce(t, initCases[1].opts(base))
		}
		return nil
	}
	res, err := initOnce(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if second == nil || !strings.Contains(second.Error(), "another process") {
		t.Fatalf("concurrent init = %v, want a refusal", second)
	}
	checkOpens(t, o, res)
}

func TestInitRefuses(t *testing.T) {
	base := newBase(t)
	for _, tt := range []struct {
		name string
		o    InitOptions
		want string
	}{
		{"unknown seal", InitOptions{Seal: "hsm"}, "unknown seal type"},
		{"keyfile without a key file", InitOptions{}, "--seal-key-file"},
		{"keyfile with shares", InitOptions{SealKeyFile: filepath.Join(base, "keys", "k"), KeyShares: 3, KeyThreshold: 2}, "--seal shamir only"},
		{"shamir with a key file", InitOptions{Seal: SealShamir, KeyShares: 3, KeyThreshold: 2, SealKeyFile: filepath.Join(base, "keys", "k")}, "--seal keyfile only"},
		{"shamir threshold 1 of 3", InitOptions{Seal: SealShamir, KeyShares: 3, KeyThreshold: 1}, "threshold of 1"},
		{"shamir threshold above shares", InitOptions{Seal: SealShamir, KeyShares: 3, KeyThreshold: 4}, "threshold"},
		{"shamir 256 shares", InitOptions{Seal: SealShamir, KeyShares: 256, KeyThreshold: 2}, "1 to 255"},
		{"keyfile with a pkcs11 module", InitOptions{SealKeyFile: filepath.Join(base, "keys", "k"), PKCS11Module: "/lib/x.so"}, "--seal pkcs11 only"},
		{"shamir with a pkcs11 PIN", InitOptions{Seal: SealShamir, KeyShares: 3, KeyThreshold: 2, PKCS11PIN: "1234"}, "--seal pkcs11 only"},
		{"pkcs11 without a PIN", InitOptions{Seal: SealPKCS11, PKCS11Module: "/lib/x.so", PKCS11TokenLabel: "t", PKCS11KeyLabel: "k"}, "no PIN given"},
		{"pkcs11 without a module", InitOptions{Seal: SealPKCS11, PKCS11TokenLabel: "t", PKCS11KeyLabel: "k", PKCS11PIN: "1234"}, "no module given"},
		{"pkcs11 without a token label", InitOptions{Seal: SealPKCS11, PKCS11Module: "/lib/x.so", PKCS11KeyLabel: "k", PKCS11PIN: "1234"}, "no token label"},
		{"pkcs11 without a key label", InitOptions{Seal: SealPKCS11, PKCS11Module: "/lib/x.so", PKCS11TokenLabel: "t", PKCS11PIN: "1234"}, "no key label"},
		{"pkcs11 with a key file", InitOptions{Seal: SealPKCS11, PKCS11Module: "/lib/x.so", PKCS11TokenLabel: "t", PKCS11KeyLabel: "k", PKCS11PIN: "1234",
			SealKeyFile: filepath.Join(base, "keys", "k")}, "--seal keyfile only"},
		{"pkcs11 with shares", InitOptions{Seal: SealPKCS11, PKCS11Module: "/lib/x.so", PKCS11TokenLabel: "t", PKCS11KeyLabel: "k", PKCS11PIN: "1234",
			KeyShares: 3, KeyThreshold: 2}, "--seal shamir only"},
		{"pkcs11 missing module", InitOptions{Seal: SealPKCS11, PKCS11Module: filepath.Join(base, "libnone.so"), PKCS11TokenLabel: "t", PKCS11KeyLabel: "k", PKCS11PIN: "1234"}, "cannot load PKCS#11 module"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.DataDir = filepath.Join(base, "data")
			_, err := initOnce(t, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Init = %v, want an error with %q", err, tt.want)
			}
			if left := files(t, base); len(left) != 0 {
				t.Fatalf("a refused init left %v", left)
			}
		})
	}
}
