package jobs

import (
	"context"
	"log/slog"
	"sync/atomic"
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
// it lost it. It stays below store.LeaseRenew, or the holder would lose
// the lease between its tries.
const DefaultLeaseCheck = 2 * time.Second

// runLeased is Start's loop with r.Lease set. A keeper goroutine tries
// the lease every check period, whatever the work is doing, so that the
// lease's session never sits idle while it is held (the store may end an
// idle one: a holder that hangs must not keep the lease); this goroutine
// runs the work while the keeper last found the lease held: at once on
// taking it, then every Interval. A node that loses the lease runs no new
// round after the keeper's next check; a round already under way
// finishes rather than being cut off between a committed write and its
// audit event (the work is safe to overlap: each job re-checks its key's
// revision as it writes, so a second run of one job finds it done or
// changed and does nothing).
func (r *Runner) runLeased(ctx context.Context, log *slog.Logger) {
	check := r.LeaseCheck
	if check <= 0 {
		check = DefaultLeaseCheck
	}
	check = min(check, r.Interval)
	var held atomic.Bool
	taken := make(chan struct{}, 1)
	keeperDone := make(chan struct{})
	go func() {
		defer close(keeperDone)
		r.keep(ctx, log, check, &held, taken)
	}()
	defer func() {
		<-keeperDone
		if err := r.Lease.Release(); err != nil {
			log.Warn("lifecycle jobs: releasing the job lease (it ends with its session all the same)", "err", err)
		}
	}()
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-taken:
			t.Reset(r.Interval)
		case <-t.C:
		}
		if held.Load() {
			if err := r.Work(ctx); err != nil && ctx.Err() == nil {
				log.Error("lifecycle jobs", "err", apierr.ForLog(err))
			}
		}
	}
}

// keep tries the lease every check until ctx ends, keeping held up to
// date and signalling taken when it takes the lease.
func (r *Runner) keep(ctx context.Context, log *slog.Logger, check time.Duration, held *atomic.Bool, taken chan<- struct{}) {
	t := time.NewTicker(check)
	defer t.Stop()
	failing := false
	for {
		ok, err := r.Lease.Try(ctx)
		if ctx.Err() != nil {
			held.Store(false)
			return
		}
		switch {
		case err != nil && !failing:
			log.Warn("lifecycle jobs: cannot reach the job lease; this node runs no jobs until it can", "err", apierr.ForLog(err))
		case err == nil && failing:
			log.Info("lifecycle jobs: the job lease answers again")
		}
		failing = err != nil
		switch was := held.Swap(ok); {
		case ok && !was:
			log.Info("lifecycle jobs: this node holds the job lease and runs the jobs")
			select {
			case taken <- struct{}{}: // run now: the work has waited for a holder
			default:
			}
		case !ok && was:
			log.Warn("lifecycle jobs: this node lost the job lease; it runs no jobs until it holds it again")
		}
		select {
		case <-ctx.Done():
			held.Store(false)
			return
		case <-t.C:
		}
	}
}
