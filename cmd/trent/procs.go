package main

import (
	"context"
	"log/slog"
	"runtime"

	"github.com/trent-kms/trent/internal/gctune"
)

// widenProcs gives the Go scheduler twice as many Ps as the CPUs it would
// use by default, unless the operator set GOMAXPROCS.
//
// Why: the audit writer and the SQLite committer spend most of their time
// in fdatasync. A P whose thread is blocked there is taken away by Go's
// monitor thread after 20 µs and handed to another thread, and the
// returning thread parks — per fsync, thousands of times a second. With
// spare Ps the handlers keep running on the others meanwhile. Measured
// on 2 cores (docs/ARCHITECTURE.md, "GOMAXPROCS"): CreateKey 4.1k → 5.1k
// keys/s with 16 clients; Encrypt with audit on within ratio.sh's noise
// (0.27–0.34 either way); CPU-bound work no faster, Sign's p99 higher.
func widenProcs(getenv func(string) string, log *slog.Logger) {
	if getenv("GOMAXPROCS") != "" {
		return
	}
	n := procsFor(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(n)
	log.Debug("GOMAXPROCS", "procs", n)
}

// procsFor is the number of Ps for a default of cpus.
func procsFor(cpus int) int { return 2 * max(cpus, 1) }

// defaultGCMinHeap is --gc-min-heap's default. Measured on 2 cores
// (docs/ARCHITECTURE.md, "A floor under the heap goal").
const defaultGCMinHeap = 64 << 20

// floorHeap keeps the garbage collector's heap goal at least floor bytes
// for the life of the process (internal/gctune), unless the operator set
// GOGC or floor is 0.
func floorHeap(getenv func(string) string, floor int64, log *slog.Logger) {
	if floor <= 0 || getenv("GOGC") != "" {
		return
	}
	go gctune.Run(context.Background(), uint64(floor))
	log.Debug("heap goal floor", "bytes", floor)
}
