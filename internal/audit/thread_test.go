package audit

import (
	"slices"
	"testing"
	"time"
)

// TestThreadKeeper: the writer takes a thread of its own once its
// average write time passes ownThreadAbove, keeps it down to
// ownThreadBelow, and gives it back under that.
func TestThreadKeeper(t *testing.T) {
	const us = time.Microsecond
	repeat := func(d time.Duration, n int) []time.Duration { return slices.Repeat([]time.Duration{d}, n) }
	tests := []struct {
		name   string
		writes []time.Duration
		locked bool
	}{
		{"none yet", nil, false},
		{"tmpfs, never sleeps", repeat(10*us, 200), false},
		{"one slow write among fast ones", append(repeat(10*us, 50), 200*us), false},
		{"a disk's flushes", repeat(200*us, 20), true},
		{"a fast disk's", repeat(60*us, 30), true},
		{"slow, then between the lines", append(repeat(200*us, 20), repeat(24*us, 200)...), true},
		{"slow, then fast", append(repeat(200*us, 20), repeat(8*us, 200)...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan bool)
			// In a goroutine of its own: locking binds the calling
			// goroutine, and one that ends locked takes its thread along.
			go func() {
				var k threadKeeper
				for _, d := range tt.writes {
					k.observe(d)
				}
				done <- k.locked
			}()
			if got := <-done; got != tt.locked {
				t.Errorf("locked = %v, want %v", got, tt.locked)
			}
		})
	}
}
