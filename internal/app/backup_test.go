package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

func TestInsideDir(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		want bool
	}{
		{dir, true},
		{filepath.Join(dir, "backups"), true},
		{filepath.Join(dir, "..backups"), true}, // a name that starts with "..", inside
		{filepath.Join(dir, "a", "..", "..", "elsewhere"), false},
		{filepath.Dir(dir), false},
	} {
		if got, err := insideDir(dir, tc.path); err != nil || got != tc.want {
			t.Errorf("insideDir(%s, %s) = %v, %v; want %v", dir, tc.path, got, err, tc.want)
		}
	}
}
