package fspath

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	elsewhere := filepath.Join(root, "elsewhere")
	for _, d := range []string{dir, elsewhere} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A link outside that points in, and a link inside that points out.
	if err := os.Symlink(dir, filepath.Join(root, "to-data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "to-elsewhere")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{dir, true},
		{filepath.Join(dir, "backups"), true},
		{filepath.Join(dir, "..backups"), true}, // a name that starts with "..", inside
		{filepath.Join(dir, "a", "..", "..", "elsewhere"), false},
		{root, false},
		{elsewhere, false},
		{filepath.Join(root, "to-data"), true},
		{filepath.Join(root, "to-data", "not-yet", "x"), true},
		{filepath.Join(dir, "to-elsewhere"), false},
		{filepath.Join(dir, "to-elsewhere", "x"), false},
		// ".." after a link is taken from the link's target, as the kernel does.
		{filepath.Join(dir, "to-elsewhere") + "/../data/x", true},
	} {
		if got, err := Inside(dir, tc.path); err != nil || got != tc.want {
			t.Errorf("Inside(%s, %s) = %v, %v; want %v", dir, tc.path, got, err, tc.want)
		}
	}
}
