package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gateFS is the real file system whose event-file fsyncs wait for the
// test: each one reports the file's size when it begins, then waits for a
// token on gate (or for open to close), and records that size in covered
// once it has returned. It can also make fsyncs fail.
type gateFS struct {
	OS
	started chan int64
	gate    chan struct{}
	open    chan struct{}
	covered atomic.Int64 // the size at the start of the last fsync that completed
	mu      sync.Mutex
	fail    error
}

func newGateFS() *gateFS {
	return &gateFS{started: make(chan int64, 16), gate: make(chan struct{}), open: make(chan struct{})}
}

func (fs *gateFS) setFail(err error) { fs.mu.Lock(); fs.fail = err; fs.mu.Unlock() }

func (fs *gateFS) Create(path string) (File, error) {
	f, err := fs.OS.Create(path)
	if err != nil || !strings.HasSuffix(path, ".jsonl") {
		return f, err
	}
	return &gateFile{File: f, fs: fs, path: path}, nil
}

type gateFile struct {
	File
	fs   *gateFS
	path string
}

func (f *gateFile) Sync() error {
	fi, err := os.Stat(f.path)
	if err != nil {
		return err
	}
	size := fi.Size()
	select {
	case f.fs.started <- size:
	default:
	}
	select {
	case <-f.fs.gate:
	case <-f.fs.open:
	}
	f.fs.mu.Lock()
	fail := f.fs.fail
	f.fs.mu.Unlock()
	if fail != nil {
		return fail
	}
	if err := f.File.Sync(); err != nil {
		return err
	}
	f.fs.covered.Store(size)
	return nil
}

// result is a Record's outcome and how far completed fsyncs covered the
// file when it returned.
type result struct {
	err     error
	covered int64
}

func recordAsync(l *Log, fs *gateFS, ev *Event) chan result {
	ch := make(chan result, 1)
	go func() {
		err := l.Record(context.Background(), ev)
		ch <- result{err, fs.covered.Load()}
	}()
	return ch
}

// lineEnd is the offset just past the line holding id in the log's only
// event file, or -1.
func lineEnd(t *testing.T, dir, id string) int64 {
	t.Helper()
	files := eventFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d event files, want 1", len(files))
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(id))
	if i < 0 {
		return -1
	}
	return int64(i + bytes.IndexByte(data[i:], '\n') + 1)
}

func pendingResult(ch chan result) bool { return len(ch) == 0 }

// nextSync waits for the next event-file fsync to begin and returns the
// file's size then.
func (fs *gateFS) nextSync(t *testing.T) int64 {
	t.Helper()
	select {
	case s := <-fs.started:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for an fsync to begin")
		return 0
	}
}

// release lets one held fsync return.
func (fs *gateFS) release(t *testing.T) {
	t.Helper()
	select {
	case fs.gate <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out: no fsync is held")
	}
}

// wait returns ch's result, failing the test if none comes.
func wait(t *testing.T, what string, ch chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s's Record", what)
		return result{}
	}
}

// TestReleasedOnlyAfterCoveringFsync: the writer writes the next batch
// while an fsync is in flight, but no Record returns before an fsync that
// began after its line was written has completed. Without the pipeline
// the second step fails (nothing is written while the fsync runs); with
// a pipeline that answered batches by write rather than by fsync
// coverage, the checks on covered fail.
func TestReleasedOnlyAfterCoveringFsync(t *testing.T) {
	dir := t.TempDir()
	fs := newGateFS()
	l := openLog(t, dir, Options{FS: fs, Deadline: time.Minute})
	defer close(fs.open)

	evA := testEvent(0)
	a := recordAsync(l, fs, evA)
	s1 := fs.nextSync(t)
	endA := lineEnd(t, dir, evA.EventID)
	if endA < 0 || endA > s1 {
		t.Fatalf("fsync 1 began at size %d; A's line ends at %d: want it written before", s1, endA)
	}

	// While fsync 1 is held, B and C are written: the pipeline.
	evB, evC := testEvent(1), testEvent(2)
	b := recordAsync(l, fs, evB)
	c := recordAsync(l, fs, evC)
	waitFor(t, "B and C written while fsync 1 is in flight", func() bool {
		return lineEnd(t, dir, evB.EventID) > s1 && lineEnd(t, dir, evC.EventID) > s1
	})
	if !pendingResult(a) || !pendingResult(b) || !pendingResult(c) {
		t.Fatal("a Record returned while the fsync covering it was held")
	}
	if q := l.Stats().Queued; q != 3 {
		t.Fatalf("%d events queued, want 3", q)
	}

	fs.release(t) // fsync 1 returns
	if r := wait(t, "A", a); r.err != nil || r.covered < endA {
		t.Fatalf("A: %v, covered %d, its line ends at %d", r.err, r.covered, endA)
	}
	// Fsync 2 starts at once, with no new Record, covering B and C.
	s2 := fs.nextSync(t)
	endB, endC := lineEnd(t, dir, evB.EventID), lineEnd(t, dir, evC.EventID)
	if s2 < max(endB, endC) {
		t.Fatalf("fsync 2 began at %d, before B (%d) and C (%d) were covered", s2, endB, endC)
	}
	if q := l.Stats().Queued; q != 2 {
		t.Fatalf("%d events queued after fsync 1, want B and C", q)
	}
	if !pendingResult(b) || !pendingResult(c) {
		t.Fatal("B or C returned before the fsync covering it completed")
	}

	fs.release(t) // fsync 2 returns
	for name, r := range map[string]struct {
		ch  chan result
		end int64
	}{"B": {b, endB}, "C": {c, endC}} {
		if res := wait(t, name, r.ch); res.err != nil || res.covered < r.end {
			t.Errorf("%s: %v, covered %d, its line ends at %d", name, res.err, res.covered, r.end)
		}
	}
	if st := l.Stats(); st.Fsyncs != 2 || st.Batches != 2 {
		t.Errorf("stats %+v, want 2 fsyncs answering 2 groups", st)
	}
	closeLog(t, l)
	if rep := mustVerify(t, dir); rep.Events != 3 {
		t.Errorf("%d events verified, want 3", rep.Events)
	}
}

// TestFsyncFailureFailsWritesAfterIt: an fsync that fails fails the batch
// it covered and the one written after it while it ran; both are written
// again from the durable end once the disk recovers, each once, in order.
func TestFsyncFailureFailsWritesAfterIt(t *testing.T) {
	dir := t.TempDir()
	fs := newGateFS()
	l := openLog(t, dir, Options{FS: fs, Deadline: time.Minute})

	evA, evB := testEvent(0), testEvent(1)
	a := recordAsync(l, fs, evA)
	s1 := fs.nextSync(t)
	b := recordAsync(l, fs, evB)
	waitFor(t, "B written while fsync 1 is in flight", func() bool { return lineEnd(t, dir, evB.EventID) > s1 })

	fs.setFail(syscall.EIO)
	fs.release(t) // fsync 1 fails
	for name, ch := range map[string]chan result{"A": a, "B": b} {
		if r := wait(t, name, ch); !errors.Is(r.err, ErrUnavailable) || !errors.Is(r.err, syscall.EIO) {
			t.Errorf("%s after a failed fsync: %v, want ErrUnavailable wrapping EIO", name, r.err)
		}
	}
	if l.Healthy() {
		t.Fatal("Healthy after a failed fsync")
	}

	fs.setFail(nil)
	close(fs.open)
	waitFor(t, "recovery", l.Healthy)
	closeLog(t, l)
	if rep := mustVerify(t, dir); rep.Events != 2 {
		t.Errorf("%d events verified, want A and B once each", rep.Events)
	}
	lines := allLines(t, dir)
	if len(lines) != 2 || !strings.Contains(lines[0], evA.EventID) || !strings.Contains(lines[1], evB.EventID) {
		t.Errorf("lines after recovery: %q, want A then B", lines)
	}
}
