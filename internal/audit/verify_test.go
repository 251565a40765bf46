package audit

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// fixture is a log of 16 events in 4 files, with 4 digests, made once:
// two runs of 8 events each, files cut at 5000 bytes (five events).
var (
	fixtureOnce sync.Once
	fixtureDir  string
)

func fixture(t *testing.T) string {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "trent-audit-fixture-")
		if err != nil {
			t.Fatal(err)
		}
		for run := range 2 {
			l, err := Open(Options{Dir: dir, Signer: testSigner, MaxFileBytes: 5000})
			if err != nil {
				t.Fatal(err)
			}
			record(t, l, run*8, 8)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		fixtureDir = dir
	})
	if fixtureDir == "" {
		t.Fatal("no fixture")
	}
	dir := t.TempDir()
	testfiles.CopyDir(t, fixtureDir, dir)
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// logFiles gives a tamper function the fixture's files by position.
type logFiles struct {
	t       *testing.T
	dir     string
	events  []string // paths, in order
	digests []string
}

func (f *logFiles) lines(i int) [][]byte {
	data, err := os.ReadFile(f.events[i])
	if err != nil {
		f.t.Fatal(err)
	}
	lines, torn := splitLines(data)
	if len(torn) > 0 {
		f.t.Fatalf("fixture file %d is torn", i)
	}
	return lines
}

func (f *logFiles) write(i int, lines [][]byte) {
	if err := os.WriteFile(f.events[i], bytes.Join(lines, nil), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *logFiles) name(i int) string { return filepath.Base(f.events[i]) }
func (f *logFiles) digest(i int) string {
	return filepath.Base(f.digests[i])
}

// forge makes a new event line that links correctly to prev, as someone
// who knows the format (it is public) would.
func forge(base []byte, seq uint64, prev []byte) []byte {
	body := cloudTrailJSON(bytes.TrimSuffix(base, []byte("\n")))
	body = bytes.Replace(body, []byte(`"eventName":"Encrypt"`), []byte(`"eventName":"Decrypt"`), 1)
	p := sha256.Sum256(prev)
	line, _ := appendLine(nil, body, seq, &p)
	return line
}

// resign replaces digest i's signature by one from key, after setting its
// key fingerprint to fp ("" keeps it).
func resign(t *testing.T, path string, key crypto.Signer, fp string) {
	t.Helper()
	d, err := readDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	payload := d.payload
	if fp != "" {
		d.PublicKeySHA256 = fp
		if payload, err = json.Marshal(d.Digest); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := signDigest(key, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, encodeDigest(payload, sig), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyIntactLog(t *testing.T) {
	dir := fixture(t)
	rep := mustVerify(t, dir)
	if rep.Events != 16 || rep.Digests != 4 || rep.Files != 4 || rep.Uncovered != 0 || rep.Torn != nil {
		t.Fatalf("report %+v, want 16 events, 4 digests, 4 files, all covered", rep)
	}
}

// TestVerifyNamesTampering: each way of changing the files is caught,
// and the problem names the file and line (or digest) where it happened.
func TestVerifyNamesTampering(t *testing.T) {
	other, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	otherFP, _ := Fingerprint(other.Public())
	for _, tc := range []struct {
		name   string
		tamper func(f *logFiles)
		file   func(f *logFiles) string
		line   int
		msg    string
	}{
		{
			name: "one byte edited in an event",
			tamper: func(f *logFiles) {
				ls := f.lines(0)
				ls[2] = bytes.Replace(ls[2], []byte(`"n":"2"`), []byte(`"n":"X"`), 1)
				f.write(0, ls)
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 3, msg: "edited: its hash does not match the link in the next line",
		},
		{
			name: "one byte edited in a link",
			tamper: func(f *logFiles) {
				ls := f.lines(0)
				i := bytes.Index(ls[2], []byte(`"trentPrevHash":"`)) + len(`"trentPrevHash":"`)
				ls[2][i] = "01"[boolInt(ls[2][i] == '0')]
				f.write(0, ls)
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 3, msg: "edited: its own link",
		},
		{
			name: "one byte edited in a file's last event",
			tamper: func(f *logFiles) {
				ls := f.lines(0)
				k := len(ls) - 1
				ls[k] = bytes.Replace(ls[k], []byte(`alice`), []byte(`alicf`), 1)
				f.write(0, ls)
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 5, msg: "edited: its hash does not match",
		},
		{
			name: "one byte edited in the log's last event",
			tamper: func(f *logFiles) {
				ls := f.lines(3)
				k := len(ls) - 1
				ls[k] = bytes.Replace(ls[k], []byte(`192.0.2.10`), []byte(`192.0.2.11`), 1)
				f.write(3, ls)
			},
			file: func(f *logFiles) string { return f.name(3) }, line: 3, msg: "hash does not match digest",
		},
		{
			name: "one byte edited into broken JSON",
			tamper: func(f *logFiles) {
				ls := f.lines(1)
				ls[1][0] = '['
				f.write(1, ls)
			},
			file: func(f *logFiles) string { return f.name(1) }, line: 2, msg: "not an event line",
		},
		{
			name: "one line deleted",
			tamper: func(f *logFiles) {
				ls := f.lines(0)
				f.write(0, append(ls[:2], ls[3:]...))
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 3, msg: "1 line(s) deleted before it: events 3 to 3 are missing",
		},
		{
			name: "a file's first line deleted",
			tamper: func(f *logFiles) {
				f.write(2, f.lines(2)[1:])
			},
			file: func(f *logFiles) string { return f.name(2) }, line: 1, msg: "1 line(s) deleted before it: events 9 to 9 are missing",
		},
		{
			name: "a whole file deleted",
			tamper: func(f *logFiles) {
				if err := os.Remove(f.events[1]); err != nil {
					t.Fatal(err)
				}
			},
			file: func(f *logFiles) string { return f.name(2) }, line: 1, msg: "3 line(s) deleted before it: events 6 to 8 are missing",
		},
		{
			name: "one forged line inserted",
			tamper: func(f *logFiles) {
				ls := f.lines(0)
				forged := forge(ls[1], 3, ls[1])
				f.write(0, append(ls[:2], append([][]byte{forged}, ls[2:]...)...))
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 3, msg: "inserted: this line is not in the chain (line 4 links past it to line 2)",
		},
		{
			name: "three forged lines inserted",
			tamper: func(f *logFiles) {
				ls := f.lines(0)
				a := forge(ls[1], 3, ls[1])
				b := forge(ls[1], 4, a)
				c := forge(ls[1], 5, b)
				f.write(0, append(ls[:2], append([][]byte{a, b, c}, ls[2:]...)...))
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 3, msg: "inserted: 3 lines from here through line 5 are not in the chain (line 6 links past them to line 2)",
		},
		{
			name: "one line duplicated",
			tamper: func(f *logFiles) {
				ls := f.lines(0)
				f.write(0, append(ls[:2], append([][]byte{bytes.Clone(ls[1])}, ls[2:]...)...))
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 2, msg: "inserted: this line is not in the chain",
		},
		{
			name: "two lines swapped",
			tamper: func(f *logFiles) {
				ls := f.lines(0)
				ls[2], ls[3] = ls[3], ls[2]
				f.write(0, ls)
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 3, msg: "out of order",
		},
		{
			name: "two lines swapped across files",
			tamper: func(f *logFiles) {
				a, b := f.lines(0), f.lines(1)
				a[4], b[0] = b[0], a[4]
				f.write(0, a)
				f.write(1, b)
			},
			file: func(f *logFiles) string { return f.name(0) }, line: 5, msg: "out of order",
		},
		{
			name: "tail truncated",
			tamper: func(f *logFiles) {
				f.write(3, f.lines(3)[:1])
			},
			file: func(f *logFiles) string { return f.name(3) }, msg: "truncated: digest",
		},
		{
			name: "tail truncated mid-line",
			tamper: func(f *logFiles) {
				fi, _ := os.Stat(f.events[3])
				if err := os.Truncate(f.events[3], fi.Size()-40); err != nil {
					t.Fatal(err)
				}
			},
			file: func(f *logFiles) string { return f.name(3) }, msg: "truncated: digest",
		},
		{
			// A preallocated file's unwritten space is zeros: a tail cut
			// and replaced by zeros is a truncation, not unwritten space.
			name: "tail replaced by zeros",
			tamper: func(f *logFiles) {
				lines := f.lines(3)
				n := len(lines[len(lines)-1])
				f.write(3, append(lines[:len(lines)-1], make([]byte, n)))
			},
			file: func(f *logFiles) string { return f.name(3) }, msg: "truncated: digest",
		},
		{
			name: "zeros after the lines of a file that is not the newest",
			tamper: func(f *logFiles) {
				f.write(1, append(f.lines(1), make([]byte, 4096)))
			},
			file: func(f *logFiles) string { return f.name(1) }, msg: "ends with zero bytes",
		},
		{
			name: "newest file deleted",
			tamper: func(f *logFiles) {
				if err := os.Remove(f.events[3]); err != nil {
					t.Fatal(err)
				}
			},
			file: func(f *logFiles) string { return f.name(3) }, msg: "missing, though digest",
		},
		{
			name: "digest edited",
			tamper: func(f *logFiles) {
				editFile(t, f.digests[1], func(b []byte) []byte { return bytes.Replace(b, []byte(`"eventCount":3`), []byte(`"eventCount":2`), 1) })
			},
			file: func(f *logFiles) string { return f.digest(1) }, msg: "signature does not verify",
		},
		{
			name: "digest replaced by one signed by another key",
			tamper: func(f *logFiles) {
				resign(t, f.digests[1], other, otherFP)
			},
			file: func(f *logFiles) string { return f.digest(1) }, msg: "signed by another key",
		},
		{
			name: "digest signed by another key that claims ours",
			tamper: func(f *logFiles) {
				resign(t, f.digests[1], other, "")
			},
			file: func(f *logFiles) string { return f.digest(1) }, msg: "signature does not verify",
		},
		{
			name: "digest replaced by an older one",
			tamper: func(f *logFiles) {
				old, _ := os.ReadFile(f.digests[1])
				if err := os.WriteFile(f.digests[2], old, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			file: func(f *logFiles) string { return f.digest(2) }, msg: "signed as digest 2 but named as digest 3",
		},
		{
			name: "digest removed",
			tamper: func(f *logFiles) {
				if err := os.Remove(f.digests[1]); err != nil {
					t.Fatal(err)
				}
			},
			file: func(f *logFiles) string { return f.digest(2) }, msg: "digest 3 follows digest 1",
		},
		{
			name: "first digest removed",
			tamper: func(f *logFiles) {
				if err := os.Remove(f.digests[0]); err != nil {
					t.Fatal(err)
				}
			},
			file: func(f *logFiles) string { return f.digest(1) }, msg: "the digests before it were removed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			f := &logFiles{t: t, dir: dir, events: eventFiles(t, dir), digests: digestFiles(t, dir)}
			if len(f.events) != 4 || len(f.digests) != 4 {
				t.Fatalf("fixture has %d files and %d digests, want 4 and 4", len(f.events), len(f.digests))
			}
			wantFile := tc.file(f)
			tc.tamper(f)
			_, err := Verify(dir, testSigner.Public())
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("Verify = %v, want a *Problem", err)
			}
			t.Log(err)
			if p.File != wantFile || p.Line != tc.line || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("Verify: %v\nwant %s line %d: …%s…", err, wantFile, tc.line, tc.msg)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestVerifyNewestDigestRemoved: removing the newest digest cannot be told
// from a crash before it was written; Verify passes but reports the
// events it no longer sees covered.
func TestVerifyNewestDigestRemoved(t *testing.T) {
	dir := fixture(t)
	ds := digestFiles(t, dir)
	if err := os.Remove(ds[len(ds)-1]); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir)
	if rep.Uncovered != 3 {
		t.Errorf("%d events reported uncovered, want the 3 the removed digest covered", rep.Uncovered)
	}
}

// TestVerifyAnotherKey: checked against a key that did not sign the log,
// Verify fails at the first digest.
func TestVerifyAnotherKey(t *testing.T) {
	dir := fixture(t)
	other, _ := GenerateSigningKey()
	_, err := Verify(dir, other.Public())
	var p *Problem
	if !errors.As(err, &p) || p.File != filepath.Base(digestFiles(t, dir)[0]) || !strings.Contains(p.Msg, "signed by another key") {
		t.Errorf("Verify with another key: %v", err)
	}
}
