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
	seq  uint64 // set by the writer
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
	// flushUses is how many keys waiting start a write at once; fewer wait
	// for flushEvery.
	flushUses  = 2048
	flushEvery = time.Second
)

// usageLimits are the limits above; tests make them small.
var usageLimits = struct {
	limit, batch int
	every        time.Duration
}{maxPendingUses, flushUses, flushEvery}

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
	every time.Duration // flushEvery

	mu      sync.Mutex
	pending map[string]store.KeyUse // newest use per key, not yet given to the store
	writing map[string]store.KeyUse // being written by the flusher
	through uint64                  // the last sequence number the writer gave
	openSeq uint64                  // the log's last sequence number at Open
	gap     uint64                  // uses from this seq on may be missing here; 0: none
	dropped uint64                  // uses dropped because pending was full (then read back)
	start   time.Time               // TrackingStartDate: the first event's time
	err     error                   // reading the log at Open failed

	// The flusher's own (usageflush.go).
	stored  store.KeyUseMark // the mark the store holds
	readAt  uint64           // while reading the log: read through this seq
	reading bool
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
		l: l, st: st, node: l.opts.NodeID, limit: usageLimits.limit, batch: usageLimits.batch, every: usageLimits.every,
		pending: map[string]store.KeyUse{},
		through: l.w.seq, openSeq: l.w.seq, // Open calls this before the writer starts
		syncReq: make(chan chan error),
		kick:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		stopc:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	go x.run(l.clock.Now())
	return x
}

// add records the uses of a durable batch. Called by the writer: it
// never waits for the store.
func (x *usageIndex) add(ms []eventMeta) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, m := range ms {
		x.through = max(x.through, m.seq)
		for _, k := range m.keys {
			x.put(store.KeyUse{KeyARN: k, Operation: m.u.Operation, Time: m.u.Time,
				EventID: m.u.EventID, RequestID: m.u.RequestID, Node: x.node, Seq: m.seq}, false)
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
		if x.gap == 0 || u.Seq < x.gap {
			x.gap = u.Seq
		}
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
