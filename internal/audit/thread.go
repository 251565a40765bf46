package audit

import (
	"runtime"
	"time"
)

// The writer keeps an OS thread of its own while its fsyncs wait on the
// device, and gives it back while they do not.
//
// Why: fdatasync on a real disk sleeps (for the write-back, then for the
// flush), and each wake-up must win a CPU from the request handlers. The
// kernel lets a woken thread that has used little CPU run at once, but a
// Go thread that also ran handlers waits its turn. Measured on 2 cores
// with ratio.sh's Encrypt (docs/ARCHITECTURE.md, "The writer's own
// thread"): on the disk 27.6–27.7k req/s at 136–137 % CPU with a thread
// of its own against 26.4–26.5k at 142–143 % without, a write and fsync
// taking 206–215 µs against 325–328 µs. But a locked goroutine costs a
// thread hand-off each time it parks and wakes, and where an fsync never
// sleeps (tmpfs: 8–13 µs a batch) that is all cost: 35.5–36.6k req/s
// locked against 40.9–41.4k unlocked. So the writer decides from its own
// batches' write times (41.3–41.4k on tmpfs, 27.6–27.7k on the disk).
const (
	// ownThreadAbove is the average write time from which the writer
	// takes a thread of its own: well above a write that never sleeps,
	// below the fastest real flush measured.
	ownThreadAbove = 32 * time.Microsecond
	// ownThreadBelow is the average under which it gives the thread
	// back: apart from ownThreadAbove, so that a disk near the line does
	// not make the writer switch on every batch.
	ownThreadBelow = 16 * time.Microsecond
)

// threadKeeper holds the writer goroutine's decision. Only the writer
// uses it: LockOSThread binds the goroutine that calls it.
type threadKeeper struct {
	avg    time.Duration // moving average of write times, weight 1/8
	locked bool
}

// observe takes one batch's write time (its write and fsync) and locks
// or unlocks the calling goroutine to its thread as the average says.
func (k *threadKeeper) observe(d time.Duration) {
	// Clamped, so that one slow write — a file's first, a stall — does
	// not make the decision: it takes a few in a row.
	d = min(d, 4*ownThreadAbove)
	k.avg += (d - k.avg) / 8
	switch {
	case !k.locked && k.avg >= ownThreadAbove:
		runtime.LockOSThread()
		k.locked = true
	case k.locked && k.avg < ownThreadBelow:
		runtime.UnlockOSThread()
		k.locked = false
	}
}
