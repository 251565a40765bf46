package audit

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// mirror is the best-effort second sink. The writer hands it lines with a
// send that never waits; its own goroutine writes them out. A mirror that
// is slow or stuck loses lines (counted), never the log's time.
type mirror struct {
	w       io.Writer
	log     *slog.Logger
	dropped atomic.Uint64
	failed  atomic.Uint64

	mu     sync.RWMutex
	ch     chan []byte
	closed bool
	done   chan struct{}
}

func newMirror(w io.Writer, queue int, log *slog.Logger) *mirror {
	m := &mirror{w: w, log: log, ch: make(chan []byte, queue), done: make(chan struct{})}
	go m.run()
	return m
}

// send queues each line of a durable batch, dropping what does not fit.
func (m *mirror) send(batch []byte) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return
	}
	for len(batch) > 0 {
		i := bytes.IndexByte(batch, '\n')
		line := batch[:i+1]
		batch = batch[i+1:]
		select {
		case m.ch <- bytes.Clone(line):
		default:
			if m.dropped.Add(1) == 1 {
				m.log.Warn("audit mirror is not keeping up: dropping lines (the audit files have them all)")
			}
		}
	}
}

func (m *mirror) run() {
	defer close(m.done)
	for line := range m.ch {
		if _, err := m.w.Write(line); err != nil {
			if n := m.failed.Add(1); n == 1 || n%1000 == 0 {
				m.log.Warn("audit mirror write failed (the audit files are unaffected)", "err", err, "failures", n)
			}
		}
	}
}

// close stops taking lines and waits up to wait for the queued ones to be
// written; a mirror stuck in a write is left behind.
func (m *mirror) close(wait time.Duration) {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.ch)
	}
	m.mu.Unlock()
	select {
	case <-m.done:
	case <-time.After(wait):
	}
}
