package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/metrics"
	"github.com/trent-kms/trent/internal/store/postgres"
)

// DefaultAuditHousekeeping is how often a server archives and prunes its
// audit log when told to (AuditHousekeeping): often enough that a day's
// events never wait long past their cutoff, rarely enough that listing a
// large directory costs nothing that matters.
const DefaultAuditHousekeeping = time.Hour

// AuditHousekeeping is what a server does by itself, on a schedule, with
// an audit log that only grows: what `trent audit archive` and `trent
// audit prune` do from cron (docs/operations.md).
type AuditHousekeeping struct {
	// ArchiveTo, if set, is the directory each node moves the older part
	// of its own audit files to (audit.Archive): what digests written
	// more than ArchiveOlderThan ago cover. On PostgreSQL a node moves
	// nothing its shipper has not copied into the database yet.
	ArchiveTo        string
	ArchiveOlderThan time.Duration
	// PruneOlderThan, if positive, deletes on PostgreSQL the rows of
	// audit_events (LookupEvents' copy) older than it, every node's; the
	// node running the lifecycle jobs does it.
	PruneOlderThan time.Duration
	// Every is how often (0: DefaultAuditHousekeeping).
	Every time.Duration
}

// taskStats are a scheduled task's outcomes, for the metrics.
type taskStats struct {
	lastSuccess atomic.Int64 // Unix nanoseconds; 0: never
	failures    atomic.Uint64
}

func (t *taskStats) done(err error) {
	if err != nil {
		t.failures.Add(1)
		return
	}
	t.lastSuccess.Store(time.Now().UnixNano())
}

func (t *taskStats) stats(task string) metrics.HousekeepingStats {
	h := metrics.HousekeepingStats{Task: task, Failures: t.failures.Load()}
	if ns := t.lastSuccess.Load(); ns != 0 {
		h.LastSuccess = time.Unix(0, ns)
	}
	return h
}

// housekeepingStats are the tasks configured here, for the metrics.
func (a *App) housekeepingStats() []metrics.HousekeepingStats {
	var out []metrics.HousekeepingStats
	if a.archiving {
		out = append(out, a.archiveStats.stats("archive"))
	}
	if a.pruning {
		out = append(out, a.pruneStats.stats("prune"))
	}
	return out
}

// auditPruner is a store whose LookupEvents rows can be pruned
// (postgres.DB).
type auditPruner interface {
	PruneAuditEvents(ctx context.Context, before time.Time) ([]postgres.PrunedNode, error)
}

// startAuditArchiver archives this node's audit files every h.Every, the
// first time at once, until the returned function is called; it returns
// a no-op when archiving is off, and an error at once for an archive
// directory inside the log's. Every node archives its own directory,
// lease or not: no other node can reach it.
func (a *App) startAuditArchiver(h AuditHousekeeping, log *slog.Logger) (stop func(), err error) {
	if h.ArchiveTo == "" {
		return func() {}, nil
	}
	if err := audit.CheckArchiveDir(a.Audit.Dir(), h.ArchiveTo); err != nil {
		return nil, err
	}
	log = cmp.Or(log, slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.archiving = true
	go func() {
		defer close(done)
		t := time.NewTicker(cmp.Or(h.Every, DefaultAuditHousekeeping))
		defer t.Stop()
		for {
			err := a.ArchiveAudit(ctx, h.ArchiveTo, h.ArchiveOlderThan, log)
			if ctx.Err() != nil {
				return // a seal or stop cut it short: not a failure
			}
			a.archiveStats.done(err)
			if err != nil {
				log.Error("audit: archiving the older part of the log failed; it stays where it is and is tried again", "to", h.ArchiveTo, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

// ArchiveAudit moves the part of this node's audit log that digests
// written more than olderThan ago cover to the directory to, keeping what
// the node has not shipped into the database yet, if it ships. Cancelling
// ctx stops it between two chunks of a copy (a seal does not wait for a
// large move); the next run finishes what it left.
func (a *App) ArchiveAudit(ctx context.Context, to string, olderThan time.Duration, log *slog.Logger) error {
	through := uint64(math.MaxUint64)
	if a.shipper != nil {
		through = a.shipper.Through()
	}
	// The log dates its files by the real clock (openAudit gives it no
	// other), so the cutoff is read from that clock too.
	rep, err := audit.ArchiveThrough(ctx, a.Audit.Dir(), to, time.Now().Add(-olderThan), through)
	if err != nil {
		return err
	}
	if rep.Digests > 0 {
		cmp.Or(log, slog.Default()).Info("audit: archived the older part of the log; verify it whole with trent audit verify --archive",
			"to", to, "eventFiles", rep.EventFiles, "digests", rep.Digests, "eventsThrough", rep.Through, "logContinuesAfter", rep.Boundary)
	}
	return nil
}

// auditPruning prunes LookupEvents' rows at most once every h.Every, from
// the lifecycle jobs' round (so by the one node that runs them); nil when
// pruning is off or the store keeps no rows.
type auditPruning struct {
	db        auditPruner
	stats     *taskStats
	olderThan time.Duration
	every     time.Duration
	last      time.Time // owned by the jobs' goroutine
}

func (a *App) newAuditPruning(h AuditHousekeeping) *auditPruning {
	if h.PruneOlderThan <= 0 {
		return nil
	}
	db := storeAs[auditPruner](a.Store)
	if db == nil {
		return nil
	}
	a.pruning = true
	return &auditPruning{db: db, stats: &a.pruneStats, olderThan: h.PruneOlderThan, every: cmp.Or(h.Every, DefaultAuditHousekeeping)}
}

// run prunes if the last prune is at least p.every ago.
func (p *auditPruning) run(ctx context.Context, log *slog.Logger) error {
	if p == nil {
		return nil
	}
	now := time.Now()
	if !p.last.IsZero() && now.Sub(p.last) < p.every {
		return nil
	}
	pruned, err := p.db.PruneAuditEvents(ctx, now.Add(-p.olderThan))
	p.stats.done(err)
	if err != nil {
		return fmt.Errorf("audit: prune LookupEvents' rows: %w", err)
	}
	p.last = now
	for _, n := range pruned {
		if n.Deleted > 0 {
			cmp.Or(log, slog.Default()).Info("audit: pruned LookupEvents' rows older than the retention; the files stay the evidence",
				"node", n.Node, "rows", n.Deleted, "eventsThrough", n.Through)
		}
	}
	return nil
}
