package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
)

// The intents of a node gone for good (internal/audit/orphan.go). Each
// running node holds its node lease (NodeLease) from before it reads its
// own intents at start until it stops; the session advisory lock behind
// it ends with the process, or within seconds of its machine going
// silent (lease.go). A node that claims another's intents takes the same
// lock, for its claiming transaction only: so it claims only the intents
// of a node that is not running, and a node starting again waits for a
// claim under way and then finds its claimed intents gone from its own.

var _ audit.OrphanedIntents = (*DB)(nil)

// NodeLease returns the lease node holds while it runs (jobs.Presence).
func (db *DB) NodeLease(node, holder string) store.Lease {
	return db.NewLease(nodeLeaseName(node), holder)
}

func nodeLeaseName(node string) string { return "node " + node }

// AuditIntents returns node's intents, oldest first: sqlrows's query, with
// the columns of a claim (0013), which SQLite's table lacks.
func (db *DB) AuditIntents(ctx context.Context, node string) ([]store.StoredIntent, error) {
	ctx, cancel := bound(ctx, db.timeout)
	defer cancel()
	ins, err := db.queryIntents(ctx, `WHERE node = $1`, node)
	return ins, wrapErr("audit intents of node "+node, err)
}

func (db *DB) queryIntents(ctx context.Context, where string, args ...any) ([]store.StoredIntent, error) {
	rows, err := db.pool.Query(ctx, `SELECT event_id, node, event_time, keys, body, origin, claimed_at
		FROM audit_intents `+where+` ORDER BY event_time, event_id`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StoredIntent, error) {
		var in store.StoredIntent
		var t, claimed int64
		var keys string
		err := r.Scan(&in.EventID, &in.Node, &t, &keys, &in.Body, &in.Origin, &claimed)
		in.EventTime = time.Unix(0, t).UTC()
		in.Keys = strings.Fields(keys)
		if claimed != 0 {
			in.ClaimedAt = time.Unix(0, claimed).UTC()
		}
		return in, err
	})
}

// ClaimOrphanedIntents implements audit.OrphanedIntents: it moves to node
// the intents dated before `before` of every other node whose node lease
// is free — one transaction per node, under that node's lock — and
// returns all the intents node has claimed and not yet deleted (these and
// any an earlier call left). A row keeps the node that wrote it as its
// origin however often it is claimed.
//
// READ COMMITTED, as the janitor's deletes: the scan for candidates would
// otherwise put a serializable predicate lock on the whole table, which
// every request's intent insert would conflict with. Two claimers of one
// node cannot both claim a row: the lock lets one at a time in, and the
// second's UPDATE re-reads a row the first changed and no longer matches.
func (db *DB) ClaimOrphanedIntents(ctx context.Context, node string, before, now time.Time) ([]store.StoredIntent, error) {
	ctx, cancel := bound(ctx, db.timeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT node FROM audit_intents WHERE node <> $1 AND event_time < $2`,
		node, before.UnixNano())
	if err != nil {
		return nil, wrapErr("find orphaned audit intents", err)
	}
	others, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrapErr("find orphaned audit intents", err)
	}
	for _, other := range others {
		if _, err := db.claimIntents(ctx, node, other, before, now); err != nil {
			return nil, wrapErr("claim the audit intents of node "+other, err)
		}
	}
	ins, err := db.queryIntents(ctx, `WHERE node = $1 AND origin <> ''`, node)
	return ins, wrapErr("claimed audit intents of node "+node, err)
}

// claimIntents claims other's intents dated before `before` for node if
// other's node lease is free, and returns how many (none while it is
// held).
func (db *DB) claimIntents(ctx context.Context, node, other string, before, now time.Time) (int64, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var free bool
	// A transaction's advisory lock and a session's on the same keys
	// exclude each other; this one ends with the transaction.
	err = tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1::int4, $2::int4)`,
		leaseClass, leaseID(nodeLeaseName(other))).Scan(&free)
	if err != nil {
		return 0, err
	}
	if !free {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE audit_intents
		SET node = $1, origin = CASE WHEN origin = '' THEN node ELSE origin END, claimed_at = $2
		WHERE node = $3 AND event_time < $4`, node, now.UnixNano(), other, before.UnixNano())
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// ShippedAuditEvents implements audit.OrphanedIntents: the ids of those
// of evs that the shared event table holds, found through its lookup
// index (recipient, event_time), within a second either side of each
// event's time (the table keeps whole seconds).
func (db *DB) ShippedAuditEvents(ctx context.Context, evs []audit.EventRef) (map[string]bool, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	ctx, cancel := bound(ctx, db.timeout)
	defer cancel()
	recipients, times, ids := make([]string, len(evs)), make([]int64, len(evs)), make([]string, len(evs))
	for i, e := range evs {
		recipients[i], times[i], ids[i] = e.Recipient, e.Time.Unix(), e.EventID
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT e.event_id
		FROM unnest($1::text[], $2::int8[], $3::text[]) AS q(recipient, t, id)
		JOIN audit_events e ON e.recipient = q.recipient AND e.event_time BETWEEN q.t - 1 AND q.t + 1 AND e.event_id = q.id`,
		recipients, times, ids)
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("look up %d events", len(evs)), err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("look up %d events", len(evs)), err)
	}
	out := make(map[string]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}
