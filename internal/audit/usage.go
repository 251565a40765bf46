package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Usage is a key's last successful cryptographic use, as GetKeyLastUsage
// answers it.
type Usage struct {
	Operation string
	Time      time.Time
	EventID   string
	RequestID string
	seq       uint64
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

// usageIndex holds each key's last use, in memory: built at Open by one
// background scan of the files, then kept current by the writer as
// events become durable. It costs no write per request.
type usageIndex struct {
	mu    sync.Mutex
	last  map[string]Usage
	start time.Time // TrackingStartDate: the first event's time
	ready chan struct{}
	stopc chan struct{}
	err   error
}

func newUsageIndex(l *Log) *usageIndex {
	x := &usageIndex{last: map[string]Usage{}, ready: make(chan struct{}), stopc: make(chan struct{})}
	pos := *l.durable.Load()
	opened := l.clock.Now()
	go func() {
		defer close(x.ready)
		start, err := x.scan(l.dir, pos)
		x.mu.Lock()
		x.start, x.err = start, err
		if start.IsZero() {
			x.start = opened
		}
		x.mu.Unlock()
		if err != nil && !errors.Is(err, errStopped) {
			l.log.Error("audit: reading the log for GetKeyLastUsage", "err", err)
		}
	}()
	return x
}

var errStopped = errors.New("audit: closed")

// scan reads every durable event at Open, oldest first.
func (x *usageIndex) scan(dir string, pos position) (time.Time, error) {
	ls, err := listDir(dir)
	if err != nil {
		return time.Time{}, err
	}
	var first time.Time
	for _, f := range ls.events {
		if f.seq > pos.fileSeq {
			break
		}
		data, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return first, err
		}
		if f.seq == pos.fileSeq && int64(len(data)) > pos.size {
			data = data[:pos.size]
		}
		lines, _ := splitLines(data)
		for _, ln := range lines {
			select {
			case <-x.stopc:
				return first, errStopped
			default:
			}
			ln = ln[:len(ln)-1] // readLine takes a line without its newline
			if first.IsZero() {
				if v, _, err := readLine(ln); err == nil {
					first = v.EventTime.Time
				}
			}
			if !bytes.Contains(ln, []byte(`"eventSource":"kms.amazonaws.com"`)) || bytes.Contains(ln, []byte(`"errorCode":`)) {
				continue
			}
			// readLine reads the log's compact lines in one pass, without
			// reflection (shipscan.go): at Open the whole log goes through
			// here, and encoding/json made that several seconds of CPU
			// competing with the first requests on a large log.
			v, lf, err := readLine(ln)
			if err != nil || v.EventType != TypeAPICall || v.ErrorCode != "" || !cryptoOps[v.EventName] {
				continue
			}
			m := eventMeta{u: Usage{Operation: v.EventName, Time: v.EventTime.Time, EventID: v.EventID, RequestID: v.RequestID}, seq: lf.Seq}
			for _, r := range v.Resources {
				if r.Type == ResourceTypeKey {
					m.keys = append(m.keys, r.ARN)
				}
			}
			x.add([]eventMeta{m})
		}
	}
	return first, nil
}

// add records uses, keeping for each key the one latest in the log.
func (x *usageIndex) add(ms []eventMeta) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, m := range ms {
		for _, k := range m.keys {
			if cur, ok := x.last[k]; !ok || cur.seq < m.seq {
				u := m.u
				u.seq = m.seq
				x.last[k] = u
			}
		}
	}
}

func (x *usageIndex) stop() {
	select {
	case <-x.stopc:
	default:
		close(x.stopc)
	}
	<-x.ready
}

// LastUsage returns the key's last successful cryptographic use recorded
// in the log (false if none), and the TrackingStartDate: since when uses
// are known — the time of the first event in the files, or, for a log that
// was empty when opened, the time it was opened. (A log reopened later
// reports its first event's time, a little after its first opening: the
// conservative side, as GetKeyLastUsage then says a key made in between
// may have been used before tracking began.)
func (l *Log) LastUsage(ctx context.Context, keyARN string) (Usage, bool, time.Time, error) {
	select {
	case <-l.usage.ready:
	case <-ctx.Done():
		return Usage{}, false, time.Time{}, context.Cause(ctx)
	}
	x := l.usage
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err != nil {
		return Usage{}, false, time.Time{}, fmt.Errorf("audit: last usage: %w", x.err)
	}
	u, ok := x.last[keyARN]
	return u, ok, x.start, nil
}
