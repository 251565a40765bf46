package audit

import (
	"sync/atomic"
	"time"
)

// WriteBounds are the upper bounds, in seconds, of the buckets of
// WriteStats: from a page-cache write to a disk that is stalling.
var WriteBounds = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// writeLatency is a histogram of batch writes (write and fsync), kept
// with atomic adds by the writer goroutine, once per batch rather than
// per event.
type writeLatency struct {
	count, nanos atomic.Uint64
	buckets      [14]atomic.Uint64 // per WriteBounds, and one above the last
}

func (w *writeLatency) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(WriteBounds) && s > WriteBounds[i] {
		i++
	}
	w.buckets[i].Add(1)
	w.nanos.Add(uint64(max(d, 0)))
	w.count.Add(1)
}

// WriteStats describe the batch writes of a Log: how many, how long in
// total, and how many took at most each of WriteBounds (cumulative, as
// Prometheus histograms count).
type WriteStats struct {
	Count      uint64
	Sum        time.Duration
	Cumulative []uint64 // len(WriteBounds)
}

// WriteStats returns the log's write latency histogram. It reads
// counters only: safe at any time, from any goroutine.
func (l *Log) WriteStats() WriteStats {
	ws := WriteStats{Count: l.writes.count.Load(), Sum: time.Duration(l.writes.nanos.Load()),
		Cumulative: make([]uint64, len(WriteBounds))}
	var n uint64
	for i := range WriteBounds {
		n += l.writes.buckets[i].Load()
		ws.Cumulative[i] = min(n, ws.Count) // a write counted since Count was read
	}
	return ws
}
