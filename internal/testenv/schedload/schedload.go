// Package schedload keeps Go's scheduler busy for a test that checks a
// goroutine stays on an OS thread of its own: under load, a goroutine
// that parks and wakes without one goes on on whichever thread picks it
// up.
package schedload

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Load is a set of goroutines that compute and yield on four Ps until
// the test ends, and the threads the goroutines under test hopped from
// (threads_linux.go).
type Load struct {
	stop atomic.Bool
	wg   sync.WaitGroup
	kick chan chan struct{}

	mu   sync.Mutex
	tids []int // of each Hop, in order
}

// Start sets GOMAXPROCS to 4 and starts n busy goroutines; both are
// undone when the test ends.
func Start(t testing.TB, n int) *Load {
	t.Helper()
	prev := runtime.GOMAXPROCS(4)
	l := &Load{kick: make(chan chan struct{})}
	for range n {
		l.wg.Go(l.run)
	}
	t.Cleanup(func() {
		l.stop.Store(true)
		l.wg.Wait()
		runtime.GOMAXPROCS(prev)
	})
	return l
}

func (l *Load) run() {
	for !l.stop.Load() {
		select {
		case woken := <-l.kick:
			close(woken)
		default:
		}
		for i := 0; i < 1000; i++ {
			_ = i * i
		}
		runtime.Gosched()
	}
}

// wake parks the calling goroutine until one of the busy goroutines wakes
// it.
func (l *Load) wake() {
	woken := make(chan struct{})
	l.kick <- woken
	<-woken
}
