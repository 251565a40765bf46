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
		live, floor uint64
		want        int
	}{
		{2 * mib, 64 * mib, 3100},  // goal 2 × 32 = 64 MiB
		{30 * mib, 64 * mib, 113},  // just above Go's default
		{32 * mib, 64 * mib, 100},  // twice the live heap is the floor
		{100 * mib, 64 * mib, 100}, // above the floor: Go's default
		{0, 64 * mib, 100_000},     // nothing live: bounded
		{64, 64 * mib, 100_000},    // near nothing: bounded
		{2 * mib, 0, 100},          // no floor
	} {
		if got := Percent(tc.live, tc.floor); got != tc.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
	}
}

// TestRunSetsAndRestores: Run raises GOGC for a small live heap, and gives
// back the setting it found when it stops.
func TestRunSetsAndRestores(t *testing.T) {
	prev := debug.SetGCPercent(77)
	defer debug.SetGCPercent(prev)
	runtime.GC() // the live heap as small as it gets
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, 1<<30, time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := gogc()
		if p > 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d after 10 s, want it raised for a 1 GiB floor", p)
		}
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
