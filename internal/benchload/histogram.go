package benchload

import (
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets: exact below 64 ns, then
// 64 buckets per power of two, so a bucket is at most 1/64 (1.6%) wide
// relative to its values. Recording is a few instructions and never
// allocates; each worker has its own and Run merges them.
type histogram struct {
	counts [numBuckets]int64
	total  int64
}

const (
	subBits    = 6
	subBuckets = 1 << subBits
	maxShift   = 40 // values up to 2^46 ns (about 19 hours)
	numBuckets = subBuckets + (maxShift+1)*subBuckets
)

func bucketOf(ns int64) int {
	if ns < subBuckets {
		if ns < 0 {
			return 0
		}
		return int(ns)
	}
	shift := bits.Len64(uint64(ns)) - subBits - 1 // ns>>shift is in [64, 128)
	if shift > maxShift {
		return numBuckets - 1
	}
	return subBuckets + shift*subBuckets + int(ns>>shift) - subBuckets
}

// bucketValue is the middle of bucket i's range.
func bucketValue(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	shift := (i - subBuckets) / subBuckets
	low := int64(subBuckets+(i-subBuckets)%subBuckets) << shift
	return low + (int64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(int64(d))]++
	h.total++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the latency below which a fraction q of the recorded
// ones fall, or 0 if none were recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := int64(q*float64(h.total) + 0.5)
	rank = max(1, min(rank, h.total))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketValue(i))
		}
	}
	return time.Duration(bucketValue(numBuckets - 1))
}
