package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// The audit outbox. A request that may change state carries an intent
// (store.AuditIntent) that the store commits in the transaction of its
// change; its event is recorded after the handler returns, as every
// event is. So a process that dies between the two leaves an intent
// without its event, and never a change without either:
//
//   - the writer hands the event ids of durable events whose request
//     wrote an intent to the janitor, which deletes those intents every
//     few seconds in one statement, off the request path;
//   - at Open, recoverIntents writes the event of every intent of this
//     node that the log does not hold, then deletes them all.

// Intent returns the audit intent of the request whose event is ev, for
// the dispatch layer to put in the request's context
// (store.WithAuditIntent), or nil when the log has no store to keep
// intents in. ev's eventID and time are the intent's; its body is ev as
// it stands when the store writes it.
func (l *Log) Intent(ev *Event) *store.AuditIntent {
	if l.opts.Intents == nil {
		return nil
	}
	in := &store.AuditIntent{Node: l.opts.NodeID, EventID: ev.EventID, EventTime: ev.EventTime.Time}
	in.Body = func() []byte { return intentBody(ev) }
	ev.intent = in
	return in
}

// MayChangeState reports whether a request's event may stand for a
// change of state, so that its request needs an intent: not a read-only
// call, nor a cryptographic operation, whose only effect is its answer
// (marked readOnly too, as AWS marks them; the name check keeps events
// written before that, and any other source's, right). The hot path pays
// nothing for intents.
func MayChangeState(ev *Event) bool {
	if ev.ReadOnly {
		return false
	}
	return ev.EventSource != SourceKMS || !cryptoOps[ev.EventName] && ev.EventName != "GenerateRandom"
}

// intentRecord is what an intent keeps of its request's event, under
// short names: who called, from where, what, and the keys named so far.
// Not the request's parameters or outcome, which an event recovered from
// it cannot claim to know (and which would make the row large: a key
// policy is up to 32 KB); not the eventID and eventTime, which are the
// row's own columns; not the fields every API call has alike.
type intentRecord struct {
	Identity  UserIdentity `json:"u"`
	Source    string       `json:"s"`
	Name      string       `json:"n"`
	Region    string       `json:"r"`
	IP        string       `json:"ip"`
	Agent     string       `json:"ua"`
	RequestID string       `json:"q"`
	Recipient string       `json:"a"`
	Keys      []string     `json:"k"`
}

// intentBody encodes ev's intentRecord, with the event encoder's
// primitives (it runs on every state-changing request's path).
func intentBody(ev *Event) []byte {
	b := make([]byte, 0, 384)
	b = append(b, `{"u":`...)
	b, err := ev.UserIdentity.appendJSON(b)
	if err != nil {
		return nil
	}
	for _, f := range [...]struct{ key, v string }{
		{`,"s":`, ev.EventSource}, {`,"n":`, ev.EventName}, {`,"r":`, ev.AWSRegion},
		{`,"ip":`, ev.SourceIPAddress}, {`,"ua":`, ev.UserAgent},
		{`,"q":`, ev.RequestID}, {`,"a":`, ev.RecipientAccountID},
	} {
		b = append(b, f.key...)
		b = appendString(b, f.v)
	}
	b = append(b, `,"k":[`...)
	n := 0
	for _, r := range ev.Resources {
		if r.Type == ResourceTypeKey {
			if n > 0 {
				b = append(b, ',')
			}
			b = appendString(b, r.ARN)
			n++
		}
	}
	return append(b, "]}"...)
}

// intentID names the intent of ev's request for the janitor: zero unless
// the request wrote one.
func intentID(ev *Event) store.AuditIntentID {
	if ev.intent != nil && ev.intent.Written {
		return store.AuditIntentID{EventTime: ev.intent.EventTime, EventID: ev.intent.EventID}
	}
	return store.AuditIntentID{}
}

// intentSweepEvery is how often the janitor deletes the intents of the
// events made durable since; tests shorten it.
var intentSweepEvery = 2 * time.Second

// maxIntentBacklog bounds the ids the janitor holds while the store
// refuses deletes: past it, ids are dropped, and their rows are deleted
// by the next Open's recovery, which finds their events in the log.
const maxIntentBacklog = 1 << 20

// intentJanitor deletes the intents whose events are durable.
type intentJanitor struct {
	st  store.AuditIntents
	log interface{ Warn(string, ...any) }

	mu      sync.Mutex
	ids     []store.AuditIntentID
	failing bool

	stopc chan struct{}
	done  chan struct{}
}

func newIntentJanitor(l *Log) *intentJanitor {
	j := &intentJanitor{st: l.opts.Intents, log: l.log, stopc: make(chan struct{}), done: make(chan struct{})}
	go j.run()
	return j
}

// add takes the intent ids of a durable batch. Called by the writer: it
// never waits for the store.
func (j *intentJanitor) add(ms []eventMeta) {
	if j == nil {
		return
	}
	j.mu.Lock()
	for _, m := range ms {
		if m.intent.EventID != "" && len(j.ids) < maxIntentBacklog {
			j.ids = append(j.ids, m.intent)
		}
	}
	j.mu.Unlock()
}

func (j *intentJanitor) run() {
	defer close(j.done)
	t := time.NewTicker(intentSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			j.sweep()
		case <-j.stopc:
			j.sweep()
			return
		}
	}
}

// sweep deletes the intents taken since the last sweep; those a failed
// delete keeps are tried again next time.
func (j *intentJanitor) sweep() {
	j.mu.Lock()
	ids := j.ids
	j.ids = nil
	j.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := j.st.DeleteAuditIntents(ctx, ids)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		if !j.failing {
			j.log.Warn("audit: deleting the intents of recorded events failed; trying again", "err", err)
		}
		j.failing = true
		if len(j.ids)+len(ids) <= maxIntentBacklog {
			j.ids = append(ids, j.ids...)
		}
		return
	}
	j.failing = false
}

// stop deletes what is pending, once, and stops.
func (j *intentJanitor) stop() {
	if j == nil {
		return
	}
	select {
	case <-j.stopc:
	default:
		close(j.stopc)
	}
	<-j.done
}

// intentSearchMargin is how far before an intent's time the files that
// may hold its event start: a file's name carries the time it was
// started, by the log's clock, which may differ a little from the clock
// that dated the request.
const intentSearchMargin = 5 * time.Minute

// RecoveredNote is the additionalEventData of an event written from an
// intent at start.
var RecoveredNote = json.RawMessage(`{"trentRecovered":"Trent stopped after this request's change was committed and before its event was written, so the caller got no answer. This event was written from the request's audit intent when Trent started again; its requestParameters and responseElements are not known."}`)

// recoverIntents writes, durably, the event of every intent of this node
// that the log does not hold, then deletes this node's intents. It runs
// in Open, once the writer runs and before anything else records. The
// intents this node claimed from a stopped one (orphan.go) are its own
// now, and checked against the shared event table too.
func (l *Log) recoverIntents(ctx context.Context) (int, error) {
	ins, err := l.opts.Intents.AuditIntents(ctx, l.opts.NodeID)
	if err != nil {
		return 0, fmt.Errorf("audit: read intents: %w", err)
	}
	var own, claimed []store.StoredIntent
	for _, in := range ins {
		if in.Origin != "" {
			claimed = append(claimed, in)
		} else {
			own = append(own, in)
		}
	}
	n, err := l.recordClaimed(ctx, claimed)
	if err != nil || len(own) == 0 {
		return n, err
	}
	missing, err := l.missingIntents(own)
	if err != nil {
		return 0, err
	}
	// Only this node's own: a claimed intent's event was never in this
	// log's archive, and its node's log is not here to compare with.
	if missing, err = l.archivedIntents(missing); err != nil {
		return 0, err
	}
	m, err := l.writeRecovered(ctx, own, missing)
	if errors.Is(err, errNotDurable) {
		return n, nil // logged: the events are queued, the intents kept
	}
	return n + m, err
}

// errNotDurable is writeRecovered's error when the events it recorded
// are queued, not yet durable, and the intents kept.
var errNotDurable = errors.New("audit: recovered events not yet durable")

// writeRecovered records the events of the intents missing, durably, and
// then deletes the intents ins; errNotDurable if the disk refuses.
func (l *Log) writeRecovered(ctx context.Context, ins, missing []store.StoredIntent) (int, error) {
	var evs []*Event
	for _, in := range missing {
		ev, err := recoveredEvent(in, l.opts.NodeID)
		if err != nil {
			return 0, err
		}
		evs = append(evs, ev)
		for _, res := range ev.Resources {
			if res.AccountID != "" && res.AccountID != ev.RecipientAccountID && !hasAccount(evs, ev.EventID, res.AccountID) {
				evs = append(evs, ev.CopyFor(res.AccountID))
			}
		}
	}
	if len(evs) > 0 {
		if err := l.Record(ctx, evs...); err != nil {
			// The disk refuses: the events stay queued until it takes
			// them, as any event does, and the intents stay for the next
			// start, which finds those events or writes them then. The
			// server starts failing closed, as with any failing disk.
			l.log.Error("audit: the events recovered from intents are not yet durable; their intents are kept",
				"events", len(missing), "err", err)
			return 0, errNotDurable
		}
		l.log.Warn("audit: recorded the events of requests whose change was committed before a stop kept their events from the log",
			"events", len(missing))
	}
	ids := make([]store.AuditIntentID, len(ins))
	for i, in := range ins {
		ids[i] = store.AuditIntentID{EventTime: in.EventTime, EventID: in.EventID}
	}
	if err := l.opts.Intents.DeleteAuditIntents(ctx, ids); err != nil {
		// Their events are durable: the next start finds them and
		// deletes the intents then.
		l.log.Warn("audit: deleting recovered intents failed", "err", err)
	}
	return len(missing), nil
}

func hasAccount(evs []*Event, id, account string) bool {
	for _, e := range evs {
		if e.EventID == id && e.RecipientAccountID == account {
			return true
		}
	}
	return false
}

// missingIntents returns the intents whose event id no event file of
// the log's directory holds, searching only the files that may hold them
// (findEventIDs): from the last one started before the oldest intent's
// time on — for a claimed intent, the time of its claim, when its event
// may have been written here.
func (l *Log) missingIntents(ins []store.StoredIntent) ([]store.StoredIntent, error) {
	ls, err := listDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("audit: list %s: %w", l.dir, err)
	}
	since := func(in store.StoredIntent) time.Time {
		if !in.ClaimedAt.IsZero() {
			return in.ClaimedAt
		}
		return in.EventTime
	}
	left := map[string]bool{}
	oldest := since(ins[0])
	for _, in := range ins {
		left[in.EventID] = true
		if since(in).Before(oldest) {
			oldest = since(in)
		}
	}
	if err := findEventIDs(ls.events, oldest, left); err != nil {
		return nil, err
	}
	var out []store.StoredIntent
	for _, in := range ins {
		if left[in.EventID] {
			out = append(out, in)
		}
	}
	return out, nil
}

// findEventIDs deletes from left the event ids that files hold, reading
// the files from the last one started at or before since, less
// intentSearchMargin, on: a file's name carries the time it was started,
// by the log's clock, which may differ a little from the clock that
// dated the request.
func findEventIDs(files []nameInfo, since time.Time, left map[string]bool) error {
	from := 0
	for i, f := range files {
		if !f.time.After(since.Add(-intentSearchMargin)) {
			from = i // started before: may hold it; the later ones too
		}
	}
	var pat []byte
	for _, f := range files[from:] {
		if len(left) == 0 {
			return nil
		}
		data, err := os.ReadFile(f.path())
		if err != nil {
			return fmt.Errorf("audit: search for intents' events: %w", err)
		}
		for id := range left {
			pat = append(append(append(pat[:0], `"eventID":"`...), id...), '"')
			if bytes.Contains(data, pat) {
				delete(left, id)
			}
		}
	}
	return nil
}

// archivedIntents splits off, from this node's intents whose events the
// log's directory lacks (missingIntents), those whose events are in the
// log's archive. A store restored from a backup holds the intents of the
// requests in flight when the backup was taken; their events were
// written after it, and Archive may have moved them since. Writing them
// again would put a false "recovered" event in the log, and an event id
// twice across the log and its archive.
//
// Once the beginning of the log has left the directory (its first event
// file is not the log's first), they are looked for in the archive
// directories the log knows: Options.ArchiveDir (serve
// --audit-archive-to) and those Archive noted in the directory
// (ArchivedToFile), from the files started before the oldest intent's
// time on, as in the directory. An intent is dropped only when its event
// id is found there, so never one whose event was not written; one not
// found, or an archive that cannot be read, is recovered as ever. (The
// intent of an event a stop kept from the log is dated after the files
// archived were started, so its search usually reads only the newest.)
func (l *Log) archivedIntents(missing []store.StoredIntent) (kept []store.StoredIntent, err error) {
	if len(missing) == 0 {
		return missing, nil
	}
	ls, err := listDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("audit: list %s: %w", l.dir, err)
	}
	if len(ls.events) == 0 || ls.events[0].seq == 1 {
		return missing, nil // nothing has been archived
	}
	left := map[string]bool{}
	oldest := missing[0].EventTime
	for _, in := range missing {
		left[in.EventID] = true
		if in.EventTime.Before(oldest) {
			oldest = in.EventTime
		}
	}
	dirs, err := archiveDirs(l.dir, l.opts.ArchiveDir)
	if err != nil {
		l.log.Warn("audit: cannot read where the log was archived; intents whose events may be there are recorded again", "err", err)
	}
	for _, dir := range dirs {
		arc, err := listDir(dir)
		if err == nil {
			err = findEventIDs(arc.events, oldest, left)
		}
		if err != nil {
			l.log.Warn("audit: cannot search the log's archive for the events of intents; those not found are recorded again", "archive", dir, "err", err)
		}
	}
	for _, in := range missing {
		if left[in.EventID] {
			kept = append(kept, in)
		}
	}
	if found := len(missing) - len(kept); found > 0 {
		l.log.Info("audit: intents whose events were archived are not recorded again (a store restored from an older backup holds them)",
			"foundInArchive", found, "notFound", len(kept), "archives", dirs)
	}
	return kept, nil
}

// recoveredEvent is the event of an intent whose request's event was
// never written: what the intent knew, a success (its change was
// committed), and RecoveredNote — or, for an intent node claimed from a
// stopped one, recoveredFromNote.
func recoveredEvent(in store.StoredIntent, node string) (*Event, error) {
	var rec intentRecord
	if err := json.Unmarshal(in.Body, &rec); err != nil {
		return nil, fmt.Errorf("audit: intent of event %s: %w", in.EventID, err)
	}
	if rec.Source == "" || rec.Name == "" {
		return nil, fmt.Errorf("audit: intent of event %s names no source or operation", in.EventID)
	}
	ev := NewAPICall(in.EventTime, rec.Source, rec.Name, false)
	ev.EventID = in.EventID
	ev.UserIdentity = rec.Identity
	ev.AWSRegion, ev.SourceIPAddress, ev.UserAgent = rec.Region, rec.IP, rec.Agent
	ev.RequestID, ev.RecipientAccountID = rec.RequestID, rec.Recipient
	ev.AdditionalEventData = RecoveredNote
	if in.Origin != "" {
		ev.AdditionalEventData = recoveredFromNote(in.Origin, node)
	}
	for _, arn := range append(rec.Keys, in.Keys...) {
		known := false
		for _, r := range ev.Resources {
			known = known || r.ARN == arn
		}
		if !known {
			ev.AddKey(arn)
		}
	}
	return ev, nil
}
