package audit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// Usage is a key's last successful cryptographic use, as GetKeyLastUsage
// answers it.
type Usage struct {
	Operation string
	Time      time.Time
	EventID   string
	RequestID string
}

// cryptoOps are the operations GetKeyLastUsage counts as a use.
var cryptoOps = map[string]bool{
	"Encrypt": true, "Decrypt": true, "ReEncrypt": true,
	"GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
	"GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true,
	"Sign": true, "Verify": true, "GenerateMac": true, "VerifyMac": true,
	"DeriveSharedSecret": true, "Encapsulate": true, "Decapsulate": true,
}

// eventMeta is what the usage index takes from a recorded event.
type eventMeta struct {
	keys []string // the keys of a successful cryptographic use, else nil
	u    Usage
	seq  uint64   // set by the writer
	hash [32]byte // the line's hash, set by the writer
	// intent names the event's audit intent if its request wrote one
	// (intent.go); zero else.
	intent store.AuditIntentID
}

func metaOf(ev *Event) eventMeta {
	if ev.EventType != TypeAPICall || ev.EventSource != SourceKMS || ev.ErrorCode != "" || !cryptoOps[ev.EventName] {
		return eventMeta{}
	}
	m := eventMeta{u: Usage{Operation: ev.EventName, Time: ev.EventTime.Time, EventID: ev.EventID, RequestID: ev.RequestID}}
	for _, r := range ev.Resources {
		if r.Type == ResourceTypeKey {
			m.keys = append(m.keys, r.ARN)
		}
	}
	return m
}

// Limits of the usage index's memory (usageflush.go): it holds only the
// uses not yet written to the store, one per key.
const (
	// maxPendingUses bounds the keys waiting for the store. A use of one
	// more key is dropped, and read back from the log by the flusher
	// (usageflush.go), so that a store that is down or slow costs a
	// bounded amount of memory and never blocks the writer.
	maxPendingUses = 16384
	// flushUses is how many keys waiting start a write at once, before
	// flushEvery: three quarters of the bound, so that a write starts
	// early only when the index nears it. A flush rewrites the rows of the
	// keys used since the last one, and what it costs SQLite is the
	// b-tree pages those rows are on, nearly all of them when the keys are
	// many: at 2,048 keys and every second, Encrypt spread over 10,000 hot
	// keys rewrote some 550 pages (~2 MB of WAL) several times a second,
	// 3–6 KB written per request, ~15 % of its CPU (docs/ARCHITECTURE.md,
	// "Scale: a million keys").
	flushUses = 12288
	// flushEvery is how long a use waits for the store on one node. The
	// index answers GetKeyLastUsage exactly meanwhile; what the wait costs
	// is the log a start after a crash reads back (≤ 5 s of events).
	flushEvery = 5 * time.Second
	// clusterFlushEvery is the wait when several nodes share the store:
	// the other nodes see this node's uses only there.
	clusterFlushEvery = time.Second
	// flushChunk bounds the uses of one store transaction, so that a flush
	// of many keys does not hold SQLite's writer, and the group commit's
	// other writes behind it, for long. Sorted by key, each chunk's rows
	// lie together, so chunks touch few pages each.
	flushChunk = 2048
)

// usageLimits are the limits above; tests make them small.
var usageLimits = struct {
	limit, batch, chunk int
	every, cluster      time.Duration
}{maxPendingUses, flushUses, flushChunk, flushEvery, clusterFlushEvery}

// usageIndex is each key's last use that the store does not hold yet:
// the writer adds the uses of each durable batch, at no cost of a write
// per request, and the flusher (usageflush.go) writes them to the store
// in batches, with the log position they cover (the mark), and forgets
// them. At Open the flusher reads the log only from the stored mark on:
// the uses a crash kept from the store.
type usageIndex struct {
	l     *Log
	st    store.KeyUses
	node  string
	limit int           // maxPendingUses, smaller in tests
	batch int           // flushUses
	chunk int           // flushChunk
	every time.Duration // flushEvery, or clusterFlushEvery with a node id

	mu       sync.Mutex
	pending  map[string]store.KeyUse // newest use per key, not yet given to the store
	writing  map[string]store.KeyUse // being written by the flusher
	through  uint64                  // the last sequence number the writer gave
	thrHash  [32]byte                // the hash of its line
	openSeq  uint64                  // the log's last sequence number at Open
	openHash [32]byte                // the hash of its line
	opened   time.Time               // when the log was opened
	gap      uint64                  // uses from this seq on may be missing here; 0: none
	gapHash  [32]byte                // the hash of the line at gap-1, if gapOK
	gapOK    bool
	dropped  uint64    // uses dropped because pending was full (then read back)
	start    time.Time // TrackingStartDate: the first event's time
	err      error     // reading the log at Open failed

	// The flusher's own (usageflush.go).
	stored   store.KeyUseMark // the mark the store holds
	readAt   uint64           // while reading the log: read through this seq
	readHash [32]byte         // the hash of its line, if readOK
	readOK   bool
	readNext []byte // the line after readAt, while reading it: it carries readAt's hash
	reading  bool
	// check is the stored mark that the first line catchUp reads must
	// follow (its trentPrevHash is check.Hash) for the log to be the one
	// the mark was taken from; Seq 0 once checked.
	check   store.KeyUseMark
	failing bool // the last write failed (logged once)

	kick    chan struct{}
	syncReq chan chan error // flush now (tests)
	ready   chan struct{}   // closed once the log's tail is read at Open
	stopc   chan struct{}
	done    chan struct{}
}

func newUsageIndex(l *Log) *usageIndex {
	st := l.opts.KeyUses
	if st == nil {
		st = &memKeyUses{uses: map[string]store.KeyUse{}}
	}
	x := &usageIndex{
		l: l, st: st, node: l.opts.NodeID, limit: usageLimits.limit, batch: usageLimits.batch, chunk: usageLimits.chunk, every: usageLimits.every,
		pending: map[string]store.KeyUse{},
		// Open calls this before the writer starts.
		through: l.w.seq, thrHash: l.w.prev, openSeq: l.w.seq, openHash: l.w.prev, opened: l.clock.Now(),
		syncReq: make(chan chan error),
		kick:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		stopc:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	if x.node != "" {
		x.every = min(x.every, usageLimits.cluster)
	}
	go x.run()
	return x
}

// add records the uses of a durable batch. Called by the writer: it
// never waits for the store.
func (x *usageIndex) add(ms []eventMeta) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, m := range ms {
		for _, k := range m.keys {
			x.put(store.KeyUse{KeyARN: k, Operation: m.u.Operation, Time: m.u.Time,
				EventID: m.u.EventID, RequestID: m.u.RequestID, Node: x.node, Seq: m.seq}, false)
		}
		if m.seq > x.through {
			x.through, x.thrHash = m.seq, m.hash
		}
	}
	if len(x.pending) >= x.batch {
		select {
		case x.kick <- struct{}{}:
		default:
		}
	}
}

// put keeps u if it is later than the key's pending use. A new key
// beyond the limit — counting the uses being written — is dropped unless
// force is set, and the log is read again from its seq on
// (usageflush.go). x.mu is held.
func (x *usageIndex) put(u store.KeyUse, force bool) {
	cur, ok := x.pending[u.KeyARN]
	switch {
	case ok && !u.Later(cur):
	case ok || force || len(x.pending)+len(x.writing) < x.limit:
		x.pending[u.KeyARN] = u
	default:
		x.dropped++
		// The writer (add) gives uses in log order: then the line before
		// u's is the one it gave last.
		x.setGap(u.Seq, x.thrHash, x.through == u.Seq-1)
	}
}

// setGap notes that uses from seq on may be missing here, if that is
// before the gap noted; prev is the hash of the line at seq-1, if ok.
// x.mu is held.
func (x *usageIndex) setGap(seq uint64, prev [32]byte, ok bool) {
	if x.gap == 0 || seq < x.gap {
		x.gap, x.gapHash, x.gapOK = seq, prev, ok
	}
}

// held returns the number of uses the index holds in memory.
func (x *usageIndex) held() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.pending) + len(x.writing)
}

func (x *usageIndex) stop() {
	select {
	case <-x.stopc:
	default:
		close(x.stopc)
	}
	<-x.done
}

// LastUsage returns the key's last successful cryptographic use recorded
// in the log (false if none), and the TrackingStartDate: since when uses
// are known — the time of the log's first event, or, for a log that was
// empty when it was first opened, the time it was opened (kept in the
// store with the mark). A use is visible here once its event is durable,
// before its request is answered: from the index until the store holds
// it, then from the store — which, shared by several nodes on
// PostgreSQL, also holds the uses the other nodes shipped.
func (l *Log) LastUsage(ctx context.Context, keyARN string) (Usage, bool, time.Time, error) {
	x := l.usage
	select {
	case <-x.ready:
	case <-ctx.Done():
		return Usage{}, false, time.Time{}, context.Cause(ctx)
	}
	x.mu.Lock()
	err, start := x.err, x.start
	mem, inMem := x.pending[keyARN]
	if w, ok := x.writing[keyARN]; ok && (!inMem || w.Later(mem)) {
		mem, inMem = w, true
	}
	x.mu.Unlock()
	if err != nil {
		return Usage{}, false, time.Time{}, fmt.Errorf("audit: last usage: %w", err)
	}
	// Read after the index: a use the flusher takes from it meanwhile is
	// in the store by the time writing forgets it.
	u, ok, err := x.st.LastKeyUse(ctx, keyARN)
	if err != nil {
		return Usage{}, false, time.Time{}, fmt.Errorf("audit: last usage: %w", err)
	}
	if inMem && (!ok || mem.Later(u)) {
		u, ok = mem, true
	}
	if !ok {
		return Usage{}, false, start, nil
	}
	return Usage{Operation: u.Operation, Time: u.Time, EventID: u.EventID, RequestID: u.RequestID}, true, start, nil
}

// memKeyUses keeps key uses in memory, for a log opened without a store
// (tools and tests): it grows with the keys used and, holding no mark
// across runs, makes each Open read the whole log.
type memKeyUses struct {
	mu   sync.Mutex
	uses map[string]store.KeyUse
	mark store.KeyUseMark
}

func (m *memKeyUses) LastKeyUse(_ context.Context, keyARN string) (store.KeyUse, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.uses[keyARN]
	return u, ok, nil
}

func (m *memKeyUses) KeyUseMark(context.Context, string) (store.KeyUseMark, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mark, nil
}

func (m *memKeyUses) PutKeyUses(_ context.Context, _ string, uses []store.KeyUse, mark store.KeyUseMark) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range uses {
		if cur, ok := m.uses[u.KeyARN]; !ok || u.Later(cur) {
			m.uses[u.KeyARN] = u
		}
	}
	m.mark = mark
	return nil
}
