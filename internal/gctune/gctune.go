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
// only ever lowers the goal. So Run sets GOGC after every collection,
// from the live heap that collection found, so that the goal is
// max(floor, 2 × live): the floor while the heap is small, Go's default
// once twice the live heap is above it. It learns of each collection
// from a finalizer (they run right after the collection that found their
// object unreachable), so the goal follows the live heap at once rather
// than an interval later; until the first collection, when no live heap
// is known, GOGC is Go's default. Go's minimum heap (4 MiB at GOGC=100)
// scales with GOGC too, so for a tiny live heap it is the minimum that
// sets the goal: each setting is checked against the goal the runtime
// reports (/gc/heap/goal:bytes) and lowered until that is the floor.
package gctune

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

const (
	// defaultPercent is Go's GOGC, below which Run never goes.
	defaultPercent = 100
	// maxPercent bounds GOGC for a live heap near zero.
	maxPercent = 100_000
)

// Percent is the GOGC that makes the heap goal max(floor, 2 × live), or
// Go's default when live is 0 (no collection has measured it yet), by the
// pacer's formula (set then checks the goal the runtime derived). Go's
// goal is live + (live + roots) × GOGC/100, where roots are the stacks and
// globals the last collection scanned (runtime/mgcpacer.go): in a large
// binary with a small heap the globals alone can be larger than the live
// heap, so leaving them out would put the goal far past the floor.
func Percent(live, roots, floor uint64) int {
	if live == 0 || floor <= 2*live {
		return defaultPercent
	}
	p := (floor - live) * 100 / (live + roots)
	return int(min(max(p, defaultPercent), maxPercent))
}

// sentinel is the object whose finalizer runs after each collection. It
// holds a pointer, so it is not a tiny allocation (those hold no
// pointers), whose finalizer might wait for a neighbour's.
type sentinel struct {
	t *tuner
}

type tuner struct {
	floor   uint64
	mu      sync.Mutex
	stopped bool
	last    int
	sample  []metrics.Sample
	goal    []metrics.Sample
}

// Run keeps the heap goal at max(floor, 2 × live) until ctx ends, then
// restores the GOGC set before. It sets GOGC only when the new value
// differs from the last by more than a tenth, so that a steady heap does
// not make it set the same value again and again.
func Run(ctx context.Context, floor uint64) {
	t := &tuner{floor: floor, last: defaultPercent, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}, goal: []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}}
	before := debug.SetGCPercent(defaultPercent)
	t.arm()
	<-ctx.Done()
	t.mu.Lock()
	t.stopped = true
	debug.SetGCPercent(before)
	t.mu.Unlock()
}

// arm sets a sentinel for the next collection to find.
func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, (*sentinel).collected)
}

// collected adjusts GOGC to the live heap the collection just measured,
// and arms the next sentinel.
func (s *sentinel) collected() {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		var roots uint64
		for _, r := range t.sample[1:] {
			if r.Value.Kind() == metrics.KindUint64 {
				roots += r.Value.Uint64()
			}
		}
		p := Percent(t.sample[0].Value.Uint64(), roots, t.floor)
		if p*10 < t.last*9 || p*10 > t.last*11 {
			t.last = p
			t.set(p)
		}
	}
	t.arm()
}

// set sets GOGC to p, then lowers it while the goal the runtime computed
// is above the floor: Go also scales its minimum heap (4 MiB at GOGC=100)
// with GOGC, so for a tiny live heap that minimum, not the formula
// Percent follows, can set the goal. The goal scales with GOGC in both.
func (t *tuner) set(p int) {
	for range 4 {
		debug.SetGCPercent(p)
		metrics.Read(t.goal)
		if t.goal[0].Value.Kind() != metrics.KindUint64 || p <= defaultPercent {
			return
		}
		goal := t.goal[0].Value.Uint64()
		if goal <= t.floor+t.floor/16 {
			return
		}
		p = max(defaultPercent, int(uint64(p)*t.floor/goal))
	}
}
