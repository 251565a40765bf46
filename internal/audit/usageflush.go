package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// storeTimeout bounds one write or read of the store by the flusher: a
// store that hangs must not keep it from retrying, nor Close from ending.
const storeTimeout = 10 * time.Second

// usageTailLines counts the log lines the flusher read back from the log
// (at Open, or after uses were dropped): tests tell a tail read from a
// whole-log scan by it.
var usageTailLines atomic.Uint64

// run is the flusher: it reads what the store lacks from the log at Open,
// then writes the pending uses every flushEvery, or as soon as flushUses
// keys wait, and once more at Close.
func (x *usageIndex) run() {
	defer close(x.done)
	if !x.open() {
		close(x.ready)
		return
	}
	x.mu.Lock()
	from := x.gap
	x.mu.Unlock()
	read := usageTailLines.Load()
	if err := x.catchUp(); err != nil {
		x.mu.Lock()
		x.err = err
		x.mu.Unlock()
		x.l.log.Error("audit: reading the log's tail for GetKeyLastUsage", "err", err)
	} else if from != 0 {
		x.l.log.Info("audit: read the uses the store lacked from the log's tail", "from_seq", from, "through_seq", x.openSeq,
			"lines", usageTailLines.Load()-read, "stored_seq", from-1)
	}
	close(x.ready)
	t := time.NewTicker(x.every)
	defer t.Stop()
	for {
		var reply chan error
		stopping := false
		select {
		case <-x.kick:
		case <-t.C:
		case reply = <-x.syncReq:
		case <-x.stopc:
			stopping = true
		}
		var err error
		if !stopping {
			err = x.catchUp()
			if err != nil {
				x.l.log.Error("audit: reading the log back for GetKeyLastUsage", "err", err)
			}
		}
		if ferr := x.flush(); err == nil {
			err = ferr
		}
		if reply != nil {
			reply <- err
		}
		if stopping {
			return
		}
	}
}

// sync makes the flusher read back what it dropped and write what is
// pending now (tests).
func (x *usageIndex) sync(ctx context.Context) error {
	return ask(ctx, x.syncReq, x.done, ErrClosed)
}

// open reads the store's mark for this log, retrying while the store
// fails, and sets what the log must be read from and the tracking start.
// It returns false if the log was closed first.
//
// The mark is trusted only for the log it was taken from: its hash must
// be that of the log's line at its seq. That costs nothing at Open: after
// a clean stop the mark is the log's last line, whose hash the writer
// holds; after a crash the first line read past the mark carries it
// (catchUp). A log replaced by another — restored from a backup and
// written on, another node's, a fresh one — is read from its start.
func (x *usageIndex) open() bool {
	var mark store.KeyUseMark
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		m, err := x.st.KeyUseMark(ctx, x.node)
		cancel()
		if err == nil {
			mark = m
			break
		}
		x.l.log.Warn("audit: reading how far GetKeyLastUsage's table has the log; retrying", "err", err, "in", wait)
		select {
		case <-x.stopc:
			return false
		case <-time.After(wait):
		}
	}
	switch {
	case mark.Seq == 0:
	case mark.Seq > x.openSeq:
		// The store has uses of a longer log than this one. They stay
		// (they were real); this log is read from its start.
		x.l.log.Warn("audit: the store's GetKeyLastUsage table has more of the log than the log holds (the audit directory was replaced?); reading the whole log",
			"mark", mark.Seq, "log", x.openSeq)
		mark = store.KeyUseMark{}
	case mark.Hash == [32]byte{}:
		// Stored before marks had hashes: it cannot be checked, so the
		// log is read whole, once, keeping its tracking start.
		x.l.log.Info("audit: GetKeyLastUsage's stored mark has no hash to check the log against; reading the whole log once", "mark", mark.Seq)
		mark.Seq = 0
	case mark.Seq == x.openSeq:
		if mark.Hash != x.openHash {
			x.l.log.Warn("audit: the log's last line is not the one GetKeyLastUsage's stored mark was taken from (the audit directory was replaced?); reading the whole log",
				"mark", mark.Seq)
			mark = store.KeyUseMark{}
		}
	default:
		x.check = mark
	}
	start := mark.TrackingStart
	if start.IsZero() {
		start = x.logStart()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.stored, x.start = mark, start
	if mark.Seq < x.openSeq {
		x.setGap(mark.Seq+1, mark.Hash, true)
	}
	return true
}

// catchUp reads the uses the index may lack — from x.gap through what the
// writer had given when it starts — back from the log. While it reads,
// the pending uses are written whenever they reach the limit, with a mark
// no further than what was read.
func (x *usageIndex) catchUp() error {
	x.mu.Lock()
	from, to, prev, prevOK := x.gap, x.through, x.gapHash, x.gapOK
	x.gap = 0
	x.mu.Unlock()
	if from == 0 || from > to {
		return nil
	}
	x.reading, x.readAt, x.readHash, x.readOK = true, from-1, prev, prevOK
	err := x.readLog(from, to)
	if errors.Is(err, errLogReplaced) {
		x.l.log.Warn("audit: the log is not the one GetKeyLastUsage's stored mark was taken from (the audit directory was replaced?); reading the whole log",
			"mark", x.stored.Seq)
		start := x.logStart()
		x.mu.Lock()
		x.stored, x.start = store.KeyUseMark{}, start
		x.mu.Unlock()
		x.readAt, x.readHash, x.readOK = 0, genesisHash, true
		err = x.readLog(1, to)
	}
	x.reading = false
	if err != nil {
		x.mu.Lock()
		x.setGap(x.readAt+1, x.readHash, x.readOK)
		x.mu.Unlock()
	}
	return err
}

var (
	errUsageStopped = errors.New("audit: closed while reading the log for GetKeyLastUsage")
	errLogReplaced  = errors.New("audit: the log is not the one the stored mark was taken from")
)

// logStart is the log's TrackingStartDate when the store has none for it:
// the time of its first event, or of its opening if it has none.
func (x *usageIndex) logStart() time.Time {
	if x.openSeq == 0 {
		return x.opened
	}
	t, err := firstEventTime(x.l.dir)
	if err != nil {
		x.l.log.Warn("audit: reading the log's first event for TrackingStartDate", "err", err)
	}
	if err != nil || t.IsZero() {
		return x.opened
	}
	return t
}

// readLog adds the uses of the durable events from seq from through to.
// It starts at the newest file whose first event is at most from, so a
// tail costs only its own files.
func (x *usageIndex) readLog(from, to uint64) error {
	dir := x.l.dir
	ls, err := listDir(dir)
	if err != nil {
		return err
	}
	pos := *x.l.durable.Load()
	files := ls.events
	for len(files) > 0 && files[len(files)-1].seq > pos.fileSeq {
		files = files[:len(files)-1]
	}
	first := 0
	for i := len(files) - 1; i >= 0; i-- {
		s, ok, err := firstLineSeq(filepath.Join(dir, files[i].name))
		if errors.Is(err, fs.ErrNotExist) {
			first = i + 1 // archived since the listing, and the older files with it
			break
		}
		if err != nil {
			return err
		}
		if ok && s <= from {
			first = i
			break
		}
	}
	for _, f := range files[first:] {
		limit := int64(-1)
		if f.seq == pos.fileSeq {
			limit = pos.size
		}
		done, err := x.readFile(filepath.Join(dir, f.name), limit, from, to)
		if errors.Is(err, fs.ErrNotExist) {
			continue // archived since the listing (Archive): its uses are no longer known
		}
		if done || err != nil {
			return err
		}
	}
	return nil
}

// readFile adds the uses in the event file at path (its first limit bytes
// if limit ≥ 0) from seq from through to, streaming: a tail read costs a
// buffer, not the file. done reports that it passed to.
func (x *usageIndex) readFile(path string, limit int64, from, to uint64) (done bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var r io.Reader = f
	if limit >= 0 {
		r = io.LimitReader(f, limit)
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var long []byte // a line longer than the buffer
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if bytes.IndexByte(chunk, 0) >= 0 {
				return false, nil // a preallocated file's zeros: no line holds one
			}
			long = append(long, chunk...)
			continue
		}
		if errors.Is(err, io.EOF) {
			return false, nil // the end, or a line a crash tore (Open cut it off)
		}
		if err != nil {
			return false, err
		}
		ln := chunk
		if len(long) > 0 {
			ln = append(long, chunk...)
			long = long[:0]
		}
		ln = ln[:len(ln)-1] // readLine takes a line without its newline
		if bytes.IndexByte(ln, 0) >= 0 {
			return false, nil // a preallocated file's zeros: no line holds one
		}
		select {
		case <-x.stopc:
			return false, errUsageStopped
		default:
		}
		seq, ok := lineSeq(ln)
		if !ok {
			return false, fmt.Errorf("audit: %s: a line without a sequence number", filepath.Base(path))
		}
		if seq < from {
			continue
		}
		if seq > to {
			return true, nil
		}
		if c := x.check; c.Seq != 0 {
			// The line after the mark carries the mark's line's hash.
			x.check = store.KeyUseMark{}
			if prev, ok := linePrevHash(ln); !ok || seq != c.Seq+1 || prev != c.Hash {
				return false, errLogReplaced
			}
		}
		usageTailLines.Add(1)
		if x.readAt == seq-1 {
			// A flush while reading this line writes the mark readAt,
			// whose hash this line carries: read only then (mark).
			x.readNext = ln
		}
		err = x.readUse(ln)
		x.readNext = nil
		if err != nil {
			return false, err
		}
		x.readAt, x.readOK = seq, false
	}
}

// readUse adds the uses of one line. Lines that cannot be a use are told
// by bytes, without parsing; the others go through the one-pass reader
// (shipscan.go), never encoding/json, for the log's own lines.
func (x *usageIndex) readUse(ln []byte) error {
	if !bytes.Contains(ln, []byte(`"eventSource":"kms.amazonaws.com"`)) || bytes.Contains(ln, []byte(`"errorCode":`)) {
		return nil
	}
	v, lf, err := readLine(ln)
	if err != nil || v.EventType != TypeAPICall || v.ErrorCode != "" || !cryptoOps[v.EventName] {
		return nil
	}
	for _, r := range v.Resources {
		if r.Type != ResourceTypeKey {
			continue
		}
		x.mu.Lock()
		full := len(x.pending)+len(x.writing) >= x.limit
		x.mu.Unlock()
		if full {
			if err := x.flushUntilRoom(); err != nil {
				return err
			}
		}
		x.mu.Lock()
		x.put(store.KeyUse{KeyARN: r.ARN, Operation: v.EventName, Time: v.EventTime.Time,
			EventID: v.EventID, RequestID: v.RequestID, Node: x.node, Seq: lf.Seq}, true)
		x.mu.Unlock()
	}
	return nil
}

// flushUntilRoom writes the pending uses, retrying while the store fails,
// so that reading the log never holds more than the limit.
func (x *usageIndex) flushUntilRoom() error {
	for {
		if err := x.flush(); err == nil {
			return nil
		}
		select {
		case <-x.stopc:
			return errUsageStopped
		case <-time.After(x.every):
		}
	}
}

// flush writes the pending uses and the mark they complete in one store
// transaction. On failure they go back to pending (as far as the limit
// allows; the rest is read back from the log later) and the mark stays.
func (x *usageIndex) flush() error {
	x.mu.Lock()
	m := x.mark()
	if len(x.pending) == 0 && m.Seq == x.stored.Seq && m.Hash == x.stored.Hash && x.stored.TrackingStart.Equal(m.TrackingStart) {
		x.mu.Unlock()
		return nil
	}
	x.writing, x.pending = x.pending, make(map[string]store.KeyUse, min(len(x.pending), x.limit))
	uses := make([]store.KeyUse, 0, len(x.writing))
	for _, u := range x.writing {
		uses = append(uses, u)
	}
	x.mu.Unlock()
	// One order for every writer: on PostgreSQL the nodes upsert the same
	// rows concurrently (no deadlock); and each chunk's rows lie together
	// in the table's b-tree (few pages per chunk, putChunks).
	slices.SortFunc(uses, func(a, b store.KeyUse) int { return cmp.Compare(a.KeyARN, b.KeyARN) })
	err := x.putChunks(uses, m)
	x.mu.Lock()
	if err != nil {
		for _, u := range x.writing {
			x.put(u, false)
		}
	} else {
		x.stored = m
	}
	x.writing = nil
	x.mu.Unlock()
	if err != nil {
		if !x.failing {
			x.l.log.Error("audit: writing key uses for GetKeyLastUsage; retrying", "err", err, "uses", len(uses))
		}
		x.failing = true
		return fmt.Errorf("audit: write %d key uses: %w", len(uses), err)
	}
	if x.failing {
		x.l.log.Info("audit: writing key uses for GetKeyLastUsage again")
		x.failing = false
	}
	return nil
}

// putChunks stores uses in transactions of at most x.chunk, the last with
// the mark m; the ones before keep the stored mark, so a failure part way
// leaves the mark where it was and the rows already written are written
// again, harmlessly, by the next flush. Called by the flusher only (it
// owns x.stored).
func (x *usageIndex) putChunks(uses []store.KeyUse, m store.KeyUseMark) error {
	for {
		n, mk := len(uses), m
		if n > x.chunk {
			n, mk = x.chunk, x.stored
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		err := x.st.PutKeyUses(ctx, x.node, uses[:n], mk)
		cancel()
		if err != nil || n == len(uses) {
			return err
		}
		uses = uses[n:]
	}
}

// mark is the mark the pending uses complete: the last seq through which
// every use is pending, being written or stored, with its line's hash.
// Where that line's hash is not at hand (uses dropped after it), the mark
// stays where it is: the gap is read back before the next flush. x.mu is
// held.
func (x *usageIndex) mark() store.KeyUseMark {
	seq := x.through
	if x.reading {
		seq = min(seq, x.readAt)
	}
	if x.gap != 0 {
		seq = min(seq, x.gap-1)
	}
	m := store.KeyUseMark{Seq: seq, TrackingStart: x.start}
	if h, ok := x.hashOf(seq); ok {
		m.Hash = h
	} else if x.stored.Seq < seq {
		m.Seq, m.Hash = x.stored.Seq, x.stored.Hash
	} else {
		m.Seq, m.Hash = 0, genesisHash
	}
	return m
}

// hashOf returns the hash of the log's line at seq if the index has it at
// hand. x.mu is held.
func (x *usageIndex) hashOf(seq uint64) ([32]byte, bool) {
	switch {
	case seq == x.through:
		return x.thrHash, true
	case x.reading && seq == x.readAt && x.readOK:
		return x.readHash, true
	case x.reading && seq == x.readAt && x.readNext != nil:
		if h, ok := linePrevHash(x.readNext); ok {
			return h, true
		}
	case x.gap != 0 && seq == x.gap-1 && x.gapOK:
		return x.gapHash, true
	case seq == x.stored.Seq:
		return x.stored.Hash, true
	case seq == 0:
		return genesisHash, true
	}
	return [32]byte{}, false
}

// lineSeq reads a line's trentSeq (its log fields come last).
func lineSeq(ln []byte) (uint64, bool) {
	i := bytes.LastIndex(ln, trentSuffix)
	if i < 0 {
		return 0, false
	}
	rest := ln[i+len(trentSuffix):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	seq, err := strconv.ParseUint(string(rest[:j]), 10, 64)
	return seq, err == nil && seq > 0
}

// prevHashField follows trentSeq's number in a line.
var prevHashField = []byte(`,"trentPrevHash":"`)

// linePrevHash reads a line's trentPrevHash.
func linePrevHash(ln []byte) ([32]byte, bool) {
	var h [32]byte
	i := bytes.LastIndex(ln, prevHashField)
	if i < 0 || len(ln) < i+len(prevHashField)+2*len(h) {
		return h, false
	}
	_, err := hex.Decode(h[:], ln[i+len(prevHashField):][:2*len(h)])
	return h, err == nil
}

// firstLine returns the first complete line of the event file at path,
// without its newline; nil if it has none.
func firstLine(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 0, 16<<10)
	for {
		i := bytes.IndexByte(buf, '\n')
		if z := bytes.IndexByte(buf, 0); z >= 0 && (i < 0 || z < i) {
			return nil, nil // a preallocated file's zeros: no event yet
		}
		if i >= 0 {
			return buf[:i], nil
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF || n == 0 && err == nil {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// firstLineSeq returns the sequence number of the first event in the
// event file at path, false if it holds none.
func firstLineSeq(path string) (uint64, bool, error) {
	ln, err := firstLine(path)
	if err != nil || ln == nil {
		return 0, false, err
	}
	seq, ok := lineSeq(ln)
	return seq, ok, nil
}

// firstEventTime returns the time of the log's first event (zero if it
// has none).
func firstEventTime(dir string) (time.Time, error) {
	ls, err := listDir(dir)
	if err != nil {
		return time.Time{}, err
	}
	for _, f := range ls.events {
		ln, err := firstLine(filepath.Join(dir, f.name))
		if err != nil {
			return time.Time{}, err
		}
		if ln == nil {
			continue
		}
		v, _, err := readLine(ln)
		if err != nil {
			return time.Time{}, fmt.Errorf("audit: %s: first line: %w", f.name, err)
		}
		return v.EventTime.Time, nil
	}
	return time.Time{}, nil
}
