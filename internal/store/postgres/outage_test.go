package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// Database trouble (unavailable.go): a cluster of the test's own is
// stopped under load, or frozen; every call must end within its deadline
// with success or store.ErrUnavailable, and the same DB must serve again
// once the database is back, with every acknowledged write in it.

// hang is how far past its deadline a call may return before the test
// calls it a hang rather than a slow machine: far more than scheduling
// noise on a loaded machine, far less than a connection that waits for
// TCP to give up (minutes).
const hang = 10 * time.Second

// TestOutage runs the outage tests on one cluster of its own (each
// stops or freezes it; one initdb for all of them), one after another.
func TestOutage(t *testing.T) {
	c := pgtest.StartForTest(t)
	t.Cleanup(func() { _ = c.Thaw() }) // before Stop, if a test froze it
	t.Run("Frozen", func(t *testing.T) { testOutageFrozen(t, c) })
	t.Run("CommitOutcomeUnknown", func(t *testing.T) { testOutageCommitOutcomeUnknown(t, c) })
	for _, mode := range []string{"fast", "immediate"} {
		t.Run("StopAndStart/"+mode, func(t *testing.T) { testOutageStopAndStart(t, c, mode) })
	}
}

// outageDatabase makes a new database on c whose commits are durable
// across an immediate shutdown (pgtest runs with synchronous_commit off).
func outageDatabase(t *testing.T, c *pgtest.Cluster) string {
	t.Helper()
	ctx := t.Context()
	url, err := c.NewDatabase(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()+" SET synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}
	return url
}

// timed runs f and fails t if f outlived the deadline by hang.
func timed(t *testing.T, timeout time.Duration, what string, f func() error) error {
	start := time.Now()
	err := f()
	d := time.Since(start)
	if testing.Verbose() {
		t.Logf("%s: %v after %v", what, err, d)
	}
	if d > timeout+hang {
		t.Errorf("%s took %v, its deadline is %v: a hang", what, d, timeout)
	}
	return err
}

// testOutageStopAndStart stops the server with pg_ctl's mode under six
// writers and starts it again.
func testOutageStopAndStart(t *testing.T, c *pgtest.Cluster, mode string) {
	url := outageDatabase(t, c)
	const timeout = 2 * time.Second
	db, err := OpenWith(t.Context(), url, Options{CallTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var (
		mu                       sync.Mutex
		acked                    []string
		unavailable, okDuringRun atomic.Int64
		down                     atomic.Bool
		stop                     = make(chan struct{})
		wg                       sync.WaitGroup
		seq                      atomic.Int64
	)
	for w := range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("00000000-0000-4000-8000-%012d", seq.Add(1))
				k, v := testKey(id)
				err := timed(t, timeout, "CreateKey", func() error { return db.CreateKey(context.Background(), k, v) })
				switch {
				case err == nil:
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
					if !down.Load() {
						okDuringRun.Add(1)
					}
				case errors.Is(err, store.ErrUnavailable):
					unavailable.Add(1)
				default:
					t.Errorf("worker %d: CreateKey %s: %v, neither success nor ErrUnavailable", w, id, err)
					return
				}
				if _, err := db.GetKey(context.Background(), id); err != nil && !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("worker %d: GetKey %s: %v", w, id, err)
					return
				}
			}
		})
	}
	waitFor(t, "writes before the outage", func() bool { return okDuringRun.Load() >= 30 })
	down.Store(true)
	if err := c.Halt(mode); err != nil {
		t.Fatal(err)
	}
	// While it is down: every call fails, within its deadline, as
	// ErrUnavailable.
	before := unavailable.Load()
	waitFor(t, "calls refused while the database is down", func() bool { return unavailable.Load() >= before+20 })
	err = timed(t, timeout, "Ping while down", func() error { return db.Ping(context.Background()) })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping while down: %v, want ErrUnavailable", err)
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	// The same pool serves again by itself.
	n := len(snapshot(&mu, &acked))
	waitFor(t, "writes after the restart", func() bool { return len(snapshot(&mu, &acked)) >= n+30 })
	close(stop)
	wg.Wait()
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping after the restart: %v", err)
	}
	// Nothing acknowledged is lost, read through the same DB and
	// through a new one.
	db2, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	ids := snapshot(&mu, &acked)
	for _, id := range ids {
		for i, d := range []*DB{db, db2} {
			if _, err := d.GetKey(t.Context(), id); err != nil {
				t.Errorf("acknowledged key %s, read through DB %d after the restart: %v", id, i+1, err)
			}
		}
	}
	t.Logf("%d keys acknowledged, %d calls refused as ErrUnavailable", len(ids), unavailable.Load())
}

// testOutageFrozen freezes the server (SIGSTOP): it accepts connections
// and answers nothing. Reads, writes and Ping must end at their deadline
// with ErrUnavailable marked Timeout, and once it is thawed the same DB
// serves again.
func testOutageFrozen(t *testing.T, c *pgtest.Cluster) {
	url := outageDatabase(t, c)
	const timeout = 1 * time.Second
	db, err := OpenWith(t.Context(), url, Options{CallTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, v := testKey("00000000-0000-4000-8000-000000000001")
	if err := db.CreateKey(t.Context(), k, v); err != nil {
		t.Fatal(err)
	}
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"GetKey": func() error { _, err := db.GetKey(context.Background(), k.ID); return err },
		"CreateKey": func() error {
			k2, v2 := testKey("00000000-0000-4000-8000-000000000002")
			return db.CreateKey(context.Background(), k2, v2)
		},
		"ListKeys": func() error {
			_, err := db.ListKeys(context.Background(), k.Account, k.Region, "", 10)
			return err
		},
		"Ping": func() error { return db.Ping(context.Background()) },
	}
	var wg sync.WaitGroup
	for name, f := range calls {
		wg.Go(func() {
			err := timed(t, timeout, name, f)
			u, ok := store.AsUnavailable(err)
			if !ok || !errors.Is(err, store.ErrUnavailable) || !u.Timeout {
				t.Errorf("%s on a frozen database: %v, want ErrUnavailable with Timeout", name, err)
			}
		})
	}
	wg.Wait()
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "GetKey after the thaw", func() bool {
		_, err := db.GetKey(context.Background(), k.ID)
		return err == nil
	})
	// The CreateKey that timed out was rolled back (its connection was
	// closed before it committed), so the key can be made now.
	k2, v2 := testKey("00000000-0000-4000-8000-000000000002")
	if err := db.CreateKey(t.Context(), k2, v2); err != nil {
		t.Errorf("CreateKey after the thaw: %v", err)
	}

}

// testOutageCommitOutcomeUnknown freezes the server after a write's
// statements ran, so that its COMMIT is sent and never answered: the
// write must fail as ErrUnavailable with OutcomeUnknown (it may yet be
// stored), never succeed.
func testOutageCommitOutcomeUnknown(t *testing.T, c *pgtest.Cluster) {
	url := outageDatabase(t, c)
	db, err := OpenWith(t.Context(), url, Options{CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = timed(t, time.Second, "write", func() error {
		return db.write(context.Background(), "put setting", func(tx *sqlTx) error {
			if _, err := tx.ExecContext(context.Background(), "INSERT INTO settings (name, value) VALUES (?, ?)", "outage", []byte("x")); err != nil {
				return err
			}
			return c.Freeze()
		})
	})
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	if u, ok := store.AsUnavailable(err); !ok || !u.OutcomeUnknown || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write whose COMMIT was not answered: %v, want ErrUnavailable with OutcomeUnknown", err)
	}
}

// safeErr is an error pgx would say was raised before anything was sent.
type safeErr struct{ error }

func (safeErr) SafeToRetry() bool { return true }

// TestUnavailableMapping: which driver errors are the database's trouble,
// of which kind, and which are not.
func TestUnavailableMapping(t *testing.T) {
	const no, timeout, broken = 0, 1, 2
	for _, tt := range []struct {
		err  error
		want int
	}{
		{context.Canceled, no},
		{fmt.Errorf("wrapped: %w", context.Canceled), no},
		{store.ErrNotFound, no},
		{errors.New("other"), no},
		{&pgconn.PgError{Code: "23505"}, no},
		{&pgconn.PgError{Code: "40001"}, no},
		{context.DeadlineExceeded, timeout},
		{&pgconn.PgError{Code: "57014"}, timeout},
		{&pgconn.PgError{Code: "57P03"}, timeout},
		{&pgconn.PgError{Code: "53300"}, timeout},
		{&pgconn.PgError{Code: "57P01"}, broken},
		{&pgconn.PgError{Code: "57P02"}, broken},
		{&pgconn.PgError{Code: "08006"}, broken},
		{io.ErrUnexpectedEOF, broken},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), broken},
		{pgconn.ErrConnClosed, broken},
		{driver.ErrBadConn, broken},
		{&net.OpError{Op: "read", Err: errors.New("x")}, broken},
	} {
		u := unavailable(tt.err)
		switch {
		case tt.want == no && u != nil, tt.want != no && u == nil:
			t.Errorf("unavailable(%v) = %v", tt.err, u)
		case u != nil && u.Timeout != (tt.want == timeout):
			t.Errorf("unavailable(%v).Timeout = %v", tt.err, u.Timeout)
		case u != nil && !errors.Is(fmt.Errorf("op: %w", u), store.ErrUnavailable):
			t.Errorf("unavailable(%v) does not match ErrUnavailable", tt.err)
		}
	}
	for _, tt := range []struct {
		err     error
		unknown bool
	}{
		{io.ErrUnexpectedEOF, true},
		{&pgconn.PgError{Code: "57P01"}, true},
		{context.DeadlineExceeded, false},          // database/sql: the context ended before COMMIT
		{safeErr{context.DeadlineExceeded}, false}, // pgx: nothing sent
		{&pgconn.PgError{Code: "40001"}, false},    // an answer: rolled back
	} {
		u, _ := store.AsUnavailable(commitError(tt.err))
		if got := u != nil && u.OutcomeUnknown; got != tt.unknown {
			t.Errorf("commitError(%v): outcome unknown %v, want %v", tt.err, got, tt.unknown)
		}
	}
}

func snapshot(mu *sync.Mutex, s *[]string) []string {
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), *s...)
}

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSharedDeadline: calls whose context never ends share one deadline
// context per window, each with at least the timeout, and keep their
// context's values.
func TestSharedDeadline(t *testing.T) {
	s := &sharedDeadline{timeout: time.Second}
	before := time.Now()
	a := boundRows(context.Background(), s.timeout, s)
	b := boundRows(context.TODO(), s.timeout, s)
	type key struct{}
	c := boundRows(context.WithValue(context.Background(), key{}, "v"), s.timeout, s)
	if a != b {
		t.Error("two calls of the same moment got two contexts")
	}
	for _, ctx := range []context.Context{a, c} {
		d, ok := ctx.Deadline()
		if !ok || d.Before(before.Add(s.timeout)) {
			t.Errorf("deadline %v, %v: want at least the timeout from the call", d, ok)
		}
	}
	if c.Value(key{}) != "v" {
		t.Error("the caller's values are lost")
	}
	// A context that can end gets a deadline of its own.
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	if d := boundRows(parent, s.timeout, s); d == a {
		t.Error("a cancellable context got the shared deadline")
	}
}

// BenchmarkGetKeyBackground reads one key from parallel goroutines with a
// context that never ends, as the credential lookups and jobs call the
// store: the cost of the call deadline on the read path (allocs/op, and
// no timer left behind per read).
//
//	go test ./internal/store/postgres -run '^$' -bench GetKeyBackground -benchmem
func BenchmarkGetKeyBackground(b *testing.B) {
	pgtest.Require(b)
	db, err := Open(context.Background(), pgtest.Database(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	k, v := testKey("00000000-0000-4000-8000-000000000001")
	if err := db.CreateKey(context.Background(), k, v); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.GetKey(context.Background(), k.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
