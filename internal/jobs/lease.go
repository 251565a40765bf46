package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
)

// Lease is the cluster-wide right to run the jobs, for nodes that share
// one store (store.Lease is one). Try takes it or confirms it is still
// held, and reports whether it is; Release gives it up.
type Lease interface {
	Try(ctx context.Context) (bool, error)
	Release() error
}

// DefaultLeaseCheck is how often a leased Runner tries its lease: a node
// without it takes it within this long of its holder losing it, and the
// holder finds out within this long (plus the store's own timeout) that
// it lost it.
const DefaultLeaseCheck = 2 * time.Second

// runLeased is Start's loop with r.Lease set: every check period, try the
// lease; while held, run the work at once on taking it and then every
// Interval. A node that loses the lease stops at its next check; a run
// already under way finishes (the work is safe to overlap: each job
// re-checks its key's revision as it writes, so a second run of one job
// finds it done or changed and does nothing).
func (r *Runner) runLeased(ctx context.Context, log *slog.Logger) {
	check := r.LeaseCheck
	if check <= 0 {
		check = DefaultLeaseCheck
	}
	check = min(check, r.Interval)
	every := max(1, int(r.Interval/check)) // checks per run
	t := time.NewTicker(check)
	defer t.Stop()
	defer func() {
		if err := r.Lease.Release(); err != nil {
			log.Warn("lifecycle jobs: releasing the job lease (it ends with its session all the same)", "err", err)
		}
	}()
	held, failing, since := false, false, 0
	for {
		ok, err := r.Lease.Try(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && !failing:
			log.Warn("lifecycle jobs: cannot reach the job lease; this node runs no jobs until it can", "err", apierr.ForLog(err))
		case err == nil && failing:
			log.Info("lifecycle jobs: the job lease answers again")
		}
		failing = err != nil
		switch {
		case ok && !held:
			log.Info("lifecycle jobs: this node holds the job lease and runs the jobs")
			since = every // run now: the work has waited for a holder
		case !ok && held:
			log.Warn("lifecycle jobs: this node lost the job lease; it runs no jobs until it holds it again")
		}
		held = ok
		if held && since >= every {
			since = 0
			if err := r.Work(ctx); err != nil && ctx.Err() == nil {
				log.Error("lifecycle jobs", "err", apierr.ForLog(err))
			}
		}
		since++
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
