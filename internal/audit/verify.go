package audit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
)

// Report is what Verify checked.
type Report struct {
	Files   int // event files read
	Events  int // event lines, every one chain-checked
	Digests int // digests whose signature and chain were checked
	// Uncovered is how many of the events come after what the newest
	// digest covers: chain-checked, but not yet signed. A log Trent closed
	// cleanly has none; a crash or a running Trent leaves some (at most a
	// digest interval's worth), and so would someone who deleted the
	// newest digest — files alone cannot tell those apart.
	Uncovered int
	// Torn is an incomplete last line of the newest file: a write that a
	// crash cut short, which no Record acknowledged. Open cuts it off and
	// records that in its digest.
	Torn *Truncation
	// Truncations are the incomplete lines Open has cut off in the past,
	// as the digests record them.
	Truncations []Truncation
}

// Problem is the first thing Verify found wrong, and where.
type Problem struct {
	File string // the event or digest file concerned
	Line int    // 1-based line of File, 0 when the problem is not one line
	Msg  string
}

func (p *Problem) Error() string {
	switch {
	case p.Line > 0:
		return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Msg)
	case p.File != "":
		return p.File + ": " + p.Msg
	}
	return p.Msg
}

// Verify checks the log in dir against the public key: every digest's
// signature and its link to the digest before it, every event's link to
// the line before it, and that the digests cover every event, in order,
// up to the newest digest. It returns the first problem as a *Problem
// naming the file and line, or digest, where the log stops being what
// Trent wrote. It reads only the files and works on a copy of them.
//
// It reads the event files one at a time, so its memory is one file and
// the digests' ranges, however long the log: a year of a busy server's
// events is hundreds of gigabytes. The problem it names is the one a
// reading of the whole log at once would name: a torn or zero-padded
// file that is not the newest comes first, then the first broken link,
// then the first event the digests do not cover as they say.
//
// archives are directories the log's older part was moved to (Archive):
// the log is then their files and dir's together.
func Verify(dir string, pub crypto.PublicKey, archives ...string) (Report, error) {
	return verify(append(archives, dir), pub, nil)
}

// verify is Verify of the log in dirs, calling onLine (if not nil) with
// each line's number in the log, from 1, and hash as it reads them.
func verify(dirs []string, pub crypto.PublicKey, onLine func(n uint64, hash [32]byte)) (Report, error) {
	var rep Report
	key, err := p384(pub)
	if err != nil {
		return rep, err
	}
	fp, err := Fingerprint(key)
	if err != nil {
		return rep, err
	}
	ls, err := listDirs(dirs)
	if err != nil {
		return rep, &Problem{File: dirs[len(dirs)-1], Msg: err.Error()}
	}
	byName := make(map[string]int, len(ls.events))
	for i, f := range ls.events {
		byName[f.name] = i
	}

	// The digests: each signed by the key and chained to the one before.
	// Only what the events are checked against is kept.
	v := &eventCheck{files: ls.events, digestNames: ls.digests, onLine: onLine}
	if err := checkDigests(ls.digests, key, fp, func(d *parsedDigest) { v.addDigest(d, byName) }); err != nil {
		return rep, err
	}
	rep.Digests = len(ls.digests)

	// The events: every line, in file order, one file at a time, each
	// read into the buffer the one before it was read into.
	var buf []byte
	for fi, f := range ls.events {
		buf, err = readInto(buf, f.path())
		if err != nil {
			return rep, &Problem{File: f.name, Msg: err.Error()}
		}
		v.file(fi, buf)
	}
	rep.Files, rep.Events = len(ls.events), v.n
	return rep, v.finish(&rep)
}

// readInto reads the file at path into buf, growing it as needed.
func readInto(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	buf = buf[:0]
	if fi, err := f.Stat(); err == nil && fi.Size() < math.MaxInt32 {
		buf = slices.Grow(buf, int(fi.Size())+1) // +1: the read that sees EOF
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(64<<10, cap(buf)))
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// checkDigests reads each digest in order and checks its signature, its
// number and its link to the digest before it, handing each good one to
// each; it returns the first problem.
func checkDigests(digests []nameInfo, key *ecdsa.PublicKey, fp string, each func(*parsedDigest)) *Problem {
	var prev *parsedDigest
	for i, dn := range digests {
		d, err := readDigest(dn.path())
		if err != nil {
			return &Problem{File: dn.name, Msg: fmt.Sprintf("unreadable digest (edited or replaced): %v", err)}
		}
		if d.PublicKeySHA256 != fp {
			return &Problem{File: dn.name, Msg: fmt.Sprintf("signed by another key (public key SHA-256 %s, not %s): the digest was replaced", d.PublicKeySHA256, fp)}
		}
		if !d.verifySignature(key) {
			return &Problem{File: dn.name, Msg: "signature does not verify: the digest was edited or replaced"}
		}
		if d.Seq != dn.seq {
			return &Problem{File: dn.name, Msg: fmt.Sprintf("signed as digest %d but named as digest %d: renamed, or replaced by another digest", d.Seq, dn.seq)}
		}
		if i == 0 {
			if d.Seq != 1 || d.PreviousFile != "" || d.PreviousSignature != "" {
				return &Problem{File: dn.name, Msg: fmt.Sprintf("the first digest present is number %d, chained to %q: the digests before it were removed "+
					"(if trent audit archive moved them, give their directory with --archive)", d.Seq, d.PreviousFile)}
			}
		} else {
			pn := digests[i-1].name
			if d.Seq != prev.Seq+1 {
				return &Problem{File: dn.name, Msg: fmt.Sprintf("digest %d follows digest %d (%s): %d digest(s) removed", d.Seq, prev.Seq, pn, d.Seq-prev.Seq-1)}
			}
			if d.PreviousFile != pn || d.PreviousSignature != prev.sigText {
				return &Problem{File: dn.name, Msg: fmt.Sprintf("does not chain to %s, the digest before it (it names %q and another signature): one of them was replaced", pn, d.PreviousFile)}
			}
		}
		each(d)
		prev = d
	}
	return nil
}

// coverRange is a digest's Range with its file found among the event
// files (-1: not there) and its hashes decoded.
type coverRange struct {
	file                int
	name                string // the file's name when it is not there
	start, end          int64
	firstSeq, count     uint64
	firstHash, lastHash [32]byte
	hashesOK            bool // both hashes are 64 hex digits
}

// digestCover is what one digest says the events are.
type digestCover struct {
	ranges      []coverRange
	head        Head
	truncations []Truncation
}

// lineAt is where a line is and what it links.
type lineAt struct {
	file, line int // index in the event files; 1-based line
	seq        uint64
	prev, hash [32]byte
}

// lookBack is how many lines before a broken link Verify searches for the
// line it links to, to tell an insertion from a deletion or an edit. A
// longer insertion is named as a break all the same.
const lookBack = 1 << 16

// chainBreak is the first broken link, kept until the rest of the log has
// been read: the line it links to may come later (lines swapped), and the
// line after it tells which of two lines was edited.
type chainBreak struct {
	at, p        lineAt // the line whose link is broken, and the line before it
	i            int    // at's index in the log
	back         int    // index of the last earlier line at links to, or -1
	backAt, past lineAt // that line, and the one after it
	ahead        int    // index of the last later line at links to, or -1
	aheadAt      lineAt
	next         *lineAt // the line after at
}

// eventCheck checks the event lines as they are read, file by file,
// against each other and against the digests.
type eventCheck struct {
	files       []nameInfo
	digestNames []nameInfo
	digests     []digestCover
	onLine      func(n uint64, hash [32]byte)

	n      int // lines read so far
	prev   lineAt
	recs   []rec    // the current file's lines
	ring   []lineAt // the last lookBack lines, ring[g%lookBack] is line g
	brk    *chainBreak
	broken *Problem // a line that is not an event

	// Coverage: the digests' ranges, consumed in order as their files
	// are read. cursor is the index of the first line no digest has
	// covered yet; cursorAt is that line once it has been read.
	dk, rk   int
	cursor   int
	cursorAt lineAt
	covered  lineAt // the last line covered; seq 0 and the genesis hash before any
	cover    *Problem

	lastData int // the newest file with lines or a torn tail
	torn     []Truncation
	zeroTail []zeroTail
}

// zeroTail is a file that ends in zeros after its last line.
type zeroTail struct {
	file int
	size int64 // without the zeros
}

func (v *eventCheck) addDigest(d *parsedDigest, byName map[string]int) {
	c := digestCover{head: d.Head, truncations: d.Truncations}
	for _, rg := range d.Ranges {
		cr := coverRange{file: -1, start: rg.StartOffset, end: rg.EndOffset, firstSeq: rg.FirstEventSeq, count: rg.EventCount}
		if fi, ok := byName[rg.File]; ok {
			cr.file = fi
		} else {
			cr.name = rg.File
		}
		_, e1 := hex.Decode(cr.firstHash[:], []byte(rg.FirstEventHash))
		_, e2 := hex.Decode(cr.lastHash[:], []byte(rg.LastEventHash))
		cr.hashesOK = e1 == nil && e2 == nil && len(rg.FirstEventHash) == 64 && len(rg.LastEventHash) == 64
		c.ranges = append(c.ranges, cr)
	}
	v.digests = append(v.digests, c)
}

// file checks one event file's lines. A file being written when the copy
// was taken, or when Trent crashed, may end in the zeros of a
// preallocated segment (spare.go): space never written, not events.
func (v *eventCheck) file(fi int, data []byte) {
	if v.ring == nil {
		v.ring = make([]lineAt, lookBack)
		v.lastData = -1
		v.covered.hash = genesisHash
	}
	lines, tail, rest := splitSegment(data)
	size := int64(len(data) - tail + len(rest))
	if len(lines) > 0 || rest != nil {
		v.lastData = fi
	}
	base, before := v.n, v.prev
	recs := v.recs[:0]
	var pos int64
	for n, ln := range lines {
		r := rec{file: fi, line: n + 1, start: pos, end: pos + int64(len(ln)), hash: sha256.Sum256(ln)}
		lf, err := parseLine(ln[:len(ln)-1])
		r.seq, r.prev, r.bad = lf.Seq, lf.PrevHash, err
		recs = append(recs, r)
		pos = r.end
		if v.onLine != nil {
			v.onLine(uint64(v.n)+1, r.hash)
		}
		v.link(r)
	}
	if rest != nil {
		sum := sha256.Sum256(rest)
		v.torn = append(v.torn, Truncation{File: v.files[fi].name, Offset: pos, Bytes: int64(len(rest)), SHA256: hex.EncodeToString(sum[:])})
	} else if tail > 0 {
		v.zeroTail = append(v.zeroTail, zeroTail{fi, size})
	}
	v.coverFile(fi, base, before, recs, size)
	v.recs = recs
}

// rec is one event line as Verify saw it.
type rec struct {
	file, line int // index in the event files; 1-based line
	start, end int64
	seq        uint64
	prev, hash [32]byte
	bad        error // why it does not parse
}

func (r rec) at() lineAt {
	return lineAt{file: r.file, line: r.line, seq: r.seq, prev: r.prev, hash: r.hash}
}

// link checks line r's link to the line before it. At the first broken
// link it notes what it can see from there, and keeps watching the lines
// after it for what the break needs to be named.
func (v *eventCheck) link(r rec) {
	i := v.n
	a := r.at()
	defer func() {
		v.prev = a
		v.ring[i%lookBack] = a
		if i == v.cursor {
			v.cursorAt = a
		}
		v.n++
	}()
	if b := v.brk; b != nil {
		if b.next == nil {
			b.next = &a
		}
		if a.hash == b.at.prev {
			b.ahead, b.aheadAt = i, a
		}
		return
	}
	if v.broken != nil {
		return
	}
	if r.bad != nil {
		v.broken = v.problemAt(a, "not an event line (edited or corrupted): %v", r.bad)
		return
	}
	if i == 0 {
		if r.seq != 1 || r.prev != genesisHash {
			v.broken = v.problemAt(a, "the log starts with event %d, not event 1: the lines or files before it were removed", r.seq)
		}
		return
	}
	p := v.prev
	if r.prev == p.hash {
		if r.seq != p.seq+1 {
			v.broken = v.problemAt(a, "links to the line before it, but is numbered event %d, not %d: edited", r.seq, p.seq+1)
		}
		return
	}
	b := &chainBreak{at: a, p: p, i: i, back: -1, ahead: -1}
	for j := i - 2; j >= 0 && j > i-lookBack; j-- {
		if v.ring[j%lookBack].hash == r.prev {
			b.back, b.backAt, b.past = j, v.ring[j%lookBack], v.ring[(j+1)%lookBack]
			break
		}
	}
	v.brk = b
}

func (v *eventCheck) problemAt(a lineAt, format string, args ...any) *Problem {
	return &Problem{File: v.files[a.file].name, Line: a.line, Msg: fmt.Sprintf(format, args...)}
}

// where names line x as seen from line from: "line 7" in the same file,
// "FILE line 7" in another.
func (v *eventCheck) where(x, from lineAt) string {
	if x.file == from.file {
		return fmt.Sprintf("line %d", x.line)
	}
	return fmt.Sprintf("%s line %d", v.files[x.file].name, x.line)
}

// named says what most likely happened at the first broken link: the
// hashes and sequence numbers of the lines around it tell an insertion
// from a deletion, a swap or an edit.
func (v *eventCheck) named() *Problem {
	b := v.brk
	r, p, i := b.at, b.p, b.i
	switch {
	case b.ahead >= 0:
		return v.problemAt(r, "out of order: it links to %s, which comes after it (lines swapped or moved)", v.where(b.aheadAt, r))
	case b.back >= 0 && b.back == i-2:
		return v.problemAt(b.past, "inserted: this line is not in the chain (%s links past it to %s)", v.where(r, b.past), v.where(b.backAt, b.past))
	case b.back >= 0:
		return v.problemAt(b.past, "inserted: %d lines from here through %s are not in the chain (%s links past them to %s)",
			i-1-b.back, v.where(p, b.past), v.where(r, b.past), v.where(b.backAt, b.past))
	}
	// The line it links to is not in the log: deleted, or edited (which
	// changes its hash).
	switch {
	case r.seq > p.seq+1:
		return v.problemAt(r, "%d line(s) deleted before it: events %d to %d are missing (the line before it is event %d)", r.seq-p.seq-1, p.seq+1, r.seq-1, p.seq)
	case r.seq == p.seq+1:
		// Either the line before was edited, or this line's own link
		// was: then the next line's link to this one breaks too (or, for
		// the last line, a digest does not know its hash).
		switch {
		case b.next != nil && b.next.prev == r.hash, b.next == nil && v.attested(r.hash):
			return v.problemAt(p, "edited: its hash does not match the link in the next line")
		case b.next != nil, v.attested(p.hash):
			return v.problemAt(r, "edited: its own link to the line before it was changed")
		}
		return v.problemAt(r, "edited, or the line before it was: their link is broken")
	}
	return v.problemAt(r, "numbered event %d after event %d: lines reordered or edited", r.seq, p.seq)
}

// attested reports whether a digest names h as the hash of a line.
func (v *eventCheck) attested(h [32]byte) bool {
	for _, d := range v.digests {
		for _, rg := range d.ranges {
			if rg.hashesOK && (rg.firstHash == h || rg.lastHash == h) {
				return true
			}
		}
	}
	return false
}

// coverFile checks the digests' ranges over file fi, whose lines are
// recs, the first of them line base of the log, after line before; size
// is the file's length without a zero tail. Ranges of later files wait
// for them.
func (v *eventCheck) coverFile(fi, base int, before lineAt, recs []rec, size int64) {
	lineBefore := func(idx int) lineAt {
		if k := idx - 1 - base; k >= 0 {
			return recs[k].at()
		}
		return before
	}
	for v.cover == nil && v.dk < len(v.digests) {
		d := &v.digests[v.dk]
		dn := v.digestNames[v.dk].name
		if v.rk == len(d.ranges) {
			if d.head.EventSeq != v.covered.seq || d.head.EventHash != hex.EncodeToString(v.covered.hash[:]) {
				v.cover = &Problem{File: dn, Msg: fmt.Sprintf("says the log ends at event %d, but its ranges end at event %d", d.head.EventSeq, v.covered.seq)}
				return
			}
			v.dk, v.rk = v.dk+1, 0
			continue
		}
		rg := d.ranges[v.rk]
		switch {
		case rg.file < 0:
			v.cover = &Problem{File: rg.name, Msg: fmt.Sprintf("missing, though digest %s covers %d events in it: deleted", dn, rg.count)}
			return
		case rg.file > fi:
			return // its file comes later
		case rg.file < fi:
			v.cover = &Problem{File: dn, Msg: fmt.Sprintf("covers %s from byte %d again, which an earlier digest covers", v.files[rg.file].name, rg.start)}
			return
		}
		name := v.files[fi].name
		if size < rg.end {
			v.cover = &Problem{File: name, Msg: fmt.Sprintf("truncated: digest %s covers it up to byte %d (event %d), but it has %d bytes",
				dn, rg.end, rg.firstSeq+rg.count-1, size)}
			return
		}
		k := sort.Search(len(recs), func(i int) bool { return recs[i].start >= rg.start })
		if k == len(recs) || recs[k].start != rg.start {
			v.cover = &Problem{File: name, Msg: fmt.Sprintf("digest %s says an event starts at byte %d, but no line does: edited", dn, rg.start)}
			return
		}
		idx := base + k
		if idx > v.cursor {
			v.cover = v.problemAt(v.cursorAt, "events %d to %d are covered by no digest (%s starts after them): a digest was removed",
				v.cursorAt.seq, lineBefore(idx).seq, dn)
			return
		}
		if idx < v.cursor {
			v.cover = &Problem{File: dn, Msg: fmt.Sprintf("covers %s from byte %d again, which an earlier digest covers", name, rg.start)}
			return
		}
		l := k + int(rg.count) - 1
		if rg.count == 0 || l >= len(recs) || recs[l].end != rg.end {
			v.cover = &Problem{File: name, Msg: fmt.Sprintf("digest %s covers %d events from byte %d to %d, but the lines there differ: lines deleted or inserted",
				dn, rg.count, rg.start, rg.end)}
			return
		}
		if !rg.hashesOK || recs[k].hash != rg.firstHash || recs[k].seq != rg.firstSeq {
			v.cover = v.problemAt(recs[k].at(), "does not match digest %s (hash or event number): edited", dn)
			return
		}
		if recs[l].hash != rg.lastHash {
			v.cover = v.problemAt(recs[l].at(), "hash does not match digest %s: edited", dn)
			return
		}
		v.covered = recs[l].at()
		v.cursor = base + l + 1
		if l+1 < len(recs) {
			v.cursorAt = recs[l+1].at()
		}
		v.rk++
	}
}

// finish names the first problem, in the order a reading of the whole
// log at once finds them, and fills in the rest of the report.
func (v *eventCheck) finish(rep *Report) error {
	if v.ring == nil { // no event file at all
		v.file(-1, nil)
	}
	for _, t := range v.torn {
		// Only the newest write can have been cut short by a crash.
		if t.File != v.files[v.lastData].name {
			return &Problem{File: t.File, Msg: fmt.Sprintf("ends with an incomplete line (%d bytes at byte %d) but is not the newest file: truncated or edited", t.Bytes, t.Offset)}
		}
		rep.Torn = &t
	}
	for _, z := range v.zeroTail {
		// Trent cuts the zeros off a file before it starts the next.
		if z.file < v.lastData {
			return &Problem{File: v.files[z.file].name, Msg: fmt.Sprintf("ends with zero bytes after byte %d but is not the newest file: edited", z.size)}
		}
	}
	switch {
	case v.broken != nil:
		return v.broken
	case v.brk != nil:
		return v.named()
	case v.cover != nil:
		return v.cover
	}
	for _, d := range v.digests {
		rep.Truncations = append(rep.Truncations, d.truncations...)
	}
	rep.Uncovered = v.n - v.cursor
	return nil
}
