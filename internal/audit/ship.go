package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"
)

// ShippedEvent is one durable event line of a node, as the cluster's event
// table stores it: the line itself and the fields LookupEvents filters on.
type ShippedEvent struct {
	Node      string
	Seq       uint64   // trentSeq
	Hash      [32]byte // SHA-256 of the line as written, newline included
	File      string   // the event file holding it
	EndOffset int64    // just past its newline in File
	Line      []byte   // as written, without the newline

	EventTime     time.Time
	EventID       string
	EventName     string
	EventSource   string
	Recipient     string // recipientAccountId
	Username      string // as LookupEvents' Username attribute reads it
	AccessKeyID   string
	ReadOnly      bool
	ResourceTypes []string
	ResourceNames []string // ARNs, and the key id of each key ARN
}

// ShippedHead is the newest event of a node the table holds.
type ShippedHead struct {
	Seq       uint64 // 0: none
	Hash      [32]byte
	File      string
	EndOffset int64
}

// ShipSink is the cluster's tables as a Shipper writes them
// (internal/store/postgres implements it).
type ShipSink interface {
	// ShippedHead returns the newest event of node the table holds.
	ShippedHead(ctx context.Context, node string) (ShippedHead, error)
	// ShipEvents stores events of node, in one transaction. Events it
	// holds already (same node and sequence) are left alone if their hash
	// is the same — shipping is idempotent — and are an error if not.
	ShipEvents(ctx context.Context, node string, evs []ShippedEvent) error
	// RecordDigest records node's newest digest, unless a later one is
	// recorded already. pubFP is the signing key's fingerprint.
	RecordDigest(ctx context.Context, node, pubFP string, d DigestHead) error
}

// Shipper copies a node's durable events into the cluster's event table
// and its digests' heads into the heads table, asynchronously: it reads
// the node's own files, only up to what is durable, so nothing reaches
// the table that the node could still lose, and a request never waits for
// the database. At start it resumes after the newest event the table holds
// for the node (catch-up after a crash or an outage); a batch shipped
// twice is stored once. While the database is unreachable the events wait
// in the files, and the shipper retries with growing pauses.
type Shipper struct {
	sink   ShipSink
	logger *slog.Logger
	// MaxBatch is how many events one insert carries at most (default 500).
	MaxBatch int
	// Interval is the shortest time between two rounds (default 100 ms):
	// how long an event may wait, once durable, before it is shipped.
	Interval time.Duration

	wake chan struct{}
	quit chan struct{}
	done chan struct{}
	sync chan chan error
	l    *Log

	// The cursor, owned by the run goroutine: the next event to ship is
	// seq+1, at off in file (fileSeq), linking to prev.
	positioned bool
	fileSeq    uint64
	file       string
	off        int64
	seq        uint64
	prev       [32]byte
	digestSeq  uint64 // the newest digest recorded

	// through is seq for other goroutines: the newest event the table is
	// known to hold (0 until the first round has found it).
	through atomic.Uint64
	shipped atomic.Uint64
	batches atomic.Uint64
	failing atomic.Bool
}

// NewShipper returns a shipper to sink. Give its Wake to Options.OnDurable,
// open the log, then Start it.
func NewShipper(sink ShipSink, logger *slog.Logger) *Shipper {
	if logger == nil {
		logger = slog.Default()
	}
	return &Shipper{sink: sink, logger: logger, MaxBatch: 500, Interval: 100 * time.Millisecond,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), sync: make(chan chan error)}
}

// Wake tells the shipper that more is durable; it never blocks.
func (s *Shipper) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start ships l's events until Close. l must have been opened with a
// NodeID.
func (s *Shipper) Start(l *Log) {
	s.l = l
	go s.run()
}

// Close stops the shipper after one last round (bounded by ctx), so that a
// node stopped cleanly leaves the table complete.
func (s *Shipper) Close(ctx context.Context) error {
	err := s.Sync(ctx)
	close(s.quit)
	<-s.done
	return err
}

// Sync ships everything durable now and returns once it is in the table.
func (s *Shipper) Sync(ctx context.Context) error {
	return ask(ctx, s.sync, s.done, errors.New("audit: shipper stopped"))
}

// ShipperStats are the shipper's counters.
type ShipperStats struct {
	Shipped uint64 // events stored by this process
	Batches uint64
	Failing bool // the last round failed
}

func (s *Shipper) Stats() ShipperStats {
	return ShipperStats{Shipped: s.shipped.Load(), Batches: s.batches.Load(), Failing: s.failing.Load()}
}

// Through is the newest event of this node the cluster's table is known
// to hold: 0 until the shipper's first round has asked the table. Events
// after it must stay in the node's files (ArchiveThrough).
func (s *Shipper) Through() uint64 { return s.through.Load() }

const (
	shipPoll       = time.Second // a round even without a wake-up
	shipMinBackoff = 100 * time.Millisecond
	shipMaxBackoff = 10 * time.Second
)

func (s *Shipper) run() {
	defer close(s.done)
	tick := time.NewTicker(shipPoll)
	defer tick.Stop()
	backoff := shipMinBackoff
	var (
		retry, hold <-chan time.Time
		due         bool
	)
	for {
		var reply chan error
		select {
		case <-s.quit:
			return
		case <-s.wake:
			due = true
		case <-tick.C:
			due = true
		case <-hold:
			hold = nil
		case <-retry:
			retry, due = nil, true
		case reply = <-s.sync:
		}
		// Rounds are at least Interval apart, so that each carries many
		// events however often the writer fsyncs: the cost per round (a
		// transaction) is then shared, as an fsync is by group commit.
		if reply == nil && (!due || hold != nil || retry != nil) {
			continue
		}
		due = false
		err := s.round()
		if reply != nil {
			reply <- err
		}
		if err == nil {
			retry = nil
			hold = time.After(s.Interval)
			backoff = shipMinBackoff
			if s.failing.Swap(false) {
				s.logger.Info("audit: shipping to the cluster's event table resumed")
			}
			continue
		}
		if !s.failing.Swap(true) {
			s.logger.Error("audit: cannot ship events to the cluster's event table; they stay in this node's files and are shipped once it can (LookupEvents on other nodes does not see them meanwhile)", "err", err)
		}
		retry = time.After(backoff)
		backoff = min(2*backoff, shipMaxBackoff)
	}
}

// round ships what is durable beyond the cursor, then records the newest
// digest if it is new.
func (s *Shipper) round() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := s.l
	node := l.NodeID()
	if !s.positioned {
		if err := s.position(ctx, node); err != nil {
			return err
		}
		s.positioned = true
		s.through.Store(s.seq)
	}
	pos := l.durable.Load()
	if pos.fileSeq == s.fileSeq && s.file != "" && pos.size > s.off {
		// Still in the cursor's file: no need to list the directory.
		if err := s.shipFile(ctx, node, pos.size); err != nil {
			return err
		}
	} else if pos.fileSeq > s.fileSeq {
		// The log's own list of its files, not a listing of the
		// directory, which also holds a digest for every minute with
		// events: ~130,000 over the 90 days a log keeps by default,
		// 0.2-0.3 s to list, at every rotation (every few seconds under
		// a heavy load).
		for _, f := range l.files.get() {
			if f.seq < s.fileSeq || f.seq > pos.fileSeq {
				continue
			}
			if f.seq > s.fileSeq {
				s.fileSeq, s.file, s.off = f.seq, f.name, 0
			}
			end := int64(-1)
			if f.seq == pos.fileSeq {
				end = pos.size
			}
			if err := s.shipFile(ctx, node, end); err != nil {
				return err
			}
		}
	}
	if d := l.NewestDigest(); d != nil && d.Seq > s.digestSeq {
		if err := s.sink.RecordDigest(ctx, node, l.fp, *d); err != nil {
			return err
		}
		s.digestSeq = d.Seq
	}
	return nil
}

// shipChunk bounds what one read of a file takes into memory: more than
// the longest line.
const shipChunk = 4<<20 + MaxEventBytes

// shipFile ships the lines of the cursor's file from the cursor to end
// (-1: the file's end).
func (s *Shipper) shipFile(ctx context.Context, node string, end int64) error {
	path := filepath.Join(s.l.dir, s.file)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: ship: %w", err)
	}
	defer f.Close()
	if end < 0 {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("audit: ship: %w", err)
		}
		end = fi.Size()
	}
	var batch []ShippedEvent
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.sink.ShipEvents(ctx, node, batch); err != nil {
			return err
		}
		last := batch[len(batch)-1]
		s.off, s.seq, s.prev = last.EndOffset, last.Seq, last.Hash
		s.through.Store(s.seq)
		s.shipped.Add(uint64(len(batch)))
		s.batches.Add(1)
		batch = batch[:0]
		return nil
	}
	off, seq, prev := s.off, s.seq, s.prev
	for off < end {
		buf := make([]byte, min(end-off, shipChunk))
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			return fmt.Errorf("audit: ship: read %s: %w", s.file, err)
		}
		lines, _ := splitLines(buf)
		if len(lines) == 0 {
			return fmt.Errorf("audit: ship: %s at byte %d: no complete line", s.file, off)
		}
		for _, ln := range lines {
			ev, err := shippedOf(node, s.file, off, ln)
			if err != nil {
				return err
			}
			if ev.Seq != seq+1 || ev.prevHash != prev {
				return fmt.Errorf("audit: ship: %s at byte %d: event %d does not follow event %d: the file changed under the node (run trent audit verify)", s.file, off, ev.Seq, seq)
			}
			off += int64(len(ln))
			seq, prev = ev.Seq, ev.Hash
			batch = append(batch, ev.ShippedEvent)
			if len(batch) >= s.MaxBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

type shippedLine struct {
	ShippedEvent
	prevHash [32]byte
}

// shippedOf reads the fields of one line (with its newline) that ends at
// off+len(ln) in file. The event's Line is a slice of ln: shipFile reads
// each chunk into a buffer of its own and never reuses it.
func shippedOf(node, file string, off int64, ln []byte) (shippedLine, error) {
	body := ln[:len(ln)-1]
	v, lf, err := readLine(body)
	if err != nil {
		return shippedLine{}, fmt.Errorf("audit: ship: %s at byte %d: %w", file, off, err)
	}
	if v.Node != "" && v.Node != node {
		return shippedLine{}, fmt.Errorf("audit: ship: %s at byte %d: a line of node %s in the log of node %s", file, off, v.Node, node)
	}
	ev := ShippedEvent{
		Node: node, Seq: lf.Seq, Hash: sha256.Sum256(ln), File: file, EndOffset: off + int64(len(ln)),
		Line:      body,
		EventTime: v.EventTime.Time, EventID: v.EventID, EventName: v.EventName, EventSource: v.EventSource,
		Recipient: v.Recipient, Username: v.username(), AccessKeyID: v.UserIdentity.AccessKeyID, ReadOnly: v.ReadOnly,
	}
	for _, r := range v.Resources {
		if !slices.Contains(ev.ResourceTypes, r.Type) {
			ev.ResourceTypes = append(ev.ResourceTypes, r.Type)
		}
		ev.ResourceNames = append(ev.ResourceNames, r.ARN)
		if id := keyIDOf(r.ARN); id != "" {
			ev.ResourceNames = append(ev.ResourceNames, id)
		}
	}
	return shippedLine{ShippedEvent: ev, prevHash: lf.PrevHash}, nil
}

// position sets the cursor just after the newest event the table holds
// for node: where the table says it is, if the line there is that event,
// else found by reading the files from the start. A log that does not
// hold the event the table holds — cut short, or replaced — is not
// shipped from: the error says so, every round, until an operator looks.
func (s *Shipper) position(ctx context.Context, node string) error {
	h, err := s.sink.ShippedHead(ctx, node)
	if err != nil {
		return err
	}
	ls, err := listDir(s.l.dir)
	if err != nil {
		return fmt.Errorf("audit: ship: %w", err)
	}
	if h.Seq == 0 {
		s.fileSeq, s.file, s.off, s.seq, s.prev = 0, "", 0, 0, genesisHash
		return nil
	}
	if i := slices.IndexFunc(ls.events, func(n nameInfo) bool { return n.name == h.File }); i >= 0 {
		if ok, err := lineEndsAt(filepath.Join(s.l.dir, h.File), h.EndOffset, h.Seq, h.Hash); err == nil && ok {
			s.fileSeq, s.file, s.off, s.seq, s.prev = ls.events[i].seq, h.File, h.EndOffset, h.Seq, h.Hash
			return nil
		}
	}
	// Read from the oldest file there until the event the table holds,
	// or the one after it: the file that held the shipped event may have
	// been archived (Archive), and the log here then starts later than
	// event 1, so the lines' own numbers are read, not counted.
	var seq uint64
	for _, f := range ls.events {
		data, err := os.ReadFile(filepath.Join(s.l.dir, f.name))
		if err != nil {
			return fmt.Errorf("audit: ship: %w", err)
		}
		lines, _ := splitLines(data)
		var off int64
		for _, ln := range lines {
			lf, err := parseLine(ln[:len(ln)-1])
			if err != nil {
				return fmt.Errorf("audit: ship: %s: %w (run trent audit verify)", f.name, err)
			}
			seq = lf.Seq
			switch {
			case seq == h.Seq+1 && lf.PrevHash == h.Hash:
				s.fileSeq, s.file, s.off, s.seq, s.prev = f.seq, f.name, off, h.Seq, h.Hash
				return nil
			case seq > h.Seq+1:
				return fmt.Errorf("audit: ship: this node shipped events through %d, but its files here start at event %d, in %s: events it had not shipped yet were archived or deleted (run trent audit verify)", h.Seq, seq, f.name)
			case seq == h.Seq && sha256.Sum256(ln) != h.Hash, seq > h.Seq:
				return fmt.Errorf("audit: ship: event %d in %s is not the event %d this node shipped before, nor the one after it: its log was replaced; move the audit directory aside (a new node id) and run trent audit verify", seq, f.name, h.Seq)
			case seq == h.Seq:
				s.fileSeq, s.file, s.off, s.seq, s.prev = f.seq, f.name, off+int64(len(ln)), seq, h.Hash
				return nil
			}
			off += int64(len(ln))
		}
	}
	return fmt.Errorf("audit: ship: this node's log ends at event %d, but it shipped event %d before: its files were cut short or replaced (run trent audit verify --database-url)", seq, h.Seq)
}

// lineEndsAt reports whether the line of path that ends at end is event
// seq and hashes to hash.
func lineEndsAt(path string, end int64, seq uint64, hash [32]byte) (bool, error) {
	r, err := openBackward(path, end)
	if err != nil {
		return false, err
	}
	defer r.close()
	line, _, err := r.prev()
	if err != nil {
		return false, err
	}
	full := append(bytes.Clone(line), '\n')
	lf, err := parseLine(line)
	return err == nil && lf.Seq == seq && sha256.Sum256(full) == hash, nil
}
