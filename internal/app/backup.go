package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/durable"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// Backups of an installation on SQLite (docs/operations.md, "Backups").
// The store holds every key's material wrapped by the root key, the
// sealed root key itself and everything else but the audit log, which is
// archived apart (`trent audit archive`). A backup is the store at one
// instant; what unseals it — the seal key file, the shares, the HSM's key
// as they were then — is kept apart from it, as from the data dir.

// BackupReport says what Backup or Restore found in the store it copied.
type BackupReport struct {
	// Installation is the store's installation id (settingInstallation;
	// "" in a store older than it).
	Installation string
	Mode         string // dev or production
	Seal         string // the seal type: keyfile, shamir, pkcs11 (dev: keyfile)
	Bytes        int64  // the copy's size
	// Replaced is the name Restore gave the store it replaced, in the
	// data dir ("" if there was none).
	Replaced string
	// DevKeyMissing: Restore put a dev installation's store in a data dir
	// without the dev seal key file that unseals it.
	DevKeyMissing bool
}

// Backup copies the store of the installation in dataDir, running or not,
// to the new file to: a consistent snapshot (sqlite.Backup), checked. It
// takes the data dir's shared lock, as a server does, so it waits for no
// one but is refused while the seal is being changed or the root key
// rotated.
func Backup(ctx context.Context, dataDir, to string) (BackupReport, error) {
	dbPath, err := sqliteStore(dataDir)
	if err != nil {
		return BackupReport{}, err
	}
	lock, err := lockDirShared(dataDir)
	if err != nil {
		return BackupReport{}, err
	}
	defer lock.Unlock()
	if err := sqlite.Backup(ctx, dbPath, to); err != nil {
		return BackupReport{}, err
	}
	return describeStore(ctx, to)
}

// Restore puts the backup from in place of the store of the installation
// in dataDir, which must be stopped (it takes the data dir's exclusive
// lock); dataDir is made if missing, so that a backup can be restored on
// another machine. The store it replaces, with its WAL, is kept in the
// data dir under a new name (BackupReport.Replaced) for the operator to
// remove. The audit log stays as it is and goes on.
func Restore(ctx context.Context, dataDir, from string) (BackupReport, error) {
	if err := sqlite.Check(ctx, from); err != nil {
		return BackupReport{}, fmt.Errorf("not restored: %w", err)
	}
	rep, err := describeStore(ctx, from)
	if err != nil {
		return rep, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return rep, err
	}
	if err := CheckDataDir(dataDir); err != nil {
		return rep, err
	}
	if _, err := audit.ReadNodeID(AuditDir(dataDir)); err == nil {
		return rep, fmt.Errorf("%s is the data dir of a node of an installation on PostgreSQL: restore the database from its own backups (docs/postgres.md)", dataDir)
	}
	unlock, err := lockDirOffline(dataDir)
	if err != nil {
		return rep, err
	}
	defer unlock()
	dbPath := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(dbPath); err == nil {
		// A store that cannot be read (damaged: a reason to restore) has
		// no id to compare, and is moved aside like any other.
		cur, _ := sqlite.ReadSettings(ctx, dbPath, settingInstallation)
		if id := string(cur[settingInstallation]); id != "" && rep.Installation != "" && id != rep.Installation {
			return rep, fmt.Errorf("%s is a backup of installation %s, and %s holds installation %s: not restored over it (restore into a new data dir, or move %s aside first)",
				from, rep.Installation, dataDir, id, dbPath)
		}
		// The WAL and shared-memory files go with their database: SQLite
		// names them after it, and one left beside the restored store
		// would be read as its own.
		rep.Replaced = dbFile + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		for _, suffix := range []string{"-wal", "-shm", ""} {
			err := os.Rename(dbPath+suffix, filepath.Join(dataDir, rep.Replaced+suffix))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return rep, fmt.Errorf("move the current store aside: %w", err)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return rep, err
	}
	if err := copyFileSynced(from, dbPath); err != nil {
		return rep, fmt.Errorf("restore %s: %w", from, err)
	}
	if err := durable.SyncDir(dataDir); err != nil {
		return rep, err
	}
	if rep.Mode == ModeDev {
		_, err := os.Stat(filepath.Join(dataDir, devSealKeyFile))
		rep.DevKeyMissing = err != nil
	}
	return rep, nil
}

// sqliteStore returns the path of the SQLite store of the installation in
// dataDir, or an error saying why there is none.
func sqliteStore(dataDir string) (string, error) {
	dbPath := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(dbPath); err != nil {
		if _, nerr := audit.ReadNodeID(AuditDir(dataDir)); nerr == nil {
			return "", fmt.Errorf("%s is the data dir of a node of an installation on PostgreSQL, whose store is the database: back it up with PostgreSQL's own tools (docs/postgres.md)", dataDir)
		}
		return "", fmt.Errorf("%s holds no Trent installation: %w", dataDir, err)
	}
	return dbPath, CheckDataDir(dataDir)
}

// describeStore reads what a store file is: its mode, seal type and size.
func describeStore(ctx context.Context, path string) (BackupReport, error) {
	var rep BackupReport
	s, err := sqlite.ReadSettings(ctx, path, settingMode, settingSealer, settingInstallation)
	if err != nil {
		return rep, err
	}
	rep.Mode, rep.Seal, rep.Installation = string(s[settingMode]), string(s[settingSealer]), string(s[settingInstallation])
	if rep.Mode == "" {
		return rep, fmt.Errorf("%s is not a Trent installation's store: it has no %s setting", path, settingMode)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return rep, err
	}
	rep.Bytes = fi.Size()
	return rep, nil
}

// copyFileSynced copies src to the new file dst (mode 0600) through a
// temporary name beside it, synced once before it takes its name: the
// server is stopped, nothing waits behind its writes.
func copyFileSynced(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return durable.CopyNew(context.Background(), dst, in, 0)
}
