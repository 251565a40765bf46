package gctune

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, roots, floor uint64
		want               int
	}{
		{2 * mib, 0, 64 * mib, 3100},        // goal 2 + 2 × 31 = 64 MiB
		{2 * mib, 2 * mib, 64 * mib, 1550},  // the roots count as Go counts them
		{30 * mib, 1 * mib, 64 * mib, 109},  // just above Go's default
		{30 * mib, 10 * mib, 64 * mib, 100}, // never below Go's default
		{32 * mib, 0, 64 * mib, 100},        // twice the live heap is the floor
		{100 * mib, 0, 64 * mib, 100},       // above the floor: Go's default
		{0, 0, 64 * mib, 100},               // not measured yet: Go's default
		{64, 0, 64 * mib, 100_000},          // near nothing: bounded
		{2 * mib, 0, 0, 100},                // no floor
	} {
		if got := Percent(tc.live, tc.roots, tc.floor); got != tc.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.live, tc.roots, tc.floor, got, tc.want)
		}
	}
}

// TestRunSetsAndRestores: Run raises GOGC for a small live heap, and gives
// back the setting it found when it stops.
func TestRunSetsAndRestores(t *testing.T) {
	prev := debug.SetGCPercent(77)
	defer debug.SetGCPercent(prev)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, 1<<30) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := gogc()
		if p > 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d after 10 s, want it raised for a 1 GiB floor", p)
		}
		runtime.GC() // a collection: the finalizer adjusts GOGC after it
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if p := gogc(); p != 77 {
		t.Errorf("GOGC after Run = %d, want 77 restored", p)
	}
}

// gogc reads GOGC without setting it (which would race with Run's).
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestHeapStaysBounded: under Run, garbage is collected once the heap
// reaches about the floor — it does not grow without a collection (as it
// did when GOGC was raised before any collection had measured the live
// heap, and a serve reached 1 GB).
func TestHeapStaysBounded(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	const floor = 32 << 20
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, floor) }()
	defer func() { cancel(); <-done }()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gcs := ms.NumGC
	var peak uint64
	var sink []byte
	for i := range 100_000 { // 100,000 × 4 KiB: 400 MiB of garbage
		sink = make([]byte, 4096)
		sink[0] = byte(i)
		if i%1000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	_ = sink
	runtime.ReadMemStats(&ms)
	if ms.NumGC-gcs < 3 {
		t.Errorf("%d collections for 400 MiB of garbage with a 32 MiB floor", ms.NumGC-gcs)
	}
	if peak > 2*floor {
		t.Errorf("the heap reached %d MiB with a 32 MiB floor", peak>>20)
	}
	if p := gogc(); p <= 100 {
		t.Errorf("GOGC is %d: the floor was never applied", p)
	}
	t.Logf("%d collections, peak heap %d MiB, GOGC %d", ms.NumGC-gcs, peak>>20, gogc())
}
