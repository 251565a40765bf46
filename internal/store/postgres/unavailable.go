package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/trent-kms/trent/internal/store"
)

// Database trouble. Every store call runs under a deadline: the caller's
// context, cut to the DB's call timeout (Options.CallTimeout) when it
// allows longer or has none — a request context has none, and a database
// that accepts connections but never answers (a hung server, a network
// that drops packets) must not hold a request, or a pool connection, for
// longer than that. When the deadline passes, pgx closes the connection;
// the pool makes new ones as they are needed, so once the database is back
// the next calls succeed without anyone restarting anything.
//
// The errors of a database out of reach become *store.Unavailable
// (store.ErrUnavailable): see unavailable below for which. A write
// transaction that fails before its COMMIT was sent is rolled back by the
// server (its connection is gone or is closed), so it changed nothing; one
// whose connection is lost during the COMMIT is reported with
// OutcomeUnknown, never as a success.

// DefaultCallTimeout is the deadline of one store call when Options sets
// none: long enough for any call of the store on a loaded server (the
// slowest ones are pages of a few hundred rows), short enough that a
// client's request — and its SDK's retries — end in seconds.
const DefaultCallTimeout = 5 * time.Second

// Options tune a DB. The zero value is the defaults.
type Options struct {
	// CallTimeout bounds each store call: its queries, its transaction and
	// its retries after serialization failures, and waiting for a pool
	// connection. Zero means DefaultCallTimeout.
	CallTimeout time.Duration
}

// bound returns ctx with the call deadline, unless ctx's own is sooner.
func bound(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// boundRows is bound for a query whose rows outlive the call that starts
// them (reader.QueryContext, reader.QueryRowContext): database/sql closes
// the rows when their context ends, so it cannot be cancelled when the
// query returns. Its timer is left to stop when the deadline passes or the
// parent context ends (a request's, when the request is answered),
// whichever is first. A parent that can never end (context.Background,
// as the credential lookups and the jobs use) gets a context shared by
// every such call of the same moment instead (shared), so that a burst of
// reads does not leave one live timer per read behind it.
func boundRows(ctx context.Context, timeout time.Duration, s *sharedDeadline) context.Context {
	if ctx.Done() == nil && s != nil {
		return s.context(ctx)
	}
	ctx, cancel := bound(ctx, timeout)
	_ = cancel // see above: released by the deadline or the parent
	return ctx
}

// deadlineWindow is how close together calls must begin to share a
// deadline: each gets between the timeout and the timeout plus this.
const deadlineWindow = 100 * time.Millisecond

// sharedDeadline hands out deadline contexts to calls whose own context
// never ends: one context, and one timer, for all the calls that begin
// within deadlineWindow of each other — a few dozen timers live at most.
type sharedDeadline struct {
	timeout time.Duration
	cur     atomic.Pointer[window]
}

type window struct {
	ctx   context.Context
	until time.Time // calls beginning after it need a new window
}

func (s *sharedDeadline) context(parent context.Context) context.Context {
	now := time.Now()
	w := s.cur.Load()
	if w == nil || now.After(w.until) {
		ctx, cancel := context.WithDeadline(context.Background(), now.Add(s.timeout+deadlineWindow))
		nw := &window{ctx: ctx, until: now.Add(deadlineWindow)}
		if s.cur.CompareAndSwap(w, nw) {
			w = nw
			_ = cancel // it ends at its deadline, with every call it bounds
		} else {
			cancel()
			w = s.cur.Load()
		}
	}
	if parent == context.Background() || parent == context.TODO() {
		return w.ctx
	}
	return withValues{w.ctx, parent}
}

// withValues is a deadline context that answers Value from the caller's.
type withValues struct {
	context.Context
	values context.Context
}

func (c withValues) Value(key any) any { return c.values.Value(key) }

// unavailable returns err as a *store.Unavailable if it says the database
// is out of reach, else nil:
//
//   - the deadline passed (context.DeadlineExceeded, pgx's timeouts, a
//     server-side statement timeout 57014) or no connection could be made
//     (pgconn.ConnectError, the server starting up or shutting down:
//     57P03, too many connections: 53300) — Timeout;
//   - the connection broke: the server ended it (57P01 admin_shutdown,
//     57P02 crash_shutdown, class 08 connection exceptions, 25P03 and
//     57P05 session timeouts), or the socket failed (EOF, reset, broken
//     pipe, any net.Error), or the driver had already closed it.
//
// A context cancelled by the caller (a client that went away) is not the
// database's trouble and stays as it is.
func unavailable(err error) *store.Unavailable {
	if err == nil {
		return nil
	}
	if u, ok := store.AsUnavailable(err); ok {
		return u
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case e.Code == "57014", e.Code == "57P03", e.Code == "53300":
			return &store.Unavailable{Timeout: true, Err: err}
		case e.Code == "57P01", e.Code == "57P02", e.Code == "57P05", e.Code == "25P03",
			len(e.Code) == 5 && e.Code[:2] == "08":
			return &store.Unavailable{Err: err}
		}
		// Any other error the server reported is an answer, not an
		// outage — unless it refused a new connection (a wrong password,
		// a database that is gone): then no call can be served either.
		if _, ok := errors.AsType[*pgconn.ConnectError](err); !ok {
			return nil
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return &store.Unavailable{Timeout: true, Err: err}
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return &store.Unavailable{Timeout: true, Err: err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNABORTED) {
		return &store.Unavailable{Err: err}
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return &store.Unavailable{Err: err}
	}
	return nil
}

// commitError is the error of a failed COMMIT. If the connection was lost
// after the COMMIT may have reached the server, nobody knows whether the
// transaction was stored: OutcomeUnknown. database/sql answers a context
// that ended before the COMMIT with the bare context error, and pgx one
// whose COMMIT was never sent with an error that is safe to retry; both
// rolled back.
func commitError(err error) error {
	u := unavailable(err)
	if u == nil {
		return err
	}
	if err == context.DeadlineExceeded || errors.Is(err, sql.ErrTxDone) || pgconn.SafeToRetry(err) {
		return u
	}
	return &store.Unavailable{OutcomeUnknown: true, Err: err}
}
