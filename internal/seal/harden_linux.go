package seal

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// HardenProcess keeps secrets in this process's memory from reaching disk or
// other users: it disables core dumps (RLIMIT_CORE 0) and marks the process
// non-dumpable (PR_SET_DUMPABLE 0, which also stops same-user ptrace and
// makes /proc/self/mem root-only), then locks all current and future memory
// (mlockall) so nothing is swapped out. Call it at the start of main, before
// any secret is read.
//
// Memory is locked with MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT (falling back to
// the first two on kernels before 4.4): pages are locked as they are first
// touched — before they can hold a secret — instead of the kernel faulting in
// every mapping the Go runtime has made, which would add tens of MiB of
// resident memory at start for no gain.
//
// mlockall needs CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK. HardenProcess
// first tries to raise RLIMIT_MEMLOCK to unlimited; if it stays limited and
// the process lacks CAP_IPC_LOCK, it does not lock memory at all: the Go
// runtime reserves over a GiB of address space, which counts against the
// limit, so mlockall would either fail or — worse — succeed and make a later
// heap growth past the limit a fatal out-of-memory crash.
//
// It returns nil if everything succeeded, or an error joining one error for
// each step that failed; the others still took effect. The memory-locking
// step's error matches ErrMemoryNotLocked. Callers log a warning and
// continue (or refuse to start, by policy: `trent serve --require-mlock`).
func HardenProcess() error {
	var errs []error
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		errs = append(errs, fmt.Errorf("seal: disabling core dumps (setrlimit RLIMIT_CORE): %w", err))
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		errs = append(errs, fmt.Errorf("seal: marking the process non-dumpable (prctl PR_SET_DUMPABLE): %w", err))
	}
	if err := lockMemory(); err != nil {
		errs = append(errs, notLocked{err})
	}
	return errors.Join(errs...)
}

// notLocked marks a memory-locking error as ErrMemoryNotLocked, keeping its
// message (which already says memory is not locked, and why).
type notLocked struct{ error }

func (notLocked) Is(target error) bool { return target == ErrMemoryNotLocked }
func (e notLocked) Unwrap() error      { return e.error }

func lockMemory() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return fmt.Errorf("seal: not locking memory: reading RLIMIT_MEMLOCK: %w", err)
	}
	if lim.Cur != unix.RLIM_INFINITY {
		// Allowed when the hard limit is unlimited, or with CAP_SYS_RESOURCE.
		unlimited := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unlimited) == nil {
			lim = unlimited
		}
	}
	if lim.Cur != unix.RLIM_INFINITY && !hasCapability(unix.CAP_IPC_LOCK) {
		return fmt.Errorf("seal: not locking memory: RLIMIT_MEMLOCK is %d bytes and the process lacks CAP_IPC_LOCK, "+
			"so memory may be swapped to disk; grant CAP_IPC_LOCK or raise the limit to unlimited "+
			"(systemd: LimitMEMLOCK=infinity; docker: --cap-add IPC_LOCK or --ulimit memlock=-1)", lim.Cur)
	}
	err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT)
	if errors.Is(err, unix.EINVAL) { // kernel older than 4.4: no MCL_ONFAULT
		err = unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE)
	}
	if err != nil {
		return fmt.Errorf("seal: locking memory (mlockall): %w", err)
	}
	return nil
}

// hasCapability reports whether capability c is in the process's effective
// set. On error it reports false, which only makes HardenProcess more careful.
func hasCapability(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3 uses two 32-bit words
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}
