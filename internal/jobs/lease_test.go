package jobs_test

import (
	"context"
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
// (as it does when keepalives find its machine gone), the other takes
// over and the old holder runs nothing more, though it is still alive.
// When every session ends (a database restart), one runner takes the
// lease again.
func TestLeasedRunners(t *testing.T) {
	url := pgtest.Database(t, "")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var runs [2]atomic.Int64
	for i := range 2 {
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		r := &jobs.Runner{Interval: 20 * time.Millisecond, Log: quiet,
			Lease: db.NewLease("jobs", []string{"node0", "node1"}[i]),
			Work:  func(context.Context) error { runs[i].Add(1); return nil }}
		ctx, cancel := context.WithCancel(context.Background())
		done := r.Start(ctx)
		t.Cleanup(func() { cancel(); <-done })
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for range 1500 {
			if cond() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("not within 15s: %s", what)
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

	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var pid int
	var ended bool
	err = admin.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`,
		"trent lease jobs node"+string(rune('0'+holder))).Scan(&pid)
	if err == nil {
		err = admin.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ended)
	}
	if err != nil || !ended {
		t.Fatalf("end the holder's lease session: %v, %v", ended, err)
	}
	waitFor("the other runner takes over", func() bool { return runs[other].Load() > 0 })
	was := runs[holder].Load()
	time.Sleep(300 * time.Millisecond) // 15 intervals
	if now := runs[holder].Load(); now != was {
		t.Errorf("the old holder ran the work %d more times after losing the lease", now-was)
	}
	if runs[other].Load() < 5 {
		t.Errorf("the new holder ran the work %d times in 15 intervals", runs[other].Load())
	}

	// Every lease session ends at once, as when the database restarts:
	// one of the runners takes the lease again on a new session, and only
	// one runs.
	if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name LIKE 'trent lease jobs %'`); err != nil {
		t.Fatal(err)
	}
	waitFor("a runner takes the lease on a new session", func() bool {
		var n int
		err := admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'trent lease jobs %'`).Scan(&n)
		return err == nil && n == 1
	})
	time.Sleep(100 * time.Millisecond) // let the new holder's keeper and worker see it
	before := [2]int64{runs[0].Load(), runs[1].Load()}
	time.Sleep(300 * time.Millisecond)
	grew := 0
	for i := range runs {
		if runs[i].Load() > before[i] {
			grew++
		}
	}
	if grew != 1 {
		t.Errorf("after every lease session ended, %d runners run the work (counts %d, %d -> %d, %d)",
			grew, before[0], before[1], runs[0].Load(), runs[1].Load())
	}
}
