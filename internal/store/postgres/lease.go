package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/store"
)

var _ store.Leases = (*DB)(nil)

// A lease is a session advisory lock, pg_try_advisory_lock(class, id), on
// a connection of its own outside the pool: the lock lives exactly as long
// as that session, so it ends by itself when its holder does.
//
//   - Holder process dies (SIGKILL, crash) on a machine that stays up: its
//     kernel closes the socket, the server ends the session at once and
//     the lock is free for the next Try of any other node.
//   - Holder machine or network gone: nothing closes the socket, so the
//     server finds out through TCP keepalives, which this connection sets
//     for itself (leaseKeepalives): idle 5 s, then 3 probes 2 s apart, and
//     tcp_user_timeout 10 s for data left unacknowledged — the session, and
//     the lock, end at most 11 s after the peer went silent.
//   - Holder process hung (stopped, frozen) on a machine that stays up:
//     its kernel still answers keepalives, so the session would live on;
//     but a holder tries its lease every few seconds, and this session
//     sets idle_session_timeout 10 s (PostgreSQL 14 or later), so the
//     server ends a session that has been silent that long.
//   - The holder itself learns it lost the lease at its next Try, which
//     asks the server whether this session still holds the lock and gives
//     up after leaseTimeout (5 s) without an answer.
//
// A row with an expiry would need renewing writes and clocks that agree;
// the advisory lock needs neither and frees at once on a process death.
// It needs a session that outlives a transaction: behind PgBouncer, use
// session pooling (docs/postgres.md).

// leaseClass is the first key of every lease's advisory lock: "tren" in
// ASCII. The migration lock (one bigint key) cannot collide with these
// (two int4 keys): PostgreSQL keeps the two forms apart.
const leaseClass int32 = 0x7472656e

// leaseTimeout bounds one Try, its connect included.
const leaseTimeout = 5 * time.Second

// leaseKeepalives are the server-side settings of a lease's session that
// bound how long a lock outlives a holder that went silent (see above). A
// handle must be tried more often than idle_session_timeout, or the
// server ends its session (and a held lease) between tries.
var leaseKeepalives = map[string]string{
	"tcp_keepalives_idle":     "5",
	"tcp_keepalives_interval": "2",
	"tcp_keepalives_count":    "3",
	"tcp_user_timeout":        "10000", // milliseconds
	"idle_session_timeout":    "10000", // milliseconds
}

// leaseID is the second key of the lease name's advisory lock.
func leaseID(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32() & 0x7fffffff)
}

// NewLease implements store.Leases. holder names the caller in the
// session's application_name ("trent lease jobs <holder>"), where
// pg_stat_activity shows it beside the lock in pg_locks.
func (db *DB) NewLease(name, holder string) store.Lease {
	return &lease{db: db, name: name, holder: holder, id: leaseID(name)}
}

// Contenders implements store.Leases: the holders named by the sessions
// that handles on name keep open (a handle keeps its session between
// Trys, held or not, until Release or a failure), but for this DB's own.
func (db *DB) Contenders(ctx context.Context, name string) ([]string, error) {
	prefix := "trent lease " + name + " "
	own := []int64{}
	db.leasePIDs.Range(func(pid, _ any) bool { own = append(own, int64(pid.(uint32))); return true })
	rows, err := db.pool.Query(ctx, `SELECT application_name FROM pg_stat_activity
		WHERE datname = current_database() AND starts_with(application_name, $1) AND pid <> ALL($2::int8[])
		ORDER BY 1`, prefix, own)
	if err != nil {
		return nil, fmt.Errorf("postgres: contenders for lease %s: %w", name, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: contenders for lease %s: %w", name, err)
	}
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, prefix)
	}
	return names, nil
}

type lease struct {
	db           *DB
	name, holder string
	id           int32

	mu   sync.Mutex
	conn *pgx.Conn // nil until the first Try, and after a failure
	held bool
}

// Try implements store.Lease.
func (l *lease) Try(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, leaseTimeout)
	defer cancel()
	if l.conn == nil {
		c, err := l.connect(ctx)
		if err != nil {
			return false, fmt.Errorf("postgres: lease %s: connect: %w", l.name, err)
		}
		l.conn = c
	}
	var ok bool
	var err error
	if l.held {
		// Asking for the lock again would stack a second hold on it (they
		// are re-entrant); ask whether this session has it instead.
		err = l.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
			AND pid = pg_backend_pid() AND granted AND classid = `+oid(leaseClass)+` AND objid = `+oid(l.id)+`
			AND objsubid = 2)`).Scan(&ok)
	} else {
		err = l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::int4, $2::int4)`, leaseClass, l.id).Scan(&ok)
	}
	if err != nil {
		l.drop()
		return false, fmt.Errorf("postgres: lease %s: %w", l.name, err)
	}
	if l.held && !ok {
		// Only pg_advisory_unlock_all on this session does this; start
		// afresh on a new one.
		l.drop()
		return false, fmt.Errorf("postgres: lease %s: the session no longer holds its lock", l.name)
	}
	l.held = ok
	return ok, nil
}

// oid renders a lock key as pg_locks shows it (an unsigned oid); both keys
// are positive, so this is their decimal form.
func oid(k int32) string { return strconv.FormatInt(int64(uint32(k)), 10) }

func (l *lease) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := l.db.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	for k, v := range leaseKeepalives {
		cfg.RuntimeParams[k] = v
	}
	name := "trent lease " + l.name
	if l.holder != "" {
		name += " " + l.holder
	}
	cfg.RuntimeParams["application_name"] = name
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		l.db.leasePIDs.Store(c.PgConn().PID(), struct{}{})
	}
	return c, err
}

// drop closes the session, which frees its lock if the server still had
// it, without waiting long for a server that does not answer.
func (l *lease) drop() {
	l.held = false
	if l.conn == nil {
		return
	}
	l.db.leasePIDs.Delete(l.conn.PgConn().PID())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.conn.Close(ctx)
	l.conn = nil
}

// Release implements store.Lease: it unlocks and closes the session.
func (l *lease) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.held && l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
		var ok bool
		err = l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1::int4, $2::int4)`, leaseClass, l.id).Scan(&ok)
		cancel()
		if err == nil && !ok {
			err = errors.New("the session did not hold its lock")
		}
	}
	l.drop() // ends the session: the lock is free even if the unlock failed
	if err != nil {
		return fmt.Errorf("postgres: lease %s: release: %w", l.name, err)
	}
	return nil
}
