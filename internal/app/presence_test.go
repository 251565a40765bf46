package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// TestNodeHoldsItsLeaseWhileSealed: a node on PostgreSQL holds its own
// lease from Start to Close, sealed or not, so that the node running the
// jobs claims none of its audit intents while it runs — not even while it
// waits to be unsealed, when it recovers them itself at the unseal — and
// claims them once it has stopped.
func TestNodeHoldsItsLeaseWhileSealed(t *testing.T) {
	c := pgtest.StartForTest(t)
	ctx := context.Background()
	url, err := c.NewDatabase(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "seal.key")
	if err := Init(ctx, InitOptions{DatabaseURL: url, SealKeyFile: keyFile}, nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "node")
	n, err := Start(ctx, Config{DatabaseURL: url, DataDir: dir, SealKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	id, err := audit.ReadNodeID(AuditDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	other, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// An intent the node left from an earlier run, long ago.
	old := time.Now().Add(-time.Hour)
	in := &store.AuditIntent{Node: id, EventID: "left-" + id, EventTime: old, Body: func() []byte { return []byte(`{}`) }}
	if err := other.PutSetting(store.WithAuditIntent(ctx, in), "presence-test", []byte("v")); err != nil {
		t.Fatal(err)
	}
	claims := func() int {
		t.Helper()
		now := time.Now()
		ins, err := other.ClaimOrphanedIntents(ctx, "n-claimer", now.Add(-time.Minute), now)
		if err != nil {
			t.Fatal(err)
		}
		return len(ins)
	}
	if got := claims(); got != 0 {
		t.Fatalf("claimed %d of a running node's intents, want 0", got)
	}
	n.mu.Lock()
	err = n.sealLocked()
	n.mu.Unlock()
	if err != nil || n.App() != nil {
		t.Fatalf("seal: %v", err)
	}
	if got := claims(); got != 0 {
		t.Fatalf("claimed %d of a sealed node's intents, want 0", got)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := claims(); got != 1 {
		t.Fatalf("claimed %d of a stopped node's intents, want 1", got)
	}
}
