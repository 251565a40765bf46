package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/storetest"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t)
	})
}

// openTemp opens a new database in t.TempDir(); the caller closes it.
func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func mustOpen(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return db
}

func mustClose(t *testing.T, db *DB) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func testKey(id string) (store.Key, store.KeyVersion) {
	k := store.Key{
		ID: id, Account: "111122223333", Region: "eu-west-1", State: "Enabled",
		KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", Origin: "AWS_KMS",
		CreatedAt: time.Now(), CurrentVersion: 1,
		Tags: []store.Tag{{Key: "b", Value: "1"}, {Key: "a", Value: "2"}},
	}
	v := store.KeyVersion{KeyID: id, Version: 1, MaterialID: strings.Repeat("ab", 32),
		Wrapped: []byte("wrapped " + id), CreatedAt: k.CreatedAt}
	return k, v
}

type migrationRow struct {
	version   int
	appliedAt int64
}

func appliedMigrations(t *testing.T, db *DB) []migrationRow {
	t.Helper()
	rows, err := db.r.QueryContext(t.Context(), "SELECT version, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var m migrationRow
		if err := rows.Scan(&m.version, &m.appliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "trent.db")
	db := mustOpen(t, path)
	k, v := testKey("k1")
	if err := db.CreateKey(ctx, k, v); err != nil {
		t.Fatal(err)
	}
	a := store.Alias{Account: k.Account, Region: k.Region, Name: "alias/x", KeyID: k.ID, CreatedAt: k.CreatedAt, UpdatedAt: k.CreatedAt}
	if err := db.CreateAlias(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSetting(ctx, "mode", []byte("dev")); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccessKey(ctx, store.AccessKey{ID: "AKIA1", Account: k.Account, WrappedSecret: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	before := appliedMigrations(t, db)
	mustClose(t, db)

	for range 2 {
		db = mustOpen(t, path)
		got, err := db.GetKey(ctx, k.ID)
		if err != nil {
			t.Fatalf("GetKey after reopen: %v", err)
		}
		if got.Revision != 1 || len(got.Tags) != 2 || got.Tags[0].Key != "b" || !got.CreatedAt.Equal(k.CreatedAt) {
			t.Errorf("key after reopen = %+v", got)
		}
		vs, err := db.KeyVersions(ctx, k.ID)
		if err != nil || len(vs) != 1 || string(vs[0].Wrapped) != "wrapped k1" {
			t.Errorf("KeyVersions after reopen = %+v, %v", vs, err)
		}
		if _, err := db.GetAlias(ctx, a.Account, a.Region, a.Name); err != nil {
			t.Errorf("GetAlias after reopen: %v", err)
		}
		if v, err := db.GetSetting(ctx, "mode"); err != nil || string(v) != "dev" {
			t.Errorf("GetSetting after reopen = %q, %v", v, err)
		}
		if _, err := db.GetAccessKey(ctx, "AKIA1"); err != nil {
			t.Errorf("GetAccessKey after reopen: %v", err)
		}
		// Reopening applies nothing again.
		if after := appliedMigrations(t, db); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("schema_migrations after reopen = %v, want %v", after, before)
		}
		mustClose(t, db)
	}
}

func TestMigrations(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	db := openTemp(t)
	defer mustClose(t, db)
	applied := appliedMigrations(t, db)
	if len(applied) != len(ms) {
		t.Fatalf("applied %d migrations, want %d", len(applied), len(ms))
	}
	for i, m := range applied {
		if m.version != i+1 || m.appliedAt == 0 {
			t.Errorf("schema_migrations row %d = %+v", i, m)
		}
	}
	// Running them again on an open database is a no-op.
	if err := migrate(t.Context(), db.w); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if again := appliedMigrations(t, db); fmt.Sprint(again) != fmt.Sprint(applied) {
		t.Errorf("schema_migrations after migrating again = %v, want %v", again, applied)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trent.db")
	db := mustOpen(t, path)
	if _, err := db.w.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 1)"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
	db, err := Open(path)
	if err == nil {
		db.Close()
		t.Fatal("Open of a database with an unknown migration succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open: %v, want an error about a newer schema", err)
	}
}

func TestPragmas(t *testing.T) {
	db := openTemp(t)
	defer mustClose(t, db)
	ctx := t.Context()
	pools := map[string]querier{"writer": db.w, "reader": db.r}
	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": fmt.Sprint(busyTimeout.Milliseconds()),
	}
	for pool, q := range pools {
		for pragma, w := range want {
			var got string
			if err := q.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool, pragma, err)
			}
			if !strings.EqualFold(got, w) {
				t.Errorf("%s: PRAGMA %s = %s, want %s", pool, pragma, got, w)
			}
		}
	}
	var secure int
	if err := db.w.QueryRowContext(ctx, "PRAGMA secure_delete").Scan(&secure); err != nil || secure != 1 {
		t.Errorf("writer secure_delete = %d, %v; want 1 (deleted keys are zeroed)", secure, err)
	}
	var qo int
	if err := db.r.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != 1 {
		t.Errorf("reader query_only = %d, %v; want 1", qo, err)
	}
	if _, err := db.r.ExecContext(ctx, "INSERT INTO settings (name, value) VALUES ('x', x'00')"); err == nil {
		t.Error("a write through the reader pool succeeded")
	}
	if _, err := os.Stat(db.Path() + "-wal"); err != nil {
		t.Errorf("no WAL file next to the database: %v", err)
	}
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func TestOpenRefusesNonFile(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file::memory:?cache=shared", "file:x.db?mode=ro"} {
		if db, err := Open(p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestPathNeedsEscaping(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?#%20")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "trent?x=1#y%41.db")
	db := mustOpen(t, path)
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if err := db.PutSetting(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files in the directory = %q, want [%q]", names, filepath.Base(path))
	}
}

func TestRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	db := mustOpen(t, "rel.db")
	defer mustClose(t, db)
	if !filepath.IsAbs(db.Path()) || filepath.Base(db.Path()) != "rel.db" {
		t.Errorf("Path() = %q", db.Path())
	}
	if _, err := os.Stat("rel.db"); err != nil {
		t.Error(err)
	}
}

// TestCloseCheckpoints checks that Close leaves one self-contained file:
// the last connection to close checkpoints and removes the WAL.
func TestCloseCheckpoints(t *testing.T) {
	db := openTemp(t)
	path := db.Path()
	k, v := testKey("k1")
	if err := db.CreateKey(t.Context(), k, v); err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Close: %v", suffix, err)
		}
	}
}

// TestManyWriters runs many concurrent writers and readers, through one DB
// and through a second DB on the same file (as a second process would):
// none may fail with SQLITE_BUSY.
func TestManyWriters(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	defer mustClose(t, db)
	other := mustOpen(t, db.Path())
	defer mustClose(t, other)

	const goroutines, writes = 12, 8
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*writes*3)
	for g := range goroutines {
		s := db
		if g%4 == 0 {
			s = other
		}
		wg.Go(func() {
			for i := range writes {
				id := fmt.Sprintf("k-%02d-%02d", g, i)
				k, v := testKey(id)
				if err := s.CreateKey(ctx, k, v); err != nil {
					errs <- err
					continue
				}
				if err := s.PutSetting(ctx, fmt.Sprint("s", g), []byte(id)); err != nil {
					errs <- err
				}
				if _, err := s.ListKeys(ctx, k.Account, k.Region, "", 50); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ks, err := db.ListKeys(ctx, "111122223333", "eu-west-1", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != goroutines*writes {
		t.Errorf("%d keys stored, want %d", len(ks), goroutines*writes)
	}
}

func TestRefusedInputs(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	defer mustClose(t, db)

	k, v := testKey("k1")
	k.Tags = []store.Tag{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}
	if err := db.CreateKey(ctx, k, v); err == nil || errors.Is(err, store.ErrExists) {
		t.Errorf("CreateKey with a duplicate tag key: %v, want an error other than ErrExists", err)
	}

	k, v = testKey("k2")
	v.KeyID = "k3"
	if err := db.CreateKey(ctx, k, v); err == nil {
		t.Error("CreateKey with a version of another key succeeded")
	}

	k, v = testKey("k4")
	k.CreatedAt = time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.CreateKey(ctx, k, v); err == nil {
		t.Error("CreateKey with a time outside the int64 nanosecond range succeeded")
	}

	k, v = testKey("k5")
	v.Version = 0
	if err := db.CreateKey(ctx, k, v); err == nil {
		t.Error("CreateKey with version 0 succeeded")
	}

	for _, id := range []string{"k1", "k2", "k4", "k5"} {
		if _, err := db.GetKey(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetKey(%s) after a refused CreateKey: %v", id, err)
		}
	}

	if _, err := db.ListKeys(ctx, "111122223333", "eu-west-1", "", 0); err == nil {
		t.Error("ListKeys with limit 0 succeeded")
	}
	if _, err := db.ListAliases(ctx, "111122223333", "eu-west-1", "", "", -1); err == nil {
		t.Error("ListAliases with limit -1 succeeded")
	}
}

// TestSurvivesKill has a child process write, then kill itself with SIGKILL
// as soon as the write returns; every acknowledged write must be there.
func TestSurvivesKill(t *testing.T) {
	if path := os.Getenv("TRENT_SQLITE_KILL_CHILD"); path != "" {
		killChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "trent.db")
	cmd := testcmd.Command(t, os.Args[0], "-test.run=^TestSurvivesKill$")
	cmd.Env = append(os.Environ(), "TRENT_SQLITE_KILL_CHILD="+path)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child: %v, want it killed; output:\n%s", err, out)
	}
	acked := strings.Fields(string(out))
	if len(acked) == 0 {
		t.Fatalf("child acknowledged no write; stderr:\n%s", exit.Stderr)
	}
	db := mustOpen(t, path)
	defer mustClose(t, db)
	for _, id := range acked {
		k, err := db.GetKey(t.Context(), id)
		if err != nil || k.Revision != 2 || k.Description != "updated" {
			t.Errorf("acknowledged key %s after SIGKILL: %+v, %v", id, k, err)
		}
	}
}

func killChild(path string) {
	db, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	for i := range 20 {
		id := fmt.Sprint("k", i)
		k, v := testKey(id)
		if err := db.CreateKey(ctx, k, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		k.Revision = 1
		k.Description = "updated"
		if _, err := db.UpdateKey(ctx, k); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		// Acknowledge, then die at once.
		os.Stdout.WriteString(id + "\n")
	}
	p, _ := os.FindProcess(os.Getpid())
	p.Kill()
	select {}
}
