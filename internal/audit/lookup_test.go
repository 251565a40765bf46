package audit

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
)

const (
	key2ARN = "arn:aws:kms:us-east-1:111122223333:key/22222222-12ab-34cd-56ef-1234567890ab"
	key3ARN = "arn:aws:kms:us-east-1:111122223333:key/33333333-12ab-34cd-56ef-1234567890ab"
)

var base = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// ev makes an event at base+sec by who, on keys.
func ev(sec int, source, name string, readOnly bool, who UserIdentity, keys ...string) *Event {
	e := NewAPICall(base.Add(time.Duration(sec)*time.Second), source, name, readOnly)
	e.UserIdentity = who
	e.AWSRegion, e.SourceIPAddress, e.UserAgent = "us-east-1", "192.0.2.10", "test"
	e.RequestID = "req-" + name
	e.RecipientAccountID = who.AccountID
	for _, k := range keys {
		e.AddKey(k)
	}
	return e
}

var (
	alice = UserIdentity{Type: "IAMUser", PrincipalID: "AIDAALICE", ARN: "arn:aws:iam::111122223333:user/alice", AccountID: testAccount, AccessKeyID: "AKIAALICE", UserName: "alice"}
	bob   = UserIdentity{Type: "IAMUser", PrincipalID: "AIDABOB", ARN: "arn:aws:iam::111122223333:user/bob", AccountID: testAccount, AccessKeyID: "AKIABOB", UserName: "bob"}
	root  = IdentityOf(identity.Root(testAccount, "AKIAROOT"))
	role  = IdentityOf(&identity.Caller{
		Principal: policy.Principal{ARN: "arn:aws:sts::111122223333:assumed-role/deployer/build-42", Account: testAccount,
			Type: policy.PrincipalAssumedRole, UserID: "AROADEPLOYER:build-42", RoleARN: "arn:aws:iam::111122223333:role/deployer"},
		AccessKeyID: "ASIASESSION",
		Session:     &identity.Session{Name: "build-42", RoleARN: "arn:aws:iam::111122223333:role/deployer", RoleID: "AROADEPLOYER", Issued: base},
	})
	carol = UserIdentity{Type: "IAMUser", PrincipalID: "AIDACAROL", ARN: "arn:aws:iam::444455556666:user/carol", AccountID: otherAcct, AccessKeyID: "AKIACAROL", UserName: "carol"}
)

// lookupLog records a small history in a log cut into several files and
// reopened once, and returns the events by name.
func lookupLog(t testing.TB) (*Log, map[string]*Event) {
	dir := t.TempDir()
	denied := ev(5, SourceKMS, "Decrypt", false, bob, testKeyARN)
	denied.SetError("AccessDeniedException", "not authorized")
	crossCaller := ev(9, SourceKMS, "Encrypt", false, carol, testKeyARN)
	events := map[string]*Event{
		"enc1":   ev(1, SourceKMS, "Encrypt", false, alice, testKeyARN),
		"enc2":   ev(2, SourceKMS, "Encrypt", false, alice, testKeyARN),
		"list":   ev(3, SourceKMS, "ListKeys", true, root),
		"dec":    ev(4, SourceKMS, "Decrypt", false, bob, key2ARN),
		"denied": denied,
		"sts":    ev(6, SourceSTS, "GetCallerIdentity", true, role),
		"create": ev(7, SourceKMS, "CreateKey", false, role, key3ARN),
		"carol":  ev(8, SourceKMS, "ListAliases", true, carol),
		"cross":  crossCaller,
		"enc3":   ev(10, SourceKMS, "Encrypt", false, alice, testKeyARN),
	}
	l := openLog(t, dir, Options{MaxFileBytes: 1500})
	for _, k := range []string{"enc1", "enc2", "list", "dec", "denied"} {
		if err := l.Record(context.Background(), events[k]); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, l)
	l = openLog(t, dir, Options{MaxFileBytes: 1500})
	for _, k := range []string{"sts", "create", "carol"} {
		if err := l.Record(context.Background(), events[k]); err != nil {
			t.Fatal(err)
		}
	}
	// A cross-account call: the caller's account and the key owner's
	// both get it, in one Record.
	if err := l.Record(context.Background(), crossCaller, crossCaller.CopyFor(testAccount)); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(context.Background(), events["enc3"]); err != nil {
		t.Fatal(err)
	}
	if n := len(eventFiles(t, dir)); n < 4 {
		t.Fatalf("%d files: want the history spread over several", n)
	}
	return l, events
}

func eventIDs(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.EventID)
	}
	return out
}

func TestLookup(t *testing.T) {
	l, e := lookupLog(t)
	want := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, e[n].EventID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"everything, newest first", Query{AccountID: testAccount},
			want("enc3", "cross", "create", "sts", "denied", "dec", "list", "enc2", "enc1")},
		{"the other account sees only its own", Query{AccountID: otherAcct}, want("cross", "carol")},
		{"EventName", Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventName, "Encrypt"}}}, want("enc3", "cross", "enc2", "enc1")},
		{"ResourceName by ARN", Query{AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, key2ARN}}}, want("dec")},
		{"ResourceName by key id", Query{AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, "33333333-12ab-34cd-56ef-1234567890ab"}}}, want("create")},
		{"ResourceType", Query{AccountID: otherAcct, Attributes: []Attribute{{AttrResourceType, ResourceTypeKey}}}, want("cross")},
		{"Username of a user", Query{AccountID: testAccount, Attributes: []Attribute{{AttrUsername, "bob"}}}, want("denied", "dec")},
		{"Username of the root user", Query{AccountID: testAccount, Attributes: []Attribute{{AttrUsername, "root"}}}, want("list")},
		{"Username of a role session", Query{AccountID: testAccount, Attributes: []Attribute{{AttrUsername, "build-42"}}}, want("create", "sts")},
		{"AccessKeyId", Query{AccountID: testAccount, Attributes: []Attribute{{AttrAccessKeyID, "AKIAALICE"}}}, want("enc3", "enc2", "enc1")},
		{"EventId", Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventID, e["dec"].EventID}}}, want("dec")},
		{"EventId of another account's event", Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventID, e["carol"].EventID}}}, nil},
		{"ReadOnly", Query{AccountID: testAccount, Attributes: []Attribute{{AttrReadOnly, "true"}}}, want("sts", "list")},
		{"EventSource", Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventSource, SourceSTS}}}, want("sts")},
		{"time range", Query{AccountID: testAccount, StartTime: base.Add(2 * time.Second), EndTime: base.Add(4 * time.Second)}, want("dec", "list", "enc2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := l.Lookup(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if next != "" {
				t.Errorf("NextToken %q for a single page", next)
			}
			if !reflect.DeepEqual(eventIDs(got), tc.want) {
				t.Errorf("\n got %v\nwant %v", eventIDs(got), tc.want)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		all, _, _ := l.Lookup(context.Background(), Query{AccountID: testAccount})
		var paged []Match
		q := Query{AccountID: testAccount, MaxResults: 2}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			got, next, err := l.Lookup(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > 2 {
				t.Fatalf("page of %d, want at most 2", len(got))
			}
			paged = append(paged, got...)
			if next == "" {
				break
			}
			q.NextToken = next
			other := Query{AccountID: otherAcct, MaxResults: 2, NextToken: next}
			if _, _, err := l.Lookup(context.Background(), other); !errors.Is(err, ErrInvalidNextToken) {
				t.Errorf("a token used for another query: %v, want ErrInvalidNextToken", err)
			}
		}
		if !reflect.DeepEqual(eventIDs(paged), eventIDs(all)) {
			t.Errorf("pages\n got %v\nwant %v", eventIDs(paged), eventIDs(all))
		}
	})

	t.Run("the event as CloudTrail shows it", func(t *testing.T) {
		got, _, err := l.Lookup(context.Background(), Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventID, e["denied"].EventID}}})
		if err != nil || len(got) != 1 {
			t.Fatalf("%v, %v", got, err)
		}
		m := got[0]
		want, _ := e["denied"].marshal()
		if !bytes.Equal(m.CloudTrailEvent, want) {
			t.Errorf("CloudTrailEvent\n got %s\nwant %s", m.CloudTrailEvent, want)
		}
		if m.EventName != "Decrypt" || m.Username != "bob" || m.AccessKeyID != "AKIABOB" || m.ReadOnly ||
			!m.EventTime.Equal(base.Add(5*time.Second)) || len(m.Resources) != 1 || m.Resources[0].ARN != testKeyARN {
			t.Errorf("match %+v", m)
		}
	})

	for _, tc := range []struct {
		name string
		q    Query
		err  error
	}{
		{"two attributes", Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventName, "a"}, {AttrUsername, "b"}}}, ErrInvalidLookupAttributes},
		{"unknown attribute", Query{AccountID: testAccount, Attributes: []Attribute{{"Bucket", "a"}}}, ErrInvalidLookupAttributes},
		{"no account", Query{}, ErrInvalidLookupAttributes},
		{"MaxResults 51", Query{AccountID: testAccount, MaxResults: 51}, ErrInvalidMaxResults},
		{"start after end", Query{AccountID: testAccount, StartTime: base.Add(time.Hour), EndTime: base}, ErrInvalidTimeRange},
		{"garbage token", Query{AccountID: testAccount, NextToken: "not-a-token"}, ErrInvalidNextToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := l.Lookup(context.Background(), tc.q); !errors.Is(err, tc.err) {
				t.Errorf("Lookup = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestLastUsage(t *testing.T) {
	dir := t.TempDir()
	db := openUsageStore(t, filepath.Join(t.TempDir(), "trent.db"))
	failed := ev(3, SourceKMS, "Encrypt", false, alice, testKeyARN)
	failed.SetError("DisabledException", "disabled")
	reenc := ev(4, SourceKMS, "ReEncrypt", false, alice, testKeyARN, key2ARN)
	l := openLog(t, dir, Options{Clock: clock.NewFake(base), KeyUses: db})
	for _, e := range []*Event{
		ev(1, SourceKMS, "Encrypt", false, alice, testKeyARN),
		ev(2, SourceKMS, "Decrypt", false, bob, key2ARN),
		reenc,
		failed, // later, but failed: not a use
		ev(5, SourceKMS, "DescribeKey", true, alice, testKeyARN), // not cryptographic
	} {
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	check := func(l *Log, trackingStart time.Time) {
		t.Helper()
		for _, k := range []string{testKeyARN, key2ARN} {
			u, ok, start, err := l.LastUsage(context.Background(), k)
			if err != nil || !ok {
				t.Fatalf("LastUsage(%s) = %v, %v", k, ok, err)
			}
			if u.Operation != "ReEncrypt" || u.EventID != reenc.EventID || u.RequestID != "req-ReEncrypt" || !u.Time.Equal(base.Add(4*time.Second)) {
				t.Errorf("LastUsage(%s) = %+v, want the ReEncrypt", k, u)
			}
			if !start.Equal(trackingStart) {
				t.Errorf("TrackingStartDate %v, want %v", start, trackingStart)
			}
		}
		if _, ok, _, err := l.LastUsage(context.Background(), key3ARN); ok || err != nil {
			t.Errorf("LastUsage of an unused key: %v, %v", ok, err)
		}
	}
	// A new log tracks from when it was opened: answered from memory
	// before the flusher wrote anything, and from the store after.
	check(l, base)
	if err := l.usage.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := l.usage.held(); n != 0 {
		t.Errorf("after a flush the index holds %d uses, want 0", n)
	}
	check(l, base)
	closeLog(t, l)
	// Reopened on the same store, the log is not read at all: Close wrote
	// every use and the mark. The tracking start is the stored one.
	tail := usageTailLines.Load()
	l = openLog(t, dir, Options{Clock: clock.NewFake(base.Add(time.Hour)), KeyUses: db})
	check(l, base)
	if n := usageTailLines.Load() - tail; n != 0 {
		t.Errorf("reopening read %d lines of the log, want 0", n)
	}
	closeLog(t, l)
	// A store that lags the log — as a crash between a durable batch and
	// the flusher's write leaves it — has its tail read back from the
	// mark on, and only that: seq 3 to 5 here. The lines go through the
	// one-pass reader, never encoding/json (which at Open of a large log
	// cost seconds of CPU).
	db.Close()
	lagStore(t, db.Path(), dir, 2)
	db = openUsageStore(t, db.Path())
	slow, tail := slowLines.Load(), usageTailLines.Load()
	l = openLog(t, dir, Options{Clock: clock.NewFake(base.Add(2 * time.Hour)), KeyUses: db})
	check(l, base)
	if n := usageTailLines.Load() - tail; n != 3 {
		t.Errorf("recovering read %d lines of the log, want the 3 after the mark", n)
	}
	if n := slowLines.Load() - slow; n != 0 {
		t.Errorf("recovering gave %d lines to encoding/json, want 0", n)
	}
	closeLog(t, l)
	// Without a store (tools), the whole log is read, and the tracking
	// start is its first event's time.
	tail = usageTailLines.Load()
	l = openLog(t, dir, Options{Clock: clock.NewFake(base.Add(3 * time.Hour))})
	check(l, base.Add(time.Second))
	if n := usageTailLines.Load() - tail; n != 5 {
		t.Errorf("without a store Open read %d lines, want all 5", n)
	}
}

// TestLookupListsNoDirectory: Lookup reads the log's own list of its event
// files, kept as the writer starts them, not the directory, which holds a
// digest for every minute with events (200,000 after five months: 0.6 s to
// list, on every LookupEvents call); files archived from under it are
// forgotten, not an error.
func TestLookupListsNoDirectory(t *testing.T) {
	dir, to := t.TempDir(), t.TempDir()
	for run := range 3 {
		l := openLog(t, dir, Options{MaxFileBytes: 2500})
		record(t, l, run*10, 10)
		closeLog(t, l)
	}
	l := openLog(t, dir, Options{MaxFileBytes: 2500})
	// Two readers list the directory once, in the background, and are
	// let finish before counting: GetKeyLastUsage's reading of the log's
	// tail at Open, and the lookup indexer's first pass, which a first
	// search starts (TestIndexerListsOnce).
	<-l.usage.ready
	files := eventFiles(t, dir)
	waitIndexed(t, l, files[:len(files)-1])
	record(t, l, 30, 10) // rotations after Open: files the list learns from the writer
	q := Query{AccountID: testAccount, MaxResults: 50}
	before := dirListings.Load()
	got, _, err := l.Lookup(t.Context(), q)
	if err != nil || len(got) != 40 {
		t.Fatalf("Lookup: %d events, %v; want 40", len(got), err)
	}
	if n := dirListings.Load() - before; n != 0 {
		t.Fatalf("Lookup listed the directory %d times", n)
	}
	rep, err := Archive(dir, to, time.Now().Add(time.Hour))
	if err != nil || rep.Through == 0 {
		t.Fatalf("Archive: %+v %v", rep, err)
	}
	for range 2 { // the second after the list forgot what vanished
		got, _, err = l.Lookup(t.Context(), q)
		if err != nil || len(got) != 40-int(rep.Through) {
			t.Fatalf("Lookup after archiving events 1 to %d: %d events, %v; want %d", rep.Through, len(got), err, 40-int(rep.Through))
		}
	}
}
