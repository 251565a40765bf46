package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// memSink is an in-memory ShipSink: the shipper's own logic, without a
// database (the PostgreSQL sink's tests are in internal/store/postgres).
type memSink struct {
	evs     []ShippedEvent
	digests []DigestHead
}

func (m *memSink) ShippedHead(context.Context, string) (ShippedHead, error) {
	if len(m.evs) == 0 {
		return ShippedHead{}, nil
	}
	e := m.evs[len(m.evs)-1]
	return ShippedHead{Seq: e.Seq, Hash: e.Hash, File: e.File, EndOffset: e.EndOffset}, nil
}

func (m *memSink) ShipEvents(_ context.Context, _ string, evs []ShippedEvent) error {
	m.evs = append(m.evs, evs...)
	return nil
}

func (m *memSink) RecordDigest(_ context.Context, _, _ string, d DigestHead) error {
	m.digests = append(m.digests, d)
	return nil
}

// TestShipperFollowsRotation: the shipper ships across file rotations, in
// order, each event once, with the fields LookupEvents filters on, and
// records each digest's head. Once it has found its place, it follows the
// log's own list of files and never lists the directory (which holds a
// digest for every minute with events).
func TestShipperFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	sink := &memSink{}
	sh := NewShipper(sink, nil)
	sh.MaxBatch = 3
	l := openLog(t, dir, Options{MaxFileBytes: 2000, NodeID: "n-test", OnDurable: sh.Wake})
	sh.Start(l)
	if err := sh.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-l.usage.ready // GetKeyLastUsage's reading at Open, which may list
	listings := dirListings.Load()
	for i := range 20 {
		if err := l.Record(t.Context(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Digest(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := sh.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := dirListings.Load() - listings; n != 0 {
		t.Errorf("the log's directory was listed %d times while the shipper followed its rotations", n)
	}
	if err := sh.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(sink.evs) != 20 {
		t.Fatalf("%d events shipped, want 20", len(sink.evs))
	}
	files := map[string]bool{}
	for i, e := range sink.evs {
		files[e.File] = true
		if !bytes.HasSuffix(e.Line, []byte(`,"trentNode":"n-test"}`)) || bytes.Contains(cloudTrailJSON(e.Line), []byte("trent")) {
			t.Fatalf("event %d: the line does not end with its node id, or CloudTrail's view of it shows Trent's fields: %s", i, e.Line)
		}
		if e.Seq != uint64(i+1) || e.Node != "n-test" || e.EventName != "Encrypt" || e.Recipient != testAccount ||
			e.Username != "alice" || e.AccessKeyID != "AKIAEXAMPLEKEY000001" || len(e.ResourceNames) != 2 ||
			!strings.HasSuffix(e.ResourceNames[0], e.ResourceNames[1]) || e.EventTime.IsZero() {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	if len(files) < 3 {
		t.Fatalf("the events span %d files; the test wants rotations", len(files))
	}
	d := l.NewestDigest()
	if d == nil || len(sink.digests) == 0 || sink.digests[len(sink.digests)-1] != *d || d.Head.EventSeq != 20 {
		t.Fatalf("digests recorded %+v, newest %+v", sink.digests, d)
	}
}

// BenchmarkShipLine is the shipper's CPU per event, off the request
// path: reading an Encrypt event's line for the table.
func BenchmarkShipLine(b *testing.B) {
	ev := testEvent(1)
	body, err := ev.marshal()
	if err != nil {
		b.Fatal(err)
	}
	line, _ := appendLine(nil, body, 1, &genesisHash)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := shippedOf("n-bench", "f", 0, line); err != nil {
			b.Fatal(err)
		}
	}
	_ = time.Second
}

// FuzzScanLine holds the shipper's one-pass reader (scanLine) to the
// encoding/json path it replaces: for any event the log writes — the
// fuzzer picks the caller-controlled strings — both read the same fields;
// for arbitrary bytes scanLine never panics, and whatever it accepts that
// is valid JSON in the log's compact form reads the same both ways.
func FuzzScanLine(f *testing.F) {
	f.Add("alice", "Encrypt", "tenant", "t-0042", "aws-cli/2 Python", []byte(nil))
	f.Add("bob\"\\", "Decrypt", "k\u2028", "v\x00\xff", "ua\n\t", []byte(`{"trentSeq":1,"trentPrevHash":"`+strings.Repeat("0", 64)+`"}`))
	f.Add("", "", "", "", "", []byte(`{"eventName":"x","EventName":"y","trentSeq":2,"trentPrevHash":"`+strings.Repeat("a", 64)+`"}`))
	f.Add("r/s", "Sign", "a", "b", "", []byte(`{"resources":[{"ARN":"arn:aws:kms:r:1:key/k","type":"T"},null],"readOnly":true,"trentSeq":3,"trentPrevHash":"`+strings.Repeat("b", 64)+`"}`))
	f.Add("x", "y", "", "", "", []byte(`{"a":1e5,"b":-0.5,"c":[true,false,null,{"d":"\u00e9"}],"trentSeq":1,"trentPrevHash":"`+strings.Repeat("c", 64)+`"}`))
	f.Fuzz(func(t *testing.T, user, name, ck, cv, agent string, raw []byte) {
		ev := testEvent(3)
		ev.UserIdentity.UserName, ev.UserAgent = user, agent
		ev.UserIdentity.ARN = "arn:aws:iam::111122223333:user/" + user
		if name != "" {
			ev.EventName = name
		}
		if ctx, err := json.Marshal(map[string]any{"encryptionContext": map[string]string{ck: cv}}); err == nil {
			ev.RequestParameters = ctx
		}
		if len(user)%2 == 0 {
			ev.UserIdentity.Type = "AssumedRole"
		}
		body, err := ev.marshal()
		if err != nil {
			return // an event the log refuses (e.g. too large)
		}
		line, _ := appendLine(nil, body, 7, &genesisHash)
		if len(agent)%2 == 1 {
			line, _ = appendNodeLine(nil, body, 7, &genesisHash, "n-0123456789abcdef")
		}
		line = line[:len(line)-1]
		v, lf, err := scanLine(line)
		if err != nil {
			t.Fatalf("scanLine refuses a line the log wrote: %v\n%s", err, line)
		}
		sameAsJSON(t, line, v, lf)

		v, lf, err = scanLine(raw) // must not panic
		if err == nil && json.Valid(raw) && !bytes.ContainsAny(raw, " \t\r\n") && exactKeys(raw) {
			sameAsJSON(t, raw, v, lf)
		}
	})
}

func sameAsJSON(t *testing.T, line []byte, v view, lf lineFields) {
	t.Helper()
	wlf, err := parseLine(line)
	if err != nil {
		t.Fatalf("parseLine refuses what scanLine takes: %v\n%s", err, line)
	}
	var wv view
	if err := json.Unmarshal(line, &wv); err != nil {
		t.Fatalf("json refuses what scanLine takes: %v\n%s", err, line)
	}
	if lf != wlf || !reflect.DeepEqual(v, wv) {
		t.Fatalf("scanLine and encoding/json differ on\n%s\nscan %+v %+v\njson %+v %+v", line, v, lf, wv, wlf)
	}
}

// exactKeys reports whether every key of raw that encoding/json would
// match to a view field (it folds case) is spelled as the log spells it.
func exactKeys(raw []byte) bool {
	known := []string{"eventID", "eventName", "eventSource", "eventTime", "readOnly", "recipientAccountId",
		"userIdentity", "type", "arn", "ARN", "accessKeyId", "userName", "resources", "accountId", "trentSeq", "trentPrevHash"}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		s, ok := tok.(string)
		if !ok {
			continue
		}
		for _, k := range known {
			if strings.EqualFold(s, k) && s != k {
				return false
			}
		}
	}
}

// TestShipperAfterArchive: a node whose shipped events' files were
// archived starts shipping again at the next event, found by its number
// and link, not by counting lines from a log that no longer starts at
// event 1; one whose unshipped events were archived says so.
func TestShipperAfterArchive(t *testing.T) {
	dir, to := t.TempDir(), t.TempDir()
	sink := &memSink{}
	sh := NewShipper(sink, nil)
	l := openLog(t, dir, Options{MaxFileBytes: 2000, NodeID: "n-test", OnDurable: sh.Wake})
	sh.Start(l)
	record(t, l, 0, 20)
	if err := sh.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	if err := sh.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	lagging := &memSink{evs: slices.Clone(sink.evs[:10])}

	// Three events in a new file, not shipped; the digest over them is the
	// archive's boundary, so every file of the first run moves.
	l = openLog(t, dir, Options{MaxFileBytes: 2000, NodeID: "n-test"})
	record(t, l, 20, 3)
	if err := l.Digest(t.Context()); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	if rep, err := Archive(dir, to, time.Now().Add(time.Hour)); err != nil || rep.Through != 20 {
		t.Fatalf("Archive: %+v %v, want every event of the first run moved", rep, err)
	}
	if first := eventFiles(t, dir)[0]; strings.Contains(first, sink.evs[19].File) {
		t.Fatalf("the file of the last shipped event is still there (%s): the test wants it archived", first)
	}

	sh = NewShipper(sink, nil)
	l = openLog(t, dir, Options{MaxFileBytes: 2000, NodeID: "n-test", OnDurable: sh.Wake})
	sh.Start(l)
	record(t, l, 23, 2)
	if err := sh.Sync(t.Context()); err != nil {
		t.Fatalf("shipping after the archive: %v", err)
	}
	if err := sh.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(sink.evs) != 25 {
		t.Fatalf("%d events shipped, want 25", len(sink.evs))
	}
	for i, e := range sink.evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("shipped event %d is event %d", i+1, e.Seq)
		}
	}

	sh = NewShipper(lagging, nil)
	sh.Start(l)
	err := sh.Sync(t.Context())
	if err == nil || !strings.Contains(err.Error(), "events it had not shipped yet were archived or deleted") {
		t.Fatalf("shipping from event 11 after events 1 to 23 were archived: %v", err)
	}
	sh.Close(t.Context())
	closeLog(t, l)
}
