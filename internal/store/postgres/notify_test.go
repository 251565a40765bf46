package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// recorder is a store.ChangeWatcher that keeps what it is told, in order.
type recorder struct {
	mu     sync.Mutex
	events []event
	grew   chan struct{} // closed and replaced on every event
}

type event struct {
	change  *store.Change // nil for Fresh and Trouble
	fresh   time.Time
	trouble error
}

func newRecorder() *recorder { return &recorder{grew: make(chan struct{})} }

func (r *recorder) add(e event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	close(r.grew)
	r.grew = make(chan struct{})
}

func (r *recorder) Changed(c store.Change) { r.add(event{change: &c}) }
func (r *recorder) Fresh(at time.Time)     { r.add(event{fresh: at}) }
func (r *recorder) Trouble(err error)      { r.add(event{trouble: err}) }

// waitFor waits up to 10 s for an event at index from or later that ok
// accepts and returns its index.
func (r *recorder) waitFor(t *testing.T, from int, what string, ok func(event) bool) int {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			if ok(r.events[i]) {
				r.mu.Unlock()
				return i
			}
		}
		grew := r.grew
		r.mu.Unlock()
		select {
		case <-grew:
		case <-deadline:
			t.Fatalf("no %s within 10 s; events: %s", what, r.String())
		}
	}
}

// freshAfter waits for a Fresh whose time is after t: every change
// committed before t has been delivered by then.
func (r *recorder) freshAfter(tt *testing.T, t time.Time) int {
	tt.Helper()
	return r.waitFor(tt, 0, "Fresh after "+t.Format(time.StampMicro), func(e event) bool {
		return e.change == nil && e.trouble == nil && e.fresh.After(t)
	})
}

// changes returns the changes recorded at indexes [from, end).
func (r *recorder) changes(from, end int) []store.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	var cs []store.Change
	for _, e := range r.events[from:end] {
		if e.change != nil {
			cs = append(cs, *e.change)
		}
	}
	return cs
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		switch {
		case e.change != nil:
			fmt.Fprintf(&b, "[changed %+v] ", *e.change)
		case e.trouble != nil:
			fmt.Fprintf(&b, "[trouble %v] ", e.trouble)
		default:
			fmt.Fprintf(&b, "[fresh %s] ", e.fresh.Format(time.StampMicro))
		}
	}
	return b.String()
}

// watch runs db's change feed into a new recorder until the test ends and
// waits for its first Fresh.
func watch(t *testing.T, db *DB) *recorder {
	t.Helper()
	r := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- db.WatchChanges(ctx, r) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("WatchChanges returned %v, want context.Canceled", err)
		}
	})
	r.freshAfter(t, time.Time{})
	return r
}

func hasChange(cs []store.Change, want store.Change) bool {
	for _, c := range cs {
		if c == want || c.Kind == store.ChangeAll {
			return true
		}
	}
	return false
}

// TestChangeFeedNamesCommittedChanges: node 1 listens while node 0 writes.
// A change arrives only once its transaction commits (a Fresh that
// follows the uncommitted write carries no news of it), and then names
// what changed; a new key is not announced (nothing can have cached it).
func TestChangeFeedNamesCommittedChanges(t *testing.T) {
	dbs := nodes(t, 2)
	ctx := t.Context()
	r := watch(t, dbs[1])
	start := r.len()

	k, v := testKey("00000000-0000-4000-8000-00000000000a")
	if err := dbs[0].CreateKey(ctx, k, v); err != nil {
		t.Fatal(err)
	}
	k, _ = dbs[0].GetKey(ctx, k.ID)

	// Disable the key in a transaction left open until node 1 has
	// confirmed freshness after the write.
	tx, err := dbs[0].sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE keys SET state = 'Disabled', revision = revision + 1 WHERE id = $1", k.ID); err != nil {
		t.Fatal(err)
	}
	i := r.freshAfter(t, time.Now())
	if cs := r.changes(start, i); len(cs) > 0 {
		t.Fatalf("changes before any commit (a new key, or a write not committed): %v", cs)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	i = r.freshAfter(t, committed)
	if cs := r.changes(start, i); !hasChange(cs, store.Change{Kind: store.ChangeKey, KeyID: k.ID}) {
		t.Fatalf("after the commit: %v, want the key named", cs)
	}

	// Each kind of change, through the store's own writes.
	from := r.len()
	k, _ = dbs[0].GetKey(ctx, k.ID)
	k.CurrentVersion = 2
	if _, err := dbs[0].AddKeyVersion(ctx, k, store.KeyVersion{KeyID: k.ID, Version: 2,
		MaterialID: fmt.Sprintf("%064x", 2), Wrapped: []byte("v2"), RotationType: "ON_DEMAND"}); err != nil {
		t.Fatal(err)
	}
	if err := dbs[0].CreateAlias(ctx, store.Alias{Account: k.Account, Region: k.Region, Name: "alias/feed", KeyID: k.ID}); err != nil {
		t.Fatal(err)
	}
	if err := dbs[0].CreateAccount(ctx, store.Account{ID: "999988887777"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dbs[0].CreateGrant(ctx, store.Grant{KeyID: k.ID, GrantID: strings.Repeat("ab", 32), Account: k.Account,
		Region: k.Region, GranteePrincipal: "arn:aws:iam::111122223333:root", IssuingAccount: "arn:aws:iam::111122223333:root",
		Operations: []string{"Encrypt"}}, 100); err != nil {
		t.Fatal(err)
	}
	// A replica joining a multi-Region family changes what its primary's
	// metadata says.
	mrk := "mrk-0123456789abcdef0123456789abcdef"
	primary, pv := testKey(mrk + "/eu-west-1")
	primary.MultiRegionKey, primary.PrimaryRegion = mrk, "eu-west-1"
	if err := dbs[0].CreateMultiRegionKey(ctx, primary, []store.KeyVersion{pv}); err != nil {
		t.Fatal(err)
	}
	replica, rv := testKey(mrk + "/eu-west-2")
	replica.Region, replica.MultiRegionKey, replica.PrimaryRegion = "eu-west-2", mrk, "eu-west-1"
	if err := dbs[0].CreateMultiRegionKey(ctx, replica, []store.KeyVersion{rv}); err != nil {
		t.Fatal(err)
	}
	i = r.freshAfter(t, time.Now())
	got := r.changes(from, i)
	for _, want := range []store.Change{
		{Kind: store.ChangeKey, KeyID: k.ID},
		{Kind: store.ChangeAlias, Account: k.Account, Region: k.Region, Name: "alias/feed"},
		{Kind: store.ChangeKeyAliases, KeyID: k.ID},
		{Kind: store.ChangeAuthz},
		{Kind: store.ChangeGrants, KeyID: k.ID},
		{Kind: store.ChangeKey, KeyID: primary.ID},
	} {
		if !hasChange(got, want) {
			t.Errorf("no %+v in %v", want, got)
		}
	}
	for _, c := range got {
		if c.Kind == store.ChangeAll {
			t.Errorf("ChangeAll without a lost connection: %v", got)
		}
	}
}

// TestChangeFeedLostConnection kills node 1's listening session and, in
// the same transaction, disables a key: the notification finds no one
// listening and is lost. The feed must report the trouble, reconnect, and
// report everything changed before it reports freshness past the commit
// again; and a change after the reconnection is named again.
func TestChangeFeedLostConnection(t *testing.T) {
	dbs := nodes(t, 2)
	ctx := t.Context()
	k, v := testKey("00000000-0000-4000-8000-00000000000b")
	if err := dbs[0].CreateKey(ctx, k, v); err != nil {
		t.Fatal(err)
	}
	r := watch(t, dbs[1])
	var ch string
	if err := dbs[0].sql.QueryRowContext(ctx, "SELECT 'trent_' || md5(current_schema())").Scan(&ch); err != nil {
		t.Fatal(err)
	}
	from := r.len()

	tx, err := dbs[0].sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var killed int
	// Wait (up to 5 s) for the session to end, so that nobody listens
	// when the UPDATE commits.
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'trent-changes' AND query LIKE '%' || $1 || '%'
		AND pg_terminate_backend(pid, 5000)`, ch).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("killed %d listening sessions, want 1", killed)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE keys SET state = 'Disabled', revision = revision + 1 WHERE id = $1", k.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	i := r.freshAfter(t, committed)
	all := r.waitFor(t, from, "ChangeAll after the kill", func(e event) bool {
		return e.change != nil && e.change.Kind == store.ChangeAll
	})
	if all > i {
		t.Fatalf("fresh (event %d) before everything was dropped (event %d): %s", i, all, r)
	}
	r.waitFor(t, from, "the lost connection reported", func(e event) bool { return e.trouble != nil })
	t.Logf("events after the kill: %s", r)

	// Listening again: the next change is named.
	from = r.len()
	k, _ = dbs[0].GetKey(ctx, k.ID)
	k.State = "Enabled"
	if _, err := dbs[0].UpdateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, from, "the key named after the reconnection", func(e event) bool {
		return e.change != nil && *e.change == store.Change{Kind: store.ChangeKey, KeyID: k.ID}
	})
}

func FuzzParsePayload(f *testing.F) {
	for _, s := range []string{"key 1234abcd-12ab-34cd-56ef-1234567890ab", "key-aliases k", "grants k",
		"alias 111122223333 us-east-1 alias/x y", "authz", "ping 0011aabb 42", "ping x", "", "key", "alias a b",
		"authz 3", "ping n 18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, node, seq, err := parsePayload(p)
		if err != nil {
			if c != (store.Change{}) || node != "" || seq != 0 {
				t.Fatalf("%q: error %v with a result", p, err)
			}
			return
		}
		switch {
		case node != "":
			if want := fmt.Sprintf("ping %s %d", node, seq); p != want {
				t.Fatalf("%q read as ping %q %d", p, node, seq)
			}
		case c.Kind == store.ChangeAlias:
			if p != "alias "+c.Account+" "+c.Region+" "+c.Name {
				t.Fatalf("%q read as %+v", p, c)
			}
		case c.Kind == store.ChangeAuthz:
			if p != "authz" {
				t.Fatalf("%q read as %+v", p, c)
			}
		default:
			if c.KeyID == "" || !strings.HasSuffix(p, " "+c.KeyID) {
				t.Fatalf("%q read as %+v", p, c)
			}
		}
	})
}

// BenchmarkUpdateKey updates keys (their description) from parallel
// goroutines, each its own key, with fsync on: what the notification every
// such write sends (0005) costs. PostgreSQL serializes the commits of
// transactions that NOTIFY (a database-wide lock held through the commit),
// so this is the write path the change feed slows; CreateKey sends none.
//
//	go test ./internal/store/postgres -run '^$' -bench UpdateKey -benchtime 2000x
func BenchmarkUpdateKey(b *testing.B) {
	pgtest.Require(b)
	ctx := context.Background()
	durable(b, true)
	b.Cleanup(func() { durable(b, false) })
	db, err := Open(ctx, pgtest.Database(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		k, v := testKey(fmt.Sprintf("00000000-0000-4000-8000-%012d", seq.Add(1)))
		if err := db.CreateKey(ctx, k, v); err != nil {
			b.Error(err)
			return
		}
		k, err := db.GetKey(ctx, k.ID)
		if err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			k.Description = fmt.Sprint(i)
			if k, err = db.UpdateKey(ctx, k); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
