package audit

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/durable"
)

// prepareDir makes the directory private and puts the public key beside
// the events, or checks that the one there is the signer's: one directory
// holds one log under one key.
func (l *Log) prepareDir() error {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := os.Chmod(l.dir, 0o700); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	// Leftovers of a digest or key file whose writing a crash cut short:
	// never renamed, so never part of the log.
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".tmp") {
			if err := os.Remove(filepath.Join(l.dir, n)); err != nil {
				return fmt.Errorf("audit: remove leftover %s: %w", n, err)
			}
		}
	}
	want, err := PublicKeyPEM(l.signer)
	if err != nil {
		return err
	}
	path := filepath.Join(l.dir, PublicKeyFile)
	have, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := l.writeFileAtomic(PublicKeyFile, want); err != nil {
			return fmt.Errorf("audit: write %s: %w", PublicKeyFile, err)
		}
		return l.fs.SyncDir(l.dir)
	case err != nil:
		return fmt.Errorf("audit: %w", err)
	}
	pub, err := ParsePublicKeyPEM(have)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", path, err)
	}
	if !pub.Equal(l.pub) {
		return fmt.Errorf("audit: %s holds another signing key than the one Trent was given: "+
			"a log is signed by one key; move the old log aside to start a new one", path)
	}
	return nil
}

// listed are a directory's event and digest files, each sorted by
// sequence number.
type listed struct {
	events, digests []nameInfo
}

func listDir(dir string) (listed, error) {
	return listDirs([]string{dir})
}

// dirListings counts listDirs calls, for the tests that hold a request's
// path and the shipper's rotations free of them (a log's directory holds
// a digest per minute).
var dirListings atomic.Int64

// listDirs lists the files of one log kept in several directories: a
// log's directory and the directories its older part was archived to.
func listDirs(dirs []string) (listed, error) {
	dirListings.Add(1)
	var ls listed
	for _, dir := range dirs {
		names, err := durable.ReadNames(dir)
		if err != nil {
			return listed{}, err
		}
		for _, n := range names {
			if ni, ok := parseName(eventFileRE, n); ok {
				ni.dir = dir
				ls.events = append(ls.events, ni)
			} else if ni, ok := parseName(digestFileRE, n); ok {
				ni.dir = dir
				ls.digests = append(ls.digests, ni)
			}
		}
	}
	bySeq := func(a, b nameInfo) int { return cmp.Compare(a.seq, b.seq) }
	slices.SortFunc(ls.events, bySeq)
	slices.SortFunc(ls.digests, bySeq)
	for _, list := range [][]nameInfo{ls.events, ls.digests} {
		for i := 1; i < len(list); i++ {
			a, b := list[i-1], list[i]
			switch {
			case a.seq != b.seq:
			case a.dir == b.dir:
				return listed{}, fmt.Errorf("%s and %s have the same sequence number", a.name, b.name)
			default:
				return listed{}, fmt.Errorf("%s is both in %s and in %s (an archiving that stopped half way? run it again)", b.name, a.dir, b.dir)
			}
		}
	}
	return ls, nil
}

// damaged is how Open refuses a log it cannot continue.
func damaged(format string, args ...any) error {
	return fmt.Errorf("audit: the log cannot be continued: "+format+"; run `trent audit verify` for the details", args...)
}

// recover reads where the last run stopped: the newest digest, and every
// event after what it covers, which are checked link by link and become
// the ranges the open digest covers. An incomplete last line is cut off.
func (l *Log) recover() error {
	ls, err := listDir(l.dir)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	w := &l.w
	head := Head{EventHash: hex.EncodeToString(genesisHash[:])}
	if n := len(ls.digests); n > 0 {
		last := ls.digests[n-1]
		d, err := readDigest(filepath.Join(l.dir, last.name))
		switch {
		case err != nil:
			return damaged("newest digest %s: %v", last.name, err)
		case d.PublicKeySHA256 != l.fp || !d.verifySignature(l.pub):
			return damaged("newest digest %s does not verify with the signing key", last.name)
		case d.Seq != last.seq:
			return damaged("digest %s says it is number %d", last.name, d.Seq)
		}
		head = d.Head
		w.digestSeq, w.prevDigest, w.prevSig = d.Seq, last.name, d.sigText
		l.newestDigest.Store(&DigestHead{Seq: d.Seq, File: last.name, Signature: d.sigText, Head: d.Head})
		w.lastName = last.time
	}
	if _, err := hex.Decode(w.prev[:], []byte(head.EventHash)); err != nil || len(head.EventHash) != 64 {
		return damaged("newest digest's head hash %q", head.EventHash)
	}
	w.seq = head.EventSeq

	start, off := 0, int64(0)
	if head.File != "" {
		start = slices.IndexFunc(ls.events, func(n nameInfo) bool { return n.name == head.File })
		if start < 0 {
			return damaged("%s, which the newest digest covers, is missing", head.File)
		}
		off = head.Offset
	}
	// The files from the digest's head on: their lines, and what follows
	// them — a torn write, or the zeros of a preallocated file.
	type segment struct {
		off   int64
		lines [][]byte
		tail  int
		torn  []byte
	}
	segs := make([]segment, len(ls.events))
	lastData := start - 1 // the newest file holding any line or torn write
	if start >= 0 && off > 0 {
		lastData = start
	}
	for i, ev := range ls.events {
		w.lastName = maxTime(w.lastName, ev.time)
		if i < start {
			continue
		}
		o := int64(0)
		if i == start {
			o = off
		}
		fi, err := os.Stat(filepath.Join(l.dir, ev.name))
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if fi.Size() < o {
			return damaged("%s has %d bytes, fewer than the %d the newest digest covers", ev.name, fi.Size(), o)
		}
		data, err := readFrom(filepath.Join(l.dir, ev.name), o)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		s := segment{off: o}
		s.lines, s.tail, s.torn = splitSegment(data)
		segs[i] = s
		if len(s.lines) > 0 || s.torn != nil {
			lastData = i
		}
	}
	for i := start; i < len(ls.events); i++ {
		name := ls.events[i].name
		s := segs[i]
		if s.tail > 0 {
			if i < lastData {
				what := "zero bytes"
				if s.torn != nil {
					what = "an incomplete line"
				}
				return damaged("%s ends with %s but is not the newest file", name, what)
			}
			cut := s.off
			for _, ln := range s.lines {
				cut += int64(len(ln))
			}
			if err := truncateFile(filepath.Join(l.dir, name), cut); err != nil {
				return fmt.Errorf("audit: cut the unwritten end off %s: %w", name, err)
			}
			if s.torn != nil {
				sum := sha256.Sum256(s.torn)
				w.truncations = append(w.truncations, Truncation{File: name, Offset: cut, Bytes: int64(len(s.torn)), SHA256: hex.EncodeToString(sum[:])})
				l.log.Warn("audit: cut off an incomplete last line left by a crash; no Record was acknowledged for it",
					"file", name, "offset", cut, "bytes", len(s.torn))
			}
		}
		pos := s.off
		var r *Range
		for n, ln := range s.lines {
			f, err := parseLine(ln[:len(ln)-1])
			if err != nil {
				return damaged("%s line %d (byte %d): %v", name, n+1, pos, err)
			}
			if f.PrevHash != w.prev || f.Seq != w.seq+1 {
				return damaged("%s line %d (byte %d) does not follow the event before it", name, n+1, pos)
			}
			h := sha256.Sum256(ln)
			if r == nil {
				r = &Range{File: name, StartOffset: pos, FirstEventSeq: f.Seq, FirstEventHash: hex.EncodeToString(h[:])}
			}
			pos += int64(len(ln))
			r.EndOffset, r.EventCount, r.LastEventHash = pos, r.EventCount+1, hex.EncodeToString(h[:])
			w.prev, w.seq = h, f.Seq
		}
		if r != nil {
			w.ranges = append(w.ranges, *r)
		}
	}
	l.files.set(ls.events)
	if n := len(ls.events); n > 0 {
		last := ls.events[n-1]
		w.fileSeq, w.fileName = last.seq, last.name
		fi, err := os.Stat(filepath.Join(l.dir, last.name))
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		w.size = fi.Size()
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// readFrom reads a file from offset off to its end.
func readFrom(path string, off int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf, nil
}

// truncateFile cuts a file to size, durably.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
