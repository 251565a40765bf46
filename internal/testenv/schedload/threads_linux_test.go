package schedload

import (
	"runtime"
	"testing"
)

// TestHopThreads: a goroutine locked to its thread hops on one thread
// only; Threads skips the hops it is told to and counts the rest.
func TestHopThreads(t *testing.T) {
	l := Start(t, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for range 20 {
			l.Hop()
		}
	}()
	<-done
	if threads, hops := l.Threads(5); threads != 1 || hops != 15 {
		t.Errorf("Threads(5) = %d threads, %d hops; want 1, 15", threads, hops)
	}
	if threads, hops := l.Threads(20); threads != 0 || hops != 0 {
		t.Errorf("Threads(20) = %d, %d; want 0, 0", threads, hops)
	}
}
