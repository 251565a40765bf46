package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/store"
)

// Errors Record and Ready return. Every one of them means: answer the
// request with a 5xx and release nothing.
var (
	// ErrUnavailable: the log cannot write now (the disk is full or
	// failing, or the writer is stuck). Ready fails with it until the log
	// has recovered by itself.
	ErrUnavailable = errors.New("audit: log unavailable")
	// ErrTimeout: the event was not durable within Options.Deadline. It
	// wraps ErrUnavailable; DependencyTimeoutException is its AWS name.
	ErrTimeout = fmt.Errorf("%w: deadline exceeded", ErrUnavailable)
	// ErrClosed: the log is closed. It wraps ErrUnavailable.
	ErrClosed = fmt.Errorf("%w: closed", ErrUnavailable)
)

// Options configure a Log. Dir and Signer are required.
type Options struct {
	// Dir holds the files: <data-dir>/audit.
	Dir string
	// Signer signs the digests: an ECDSA P-384 key (GenerateSigningKey).
	Signer crypto.Signer
	// MaxFileBytes starts a new file once the current one holds this much
	// (default 64 MiB).
	MaxFileBytes int64
	// DigestInterval is the longest time events wait for a digest while
	// the log is open (default one minute).
	DigestInterval time.Duration
	// Deadline bounds how long Record waits for its event to be durable,
	// and how long a write may hang before Ready reports the log stuck
	// (default 5 s).
	Deadline time.Duration
	// Mirror, if set, is a second sink (stdout, a pipe to a log shipper)
	// that receives each event line after it is durable. It is best
	// effort: lines it does not take fast enough are dropped and counted
	// (Stats.MirrorDropped), so it can never slow or block the log.
	Mirror io.Writer
	// MirrorQueue is how many lines wait for the mirror before they are
	// dropped (default 4096).
	MirrorQueue int
	// MaxQueue is how many events may wait for the disk; Record refuses
	// more, unrecorded (default 65536). Only callers who ignore Ready
	// while the disk is stuck can reach it.
	MaxQueue int
	// FS is the file layer the writer uses (default OS).
	FS FileSystem
	// Clock dates the file names and digests (default the real clock).
	Clock clock.Clock
	// Logger receives the log's own troubles (default slog.Default).
	Logger *slog.Logger
	// NodeID, when several nodes share one installation, names this
	// node's log in each line ("trentNode") and each digest (cluster.go);
	// "" for a single node, whose files stay as they were.
	NodeID string
	// OnDurable, if set, is called by the writer after events or a digest
	// became durable. It must return at once (a non-blocking send): the
	// shipper to the cluster's event table uses it (ship.go).
	OnDurable func()
	// KeyUses, if set, is the store GetKeyLastUsage's uses are written to
	// in batches (usage.go); nil keeps them in memory, for tools and tests.
	KeyUses store.KeyUses
	// Intents, if set, is the store's audit outbox (intent.go): Open
	// writes the events of this node's intents that the log lacks, and the
	// log deletes the intents of recorded events. nil: no intents.
	Intents store.AuditIntents
	// ArchiveDir, if set, is where the log's older part is archived
	// (Archive): Open searches it for the events of intents a restored
	// store holds (intent.go, archivedIntents).
	ArchiveDir string
}

// Log is an open audit log: one writer goroutine that appends events and
// writes digests, in one directory. Open it once per directory.
type Log struct {
	dir    string
	opts   Options
	fs     FileSystem
	signer crypto.Signer
	pub    *ecdsa.PublicKey
	fp     string
	log    *slog.Logger
	clock  clock.Clock
	epoch  time.Time // the base of busySince: monotonic time

	mu  sync.Mutex
	cur *batch // filling while the writer is busy; it takes it whole
	// free are written batches' buffers, which new ones reuse: two, for
	// the batch filling while one is written, and the next.
	free   [2]batchBufs
	nfree  int
	open   []*batch    // batches not yet answered, oldest first
	expiry *time.Timer // answers the batches of open whose deadline passed (expire)
	armed  bool        // expiry will fire: open was not empty when it was last set
	closed bool
	// errTimeout is the answer of a batch whose deadline passed.
	errTimeout error

	queued    atomic.Int64 // events queued or being retried
	isClosed  atomic.Bool
	failure   atomic.Pointer[failure]
	busySince atomic.Int64 // 1 + nanoseconds after epoch when the writer began its work; 0 while idle
	durable   atomic.Pointer[position]

	wake      chan struct{}
	digestReq chan chan error
	quit      chan struct{}
	done      chan struct{}
	closeErr  error

	records, batches, fsyncs, digests atomic.Uint64
	writes                            writeLatency // stats.go

	mirror  *mirror
	usage   *usageIndex
	intents *intentJanitor // intent.go; nil without Options.Intents
	spares  *spares        // spare.go
	indexer *indexer       // indexer.go

	indexCache indexCache // indexcache.go
	files      fileList   // the event files, for Lookup (files.go)

	// queuedRecovered holds the event ids of claimed intents whose events
	// a Record left queued (orphan.go).
	queuedRecovered sync.Map

	newestDigest atomic.Pointer[DigestHead] // the newest digest whose directory entry is durable (cluster.go)
	owedDigest   *DigestHead                // written, its directory entry not yet durable; the writer's

	w writer // owned by the writer goroutine (and by Open before it starts)
}

// failure is why the writer's last attempt failed, and since when it has
// been failing.
type failure struct {
	err   error
	since time.Time
}

// position is the durable end of the log, which Lookup reads up to.
type position struct {
	fileSeq uint64 // files after it hold nothing durable yet
	file    string
	size    int64
}

// batch is the events of every Record call made while the writer was
// busy: written with one write and one fsync, and answered together by
// closing one channel. Its deadline is set by the first Record that joins
// it, so no Record waits longer than Options.Deadline; one timer per log
// (Log.expiry), not one per batch, answers the batches whose deadline
// passed.
type batch struct {
	batchBufs
	deadline time.Duration // after Log.epoch (monotonic)

	answered bool          // under Log.mu: err is set, done is closed or about to be
	closing  bool          // the writer's: it answered the batch and closes done
	done     chan struct{} // closed once err is set
	err      error
}

// batchBufs are a batch's events, which the writer reads; a batch's
// callers only read its done channel and error, so once it is written its
// buffers go to the next batch.
type batchBufs struct {
	bodies []byte // the events' JSON objects, back to back
	ends   []int  // where each event's object ends in bodies
	metas  []eventMeta
}

// events is how many events b holds.
func (b *batch) events() int { return len(b.ends) }

// bodyPool holds the buffers Record encodes events into before copying
// them into the batch.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writer is the state of the files, touched only by the writer goroutine.
type writer struct {
	f         File
	fileName  string
	fileSeq   uint64 // of the current file, or of the newest existing one
	dirSynced bool
	size      int64 // durable bytes in f
	prealloc  int64 // bytes of zeros f held when it was started (spare.go); 0 if appended to
	dirty     bool  // a failed write may have left bytes past size
	lastName  time.Time

	seq  uint64   // of the last durable event
	prev [32]byte // hash of its line

	ranges      []Range // durable events no digest covers yet
	hashOwed    bool    // the last range's LastEventHash is prev's, not yet encoded (writeDigest does)
	truncations []Truncation
	digestSeq   uint64
	prevDigest  string // file name
	prevSig     string // base64
	digestDue   string // reason of a digest owed, "" if none
	dirSyncOwed bool   // the last digest's directory entry is not yet durable

	buf []byte

	thread threadKeeper // whether the writer keeps a thread of its own (thread.go)
}

const (
	defaultMaxFileBytes   = 64 << 20
	defaultDigestInterval = time.Minute
	defaultDeadline       = 5 * time.Second
	minBackoff            = 10 * time.Millisecond
	maxBackoff            = time.Second
)

// Open opens the log in o.Dir, creating the directory (0700) if needed.
// It continues the hash chain from the newest existing file, after
// cutting off an incomplete last line that a crash left (its write never
// completed, so its Record never returned nil), and writes a digest
// covering whatever the last run left uncovered. It refuses a directory
// whose newest digest does not verify with o.Signer's key, or whose
// uncovered events do not chain: Trent does not append to a log it cannot
// vouch for (trent audit verify names the problem).
func Open(o Options) (*Log, error) {
	if o.Dir == "" || o.Signer == nil {
		return nil, errors.New("audit: Open needs a directory and a signer")
	}
	if o.NodeID != "" && !ValidNodeID(o.NodeID) {
		return nil, fmt.Errorf("audit: %q is not a node id", o.NodeID)
	}
	pub, err := p384(o.Signer.Public())
	if err != nil {
		return nil, err
	}
	fp, err := Fingerprint(pub)
	if err != nil {
		return nil, err
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = defaultMaxFileBytes
	}
	if o.DigestInterval <= 0 {
		o.DigestInterval = defaultDigestInterval
	}
	if o.Deadline <= 0 {
		o.Deadline = defaultDeadline
	}
	if o.MirrorQueue <= 0 {
		o.MirrorQueue = 4096
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 65536
	}
	if o.FS == nil {
		o.FS = OS{}
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	l := &Log{
		dir: o.Dir, opts: o, fs: o.FS, signer: o.Signer, pub: pub, fp: fp,
		log: o.Logger, clock: o.Clock, epoch: time.Now(),
		errTimeout: fmt.Errorf("%w: event not durable after %v (it stays queued)", ErrTimeout, o.Deadline),
		wake:       make(chan struct{}, 1),
		digestReq:  make(chan chan error),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	l.expiry = time.AfterFunc(time.Hour, l.expire)
	l.expiry.Stop()
	if err := l.prepareDir(); err != nil {
		return nil, err
	}
	if err := l.recover(); err != nil {
		return nil, err
	}
	l.durable.Store(&position{fileSeq: l.w.fileSeq, file: l.w.fileName, size: l.w.size})
	if len(l.w.ranges) > 0 || len(l.w.truncations) > 0 {
		// Cover what the last run left before anything new is written.
		// If the disk refuses, the log starts failing and the writer
		// keeps trying, as it does for any write.
		if err := l.writeDigest("open"); err != nil {
			l.setFailure(err)
			l.w.digestDue = "open"
		}
	}
	l.usage = newUsageIndex(l)
	if o.Mirror != nil {
		l.mirror = newMirror(o.Mirror, o.MirrorQueue, l.log)
	}
	if l.w.digestDue != "" {
		l.wake <- struct{}{} // retry the open digest without waiting for a request
	}
	l.spares = newSpares(l, min(o.MaxFileBytes, maxSpareBytes))
	l.indexer = newIndexer(l, l.w.fileSeq) // every file there is closed: a new one starts
	if o.Intents != nil {
		l.intents = newIntentJanitor(l)
	}
	go l.run()
	if o.Intents != nil {
		// Before anything else records: the events of requests whose
		// change a stop kept from the log (intent.go). An error reading
		// the store fails Open: the server cannot serve without it.
		if _, err := l.recoverIntents(context.Background()); err != nil {
			_ = l.Close()
			return nil, err
		}
	}
	return l, nil
}

// Ready reports whether the log can record now; it only reads a few
// atomics. The dispatch layer calls it before performing a request and
// refuses the request (5xx, nothing performed) if it fails: while the
// disk is failing or a write has hung for longer than the deadline.
func (l *Log) Ready() error {
	if l.isClosed.Load() {
		return ErrClosed
	}
	if f := l.failure.Load(); f != nil {
		return fmt.Errorf("%w: failing since %s: %w", ErrUnavailable, f.since.UTC().Format(time.RFC3339), f.err)
	}
	if b := l.busySince.Load(); b != 0 {
		if d := time.Since(l.epoch) - time.Duration(b-1); d > l.opts.Deadline {
			return fmt.Errorf("%w: a write has waited on the disk for %v", ErrTimeout, d.Round(time.Millisecond))
		}
	}
	return nil
}

// Healthy is Ready as a yes or no, for GET /readyz.
func (l *Log) Healthy() bool { return l.Ready() == nil }

// Record appends the events of one request — usually one; a cross-account
// call also gives the key owner's copy (Event.CopyFor) — and returns nil
// only once they are durable: written and fsynced, together with whatever
// other events were waiting (group commit). The dispatch layer calls it
// after performing the request, with its outcome, and releases the answer
// only if it returns nil; otherwise it answers 5xx.
//
// An error does not lose the events: they stay queued and are written as
// soon as the disk takes them (so the log may hold the event of a request
// whose caller got a 5xx — never the reverse). Record waits at most
// Options.Deadline, and fails at once while the log is failing.
func (l *Log) Record(ctx context.Context, evs ...*Event) error {
	if len(evs) == 0 {
		return nil
	}
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	bodies := (*bp)[:0]
	var endsArr [2]int
	var metasArr [2]eventMeta
	ends, metas := endsArr[:0], metasArr[:0]
	for _, ev := range evs {
		var err error
		if bodies, err = ev.appendBody(bodies); err != nil {
			return err
		}
		ends = append(ends, len(bodies))
		m := metaOf(ev)
		m.intent = intentID(ev)
		metas = append(metas, m)
	}
	if cap(bodies) <= 64<<10 {
		*bp = bodies
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if n := l.queued.Load(); n+int64(len(evs)) > int64(l.opts.MaxQueue) {
		l.mu.Unlock()
		return fmt.Errorf("%w: %d events are waiting for the disk; these %d are not recorded", ErrUnavailable, n, len(evs))
	}
	b := l.cur
	if b == nil {
		b = l.newBatch()
	}
	off := len(b.bodies)
	b.bodies = append(b.bodies, bodies...)
	for _, e := range ends {
		b.ends = append(b.ends, off+e)
	}
	b.metas = append(b.metas, metas...)
	l.queued.Add(int64(len(evs)))
	l.mu.Unlock()
	l.records.Add(uint64(len(evs)))
	select {
	case l.wake <- struct{}{}:
	default: // the writer has a wake-up pending and will take this too
	}
	if f := l.failure.Load(); f != nil {
		return fmt.Errorf("%w: %w (the event stays queued until the disk takes it)", ErrUnavailable, f.err)
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return fmt.Errorf("audit: waiting for the disk: %w", context.Cause(ctx))
	}
}

// Run is Ready and Record in one call, for a dispatch layer that wraps
// each request: if the log is not ready it returns the error without
// calling perform (nothing is performed); otherwise perform authenticates,
// authorizes and performs the request and returns its event(s) with the
// outcome, and Run records them. The caller answers the request only if
// Run returns nil. A perform that returns no event is an error: every
// request yields one.
func (l *Log) Run(ctx context.Context, perform func() []*Event) error {
	if err := l.Ready(); err != nil {
		return err
	}
	evs := perform()
	if len(evs) == 0 {
		return errors.New("audit: the request produced no event")
	}
	return l.Record(ctx, evs...)
}

// Digest writes a digest now covering the events since the last one, and
// returns once it is durable. With nothing new to cover it writes none.
func (l *Log) Digest(ctx context.Context) error {
	return ask(ctx, l.digestReq, l.done, ErrClosed)
}

// ask hands a reply channel to the goroutine serving req and waits for
// its one answer: stopped if that goroutine ended (done closed) before
// taking the request, the context's cause if ctx ends first.
func ask(ctx context.Context, req chan<- chan error, done <-chan struct{}, stopped error) error {
	reply := make(chan error, 1)
	select {
	case req <- reply:
	case <-done:
		return stopped
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Stats are counters for metrics and tests.
type Stats struct {
	Records       uint64 // events given to Record
	Batches       uint64 // batches written
	Fsyncs        uint64 // fsyncs of event files
	Digests       uint64 // digests written
	Queued        int64  // events waiting for the disk
	MirrorDropped uint64 // lines the second sink did not take in time
}

func (l *Log) Stats() Stats {
	s := Stats{
		Records: l.records.Load(), Batches: l.batches.Load(), Fsyncs: l.fsyncs.Load(),
		Digests: l.digests.Load(), Queued: l.queued.Load(),
	}
	if l.mirror != nil {
		s.MirrorDropped = l.mirror.dropped.Load()
	}
	return s
}

// Close writes what is queued and a last digest, and closes the files. It
// waits for a blocked disk at most Options.Deadline.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.isClosed.Store(true)
	l.mu.Unlock()
	close(l.quit)
	var err error
	select {
	case <-l.done:
		err = l.closeErr
	case <-time.After(l.opts.Deadline):
		err = fmt.Errorf("audit: close: the writer is blocked on the disk; %d events not yet durable may be lost", l.queued.Load())
	}
	l.spares.stop(time.Second)
	l.indexer.stop()
	l.usage.stop()
	l.intents.stop()
	if l.mirror != nil {
		l.mirror.close(time.Second)
	}
	return err
}

// run is the writer goroutine. Each round it takes every Record queued
// while the previous round wrote — that is the group commit — writes them
// with one write and one fsync, and answers them. When a write fails it
// keeps the batch, answers the waiting callers with the error, and tries
// again with growing pauses until the disk takes it.
func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.DigestInterval)
	defer tick.Stop()
	var (
		pending []*batch
		waiters []chan error // Digest callers
		retry   <-chan time.Time
		backoff = minBackoff
		closing bool
	)
	for {
		select {
		case <-l.wake:
			// The first Record of a batch wakes the writer, which the
			// scheduler then runs next, ahead of the requests already
			// running: yielding once lets them reach the queue first and
			// share this fsync rather than wait for the next one. Idle,
			// the yield returns at once; busy, it makes batches larger
			// and the CPU per request smaller (docs/ARCHITECTURE.md).
			runtime.Gosched()
		case <-tick.C:
			l.owe("interval")
		case ch := <-l.digestReq:
			waiters = append(waiters, ch)
			l.owe("request")
		case <-retry:
			retry = nil
		case <-l.quit:
			closing = true
			l.owe("close")
		}
		if b := l.take(); b != nil {
			pending = append(pending, b)
		}
		if retry != nil && !closing {
			continue // failing: wait for the next attempt
		}
		err := l.cycle(&pending)
		if err == nil {
			for _, ch := range waiters {
				ch <- nil
			}
			waiters = nil
			if l.failure.Swap(nil) != nil {
				l.log.Info("audit log recovered: the disk takes writes again")
			}
			backoff = minBackoff
		} else {
			// Fail Ready before answering, so that a caller who sees its
			// Record fail sees the log failing too.
			if l.failure.Load() == nil {
				l.log.Error("audit log cannot write: refusing requests until it can", "err", err)
			}
			l.setFailure(err)
			l.answer(pending, fmt.Errorf("%w: %w", ErrUnavailable, err))
			for _, ch := range waiters {
				ch <- err
			}
			waiters = nil
			retry = time.After(backoff)
			backoff = min(2*backoff, maxBackoff)
		}
		if closing {
			l.finish(pending, err)
			return
		}
	}
}

// newBatch starts the batch the next Records join, with their deadline,
// and makes sure expiry will answer it if the writer has not by then. The
// caller holds l.mu.
func (l *Log) newBatch() *batch {
	b := &batch{deadline: time.Since(l.epoch) + l.opts.Deadline, done: make(chan struct{})}
	if l.nfree > 0 {
		l.nfree--
		b.batchBufs, l.free[l.nfree] = l.free[l.nfree], batchBufs{}
		b.bodies, b.ends, b.metas = b.bodies[:0], b.ends[:0], b.metas[:0]
	}
	l.open = append(l.open, b)
	if !l.armed {
		// The oldest open batch is this one: nothing was open.
		l.armed = true
		l.expiry.Reset(l.opts.Deadline)
	}
	l.cur = b
	return b
}

// expire is expiry's function: it answers the open batches whose deadline
// passed with ErrTimeout (their events stay queued: the writer still
// writes them), and sets expiry again for the oldest batch still open.
// Batches open in the order their deadlines come, so those answered are
// the oldest.
func (l *Log) expire() {
	now := time.Since(l.epoch)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.open {
		if b.deadline > now {
			break
		}
		if !b.answered {
			b.answered, b.err = true, l.errTimeout
			close(b.done)
		}
	}
	l.dropAnswered()
	if len(l.open) == 0 {
		l.armed = false
		return
	}
	l.expiry.Reset(max(l.open[0].deadline-now, 0))
}

// answer answers every Record of the batches with err, once: the first
// answer — the writer's outcome or the deadline — is the one their
// callers get. Only the writer calls it.
func (l *Log) answer(bs []*batch, err error) {
	l.mu.Lock()
	for _, b := range bs {
		if !b.answered {
			b.answered, b.err, b.closing = true, err, true
		}
	}
	l.dropAnswered()
	l.mu.Unlock()
	// Closed outside the lock, which the Records joining the next batch
	// wait for: answered, set under it, keeps expire from closing these.
	for _, b := range bs {
		if b.closing {
			b.closing = false
			close(b.done)
		}
	}
}

// dropAnswered removes the answered batches from l.open, keeping the
// order of the others. The caller holds l.mu.
func (l *Log) dropAnswered() {
	n := 0
	for _, b := range l.open {
		if !b.answered {
			l.open[n] = b
			n++
		}
	}
	clear(l.open[n:])
	l.open = l.open[:n]
}

// owe notes that a digest is due, keeping the first reason.
func (l *Log) owe(reason string) {
	if l.w.digestDue == "" {
		l.w.digestDue = reason
	}
}

// recycle keeps the buffers of a written batch for the next one. Its
// callers only read its done channel and error, never its buffers.
func (l *Log) recycle(b *batch) {
	bufs := b.batchBufs
	b.batchBufs = batchBufs{}
	if cap(bufs.bodies) > 1<<20 {
		return
	}
	clear(bufs.metas) // drop the key ARNs they point to
	l.mu.Lock()
	if l.nfree < len(l.free) {
		l.free[l.nfree] = bufs
		l.nfree++
	}
	l.mu.Unlock()
}

func (l *Log) take() *batch {
	l.mu.Lock()
	b := l.cur
	l.cur = nil
	l.mu.Unlock()
	return b
}

func (l *Log) setFailure(err error) {
	if f := l.failure.Load(); f != nil {
		l.failure.Store(&failure{err: err, since: f.since})
		return
	}
	l.failure.Store(&failure{err: err, since: l.clock.Now()})
}

// cycle writes the pending batches, rotates a full file and writes a
// digest that is due. Each step is repeatable: after a failure the next
// cycle starts over where this one stopped — without the batches, once
// they are written, which it removes from *pending.
func (l *Log) cycle(pendingp *[]*batch) error {
	pending := *pendingp
	l.busySince.Store(int64(time.Since(l.epoch)) + 1)
	defer l.busySince.Store(0)
	if err := l.syncDirOwed(); err != nil {
		return err
	}
	if len(pending) > 0 {
		start := time.Now()
		if err := l.flush(pending); err != nil {
			return err
		}
		took := time.Since(start)
		l.writes.observe(took)
		l.w.thread.observe(took)
		l.answer(pending, nil)
		l.recycle(pending[len(pending)-1])
		clear(pending)
		*pendingp = pending[:0]
	}
	if w := &l.w; w.f != nil && (w.size >= l.opts.MaxFileBytes ||
		w.prealloc == 0 && w.size >= spareStartBytes && l.spares.isReady() ||
		w.size >= w.prealloc && l.spares.rampUp(w.prealloc)) {
		if err := l.cutZeros(); err != nil {
			return err
		}
		if err := l.writeDigest("rotation"); err != nil {
			return err
		}
		if err := l.w.f.Close(); err != nil {
			// Everything in it is durable already.
			l.log.Warn("audit: close rotated file", "file", l.w.fileName, "err", err)
		}
		l.w.f, l.w.dirSynced = nil, false
		l.indexer.closed(l.w.fileSeq)
	}
	if l.w.digestDue != "" {
		if err := l.writeDigest(l.w.digestDue); err != nil {
			return err
		}
		l.w.digestDue = ""
	}
	return nil
}

// finish ends the writer at Close.
func (l *Log) finish(pending []*batch, err error) {
	if err != nil {
		n := 0
		for _, b := range pending {
			n += b.events()
		}
		l.closeErr = fmt.Errorf("audit: close: %d events could not be written: %w", n, err)
		l.log.Error("audit log closed with events unwritten", "events", n, "err", err)
	}
	if l.w.f != nil {
		if cerr := l.cutZeros(); cerr != nil {
			// Open cuts them off after a crash too.
			l.log.Warn("audit: close: cut the unwritten zeros off the last file", "file", l.w.fileName, "err", cerr)
		}
		if cerr := l.w.f.Close(); cerr != nil && l.closeErr == nil {
			l.closeErr = fmt.Errorf("audit: close %s: %w", l.w.fileName, cerr)
		}
		l.w.f = nil
	}
}

// nameTime is the time for a new file's name: now, or the last name's
// time if the clock went back, so that names keep sorting in order.
func (l *Log) nameTime() time.Time {
	t := l.clock.Now().UTC().Truncate(time.Second)
	if t.Before(l.w.lastName) {
		t = l.w.lastName
	}
	l.w.lastName = t
	return t
}

// flush appends the batch to the current file — creating it first if the
// last one was rotated or this run has written nothing yet — and fsyncs.
func (l *Log) flush(batches []*batch) error {
	w := &l.w
	if w.f != nil && w.dirty {
		// A failed write may have left part of a batch: cut it off, so
		// that the retry lands where the chain expects it. A preallocated
		// file keeps its zeros: the retry writes over what failed, and it
		// starts with the same events, so it covers at least those bytes.
		if w.prealloc == 0 {
			if err := w.f.Truncate(w.size); err != nil {
				return fmt.Errorf("audit: cut failed write off %s: %w", w.fileName, err)
			}
		}
		if s, ok := w.f.(io.Seeker); ok {
			if _, err := s.Seek(w.size, io.SeekStart); err != nil {
				return fmt.Errorf("audit: seek %s: %w", w.fileName, err)
			}
		}
		w.dirty = false
	}
	if w.f == nil {
		name := eventFileName(l.nameTime(), w.fileSeq+1)
		path := filepath.Join(l.dir, name)
		var f File
		var pre int64
		if sp := l.spares.take(); sp != nil {
			if err := l.fs.Rename(sp.path, path); err != nil {
				l.spares.put(sp)
				return fmt.Errorf("audit: rename a preallocated segment to %s: %w", name, err)
			}
			f, pre = sp.f, sp.size
		} else {
			var err error
			if f, err = l.fs.Create(path); err != nil {
				return fmt.Errorf("audit: create %s: %w", name, err)
			}
		}
		w.f, w.fileName, w.size, w.prealloc, w.dirSynced = f, name, 0, pre, false
		w.fileSeq++
		l.files.add(name)
	}
	if !w.dirSynced {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return fmt.Errorf("audit: make %s durable: %w", w.fileName, err)
		}
		w.dirSynced = true
	}

	w.buf = w.buf[:0]
	seq, prev := w.seq, w.prev
	var first [32]byte
	n := 0
	for _, b := range batches {
		start := 0
		for i, end := range b.ends {
			var h [32]byte
			w.buf, h = l.appendLine(w.buf, b.bodies[start:end], seq+1, &prev)
			start = end
			seq++
			prev = h
			if n == 0 {
				first = h
			}
			n++
			b.metas[i].seq, b.metas[i].hash = seq, h
		}
	}
	w.dirty = true
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("audit: write %s: %w", w.fileName, err)
	}
	l.fsyncs.Add(1)
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("audit: fsync %s: %w", w.fileName, err)
	}
	w.dirty = false

	// Durable: advance the chain and the coverage owed to the next digest.
	start := w.size
	w.size += int64(len(w.buf))
	if k := len(w.ranges) - 1; k >= 0 && w.ranges[k].File == w.fileName && w.ranges[k].EndOffset == start {
		w.ranges[k].EndOffset = w.size
		w.ranges[k].EventCount += uint64(n)
		w.hashOwed = true
	} else {
		if k >= 0 && w.hashOwed {
			// The range ends where the chain was before this batch.
			w.ranges[k].LastEventHash = hex.EncodeToString(w.prev[:])
		}
		w.hashOwed = false
		w.ranges = append(w.ranges, Range{
			File: w.fileName, StartOffset: start, EndOffset: w.size,
			FirstEventSeq: w.seq + 1, EventCount: uint64(n),
			FirstEventHash: hex.EncodeToString(first[:]), LastEventHash: hex.EncodeToString(prev[:]),
		})
	}
	w.seq, w.prev = seq, prev
	l.queued.Add(-int64(n))
	l.batches.Add(1)
	l.durable.Store(&position{fileSeq: w.fileSeq, file: w.fileName, size: w.size})
	for _, b := range batches {
		l.usage.add(b.metas)
		l.intents.add(b.metas)
	}
	if l.mirror != nil {
		l.mirror.send(w.buf)
	}
	l.notifyDurable()
	return nil
}

// cutZeros cuts the zeros a preallocated file holds past its events off,
// durably, before the writer leaves the file: only the file being written
// may end in zeros.
func (l *Log) cutZeros() error {
	w := &l.w
	if w.prealloc <= w.size && !w.dirty {
		return nil
	}
	if err := w.f.Truncate(w.size); err != nil {
		return fmt.Errorf("audit: cut the zeros off %s: %w", w.fileName, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("audit: cut the zeros off %s: %w", w.fileName, err)
	}
	w.prealloc, w.dirty = 0, false
	return nil
}

// head is the log position the next digest covers through.
func (l *Log) head() Head {
	w := &l.w
	h := Head{EventSeq: w.seq, EventHash: hex.EncodeToString(w.prev[:])}
	if k := len(w.ranges) - 1; k >= 0 {
		h.File, h.Offset = w.ranges[k].File, w.ranges[k].EndOffset
	} else if w.fileName != "" {
		h.File, h.Offset = w.fileName, w.size
	}
	return h
}

// writeDigest signs and writes a digest of the events written since the
// last one; with nothing new it writes none. The file appears under its
// name only complete: it is written to a temporary name and renamed.
func (l *Log) writeDigest(reason string) error {
	w := &l.w
	if len(w.ranges) == 0 && len(w.truncations) == 0 {
		return nil
	}
	if k := len(w.ranges) - 1; k >= 0 && w.hashOwed {
		w.ranges[k].LastEventHash = hex.EncodeToString(w.prev[:])
		w.hashOwed = false
	}
	t := l.nameTime()
	d := Digest{
		Version: digestVersion, Seq: w.digestSeq + 1, Time: t.Format(timestampLayout), Reason: reason,
		PreviousFile: w.prevDigest, PreviousSignature: w.prevSig,
		Ranges: w.ranges, Head: l.head(), Truncations: w.truncations,
		SignatureAlgorithm: SignatureAlgorithm, PublicKeySHA256: l.fp, NodeID: l.opts.NodeID,
	}
	payload, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("audit: encode digest: %w", err)
	}
	sig, err := signDigest(l.signer, payload)
	if err != nil {
		return err
	}
	name := digestFileName(t, d.Seq)
	if err := l.writeFileAtomic(name, encodeDigest(payload, sig)); err != nil {
		return fmt.Errorf("audit: write digest %s: %w", name, err)
	}
	// The digest now exists under its name: it is the log's, even if
	// making its directory entry durable fails below and is retried. A
	// retry must not write a second digest of the same number.
	w.digestSeq, w.prevDigest, w.prevSig = d.Seq, name, base64.StdEncoding.EncodeToString(sig)
	w.ranges, w.truncations = nil, nil
	l.digests.Add(1)
	l.owedDigest = &DigestHead{Seq: d.Seq, File: name, Signature: w.prevSig, Head: d.Head}
	w.dirSyncOwed = true
	return l.syncDirOwed()
}

// syncDirOwed makes a renamed digest's directory entry durable, if that is
// still owed.
func (l *Log) syncDirOwed() error {
	if !l.w.dirSyncOwed {
		return nil
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("audit: make digest %s durable: %w", l.w.prevDigest, err)
	}
	l.w.dirSyncOwed = false
	l.digestDurable()
	return nil
}

// writeFileAtomic makes dir/name hold data, or leaves no file of that
// name. The caller makes the directory entry durable.
func (l *Log) writeFileAtomic(name string, data []byte) error {
	tmp := filepath.Join(l.dir, "."+name+".tmp")
	f, err := l.fs.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.fs.Rename(tmp, filepath.Join(l.dir, name))
	}
	if err != nil {
		if rerr := l.fs.Remove(tmp); rerr != nil {
			l.log.Debug("audit: remove temporary file", "file", tmp, "err", rerr)
		}
	}
	return err
}
