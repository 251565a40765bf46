package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestCommitterOnItsOwnThread: every write's function, and so every
// commit's fsync after it, runs on one OS thread however busy the
// scheduler is — the committer keeps a thread of its own (commitLoop says
// why). Busy goroutines on four Ps make a committer without one move
// between threads.
func TestCommitterOnItsOwnThread(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	db := mustOpen(t, filepath.Join(t.TempDir(), "trent.db"))
	var (
		mu   sync.Mutex
		tids = map[int]int{}
	)
	var stop atomic.Bool
	var busy sync.WaitGroup
	kick := make(chan chan struct{})
	for range 8 {
		busy.Go(func() {
			for !stop.Load() {
				select {
				case woken := <-kick:
					close(woken)
				default:
				}
				for i := 0; i < 1000; i++ {
					_ = i * i
				}
				runtime.Gosched()
			}
		})
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				err := db.write(context.Background(), "tid", func(*sql.Tx) error {
					mu.Lock()
					tids[syscall.Gettid()]++
					mu.Unlock()
					// Parked here and woken by a busy goroutine, a
					// committer without a thread of its own goes on
					// on whichever thread that one runs on.
					woken := make(chan struct{})
					kick <- woken
					<-woken
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
	stop.Store(true)
	busy.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(tids) != 1 {
		t.Errorf("160 writes ran on %d OS threads, want all on the committer's own", len(tids))
	}
}
