package audit

import (
	"encoding/hex"
	"fmt"
	"time"
)

// The writer and the syncer form a two-stage pipeline. The writer appends
// batches to the file in chain order and never blocks in fsync; the
// syncer runs one fsync at a time. Before each fsync begins the writer
// notes how far the file has been written (syncJob.end); when it returns,
// exactly the writes that end at or before that offset are durable, and
// only their batches are answered. So while fsync N runs, batch N+1 is
// encoded and written, and fsync N+1 starts the moment N returns,
// covering everything written meanwhile: with wrk-style closed-loop
// clients a request waits for at most two fsyncs instead of a write plus
// an fsync plus the writer's next turn.
//
// Rotation, digests, Close and recovery from a failure first drain the
// pipeline (every write durable, nothing in flight), so the digest's head
// and the rotated file's size are what is on disk.

// written is one write of the writer that no completed fsync covers yet.
type written struct {
	batches     []*batch
	start, end  int64 // file offsets
	n           int   // events
	firstSeq    uint64
	seq         uint64 // of its last event
	first, last [32]byte
	lines       []byte // a copy for the mirror; nil without one
	began       time.Time
}

type syncJob struct {
	f   File
	end int64 // the file's written size before the fsync began
}

type syncResult struct {
	end int64
	err error
}

// syncer is the goroutine that runs the fsyncs, one at a time, as the
// writer asks.
func (l *Log) syncer() {
	for j := range l.syncReq {
		l.syncSince.Store(int64(time.Since(l.epoch)) + 1)
		err := j.f.Sync()
		l.syncSince.Store(0)
		l.syncDone <- syncResult{end: j.end, err: err}
	}
}

// writtenHead is the chain and file position after the last write,
// durable or not: where the next write continues.
func (w *writer) writtenHead() (seq uint64, prev [32]byte, size int64) {
	if k := len(w.inflight); k > 0 {
		e := &w.inflight[k-1]
		return e.seq, e.last, e.end
	}
	return w.seq, w.prev, w.size
}

func (w *writer) writtenSize() int64 {
	_, _, size := w.writtenHead()
	return size
}

// startSync starts an fsync covering everything written so far, unless
// one is in flight (its return starts the next) or nothing waits.
func (l *Log) startSync() {
	w := &l.w
	if w.syncing || len(w.inflight) == 0 {
		return
	}
	w.syncing = true
	l.fsyncs.Add(1)
	l.syncReq <- syncJob{f: w.f, end: w.writtenSize()}
}

// synced takes an fsync's outcome: on success the writes it covers are
// durable and their batches answered, and the next fsync starts for
// whatever was written meanwhile. On failure nothing changes here; the
// caller unwinds.
func (l *Log) synced(r syncResult) error {
	w := &l.w
	w.syncing = false
	if r.err != nil {
		return fmt.Errorf("audit: fsync %s: %w", w.fileName, r.err)
	}
	k := 0
	for k < len(w.inflight) && w.inflight[k].end <= r.end {
		l.durableWrite(&w.inflight[k])
		k++
	}
	if k > 0 {
		l.batches.Add(1)
		n := copy(w.inflight, w.inflight[k:])
		clear(w.inflight[n:])
		w.inflight = w.inflight[:n]
	}
	l.startSync()
	return nil
}

// durableWrite advances the log's durable state past e — the chain, the
// coverage owed to the next digest, the last-use index, the mirror — and
// then answers e's batches.
func (l *Log) durableWrite(e *written) {
	w := &l.w
	if k := len(w.ranges) - 1; k >= 0 && w.ranges[k].File == w.fileName && w.ranges[k].EndOffset == e.start {
		w.ranges[k].EndOffset = e.end
		w.ranges[k].EventCount += uint64(e.n)
		w.ranges[k].LastEventHash = hex.EncodeToString(e.last[:])
	} else {
		w.ranges = append(w.ranges, Range{
			File: w.fileName, StartOffset: e.start, EndOffset: e.end,
			FirstEventSeq: e.firstSeq, EventCount: uint64(e.n),
			FirstEventHash: hex.EncodeToString(e.first[:]), LastEventHash: hex.EncodeToString(e.last[:]),
		})
	}
	w.seq, w.prev, w.size = e.seq, e.last, e.end
	l.queued.Add(-int64(e.n))
	l.durable.Store(&position{fileSeq: w.fileSeq, file: w.fileName, size: w.size})
	for _, b := range e.batches {
		l.usage.add(b.metas)
	}
	if l.mirror != nil {
		l.mirror.send(e.lines)
	}
	l.writes.observe(time.Since(e.began))
	for _, b := range e.batches {
		b.timer.Stop()
		b.answer(nil)
	}
	l.recycle(e.batches[len(e.batches)-1])
	e.batches, e.lines = nil, nil
}

// waitSync waits for the fsync in flight, if any, and takes its outcome.
func (l *Log) waitSync() error {
	if !l.w.syncing {
		return nil
	}
	return l.synced(<-l.syncDone)
}

// drain returns once everything written is durable and no fsync is in
// flight.
func (l *Log) drain() error {
	for l.w.syncing {
		if err := l.waitSync(); err != nil {
			return err
		}
	}
	return nil
}

// unwind, after a failed write or fsync, waits for the fsync in flight
// (what it covers is durable if it succeeds) and puts every write not
// durable back in front of the pending batches, to be written again from
// the durable end of the file: an fsync error fails the batches it
// covered and every one written after them.
func (l *Log) unwind() {
	w := &l.w
	// A successful fsync starts the next for the rest; a failed one does
	// not. Either way nothing is in flight when the file is cut.
	for w.syncing {
		if err := l.waitSync(); err != nil {
			l.log.Debug("audit: the fsync in flight failed too", "err", err)
		}
	}
	if len(w.inflight) > 0 {
		var again []*batch
		for i := range w.inflight {
			again = append(again, w.inflight[i].batches...)
		}
		w.pending = append(again, w.pending...)
		clear(w.inflight)
		w.inflight = w.inflight[:0]
	}
	if w.f != nil {
		w.dirty = true
	}
}
