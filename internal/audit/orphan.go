package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// The intents of a node gone for good. On a store several nodes share
// (PostgreSQL), a node's intents are its own: it recovers them at its
// next start (intent.go). A node that never starts again would leave
// them, and the events of changes it committed, unwritten for ever; so
// the node that runs the jobs claims them and writes their events into
// its own log:
//
//   - Gone: each running node holds its node lease from before it reads
//     its own intents at start until it stops (jobs.Presence); its
//     session, and the lock, end with the process, or within seconds of
//     its machine going silent. An intent is claimed only under its
//     node's lock, so never while that node runs, and only once it is
//     older than the orphan age (default two minutes; the janitor deletes
//     a recorded event's intent within seconds), which keeps the intents
//     of a node that runs without the lease — one of an older version
//     during an upgrade, or one whose lease session the server ended —
//     from being claimed while it still writes their events.
//   - Claimed: one transaction per gone node, under its lock, moves its
//     intents to the claiming node, keeping the original node as their
//     origin. A node starting again waits for its lock, so a claim is
//     whole before it reads its intents and finds the claimed ones gone:
//     a row is recorded by the node that holds it, only ever one.
//   - Recorded: a claimed intent whose event the shared event table holds
//     (the gone node shipped it before it stopped) gets none; the others
//     get an event in the claiming node's chain, marked trentRecovered and
//     trentRecoveredFrom, durable before the row is deleted. A claiming
//     node that stops in between holds the rows as its own: it searches
//     its log for their events at its next start, or, if it is gone too,
//     the next claimer takes them over.
//
// What this cannot tell apart: an event that was durable in the gone
// node's own files but not yet shipped when it stopped. If those files
// are lost, the claimer's event is the only one, as it should be; if
// the node comes back after all, its log holds the original too, and the
// event id appears twice in the cluster (the second marked recovered).

// EventRef names an event of the shared event table: its recipient
// account, its time and its id.
type EventRef struct {
	Recipient string
	Time      time.Time
	EventID   string
}

// OrphanedIntents is the part of a store shared by several nodes that
// lets a running node take over the intents of one gone for good
// (postgres.DB).
type OrphanedIntents interface {
	// ClaimOrphanedIntents moves to node the intents dated before
	// `before` of every other node that is not running, dating the claim
	// now, and returns every intent node claimed and has not deleted.
	ClaimOrphanedIntents(ctx context.Context, node string, before, now time.Time) ([]store.StoredIntent, error)
	// ShippedAuditEvents returns the ids of those of evs that the shared
	// event table holds.
	ShippedAuditEvents(ctx context.Context, evs []EventRef) (map[string]bool, error)
}

// DefaultOrphanAge is how old a stopped node's intent must be before
// another node claims it.
const DefaultOrphanAge = 2 * time.Minute

// RecoverOrphanedIntents claims the intents older than age of the nodes
// that are not running and records their events, as described above, and
// returns how many events it wrote. The job runner calls it; it does
// nothing on a store of one node.
func (l *Log) RecoverOrphanedIntents(ctx context.Context, age time.Duration) (int, error) {
	st, ok := l.opts.Intents.(OrphanedIntents)
	if !ok || l.opts.NodeID == "" {
		return 0, nil
	}
	if err := l.Ready(); err != nil {
		// A log that cannot write takes on no other node's events; the
		// intents wait for a round on a log that can.
		return 0, nil
	}
	now := l.clock.Now()
	ins, err := st.ClaimOrphanedIntents(ctx, l.opts.NodeID, now.Add(-age), now)
	if err != nil {
		return 0, fmt.Errorf("audit: claim the intents of stopped nodes: %w", err)
	}
	return l.recordClaimed(ctx, ins)
}

// recordClaimed writes, durably, the event of each claimed intent that
// neither this log nor the shared event table holds, then deletes the
// intents. Events it cannot make durable stay queued, as any event does,
// and the intents stay: an event queued so is not written again by a
// later run while it waits, and its intent is deleted once a run finds
// it in the log (or the next start writes it, if it never got there).
func (l *Log) recordClaimed(ctx context.Context, ins []store.StoredIntent) (int, error) {
	if len(ins) == 0 {
		return 0, nil
	}
	missing, err := l.missingIntents(ins)
	if err != nil {
		return 0, err
	}
	queued := map[string]bool{}
	for _, in := range missing {
		if _, ok := l.queuedRecovered.Load(in.EventID); ok {
			queued[in.EventID] = true
		}
	}
	if len(queued) > 0 {
		missing = slices.DeleteFunc(missing, func(in store.StoredIntent) bool { return queued[in.EventID] })
		ins = slices.DeleteFunc(slices.Clone(ins), func(in store.StoredIntent) bool { return queued[in.EventID] })
	}
	for _, in := range ins {
		l.queuedRecovered.Delete(in.EventID) // found in the log, or not queued
	}
	if st, ok := l.opts.Intents.(OrphanedIntents); ok && len(missing) > 0 {
		refs := make([]EventRef, 0, len(missing))
		for _, in := range missing {
			var rec intentRecord
			if err := json.Unmarshal(in.Body, &rec); err != nil {
				return 0, fmt.Errorf("audit: intent of event %s: %w", in.EventID, err)
			}
			refs = append(refs, EventRef{Recipient: rec.Recipient, Time: in.EventTime, EventID: in.EventID})
		}
		shipped, err := st.ShippedAuditEvents(ctx, refs)
		if err != nil {
			return 0, fmt.Errorf("audit: look for the events of claimed intents: %w", err)
		}
		kept := missing[:0]
		for _, in := range missing {
			if !shipped[in.EventID] {
				kept = append(kept, in)
			}
		}
		missing = kept
	}
	n, err := l.writeRecovered(ctx, ins, missing)
	if errors.Is(err, errNotDurable) {
		for _, in := range missing {
			l.queuedRecovered.Store(in.EventID, struct{}{})
		}
		return 0, nil
	}
	return n, err
}

// recoveredFromNote is the additionalEventData of an event that node
// wrote from an intent it claimed from origin.
func recoveredFromNote(origin, node string) json.RawMessage {
	b, _ := json.Marshal(struct {
		Note string `json:"trentRecovered"`
		From string `json:"trentRecoveredFrom"`
	}{
		Note: "Trent node " + origin + " stopped after this request's change was committed and before its event was written, " +
			"so the caller got no answer, and it did not start again. Node " + node + " wrote this event from the request's audit intent; " +
			"its requestParameters and responseElements are not known.",
		From: origin,
	})
	return b
}
