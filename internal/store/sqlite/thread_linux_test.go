package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/schedload"
)

// TestCommitterOnItsOwnThread: every write's function, and so every
// commit's fsync after it, runs on one OS thread however busy the
// scheduler is — the committer keeps a thread of its own (commitLoop says
// why).
func TestCommitterOnItsOwnThread(t *testing.T) {
	load := schedload.Start(t, 8)
	db := mustOpen(t, filepath.Join(t.TempDir(), "trent.db"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				err := db.write(context.Background(), "tid", func(*sql.Tx) error {
					load.Hop()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if threads, writes := load.Threads(0); threads != 1 {
		t.Errorf("%d writes ran on %d OS threads, want all on the committer's own", writes, threads)
	}
}
