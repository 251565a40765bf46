package audit

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/store"
)

// intentEvent is a CreateKey by alice whose intent l makes; the write it
// stands for is a setting written under the intent, in the store's real
// transaction.
func intentEvent(t *testing.T, l *Log, db store.Store, n int, created string) *Event {
	t.Helper()
	return intentEventAt(t, l, db, n, created, testEvent(n).EventTime.Time)
}

// intentEventAt is intentEvent dated at.
func intentEventAt(t *testing.T, l *Log, db store.Store, n int, created string, at time.Time) *Event {
	t.Helper()
	ev := testEvent(n)
	ev.EventTime = Timestamp{at}
	ev.EventName, ev.ReadOnly, ev.Resources = "CreateKey", false, nil
	in := l.Intent(ev)
	if in == nil {
		t.Fatal("Intent = nil with Options.Intents set")
	}
	in.Keys = append(in.Keys, created)
	if err := db.PutSetting(store.WithAuditIntent(context.Background(), in), "intent-test", []byte{byte(n)}); err != nil {
		t.Fatalf("PutSetting under an intent: %v", err)
	}
	return ev
}

func countLines(t *testing.T, dir, substr string) (n int, line string) {
	t.Helper()
	for _, l := range allLines(t, dir) {
		if strings.Contains(l, substr) {
			n, line = n+1, l
		}
	}
	return n, line
}

// TestIntentRecovery: at Open the log writes the event of each intent
// left in the store whose event it lacks — exactly those, once — and
// deletes the intents; the log verifies; a second Open writes nothing.
func TestIntentRecovery(t *testing.T) {
	defer func(d time.Duration) { intentSweepEvery = d }(intentSweepEvery)
	intentSweepEvery = time.Hour // the janitor stays out of the way: the stop below is a crash
	dir := t.TempDir()
	db := openUsageStore(t, filepath.Join(t.TempDir(), "trent.db"))
	l := openLog(t, dir, Options{KeyUses: db, Intents: db})
	const created = "arn:aws:kms:us-east-1:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab"
	recorded := intentEvent(t, l, db, 1, created)
	if err := l.Record(context.Background(), recorded); err != nil {
		t.Fatal(err)
	}
	lost := intentEvent(t, l, db, 2, created) // committed; the process "dies" before Record
	closeLog(t, l)
	// Close's last sweep deleted the recorded event's intent; a crash
	// would have left it: put it back, as the crash leaves the store.
	back := &store.AuditIntent{EventID: recorded.EventID, EventTime: recorded.EventTime.Time, Body: func() []byte { return intentBody(recorded) }}
	if err := db.PutSetting(store.WithAuditIntent(context.Background(), back), "intent-test", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if ins, err := db.AuditIntents(context.Background(), ""); err != nil || len(ins) != 2 {
		t.Fatalf("intents before the restart: %d, %v; want 2", len(ins), err)
	}
	before := len(allLines(t, dir))

	l = openLog(t, dir, Options{KeyUses: db, Intents: db})
	closeLog(t, l)
	if n, _ := countLines(t, dir, `"eventID":"`+recorded.EventID+`"`); n != 1 {
		t.Errorf("the recorded event is in the log %d times, want 1", n)
	}
	n, line := countLines(t, dir, `"eventID":"`+lost.EventID+`"`)
	if n != 1 {
		t.Fatalf("the lost event is in the log %d times after recovery, want 1", n)
	}
	var got Event
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatal(err)
	}
	if got.EventName != "CreateKey" || got.UserIdentity != lost.UserIdentity || got.RequestID != lost.RequestID ||
		got.SourceIPAddress != lost.SourceIPAddress || !got.EventTime.Equal(lost.EventTime.Time) || got.ErrorCode != "" {
		t.Errorf("recovered event = %+v, want the intent's request %+v", got, lost)
	}
	if len(got.Resources) != 1 || got.Resources[0].ARN != created || got.Resources[0].AccountID != testAccount {
		t.Errorf("recovered event's resources = %+v, want the created key", got.Resources)
	}
	if string(got.AdditionalEventData) != string(RecoveredNote) || !isNull(got.RequestParameters) || !isNull(got.ResponseElements) {
		t.Errorf("recovered event: additionalEventData %s, requestParameters %s, responseElements %s", got.AdditionalEventData, got.RequestParameters, got.ResponseElements)
	}
	if ins, err := db.AuditIntents(context.Background(), ""); err != nil || len(ins) != 0 {
		t.Errorf("intents after recovery: %+v, %v; want none", ins, err)
	}
	if after := len(allLines(t, dir)); after != before+1 {
		t.Errorf("recovery wrote %d events, want 1", after-before)
	}
	mustVerify(t, dir)

	before = len(allLines(t, dir))
	closeLog(t, openLog(t, dir, Options{KeyUses: db, Intents: db}))
	if after := len(allLines(t, dir)); after != before {
		t.Errorf("a second Open wrote %d events, want none", after-before)
	}
}

// TestIntentJanitor: once an event whose request wrote an intent is
// durable, the janitor deletes the intent; an intent that no write carried
// is not asked for.
func TestIntentJanitor(t *testing.T) {
	defer func(d time.Duration) { intentSweepEvery = d }(intentSweepEvery)
	intentSweepEvery = 10 * time.Millisecond
	db := openUsageStore(t, filepath.Join(t.TempDir(), "trent.db"))
	l := openLog(t, t.TempDir(), Options{KeyUses: db, Intents: db})
	ev := intentEvent(t, l, db, 1, testKeyARN)
	unwritten := testEvent(2)
	if in := l.Intent(unwritten); in.Written {
		t.Fatal("an intent no write carried is marked written")
	}
	if id := intentID(unwritten); id != (store.AuditIntentID{}) {
		t.Errorf("intentID of an event whose request wrote nothing = %+v", id)
	}
	// The row stays small: CreateKey's throughput pays for it.
	if n := len(intentBody(testEvent(3))); n > 512 {
		t.Errorf("an intent's body is %d bytes, want at most 512", n)
	}
	if ins, _ := db.AuditIntents(context.Background(), ""); len(ins) != 1 {
		t.Fatalf("intents before Record: %d, want 1", len(ins))
	}
	if err := l.Record(context.Background(), ev, unwritten); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the janitor to delete the recorded event's intent", func() bool {
		ins, err := db.AuditIntents(context.Background(), "")
		return err == nil && len(ins) == 0
	})
	closeLog(t, l)
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

func TestMayChangeState(t *testing.T) {
	for _, c := range []struct {
		source, name string
		readOnly     bool
		want         bool
	}{
		{SourceKMS, "CreateKey", false, true},
		{SourceKMS, "PutKeyPolicy", false, true},
		{SourceKMS, "Encrypt", false, false}, // its only effect is the answer
		{SourceKMS, "GenerateRandom", false, false},
		{SourceKMS, "DescribeKey", true, false},
		{SourceIAM, "CreateUser", false, true},
		{SourceIAM, "GetUser", true, false},
	} {
		ev := NewAPICall(time.Now(), c.source, c.name, c.readOnly)
		if got := MayChangeState(ev); got != c.want {
			t.Errorf("MayChangeState(%s %s readOnly=%v) = %v, want %v", c.source, c.name, c.readOnly, got, c.want)
		}
	}
}

// TestIntentRecoveryOnAFailingDisk: at Open on a disk that refuses
// writes, the recovered events stay queued — Open still succeeds, the log
// fails closed — and the intents stay; once the disk takes writes the
// events are written, and the next Open deletes the intents without
// writing anything twice.
func TestIntentRecoveryOnAFailingDisk(t *testing.T) {
	defer func(d time.Duration) { intentSweepEvery = d }(intentSweepEvery)
	intentSweepEvery = time.Hour
	dir := t.TempDir()
	db := openUsageStore(t, filepath.Join(t.TempDir(), "trent.db"))
	l := openLog(t, dir, Options{KeyUses: db, Intents: db})
	lost := intentEvent(t, l, db, 1, testKeyARN)
	closeLog(t, l)

	fs := &faultFS{}
	fs.setFail(errors.New("injected: no space left on device"))
	l = openLog(t, dir, Options{KeyUses: db, Intents: db, FS: fs, Deadline: 2 * time.Second})
	if l.Ready() == nil {
		t.Error("Ready = nil on a disk that refuses writes")
	}
	if ins, err := db.AuditIntents(context.Background(), ""); err != nil || len(ins) != 1 {
		t.Fatalf("intents while the disk refuses: %d, %v; want 1 kept", len(ins), err)
	}
	fs.setFail(nil)
	waitFor(t, "the recovered event to be written", func() bool { return l.Ready() == nil })
	closeLog(t, l)
	closeLog(t, openLog(t, dir, Options{KeyUses: db, Intents: db}))
	if n, _ := countLines(t, dir, `"eventID":"`+lost.EventID+`"`); n != 1 {
		t.Errorf("the lost event is in the log %d times, want 1", n)
	}
	if ins, err := db.AuditIntents(context.Background(), ""); err != nil || len(ins) != 0 {
		t.Errorf("intents after the disk recovered and a restart: %d, %v; want none", len(ins), err)
	}
	mustVerify(t, dir)
}

// recordAt records n test events dated at.
func recordAt(t *testing.T, l *Log, from, n int, at time.Time) {
	t.Helper()
	for i := from; i < from+n; i++ {
		ev := testEvent(i)
		ev.EventTime = Timestamp{at}
		if err := l.Record(context.Background(), ev); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
}

// TestIntentRecoveryAfterArchive: a store restored from a backup taken
// while a request was in flight holds that request's intent; if the
// request's event has been archived since, Open must not write it again
// as recovered (a false note, and its id twice across the log and the
// archive): it finds the event in the archive the server archives to,
// or the one Archive noted. An intent whose event a stop truly kept from
// the log is recovered, however old and wherever its time falls; and an
// archived event Open cannot find is written again rather than lost.
func TestIntentRecoveryAfterArchive(t *testing.T) {
	defer func(d time.Duration) { intentSweepEvery = d }(intentSweepEvery)
	intentSweepEvery = time.Hour // the janitor stays out of the way
	const created = "arn:aws:kms:us-east-1:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab"
	now := time.Now().UTC().Truncate(time.Second)
	for _, c := range []struct {
		name string
		age  time.Duration // of the intent's request, before the log's newest events
		// lost: the request's event was never written (a stop between
		// its commit and its event); otherwise it was, and was archived.
		lost bool
		// archive is how Open knows the archive: "options"
		// (Options.ArchiveDir: serve --audit-archive-to), "noted" (only
		// Archive's note, as after cron's trent audit archive), "moved"
		// (noted, but moved away since).
		archive     string
		wantLog     int // the event's lines in the log's directory after Open
		wantArchive int // and in the archive
	}{
		{name: "archived, the server's archive", age: 2 * time.Hour, archive: "options", wantArchive: 1},
		{name: "archived, noted by archive", age: 2 * time.Hour, archive: "noted", wantArchive: 1},
		{name: "archived long ago, noted by archive", age: 48 * time.Hour, archive: "noted", wantArchive: 1},
		// Not found: a duplicate marked recovered, never a missing event.
		{name: "archived, archive moved away since", age: 2 * time.Hour, archive: "moved", wantLog: 1, wantArchive: 1},
		{name: "lost, dated before the files left", age: 2 * time.Hour, lost: true, archive: "options", wantLog: 1},
		{name: "lost, long before the newest events", age: 48 * time.Hour, lost: true, archive: "noted", wantLog: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, to := t.TempDir(), filepath.Join(t.TempDir(), "archive")
			db := openUsageStore(t, filepath.Join(t.TempDir(), "trent.db"))
			o := Options{KeyUses: db, Intents: db, MaxFileBytes: 2500}
			var ev *Event
			intent := func(l *Log) { ev = intentEventAt(t, l, db, 1, created, now.Add(-c.age)) }
			for run := range 3 {
				ro := o
				if run == 0 {
					// The first run's files are started when its
					// request was dated, as in life.
					ro.Clock = clock.NewFake(now.Add(-c.age))
				}
				l := openLog(t, dir, ro)
				if run == 0 && !c.lost {
					intent(l)
					if err := l.Record(context.Background(), ev); err != nil {
						t.Fatal(err)
					}
				}
				recordAt(t, l, 100+run*14, 14, now)
				if run == 2 && c.lost {
					intent(l) // committed; the process "dies" before Record
				}
				closeLog(t, l)
			}
			rep, err := Archive(dir, to, time.Now().Add(time.Hour))
			if err != nil || rep.EventFiles == 0 {
				t.Fatalf("Archive = %+v, %v; want files moved", rep, err)
			}
			if !c.lost {
				// The store as a backup taken while the request was in
				// flight restores it: Close's sweep deleted the intent.
				in := &store.AuditIntent{EventID: ev.EventID, EventTime: ev.EventTime.Time, Body: func() []byte { return intentBody(ev) }}
				if err := db.PutSetting(store.WithAuditIntent(context.Background(), in), "intent-test", []byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			switch c.archive {
			case "options":
				o.ArchiveDir = to
				if err := os.Remove(filepath.Join(dir, ArchivedToFile)); err != nil {
					t.Fatal(err) // an archive from before the note, or made by hand
				}
			case "moved":
				moved := filepath.Join(t.TempDir(), "elsewhere")
				if err := os.Rename(to, moved); err != nil {
					t.Fatal(err)
				}
				to = moved
			}

			closeLog(t, openLog(t, dir, o))
			id := `"eventID":"` + ev.EventID + `"`
			nLog, line := countLines(t, dir, id)
			nArchive, _ := countLines(t, to, id)
			if nLog != c.wantLog || nArchive != c.wantArchive {
				t.Errorf("the event is in the log %d times and in the archive %d times, want %d and %d", nLog, nArchive, c.wantLog, c.wantArchive)
			}
			if nLog == 1 && !strings.Contains(line, `"trentRecovered"`) {
				t.Errorf("the event written at Open is not marked recovered: %s", line)
			}
			if ins, err := db.AuditIntents(context.Background(), ""); err != nil || len(ins) != 0 {
				t.Errorf("intents after Open: %d, %v; want none", len(ins), err)
			}
			if _, err := Verify(dir, testSigner.Public(), to); err != nil {
				t.Errorf("Verify with the archive: %v", err)
			}
		})
	}
}
