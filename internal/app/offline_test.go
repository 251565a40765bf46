package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// TestResealOnDatabaseGuards: a reseal on PostgreSQL is refused while
// another process holds the rotate-root lease (a rotation, or another
// reseal), and is not committed if a node came to serve unsealed while it
// ran (checked again before the commit): the stored seal stays the old
// one, which still opens the installation.
func TestResealOnDatabaseGuards(t *testing.T) {
	c := pgtest.StartForTest(t)
	ctx := context.Background()
	url, err := c.NewDatabase(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	keyFile := filepath.Join(base, "seal.key")
	if err := Init(ctx, InitOptions{DatabaseURL: url, SealKeyFile: keyFile}, nil); err != nil {
		t.Fatal(err)
	}
	migrate := func(newKey string, step func(string) error) error {
		return Reseal(ctx, ResealOptions{DatabaseURL: url, SealKeyFile: keyFile, step: step,
			To: InitOptions{Seal: SealKeyFile, SealKeyFile: newKey}}, nil)
	}

	other, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	l := other.NewLease(store.LeaseRotateRoot, "a rotating node")
	if held, err := l.Try(ctx); !held || err != nil {
		t.Fatalf("take the rotate-root lease: %v %v", held, err)
	}
	err = migrate(filepath.Join(base, "new1.key"), nil)
	if err == nil || !strings.Contains(err.Error(), "rotate-root lease") || !strings.Contains(err.Error(), "a rotating node") {
		t.Fatalf("Reseal while the rotate-root lease is held: %v", err)
	}
	l.Release()

	// A node starts, unsealed, between the new key file and the commit.
	var node *Node
	defer func() {
		if node != nil {
			node.Close()
		}
	}()
	err = migrate(filepath.Join(base, "new2.key"), func(string) error {
		var err error
		node, err = Start(ctx, Config{DatabaseURL: url, DataDir: filepath.Join(base, "node"), SealKeyFile: keyFile, JobInterval: time.Hour})
		if err != nil {
			return err
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cs, _ := other.Contenders(ctx, store.LeaseJobs); len(cs) > 0 {
				return nil
			}
		}
		t.Error("the node never showed up as a job-lease contender")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "not committed") || !strings.Contains(err.Error(), "serve this installation unsealed") {
		t.Fatalf("Reseal with a node started meanwhile: %v", err)
	}
	sealer, err := other.GetSetting(ctx, settingSealer)
	if err != nil || string(sealer) != SealKeyFile {
		t.Fatalf("seal after the refused commit: %q %v", sealer, err)
	}
	node.Close()
	node = nil
	// The old key file still opens it; the refused run left nothing that
	// stops a rerun.
	if err := migrate(filepath.Join(base, "new2.key"), nil); err != nil {
		t.Fatalf("Reseal alone: %v", err)
	}
	n, err := Start(ctx, Config{DatabaseURL: url, DataDir: filepath.Join(base, "node"), SealKeyFile: filepath.Join(base, "new2.key")})
	if err != nil {
		t.Fatalf("Start with the new key file: %v", err)
	}
	n.Close()
}
