package audit

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
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

// rec is one event line as Verify saw it.
type rec struct {
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
func Verify(dir string, pub crypto.PublicKey) (Report, error) {
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

	// The digests: each signed by the key and chained to the one before.
	var digests []*parsedDigest
	for i, dn := range ls.digests {
		d, err := readDigest(filepath.Join(dir, dn.name))
		if err != nil {
			return rep, &Problem{File: dn.name, Msg: fmt.Sprintf("unreadable digest (edited or replaced): %v", err)}
		}
		if d.PublicKeySHA256 != fp {
			return rep, &Problem{File: dn.name, Msg: fmt.Sprintf("signed by another key (public key SHA-256 %s, not %s): the digest was replaced", d.PublicKeySHA256, fp)}
		}
		if !d.verifySignature(key) {
			return rep, &Problem{File: dn.name, Msg: "signature does not verify: the digest was edited or replaced"}
		}
		if d.Seq != dn.seq {
			return rep, &Problem{File: dn.name, Msg: fmt.Sprintf("signed as digest %d but named as digest %d: renamed, or replaced by another digest", d.Seq, dn.seq)}
		}
		if i == 0 {
			if d.Seq != 1 || d.PreviousFile != "" || d.PreviousSignature != "" {
				return rep, &Problem{File: dn.name, Msg: fmt.Sprintf("the first digest present is number %d, chained to %q: the digests before it were removed", d.Seq, d.PreviousFile)}
			}
		} else {
			p := digests[i-1]
			pn := ls.digests[i-1].name
			if d.Seq != p.Seq+1 {
				return rep, &Problem{File: dn.name, Msg: fmt.Sprintf("digest %d follows digest %d (%s): %d digest(s) removed", d.Seq, p.Seq, pn, d.Seq-p.Seq-1)}
			}
			if d.PreviousFile != pn || d.PreviousSignature != p.sigText {
				return rep, &Problem{File: dn.name, Msg: fmt.Sprintf("does not chain to %s, the digest before it (it names %q and another signature): one of them was replaced", pn, d.PreviousFile)}
			}
		}
		digests = append(digests, d)
		rep.Digests++
	}

	// The events: every line, in file order. A file being written when
	// the copy was taken, or when Trent crashed, may end in the zeros of a
	// preallocated segment (spare.go): space never written, not events.
	lastData := -1
	var recs []rec
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
			r := rec{file: fi, line: n + 1, start: pos, end: pos + int64(len(ln)), hash: sha256.Sum256(ln)}
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
	if p := checkChain(ls.events, recs, digests); p != nil {
		return rep, p
	}

	// The coverage: the digests' ranges, end to end, over the events.
	byName := map[string]int{}
	for i, f := range ls.events {
		byName[f.name] = i
	}
	at := func(r rec) (string, int) { return ls.events[r.file].name, r.line }
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
func checkChain(files []nameInfo, recs []rec, digests []*parsedDigest) *Problem {
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
			case next < len(recs) && recs[next].prev == r.hash, next == len(recs) && attested(digests, r.hash):
				return problem(i-1, "edited: its hash does not match the link in the next line")
			case next < len(recs), attested(digests, p.hash):
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
func attested(digests []*parsedDigest, h [32]byte) bool {
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
