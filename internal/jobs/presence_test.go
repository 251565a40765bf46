package jobs_test

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/jobs"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// TestPresence: a node holds its lease from Hold until release; a second
// process on
// the same node id waits and is refused while the first runs, and takes
// the lease once the first releases it, within its wait; when the server
// ends the holder's session, the holder takes the lease again.
func TestPresence(t *testing.T) {
	url := pgtest.Database(t, "")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() *postgres.DB {
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	node := "n-presence-test"
	first := &jobs.Presence{Lease: a.NodeLease(node, "first"), Log: quiet, Check: 50 * time.Millisecond}
	release, err := first.Hold(t.Context())
	if err != nil {
		t.Fatalf("first Hold: %v", err)
	}
	second := &jobs.Presence{Lease: b.NodeLease(node, "second"), Log: quiet, Wait: 500 * time.Millisecond}
	if _, err := second.Hold(t.Context()); !errors.Is(err, jobs.ErrPresenceHeld) {
		t.Fatalf("second Hold while the first holds the lease: %v, want ErrPresenceHeld", err)
	}

	// The server ends the holder's session: the keeper takes the lease
	// again on a new one.
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	kill := `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'trent lease node ` + node + ` first'`
	if _, err := conn.Exec(t.Context(), kill); err != nil {
		t.Fatal(err)
	}
	held := func() bool {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
			WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'trent lease node `+node+` first'`).Scan(&n)
		return err == nil && n == 1
	}
	for i := 0; !held(); i++ {
		if i == 3000 { // 30 s: the keeper's retry is scheduled late on a loaded machine
			t.Fatal("the first holder did not take its lease again after the server ended its session")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Released while the second waits: the second gets it.
	second.Wait = 10 * time.Second
	go func() { time.Sleep(300 * time.Millisecond); release() }()
	release2, err := second.Hold(t.Context())
	if err != nil {
		t.Fatalf("second Hold after the first released: %v", err)
	}
	release2()
}
