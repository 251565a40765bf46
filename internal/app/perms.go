package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
	if in, err := insideDir(dataDir, keyFile); err != nil || !in {
		return err
	}
	return fmt.Errorf("seal key file %s is inside the data dir %s: a copy of the data dir would then unseal everything in it; "+
		"keep the key file elsewhere (e.g. /etc/trent/seal.key, or a secrets mount) and pass that path", keyFile, dataDir)
}

// insideDir reports whether path is dir or inside it, both resolved the
// way the kernel will (resolvePath).
func insideDir(dir, path string) (bool, error) {
	d, err := resolvePath(dir)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", dir, err)
	}
	p, err := resolvePath(path)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", path, err)
	}
	rel, err := filepath.Rel(d, p)
	if err != nil {
		return false, nil // on different volumes: not inside
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)), nil
}

// resolvePath returns the absolute path p names, with every symbolic link
// in its longest existing prefix resolved. The rest of p, which does not
// exist, is joined on lexically.
func resolvePath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		// Not filepath.Join: it would clean "link/.." away before the
		// link is resolved.
		p = wd + string(filepath.Separator) + p
	}
	var tail []string
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{r}, tail...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		i := strings.LastIndexFunc(p, func(c rune) bool { return os.IsPathSeparator(uint8(c)) })
		if i < len(filepath.VolumeName(p)) {
			// Not even the root exists; nothing left to resolve.
			return filepath.Join(append([]string{p}, tail...)...), nil
		}
		tail = append([]string{p[i+1:]}, tail...)
		parent := p[:i]
		if parent == filepath.VolumeName(parent) {
			parent += string(filepath.Separator) // the root itself
		}
		if parent == p {
			return filepath.Join(append([]string{p}, tail...)...), nil
		}
		p = parent
	}
}
