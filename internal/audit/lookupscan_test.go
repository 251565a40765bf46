package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/clock"
)

// weird are values that test the pre-filter's encoding: escapes, HTML
// characters, non-ASCII, what the decoder turns into U+FFFD, slashes and
// ":key/" inside names.
var weird = []string{
	"alice", "root", "Root", "build-42", "Encrypt", "CreateKey", "a<b>c", "x&y", `q"uote`, `back\slash`,
	"tab\there", "nl\n", "é", "日本", "\u2028", "\ufffd", "\xff", "a/b", "k:key/z", "11112222-aaaa", "true", "false",
	"AWS::KMS::Key", "kms.amazonaws.com", "sts.amazonaws.com", "\x00", "AKIA1", "ASIA2",
}

// lookupEvent is an event whose every searchable field is drawn from
// weird, shaped like the events Trent writes.
func lookupEvent(r *rand.Rand, at time.Time, pool []string) *Event {
	pick := func() string { return pool[r.IntN(len(pool))] }
	acct := []string{testAccount, otherAcct}[r.IntN(2)]
	e := NewAPICall(at, pick(), pick(), r.IntN(2) == 0)
	switch r.IntN(3) {
	case 0:
		// (A userName, which Root identities lack, puts a refused hit of
		// Username "root" before a found one on the same line.)
		e.UserIdentity = UserIdentity{Type: "Root", ARN: "arn:aws:iam::" + acct + ":root", AccountID: acct, AccessKeyID: pick(), UserName: []string{"", pick()}[r.IntN(2)]}
	case 1:
		e.UserIdentity = UserIdentity{Type: "IAMUser", ARN: "arn:aws:iam::" + acct + ":user/" + pick(), AccountID: acct, AccessKeyID: pick(), UserName: pick()}
	default:
		e.UserIdentity = UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::" + acct + ":assumed-role/r/" + pick(), AccountID: acct, AccessKeyID: pick()}
	}
	e.AWSRegion, e.SourceIPAddress, e.UserAgent, e.RequestID = "us-east-1", "192.0.2.1", pick(), "req"
	e.RecipientAccountID = acct
	for n := r.IntN(3); n > 0; n-- {
		arn := "arn:aws:kms:us-east-1:" + acct + ":key/" + pick()
		if r.IntN(4) == 0 {
			arn = pick()
		}
		e.Resources = append(e.Resources, Resource{AccountID: acct, Type: []string{ResourceTypeKey, pick()}[r.IntN(2)], ARN: arn})
	}
	return e
}

// referenceLookup is what Lookup answers, the slow way: every line of
// the log decoded, newest first.
func referenceLookup(t *testing.T, dir string, q Query) []string {
	t.Helper()
	return referenceOf(decodeAll(t, dir), q)
}

// decodeAll decodes the log's lines, newest first.
func decodeAll(t *testing.T, dir string) []view {
	lines := allLines(t, dir)
	out := make([]view, len(lines))
	for i, ln := range lines {
		if err := json.Unmarshal([]byte(ln), &out[len(lines)-1-i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func referenceOf(views []view, q Query) []string {
	var out []string
	for i := range views {
		if q.matches(&views[i]) {
			out = append(out, views[i].EventID)
		}
	}
	return out
}

// lookupAll pages through q to the end.
func lookupAll(t *testing.T, l *Log, q Query) (ids []string, pages int) {
	t.Helper()
	for {
		got, next, err := l.Lookup(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if q.MaxResults > 0 && len(got) > q.MaxResults {
			t.Fatalf("a page of %d, want at most %d", len(got), q.MaxResults)
		}
		ids = append(ids, eventIDs(got)...)
		if next == "" {
			return ids, pages
		}
		if pages > 100000 {
			t.Fatal("paging does not end")
		}
		q.NextToken = next
	}
}

// queriesFor are queries of every attribute, with values that match
// some of the events (and some that match none), and time ranges.
func queriesFor(events []*Event) []Query {
	var qs []Query
	for _, acct := range []string{testAccount, otherAcct} {
		qs = append(qs, Query{AccountID: acct})
		for _, key := range []string{AttrEventID, AttrEventName, AttrReadOnly, AttrUsername, AttrResourceType, AttrResourceName, AttrEventSource, AttrAccessKeyID} {
			values := slices.Clone(weird)
			values = append(values, events[3].EventID, events[len(events)-1].EventID, "nothing-has-this",
				"arn:aws:kms:us-east-1:"+acct+":key/"+"a<b>c", "arn:aws:kms:us-east-1:"+acct+":key/11112222-aaaa")
			for _, v := range values {
				qs = append(qs, Query{AccountID: acct, Attributes: []Attribute{{key, v}}})
			}
		}
		first, last := events[0].EventTime.Time, events[len(events)-1].EventTime.Time
		mid := first.Add(last.Sub(first) / 2)
		qs = append(qs,
			Query{AccountID: acct, StartTime: mid},
			Query{AccountID: acct, EndTime: mid.Add(500 * time.Millisecond)},
			Query{AccountID: acct, StartTime: mid.Add(-3 * time.Second), EndTime: mid.Add(3 * time.Second), Attributes: []Attribute{{AttrEventName, "Encrypt"}}},
			Query{AccountID: acct, StartTime: last.Add(time.Hour)},
			Query{AccountID: acct, EndTime: first.Add(-time.Hour)},
		)
	}
	return qs
}

// TestLookupSameAsFullScan holds Lookup's pre-filter, chunked search and
// scan budget to the slow way's answers, over events whose fields need
// every kind of escape, on chunks small enough that lines straddle them
// and some lines are longer than a chunk.
func TestLookupSameAsFullScan(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	l := openLog(t, dir, Options{MaxFileBytes: 20 << 10})
	var events []*Event
	for i := range 200 {
		e := lookupEvent(r, base.Add(time.Duration(i)*time.Second), weird)
		if i%50 == 7 {
			e.UserAgent = strings.Repeat("long ", 400) // a line longer than the smallest chunk
		}
		events = append(events, e)
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(eventFiles(t, dir)); n < 4 {
		t.Fatalf("%d files, want several", n)
	}
	defer func(c int, b int64) { lookupChunk, lookupMaxScanBytes = c, b }(lookupChunk, lookupMaxScanBytes)
	matched := 0
	views := decodeAll(t, dir)
	for n, q := range queriesFor(events) {
		want := referenceOf(views, q)
		if len(want) > 0 {
			matched++
		}
		for _, c := range []struct {
			chunk    int
			maxBytes int64
			max      int
		}{{1 << 20, 0, 0}, {700, 0, 3}, {1 << 20, 1, 50}, {512, 1, 2}} {
			if c.maxBytes > 0 && n%8 != 0 {
				continue // the slow ones for a sample of the queries
			}
			lookupChunk, lookupMaxScanBytes = c.chunk, c.maxBytes
			q := q
			q.MaxResults = c.max
			got, pages := lookupAll(t, l, q)
			if !slices.Equal(got, want) {
				t.Fatalf("%+v chunk %d, budget %d: %d pages\n got %v\nwant %v", q, c.chunk, c.maxBytes, pages, got, want)
			}
			if c.maxBytes == 1 && c.chunk == 512 && pages < 5 {
				t.Errorf("%+v: %d pages with a budget of one chunk a call, want many", q, pages)
			}
		}
	}
	// The pre-filter is what makes a rare value cheap: only the lines it
	// finds are decoded.
	for _, tc := range []struct {
		q    Query
		want int64
	}{
		{Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventID, events[7].EventID}}}, 1},
		{Query{AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, "nothing-has-this"}}}, 0},
		{Query{AccountID: testAccount, EndTime: base.Add(-time.Hour)}, 0},
	} {
		lookupChunk, lookupMaxScanBytes = 1<<20, 0
		d := lookupDecoded.Load()
		lookupAll(t, l, tc.q)
		if n := lookupDecoded.Load() - d; n != tc.want {
			t.Errorf("%+v decoded %d lines, want %d", tc.q, n, tc.want)
		}
	}
	if matched < 100 {
		t.Errorf("only %d queries matched anything: the test would not see a dropped line", matched)
	}
}

// TestLookupSkipsOldFiles: with a StartTime, the files whose successors
// were named more than clockSlack before it are not read; an event dated
// after the name of its file's successor, as when the clock was set back
// in between, is still found while the step is within clockSlack.
func TestLookupSkipsOldFiles(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(base)
	l := openLog(t, dir, Options{MaxFileBytes: 1, Clock: clk})
	var events []*Event
	for i := range 10 {
		// An hour per file; the 5th event is dated 5 minutes ahead of the
		// clock that names the next file, as if the clock stepped back.
		at := clk.Now()
		if i == 5 {
			at = at.Add(time.Hour + 5*time.Minute)
		}
		e := ev(0, SourceKMS, "Encrypt", false, alice, testKeyARN)
		e.EventTime = Timestamp{at}
		events = append(events, e)
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
	}
	files := len(eventFiles(t, dir))
	if files < 10 {
		t.Fatalf("%d files, want one per event", files)
	}
	for _, tc := range []struct {
		start    time.Time
		maxFiles int64
	}{
		{base.Add(8 * time.Hour), 3},             // the newest two and the one before
		{base.Add(6*time.Hour + time.Second), 5}, // reaches the 5th event's file, through its successor
		{base.Add(-time.Hour), int64(files)},
	} {
		q := Query{AccountID: testAccount, StartTime: tc.start}
		opened := lookupFilesOpened.Load()
		got, _ := lookupAll(t, l, q)
		if n := lookupFilesOpened.Load() - opened; n > tc.maxFiles {
			t.Errorf("StartTime %v: %d files read, want at most %d", tc.start, n, tc.maxFiles)
		}
		if want := referenceLookup(t, dir, q); !slices.Equal(got, want) {
			t.Errorf("StartTime %v:\n got %v\nwant %v", tc.start, got, want)
		}
	}
	// The pre-step event is found by a StartTime after its successor's name.
	q := Query{AccountID: testAccount, StartTime: events[5].EventTime.Time}
	if got, _ := lookupAll(t, l, q); !slices.Contains(got, events[5].EventID) {
		t.Errorf("the event dated ahead of the next file was lost: %v", got)
	}
}

// TestLookupStopsWhenCancelled: a client gone stops the scan.
func TestLookupStopsWhenCancelled(t *testing.T) {
	l, _ := lookupLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := l.Lookup(ctx, Query{AccountID: testAccount}); !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup after cancel: %v, want context.Canceled", err)
	}
}

// TestLookupTimeBudget: a scan past its time answers a partial page with a
// token, and the pages add up to the whole answer.
func TestLookupTimeBudget(t *testing.T) {
	l, _ := lookupLog(t)
	defer func(d time.Duration, c int, ix bool) {
		lookupMaxScanTime, lookupChunk, lookupIndexes = d, c, ix
	}(lookupMaxScanTime, lookupChunk, lookupIndexes)
	lookupIndexes = false // a file an index skips costs no chunk, and no page
	q := Query{AccountID: testAccount, Attributes: []Attribute{{AttrUsername, "alice"}}}
	want, _ := lookupAll(t, l, q)
	lookupMaxScanTime, lookupChunk = 0, 256 // every call stops after its first chunk
	got, pages := lookupAll(t, l, q)
	if !reflect.DeepEqual(got, want) || pages <= len(want) {
		t.Errorf("%d pages\n got %v\nwant %v", pages, got, want)
	}
}

// FuzzLookupPrefilter: for any event the encoder writes and any query its
// decoded line matches, the pre-filter passes the line.
func FuzzLookupPrefilter(f *testing.F) {
	for i, w := range weird {
		f.Add(w, weird[(i+1)%len(weird)], weird[(i+2)%len(weird)], uint8(i), int64(i), uint64(i))
	}
	f.Add("Encrypt", "alice", "11112222-aaaa", uint8(5), int64(0), uint64(0))
	f.Fuzz(func(t *testing.T, a, b, c string, key uint8, dt int64, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 0))
		pool := append([]string{a, b, c}, weird...)
		e := lookupEvent(r, base.Add(time.Duration(dt%100000)*time.Millisecond), pool)
		body, err := e.appendBody(nil)
		if err != nil {
			return
		}
		line, _ := appendLine(nil, body, 1, new([32]byte))
		line = line[:len(line)-1]
		var v view
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("the encoder wrote a line encoding/json refuses: %v\n%s", err, line)
		}
		keys := []string{AttrEventID, AttrEventName, AttrReadOnly, AttrUsername, AttrResourceType, AttrResourceName, AttrEventSource, AttrAccessKeyID}
		k := keys[int(key)%len(keys)]
		values := []string{a, b, c, v.EventName, v.EventSource, v.EventID, v.username(), v.UserIdentity.AccessKeyID, fmt.Sprint(v.ReadOnly)}
		for _, res := range v.Resources {
			values = append(values, res.ARN, keyIDOf(res.ARN), res.Type)
		}
		et := v.EventTime.Time
		ranges := [][2]time.Time{{}, {et, et}, {et.Add(-time.Second), time.Time{}}, {time.Time{}, et.Add(999 * time.Millisecond)}, {et.Add(time.Second), time.Time{}}}
		for _, val := range values {
			for _, rg := range ranges {
				q := Query{AccountID: v.Recipient, Attributes: []Attribute{{k, val}}, StartTime: rg[0], EndTime: rg[1]}
				if !q.matches(&v) {
					continue
				}
				pf := newPrefilter(&q)
				nd := pf.needles
				chunk := append(append([]byte("{}\n"), line...), "\n{}\n"...)
				if sp := candidates(nil, chunk, nd); len(sp) != 1 || string(chunk[sp[0].start:sp[0].end]) != string(line) {
					t.Fatalf("%s=%q: the needles %q miss the line (%v)\n%s", k, val, nd, sp, line)
				}
				if !pf.mayMatch(line) {
					t.Fatalf("%s=%q %v..%v: mayMatch refuses the line\n%s", k, val, rg[0], rg[1], line)
				}
			}
		}
	})
}

// TestCandidates: the lines found hold a needle after one of its members,
// whole, once each, in order — a hit refused for the bytes before it on
// the same line as one that is not included.
func TestCandidates(t *testing.T) {
	nd := attributeNeedles(Attribute{AttrUsername, "root"})
	chunk := []byte(strings.Join([]string{
		`{"arn":"arn:aws:iam::1:root","userName":"root"}`, // refused (":root") then found
		`{"x":"nothing"}`,
		`{"type":"Root","arn":"arn:aws:iam::1:root"}`, // two needles
		`{"arn":"a:root"}`,                            // refused only
		`{"userName":"root"}`,                         // the last line, without a newline
	}, "\n"))
	got := candidates(nil, chunk, nd)
	var lines []string
	for _, s := range got {
		lines = append(lines, string(chunk[s.start:s.end]))
	}
	want := []string{`{"arn":"arn:aws:iam::1:root","userName":"root"}`, `{"type":"Root","arn":"arn:aws:iam::1:root"}`, `{"userName":"root"}`}
	if !slices.Equal(lines, want) {
		t.Errorf("\n got %q\nwant %q", lines, want)
	}
}

// FuzzLookupNextToken: a NextToken is the client's to forge, its query
// fingerprint included; any file and offset in it answers events or
// InvalidNextToken, never a panic or an internal error.
func FuzzLookupNextToken(f *testing.F) {
	l, _ := lookupLog(f)
	q := Query{AccountID: testAccount, MaxResults: 2}
	_, next, err := l.Lookup(context.Background(), q)
	if err != nil || next == "" {
		f.Fatalf("first page: %q, %v", next, err)
	}
	f.Add(uint64(1), int64(0), next)
	f.Add(uint64(2), int64(-1), "")
	f.Add(uint64(3), int64(-2), "")
	f.Add(uint64(1), int64(1<<40), "")
	f.Add(uint64(2), int64(17), "x")
	f.Fuzz(func(t *testing.T, file uint64, off int64, raw string) {
		forged, _ := json.Marshal(pageToken{File: file, Offset: off, Query: q.fingerprint()})
		for _, tok := range []string{raw, base64.RawURLEncoding.EncodeToString(forged)} {
			if tok == "" {
				continue
			}
			q := q
			q.NextToken = tok
			if _, _, err := l.Lookup(context.Background(), q); err != nil && !errors.Is(err, ErrInvalidNextToken) {
				t.Errorf("token %q (file %d offset %d): %v", tok, file, off, err)
			}
		}
	})
}

// FuzzLookupCandidates holds the chunk search to the plain way, line by
// line, on any bytes: the same lines, in order, and eventTimeOf and
// mayMatch never panic.
func FuzzLookupCandidates(f *testing.F) {
	f.Add([]byte("{\"userName\":\"root\"}\n{\"arn\":\"x:root\",\"type\":\"Root\"}\n"), "root", uint8(3))
	f.Add([]byte("\"eventName\":\"Encrypt\"\"eventName\":\"Encrypt\"\n\n\"eventTime\":\"2026-12-06T10:00:00Z\""), "Encrypt", uint8(1))
	f.Add([]byte(":key/k\"\n\"ARN\":\"k\""), "k", uint8(5))
	f.Add([]byte("{}\n{\"arn\":\"x:root\",\"userName\":\"root\"}"), "root", uint8(3))
	f.Fuzz(func(t *testing.T, chunk []byte, value string, key uint8) {
		keys := []string{AttrEventID, AttrEventName, AttrReadOnly, AttrUsername, AttrResourceType, AttrResourceName, AttrEventSource, AttrAccessKeyID}
		q := Query{AccountID: testAccount, Attributes: []Attribute{{keys[int(key)%len(keys)], value}}, StartTime: base, EndTime: base.Add(time.Hour)}
		pf := newPrefilter(&q)
		var want []string
		for _, line := range strings.Split(string(chunk), "\n") {
			b := []byte(line)
			for k := range pf.needles {
				nd := &pf.needles[k]
				found := false
				for h := 0; h+len(nd.find) <= len(b); h++ {
					if string(b[h:h+len(nd.find)]) == string(nd.find) && nd.at(b, h) {
						found = true
						break
					}
				}
				if found {
					want = append(want, line)
					break
				}
			}
		}
		var got []string
		for _, s := range candidates(nil, chunk, pf.needles) {
			got = append(got, string(chunk[s.start:s.end]))
			pf.mayMatch(chunk[s.start:s.end])
		}
		if !slices.Equal(got, want) {
			t.Errorf("needles %q\n got %q\nwant %q", pf.needles, got, want)
		}
		eventTimeOf(chunk)
	})
}
