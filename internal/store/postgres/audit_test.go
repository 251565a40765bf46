package postgres

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// auditNode is one node's audit log in a temporary directory, with its
// shipper to db.
type auditNode struct {
	dir  string
	id   string
	log  *audit.Log
	ship *audit.Shipper
}

var testSigner = func() crypto.Signer {
	k, err := audit.GenerateSigningKey()
	if err != nil {
		panic(err)
	}
	return k
}()

func openAuditNode(t *testing.T, db *DB, dir string) *auditNode {
	t.Helper()
	id, err := audit.NodeID(dir)
	if err != nil {
		t.Fatal(err)
	}
	sh := audit.NewShipper(db, nil)
	sh.MaxBatch = 7 // several batches per Sync
	l, err := audit.Open(audit.Options{Dir: dir, Signer: testSigner, NodeID: id, OnDurable: sh.Wake})
	if err != nil {
		t.Fatal(err)
	}
	sh.Start(l)
	n := &auditNode{dir: dir, id: id, log: l, ship: sh}
	t.Cleanup(n.close)
	return n
}

func (n *auditNode) close() {
	if n.log == nil {
		return
	}
	n.log.Close()
	n.ship.Close(context.Background())
	n.log = nil
}

// record writes count events for account, named Op0, Op1, …, one second
// apart from base, and returns their event ids.
func (n *auditNode) record(t *testing.T, account string, base time.Time, count int) []string {
	t.Helper()
	var ids []string
	for i := range count {
		ev, err := audit.NewServiceEvent(base.Add(time.Duration(i)*time.Second), audit.SourceKMS, fmt.Sprintf("Op%d", i%3), account, "us-east-1", map[string]string{"keyId": "k"})
		if err != nil {
			t.Fatal(err)
		}
		ev.Resources = []audit.Resource{{AccountID: account, Type: audit.ResourceTypeKey, ARN: fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/key-%d", account, i%2)}}
		if err := n.log.Record(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.EventID)
	}
	return ids
}

func (n *auditNode) sync(t *testing.T) {
	t.Helper()
	if err := n.ship.Sync(t.Context()); err != nil {
		t.Fatalf("ship: %v", err)
	}
}

func countRows(t *testing.T, db *DB, node string) (n, distinct int) {
	t.Helper()
	if err := db.pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT seq) FROM audit_events WHERE node = $1`, node).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	return n, distinct
}

// TestShipperIdempotent: a node's events reach the table once each,
// however often they are shipped — by a second shipper from scratch (a
// restart), after the node was stopped with events unshipped (the catch-up
// at start), or as an overlapping batch sent again — and an event shipped
// with another content is refused, not overwritten.
func TestShipperIdempotent(t *testing.T) {
	db := openTest(t)
	dir := t.TempDir()
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	n := openAuditNode(t, db, dir)
	n.record(t, "111122223333", base, 30)
	n.sync(t)
	if c, d := countRows(t, db, n.id); c != 30 || d != 30 {
		t.Fatalf("after shipping 30 events: %d rows, %d distinct", c, d)
	}
	h, err := db.ShippedHead(t.Context(), n.id)
	if err != nil || h.Seq != 30 {
		t.Fatalf("ShippedHead = %+v, %v; want seq 30", h, err)
	}

	// A second shipper, as after a restart, finds everything shipped.
	sh2 := audit.NewShipper(db, nil)
	sh2.Start(n.log)
	if err := sh2.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	sh2.Close(t.Context())
	if c, _ := countRows(t, db, n.id); c != 30 {
		t.Fatalf("a second shipper made %d rows", c)
	}

	// Stop the node without shipping the last events: its shipper is
	// stopped first, as a SIGKILL between the fsync and the insert.
	n.ship.Close(t.Context())
	n.ship = audit.NewShipper(db, nil) // never started: ships nothing
	n.record(t, "111122223333", base.Add(time.Hour), 12)
	n.log.Close()
	n.log = nil
	if c, _ := countRows(t, db, n.id); c != 30 {
		t.Fatalf("%d rows before the restart", c)
	}
	n = openAuditNode(t, db, dir) // the catch-up
	n.sync(t)
	if c, d := countRows(t, db, n.id); c != 42 || d != 42 {
		t.Fatalf("after the catch-up: %d rows, %d distinct; want 42", c, d)
	}

	// The same batch twice, and a batch overlapping what is stored.
	evs := shippedFromFiles(t, n.id, dir)
	if len(evs) != 42 {
		t.Fatalf("%d events in the files", len(evs))
	}
	for _, batch := range [][]audit.ShippedEvent{evs[10:20], evs[10:20], evs[35:]} {
		if err := db.ShipEvents(t.Context(), n.id, batch); err != nil {
			t.Fatalf("shipping stored events again: %v", err)
		}
	}
	if c, _ := countRows(t, db, n.id); c != 42 {
		t.Fatalf("re-shipping made %d rows", c)
	}
	forged := slices.Clone(evs[20:22])
	forged[1].Line = []byte(strings.Replace(string(forged[1].Line), "Op", "Xp", 1))
	forged[1].Hash[0] ^= 1
	if err := db.ShipEvents(t.Context(), n.id, forged); err == nil || !strings.Contains(err.Error(), "differs from the copy stored before") {
		t.Fatalf("shipping an event with another content: %v", err)
	}
	var line []byte
	if err := db.pool.QueryRow(t.Context(), `SELECT line FROM audit_events WHERE node = $1 AND seq = $2`, n.id, int64(forged[1].Seq)).Scan(&line); err != nil || string(line) != string(evs[21].Line) {
		t.Fatalf("the stored event changed: %v", err)
	}
}

// shippedFromFiles ships a copy of dir's log into a throwaway sink and
// returns what it would store.
func shippedFromFiles(t *testing.T, node, dir string) []audit.ShippedEvent {
	t.Helper()
	c := &memSink{}
	copyDir := t.TempDir()
	testfiles.CopyDir(t, dir, copyDir)
	l, err := audit.Open(audit.Options{Dir: copyDir, Signer: testSigner, NodeID: node})
	if err != nil {
		t.Fatal(err)
	}
	sh := audit.NewShipper(c, nil)
	sh.Start(l)
	if err := sh.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	sh.Close(t.Context())
	l.Close()
	return c.evs
}

type memSink struct{ evs []audit.ShippedEvent }

func (m *memSink) ShippedHead(context.Context, string) (audit.ShippedHead, error) {
	return audit.ShippedHead{}, nil
}
func (m *memSink) ShipEvents(_ context.Context, _ string, evs []audit.ShippedEvent) error {
	m.evs = append(m.evs, evs...)
	return nil
}
func (m *memSink) RecordDigest(context.Context, string, string, audit.DigestHead) error { return nil }

// TestShipperRefusesShortLog: a node whose files end before what it
// shipped (its log cut short, or replaced under the same node id) ships
// nothing and says why.
func TestShipperRefusesShortLog(t *testing.T) {
	db := openTest(t)
	dir := t.TempDir()
	n := openAuditNode(t, db, dir)
	n.record(t, "111122223333", time.Now(), 5)
	n.sync(t)
	n.close()

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, audit.NodeIDFile), []byte(n.id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := openAuditNode(t, db, other)
	m.record(t, "111122223333", time.Now(), 2)
	if err := m.ship.Sync(t.Context()); err == nil || !strings.Contains(err.Error(), "cut short or replaced") {
		t.Fatalf("shipping a shorter log under a shipped node id: %v", err)
	}
	if c, _ := countRows(t, db, n.id); c != 5 {
		t.Fatalf("%d rows", c)
	}
}

// TestClusterLookup: LookupEvents over the table finds every node's
// events of the caller's account only, with each attribute, the time
// range and paging, and answers exactly as the file-based lookup of a
// single log holding the same events.
func TestClusterLookup(t *testing.T) {
	db := openTest(t)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := openAuditNode(t, db, t.TempDir())
	b := openAuditNode(t, db, t.TempDir())
	idsA := a.record(t, "111122223333", base, 25)
	idsB := b.record(t, "111122223333", base.Add(1500*time.Millisecond), 25) // interleaved in time, some seconds shared
	b.record(t, "999988887777", base, 5)                                     // another account
	a.sync(t)
	b.sync(t)
	cs := audit.ClusterSearcher{Fetch: db.FetchAuditEvents}

	all := func(q audit.Query) []audit.Match {
		t.Helper()
		var out []audit.Match
		for pages := 0; ; pages++ {
			ms, next, err := cs.Lookup(t.Context(), q)
			if err != nil {
				t.Fatalf("Lookup %+v: %v", q, err)
			}
			if len(ms) > max(q.MaxResults, 0) && q.MaxResults > 0 {
				t.Fatalf("page of %d > %d", len(ms), q.MaxResults)
			}
			out = append(out, ms...)
			if next == "" {
				return out
			}
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			q.NextToken = next
		}
	}
	got := all(audit.Query{AccountID: "111122223333", MaxResults: 7})
	var gotIDs []string
	for i, m := range got {
		gotIDs = append(gotIDs, m.EventID)
		if i > 0 && m.EventTime.After(got[i-1].EventTime) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	want := append(slices.Clone(idsA), idsB...)
	sort.Strings(want)
	sorted := slices.Clone(gotIDs)
	sort.Strings(sorted)
	if !slices.Equal(sorted, want) {
		t.Fatalf("paging over both nodes found %d events, want the %d of the account, each once", len(got), len(want))
	}

	// Each attribute and a time range, against a filter of the same events
	// in Go.
	for _, tc := range []struct {
		q    audit.Query
		want int
	}{
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrEventName, Value: "Op1"}}}, 8 + 8},
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrEventID, Value: idsB[3]}}}, 1},
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrResourceName, Value: "key-1"}}}, 12 + 12},
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrResourceName, Value: "arn:aws:kms:us-east-1:111122223333:key/key-0"}}}, 13 + 13},
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrResourceType, Value: audit.ResourceTypeKey}}}, 50},
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrReadOnly, Value: "false"}}}, 50},
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrReadOnly, Value: "true"}}}, 0},
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrEventSource, Value: audit.SourceKMS}}}, 50},
		{audit.Query{Attributes: []audit.Attribute{{Key: audit.AttrUsername, Value: "root"}}}, 0},
		{audit.Query{StartTime: base.Add(10 * time.Second), EndTime: base.Add(12*time.Second + 300*time.Millisecond)}, 3 + 3}, // B at 10.5, 11.5, 12.5 s: written as whole seconds,
	} {
		tc.q.AccountID = "111122223333"
		tc.q.MaxResults = 4
		if got := all(tc.q); len(got) != tc.want {
			t.Errorf("%+v: %d events, want %d", tc.q, len(got), tc.want)
		}
	}
	if got := all(audit.Query{AccountID: "999988887777"}); len(got) != 5 {
		t.Errorf("the other account sees %d events, want its 5", len(got))
	}
	// A page token is bound to its query, and file tokens are not taken.
	_, next, _ := cs.Lookup(t.Context(), audit.Query{AccountID: "111122223333", MaxResults: 2})
	for _, tok := range []string{next, "eyJmIjoxLCJvIjoxMCwicSI6IngifQ", "garbage"} {
		q := audit.Query{AccountID: "111122223333", MaxResults: 3, NextToken: tok}
		if tok == next {
			q.AccountID = "999988887777"
		}
		if _, _, err := cs.Lookup(t.Context(), q); err != audit.ErrInvalidNextToken {
			t.Errorf("token %q: %v", tok, err)
		}
	}

	// One node alone: the table answers as that node's files do.
	qs := []audit.Query{{AccountID: "111122223333", MaxResults: 5}, {AccountID: "111122223333", Attributes: []audit.Attribute{{Key: audit.AttrEventName, Value: "Op2"}}}}
	c := openAuditNode(t, db, t.TempDir())
	c.record(t, "555555555555", base, 17)
	c.sync(t)
	for _, q := range qs {
		q.AccountID = "555555555555"
		fromTable := all(q)
		var fromFiles []audit.Match
		for {
			ms, next, err := c.log.Lookup(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			fromFiles = append(fromFiles, ms...)
			if next == "" {
				break
			}
			q.NextToken = next
		}
		if len(fromTable) != len(fromFiles) || len(fromFiles) == 0 {
			t.Fatalf("%+v: table %d, files %d", q, len(fromTable), len(fromFiles))
		}
		for i := range fromFiles {
			f, g := fromFiles[i], fromTable[i]
			if f.EventID != g.EventID || string(f.CloudTrailEvent) != string(g.CloudTrailEvent) || f.Username != g.Username || !slices.Equal(f.Resources, g.Resources) {
				t.Fatalf("%+v: match %d differs:\nfiles %+v\ntable %+v", q, i, f, g)
			}
		}
	}
}

// TestVerifyCluster: the heads table catches what the files alone cannot
// — a node's log missing, or cut short together with its newest digest —
// and a database copy that differs from the files.
func TestVerifyCluster(t *testing.T) {
	db := openTest(t)
	a := openAuditNode(t, db, t.TempDir())
	b := openAuditNode(t, db, t.TempDir())
	for range 3 {
		a.record(t, "111122223333", time.Now(), 4)
		b.record(t, "111122223333", time.Now(), 4)
		if err := b.log.Digest(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	a.close()
	b.close()
	pub := testSigner.Public()

	reps, err := audit.VerifyCluster(t.Context(), db, pub, []string{a.dir, b.dir})
	if err != nil {
		t.Fatalf("intact cluster: %v %+v", err, reps)
	}
	for _, r := range reps {
		if r.Rows != 12 || r.Head == nil || r.Head.ShippedSeq != 12 || r.Head.Digest.Seq == 0 {
			t.Fatalf("report %+v", r)
		}
	}

	problem := func(dirs ...string) string {
		t.Helper()
		reps, err := audit.VerifyCluster(t.Context(), db, pub, dirs)
		if err == nil {
			t.Fatalf("verify passed: %+v", reps)
		}
		var msgs []string
		for _, r := range reps {
			if r.Problem != nil {
				msgs = append(msgs, r.Problem.Error())
			}
		}
		return strings.Join(msgs, "\n")
	}
	// B's older part archived (on a copy): B's directory alone fails at
	// its first digest; given beside it, the archive makes the log whole.
	bLive, archB := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	testfiles.CopyDir(t, b.dir, bLive)
	if rep, err := audit.Archive(bLive, archB, time.Now().Add(time.Hour)); err != nil || rep.Digests == 0 {
		t.Fatalf("Archive: %+v %v", rep, err)
	}
	if p := problem(a.dir, bLive); !strings.Contains(p, "node "+b.id) || !strings.Contains(p, "the digests before it were removed") {
		t.Fatalf("B without its archive: %s", p)
	}
	reps, err = audit.VerifyCluster(t.Context(), db, pub, []string{archB, a.dir, bLive})
	if err != nil {
		t.Fatalf("B with its archive: %v %+v", err, reps)
	}
	for _, r := range reps {
		if r.Node == b.id && (r.Rows != 12 || r.Dir != bLive || !slices.Equal(r.Archives, []string{archB})) {
			t.Fatalf("B with its archive: %+v", r)
		}
	}

	// B's directory not given (deleted).
	if p := problem(a.dir); !strings.Contains(p, "node "+b.id+": its log is missing") {
		t.Fatalf("B missing: %s", p)
	}

	// B cut short after its third digest: the newest digest and the events
	// it covers removed. B's files alone still verify.
	cut := t.TempDir()
	testfiles.CopyDir(t, b.dir, cut)
	ls, _ := filepath.Glob(filepath.Join(cut, "digest-*.json"))
	sort.Strings(ls)
	evf, _ := filepath.Glob(filepath.Join(cut, "audit-*.jsonl"))
	data, _ := os.ReadFile(evf[0])
	lines := strings.SplitAfter(string(data), "\n")
	if err := os.WriteFile(evf[0], []byte(strings.Join(lines[:8], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range ls[2:] {
		os.Remove(d)
	}
	if rep, err := audit.Verify(cut, pub); err != nil || rep.Events != 8 {
		t.Fatalf("the cut log alone: %+v %v (the test expects it to pass on its own)", rep, err)
	}
	if p := problem(a.dir, cut); !strings.Contains(p, "node "+b.id) || !strings.Contains(p, "truncated") {
		t.Fatalf("B cut short: %s", p)
	}

	// The database's copy of an A event edited (what LookupEvents shows).
	if _, err := db.pool.Exec(t.Context(), `UPDATE audit_events SET hash = sha256(line) WHERE node = $1 AND seq = 5`, a.id); err != nil {
		t.Fatal(err)
	}
	if p := problem(a.dir, b.dir); !strings.Contains(p, "node "+a.id) || !strings.Contains(p, "event 5 in the database differs") {
		t.Fatalf("row edited: %s", p)
	}
}

// TestClusterLookupSeesOwnEvents: a node's LookupEvents flushes its own
// shipper first, so it sees the requests it has just served even though
// shipping waits between rounds (here, an hour).
func TestClusterLookupSeesOwnEvents(t *testing.T) {
	db := openTest(t)
	dir := t.TempDir()
	id, err := audit.NodeID(dir)
	if err != nil {
		t.Fatal(err)
	}
	sh := audit.NewShipper(db, nil)
	sh.Interval = time.Hour
	l, err := audit.Open(audit.Options{Dir: dir, Signer: testSigner, NodeID: id, OnDurable: sh.Wake})
	if err != nil {
		t.Fatal(err)
	}
	sh.Start(l)
	n := &auditNode{dir: dir, id: id, log: l, ship: sh}
	t.Cleanup(n.close)
	n.record(t, "111122223333", time.Now(), 1) // the first round ships it, then waits an hour
	if err := sh.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := n.record(t, "111122223333", time.Now(), 1)[0]
	q := audit.Query{AccountID: "111122223333", Attributes: []audit.Attribute{{Key: audit.AttrEventID, Value: want}}}
	if ms, _, err := (audit.ClusterSearcher{Fetch: db.FetchAuditEvents}).Lookup(t.Context(), q); err != nil || len(ms) != 0 {
		t.Fatalf("without a flush the event is not shipped yet (the test relies on that): %v %d", err, len(ms))
	}
	ms, _, err := audit.ClusterSearcher{Fetch: db.FetchAuditEvents, Flush: sh.Sync}.Lookup(t.Context(), q)
	if err != nil || len(ms) != 1 || ms[0].EventID != want {
		t.Fatalf("the node's lookup right after its request: %v %+v", err, ms)
	}
}

// TestPruneAuditEvents: pruning deletes each node's events older than the
// cutoff as a prefix of its chain, never its newest row; the cluster still
// verifies (from the first row left), a node started again ships on from
// where it was, and a row missing inside what is left still fails.
func TestPruneAuditEvents(t *testing.T) {
	db := openTest(t)
	now := time.Now()
	a := openAuditNode(t, db, t.TempDir())
	a.record(t, "111122223333", now.Add(-200*24*time.Hour), 10)
	a.record(t, "111122223333", now.Add(-100*24*time.Hour), 5)
	a.record(t, "111122223333", now.Add(-time.Hour), 5)
	a.sync(t)
	b := openAuditNode(t, db, t.TempDir())
	b.record(t, "111122223333", now.Add(-200*24*time.Hour), 5)
	b.sync(t)
	a.close()
	b.close()

	pruned, err := db.PruneAuditEvents(t.Context(), now.Add(-90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]PrunedNode{
		a.id: {Node: a.id, Deleted: 15, Through: 15},
		b.id: {Node: b.id, Deleted: 4, Through: 4}, // its newest row stays: the shipper resumes there
	}
	if len(pruned) != 2 || pruned[0] != want[pruned[0].Node] || pruned[1] != want[pruned[1].Node] {
		t.Fatalf("pruned %+v, want %+v", pruned, want)
	}
	if c, _ := countRows(t, db, a.id); c != 5 {
		t.Fatalf("%d rows of node A left, want 5", c)
	}
	if again, err := db.PruneAuditEvents(t.Context(), now.Add(-90*24*time.Hour)); err != nil || again[0].Deleted+again[1].Deleted != 0 {
		t.Fatalf("pruning again: %+v %v, want nothing deleted", again, err)
	}

	pub := testSigner.Public()
	reps, err := audit.VerifyCluster(t.Context(), db, pub, []string{a.dir, b.dir})
	if err != nil {
		t.Fatalf("verify after pruning: %v %+v", err, reps)
	}
	for _, r := range reps {
		if r.Node == a.id && (r.FirstRow != 16 || r.Rows != 5) || r.Node == b.id && (r.FirstRow != 5 || r.Rows != 1) {
			t.Fatalf("report %+v", r)
		}
	}

	// Node A again: its shipper resumes after its newest row, shipping
	// nothing twice and nothing pruned back.
	a = openAuditNode(t, db, a.dir)
	a.record(t, "111122223333", now, 2)
	a.sync(t)
	a.close()
	if c, d := countRows(t, db, a.id); c != 7 || d != 7 {
		t.Fatalf("after node A shipped 2 more: %d rows (%d distinct), want 7", c, d)
	}
	if reps, err := audit.VerifyCluster(t.Context(), db, pub, []string{a.dir, b.dir}); err != nil {
		t.Fatalf("verify after node A went on: %v %+v", err, reps)
	}

	// A row deleted inside what is left is not pruning.
	if _, err := db.pool.Exec(t.Context(), `DELETE FROM audit_events WHERE node = $1 AND seq = 18`, a.id); err != nil {
		t.Fatal(err)
	}
	_, err = audit.VerifyCluster(t.Context(), db, pub, []string{a.dir, b.dir})
	if err == nil {
		t.Fatal("verify passed with a row missing between the first and the newest")
	}
	reps, _ = audit.VerifyCluster(t.Context(), db, pub, []string{a.dir, b.dir})
	for _, r := range reps {
		if r.Node == a.id && (r.Problem == nil || !strings.Contains(r.Problem.Error(), "holds 6 of its events 16 to 22: rows were deleted")) {
			t.Fatalf("node A: %v", r.Problem)
		}
	}
}
