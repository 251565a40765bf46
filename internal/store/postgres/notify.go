package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/trent-kms/trent/internal/store"
)

// The change feed (store.ChangeFeed): how a node learns what the others
// changed.
//
// Migration 0005's triggers send a notification, from the writing
// transaction, for every change a node may have cached (the payloads are
// listed there). PostgreSQL delivers a notification only after its
// transaction commits, to every session listening on its channel at that
// moment, in commit order. So a node that listens on a connection of its
// own and drops what each notification names never serves a change older
// than the notification's delivery.
//
// Notifications are lost only with the listening session: those sent while
// a node is not listening never reach it. So on every (re)connection the
// node listens first and then drops everything (store.ChangeAll): a change
// committed before the LISTEN took effect is in the store for the next
// read, one after it is delivered.
//
// How a node knows it is current: every PingInterval it sends a
// notification to itself (ping <node> <seq>) on the same channel. The
// notification queue is in commit order, so when the ping comes back,
// every change committed before the ping was sent has been delivered
// before it: the node is fresh as of the moment it sent the ping
// (ChangeWatcher.Fresh). A ping that does not come back within
// pingTimeout — a dead connection, a server that does not answer, or a
// proxy that does not carry notifications (PgBouncer in transaction mode)
// — ends the session, and the node reconnects with backoff. What to do
// while not fresh is the watcher's business (internal/app/cluster.go:
// fail closed).

// PingInterval is how often a node checks, by a ping through the
// notification queue, that it has missed nothing. With a freshness bound
// of 1 s it leaves half a second for the round trip.
const PingInterval = 500 * time.Millisecond

const (
	// pingTimeout is how long a ping may take to come back before the
	// listening session is given up and opened again.
	pingTimeout = 2 * time.Second
	// Reconnection backoff, doubled after each failure up to the most.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// WatchChanges implements store.ChangeFeed: it holds one connection of its
// own (outside the pool) listening for the triggers' notifications and
// passes them to w, reconnecting with backoff, until ctx ends.
func (db *DB) WatchChanges(ctx context.Context, w store.ChangeWatcher) error {
	node := make([]byte, 8)
	_, _ = rand.Read(node)
	l := &listener{db: db, w: w, node: hex.EncodeToString(node)}
	backoff := minBackoff
	for {
		began := time.Now()
		err := l.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.Trouble(fmt.Errorf("postgres: change feed: %w", err))
		if time.Since(began) > maxBackoff {
			backoff = minBackoff // the session was up for a while: not a failing loop
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listener is the state of one WatchChanges. Only the goroutine running
// session touches it: pgconn calls the notification handler from inside
// the calls session makes.
type listener struct {
	db   *DB
	w    store.ChangeWatcher
	node string // this feed's name in its pings

	seq      uint64 // the last ping sent
	returned bool   // it came back
}

// session opens a connection, listens, reports everything changed, and
// then serves notifications and pings until the connection fails or ctx
// ends.
func (l *listener) session(ctx context.Context) error {
	cfg := l.db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "trent-changes"
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) { l.notified(n.Payload) }
	cctx, cancel := context.WithTimeout(ctx, pingTimeout+cfg.ConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		// A dead peer must not hold the reconnection up.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	pc := conn.PgConn()

	// The channel is the one the triggers name after the schema of the
	// tables, found as the store's queries find them (search_path).
	var ch string
	qctx, cancel := context.WithTimeout(ctx, pingTimeout)
	err = conn.QueryRow(qctx, `SELECT 'trent_' || md5(n.nspname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'keys'::regclass`).Scan(&ch)
	cancel()
	if err != nil {
		return fmt.Errorf("find the channel: %w", err)
	}
	began := time.Now()
	qctx, cancel = context.WithTimeout(ctx, pingTimeout)
	_, err = pc.Exec(qctx, "LISTEN "+ch).ReadAll() // ch is 'trent_' and hex digits
	cancel()
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Whatever was committed before the LISTEN took effect may have been
	// missed; what is read from the store from now on includes it.
	l.w.Changed(store.Change{Kind: store.ChangeAll})
	l.w.Fresh(began)

	ping := "SELECT pg_notify('" + ch + "', 'ping " + l.node + " ' || $1::text)"
	var sentAt, deadline time.Time
	inFlight := false
	next := time.Now().Add(PingInterval)
	for {
		if now := time.Now(); !inFlight && !now.Before(next) {
			l.seq++
			l.returned = false
			sentAt, deadline, inFlight = now, now.Add(pingTimeout), true
			next = now.Add(PingInterval)
			qctx, cancel := context.WithTimeout(ctx, pingTimeout)
			_, err := pc.ExecParams(qctx, ping, [][]byte{[]byte(strconv.FormatUint(l.seq, 10))}, nil, nil, nil).Close()
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		}
		if inFlight && l.returned {
			l.w.Fresh(sentAt)
			inFlight = false
			continue
		}
		until := next
		if inFlight {
			if !time.Now().Before(deadline) {
				return fmt.Errorf("a ping did not come back within %v", pingTimeout)
			}
			until = deadline
		}
		wctx, cancel := context.WithDeadline(ctx, until)
		err := pc.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil, pgconn.Timeout(err):
		default:
			return fmt.Errorf("wait for notifications: %w", err)
		}
	}
}

// notified handles the payload of one notification.
func (l *listener) notified(payload string) {
	c, node, seq, err := parsePayload(payload)
	switch {
	case err != nil:
		// A payload this node does not understand (a newer node's
		// trigger?) may name anything: drop everything.
		l.w.Trouble(fmt.Errorf("postgres: change feed: %w", err))
		l.w.Changed(store.Change{Kind: store.ChangeAll})
	case node != "":
		if node == l.node && seq == l.seq {
			l.returned = true
		}
	default:
		l.w.Changed(c)
	}
}

// parsePayload reads a payload of 0005's triggers, or a ping (its node
// and sequence number, node not empty).
func parsePayload(p string) (c store.Change, node string, seq uint64, err error) {
	kind, rest, hasRest := strings.Cut(p, " ")
	switch kind {
	case "key", "key-aliases", "grants":
		if rest == "" {
			break
		}
		c = store.Change{Kind: store.ChangeKey, KeyID: rest}
		switch kind {
		case "key-aliases":
			c.Kind = store.ChangeKeyAliases
		case "grants":
			c.Kind = store.ChangeGrants
		}
		return c, "", 0, nil
	case "alias":
		f := strings.SplitN(rest, " ", 3)
		if len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
			break
		}
		return store.Change{Kind: store.ChangeAlias, Account: f[0], Region: f[1], Name: f[2]}, "", 0, nil
	case "authz":
		if hasRest { // "authz " too: its rest is empty, but it has one
			break
		}
		return store.Change{Kind: store.ChangeAuthz}, "", 0, nil
	case "ping":
		n, s, ok := strings.Cut(rest, " ")
		if !ok || n == "" {
			break
		}
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil || strconv.FormatUint(seq, 10) != s {
			break // only the form the listener writes
		}
		return store.Change{}, n, seq, nil
	}
	return store.Change{}, "", 0, fmt.Errorf("unknown notification %.64q", p)
}
