package audit

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// FuzzParseLine feeds the event-line parser Verify and Open use with
// arbitrary bytes: it must never panic, it must answer as encoding/json
// does (its fast path is a shortcut, not a second opinion), and what it
// accepts must carry the fields it promises. The seeds are real lines from a log plus edge cases.
func FuzzParseLine(f *testing.F) {
	dir := closedLog(f, 3)
	var seeds [][]byte
	for _, p := range eventFiles(f, dir) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		lines, _ := splitLines(data)
		for _, ln := range lines {
			seeds = append(seeds, bytes.TrimSuffix(ln, []byte("\n")))
		}
	}
	seeds = append(seeds,
		[]byte(`{}`), []byte(`{"trentSeq":0,"trentPrevHash":""}`),
		[]byte(`{"trentSeq":1,"trentPrevHash":"`+hex.EncodeToString(make([]byte, 32))+`"}`),
		[]byte(`{"trentSeq":18446744073709551616,"trentPrevHash":"x"}`),
		[]byte(`{"trentSeq":1,"trentSeq":2,"trentPrevHash":"`+hex.EncodeToString(make([]byte, 32))+`"}`),
		[]byte(`[1]`), []byte(`{"a":`), nil,
	)
	seeds = append(seeds, parseLineCases()...)
	if len(seeds) < 10 {
		f.Fatalf("only %d seeds: the corpus of real lines vanished", len(seeds))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		lf, err := parseLine(line)
		slow, slowErr := parseLineJSON(line)
		if (err == nil) != (slowErr == nil) || lf != slow {
			t.Fatalf("parseLine = %+v, %v; encoding/json says %+v, %v: %q", lf, err, slow, slowErr, line)
		}
		if err != nil {
			return
		}
		if lf.Seq == 0 {
			t.Fatalf("accepted trentSeq 0: %q", line)
		}
		if !bytes.Contains(line, []byte(hex.EncodeToString(lf.PrevHash[:]))) && !bytes.Contains(line, []byte(`\u`)) {
			t.Fatalf("trentPrevHash %x is not in the line %q", lf.PrevHash, line)
		}
	})
}

// FuzzVerifyFile gives Verify an event file of arbitrary bytes beside a
// real one: it must never panic, and it may accept only what chains.
func FuzzVerifyFile(f *testing.F) {
	dir := closedLog(f, 2)
	files := eventFiles(f, dir)
	if len(files) != 1 {
		f.Fatalf("%d files", len(files))
	}
	real, err := os.ReadFile(files[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real)
	f.Add(real[:len(real)/2])
	f.Add(append(bytes.Clone(real), real...))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		work := t.TempDir()
		testfiles.CopyDir(t, dir, work)
		if err := os.WriteFile(filepath.Join(work, filepath.Base(files[0])), data, 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(work, testSigner.Public())
		if err == nil && !bytes.Equal(data, real) && !bytes.HasPrefix(data, real) {
			t.Fatalf("Verify accepted a file that is not the log (or the log and a torn tail): %q, report %+v", data, rep)
		}
	})
}

// FuzzParseDigest: a digest file is untrusted input to Verify (`trent
// audit verify` reads whatever the directory holds). The parser never
// panics; what it accepts is one JSON document, nothing after it, whose
// payload and signature written back parse to the same digest.
func FuzzParseDigest(f *testing.F) {
	dir := closedLog(f, 3)
	paths := digestFiles(f, dir)
	if len(paths) == 0 {
		f.Fatal("no digest file: the seed corpus vanished")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(bytes.TrimSuffix(data, []byte("\n")))
		f.Add(append(bytes.Clone(data), '}'))
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte(`{"payload":{"version":1},"signature":"AA=="}`))
	f.Add([]byte(`{"payload":null,"signature":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseDigest(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("parseDigest accepted %q, which is not one JSON document", data)
		}
		again, err := parseDigest(encodeDigest(p.payload, p.sig))
		if err != nil {
			t.Fatalf("parseDigest accepted %q, which written back is refused: %v", data, err)
		}
		if !reflect.DeepEqual(again.Digest, p.Digest) || !bytes.Equal(again.sig, p.sig) || again.sigText != p.sigText {
			t.Fatalf("parseDigest(%q) = %+v, written back %+v", data, p.Digest, again.Digest)
		}
		p.verifySignature(testSigner.Public().(*ecdsa.PublicKey))
	})
}
