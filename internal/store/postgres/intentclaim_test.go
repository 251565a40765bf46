package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
)

// testNodeID is a node id of the test's own: the node leases are advisory
// locks, which the tests' schemas share with the whole database.
func testNodeID(t *testing.T) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	return "n-" + hex.EncodeToString(b[:])
}

// writeTestIntent commits a setting with node's intent for event id, as a
// request's write does.
func writeTestIntent(t *testing.T, db *DB, node, id string, at time.Time) {
	t.Helper()
	in := &store.AuditIntent{Node: node, EventID: id, EventTime: at, Body: func() []byte { return []byte(`{"n":"` + id + `"}`) }}
	if err := db.PutSetting(store.WithAuditIntent(t.Context(), in), "intent-"+id, []byte("v")); err != nil {
		t.Fatalf("PutSetting with intent %s: %v", id, err)
	}
}

func intentIDs(ins []store.StoredIntent) []string {
	var ids []string
	for _, in := range ins {
		ids = append(ids, in.EventID)
	}
	slices.Sort(ids)
	return ids
}

func wantIntents(t *testing.T, what string, ins []store.StoredIntent, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := intentIDs(ins); !slices.Equal(got, want) {
		t.Fatalf("%s: intents %v, want %v", what, got, want)
	}
}

// TestClaimOrphanedIntents: a node's intents are claimed only while its
// node lease is free and only once older than the bound; a claim moves
// them to the claimer, keeping their origin through a second claim; the
// node, started again, no longer has them; a claim under way holds the
// node's own lease off; concurrent claimers share the rows, none twice.
func TestClaimOrphanedIntents(t *testing.T) {
	dbs := nodes(t, 3)
	a, b, c := dbs[0], dbs[1], dbs[2]
	ctx := t.Context()
	nA, nB, nC := testNodeID(t), testNodeID(t), testNodeID(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	old, before := now.Add(-10*time.Minute), now.Add(-time.Minute)
	writeTestIntent(t, a, nA, "old-1", old)
	writeTestIntent(t, a, nA, "old-2", old.Add(time.Second))
	writeTestIntent(t, a, nA, "young", now)

	leaseA := a.NodeLease(nA, "a")
	mustTry(t, leaseA, true, "node A")
	ins, err := b.ClaimOrphanedIntents(ctx, nB, before, now)
	wantIntents(t, "claim while A runs", ins, err)
	ins, err = a.AuditIntents(ctx, nA)
	wantIntents(t, "A's intents while it runs", ins, err, "old-1", "old-2", "young")

	// A stops: B claims what is older than the bound.
	if err := leaseA.Release(); err != nil {
		t.Fatal(err)
	}
	claimedAt := now.Add(time.Second)
	ins, err = b.ClaimOrphanedIntents(ctx, nB, before, claimedAt)
	wantIntents(t, "claim once A stopped", ins, err, "old-1", "old-2")
	for _, in := range ins {
		if in.Node != nB || in.Origin != nA || !in.ClaimedAt.Equal(claimedAt) || !in.EventTime.Before(before) || string(in.Body) != `{"n":"`+in.EventID+`"}` {
			t.Errorf("claimed intent = %+v, want node %s, origin %s, claimed at %v, its own time and body", in, nB, nA, claimedAt)
		}
	}
	ins, err = b.AuditIntents(ctx, nB)
	wantIntents(t, "B's intents", ins, err, "old-1", "old-2")
	ins, err = a.AuditIntents(ctx, nA)
	wantIntents(t, "A's intents after the claim", ins, err, "young")

	// A claim under way holds A's own lease off until it commits: the
	// claim's lock is the lease's.
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var got bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1::int4, $2::int4)`, leaseClass, leaseID(nodeLeaseName(nA))).Scan(&got); err != nil || !got {
		t.Fatalf("a claim's lock on A: %v, %v", got, err)
	}
	leaseA = a.NodeLease(nA, "a again")
	defer leaseA.Release()
	mustTry(t, leaseA, false, "node A starting during a claim")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	mustTry(t, leaseA, true, "node A starting after the claim")

	// B runs: C takes none of what B claimed; B stops: C takes it over,
	// its origin still A.
	leaseB := b.NodeLease(nB, "b")
	mustTry(t, leaseB, true, "node B")
	ins, err = c.ClaimOrphanedIntents(ctx, nC, before, now)
	wantIntents(t, "claim while B runs", ins, err)
	if err := leaseB.Release(); err != nil {
		t.Fatal(err)
	}
	leaseC := c.NodeLease(nC, "c") // a claimer runs, so holds its lease
	defer leaseC.Release()
	mustTry(t, leaseC, true, "node C")
	ins, err = c.ClaimOrphanedIntents(ctx, nC, before, now)
	wantIntents(t, "claim once B stopped", ins, err, "old-1", "old-2")
	for _, in := range ins {
		if in.Node != nC || in.Origin != nA {
			t.Errorf("intent claimed twice = %+v, want node %s, origin %s", in, nC, nA)
		}
	}

	// Many claimers at once, one gone node: every row claimed once.
	nD := testNodeID(t)
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("d-%02d", i)
		writeTestIntent(t, a, nD, id, old)
		want = append(want, id)
	}
	claimers := []string{testNodeID(t), testNodeID(t), testNodeID(t)}
	claimed := make([][]store.StoredIntent, len(claimers))
	for i, id := range claimers {
		l := dbs[i].NodeLease(id, id)
		defer l.Release()
		mustTry(t, l, true, "claimer "+id)
	}
	errs := together(len(claimers), func(i int) error {
		var err error
		claimed[i], err = dbs[i].ClaimOrphanedIntents(ctx, claimers[i], before, now)
		return err
	})
	var all []store.StoredIntent
	for i, err := range errs {
		if err != nil {
			t.Fatalf("claimer %d: %v", i, err)
		}
		all = append(all, claimed[i]...)
	}
	wantIntents(t, "claimed by all claimers together", all, nil, want...)
}

// TestShippedAuditEvents finds shipped events by recipient, time (within
// a second) and id, through the lookup index.
func TestShippedAuditEvents(t *testing.T) {
	db := openTest(t)
	n := openAuditNode(t, db, t.TempDir())
	base := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	ids := n.record(t, "111122223333", base, 3)
	if err := n.ship.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	refs := []audit.EventRef{
		{Recipient: "111122223333", Time: base, EventID: ids[0]},
		{Recipient: "111122223333", Time: base.Add(time.Second + 400*time.Millisecond), EventID: ids[1]}, // the table keeps whole seconds
		{Recipient: "444455556666", Time: base.Add(2 * time.Second), EventID: ids[2]},                    // another account's
		{Recipient: "111122223333", Time: base.Add(10 * time.Second), EventID: ids[2]},                   // not at that time
		{Recipient: "111122223333", Time: base, EventID: "never-shipped"},
	}
	got, err := db.ShippedAuditEvents(t.Context(), refs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[ids[0]] || !got[ids[1]] {
		t.Fatalf("shipped = %v, want %s and %s only", got, ids[0], ids[1])
	}
}

// TestOrphanedIntentRecordedOnce runs the recovery over two audit logs:
// node A commits two changes with their intents and stops before writing
// either event, though the second one's event reached the shared event
// table; node B records the first one's event in its own chain, marked
// as recovered from A, and not the second; neither B again nor A,
// started again, writes another.
func TestOrphanedIntentRecordedOnce(t *testing.T) {
	dbs := nodes(t, 2)
	a, b := dbs[0], dbs[1]
	ctx := t.Context()
	dirA, dirB := t.TempDir(), t.TempDir()
	nA, nB := testNodeID(t), testNodeID(t)
	for dir, id := range map[string]string{dirA: nA, dirB: nB} {
		if err := os.WriteFile(filepath.Join(dir, audit.NodeIDFile), []byte(id+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	openLog := func(db *DB, dir, id string) (*audit.Log, *audit.Shipper) {
		t.Helper()
		sh := audit.NewShipper(db, nil)
		l, err := audit.Open(audit.Options{Dir: dir, Signer: testSigner, NodeID: id, Intents: db, OnDurable: sh.Wake})
		if err != nil {
			t.Fatal(err)
		}
		sh.Start(l)
		return l, sh
	}
	const account = "111122223333"
	at := time.Now().UTC().Add(-5 * time.Minute)
	event := func(id string) *audit.Event {
		ev := audit.NewAPICall(at, audit.SourceKMS, "CreateAlias", false)
		ev.EventID, ev.RecipientAccountID, ev.AWSRegion = id, account, "us-east-1"
		ev.UserIdentity.AccountID = account
		return ev
	}

	logA, shipA := openLog(a, dirA, nA)
	lost, shipped := "lost-"+nA, "shipped-"+nA
	for _, id := range []string{lost, shipped} {
		in := logA.Intent(event(id))
		if err := a.PutSetting(store.WithAuditIntent(ctx, in), "setting-"+id, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// The second request's event reached the log and the event table, but
	// not the janitor (this copy carries no intent): its row stays, as
	// when a node stops within seconds of recording.
	if err := logA.Record(ctx, event(shipped)); err != nil {
		t.Fatal(err)
	}
	if err := shipA.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	logA.Close()
	shipA.Close(ctx)

	logB, shipB := openLog(b, dirB, nB)
	defer shipB.Close(ctx)
	n, err := logB.RecoverOrphanedIntents(ctx, time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("RecoverOrphanedIntents = %d, %v; want 1 event written", n, err)
	}
	if n, err := logB.RecoverOrphanedIntents(ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("RecoverOrphanedIntents again = %d, %v; want none", n, err)
	}
	if err := shipB.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, db := range dbs {
		for _, node := range []string{nA, nB} {
			ins, err := db.AuditIntents(ctx, node)
			wantIntents(t, "intents of "+node+" after the recovery", ins, err)
		}
	}
	logB.Close()

	// A starts again: nothing of its own is left to write.
	logA, shipA = openLog(a, dirA, nA)
	logA.Close()
	shipA.Close(ctx)

	count := func(dir, id string) (n int, line map[string]any) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, ln := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if strings.Contains(ln, `"eventID":"`+id+`"`) {
					n++
					if err := json.Unmarshal([]byte(ln), &line); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		return n, line
	}
	nLostA, _ := count(dirA, lost)
	nLostB, ev := count(dirB, lost)
	nShippedA, _ := count(dirA, shipped)
	nShippedB, _ := count(dirB, shipped)
	if nLostA != 0 || nLostB != 1 || nShippedA != 1 || nShippedB != 0 {
		t.Fatalf("events of the lost request: %d in A's log, %d in B's (want 0, 1); of the shipped one: %d in A's, %d in B's (want 1, 0)",
			nLostA, nLostB, nShippedA, nShippedB)
	}
	extra, _ := ev["additionalEventData"].(map[string]any)
	if extra["trentRecoveredFrom"] != nA || !strings.Contains(fmt.Sprint(extra["trentRecovered"]), "did not start again") || ev["trentNode"] != nB {
		t.Errorf("B's recovered event = %v, want trentRecoveredFrom %s and the note, in node %s's chain", ev, nA, nB)
	}
	var rows int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE event_id = $1`, lost).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("rows of the recovered event in the event table: %d, %v; want 1 (B shipped it)", rows, err)
	}
}
