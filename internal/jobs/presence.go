package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
)

// Presence holds a node's own lease for as long as the node runs, so that
// the other nodes sharing its store can tell it is running: the node that
// runs the jobs claims the audit intents of a node only while that node's
// lease is free (internal/audit/orphan.go). Nobody else holds a node's
// lease but briefly, while claiming, so Hold waits for it.
type Presence struct {
	Lease Lease
	Log   *slog.Logger
	// Wait bounds how long Hold waits for the lease (default
	// DefaultPresenceWait).
	Wait time.Duration
	// Check is how often the held lease is tried, which keeps its session
	// from being ended as idle (default DefaultLeaseCheck).
	Check time.Duration
}

// DefaultPresenceWait is how long Hold waits: longer than a store takes
// to end the session of a holder gone silent (store.Lease), so that a
// node restarted on a machine whose old process hung still starts.
const DefaultPresenceWait = 30 * time.Second

// presenceRetry is how often Hold asks for the lease while another holds it.
const presenceRetry = 200 * time.Millisecond

// ErrPresenceHeld is Hold's error when another session holds the lease
// for longer than Wait.
var ErrPresenceHeld = errors.New("another process holds this node's lease: is another Trent running with this node id (the same data directory)?")

// Hold takes the lease, waiting up to Wait while another holds it, and
// keeps it, trying it every Check, until release is called; a node that
// finds it lost logs so and takes it again as soon as it can.
func (p *Presence) Hold(ctx context.Context) (release func(), err error) {
	wait, check := p.Wait, p.Check
	if wait <= 0 {
		wait = DefaultPresenceWait
	}
	if check <= 0 {
		check = DefaultLeaseCheck
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	deadline := time.Now().Add(wait)
	for {
		ok, err := p.Lease.Try(ctx)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			_ = p.Lease.Release()
			if err == nil {
				err = ErrPresenceHeld
			}
			return nil, fmt.Errorf("take this node's lease: %w", err)
		}
		select {
		case <-ctx.Done():
			_ = p.Lease.Release()
			return nil, fmt.Errorf("take this node's lease: %w", ctx.Err())
		case <-time.After(presenceRetry):
		}
	}
	keepCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.keep(keepCtx, log, check)
	}()
	return func() {
		cancel()
		<-done
		if err := p.Lease.Release(); err != nil {
			log.Warn("releasing this node's lease (it ends with its session all the same)", "err", err)
		}
	}, nil
}

// keep tries the held lease every check until ctx ends.
func (p *Presence) keep(ctx context.Context, log *slog.Logger, check time.Duration) {
	t := time.NewTicker(check)
	defer t.Stop()
	held := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := p.Lease.Try(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case held && !ok:
			log.Error("this node lost its lease; while it does not hold it, another node may take over its audit intents older than the orphan age",
				"err", apierr.ForLog(err))
		case !held && ok:
			log.Info("this node holds its lease again")
		}
		held = ok
	}
}
