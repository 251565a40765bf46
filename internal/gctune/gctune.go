// Package gctune keeps the garbage collector's heap goal from falling
// below a floor.
//
// Trent's live heap is small — about 2 MB serving a few keys, some 30 MB
// with the default key cache full — while every request allocates a few
// KB. With Go's default (GOGC=100: collect once the heap doubles) the goal
// is then Go's 4 MB minimum, and under load a collection starts every
// ~25 ms, each with its fixed costs: stacks and globals scanned, write
// barriers on, and idle mark workers on the spare Ps that trent serve
// adds (cmd/trent, widenProcs), which on a small machine take real CPU
// from the handlers. A floor under the goal trades a bounded amount of
// memory for most of those collections.
//
// Go has no such setting: GOGC scales with the live heap and GOMEMLIMIT
// only ever lowers the goal. So Run reads the live heap at an interval and
// sets GOGC so that the goal is max(floor, 2 × live): the floor while the
// heap is small, Go's default once twice the live heap is above it. The
// heap thus stays within the larger of the floor and twice what is live,
// plus what is allocated in one interval.
package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// defaultPercent is Go's GOGC, below which Run never goes.
	defaultPercent = 100
	// maxPercent bounds GOGC for a live heap near zero.
	maxPercent = 100_000
)

// Percent is the GOGC that makes the heap goal max(floor, 2 × live).
func Percent(live, floor uint64) int {
	live = max(live, 1)
	if floor <= 2*live {
		return defaultPercent
	}
	p := (floor - live) * 100 / live
	return int(min(p, maxPercent))
}

// Run sets GOGC for floor every interval until ctx ends, then restores
// what was set before. It changes GOGC only when the new value differs
// from the last by more than a tenth, so that a steady heap does not
// make it set the same value again and again.
func Run(ctx context.Context, floor uint64, every time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := -1
	before := debug.SetGCPercent(defaultPercent)
	defer debug.SetGCPercent(before)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			p := Percent(sample[0].Value.Uint64(), floor)
			if last < 0 || p*10 < last*9 || p*10 > last*11 {
				debug.SetGCPercent(p)
				last = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
