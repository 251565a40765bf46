//go:build unix

package app

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive advisory lock on the directory itself (no
// lock file to leave behind), so that two inits of one data dir — or an
// init and a dev server creating it — cannot interleave their staging
// files. The lock ends with unlock or with the process.
func lockDir(dir string) (unlock func(), err error) {
	return flockDir(dir, unix.LOCK_EX, "is being initialized by another process")
}

// lockDirShared is the lock a running installation (serve, `trent
// account create`, a test's App) holds for its life: any number of them
// may share the data dir, but not with an offline operation that rewrites
// the seal (lockDirOffline).
func lockDirShared(dir string) (unlock func(), err error) {
	return flockDir(dir, unix.LOCK_SH, "is being changed by `trent rekey` or `trent seal migrate`; wait for it to finish")
}

// lockDirOffline is the lock of an operation that changes the seal of a
// stopped installation (rekey, seal migrate): no server, no other tool.
func lockDirOffline(dir string) (unlock func(), err error) {
	return flockDir(dir, unix.LOCK_EX, "is in use by a running Trent (or another trent command): stop it first")
}

func flockDir(dir string, how int, busy string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s %s", dir, busy)
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return func() { f.Close() }, nil
}
