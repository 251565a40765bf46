package audit

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// verifyWhole is Verify as it was before it read the log a file at a time
// (commit 4746a56): every line of every file in memory at once, the chain
// checked over all of them, then the digests' coverage. It is the
// reference TestVerifyAsWholeLogReading holds Verify to.

// wholeRec is one event line as verifyWhole saw it.
type wholeRec struct {
	file       int // index in the sorted event files
	line       int // 1-based
	start, end int64
	seq        uint64
	prev, hash [32]byte
	bad        error // why it does not parse
}

// Verify checks the log in dir against the public key: every digest's
// signature and its link to the digest before it, every event's link to
// the line before it, and that the digests cover every event, in order,
// up to the newest digest. It returns the first problem as a *Problem
// naming the file and line, or digest, where the log stops being what
// Trent wrote. It reads only the files and works on a copy of them.
func verifyWhole(dir string, pub crypto.PublicKey) (Report, error) {
	var rep Report
	key, err := p384(pub)
	if err != nil {
		return rep, err
	}
	fp, err := Fingerprint(key)
	if err != nil {
		return rep, err
	}
	ls, err := listDir(dir)
	if err != nil {
		return rep, &Problem{File: dir, Msg: err.Error()}
	}

	// The digests: checked as Verify checks them (the reading of the
	// events and their coverage is what this reference keeps of its own).
	var digests []*parsedDigest
	if p := checkDigests(ls.digests, key, fp, func(d *parsedDigest) { digests = append(digests, d) }); p != nil {
		return rep, p
	}
	rep.Digests = len(digests)

	// The events: every line, in file order. A file being written when
	// the copy was taken, or when Trent crashed, may end in the zeros of a
	// preallocated segment (spare.go): space never written, not events.
	lastData := -1
	var recs []wholeRec
	var torn []Truncation
	var zeroTail []int // files that end in zeros only
	sizes := make([]int64, len(ls.events))
	for fi, f := range ls.events {
		data, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return rep, &Problem{File: f.name, Msg: err.Error()}
		}
		lines, tail, rest := splitSegment(data)
		sizes[fi] = int64(len(data) - tail + len(rest))
		if len(lines) > 0 || rest != nil {
			lastData = fi
		}
		var pos int64
		for n, ln := range lines {
			r := wholeRec{file: fi, line: n + 1, start: pos, end: pos + int64(len(ln)), hash: sha256.Sum256(ln)}
			lf, err := parseLine(ln[:len(ln)-1])
			r.seq, r.prev, r.bad = lf.Seq, lf.PrevHash, err
			recs = append(recs, r)
			pos = r.end
		}
		if rest != nil {
			sum := sha256.Sum256(rest)
			torn = append(torn, Truncation{File: f.name, Offset: pos, Bytes: int64(len(rest)), SHA256: hex.EncodeToString(sum[:])})
		} else if tail > 0 {
			zeroTail = append(zeroTail, fi)
		}
	}
	rep.Files = len(ls.events)
	rep.Events = len(recs)
	for _, t := range torn {
		// Only the newest write can have been cut short by a crash.
		if t.File != ls.events[lastData].name {
			return rep, &Problem{File: t.File, Msg: fmt.Sprintf("ends with an incomplete line (%d bytes at byte %d) but is not the newest file: truncated or edited", t.Bytes, t.Offset)}
		}
		rep.Torn = &t
	}
	for _, fi := range zeroTail {
		// Trent cuts the zeros off a file before it starts the next.
		if fi < lastData {
			return rep, &Problem{File: ls.events[fi].name, Msg: fmt.Sprintf("ends with zero bytes after byte %d but is not the newest file: edited", sizes[fi])}
		}
	}
	if p := checkChainWhole(ls.events, recs, digests); p != nil {
		return rep, p
	}

	// The coverage: the digests' ranges, end to end, over the events.
	byName := map[string]int{}
	for i, f := range ls.events {
		byName[f.name] = i
	}
	at := func(r wholeRec) (string, int) { return ls.events[r.file].name, r.line }
	cursor := 0
	for k, d := range digests {
		dn := ls.digests[k].name
		for _, rg := range d.Ranges {
			fi, ok := byName[rg.File]
			if !ok {
				return rep, &Problem{File: rg.File, Msg: fmt.Sprintf("missing, though digest %s covers %d events in it: deleted", dn, rg.EventCount)}
			}
			if sizes[fi] < rg.EndOffset {
				return rep, &Problem{File: rg.File, Msg: fmt.Sprintf("truncated: digest %s covers it up to byte %d (event %d), but it has %d bytes",
					dn, rg.EndOffset, rg.FirstEventSeq+rg.EventCount-1, sizes[fi])}
			}
			idx := sort.Search(len(recs), func(i int) bool {
				return recs[i].file > fi || recs[i].file == fi && recs[i].start >= rg.StartOffset
			})
			if idx == len(recs) || recs[idx].file != fi || recs[idx].start != rg.StartOffset {
				return rep, &Problem{File: rg.File, Msg: fmt.Sprintf("digest %s says an event starts at byte %d, but no line does: edited", dn, rg.StartOffset)}
			}
			if idx > cursor {
				f, n := at(recs[cursor])
				return rep, &Problem{File: f, Line: n, Msg: fmt.Sprintf("events %d to %d are covered by no digest (%s starts after them): a digest was removed",
					recs[cursor].seq, recs[idx-1].seq, dn)}
			}
			if idx < cursor {
				return rep, &Problem{File: dn, Msg: fmt.Sprintf("covers %s from byte %d again, which an earlier digest covers", rg.File, rg.StartOffset)}
			}
			last := idx + int(rg.EventCount) - 1
			if rg.EventCount == 0 || last >= len(recs) || recs[last].file != fi || recs[last].end != rg.EndOffset {
				return rep, &Problem{File: rg.File, Msg: fmt.Sprintf("digest %s covers %d events from byte %d to %d, but the lines there differ: lines deleted or inserted",
					dn, rg.EventCount, rg.StartOffset, rg.EndOffset)}
			}
			if hex.EncodeToString(recs[idx].hash[:]) != rg.FirstEventHash || recs[idx].seq != rg.FirstEventSeq {
				f, n := at(recs[idx])
				return rep, &Problem{File: f, Line: n, Msg: fmt.Sprintf("does not match digest %s (hash or event number): edited", dn)}
			}
			if hex.EncodeToString(recs[last].hash[:]) != rg.LastEventHash {
				f, n := at(recs[last])
				return rep, &Problem{File: f, Line: n, Msg: fmt.Sprintf("hash does not match digest %s: edited", dn)}
			}
			cursor = last + 1
		}
		var headSeq uint64
		headHash := genesisHash
		if cursor > 0 {
			headSeq, headHash = recs[cursor-1].seq, recs[cursor-1].hash
		}
		if d.Head.EventSeq != headSeq || d.Head.EventHash != hex.EncodeToString(headHash[:]) {
			return rep, &Problem{File: dn, Msg: fmt.Sprintf("says the log ends at event %d, but its ranges end at event %d", d.Head.EventSeq, headSeq)}
		}
		rep.Truncations = append(rep.Truncations, d.Truncations...)
	}
	rep.Uncovered = len(recs) - cursor
	return rep, nil
}

// checkChain checks every line's link to the line before it and, at the
// first broken one, says what most likely happened: the hashes and
// sequence numbers of the lines around it tell an insertion from a
// deletion, a swap or an edit.
func checkChainWhole(files []nameInfo, recs []wholeRec, digests []*parsedDigest) *Problem {
	at := func(i int) (string, int) { return files[recs[i].file].name, recs[i].line }
	// where names line i as seen from line from: "line 7" in the same
	// file, "FILE line 7" in another.
	where := func(i, from int) string {
		f, n := at(i)
		if recs[i].file == recs[from].file {
			return fmt.Sprintf("line %d", n)
		}
		return fmt.Sprintf("%s line %d", f, n)
	}
	problem := func(i int, format string, args ...any) *Problem {
		f, n := at(i)
		return &Problem{File: f, Line: n, Msg: fmt.Sprintf(format, args...)}
	}
	byHash := make(map[[32]byte]int, len(recs))
	for i, r := range recs {
		byHash[r.hash] = i
	}
	for i, r := range recs {
		if r.bad != nil {
			return problem(i, "not an event line (edited or corrupted): %v", r.bad)
		}
		if i == 0 {
			if r.seq != 1 || r.prev != genesisHash {
				return problem(i, "the log starts with event %d, not event 1: the lines or files before it were removed", r.seq)
			}
			continue
		}
		p := recs[i-1]
		if r.prev == p.hash {
			if r.seq != p.seq+1 {
				return problem(i, "links to the line before it, but is numbered event %d, not %d: edited", r.seq, p.seq+1)
			}
			continue
		}
		if j, ok := byHash[r.prev]; ok {
			if j == i-2 {
				return problem(j+1, "inserted: this line is not in the chain (%s links past it to %s)", where(i, j+1), where(j, j+1))
			}
			if j < i-2 {
				return problem(j+1, "inserted: %d lines from here through %s are not in the chain (%s links past them to %s)",
					i-1-j, where(i-1, j+1), where(i, j+1), where(j, j+1))
			}
			return problem(i, "out of order: it links to %s, which comes after it (lines swapped or moved)", where(j, i))
		}
		// The line it links to is not in the log: deleted, or edited
		// (which changes its hash).
		switch {
		case r.seq > p.seq+1:
			return problem(i, "%d line(s) deleted before it: events %d to %d are missing (the line before it is event %d)", r.seq-p.seq-1, p.seq+1, r.seq-1, p.seq)
		case r.seq == p.seq+1:
			// Either the line before was edited, or this line's own link
			// was: then the next line's link to this one breaks too (or,
			// for the last line, a digest does not know its hash).
			next := i + 1
			switch {
			case next < len(recs) && recs[next].prev == r.hash, next == len(recs) && attestedWhole(digests, r.hash):
				return problem(i-1, "edited: its hash does not match the link in the next line")
			case next < len(recs), attestedWhole(digests, p.hash):
				return problem(i, "edited: its own link to the line before it was changed")
			}
			return problem(i, "edited, or the line before it was: their link is broken")
		default:
			return problem(i, "numbered event %d after event %d: lines reordered or edited", r.seq, p.seq)
		}
	}
	return nil
}

// attested reports whether a digest names h as the hash of a line.
func attestedWhole(digests []*parsedDigest, h [32]byte) bool {
	s := hex.EncodeToString(h[:])
	for _, d := range digests {
		for _, rg := range d.Ranges {
			if rg.FirstEventHash == s || rg.LastEventHash == s {
				return true
			}
		}
	}
	return false
}

// TestVerifyAsWholeLogReading: Verify, which reads one file at a time,
// names the same problem (or gives the same report) as verifyWhole, which
// read the whole log at once, for hundreds of random tamperings of a log of
// many files and digests — deleted, duplicated, swapped, moved, forged and
// edited lines, deleted, truncated and zero-padded files, removed digests,
// one to three at a time.
func TestVerifyAsWholeLogReading(t *testing.T) {
	base := t.TempDir()
	for run := range 3 {
		l := openLog(t, base, Options{MaxFileBytes: 2500})
		record(t, l, run*14, 14)
		closeLog(t, l)
	}
	if n := len(eventFiles(t, base)); n < 10 {
		t.Fatalf("the fixture has %d event files, want at least 10", n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pub := testSigner.Public()
	counts := map[string]int{}
	rounds := 250
	if raceEnabled {
		rounds = 50 // one goroutine: the race detector adds only time here
	}
	for iter := range rounds {
		dir := t.TempDir()
		testfiles.CopyDir(t, base, dir)
		var did []string
		for range 1 + rng.IntN(3) {
			did = append(did, tamperOnce(t, rng, dir))
		}
		got, gotErr := Verify(dir, pub)
		want, wantErr := verifyWhole(dir, pub)
		switch {
		case (gotErr == nil) != (wantErr == nil):
			t.Fatalf("%d %v: Verify = %v, the whole-log reading = %v", iter, did, gotErr, wantErr)
		case gotErr != nil && gotErr.Error() != wantErr.Error():
			if d := os.Getenv("TRENT_KEEP_TAMPERED"); d != "" {
				os.RemoveAll(d)
				testfiles.CopyDir(t, dir, d)
				os.WriteFile(d+"/pub.pem", must(PublicKeyPEM(testSigner)), 0o600)
			}
			t.Fatalf("%d %v:\nVerify:              %v\nthe whole-log reading: %v", iter, did, gotErr, wantErr)
		case gotErr == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("%d %v: Verify reports %+v, the whole-log reading %+v", iter, did, got, want)
		}
		if gotErr == nil {
			counts["accepted"]++
		} else {
			kind := strings.SplitN(gotErr.(*Problem).Msg, ":", 2)[0]
			counts[digitsRE.ReplaceAllString(kind, "N")]++
		}
	}
	t.Logf("outcomes: %v", counts)
	if counts["accepted"] == rounds || len(counts) < 8 {
		t.Errorf("the tamperings reached too few of Verify's findings: %v", counts)
	}
}

var digitsRE = regexp.MustCompile(`[0-9]+`)

// tamperOnce changes dir's log in one random way and says how.
func tamperOnce(t *testing.T, rng *rand.Rand, dir string) string {
	t.Helper()
	events, digests := eventFiles(t, dir), digestFiles(t, dir)
	if len(events) == 0 {
		return "nothing left to tamper with"
	}
	read := func(i int) [][]byte {
		data, err := os.ReadFile(events[i])
		if err != nil {
			t.Fatal(err)
		}
		lines, torn := splitLines(data)
		if len(torn) > 0 {
			lines = append(lines, torn)
		}
		return lines
	}
	write := func(i int, lines [][]byte) {
		if err := os.WriteFile(events[i], bytes.Join(lines, nil), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fi := rng.IntN(len(events))
	lines := read(fi)
	if len(lines) == 0 {
		return "an empty file left alone"
	}
	li := rng.IntN(len(lines))
	switch op := rng.IntN(10); op {
	case 0:
		write(fi, slices.Delete(lines, li, li+1))
		return fmt.Sprintf("deleted line %d of file %d", li+1, fi)
	case 1:
		write(fi, slices.Insert(lines, rng.IntN(len(lines)+1), bytes.Clone(lines[li])))
		return fmt.Sprintf("duplicated line %d of file %d", li+1, fi)
	case 2:
		fj := rng.IntN(len(events))
		if fj == fi {
			lj := rng.IntN(len(lines))
			lines[li], lines[lj] = lines[lj], lines[li]
			write(fi, lines)
			return fmt.Sprintf("swapped lines %d and %d of file %d", li+1, lj+1, fi)
		}
		other := read(fj)
		if len(other) == 0 {
			return "an empty file left alone"
		}
		lj := rng.IntN(len(other))
		lines[li], other[lj] = other[lj], lines[li]
		write(fi, lines)
		write(fj, other)
		return fmt.Sprintf("swapped line %d of file %d with line %d of file %d", li+1, fi, lj+1, fj)
	case 3:
		k := rng.IntN(len(lines[li]))
		lines[li][k] ^= byte(1 + rng.IntN(127))
		write(fi, lines)
		return fmt.Sprintf("edited byte %d of line %d of file %d", k, li+1, fi)
	case 4:
		if err := os.Remove(events[fi]); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("deleted file %d", fi)
	case 5:
		st, err := os.Stat(events[fi])
		if err != nil {
			t.Fatal(err)
		}
		n := rng.Int64N(st.Size() + 1)
		if err := os.Truncate(events[fi], n); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("truncated file %d to %d bytes", fi, n)
	case 6:
		write(fi, append(lines, make([]byte, 1+rng.IntN(4096))))
		return fmt.Sprintf("zeros after file %d", fi)
	case 7:
		if len(digests) == 0 {
			return "no digest to remove"
		}
		di := rng.IntN(len(digests))
		if err := os.Remove(digests[di]); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("removed digest %d", di)
	case 8:
		prev := lines[li]
		f, err := parseLine(bytes.TrimSuffix(prev, []byte("\n")))
		if err != nil {
			return "forged nothing after a broken line"
		}
		forged := forge(prev, f.Seq+1, prev)
		write(fi, slices.Insert(lines, li+1, forged))
		return fmt.Sprintf("forged a line after line %d of file %d", li+1, fi)
	default:
		ln := lines[li]
		lines = slices.Delete(lines, li, li+1)
		fj := rng.IntN(len(events))
		if fj == fi {
			write(fi, slices.Insert(lines, rng.IntN(len(lines)+1), ln))
			return fmt.Sprintf("moved line %d within file %d", li+1, fi)
		}
		write(fi, lines)
		other := read(fj)
		write(fj, slices.Insert(other, rng.IntN(len(other)+1), ln))
		return fmt.Sprintf("moved line %d of file %d into file %d", li+1, fi, fj)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestLineHashes: the cluster check's forward reader gives every line's
// hash across many files, skipping ahead, and refuses to go back.
func TestLineHashes(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 2500})
	record(t, l, 0, 20)
	closeLog(t, l)
	var want [][32]byte
	for _, ln := range logLines(t, dir) {
		want = append(want, sha256.Sum256(ln))
	}
	if len(want) != 20 || len(eventFiles(t, dir)) < 5 {
		t.Fatalf("%d lines in %d files, want 20 in several", len(want), len(eventFiles(t, dir)))
	}
	lh, err := newLineHashes([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 2, 3, 7, 8, 15, 20} {
		if got, err := lh.at(seq); err != nil || got != want[seq-1] {
			t.Fatalf("at(%d) = %x, %v; want %x", seq, got, err, want[seq-1])
		}
	}
	if _, err := lh.at(21); err == nil {
		t.Fatal("at(21) of a 20-event log answered")
	}
	lh, _ = newLineHashes([]string{dir})
	lh.at(20)
	if _, err := lh.at(1); err == nil {
		t.Fatal("at(1) after at(20) answered")
	}
}

// TestVerifyUnreadableFile: a file that cannot be read is named.
func TestVerifyUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 2500})
	record(t, l, 0, 20)
	closeLog(t, l)
	files := eventFiles(t, dir)
	bad := files[len(files)/2]
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(bad, 0o700); err != nil { // opens, and every read fails
		t.Fatal(err)
	}
	_, err := Verify(dir, testSigner.Public())
	var p *Problem
	if !errors.As(err, &p) || p.File != filepath.Base(bad) {
		t.Fatalf("Verify = %v, want a problem naming %s", err, filepath.Base(bad))
	}
}
