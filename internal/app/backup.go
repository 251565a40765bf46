package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/durable"
	"github.com/trent-kms/trent/internal/fspath"
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
	return restore(ctx, dataDir, from, storeFiles{copy: copyFileSynced, rename: os.Rename})
}

func restore(ctx context.Context, dataDir, from string, files storeFiles) (BackupReport, error) {
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
	if err := checkNotStoreFile(dataDir, from); err != nil {
		return rep, err
	}
	dbPath := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(dbPath); err == nil {
		// A store that cannot be read (damaged: a reason to restore) has
		// no id to compare, and is moved aside like any other.
		cur, _ := sqlite.ReadSettings(ctx, dbPath, settingInstallation)
		if id := string(cur[settingInstallation]); id != "" && rep.Installation != "" && id != rep.Installation {
			return rep, fmt.Errorf("%s is a backup of installation %s, and %s holds installation %s: not restored over it (restore into a new data dir, or move %s aside first)",
				from, rep.Installation, dataDir, id, dbPath)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return rep, err
	}
	if rep.Replaced, err = files.replace(dataDir, from); err != nil {
		return rep, fmt.Errorf("restore %s: %w", from, err)
	}
	if rep.Mode == ModeDev {
		_, err := os.Stat(filepath.Join(dataDir, devSealKeyFile))
		rep.DevKeyMissing = err != nil
	}
	return rep, nil
}

// checkNotStoreFile refuses a backup that is one of the files a restore
// moves: the data dir's store (which would be moved away from under its
// own copy) or one a restore kept aside (a restore does not pick its
// input out of what it rearranges; copied out of the data dir, it is
// restored like any backup).
func checkNotStoreFile(dataDir, from string) error {
	dir, err := fspath.Resolve(dataDir)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", dataDir, err)
	}
	src, err := fspath.Resolve(from)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", from, err)
	}
	same := filepath.Dir(src) == dir && strings.HasPrefix(filepath.Base(src), dbFile)
	if !same {
		// Another name of the store itself: a hard link.
		a, aerr := os.Stat(from)
		b, berr := os.Stat(filepath.Join(dataDir, dbFile))
		same = aerr == nil && berr == nil && os.SameFile(a, b)
	}
	if same {
		return fmt.Errorf("%s is the store of the data dir %s, or one a restore kept aside there: not restored (copy it out of the data dir first)", from, dataDir)
	}
	return nil
}

// stagedStore is the name a restore copies its backup to in the data
// dir before the copy takes the store's place.
const stagedStore = "." + dbFile + ".restoring"

// replacedPrefix begins the name a restore gives the store it replaces
// (documented: operators look for it).
const replacedPrefix = dbFile + ".replaced-"

// storeFiles are the file operations that put a backup in place of a
// data dir's store: copyFileSynced and os.Rename, which a test replaces
// to make one fail as a full or failing disk would.
type storeFiles struct {
	copy   func(src, dst string) error
	rename func(oldpath, newpath string) error
}

// replace puts a copy of from in place of the store in dataDir and
// returns the name the store it replaced was given there ("" if there
// was none). The copy is made and synced under a temporary name first,
// so that a copy that fails (a full disk) leaves the store where it was;
// only then is the store moved aside and the copy renamed into place. If
// a step after the move fails the store is moved back, and an error that
// cannot say so names where it is.
func (f storeFiles) replace(dataDir, from string) (replaced string, err error) {
	staged := filepath.Join(dataDir, stagedStore)
	if err := f.copy(from, staged); err != nil {
		return "", fmt.Errorf("copy it into %s (the store there is unchanged): %w", dataDir, err)
	}
	defer func() {
		if err != nil {
			os.Remove(staged)
		}
	}()
	if replaced, err = f.moveAside(dataDir); err != nil {
		return "", err
	}
	dbPath := filepath.Join(dataDir, dbFile)
	if err := f.rename(staged, dbPath); err != nil {
		return "", f.moveBack(dataDir, replaced, fmt.Errorf("rename the copy to %s: %w", dbPath, err))
	}
	if err := durable.SyncDir(dataDir); err != nil {
		err = fmt.Errorf("sync %s: %w", dataDir, err)
		if rerr := f.rename(dbPath, staged); rerr != nil {
			return replaced, fmt.Errorf("%w; the restored store is in place, and the store it replaced is %s", err, filepath.Join(dataDir, replaced))
		}
		return "", f.moveBack(dataDir, replaced, err)
	}
	return replaced, nil
}

// storeSuffixes are the files of a store, the database last: SQLite names
// its WAL and shared memory after the database, and one left beside a
// restored store would be read as its own.
var storeSuffixes = []string{"-wal", "-shm", ""}

// moveAside renames whichever of the store's files are in dataDir to a
// name no file there has (replacedName) and returns it; "" if there were
// none. If one rename fails, those done are undone.
func (f storeFiles) moveAside(dataDir string) (string, error) {
	name, err := replacedName(dataDir, time.Now())
	if err != nil {
		return "", err
	}
	moved := false
	for i, suffix := range storeSuffixes {
		err := f.rename(filepath.Join(dataDir, dbFile+suffix), filepath.Join(dataDir, name+suffix))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			err = fmt.Errorf("move the current store aside: %w", err)
			return "", f.undoMoves(dataDir, name, storeSuffixes[:i], err)
		}
		moved = true
	}
	if !moved {
		return "", nil
	}
	return name, nil
}

// moveBack puts the store moved aside as replaced back in place after
// the restore failed with cause; "" means there was none.
func (f storeFiles) moveBack(dataDir, replaced string, cause error) error {
	if replaced == "" {
		return cause
	}
	return f.undoMoves(dataDir, replaced, storeSuffixes, cause)
}

// undoMoves renames the files name+suffix back to the store's names,
// returning cause, and says where the store is if it cannot.
func (f storeFiles) undoMoves(dataDir, name string, suffixes []string, cause error) error {
	var errs []error
	for _, suffix := range suffixes {
		err := f.rename(filepath.Join(dataDir, name+suffix), filepath.Join(dataDir, dbFile+suffix))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w; the store could not be moved back (%v): it is %s, with its -wal and -shm if any; rename them to %s",
			cause, err, filepath.Join(dataDir, name), dbFile)
	}
	if err := durable.SyncDir(dataDir); err != nil {
		return fmt.Errorf("%w; the store was moved back to %s, but %s could not be synced: %v", cause, dbFile, dataDir, err)
	}
	return fmt.Errorf("%w (the store was moved back: it is unchanged)", cause)
}

// replacedName is the name a restore at now gives the store it replaces:
// trent.db.replaced-<UTC time>, with -2, -3… after it if a file of that
// name, or its -wal or -shm, is in dataDir already (two restores in one
// second), so that no earlier store kept aside is overwritten. The
// caller holds the data dir's exclusive lock: nothing makes one between
// the check and the rename.
func replacedName(dataDir string, now time.Time) (string, error) {
	base := replacedPrefix + now.UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		free, err := noStoreFiles(dataDir, name)
		if err != nil || free {
			return name, err
		}
	}
}

// noStoreFiles reports whether none of name and its -wal and -shm is in
// dataDir.
func noStoreFiles(dataDir, name string) (bool, error) {
	for _, suffix := range storeSuffixes {
		_, err := os.Lstat(filepath.Join(dataDir, name+suffix))
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("choose a name for the store to replace: %w", err)
		}
	}
	return true, nil
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
