// Package fuzzseeds checks a fuzz target's seed corpus, as Trent's style
// asks of every parser's fuzzer: that it is not empty, and that it reaches
// both outcomes — some seeds accepted, some refused — so that the fuzzer
// does not start blind on one side. It imports nothing of Trent's. Only
// test code imports this package.
package fuzzseeds

import "testing"

// BothOutcomes fails t unless seeds, the corpus of the fuzz target named
// target, holds at least one seed accepts accepts and one it refuses.
func BothOutcomes[T any](t testing.TB, target string, seeds []T, accepts func(T) bool) {
	t.Helper()
	if len(seeds) == 0 {
		t.Fatalf("%s has no seeds", target)
	}
	var accepted, refused int
	for _, s := range seeds {
		if accepts(s) {
			accepted++
		} else {
			refused++
		}
	}
	if accepted == 0 || refused == 0 {
		t.Fatalf("%s seeds: %d accepted, %d refused; want some of each", target, accepted, refused)
	}
}
