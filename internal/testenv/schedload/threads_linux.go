package schedload

import "syscall"

// Hop notes the OS thread the calling goroutine runs on, then parks it
// until one of the busy goroutines wakes it: unless it is locked to its
// thread, it goes on on that one's.
func (l *Load) Hop() {
	l.mu.Lock()
	l.tids = append(l.tids, syscall.Gettid())
	l.mu.Unlock()
	l.wake()
}

// Threads says on how many OS threads the Hops after the first skip ran,
// and how many Hops that was.
func (l *Load) Threads(skip int) (threads, hops int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if skip >= len(l.tids) {
		return 0, 0
	}
	seen := map[int]bool{}
	for _, tid := range l.tids[skip:] {
		seen[tid] = true
	}
	return len(seen), len(l.tids) - skip
}
