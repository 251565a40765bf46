//go:build unix

package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResealCrashBeforeCommit stops a migration to a new key file after
// the key file is in place and before the store commits — what a crash
// there leaves. The old seal still opens the installation, the new key
// file opens nothing, and a rerun recognises the leftover as its own and
// finishes; a file it did not make is never replaced.
func TestResealCrashBeforeCommit(t *testing.T) {
	ctx := context.Background()
	base := newBase(t)
	dir := filepath.Join(base, "data")
	k0, k1 := filepath.Join(base, "keys", "k0"), filepath.Join(base, "keys", "k1")
	if err := Init(ctx, InitOptions{DataDir: dir, SealKeyFile: k0}, nil); err != nil {
		t.Fatal(err)
	}
	opens := func(keyFile string) error {
		a, err := Open(ctx, Config{DataDir: dir, SealKeyFile: keyFile})
		if err == nil {
			a.Close()
		}
		return err
	}
	migrate := func(step func(string) error) error {
		return Reseal(ctx, ResealOptions{DataDir: dir, SealKeyFile: k0, step: step,
			To: InitOptions{Seal: SealKeyFile, SealKeyFile: k1}}, nil)
	}

	if err := migrate(func(string) error { return errStop }); err != errStop {
		t.Fatalf("Reseal stopped by the test = %v", err)
	}
	if _, err := os.Stat(k1); err != nil {
		t.Fatalf("the new key file is not in place after the stop: %v", err)
	}
	if err := opens(k0); err != nil {
		t.Fatalf("the old key file no longer opens the installation after a stopped migration: %v", err)
	}
	if err := opens(k1); err == nil {
		t.Fatal("the new key file opens the installation before the commit")
	}

	if err := migrate(nil); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if err := opens(k1); err != nil {
		t.Fatalf("the new key file after the migration: %v", err)
	}
	if err := opens(k0); err == nil {
		t.Fatal("the old key file still opens the installation")
	}

	// A key file the migration did not make is refused, nothing changed.
	k2 := filepath.Join(base, "keys", "k2")
	if err := os.WriteFile(k2, []byte("someone's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Reseal(ctx, ResealOptions{DataDir: dir, SealKeyFile: k1, To: InitOptions{Seal: SealKeyFile, SealKeyFile: k2}}, nil)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Reseal onto a foreign file = %v", err)
	}
	if b, _ := os.ReadFile(k2); string(b) != "someone's\n" {
		t.Fatal("the foreign file was replaced")
	}
	if err := opens(k1); err != nil {
		t.Fatalf("after the refused migration: %v", err)
	}
}

// TestResealRefusesWhileOpen: a running installation holds the data dir
// shared; reseal needs it alone.
func TestResealRefusesWhileOpen(t *testing.T) {
	ctx := context.Background()
	base := newBase(t)
	dir := filepath.Join(base, "data")
	k0 := filepath.Join(base, "keys", "k0")
	if err := Init(ctx, InitOptions{DataDir: dir, SealKeyFile: k0}, nil); err != nil {
		t.Fatal(err)
	}
	a, err := Open(ctx, Config{DataDir: dir, SealKeyFile: k0})
	if err != nil {
		t.Fatal(err)
	}
	err = Reseal(ctx, ResealOptions{DataDir: dir, SealKeyFile: k0,
		To: InitOptions{Seal: SealShamir, KeyShares: 1, KeyThreshold: 1}}, nil)
	a.Close()
	if err == nil || !strings.Contains(err.Error(), "in use by a running Trent") {
		t.Fatalf("Reseal beside an open installation = %v", err)
	}
}
