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
// the seal (lockDirOffline), nor with a root-key rotation (dirLock.Exclusive).
func lockDirShared(dir string) (*dirLock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is being changed by `trent rekey`, `trent seal migrate` or a root-key rotation; wait for it to finish", dir)
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return &dirLock{f: f}, nil
}

// dirLock is a running installation's shared lock on its data dir.
type dirLock struct{ f *os.File }

// Unlock releases the lock.
func (l *dirLock) Unlock() { l.f.Close() }

// Exclusive turns the lock exclusive for a while — a root-key rotation
// must be the only process using the data dir, since another would keep
// wrapping with the old root key — failing at once if another process
// holds it. release makes it shared again. flock(2) converts by dropping
// the old lock first, so a failed conversion takes the shared lock again
// (nothing can hold the dir exclusively while the others share it).
func (l *dirLock) Exclusive() (release func() error, err error) {
	fd := int(l.f.Fd())
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if rerr := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); rerr != nil {
			return nil, fmt.Errorf("lock data dir: %w; and taking the shared lock again: %w", err, rerr)
		}
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errors.New("another process has the data dir open (another `trent serve` of it, `trent account create` or `trent backup`): stop it or let it finish, then rotate")
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return func() error { return unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) }, nil
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
