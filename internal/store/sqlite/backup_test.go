package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackupWhileWriting: backups of a database that is being written are
// each one consistent snapshot — every key with its version, which one
// transaction wrote together — each holding at least what the one before
// held, and open as a store. An existing file is never overwritten.
func TestBackupWhileWriting(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "trent.db")
	db := mustOpen(t, path)
	defer mustClose(t, db)
	if err := db.PutSetting(ctx, "mode", []byte("production")); err != nil {
		t.Fatal(err)
	}
	var created atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := testKey(fmt.Sprintf("w%d-%06d", w, i))
				if err := db.CreateKey(ctx, k, v); err != nil {
					t.Error(err)
					return
				}
				created.Add(1)
			}
		})
	}
	prev := 0
	for i := range 5 {
		// The writers get ahead between backups.
		for created.Load() < int64(200*(i+1)) && !t.Failed() {
			time.Sleep(time.Millisecond)
		}
		to := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		if err := Backup(ctx, path, to); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(to); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("backup %d: %v %v, want mode 0600", i, fi, err)
		}
		keys, orphans := backupCounts(t, to)
		if orphans != 0 || keys < prev || keys == 0 {
			t.Fatalf("backup %d: %d keys (%d without their version), the one before %d", i, keys, orphans, prev)
		}
		prev = keys
	}
	close(stop)
	wg.Wait()
	if prev > int(created.Load()) {
		t.Fatalf("the last backup holds %d keys, more than the %d created", prev, created.Load())
	}

	// A backup opens as a store, with its settings.
	restored := mustOpen(t, filepath.Join(dir, "backup-4.db"))
	if v, err := restored.GetSetting(ctx, "mode"); err != nil || string(v) != "production" {
		t.Fatalf("the backup's setting: %q %v", v, err)
	}
	mustClose(t, restored)

	if err := Backup(ctx, path, filepath.Join(dir, "backup-0.db")); err == nil || !strings.Contains(err.Error(), "not overwritten") {
		t.Fatalf("Backup onto an existing file: %v, want a refusal", err)
	}
}

// backupCounts reads a backup: how many keys, and how many of them lack
// their version row.
func backupCounts(t *testing.T, path string) (keys, orphans int) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, false, busyTimeout))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM key_versions v WHERE v.key_id = k.id)) FROM keys k`).Scan(&keys, &orphans); err != nil {
		t.Fatal(err)
	}
	return keys, orphans
}

func TestCheck(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	good := filepath.Join(dir, "trent.db")
	db := mustOpen(t, good)
	if err := db.PutSetting(ctx, "mode", []byte("dev")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
	if err := Check(ctx, good); err != nil {
		t.Fatalf("Check of a store: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	mustClose(t, mustOpen(t, empty))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// The second page on overwritten: the header is intact, a table is not.
	damaged := filepath.Join(dir, "damaged.db")
	bad := append([]byte(nil), data...)
	for i := 4096; i < min(len(bad), 8192); i++ {
		bad[i] = 0xa5
	}
	if err := os.WriteFile(damaged, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("not a database at all, but long enough to have a header of a kind"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{empty, "records no mode"},
		{damaged, ""},
		{notDB, ""},
		{filepath.Join(dir, "missing.db"), "no such file"},
	} {
		if err := Check(ctx, tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%s) = %v, want an error containing %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}
