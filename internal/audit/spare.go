package audit

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"
)

// Preallocated segments. Appending to a file makes every fdatasync commit
// the file's new size to the file system's journal as well as the data;
// writing over blocks that already hold zeros commits the data only
// (measured on this project's ext4 test machine: write 16 KB + fdatasync
// ≈ 155 µs p50 over zeros against 240–340 µs appending). So a background
// goroutine keeps one spare segment ready: a hidden file of MaxFileBytes
// zeros, durable, which the writer renames to its event file name when it
// starts a file and then writes over from its start.
//
// The format consequence: an event file may end in zero bytes after its
// last line while it is being written. No line holds a zero byte (JSON
// escapes it), so the first zero ends the lines (splitSegment). The
// writer cuts the zeros off when it rotates the file or closes the log;
// after a crash Open cuts them off, and Verify and Open treat them as
// space never written, allowed only in the newest file with events.

// spareStartBytes is when a file that is not preallocated asks for a
// spare, and gives way to it (an early rotation) once it is ready. So a
// log that holds little — a test's, a quiet installation's first minutes
// — never writes zeros; one under load switches within a second or so.
const spareStartBytes = 64 << 10

// spareRetry is how long a failed spare (a full disk) holds off the next
// attempt, so that the writes of zeros do not compete with the log's own
// for the last free space.
const spareRetry = 30 * time.Second

// spareChunk is how much of a spare is zeroed with one write and one
// fsync.
const spareChunk = 256 << 10

// maxSpareBytes bounds a spare: a log configured for larger files writes
// the rest of each file by appending.
const maxSpareBytes = 256 << 20

// firstSpareBytes is the size of a log's first spare; each next one is
// twice the size of the one before, up to MaxFileBytes. A log that has
// just passed spareStartBytes — a test's, a quiet installation's — writes
// 1 MiB of zeros, not 64; a busy one reaches full-size files within a few
// rotations (1, 2, 4 … 64 MiB files after each Open, by default).
const firstSpareBytes = 1 << 20

// spare is a preallocated segment ready to be written over.
type spare struct {
	f    File
	path string
	size int64 // bytes of zeros it holds
}

// spares makes spare segments in the background, one at a time, ahead of
// need.
type spares struct {
	l    *Log
	full int64 // the size of a full spare
	next int64 // the size of the next spare

	mu     sync.Mutex
	ready  *spare
	n      int       // spares made, for their names
	off    bool      // the file system cannot do it (its File is no io.Seeker)
	failed time.Time // of the last failed attempt

	want chan struct{} // a spare was taken: make the next
	quit chan struct{}
	done chan struct{}
}

func newSpares(l *Log, full int64) *spares {
	s := &spares{l: l, full: full, next: min(full, firstSpareBytes), want: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *spares) run() {
	defer close(s.done)
	for {
		select {
		case <-s.want:
		case <-s.quit:
			return
		}
		s.mu.Lock()
		skip := s.ready != nil || s.off
		s.n++
		n, size := s.n, s.next
		s.mu.Unlock()
		if skip {
			continue
		}
		sp, err := s.make(n, size)
		if err != nil {
			// Not an audit failure: the writer appends to a file of its
			// own until a later attempt (at its next new file) works.
			s.l.log.Debug("audit: preallocate a segment", "err", err)
			s.mu.Lock()
			s.failed = time.Now()
			s.mu.Unlock()
			continue
		}
		if sp == nil {
			continue
		}
		s.mu.Lock()
		s.ready = sp
		s.next = min(s.full, 2*s.next)
		s.mu.Unlock()
	}
}

// make writes a spare of zeros and makes it durable; nil without an error
// when the log is closing or the file system cannot write over a file.
func (s *spares) make(n int, size int64) (*spare, error) {
	// A spare must not take the last free space from the log's own
	// writes: only where the disk has room for a few of them.
	if free, ok := freeBytes(s.l.dir); ok && free < 4*size {
		return nil, fmt.Errorf("%d bytes free, too few for a spare of %d", free, size)
	}
	fs := s.l.fs
	path := filepath.Join(s.l.dir, fmt.Sprintf(".audit-spare-%d.jsonl.tmp", n))
	f, err := fs.Create(path)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*spare, error) {
		f.Close()
		if rerr := fs.Remove(path); rerr != nil {
			s.l.log.Debug("audit: remove spare segment", "file", path, "err", rerr)
		}
		return nil, err
	}
	seeker, ok := f.(io.Seeker)
	if !ok {
		s.mu.Lock()
		s.off = true
		s.mu.Unlock()
		return fail(nil)
	}
	zeros := make([]byte, min(int64(spareChunk), size))
	for written := int64(0); written < size; {
		select {
		case <-s.quit:
			return fail(nil)
		default:
		}
		k := min(int64(len(zeros)), size-written)
		if _, err := f.Write(zeros[:k]); err != nil {
			return fail(fmt.Errorf("write %s: %w", path, err))
		}
		// Each chunk is made durable before the next is written: one
		// fsync of a whole spare puts up to 64 MiB of writes in the
		// device's queue ahead of the log's own small write and flush,
		// which then wait tens of milliseconds, and every request with
		// them. Measured (docs/ARCHITECTURE.md): Encrypt's p99 8.6–17.6
		// ms with one fsync per spare, 3.9–5.9 ms with one per MiB,
		// 2.4–3.9 ms with one per 256 KiB.
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("fsync %s: %w", path, err))
		}
		written += k
	}
	if _, err := seeker.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("seek %s: %w", path, err))
	}
	return &spare{f: f, path: path, size: size}, nil
}

// take returns the ready spare, or nil. Taking one asks for the next:
// the log is busy enough to fill files.
func (s *spares) take() *spare {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	sp := s.ready
	s.ready = nil
	s.mu.Unlock()
	if sp != nil {
		s.request()
	}
	return sp
}

// rampUp reports whether a file preallocated with size bytes was one of
// the smaller spares after Open: the writer rotates when it is full
// rather than appending to it up to MaxFileBytes.
func (s *spares) rampUp(size int64) bool {
	return s != nil && size > 0 && size < s.full
}

// isReady reports whether a spare waits, and asks for one if not.
func (s *spares) isReady() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	ok := s.ready != nil
	s.mu.Unlock()
	if !ok {
		s.request()
	}
	return ok
}

// request asks for a spare, unless an attempt failed lately.
func (s *spares) request() {
	s.mu.Lock()
	hold := s.off || !s.failed.IsZero() && time.Since(s.failed) < spareRetry
	s.mu.Unlock()
	if hold {
		return
	}
	select {
	case s.want <- struct{}{}:
	default:
	}
}

// put gives back a spare the writer could not use (its rename failed).
func (s *spares) put(sp *spare) {
	s.mu.Lock()
	if s.ready == nil {
		s.ready, sp = sp, nil
	}
	s.mu.Unlock()
	if sp != nil {
		s.discard(sp)
	}
}

func (s *spares) discard(sp *spare) {
	sp.f.Close()
	if err := s.l.fs.Remove(sp.path); err != nil {
		s.l.log.Debug("audit: remove spare segment", "file", sp.path, "err", err)
	}
}

// stop ends the goroutine, waiting for a write of zeros in progress at
// most wait, and removes an unused spare.
func (s *spares) stop(wait time.Duration) {
	if s == nil {
		return
	}
	close(s.quit)
	select {
	case <-s.done:
	case <-time.After(wait):
		return // the disk is stuck; Open removes the leftover
	}
	s.mu.Lock()
	sp := s.ready
	s.ready = nil
	s.mu.Unlock()
	if sp != nil {
		s.discard(sp)
	}
}
