// Package testfiles copies what tests copy by hand: a data or audit
// directory as a crash, a backup or an operator's copy would leave it.
// It imports nothing of Trent's, so that any package's tests can use it
// (internal/audit's own tests too). Only test code imports this package.
package testfiles

import (
	"os"
	"path/filepath"
	"testing"
)

// CopyDir copies the regular files directly in the directory from into
// the directory to, which it makes (0700) if need be; files there of the
// same names are replaced. The copies are 0600. Subdirectories are not
// copied: an audit directory has none.
func CopyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// ReadDir is os.ReadDir, failing t on an error.
func ReadDir(t testing.TB, dir string) []os.DirEntry {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ents
}
