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

// spareChunk is how much of a spare is zeroed with one write.
const spareChunk = 1 << 20

// maxSpareBytes bounds a spare: a log configured for larger files writes
// the rest of each file by appending.
const maxSpareBytes = 256 << 20

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
	size int64

	mu     sync.Mutex
	ready  *spare
	n      int       // spares made, for their names
	off    bool      // the file system cannot do it (its File is no io.Seeker)
	failed time.Time // of the last failed attempt

	want chan struct{} // a spare was taken: make the next
	quit chan struct{}
	done chan struct{}
}

func newSpares(l *Log, size int64) *spares {
	s := &spares{l: l, size: size, want: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
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
		n := s.n
		s.mu.Unlock()
		if skip {
			continue
		}
		sp, err := s.make(n)
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
		s.mu.Unlock()
	}
}

// make writes a spare of zeros and makes it durable; nil without an error
// when the log is closing or the file system cannot write over a file.
func (s *spares) make(n int) (*spare, error) {
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
	zeros := make([]byte, min(int64(spareChunk), s.size))
	for written := int64(0); written < s.size; {
		select {
		case <-s.quit:
			return fail(nil)
		default:
		}
		k := min(int64(len(zeros)), s.size-written)
		if _, err := f.Write(zeros[:k]); err != nil {
			return fail(fmt.Errorf("write %s: %w", path, err))
		}
		written += k
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("fsync %s: %w", path, err))
	}
	if _, err := seeker.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("seek %s: %w", path, err))
	}
	return &spare{f: f, path: path, size: s.size}, nil
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

// ready reports whether a spare waits, and asks for one if not.
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
