package audit

import (
	"context"
	"sync"
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
	fs := &faultFS{}
	fs.hook = func() { // at each event-file fsync
		time.Sleep(100 * time.Microsecond)
		load.Hop()
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

	// The moving average passes ownThreadAbove within a few batches.
	const settle = 16
	threads, fsyncs := load.Threads(settle)
	if fsyncs < 10 {
		t.Fatalf("%d fsyncs after the first %d, want enough to tell", fsyncs, settle)
	}
	if threads != 1 {
		t.Errorf("after the first %d, %d fsyncs came from %d OS threads, want all from the writer's own", settle, fsyncs, threads)
	}
}
