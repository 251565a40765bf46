package schedload

import (
	"runtime"
	"testing"
)

// TestLoad: Wake returns, and the busy goroutines and GOMAXPROCS are
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
			l.Wake()
		}
	})
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after the test, want %d back", got, procs)
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Errorf("%d goroutines after the test, %d before", got, before)
	}
}
