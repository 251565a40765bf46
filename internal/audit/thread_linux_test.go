package audit

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestWriterFsyncsOnItsOwnThread: every fsync of the event files comes
// from one OS thread, however busy the scheduler is — the writer keeps a
// thread of its own (Log.run says why). Busy goroutines on four Ps make
// a writer without one move between threads: after each fsync it sleeps
// briefly, and wakes on whichever thread picks it up.
func TestWriterFsyncsOnItsOwnThread(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var (
		mu   sync.Mutex
		tids = map[int]int{}
	)
	fs := &faultFS{}
	fs.hook = func() {
		mu.Lock()
		tids[syscall.Gettid()]++
		mu.Unlock()
		time.Sleep(50 * time.Microsecond)
	}
	l := openLog(t, t.TempDir(), Options{FS: fs, Deadline: time.Minute})

	var stop atomic.Bool
	var busy sync.WaitGroup
	for range 8 {
		busy.Go(func() {
			for !stop.Load() {
				for i := 0; i < 1000; i++ {
					_ = i * i
				}
				runtime.Gosched()
			}
		})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if err := l.Record(context.Background(), testEvent(g*100+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	busy.Wait()
	closeLog(t, l)

	mu.Lock()
	defer mu.Unlock()
	fsyncs := 0
	for _, n := range tids {
		fsyncs += n
	}
	if fsyncs < 10 {
		t.Fatalf("%d fsyncs, want enough to tell", fsyncs)
	}
	if len(tids) != 1 {
		t.Errorf("%d fsyncs came from %d OS threads, want all from the writer's own", fsyncs, len(tids))
	}
}
