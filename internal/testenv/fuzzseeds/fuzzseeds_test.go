package fuzzseeds

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records a failure instead of ending the
// test, so that BothOutcomes' refusals can be checked.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(r)
}

func run(t *testing.T, seeds []int) (failed string) {
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failed = r.failed
	}()
	BothOutcomes(r, "FuzzEven", seeds, func(n int) bool { return n%2 == 0 })
	return ""
}

func TestBothOutcomes(t *testing.T) {
	for _, tt := range []struct {
		seeds []int
		want  string
	}{
		{[]int{1, 2}, ""},
		{nil, "FuzzEven has no seeds"},
		{[]int{2, 4}, "FuzzEven seeds: 2 accepted, 0 refused; want some of each"},
		{[]int{1}, "FuzzEven seeds: 0 accepted, 1 refused; want some of each"},
	} {
		if got := run(t, tt.seeds); got != tt.want {
			t.Errorf("seeds %v: failure %q, want %q", tt.seeds, got, tt.want)
		}
	}
}
