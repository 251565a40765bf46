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
