package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// fillToSpare records events until the log writes into a preallocated
// segment: past spareStartBytes in the first file, then a rotation to the
// spare once it is ready. It returns how many events it recorded.
func fillToSpare(t *testing.T, l *Log, dir string) int {
	t.Helper()
	n := 0
	for ; n < 200 && l.w.size < spareStartBytes; n++ { // the writer is idle between Records
		record(t, l, n, 1)
	}
	waitFor(t, "a spare segment", l.spares.isReady)
	record(t, l, n, 2) // the first rotates after its write, the second starts the spare
	n += 2
	if files := eventFiles(t, dir); len(files) != 2 {
		t.Fatalf("%d event files, want 2 (the first, then the spare)", len(files))
	}
	return n
}

// spareCrashImage fills a log to its spare segment (fillToSpare) and
// copies its files as a crash would leave them then, every Record having
// returned. It returns the log, closed after the copy, the copy's
// directory and the number of events recorded.
func spareCrashImage(t *testing.T) (*Log, string, int) {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 1 << 20})
	n := fillToSpare(t, l, dir)
	crash := t.TempDir()
	testfiles.CopyDir(t, dir, crash)
	closeLog(t, l)
	return l, crash, n
}

// TestPreallocatedSegment: past its first 64 KiB the log writes over a
// segment of zeros made ahead of need; while it is open the newest file
// ends in zeros, which Verify accepts as unwritten space; Close cuts
// them off, leaving JSON lines only.
func TestPreallocatedSegment(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	l := openLog(t, dir, Options{FS: fs, MaxFileBytes: 1 << 20})
	n := fillToSpare(t, l, dir)
	if l.w.prealloc != 1<<20 {
		t.Fatalf("the live file holds %d preallocated bytes, want %d", l.w.prealloc, 1<<20)
	}
	files := eventFiles(t, dir)
	data, err := os.ReadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	lines, tail, torn := splitSegment(data)
	if len(data) != 1<<20 || len(lines) != 1 || torn != nil || tail != len(data)-len(lines[0]) {
		t.Fatalf("live file: %d bytes, %d lines, tail %d, torn %q; want 1 MiB: one line, then zeros", len(data), len(lines), tail, torn)
	}
	// The first file was cut off and covered at its rotation.
	if rep := mustVerify(t, dir); rep.Events != n || rep.Uncovered != 1 || rep.Torn != nil {
		t.Errorf("verify of the open log: %+v, want %d events, 1 uncovered, nothing torn", rep, n)
	}
	// Events written over zeros are found by Lookup and fsynced as event files.
	syncs := fs.syncs.Load()
	record(t, l, n, 3)
	n += 3
	if fs.syncs.Load() == syncs {
		t.Error("the writes into the spare were not fsynced as an event file's")
	}
	if m, _, err := l.Lookup(context.Background(), Query{AccountID: testAccount}); err != nil || len(m) == 0 {
		t.Errorf("Lookup: %d matches, %v", len(m), err)
	}
	closeLog(t, l)
	for _, f := range eventFiles(t, dir) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(data, 0) >= 0 || !bytes.HasSuffix(data, []byte("}\n")) {
			t.Errorf("%s after Close: zeros left or not ending with a line", filepath.Base(f))
		}
	}
	if rep := mustVerify(t, dir); rep.Events != n || rep.Uncovered != 0 {
		t.Errorf("verify after Close: %+v, want %d events, all covered", rep, n)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".audit-spare-*")); len(left) != 0 {
		t.Errorf("spare left after Close: %v", left)
	}
}

// TestPreallocatedCrash: what a crash leaves in a preallocated file —
// zeros after the last acknowledged line, an incomplete line, and a block
// of a write that reached the disk out of order further on — is cut off
// at the next Open, which records the torn bytes; no acknowledged event
// is lost and the log verifies before and after.
func TestPreallocatedCrash(t *testing.T) {
	_, crash, n := spareCrashImage(t)
	for _, f := range []string{".audit-spare-2.jsonl.tmp", ".audit-spare-3.jsonl.tmp"} {
		os.Remove(filepath.Join(crash, f)) // Open removes leftovers; keep the image small
	}
	live := eventFiles(t, crash)[1]
	data, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.IndexByte(data, 0)
	partial := []byte(`{"eventVersion":"1.11","userIdentity":{"type":"Ro`)
	copy(data[end:], partial)
	copy(data[end+8192:], `ot"},"eventTime":"2026-12-06T00:00:00Z"}`)
	if err := os.WriteFile(live, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, crash)
	if rep.Events != n || rep.Torn == nil || rep.Torn.Offset != int64(end) {
		t.Fatalf("verify of the crash image: %+v, want %d events and a torn tail at byte %d", rep, n, end)
	}
	wantTorn := bytes.TrimRight(data[end:], "\x00")
	sum := sha256.Sum256(wantTorn)

	l := openLog(t, crash, Options{MaxFileBytes: 1 << 20})
	record(t, l, n, 1)
	closeLog(t, l)
	after, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, data[:end]) {
		t.Errorf("after Open the crashed file has %d bytes, want its %d acknowledged bytes", len(after), end)
	}
	rep = mustVerify(t, crash)
	if rep.Events != n+1 || rep.Torn != nil || len(rep.Truncations) != 1 {
		t.Fatalf("verify after reopening: %+v, want %d events, one recorded truncation", rep, n+1)
	}
	if tr := rep.Truncations[0]; tr.File != filepath.Base(live) || tr.Offset != int64(end) ||
		tr.Bytes != int64(len(wantTorn)) || tr.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("truncation %+v does not name what was cut", tr)
	}
}

// TestPreallocatedCrashZerosOnly: a crash that leaves only zeros after
// the last line — the usual case — cuts them off and records no
// truncation; a renamed spare that never got a line becomes empty.
func TestPreallocatedCrashZerosOnly(t *testing.T) {
	l, crash, n := spareCrashImage(t)
	// A spare renamed to the next file name just before the crash.
	next := filepath.Join(crash, eventFileName(l.w.lastName, l.w.fileSeq+1))
	if err := os.WriteFile(next, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, crash); rep.Events != n || rep.Torn != nil {
		t.Fatalf("verify of the crash image: %+v, want %d events, nothing torn", rep, n)
	}
	l = openLog(t, crash, Options{MaxFileBytes: 1 << 20})
	closeLog(t, l)
	if fi, err := os.Stat(next); err != nil || fi.Size() != 0 {
		t.Errorf("the spare that got no line: %v, want it emptied", err)
	}
	rep := mustVerify(t, crash)
	if rep.Events != n || len(rep.Truncations) != 0 || rep.Uncovered != 0 {
		t.Errorf("verify after reopening: %+v, want %d events, no truncation", rep, n)
	}
	for _, f := range eventFiles(t, crash) {
		if data, _ := os.ReadFile(f); bytes.IndexByte(data, 0) >= 0 {
			t.Errorf("%s still holds zeros", filepath.Base(f))
		}
	}
}

// TestSpareNeedsSeeker: a file system whose files cannot seek gets no
// spares and keeps appending, as before.
func TestSpareNeedsSeeker(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{FS: noSeekFS{}, MaxFileBytes: 1 << 20})
	for i := 0; l.w.size < spareStartBytes; i++ {
		record(t, l, i, 1)
	}
	waitFor(t, "the spare maker to give up", func() bool {
		l.spares.mu.Lock()
		defer l.spares.mu.Unlock()
		return l.spares.off
	})
	closeLog(t, l)
	if files := eventFiles(t, dir); len(files) != 1 {
		t.Errorf("%d files, want 1", len(files))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".audit-spare-*")); len(left) != 0 {
		t.Errorf("spare left: %v", left)
	}
	mustVerify(t, dir)
}

type noSeekFS struct{ OS }

type noSeekFile struct{ File }

func (fs noSeekFS) Create(path string) (File, error) {
	f, err := fs.OS.Create(path)
	if err != nil {
		return nil, err
	}
	return noSeekFile{f}, nil
}

// FuzzSplitSegment: splitSegment, which Open and Verify read every event
// file with, must account for every byte: its lines and tail make up the
// input, no line holds a zero byte or a newline before its end, and torn
// is the tail without trailing zeros, nil only when the tail is all zeros.
func FuzzSplitSegment(f *testing.F) {
	line := []byte(`{"a":1,"trentSeq":1,"trentPrevHash":"` + strings.Repeat("0", 64) + "\"}\n")
	for _, s := range [][]byte{
		nil, line, append(bytes.Clone(line), make([]byte, 100)...),
		append(append(bytes.Clone(line), `{"b":`...), make([]byte, 10)...),
		append(append(append(bytes.Clone(line), make([]byte, 10)...), line...), 0, 0),
		{0}, []byte("\n\x00\n"), []byte("x"), append(bytes.Clone(line), line...),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, tail, torn := splitSegment(data)
		var joined []byte
		for _, ln := range lines {
			if len(ln) == 0 || ln[len(ln)-1] != '\n' || bytes.IndexByte(ln[:len(ln)-1], '\n') >= 0 || bytes.IndexByte(ln, 0) >= 0 {
				t.Fatalf("bad line %q", ln)
			}
			joined = append(joined, ln...)
		}
		if tail < 0 || len(joined)+tail != len(data) || !bytes.Equal(joined, data[:len(joined)]) {
			t.Fatalf("lines (%d bytes) and tail %d do not make up %d bytes", len(joined), tail, len(data))
		}
		rest := data[len(joined):]
		if want := bytes.TrimRight(rest, "\x00"); !bytes.Equal(torn, want) || (torn == nil) != (len(want) == 0) {
			t.Fatalf("torn %q, want %q", torn, want)
		}
		if len(rest) > 0 && rest[0] != 0 && bytes.IndexByte(rest, '\n') >= 0 && bytes.IndexByte(rest, 0) < 0 {
			t.Fatalf("a complete line left in the tail %q", rest)
		}
	})
}

// TestSpareSyncedInChunks: a spare is made durable a chunk at a time, so
// that no fsync of the spare maker has more than spareChunk bytes of zeros
// to flush ahead of the writer's own. Both spares it makes (1 and 2 MiB)
// are several chunks.
func TestSpareSyncedInChunks(t *testing.T) {
	dir := t.TempDir()
	fs := &chunkFS{}
	l := openLog(t, dir, Options{FS: fs, MaxFileBytes: 4 << 20})
	fillToSpare(t, l, dir) // takes the first spare, which asks for the second
	waitFor(t, "a second spare segment", l.spares.isReady)
	closeLog(t, l)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.spareBytes < 3<<20 {
		t.Fatalf("%d bytes of spares written, want the 1 MiB and 2 MiB spares", fs.spareBytes)
	}
	if fs.maxUnsynced > spareChunk {
		t.Errorf("a spare's fsync flushed %d bytes, want at most %d (one chunk)", fs.maxUnsynced, spareChunk)
	}
}

// chunkFS is the real file system, noting for spare files the most bytes
// written between two fsyncs. (A spare, once taken, holds events: their
// writes are a batch each, far below a chunk.)
type chunkFS struct {
	OS
	mu          sync.Mutex
	spareBytes  int64
	maxUnsynced int64
}

type chunkFile struct {
	File
	fs       *chunkFS
	spare    bool
	unsynced int64
}

func (fs *chunkFS) Create(path string) (File, error) {
	f, err := fs.OS.Create(path)
	if err != nil {
		return nil, err
	}
	return &chunkFile{File: f, fs: fs, spare: strings.Contains(filepath.Base(path), ".audit-spare-")}, nil
}

func (f *chunkFile) Seek(off int64, whence int) (int64, error) {
	return f.File.(io.Seeker).Seek(off, whence)
}

func (f *chunkFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	if f.spare {
		f.fs.mu.Lock()
		f.unsynced += int64(n)
		f.fs.spareBytes += int64(n)
		f.fs.mu.Unlock()
	}
	return n, err
}

func (f *chunkFile) Sync() error {
	if f.spare {
		f.fs.mu.Lock()
		f.fs.maxUnsynced = max(f.fs.maxUnsynced, f.unsynced)
		f.unsynced = 0
		f.fs.mu.Unlock()
	}
	return f.File.Sync()
}

// TestSpareRampUp: after Open the spares start at 1 MiB and double up to
// MaxFileBytes; a file made from a smaller spare is rotated when it is
// full, so a log that holds little never writes MaxFileBytes of zeros.
func TestSpareRampUp(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 4 << 20})
	n := fillToSpare(t, l, dir)
	if l.w.prealloc != 1<<20 {
		t.Fatalf("first spare: %d bytes, want 1 MiB", l.w.prealloc)
	}
	// Fill it, 16 Records at a time.
	for len(eventFiles(t, dir)) < 3 {
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				if err := l.Record(context.Background(), testEvent(n+g)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		n += 16
		if t.Failed() || n > 5000 {
			t.Fatalf("no third file after %d events", n)
		}
	}
	files := eventFiles(t, dir)
	fi, err := os.Stat(files[1])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 1<<20 || fi.Size() > 1<<20+20<<10 {
		t.Errorf("the file made from the 1 MiB spare holds %d bytes, want it rotated once full", fi.Size())
	}
	closeLog(t, l)
	l.spares.mu.Lock()
	next := l.spares.next
	l.spares.mu.Unlock()
	if next != 4<<20 {
		t.Errorf("the spare after the 2 MiB one would be %d bytes, want MaxFileBytes", next)
	}
	if rep := mustVerify(t, dir); rep.Events != n || rep.Uncovered != 0 {
		t.Errorf("verify: %+v, want %d events", rep, n)
	}
}
