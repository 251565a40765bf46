package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/jobs"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestLeasedRunners: two runners on two nodes of one database; only the
// lease holder runs the work. When the server ends the holder's session
// (as it does when keepalives find its machine gone) and the holder can
// no longer reach the database, the other takes over and the old holder
// runs nothing more, though it is still alive. When every session ends (a
// database restart), one runner takes the lease again.
//
// The test waits on what the runners do (their rounds, their lease
// calls), never a fixed time: under -race beside other packages a keeper
// may run well after its 20 ms tick, and the sleeps this test had failed
// about one run in fifteen (the other runner not taking over because the
// old holder, still able to connect, took its lease back first; the old
// holder running one more round because its keeper had not tried the
// lease yet when the test started counting).
func TestLeasedRunners(t *testing.T) {
	url := pgtest.Database(t, "")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var runs [2]atomic.Int64
	var leases [2]*cutLease
	for i := range 2 {
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		leases[i] = &cutLease{Lease: db.NewLease("jobs", []string{"node0", "node1"}[i])}
		r := &jobs.Runner{Interval: 20 * time.Millisecond, Log: quiet, Lease: leases[i],
			Work: func(context.Context) error { runs[i].Add(1); return nil }}
		ctx, cancel := context.WithCancel(context.Background())
		done := r.Start(ctx)
		t.Cleanup(func() { cancel(); <-done })
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for range 3000 {
			if cond() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("not within 30s: %s", what)
	}
	// settled waits until every runner has finished a lease try begun
	// after this call: each keeper's verdict on the lease as it is now has
	// reached its runner (a keeper tries, then records what it found, then
	// waits for its next tick).
	settled := func(what string) {
		t.Helper()
		var begun [2]int64
		for i, l := range leases {
			begun[i] = l.begun.Load()
		}
		waitFor(what, func() bool {
			return leases[0].ended.Load() > begun[0] && leases[1].ended.Load() > begun[1]
		})
	}
	// steady waits until runner i has run at least 5 more rounds over at
	// least 15 intervals, and returns how many rounds each runner ran.
	steady := func(what string, i int) [2]int64 {
		t.Helper()
		from, start := runs[i].Load(), time.Now()
		waitFor(what, func() bool { return runs[i].Load() >= from+5 && time.Since(start) >= 300*time.Millisecond })
		return [2]int64{runs[0].Load(), runs[1].Load()}
	}
	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// granted counts the lease sessions that hold the lease's lock.
	granted := func() int {
		var n int
		if err := admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'trent lease jobs %'`).Scan(&n); err != nil {
			return -1
		}
		return n
	}

	waitFor("one runner runs the work", func() bool { return runs[0].Load()+runs[1].Load() >= 5 })
	holder := 0
	if runs[1].Load() > 0 {
		holder = 1
	}
	other := 1 - holder
	if runs[other].Load() != 0 {
		t.Fatalf("both runners ran the work: %d and %d times", runs[0].Load(), runs[1].Load())
	}

	// The holder's machine drops off the network: the server ends its
	// session, and the holder cannot connect again (cut: once its lease
	// finds the session gone, its tries fail).
	leases[holder].cut.Store(true)
	var pid int
	var ended bool
	err = admin.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`,
		"trent lease jobs node"+string(rune('0'+holder))).Scan(&pid)
	if err == nil {
		// With a timeout, pg_terminate_backend waits for the session to end.
		err = admin.QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 30000)`, pid).Scan(&ended)
	}
	if err != nil || !ended {
		t.Fatalf("end the holder's lease session: %v, %v", ended, err)
	}
	waitFor("the other runner takes over", func() bool { return runs[other].Load() > 0 })
	waitFor("the old holder finds its session gone", leases[holder].down.Load)
	settled("the old holder's keeper records that it lost the lease")
	was := runs[holder].Load()
	if now := steady("the new holder runs the work", other); now[holder] != was {
		t.Errorf("the old holder ran the work %d more times after losing the lease", now[holder]-was)
	}

	// Every lease session ends at once, as when the database restarts (the
	// old holder can reach it again): one of the runners takes the lease
	// again on a new session, and only one runs.
	leases[holder].down.Store(false)
	leases[holder].cut.Store(false)
	if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity
		WHERE application_name LIKE 'trent lease jobs %'`); err != nil {
		t.Fatal(err)
	}
	waitFor("a runner takes the lease on a new session", func() bool { return granted() == 1 })
	settled("both keepers find who holds the lease now")
	before := [2]int64{runs[0].Load(), runs[1].Load()}
	waitFor("a runner runs the work again", func() bool {
		return runs[0].Load() > before[0] || runs[1].Load() > before[1]
	})
	next := 0
	if runs[1].Load() > before[1] {
		next = 1
	}
	after := steady("the new holder runs the work", next)
	if after[1-next] != before[1-next] {
		t.Errorf("after every lease session ended, both runners run the work (counts %d, %d -> %d, %d)",
			before[0], before[1], after[0], after[1])
	}
	if n := granted(); n != 1 {
		t.Errorf("%d lease sessions hold the lease's lock, want 1", n)
	}
}

// cutLease is a runner's lease with a switch for the test to take its node
// off the network: once cut, the first try that fails (the server ended
// the session) sets down, and from then on every try fails without
// reaching the database, as a node that cannot connect. It counts the
// tries begun and ended, for the test to know a keeper's verdict is in.
type cutLease struct {
	jobs.Lease
	cut, down    atomic.Bool
	begun, ended atomic.Int64
}

var errUnreachable = errors.New("the database is unreachable (cut by the test)")

func (l *cutLease) Try(ctx context.Context) (bool, error) {
	l.begun.Add(1)
	defer l.ended.Add(1)
	if l.down.Load() {
		return false, errUnreachable
	}
	ok, err := l.Lease.Try(ctx)
	if err != nil && l.cut.Load() {
		l.down.Store(true)
	}
	return ok, err
}
