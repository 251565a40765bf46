package schedload

import (
	"runtime"
	"testing"
	"time"
)

// TestLoad: wake returns, and the busy goroutines and GOMAXPROCS are
// gone with the test.
func TestLoad(t *testing.T) {
	before := runtime.NumGoroutine()
	procs := runtime.GOMAXPROCS(0)
	t.Run("load", func(t *testing.T) {
		l := Start(t, 8)
		if got := runtime.GOMAXPROCS(0); got != 4 {
			t.Errorf("GOMAXPROCS %d under load, want 4", got)
		}
		for range 10 {
			l.wake()
		}
	})
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after the test, want %d back", got, procs)
	}
	// A goroutine that has returned — a busy one, or the subtest's own —
	// may still be on its way out when t.Run returns: wait for the count
	// to come back, and fail only if it never does.
	got := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); got > before && time.Now().Before(deadline); got = runtime.NumGoroutine() {
		time.Sleep(time.Millisecond)
	}
	if got > before {
		t.Errorf("%d goroutines after the test, %d before", got, before)
	}
}
