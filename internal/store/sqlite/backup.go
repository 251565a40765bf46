package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/trent-kms/trent/internal/durable"
)

// Backup writes a consistent copy of the database file at path to the new
// file to, while the database is in use or not: SQLite's VACUUM INTO
// reads one snapshot (it sees every transaction committed before it
// began, the WAL's too, and none after), so the copy is what the database
// held at one instant, never a mix of a file and a WAL copied apart, as
// copying the files of a live database gives. The copy is made under a
// temporary name beside to, synced, checked (quick_check) and only then
// given its name; an existing to is refused. It changes nothing in the
// database. (VACUUM INTO needs a connection that is not query-only; with
// no other connection open, closing it folds the WAL into the database
// file, as the server's own close does.)
func Backup(ctx context.Context, path, to string) (err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("sqlite: backup: %s exists: not overwritten", to)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(to), "."+filepath.Base(to)+".tmp")
	// A temporary file a crashed backup left; VACUUM INTO wants none.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	// Made empty and 0600 first (VACUUM INTO takes an empty file): made
	// by SQLite, it would hold the store under the umask's mode until a
	// chmod after it.
	empty, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := empty.Close(); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	db, err := sql.Open("sqlite", backupDSN(abs))
	if err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", abs, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", abs, err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	// VACUUM INTO leaves its output unsynced; the server may be serving.
	err = durable.SyncInChunks(f, 256<<10)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlite: backup: sync %s: %w", tmp, err)
	}
	if err := Check(ctx, tmp); err != nil {
		return fmt.Errorf("sqlite: backup: the copy: %w", err)
	}
	if err := os.Rename(tmp, to); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := durable.SyncDir(filepath.Dir(to)); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return nil
}

// backupDSN is the data source name of Backup's connection: a reader's,
// but able to run VACUUM INTO, which a query-only connection may not.
func backupDSN(abs string) string {
	return strings.Replace(dsn(abs, false, busyTimeout), "&_pragma="+url.QueryEscape("query_only(1)"), "", 1)
}

// Check reports whether the database file at path is whole (SQLite's
// quick_check) and the store of a Trent installation (it records its
// mode), by reading it through a query-only connection.
func Check(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(abs, false, busyTimeout))
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s is damaged: %s", path, strings.Join(problems, "; "))
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM settings WHERE name = 'mode'").Scan(&n); err != nil {
		return fmt.Errorf("%s is not a Trent store: %w", path, err)
	}
	if n == 0 {
		return fmt.Errorf("%s is not a Trent installation: it records no mode (made by init or serve --dev)", path)
	}
	return nil
}

// ReadSettings returns the settings of the given names that the database
// file at path holds, read through a query-only connection (a backup is
// read without being opened as a store, which would migrate it).
func ReadSettings(ctx context.Context, path string, names ...string) (map[string][]byte, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(abs, false, busyTimeout))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out := make(map[string][]byte, len(names))
	for _, name := range names {
		var v []byte
		switch err := db.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("%s: setting %s: %w", path, name, err)
		default:
			out[name] = v
		}
	}
	return out, nil
}
