package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/trent-kms/trent/internal/audit"
)

// The audit tables (migration 0005) hold copies of the nodes' audit logs
// and their heads; each node's files stay the record that is signed and
// fsynced before an answer (internal/audit/cluster.go). Only a node's own
// Shipper writes its rows, so these writes need no serializable
// transaction: READ COMMITTED, the pool's default, and the primary keys
// are enough.

var _ audit.ShipSink = (*DB)(nil)

// ShippedHead returns the newest event of node in audit_events.
func (db *DB) ShippedHead(ctx context.Context, node string) (audit.ShippedHead, error) {
	var (
		h    audit.ShippedHead
		seq  int64
		hash []byte
	)
	err := db.pool.QueryRow(ctx, `SELECT seq, hash, file, end_offset FROM audit_events
		WHERE node = $1 ORDER BY seq DESC LIMIT 1`, node).Scan(&seq, &hash, &h.File, &h.EndOffset)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.ShippedHead{}, nil
	}
	if err != nil {
		return h, wrapErr("audit shipped head of "+node, err)
	}
	if len(hash) != len(h.Hash) {
		return h, fmt.Errorf("postgres: audit shipped head of %s: hash of %d bytes", node, len(hash))
	}
	h.Seq = uint64(seq)
	copy(h.Hash[:], hash)
	return h, nil
}

// shipInsert stores a batch of one node's events: one statement of fixed
// text whatever the batch's size (so it is prepared once per connection),
// the columns as arrays. resource_types and resource_names come joined by
// newlines (unnest cannot take an array of arrays); neither a resource
// type nor an ARN contains one.
const shipInsert = `INSERT INTO audit_events (node, seq, hash, file, end_offset, event_time, recipient,
	event_id, event_name, event_source, username, access_key_id, read_only, resource_types,
	resource_names, line)
	SELECT $1, u.seq, u.hash, u.file, u.end_offset, u.event_time, u.recipient, u.event_id,
		u.event_name, u.event_source, u.username, u.access_key_id, u.read_only,
		string_to_array(u.rt, E'\n'), string_to_array(u.rn, E'\n'), u.line
	FROM unnest($2::bigint[], $3::bytea[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::boolean[],
		$14::text[], $15::text[], $16::bytea[])
		AS u(seq, hash, file, end_offset, event_time, recipient, event_id, event_name,
			event_source, username, access_key_id, read_only, rt, rn, line)
	ON CONFLICT (node, seq) DO NOTHING`

// ShipEvents stores events of node in one transaction. An event already
// stored (same node and seq) is skipped if its hash is the same, and fails
// the whole batch if it is not: a node's event never changes.
func (db *DB) ShipEvents(ctx context.Context, node string, evs []audit.ShippedEvent) error {
	if len(evs) == 0 {
		return nil
	}
	op := fmt.Sprintf("ship %d audit events of %s", len(evs), node)
	n := len(evs)
	var (
		seqs, offs, times                  = make([]int64, n), make([]int64, n), make([]int64, n)
		hashes, lines                      = make([][]byte, n), make([][]byte, n)
		files, recips, ids, names, sources = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		users, akids, rtypes, rnames       = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		readOnly                           = make([]bool, n)
	)
	lo, hi := evs[0].Seq, evs[0].Seq
	for i, ev := range evs {
		if ev.Node != node {
			return fmt.Errorf("postgres: %s: an event of node %q in the batch", op, ev.Node)
		}
		if ev.Seq > uint64(1<<63-1) {
			return fmt.Errorf("postgres: %s: sequence %d out of range", op, ev.Seq)
		}
		for _, r := range append(ev.ResourceTypes[:len(ev.ResourceTypes):len(ev.ResourceTypes)], ev.ResourceNames...) {
			if strings.ContainsRune(r, '\n') {
				return fmt.Errorf("postgres: %s: event %d names a resource with a newline", op, ev.Seq)
			}
		}
		lo, hi = min(lo, ev.Seq), max(hi, ev.Seq)
		seqs[i], hashes[i], files[i], offs[i], times[i] = int64(ev.Seq), evs[i].Hash[:], ev.File, ev.EndOffset, ev.EventTime.Unix()
		recips[i], ids[i], names[i], sources[i] = ev.Recipient, ev.EventID, ev.EventName, ev.EventSource
		users[i], akids[i], readOnly[i], lines[i] = ev.Username, ev.AccessKeyID, ev.ReadOnly, ev.Line
		rtypes[i], rnames[i] = strings.Join(ev.ResourceTypes, "\n"), strings.Join(ev.ResourceNames, "\n")
	}
	last := evs[len(evs)-1]
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, shipInsert, node, seqs, hashes, files, offs, times, recips, ids, names, sources,
			users, akids, readOnly, rtypes, rnames, lines)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(n) {
			// Some were stored before (a restart ships again from its
			// newest row): they must be what is shipped now — shipping
			// again is a no-op, never an edit.
			if err := sameAsStored(ctx, tx, node, lo, hi, evs); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO audit_heads (node, shipped_seq, shipped_hash, shipped_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (node) DO UPDATE SET shipped_seq = excluded.shipped_seq, shipped_hash = excluded.shipped_hash,
			shipped_at = excluded.shipped_at WHERE audit_heads.shipped_seq < excluded.shipped_seq`,
			node, int64(last.Seq), last.Hash[:], time.Now().UnixNano())
		return err
	})
	return wrapErr(op, err)
}

// sameAsStored fails if a stored event of node between lo and hi has
// another hash than its copy in evs.
func sameAsStored(ctx context.Context, tx pgx.Tx, node string, lo, hi uint64, evs []audit.ShippedEvent) error {
	rows, err := tx.Query(ctx, `SELECT seq, hash FROM audit_events WHERE node = $1 AND seq BETWEEN $2 AND $3`,
		node, int64(lo), int64(hi))
	if err != nil {
		return err
	}
	stored := map[int64][]byte{}
	for rows.Next() {
		var s int64
		var h []byte
		if err := rows.Scan(&s, &h); err != nil {
			rows.Close()
			return err
		}
		stored[s] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ev := range evs {
		if h, ok := stored[int64(ev.Seq)]; ok && string(h) != string(ev.Hash[:]) {
			return fmt.Errorf("event %d of node %s differs from the copy stored before (hash %x, stored %x): refusing to overwrite it",
				ev.Seq, node, ev.Hash, h)
		}
	}
	return nil
}

// RecordDigest records node's digest in audit_heads unless a later one is
// recorded.
func (db *DB) RecordDigest(ctx context.Context, node, pubFP string, d audit.DigestHead) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO audit_heads (node, public_key_sha256, digest_seq, digest_file,
		digest_signature, head_file, head_offset, head_seq, head_hash, digest_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (node) DO UPDATE SET public_key_sha256 = excluded.public_key_sha256,
		digest_seq = excluded.digest_seq, digest_file = excluded.digest_file,
		digest_signature = excluded.digest_signature, head_file = excluded.head_file,
		head_offset = excluded.head_offset, head_seq = excluded.head_seq, head_hash = excluded.head_hash,
		digest_at = excluded.digest_at
		WHERE audit_heads.digest_seq < excluded.digest_seq`,
		node, pubFP, int64(d.Seq), d.File, d.Signature, d.Head.File, d.Head.Offset, int64(d.Head.EventSeq),
		d.Head.EventHash, time.Now().UnixNano())
	return wrapErr(fmt.Sprintf("record audit digest %d of %s", d.Seq, node), err)
}

// AuditHeads returns every node's row of audit_heads, by node id.
func (db *DB) AuditHeads(ctx context.Context) ([]audit.RecordedHead, error) {
	const op = "read audit heads"
	rows, err := db.pool.Query(ctx, `SELECT node, public_key_sha256, digest_seq, digest_file, digest_signature,
		head_file, head_offset, head_seq, head_hash, digest_at, shipped_seq, shipped_hash, shipped_at
		FROM audit_heads ORDER BY node`)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var hs []audit.RecordedHead
	for rows.Next() {
		var (
			h                          audit.RecordedHead
			dseq, hseq, sseq, dat, sat int64
			shash                      []byte
		)
		if err := rows.Scan(&h.Node, &h.PublicKeySHA256, &dseq, &h.Digest.File, &h.Digest.Signature,
			&h.Digest.Head.File, &h.Digest.Head.Offset, &hseq, &h.Digest.Head.EventHash, &dat,
			&sseq, &shash, &sat); err != nil {
			return nil, wrapErr(op, err)
		}
		h.Digest.Seq, h.Digest.Head.EventSeq, h.ShippedSeq = uint64(dseq), uint64(hseq), uint64(sseq)
		if dat != 0 {
			h.DigestAt = time.Unix(0, dat).UTC()
		}
		if sat != 0 {
			h.ShippedAt = time.Unix(0, sat).UTC()
		}
		h.ShippedHash = hex.EncodeToString(shash)
		hs = append(hs, h)
	}
	return hs, wrapErr(op, rows.Err())
}

// AuditEventHashes calls f with the sequence and hash of each of node's
// rows in audit_events, in order.
func (db *DB) AuditEventHashes(ctx context.Context, node string, f func(seq uint64, hash [32]byte) error) error {
	op := "read audit event hashes of " + node
	rows, err := db.pool.Query(ctx, `SELECT seq, hash FROM audit_events WHERE node = $1 ORDER BY seq`, node)
	if err != nil {
		return wrapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq  int64
			hash []byte
			h    [32]byte
		)
		if err := rows.Scan(&seq, &hash); err != nil {
			return wrapErr(op, err)
		}
		copy(h[:], hash)
		if err := f(uint64(seq), h); err != nil {
			return err
		}
	}
	return wrapErr(op, rows.Err())
}

// FetchAuditEvents runs a LookupEvents search over every node's events
// (audit.ClusterSearcher): f.Account's rows, newest first, at most
// f.Limit.
func (db *DB) FetchAuditEvents(ctx context.Context, f audit.EventFilter) ([]audit.StoredEvent, error) {
	const op = "look up audit events"
	q, args, err := lookupQuery(f)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	// Planned with its values each time (QueryExecModeExec: an unnamed
	// statement), never with a cached generic plan: whether a key ARN is
	// rare (its GIN index, then a sort) or common (audit_events_lookup
	// finds a page sooner) only the value tells. docs/postgres.md has the
	// figures.
	args = append([]any{pgx.QueryExecModeExec}, args...)
	// The store's call deadline, as every other call has, and the same on
	// the server: when the deadline passes pgx drops the connection and
	// sends a cancel request, but that is best effort (it loses a race
	// with a statement the server has not begun, and a network that
	// dropped the connection drops it too), and a search left running
	// holds a backend and reads for nothing.
	ctx, cancel := bound(ctx, db.timeout)
	defer cancel()
	var out []audit.StoredEvent
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := serverDeadline(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e   audit.StoredEvent
				seq int64
			)
			if err := rows.Scan(&e.Time, &e.Node, &seq, &e.Line); err != nil {
				return err
			}
			e.Seq = uint64(seq)
			out = append(out, e)
		}
		return rows.Err()
	})
	if e, ok := errors.AsType[*pgconn.PgError](err); ok && e.Code == "57014" {
		// The server ended the search at the deadline: the same answer as
		// a deadline that passed on this side.
		err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return out, wrapErr(op, err)
}

// serverDeadline sets the statement_timeout of tx to the time left before
// ctx's deadline.
func serverDeadline(ctx context.Context, tx pgx.Tx) error {
	d, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	ms := max(time.Until(d).Milliseconds(), 1)
	_, err := tx.Exec(ctx, "SELECT set_config('statement_timeout', $1, true)", strconv.FormatInt(ms, 10))
	return err
}

// lookupQuery returns the search of f and its arguments.
func lookupQuery(f audit.EventFilter) (string, []any, error) {
	var q strings.Builder
	args := []any{f.Account}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString(`SELECT event_time, node, seq, line FROM audit_events WHERE recipient = $1`)
	if f.Start != nil {
		q.WriteString(" AND event_time >= " + arg(*f.Start))
	}
	if f.End != nil {
		q.WriteString(" AND event_time <= " + arg(*f.End))
	}
	if a := f.Attribute; a != nil {
		switch a.Key {
		case audit.AttrEventID:
			q.WriteString(" AND event_id = " + arg(a.Value))
		case audit.AttrEventName:
			q.WriteString(" AND event_name = " + arg(a.Value))
		case audit.AttrEventSource:
			q.WriteString(" AND event_source = " + arg(a.Value))
		case audit.AttrUsername:
			q.WriteString(" AND username = " + arg(a.Value))
		case audit.AttrAccessKeyID:
			q.WriteString(" AND access_key_id = " + arg(a.Value))
		case audit.AttrReadOnly:
			q.WriteString(" AND read_only = " + arg(a.Value == "true"))
		// @> rather than = ANY: only the containment operators can use
		// the GIN indexes (migration 0014).
		case audit.AttrResourceType:
			q.WriteString(" AND resource_types @> ARRAY[" + arg(a.Value) + "::text]")
			if a.Value != audit.ResourceTypeKey {
				// Implied, but only this says that audit_events_resource_types,
				// which leaves out the events of exactly one key, has them.
				q.WriteString(" AND resource_types <> '{" + audit.ResourceTypeKey + "}'")
			}
		case audit.AttrResourceName:
			q.WriteString(" AND resource_names @> ARRAY[" + arg(a.Value) + "::text]")
		default:
			return "", nil, fmt.Errorf("%w: %q", audit.ErrInvalidLookupAttributes, a.Key)
		}
	}
	if b := f.Before; b != nil {
		q.WriteString(" AND (event_time, node, seq) < (" + arg(b.Time) + ", " + arg(b.Node) + ", " + arg(int64(b.Seq)) + ")")
	}
	q.WriteString(" ORDER BY event_time DESC, node DESC, seq DESC LIMIT " + arg(f.Limit))
	return q.String(), args, nil
}

// PrunedNode is what PruneAuditEvents deleted of one node's rows.
type PrunedNode struct {
	Node    string
	Deleted int64
	Through uint64 // the newest event deleted; 0 when none was
}

// pruneBatch is how many rows one DELETE takes: short transactions, so
// that the shippers' inserts and the lookups never wait long.
const pruneBatch = 10000

// PruneAuditEvents deletes from audit_events the events older than
// before, node by node, as a prefix of each node's chain: the rows up to
// the newest event whose time is before it (found by a binary search on
// seq: a node writes its events nearly in time order), never the node's
// newest row, which is where its shipper resumes. The files stay the
// record (and `trent audit archive` moves them); LookupEvents on
// PostgreSQL then finds what AWS's does, the last 90 days by default.
// `trent audit verify --database-url` accepts a node's rows starting
// after event 1 as long as they are contiguous to its newest.
func (db *DB) PruneAuditEvents(ctx context.Context, before time.Time) ([]PrunedNode, error) {
	const op = "prune audit events"
	rows, err := db.pool.Query(ctx, `SELECT node FROM audit_heads ORDER BY node`)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	nodes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrapErr(op, err)
	}
	var out []PrunedNode
	for _, node := range nodes {
		p, err := db.pruneNode(ctx, node, before.Unix())
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (db *DB) pruneNode(ctx context.Context, node string, before int64) (PrunedNode, error) {
	op := "prune audit events of " + node
	p := PrunedNode{Node: node}
	var lo, hi *int64
	if err := db.pool.QueryRow(ctx, `SELECT min(seq), max(seq) FROM audit_events WHERE node = $1`, node).Scan(&lo, &hi); err != nil {
		return p, wrapErr(op, err)
	}
	if lo == nil {
		return p, nil // no rows
	}
	// The newest seq in [*lo, *hi) whose event is older than before: the
	// newest row is never deleted.
	timeOf := func(seq int64) (int64, error) {
		var t int64
		err := db.pool.QueryRow(ctx, `SELECT event_time FROM audit_events WHERE node = $1 AND seq >= $2 ORDER BY seq LIMIT 1`, node, seq).Scan(&t)
		return t, wrapErr(op, err)
	}
	through := *lo - 1
	for a, b := *lo, *hi-1; a <= b; {
		m := a + (b-a)/2
		t, err := timeOf(m)
		if err != nil {
			return p, err
		}
		if t < before {
			through, a = m, m+1
		} else {
			b = m - 1
		}
	}
	for from := *lo; from <= through; from += pruneBatch {
		tag, err := db.pool.Exec(ctx, `DELETE FROM audit_events WHERE node = $1 AND seq >= $2 AND seq < $3 AND seq <= $4`,
			node, from, from+pruneBatch, through)
		if err != nil {
			return p, wrapErr(op, err)
		}
		p.Deleted += tag.RowsAffected()
	}
	if p.Deleted > 0 {
		p.Through = uint64(through)
	}
	return p, nil
}
