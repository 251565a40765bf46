package audit

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/ids"
)

const (
	testAccount = "111122223333"
	otherAcct   = "444455556666"
	testKeyARN  = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// testSigner is one key for the whole test binary: generating P-384 keys
// is cheap, but tests that compare keys want them stable.
var testSigner = func() crypto.Signer {
	s, err := GenerateSigningKey()
	if err != nil {
		panic(err)
	}
	return s
}()

// testEvent is an Encrypt by an IAM user; n goes into its encryption
// context so that lines differ.
func testEvent(n int) *Event {
	ev := NewAPICall(time.Date(2026, 12, 6, 10, 13, 12, 0, time.UTC).Add(time.Duration(n)*time.Second), SourceKMS, "Encrypt", false)
	ev.UserIdentity = UserIdentity{
		Type: "IAMUser", PrincipalID: "AIDAEXAMPLEUSER00001", ARN: "arn:aws:iam::111122223333:user/alice",
		AccountID: testAccount, AccessKeyID: "AKIAEXAMPLEKEY000001", UserName: "alice",
	}
	ev.AWSRegion = "us-east-1"
	ev.SourceIPAddress = "192.0.2.10"
	ev.UserAgent = "aws-sdk-go-v2/1.0"
	ev.RequestParameters = json.RawMessage(fmt.Sprintf(`{"keyId":"alias/app","encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"n":"%d"}}`, n))
	ev.RequestID = ids.NewUUID()
	ev.RecipientAccountID = testAccount
	ev.AddKey(testKeyARN)
	return ev
}

// openLog opens a log in dir with the test signer and o's other options.
func openLog(t testing.TB, dir string, o Options) *Log {
	t.Helper()
	o.Dir, o.Signer = dir, testSigner
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	l, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// Closing twice is harmless; this one covers tests that stop early.
	t.Cleanup(func() { l.Close() })
	return l
}

func record(t testing.TB, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Record(context.Background(), testEvent(i)); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
}

func closeLog(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// closedLog is the directory of a log that recorded n events and was
// closed: the seed material of the fuzz targets that read log files.
func closedLog(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	record(t, l, 0, n)
	closeLog(t, l)
	return dir
}

func mustVerify(t testing.TB, dir string) Report {
	t.Helper()
	rep, err := Verify(dir, testSigner.Public())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

// eventFiles returns the event files of dir in order.
func eventFiles(t testing.TB, dir string) []string {
	t.Helper()
	ls, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range ls.events {
		out = append(out, filepath.Join(dir, f.name))
	}
	return out
}

func digestFiles(t testing.TB, dir string) []string {
	t.Helper()
	ls, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range ls.digests {
		out = append(out, filepath.Join(dir, f.name))
	}
	return out
}

// allLines returns every event line in dir, in order.
func allLines(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, f := range eventFiles(t, dir) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.SplitAfter(string(data), "\n")...)
		if out[len(out)-1] == "" {
			out = out[:len(out)-1]
		}
	}
	return out
}

// waitFor polls cond for up to 10 s: recovery happens on the writer's
// retry schedule, which a test can only watch.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// faultFS is the real file system with faults a test switches on: writes
// and fsyncs that fail, writes that block, and a count of event-file
// fsyncs.
type faultFS struct {
	OS
	mu      sync.Mutex
	fail    error         // returned by writes, fsyncs, creates while set
	block   chan struct{} // while non-nil, writes wait for it to close
	blocked chan struct{} // receives once per write that starts waiting
	syncs   atomic.Int64  // fsyncs of event files
	hook    func()        // runs before each event-file fsync
	open    map[string]*faultFile
}

func (fs *faultFS) setFail(err error) {
	fs.mu.Lock()
	fs.fail = err
	fs.mu.Unlock()
}

// hold makes writes wait until release.
func (fs *faultFS) hold() {
	fs.mu.Lock()
	fs.block = make(chan struct{})
	fs.mu.Unlock()
}

// release lets the held writes go on, and the next ones through.
func (fs *faultFS) release() {
	fs.mu.Lock()
	block := fs.block
	fs.block = nil
	fs.mu.Unlock()
	close(block)
}

func (fs *faultFS) state() (block chan struct{}, err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.block, fs.fail
}

func (fs *faultFS) Create(path string) (File, error) {
	if _, err := fs.state(); err != nil {
		return nil, err
	}
	f, err := fs.OS.Create(path)
	if err != nil {
		return nil, err
	}
	ff := &faultFile{File: f, fs: fs}
	ff.events.Store(strings.HasSuffix(path, ".jsonl"))
	fs.mu.Lock()
	if fs.open == nil {
		fs.open = map[string]*faultFile{}
	}
	fs.open[path] = ff
	fs.mu.Unlock()
	return ff, nil
}

func (fs *faultFS) SyncDir(dir string) error {
	if _, err := fs.state(); err != nil {
		return err
	}
	return fs.OS.SyncDir(dir)
}

func (fs *faultFS) Rename(a, b string) error {
	if _, err := fs.state(); err != nil {
		return err
	}
	if err := fs.OS.Rename(a, b); err != nil {
		return err
	}
	// A preallocated segment becomes an event file when it is renamed.
	fs.mu.Lock()
	if ff := fs.open[a]; ff != nil {
		delete(fs.open, a)
		fs.open[b] = ff
		ff.events.Store(strings.HasSuffix(b, ".jsonl"))
	}
	fs.mu.Unlock()
	return nil
}

type faultFile struct {
	File
	fs     *faultFS
	events atomic.Bool
}

// Seek lets the log preallocate segments on a faultFS too.
func (f *faultFile) Seek(off int64, whence int) (int64, error) {
	return f.File.(io.Seeker).Seek(off, whence)
}

// Write fails as a full disk does: part of the data is written, then the
// error.
func (f *faultFile) Write(p []byte) (int, error) {
	if block, _ := f.fs.state(); block != nil {
		if f.fs.blocked != nil {
			f.fs.blocked <- struct{}{}
		}
		<-block
	}
	if _, err := f.fs.state(); err != nil {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, err
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	if f.events.Load() {
		f.fs.syncs.Add(1)
		if f.fs.hook != nil {
			f.fs.hook()
		}
	}
	if _, err := f.fs.state(); err != nil {
		return err
	}
	return f.File.Sync()
}

// logLines returns the lines of the event files in dir, in the log's
// order, each with its newline.
func logLines(t testing.TB, dir string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range eventFiles(t, dir) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines, _ := splitLines(data)
		out = append(out, lines...)
	}
	return out
}
