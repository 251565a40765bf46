package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// TestChainAcrossRestartsAndFiles: each Open starts a new file whose first
// line links to the last line of the one before, and the layout is what
// the package comment promises.
func TestChainAcrossRestartsAndFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	for run := range 3 {
		l := openLog(t, dir, Options{})
		record(t, l, run*4, 4)
		closeLog(t, l)
	}
	files := eventFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("%d event files after 3 runs, want 3: %v", len(files), files)
	}
	lines := allLines(t, dir)
	if len(lines) != 12 {
		t.Fatalf("%d lines, want 12", len(lines))
	}
	prev := strings.Repeat("0", 64)
	for i, ln := range lines {
		var f struct {
			Seq  uint64 `json:"trentSeq"`
			Prev string `json:"trentPrevHash"`
		}
		if err := json.Unmarshal([]byte(ln), &f); err != nil {
			t.Fatal(err)
		}
		if f.Seq != uint64(i+1) || f.Prev != prev {
			t.Fatalf("line %d: trentSeq %d, trentPrevHash %s; want %d, %s", i, f.Seq, f.Prev, i+1, prev)
		}
		sum := sha256.Sum256([]byte(ln)) // the bytes as written, newline included
		prev = hex.EncodeToString(sum[:])
	}
	rep := mustVerify(t, dir)
	if rep.Events != 12 || rep.Digests != 3 || rep.Uncovered != 0 || rep.Files != 3 {
		t.Errorf("report %+v, want 12 events, 3 digests, all covered, 3 files", rep)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	for i := 1; i < len(files); i++ {
		if filepath.Base(files[i-1]) >= filepath.Base(files[i]) {
			t.Errorf("file names do not sort in order: %s, %s", files[i-1], files[i])
		}
	}
}

// TestRotationBySize: files are cut at MaxFileBytes, each rotation writes a
// digest, and the chain runs across them.
func TestRotationBySize(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 2048})
	record(t, l, 0, 40)
	closeLog(t, l)
	files := eventFiles(t, dir)
	if len(files) < 5 {
		t.Fatalf("%d files for 40 events of ~600 bytes with 2 KiB files, want several", len(files))
	}
	reasons := map[string]int{}
	for _, f := range digestFiles(t, dir) {
		d, err := readDigest(f)
		if err != nil {
			t.Fatal(err)
		}
		reasons[d.Reason]++
	}
	if reasons["rotation"] < len(files)-1 {
		t.Errorf("digest reasons %v: want a rotation digest per rotated file (%d)", reasons, len(files)-1)
	}
	if rep := mustVerify(t, dir); rep.Events != 40 || rep.Uncovered != 0 {
		t.Errorf("report %+v", rep)
	}
}

// TestDigestInterval: with events waiting, a digest comes on its own.
func TestDigestInterval(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{DigestInterval: 20 * time.Millisecond})
	defer closeLog(t, l)
	// One batch: separate Records could each take longer than the
	// interval on a busy disk, and the first digest cover fewer.
	if err := l.Record(context.Background(), testEvent(0), testEvent(1), testEvent(2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an interval digest", func() bool { return len(digestFiles(t, dir)) > 0 })
	d, err := readDigest(digestFiles(t, dir)[0])
	if err != nil {
		t.Fatal(err)
	}
	if d.Reason != "interval" || d.Head.EventSeq != 3 {
		t.Errorf("digest %+v: want an interval digest through event 3", d.Digest)
	}
}

// TestWriterYieldsToRunningRecords: the Record that wakes the writer is
// not the only one on its way. With one P, the scheduler would run the
// woken writer before the goroutines already runnable, and each would
// wait for an fsync of its own; the writer yields once first, so that
// they all join its batch. Ten rounds of eight Records each, started
// together: at most one fsync per round in most rounds, where without
// the yield every round takes two or more.
func TestWriterYieldsToRunningRecords(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const rounds, n = 10, 8
	fs := &faultFS{}
	l := openLog(t, t.TempDir(), Options{FS: fs, Deadline: time.Minute})
	single := 0
	for r := range rounds {
		before := fs.syncs.Load()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() { errs <- l.Record(context.Background(), testEvent(r*n+i)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if fs.syncs.Load()-before == 1 {
			single++
		}
	}
	t.Logf("%d of %d rounds of %d concurrent Records took one fsync", single, rounds, n)
	if single < rounds/2 {
		t.Errorf("%d of %d rounds took one fsync: the writer does not let the running Records join its batch", single, rounds)
	}
	closeLog(t, l)
}

// TestGroupCommit: many concurrent Records share few fsyncs. The first
// fsync is held until every Record is queued, so the count does not
// depend on the machine's speed.
func TestGroupCommit(t *testing.T) {
	const n = 200
	fs := &faultFS{}
	release := make(chan struct{})
	var once sync.Once
	fs.hook = func() { once.Do(func() { <-release }) }
	l := openLog(t, t.TempDir(), Options{FS: fs, Deadline: time.Minute})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- l.Record(context.Background(), testEvent(i)) })
	}
	waitFor(t, "all records queued behind the first fsync", func() bool { return l.Stats().Queued == n })
	// Durable before the answer: while the fsync is held, no Record has
	// returned, not even those of the batch already written.
	if len(errs) != 0 {
		t.Fatalf("%d Records returned before their fsync did", len(errs))
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	syncs := fs.syncs.Load()
	t.Logf("%d records, %d fsyncs", n, syncs)
	if syncs > 3 {
		t.Errorf("%d fsyncs for %d concurrent records: want them to share (at most 3)", syncs, n)
	}
	if st := l.Stats(); st.Batches != uint64(syncs) || st.Fsyncs != uint64(syncs) {
		t.Errorf("stats %+v, want %d batches and fsyncs", st, syncs)
	}
	closeLog(t, l)
	if rep := mustVerify(t, l.dir); rep.Events != n {
		t.Errorf("%d events verified, want %d", rep.Events, n)
	}
}

// TestFailClosedAndRecover: a disk that refuses writes makes Record and
// Ready fail at once; when it takes writes again the log recovers alone,
// and the events of the failed Records are written, not lost.
func TestFailClosedAndRecover(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	l := openLog(t, dir, Options{FS: fs})
	record(t, l, 0, 3)
	if err := l.Ready(); err != nil {
		t.Fatalf("Ready on a healthy log: %v", err)
	}

	fs.setFail(syscall.ENOSPC)
	ev := testEvent(3)
	err := l.Record(context.Background(), ev)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Record on a full disk: %v, want ErrUnavailable wrapping ENOSPC", err)
	}
	if errors.Is(err, ErrTimeout) {
		t.Errorf("Record on a full disk: %v: a failed write is not a timeout", err)
	}
	if err := l.Ready(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ready on a full disk: %v", err)
	}
	if l.Healthy() {
		t.Fatal("Healthy on a full disk")
	}
	ev2 := testEvent(4)
	if err := l.Record(context.Background(), ev2); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second Record while failing: %v", err)
	}

	fs.setFail(nil)
	waitFor(t, "recovery", l.Healthy)
	record(t, l, 5, 2)
	closeLog(t, l)
	rep := mustVerify(t, dir)
	if rep.Events != 7 {
		t.Errorf("%d events, want 7: the failed Records' events are written on recovery", rep.Events)
	}
	all := strings.Join(allLines(t, dir), "")
	for _, id := range []string{ev.EventID, ev2.EventID} {
		if !strings.Contains(all, id) {
			t.Errorf("event %s of a failed Record is not in the log", id)
		}
	}
}

// TestFailedDigestFailsClosed: a digest that cannot be written is a
// failure too; it is retried and written once the disk takes writes.
func TestFailedDigestFailsClosed(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	l := openLog(t, dir, Options{FS: fs})
	record(t, l, 0, 2)
	fs.setFail(syscall.EIO)
	if err := l.Digest(context.Background()); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Digest on a failing disk: %v", err)
	}
	if l.Healthy() {
		t.Fatal("Healthy after a failed digest")
	}
	fs.setFail(nil)
	waitFor(t, "recovery", l.Healthy)
	if n := len(digestFiles(t, dir)); n != 1 {
		t.Errorf("%d digests after recovery, want the retried one", n)
	}
	closeLog(t, l)
	mustVerify(t, dir)
}

// TestFullFilesystem fills a real, tiny file system: the log fails closed
// while it is full and recovers when space is freed.
func TestFullFilesystem(t *testing.T) {
	mnt := t.TempDir()
	if out, err := testcmd.Command(t, "mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a 64 KiB tmpfs to fill (needs root and CAP_SYS_ADMIN): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		// Lazy, so that a test that failed with a file still open does
		// not leave the mount behind.
		if out, err := testcmd.Command(t, "umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "audit")
	l := openLog(t, dir, Options{})
	var acked []string
	var failedAt int
	for i := range 1000 {
		ev := testEvent(i)
		if err := l.Record(context.Background(), ev); err != nil {
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Record %d on a full file system: %v, want ErrUnavailable wrapping ENOSPC", i, err)
			}
			failedAt = i
			break
		}
		acked = append(acked, ev.EventID)
	}
	if failedAt == 0 {
		t.Fatal("the file system never filled up")
	}
	t.Logf("full after %d events", len(acked))
	if l.Healthy() {
		t.Fatal("Healthy on a full file system")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery after space was freed", l.Healthy)
	record(t, l, failedAt+1, 3)
	closeLog(t, l)
	rep := mustVerify(t, dir)
	if rep.Events != len(acked)+1+3 {
		t.Errorf("%d events, want %d acknowledged + 1 retried + 3", rep.Events, len(acked))
	}
	all := strings.Join(allLines(t, dir), "")
	for _, id := range acked {
		if !strings.Contains(all, id) {
			t.Fatalf("acknowledged event %s missing", id)
		}
	}
}

// TestDeadline: a write that hangs in the kernel does not hang callers.
// Record gives up after the deadline, Ready fails while the write hangs,
// and all is well once it returns.
func TestDeadline(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{blocked: make(chan struct{}, 10)}
	// The deadline also bounds the writes that must succeed here (the
	// first and last Records, Close's digest): 50 ms failed one run in
	// ten when other processes were fsyncing (CI runs packages side by
	// side). A hung write is held until the test lets it go, so any
	// deadline shows that Record does not wait for the disk.
	l := openLog(t, dir, Options{FS: fs, Deadline: 2 * time.Second})
	record(t, l, 0, 2)

	fs.hold()
	ev := testEvent(2)
	// The write is held until the disk returns, below: Record returning at
	// all shows that it does not wait for the disk.
	if err := l.Record(context.Background(), ev); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Record on a hung disk: %v, want ErrTimeout", err)
	}
	<-fs.blocked
	waitFor(t, "Ready to report the hung write", func() bool { return errors.Is(l.Ready(), ErrTimeout) })
	if err := l.Record(context.Background(), testEvent(3)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("second Record on a hung disk: %v, want ErrTimeout", err)
	}

	diskReturns(t, l, fs, dir)
}

// diskReturns releases the hung writes of a log that holds events 0 to 3,
// records a fifth, and checks that all five are in the log: the ones
// whose Record timed out were written when the disk came back.
func diskReturns(t *testing.T, l *Log, fs *faultFS, dir string) {
	t.Helper()
	fs.release()
	waitFor(t, "the log to be ready again", l.Healthy)
	record(t, l, 4, 1)
	closeLog(t, l)
	if rep := mustVerify(t, dir); rep.Events != 5 {
		t.Errorf("%d events, want 5 (the timed-out ones are written when the disk returns)", rep.Events)
	}
}

// TestDeadlineOfLaterBatch: the log's one deadline timer, set for the
// oldest open batch, answers a batch that opened after it too: when the
// first batch's deadline passes, the timer is set again for the next.
func TestDeadlineOfLaterBatch(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{blocked: make(chan struct{}, 10)}
	l := openLog(t, dir, Options{FS: fs, Deadline: time.Second})
	record(t, l, 0, 2)

	fs.hold()
	recordAsync := func(i int) <-chan error {
		errc := make(chan error, 1)
		go func() { errc <- l.Record(context.Background(), testEvent(i)) }()
		return errc
	}
	first := recordAsync(2)
	<-fs.blocked // the writer holds the first batch
	second := recordAsync(3)
	waitFor(t, "a second batch to open behind the first", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.open) == 2
	})
	for i, errc := range []<-chan error{first, second} {
		select {
		case err := <-errc:
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("Record of batch %d on a hung disk: %v, want ErrTimeout", i+1, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Record of batch %d on a hung disk was never answered", i+1)
		}
	}

	diskReturns(t, l, fs, dir)
}

// TestMirrorNeverBlocks: a second sink nobody reads costs the log nothing.
func TestMirrorNeverBlocks(t *testing.T) {
	pr, pw := io.Pipe() // every write blocks: nobody reads
	t.Cleanup(func() { pr.Close() })
	dir := t.TempDir()
	// The mirror goroutine stays stuck in its write after Close, and logs
	// when the pipe closes at cleanup, after the test: not to t.Output.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l := openLog(t, dir, Options{Mirror: pw, MirrorQueue: 4, Deadline: 10 * time.Second, Logger: quiet})
	record(t, l, 0, 50)
	if d := l.Stats().MirrorDropped; d < 50-4-1 {
		t.Errorf("%d lines dropped, want at least %d: the mirror takes at most queue+1", d, 50-4-1)
	}
	closeLog(t, l)
	if rep := mustVerify(t, dir); rep.Events != 50 {
		t.Errorf("%d events in the log, want 50", rep.Events)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// TestMirrorCopiesLines: a mirror that keeps up gets every line as written.
func TestMirrorCopiesLines(t *testing.T) {
	var m syncBuffer
	dir := t.TempDir()
	l := openLog(t, dir, Options{Mirror: &m})
	record(t, l, 0, 20)
	closeLog(t, l)
	if got, want := m.b.String(), strings.Join(allLines(t, dir), ""); got != want {
		t.Errorf("mirror got %d bytes, files hold %d; want the same lines", len(got), len(want))
	}
}

// TestTornTail: an incomplete last line (a crash mid-write) is accepted by
// Verify as unacknowledged, cut off by Open, and recorded in the next
// digest.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	record(t, l, 0, 5)
	closeLog(t, l)
	files := eventFiles(t, dir)
	last := files[len(files)-1]
	torn := []byte(`{"eventVersion":"1.11","userIdentity":{"type":"IAMU`)
	appendTo(t, last, torn)

	rep := mustVerify(t, dir)
	if rep.Torn == nil || rep.Torn.Bytes != int64(len(torn)) {
		t.Fatalf("Verify reported torn tail %+v, want %d bytes", rep.Torn, len(torn))
	}

	l = openLog(t, dir, Options{})
	record(t, l, 5, 2)
	closeLog(t, l)
	rep = mustVerify(t, dir)
	if rep.Torn != nil || len(rep.Truncations) != 1 || rep.Events != 7 {
		t.Fatalf("after reopening: %+v, want no torn tail, 1 recorded truncation, 7 events", rep)
	}
	sum := sha256.Sum256(torn)
	if tr := rep.Truncations[0]; tr.File != filepath.Base(last) || tr.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("truncation %+v does not name what was cut", tr)
	}
}

func appendTo(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefuses: Open does not continue a log it cannot vouch for.
func TestOpenRefuses(t *testing.T) {
	t.Run("another signing key", func(t *testing.T) {
		dir := t.TempDir()
		closeLog(t, openLog(t, dir, Options{}))
		other, _ := GenerateSigningKey()
		_, err := Open(Options{Dir: dir, Signer: other})
		if err == nil || !strings.Contains(err.Error(), "another signing key") {
			t.Fatalf("Open with another key: %v", err)
		}
	})
	t.Run("edited newest digest", func(t *testing.T) {
		dir := t.TempDir()
		l := openLog(t, dir, Options{})
		record(t, l, 0, 2)
		closeLog(t, l)
		d := digestFiles(t, dir)[0]
		editFile(t, d, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"reason":"close"`), []byte(`"reason":"clos3"`), 1)
		})
		if _, err := Open(Options{Dir: dir, Signer: testSigner}); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("Open over an edited digest: %v", err)
		}
	})
	t.Run("edited uncovered event", func(t *testing.T) {
		// A crash leaves events no digest covers; if one of them was
		// edited since, Open refuses rather than sign it.
		dir := t.TempDir()
		l := openLog(t, dir, Options{})
		record(t, l, 0, 3)
		crashed := t.TempDir()
		testfiles.CopyDir(t, dir, crashed)
		closeLog(t, l)
		f := eventFiles(t, crashed)[0]
		editFile(t, f, func(b []byte) []byte { return bytes.Replace(b, []byte(`"n":"1"`), []byte(`"n":"9"`), 1) })
		_, err := Open(Options{Dir: crashed, Signer: testSigner})
		if err == nil || !strings.Contains(err.Error(), "line 3") {
			t.Fatalf("Open over an edited uncovered event: %v, want it to name line 3", err)
		}
	})
}

func editFile(t testing.TB, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nb := edit(bytes.Clone(b))
	if bytes.Equal(b, nb) {
		t.Fatalf("edit of %s changed nothing", path)
	}
	if err := os.WriteFile(path, nb, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRecordRefusesMalformedEvents: the log checks what it relies on.
func TestRecordRefusesMalformedEvents(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	defer closeLog(t, l)
	for name, edit := range map[string]func(*Event){
		"no event name":            func(e *Event) { e.EventName = "" },
		"no time":                  func(e *Event) { e.EventTime = Timestamp{} },
		"bad event type":           func(e *Event) { e.EventType = "Other" },
		"parameters not an object": func(e *Event) { e.RequestParameters = json.RawMessage(`"x"`) },
		"parameters not JSON":      func(e *Event) { e.RequestParameters = json.RawMessage(`{`) },
		"too big, nothing to omit": func(e *Event) { e.UserAgent = strings.Repeat("x", MaxEventBytes) },
	} {
		ev := testEvent(0)
		edit(ev)
		if err := l.Record(context.Background(), ev); err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: Record = %v, want a refusal", name, err)
		}
	}
	if st := l.Stats(); st.Records != 0 {
		t.Errorf("%d records queued, want none", st.Records)
	}
}

// TestRecordOmitsOversizedFields: an event whose line would pass
// MaxEventBytes is recorded, not refused, with its largest caller-sized
// fields left out as CloudTrail leaves out a field past its maximum
// ({"omitted":true,…}); what is small stays.
func TestRecordOmitsOversizedFields(t *testing.T) {
	big := json.RawMessage(`{"policyDocument":"` + strings.Repeat(`\n`, MaxEventBytes/2) + `"}`)
	small := json.RawMessage(`{"user":{"userName":"bob"}}`)
	long := strings.Repeat("é", MaxEventBytes)
	omitted := func(raw json.RawMessage) string {
		return fmt.Sprintf(`{"omitted":true,"trentOmittedBytes":%d}`, len(raw))
	}
	for _, tc := range []struct {
		name                   string
		edit                   func(*Event)
		wantParams, wantElems  string
		wantMessagePrefix      string
		wantMessageBytesAtMost int
	}{
		{
			name:       "large requestParameters",
			edit:       func(e *Event) { e.RequestParameters, e.ResponseElements = big, small },
			wantParams: omitted(big), wantElems: string(small),
		},
		{
			name:       "large responseElements",
			edit:       func(e *Event) { e.RequestParameters, e.ResponseElements = small, big },
			wantParams: string(small), wantElems: omitted(big),
		},
		{
			name: "both large", // each alone passes the bound
			edit: func(e *Event) {
				half := json.RawMessage(`{"a":"` + strings.Repeat("x", MaxEventBytes) + `"}`)
				e.RequestParameters, e.ResponseElements = half, half
			},
			wantParams: omitted(json.RawMessage(`{"a":"` + strings.Repeat("x", MaxEventBytes) + `"}`)),
			wantElems:  omitted(json.RawMessage(`{"a":"` + strings.Repeat("x", MaxEventBytes) + `"}`)),
		},
		{
			name:       "long message set directly",
			edit:       func(e *Event) { e.RequestParameters = small; e.ErrorCode, e.ErrorMessage = "AccessDenied", long },
			wantParams: string(small), wantElems: "null",
			wantMessagePrefix: "éé", wantMessageBytesAtMost: MaxErrorMessageBytes,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{})
			ev := testEvent(0)
			tc.edit(ev)
			if err := l.Record(context.Background(), ev); err != nil {
				t.Fatalf("Record: %v", err)
			}
			closeLog(t, l)
			lines := logLines(t, dir)
			if len(lines) != 1 {
				t.Fatalf("%d lines, want 1", len(lines))
			}
			if len(lines[0]) > MaxEventBytes+512 {
				t.Errorf("line of %d bytes", len(lines[0]))
			}
			var got struct {
				RequestParameters json.RawMessage `json:"requestParameters"`
				ResponseElements  json.RawMessage `json:"responseElements"`
				ErrorMessage      string          `json:"errorMessage"`
				EventID           string          `json:"eventID"`
			}
			if err := json.Unmarshal(lines[0], &got); err != nil {
				t.Fatal(err)
			}
			if string(got.RequestParameters) != tc.wantParams {
				t.Errorf("requestParameters = %.200s, want %.200s", got.RequestParameters, tc.wantParams)
			}
			if string(got.ResponseElements) != tc.wantElems {
				t.Errorf("responseElements = %.200s, want %.200s", got.ResponseElements, tc.wantElems)
			}
			if got.EventID != ev.EventID {
				t.Errorf("eventID = %q, want %q", got.EventID, ev.EventID)
			}
			if tc.wantMessageBytesAtMost > 0 && (len(got.ErrorMessage) > tc.wantMessageBytesAtMost ||
				!strings.HasPrefix(got.ErrorMessage, tc.wantMessagePrefix) || !utf8.ValidString(got.ErrorMessage)) {
				t.Errorf("errorMessage of %d bytes: %.40q", len(got.ErrorMessage), got.ErrorMessage)
			}
			mustVerify(t, dir)
		})
	}
}

// TestSetErrorClipsMessage: SetError bounds the message at a character
// boundary and says it did.
func TestSetErrorClipsMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string
	}{
		{"short", "User: x is not authorized", "User: x is not authorized"},
		{"at the bound", strings.Repeat("a", MaxErrorMessageBytes), strings.Repeat("a", MaxErrorMessageBytes)},
		{"one past", strings.Repeat("a", MaxErrorMessageBytes+1), strings.Repeat("a", MaxErrorMessageBytes-3) + "..."},
		{"multibyte", strings.Repeat("€", MaxErrorMessageBytes), strings.Repeat("€", (MaxErrorMessageBytes-3)/3) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Event
			e.SetError("AccessDenied", tc.in)
			if e.ErrorMessage != tc.want || len(e.ErrorMessage) > MaxErrorMessageBytes || !utf8.ValidString(e.ErrorMessage) {
				t.Errorf("SetError(%d bytes) = %d bytes %.20q…, want %d bytes", len(tc.in), len(e.ErrorMessage), e.ErrorMessage, len(tc.want))
			}
		})
	}
}

// TestClosed: a closed log refuses.
func TestClosed(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	closeLog(t, l)
	if err := l.Record(context.Background(), testEvent(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close: %v", err)
	}
	if err := l.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestRun: Run performs nothing while the log is failing, records what
// perform returns, and refuses a request that yields no event.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	l := openLog(t, dir, Options{FS: fs})
	ran := 0
	perform := func() []*Event { ran++; return []*Event{testEvent(ran)} }
	if err := l.Run(context.Background(), perform); err != nil || ran != 1 {
		t.Fatalf("Run on a healthy log: %v, performed %d times", err, ran)
	}
	if err := l.Run(context.Background(), func() []*Event { return nil }); err == nil {
		t.Error("Run of a request that yields no event: no error")
	}
	fs.setFail(syscall.EIO)
	if err := l.Run(context.Background(), perform); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Run as the disk fails: %v", err)
	}
	if err := l.Run(context.Background(), perform); !errors.Is(err, ErrUnavailable) || ran != 2 {
		t.Fatalf("Run on a failing log: %v, performed %d times, want the request refused unperformed", err, ran)
	}
	fs.setFail(nil)
	waitFor(t, "recovery", l.Healthy)
	closeLog(t, l)
	if rep := mustVerify(t, dir); rep.Events != 2 {
		t.Errorf("%d events, want 2", rep.Events)
	}
}

// digestFailFS is a faultFS whose digest files cannot be created while
// failDigests is set: the events are written, the digest after them is not.
type digestFailFS struct {
	*faultFS
	failDigests atomic.Bool
	refused     atomic.Int64 // digests not created
}

func (fs *digestFailFS) Create(path string) (File, error) {
	if fs.failDigests.Load() && strings.Contains(filepath.Base(path), "digest-") {
		fs.refused.Add(1)
		return nil, errors.New("injected: digest not created")
	}
	return fs.faultFS.Create(path)
}

// TestWrittenBatchesNotRewritten: when the write of several pending
// batches succeeds but the rotation's digest after it fails, the retry
// writes the digest, not the batches again.
func TestWrittenBatchesNotRewritten(t *testing.T) {
	dir := t.TempDir()
	fs := &digestFailFS{faultFS: &faultFS{}}
	// Every write fills the file: each successful write rotates.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l := openLog(t, dir, Options{FS: fs, MaxFileBytes: 1, Logger: quiet})
	record(t, l, 0, 1)

	fs.setFail(errors.New("injected: disk full"))
	// The first batch fails; the second is queued behind it, as a batch
	// of its own: the writer took the first before answering it.
	for i := 1; i <= 2; i++ {
		if err := l.Record(context.Background(), testEvent(i)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Record %d on a failing disk: %v, want ErrUnavailable", i, err)
		}
	}
	fs.failDigests.Store(true)
	fs.setFail(nil)
	waitFor(t, "the digest after the batches to be tried three times", func() bool {
		return fs.refused.Load() >= 3
	})
	if q := l.Stats().Queued; q != 0 {
		t.Errorf("%d events queued after the batches were written, want 0", q)
	}
	fs.failDigests.Store(false)
	waitFor(t, "the log to be ready again", l.Healthy)
	closeLog(t, l)
	if rep := mustVerify(t, dir); rep.Events != 3 {
		t.Errorf("%d events, want 3: a written batch was written again", rep.Events)
	}
}

// parseLineCases are lines on which a shortcut past encoding/json could go
// wrong: names it folds, duplicates whose earlier value it also decodes,
// escapes, nesting, space, numbers it refuses.
func parseLineCases() [][]byte {
	h := strings.Repeat("ab", 32)
	return [][]byte{
		[]byte(`{"trentSeq":7,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"a":{"trentSeq":1},"trentSeq":7,"trentPrevHash":"` + h + `","trentNode":"n1"}`),
		[]byte(`{"TRENTSEQ":7,"trentprevhash":"` + h + `"}`),
		[]byte(`{"trentSeq":"x","trentSeq":7,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":7,"trentSeq":8,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trent\u0053eq":7,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentſeq":7,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":7,"trentPrevHash":"` + h + `"} `),
		[]byte(` {"trentSeq":7,"trentPrevHash":"` + h + `"}`),
		[]byte(`{ "trentSeq" : 7 , "trentPrevHash" : "` + h + `" }`),
		[]byte(`{"trentSeq":7,"trentPrevHash":"` + h + `"}x`),
		[]byte(`{"trentSeq":7.0,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":-7,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":7e0,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":18446744073709551615,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":18446744073709551616,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":0,"trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":7,"trentPrevHash":"` + strings.ToUpper(h) + `"}`),
		[]byte(`{"trentSeq":7,"trentPrevHash":"\u0061` + h[1:] + `"}`),
		[]byte(`{"trentSeq":7,"trentPrevHash":null}`),
		[]byte(`{"trentSeq":7,"trentPrevHash":"` + h + `","trentPrevHash":"` + h + `"}`),
		[]byte(`{"trentSeq":7}`),
		[]byte(`{"trentSeq":7,"trentPrevHash":"` + h + `",}`),
		[]byte(`{"x":"\ud800","trentSeq":7,"trentPrevHash":"` + h + `"}`),
		[]byte("{\"x\":\"\xff\",\"trentSeq\":7,\"trentPrevHash\":\"" + h + "\"}"),
	}
}

// TestParseLineAnswersAsEncodingJSON: the fast path never answers where
// encoding/json would answer otherwise, and it does answer for the lines
// Trent writes.
func TestParseLineAnswersAsEncodingJSON(t *testing.T) {
	for _, line := range parseLineCases() {
		got, err := parseLine(line)
		want, wantErr := parseLineJSON(line)
		if (err == nil) != (wantErr == nil) || got != want {
			t.Errorf("parseLine(%s) = %+v, %v; encoding/json: %+v, %v", line, got, err, want, wantErr)
		}
	}
	for _, p := range eventFiles(t, closedLog(t, 3)) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines, _ := splitLines(data)
		for _, ln := range lines {
			if _, ok := lineFieldsFast(ln[:len(ln)-1]); !ok {
				t.Errorf("the fast path passes over a line Trent wrote: %s", ln)
			}
		}
	}
}
