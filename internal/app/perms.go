package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/trent-kms/trent/internal/fspath"
)

// Files at rest: everything Trent writes is its owner's alone. The store
// is wrapped under the root key, but its metadata (key ids, descriptions,
// policies, tags) is not secret-free, and in dev mode the key file that
// unseals it all sits beside it. So serve refuses a data directory, store
// or key file that group or others can reach, rather than hoping nobody
// looks.

// privateMask is the permission bits nobody but the owner may have.
const privateMask fs.FileMode = 0o077

// CheckDataDir returns an error if dir, an existing data directory, can be
// read, written or entered by group or others, telling the operator how to
// fix it.
func CheckDataDir(dir string) error {
	return checkPrivate(dir, true)
}

// checkPrivate refuses path if group or others have any permission on it.
// A file that does not exist passes: SQLite's -wal and -shm come and go.
func checkPrivate(path string, isDir bool) error {
	if runtime.GOOS == "windows" { // permission bits mean nothing there
		return nil
	}
	fi, err := os.Stat(path)
	if !isDir && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check permissions: %w", err)
	}
	perm := fi.Mode().Perm()
	if perm&privateMask == 0 {
		return nil
	}
	if isDir {
		return fmt.Errorf("data dir %s is accessible by group or others (mode %04o); run: chmod 700 %s", path, perm, path)
	}
	return fmt.Errorf("%s is accessible by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
}

// checkKeyFileOutside refuses a seal key file inside the data directory
// (or the data directory itself): one backup or copy of the directory must
// not carry both the sealed root key and what unseals it. Both paths are
// resolved the way the kernel will — symbolic links followed, "..", after
// a link, taken from the link's target — so no spelling of the path slips
// through; a part that does not exist yet cannot be a link.
func checkKeyFileOutside(dataDir, keyFile string) error {
	if dataDir == "" {
		return nil // an installation in a database: no data dir to be inside
	}
	if in, err := fspath.Inside(dataDir, keyFile); err != nil || !in {
		return err
	}
	return fmt.Errorf("seal key file %s is inside the data dir %s: a copy of the data dir would then unseal everything in it; "+
		"keep the key file elsewhere (e.g. /etc/trent/seal.key, or a secrets mount) and pass that path", keyFile, dataDir)
}
