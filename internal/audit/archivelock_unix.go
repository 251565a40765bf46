//go:build unix

package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// archiveLockPoll is how often an archive waiting for another one's
// round tries the lock again.
const archiveLockPoll = 100 * time.Millisecond

// lockArchive takes the exclusive advisory lock of an archive round on
// the log's directory itself (no lock file to leave in the log), waiting
// while another archiver of the log holds it: cron's `trent audit
// archive` and a server's --audit-archive-to each take it for a round,
// never for their life. Nothing else locks the audit directory (the
// server's lock is on the data directory). The lock ends with unlock or
// with the process; cancelling ctx gives up the wait.
func lockArchive(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: archive: lock %s: %w", dir, err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("audit: archive: lock %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("audit: archive: waiting for another archive of %s: %w", dir, ctx.Err())
		case <-time.After(archiveLockPoll):
		}
	}
}
