package main

import (
	"log/slog"
	"runtime"
	"testing"
)

func TestWidenProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	base := runtime.GOMAXPROCS(0)
	log := slog.New(slog.DiscardHandler)

	widenProcs(func(k string) string {
		if k == "GOMAXPROCS" {
			return "1"
		}
		return ""
	}, log)
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Fatalf("GOMAXPROCS set by the operator: got %d Ps, want %d (untouched)", got, base)
	}

	widenProcs(func(string) string { return "" }, log)
	if got := runtime.GOMAXPROCS(0); got != 2*base {
		t.Fatalf("got %d Ps, want %d", got, 2*base)
	}
	for cpus, want := range map[int]int{0: 2, 1: 2, 2: 4, 8: 16} {
		if got := procsFor(cpus); got != want {
			t.Errorf("procsFor(%d) = %d, want %d", cpus, got, want)
		}
	}
}
