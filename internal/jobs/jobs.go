// Package jobs runs Trent's lifecycle work — key deletions at the end of
// their waiting period and automatic rotations — on a schedule. The work
// itself decides what is due from an injectable clock, so tests call
// RunOnce after moving the clock instead of waiting. With several nodes
// on one store, a Runner given a Lease runs the work only while it holds
// it, so that one node at a time does (lease.go).
package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
)

// Runner calls Work every Interval until its context ends.
type Runner struct {
	Interval time.Duration
	Work     func(ctx context.Context) error
	Log      *slog.Logger
	// Lease, if set, makes the runner one of several on nodes sharing a
	// store: it runs the work only while it holds the lease, tried every
	// LeaseCheck (default DefaultLeaseCheck, at most Interval); see
	// runLeased.
	Lease      Lease
	LeaseCheck time.Duration
}

// RunOnce runs the work now.
func (r *Runner) RunOnce(ctx context.Context) error {
	return r.Work(ctx)
}

// Start runs the work once at start and then every Interval, in a
// goroutine; the returned channel closes when the runner has stopped.
func (r *Runner) Start(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	go func() {
		defer close(done)
		if r.Lease != nil {
			r.runLeased(ctx, log)
			return
		}
		t := time.NewTicker(r.Interval)
		defer t.Stop()
		for {
			if err := r.Work(ctx); err != nil && ctx.Err() == nil {
				log.Error("lifecycle jobs", "err", apierr.ForLog(err))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}
