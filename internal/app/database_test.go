package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// TestInitOnDatabase: init makes an installation in a PostgreSQL database
// with no data dir; a second init is refused; so is one on a database an
// earlier init left unfinished (no mode), and so is a failed publish,
// which leaves the database unfinished, not half-served. A node then
// starts on it with a data dir of its own, and --dev is refused.
func TestInitOnDatabase(t *testing.T) {
	c := pgtest.StartForTest(t)
	ctx := context.Background()
	base := t.TempDir()
	newDB := func() string {
		url, err := c.NewDatabase(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return url
	}
	url := newDB()
	keyFile := filepath.Join(base, "seal.key")
	var published *InitResult
	err := Init(ctx, InitOptions{DatabaseURL: url, SealKeyFile: keyFile}, func(r *InitResult) error { published = r; return nil })
	if err != nil || published == nil || published.AccessKeyID == "" {
		t.Fatalf("Init: %v, published %+v", err, published)
	}
	err = Init(ctx, InitOptions{DatabaseURL: url, SealKeyFile: filepath.Join(base, "seal2.key")}, nil)
	if err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Fatalf("second Init: %v", err)
	}

	// A publish that fails: nothing is committed, and the rerun is refused
	// with the reason.
	url2 := newDB()
	stop := errors.New("stopped by the test")
	if err := Init(ctx, InitOptions{DatabaseURL: url2, SealKeyFile: filepath.Join(base, "seal3.key")},
		func(*InitResult) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Init with a failing publish: %v", err)
	}
	conn, err := pgx.Connect(ctx, url2)
	if err != nil {
		t.Fatal(err)
	}
	var modes int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM settings WHERE name = $1", settingMode).Scan(&modes); err != nil || modes != 0 {
		t.Fatalf("mode settings after a failed publish: %d, %v", modes, err)
	}
	conn.Close(ctx)
	err = Init(ctx, InitOptions{DatabaseURL: url2, SealKeyFile: filepath.Join(base, "seal4.key")}, nil)
	if err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("Init on an unfinished database: %v", err)
	}

	n, err := Start(ctx, Config{DatabaseURL: url, DataDir: filepath.Join(base, "node"), SealKeyFile: keyFile})
	if err != nil {
		t.Fatalf("Start on the database: %v", err)
	}
	if n.Account != DefaultAccount || n.Mode != ModeProduction {
		t.Errorf("node: account %s mode %s", n.Account, n.Mode)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(ctx, Config{DatabaseURL: url, DataDir: filepath.Join(base, "dev"), Dev: true}); err == nil {
		t.Fatal("Start --dev on a database succeeded")
	}
	if _, err := Start(ctx, Config{DatabaseURL: url, SealKeyFile: keyFile}); err == nil {
		t.Fatal("Start on a database without a data dir succeeded")
	}
}
