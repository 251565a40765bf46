package audit

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/testenv/schedload"
)

// TestWriterFsyncsOnItsOwnThread: once its fsyncs have been slow for a
// few batches, every fsync of the event files comes from one OS thread,
// however busy the scheduler is — the writer keeps a thread of its own
// (thread.go says why). Each fsync here sleeps 100 µs, like a disk's.
func TestWriterFsyncsOnItsOwnThread(t *testing.T) {
	load := schedload.Start(t, 8)
	var (
		mu   sync.Mutex
		tids []int // of each event-file fsync, in order
	)
	fs := &faultFS{}
	fs.hook = func() {
		mu.Lock()
		tids = append(tids, syscall.Gettid())
		mu.Unlock()
		time.Sleep(100 * time.Microsecond)
		load.Wake()
	}
	l := openLog(t, t.TempDir(), Options{FS: fs, Deadline: time.Minute})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := l.Record(context.Background(), testEvent(g*100+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	closeLog(t, l)

	mu.Lock()
	defer mu.Unlock()
	// The moving average passes ownThreadAbove within a few batches.
	const settle = 16
	if len(tids) < settle+10 {
		t.Fatalf("%d fsyncs, want enough to tell", len(tids))
	}
	threads := map[int]int{}
	for _, tid := range tids[settle:] {
		threads[tid]++
	}
	if len(threads) != 1 {
		t.Errorf("after the first %d, %d fsyncs came from %d OS threads, want all from the writer's own", settle, len(tids)-settle, len(threads))
	}
}
