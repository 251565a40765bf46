package audit

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/durable"
	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// TestArchive: the older part of a log moves to another directory; the two
// together verify as the whole log, before and after the log grows on; the
// log's directory alone fails at its first digest, as a deleted beginning
// must; an interrupted move is named and finished by the next run.
func TestArchive(t *testing.T) {
	dir, to := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	pub := testSigner.Public()
	threeRuns(t, dir)
	whole := mustVerify(t, dir)
	digests := len(digestFiles(t, dir))

	if rep, err := Archive(dir, to, time.Now().Add(-time.Hour)); err != nil || rep.Digests != 0 {
		t.Fatalf("Archive of what is older than an hour: %+v %v, want nothing moved", rep, err)
	}
	// An index beside every event file (their content does not matter
	// here): the moved files' go, the others' stay.
	for _, f := range eventFiles(t, dir) {
		if err := os.WriteFile(filepath.Join(dir, indexFileName(filepath.Base(f))), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Archive(dir, to, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Digests != digests-1 || rep.EventFiles == 0 || rep.Through == 0 {
		t.Fatalf("Archive moved %+v; want every digest but the newest of %d, and event files", rep, digests)
	}
	if first, ok, err := firstLineSeq(eventFiles(t, dir)[0]); err != nil || !ok || first != rep.Through+1 {
		t.Fatalf("the log's directory starts at event %d (%v), want the one after the %d moved", first, err, rep.Through)
	}
	if left := digestFiles(t, dir); len(left) != 1 {
		t.Fatalf("%d digests left in the log's directory, want the newest", len(left))
	}
	moved := eventFiles(t, to)
	if len(moved) != rep.EventFiles {
		t.Fatalf("%d event files in the archive, Archive says it moved %d", len(moved), rep.EventFiles)
	}
	for _, f := range moved {
		if _, err := os.Stat(filepath.Join(dir, indexFileName(filepath.Base(f)))); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the lookup index of %s, which moved, is still in the log's directory (%v)", filepath.Base(f), err)
		}
	}
	for _, f := range eventFiles(t, dir) {
		if _, err := os.Stat(filepath.Join(dir, indexFileName(filepath.Base(f)))); err != nil {
			t.Fatalf("the lookup index of %s, which stayed, is gone: %v", filepath.Base(f), err)
		}
	}
	if _, err := Verify(dir, pub); err == nil || !strings.Contains(err.Error(), "the digests before it were removed") {
		t.Fatalf("Verify of the log's directory alone = %v, want its beginning named as removed", err)
	}
	got, err := Verify(dir, pub, to)
	if err != nil {
		t.Fatalf("Verify with the archive: %v", err)
	}
	if got.Events != whole.Events || got.Digests != whole.Digests || got.Files != whole.Files {
		t.Fatalf("Verify with the archive reports %+v, the log before archiving %+v", got, whole)
	}

	// The log goes on, and is archived again.
	l := openLog(t, dir, Options{MaxFileBytes: 2500})
	record(t, l, 42, 14)
	closeLog(t, l)
	if got, err := Verify(dir, pub, to); err != nil || got.Events != whole.Events+14 {
		t.Fatalf("Verify after the log went on: %+v %v", got, err)
	}
	if rep, err := Archive(dir, to, time.Now().Add(time.Hour)); err != nil || rep.Digests == 0 || rep.Through <= uint64(whole.Events) {
		t.Fatalf("the second Archive: %+v %v", rep, err)
	}
	// The log's directory names its archive, once: Open looks there for
	// the events of a restored store's intents.
	if dirs, err := archiveDirs(dir, ""); err != nil || len(dirs) != 1 || dirs[0] != to {
		t.Fatalf("%s names %q (%v), want the archive %s once", ArchivedToFile, dirs, err, to)
	}

	// A move cut short by a crash: a file copied into the archive and not
	// yet removed from the log's directory.
	l = openLog(t, dir, Options{MaxFileBytes: 2500})
	record(t, l, 56, 14)
	closeLog(t, l)
	first := eventFiles(t, dir)[0]
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, filepath.Base(first)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(dir, pub, to); err == nil || !strings.Contains(err.Error(), "is both in") {
		t.Fatalf("Verify with a file in both places = %v, want it named", err)
	}
	if _, err := Archive(dir, to, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Archive after an interrupted move: %v", err)
	}
	if got, err := Verify(dir, pub, to); err != nil || got.Events != whole.Events+28 {
		t.Fatalf("Verify after the interrupted move was finished: %+v %v", got, err)
	}

	// A different file under the same name in the archive is not overwritten.
	l = openLog(t, dir, Options{MaxFileBytes: 2500})
	record(t, l, 70, 14)
	closeLog(t, l)
	first = eventFiles(t, dir)[0]
	if err := os.WriteFile(filepath.Join(to, filepath.Base(first)), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Archive(dir, to, time.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "already holds a different") {
		t.Fatalf("Archive over a different file = %v", err)
	}
	if _, err := os.Stat(first); err != nil {
		t.Fatalf("the file was removed though not archived: %v", err)
	}

	// The archive may not be the log's directory or inside it, however it
	// is spelled: through a link, each file would be found "already
	// copied" and removed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{dir, filepath.Join(dir, "old"), link, filepath.Join(link, "old")} {
		if _, err := Archive(dir, bad, time.Now().Add(time.Hour)); err == nil {
			t.Errorf("Archive to %s accepted", bad)
		}
	}
}

// TestArchiveThrough: a node that ships its events into PostgreSQL moves
// no event its shipper has not copied yet. For each bound, what moves is
// the most Archive would move whose events all lie at or before it, and
// the two directories still verify as the whole log.
func TestArchiveThrough(t *testing.T) {
	src := t.TempDir()
	threeRuns(t, src)
	whole := mustVerify(t, src)
	var heads []uint64 // of every digest but the newest, oldest first
	ds := digestFiles(t, src)
	for _, p := range ds[:len(ds)-1] {
		d, err := readDigest(p)
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, d.Head.EventSeq)
	}
	all, err := Archive(copyLog(t, src), filepath.Join(t.TempDir(), "a"), time.Now().Add(time.Hour))
	if err != nil || all.EventFiles == 0 {
		t.Fatalf("Archive of the whole copy: %+v %v, want event files moved", all, err)
	}
	bounds := []uint64{0, 1, all.Through - 1, all.Through, all.Through + 1, math.MaxUint64}
	for _, h := range heads {
		bounds = append(bounds, h-1, h, h+1)
	}
	for _, through := range bounds {
		dir, to := copyLog(t, src), filepath.Join(t.TempDir(), "archive")
		rep, err := ArchiveThrough(context.Background(), dir, to, time.Now().Add(time.Hour), through)
		if err != nil {
			t.Fatalf("through %d: %v", through, err)
		}
		// The newest digest whose head is at or before the bound: it is
		// the boundary, or none is and nothing moves.
		want := -1
		for i, h := range heads {
			if h <= through {
				want = i
			}
		}
		if want < 0 {
			if rep.Digests != 0 || rep.EventFiles != 0 {
				t.Fatalf("through %d: moved %+v, want nothing: no digest's head is that early", through, rep)
			}
			continue
		}
		if rep.Digests != want+1 || rep.Boundary != filepath.Base(ds[want]) {
			t.Fatalf("through %d: moved %d digests up to %s, want %d up to %s", through, rep.Digests, rep.Boundary, want+1, filepath.Base(ds[want]))
		}
		var last uint64
		for _, ln := range logLines(t, to) {
			lf, err := parseLine(ln[:len(ln)-1])
			if err != nil {
				t.Fatal(err)
			}
			last = max(last, lf.Seq)
		}
		if last > through || last != rep.Through {
			t.Fatalf("through %d: the archive holds events through %d, the report says %d", through, last, rep.Through)
		}
		if rep.EventFiles > 0 {
			if got, err := Verify(dir, testSigner.Public(), to); err != nil || got.Events != whole.Events {
				t.Fatalf("through %d: Verify with the archive: %+v %v, want %d events", through, got, err, whole.Events)
			}
		}
	}
}

// copyLog copies the log in src to a new directory and returns it.
func copyLog(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestSameBytes(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*compareChunk/16+5)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	for _, tc := range []struct {
		name string
		a, b []byte
		want bool
	}{
		{"both empty", nil, nil, true},
		{"one empty", nil, []byte("x"), false},
		{"equal, short", []byte("line\n"), []byte("line\n"), true},
		{"equal, several chunks", big, bytes.Clone(big), true},
		{"one a prefix of the other", big[:2*compareChunk], big, false},
		{"a prefix at a chunk's end", big[:compareChunk], big[:compareChunk+1], false},
		{"differ in the last byte", big, flip(big, len(big)-1), false},
		{"differ at a chunk boundary", big, flip(big, compareChunk), false},
	} {
		for _, wrap := range []func([]byte) io.Reader{
			func(b []byte) io.Reader { return bytes.NewReader(b) },
			func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		} {
			got, err := sameBytes(wrap(tc.a), wrap(tc.b))
			if err != nil || got != tc.want {
				t.Errorf("%s: sameBytes = %v, %v; want %v", tc.name, got, err, tc.want)
			}
		}
	}
	if _, err := sameBytes(iotest.ErrReader(errors.New("disk")), bytes.NewReader(nil)); err == nil {
		t.Error("sameBytes with a failing reader: no error")
	}
}

// threeRuns writes in dir the log of three runs of a server, each of 14
// events in small files and closed with a digest: enough digests and
// files for Archive to move some and keep some.
func threeRuns(t *testing.T, dir string) {
	t.Helper()
	for run := range 3 {
		l := openLog(t, dir, Options{MaxFileBytes: 2500})
		record(t, l, run*14, 14)
		closeLog(t, l)
	}
}

// TestArchiveCancelled: an archive stopped by its context (a seal, a
// stopping server) stops as a crash would, and the next run finishes the
// move: the two directories verify as the whole log.
func TestArchiveCancelled(t *testing.T) {
	dir, to := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	threeRuns(t, dir)
	whole := mustVerify(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ArchiveThrough(ctx, dir, to, time.Now().Add(time.Hour), math.MaxUint64); !errors.Is(err, context.Canceled) {
		t.Fatalf("ArchiveThrough with its context cancelled: %v, want context.Canceled", err)
	}
	if left := eventFiles(t, dir); len(left) != whole.Files {
		t.Fatalf("%d event files left of %d after a cancelled archive, want all", len(left), whole.Files)
	}
	if rep, err := Archive(dir, to, time.Now().Add(time.Hour)); err != nil || rep.EventFiles == 0 {
		t.Fatalf("Archive after a cancelled one: %+v %v", rep, err)
	}
	if got, err := Verify(dir, testSigner.Public(), to); err != nil || got.Events != whole.Events {
		t.Fatalf("Verify with the archive: %+v %v, want %d events", got, err, whole.Events)
	}
}

// TestArchiveConcurrent: two archivers of one log at once (cron's trent
// audit archive beside serve --audit-archive-to) both finish without an
// error, between them move what one would, leave no temporary file, and
// the two directories verify as the whole log. What an interrupted
// archive left in the archive is removed.
func TestArchiveConcurrent(t *testing.T) {
	for iter := range 2 {
		dir, to := t.TempDir(), filepath.Join(t.TempDir(), "archive")
		for run := range 3 {
			l := openLog(t, dir, Options{MaxFileBytes: 256 << 10, Logger: slog.New(slog.DiscardHandler)})
			record(t, l, run*600, 600)
			closeLog(t, l)
		}
		whole := mustVerify(t, dir)
		if err := os.MkdirAll(to, 0o700); err != nil {
			t.Fatal(err)
		}
		stale := filepath.Join(to, "."+filepath.Base(eventFiles(t, dir)[0])+".123456.tmp")
		if err := os.WriteFile(stale, []byte("half a copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		reps := make(chan ArchiveReport, 2)
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				rep, err := Archive(dir, to, time.Now().Add(time.Hour))
				reps <- rep
				errs <- err
			}()
		}
		moved := 0
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("iteration %d: Archive: %v", iter, err)
			}
			moved += (<-reps).EventFiles
		}
		if moved == 0 || moved != len(eventFiles(t, to)) {
			t.Errorf("iteration %d: the archivers say they moved %d event files; the archive holds %d", iter, moved, len(eventFiles(t, to)))
		}
		for _, e := range testfiles.ReadDir(t, to) {
			if durable.IsTemp(e.Name()) {
				t.Errorf("iteration %d: %s left in the archive", iter, e.Name())
			}
		}
		if got, err := Verify(dir, testSigner.Public(), to); err != nil || got.Events != whole.Events {
			t.Fatalf("iteration %d: Verify with the archive: %+v %v, want %d events", iter, got, err, whole.Events)
		}
	}
}

// TestArchiveWaitsForAnother: an archive of a log waits while another
// archiver of it holds the lock, and gives up when its context ends.
func TestArchiveWaitsForAnother(t *testing.T) {
	dir, to := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	threeRuns(t, dir)
	unlock, err := lockArchive(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if again, err := lockArchive(ctx, dir); err == nil {
		again()
		unlock()
		t.Skip("no advisory locks here")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second lock while the first is held: %v, want it to wait until its context ends", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Archive(dir, to, time.Now().Add(time.Hour))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Archive finished (%v) while another archiver held the lock", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := os.Stat(to); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Archive made the archive directory while another archiver held the lock (%v)", err)
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("Archive once the lock was released: %v", err)
	}
	if len(eventFiles(t, to)) == 0 {
		t.Fatal("Archive moved nothing once the lock was released")
	}
}

// TestArchiveIntoAnotherLogsArchive: an archive directory that holds
// another log's files is refused, and nothing moves: moved in, the
// second log's files would sit beside the first's, two of each number,
// and neither would verify with the archive. The same log archived
// into it again is taken.
func TestArchiveIntoAnotherLogsArchive(t *testing.T) {
	other, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	runs := func(t *testing.T, dir string, signer crypto.Signer, node string, from int, clk clock.Clock) {
		t.Helper()
		if node != "" {
			if err := os.WriteFile(filepath.Join(dir, NodeIDFile), []byte(node+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for run := range 3 {
			l, err := Open(Options{Dir: dir, Signer: signer, MaxFileBytes: 2500, Clock: clk, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			record(t, l, from+run*14, 14)
			closeLog(t, l)
		}
	}
	const nodeA, nodeB = "n-00000000000000aa", "n-00000000000000bb"
	for _, c := range []struct {
		name          string
		first, second string // node ids of the two logs; "" for none
		signer        crypto.Signer
		sameLog       bool   // the second archive is of the first log, grown
		want          string // in the refusal; "" to take it
	}{
		{name: "another installation's key", signer: other, want: "another log's public key"},
		{name: "another node", first: nodeA, second: nodeB, signer: testSigner, want: "another log's node id"},
		{name: "a node's archive, a log of no node", first: nodeA, signer: testSigner, want: "another log's node id"},
		{name: "a new log under the same key", signer: testSigner, want: "another log's files"},
		{name: "the same log, grown", first: nodeA, second: nodeA, signer: testSigner, sameLog: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dirA, to := t.TempDir(), filepath.Join(t.TempDir(), "archive")
			runs(t, dirA, testSigner, c.first, 0, nil)
			if rep, err := Archive(dirA, to, time.Now().Add(time.Hour)); err != nil || rep.EventFiles == 0 {
				t.Fatalf("the first log's Archive: %+v, %v", rep, err)
			}
			dirB := t.TempDir()
			if c.sameLog {
				dirB = dirA
				runs(t, dirB, c.signer, "", 100, nil) // its node id is there already
			} else {
				// Started later: its files' names differ from the first's
				// but for their numbers.
				runs(t, dirB, c.signer, c.second, 0, clock.NewFake(time.Now().Add(2*time.Minute)))
			}
			before := eventFiles(t, dirB)
			_, err := Archive(dirB, to, time.Now().Add(time.Hour))
			if c.want == "" {
				if err != nil {
					t.Fatalf("Archive of the same log into its archive: %v", err)
				}
				if _, err := Verify(dirA, testSigner.Public(), to); err != nil {
					t.Fatalf("Verify with the archive: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "new directory") {
				t.Fatalf("Archive into another log's archive = %v, want a refusal naming %q", err, c.want)
			}
			if after := eventFiles(t, dirB); len(after) != len(before) {
				t.Errorf("the refused Archive moved %d of %d event files", len(before)-len(after), len(before))
			}
			if _, err := Verify(dirA, testSigner.Public(), to); err != nil {
				t.Errorf("the first log with its archive after the refusal: %v", err)
			}
		})
	}
}
