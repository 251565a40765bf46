package app

import (
	"context"
	"log/slog"

	"github.com/trent-kms/trent/internal/jobs"
	"github.com/trent-kms/trent/internal/store"
)

// nodeLeases is offered by a store several nodes share (postgres.DB): the
// lease each node holds while it runs, which tells the others it runs
// (internal/audit/orphan.go).
type nodeLeases interface {
	NodeLease(node, holder string) store.Lease
}

// holdPresence takes node's own lease, waiting while a node claiming its
// audit intents holds it, and keeps it until releasePresence: before the
// audit log reads this node's intents at Open, so that no other node can
// be claiming them meanwhile. A store without node leases needs none.
func (a *App) holdPresence(ctx context.Context, node string, log *slog.Logger) error {
	nl := storeAs[nodeLeases](a.Store)
	if nl == nil {
		return nil
	}
	p := &jobs.Presence{Lease: nl.NodeLease(node, leaseHolder()), Log: log}
	release, err := p.Hold(ctx)
	if err != nil {
		return err
	}
	a.presence = release
	return nil
}

// releasePresence gives up this node's lease, after its audit log closed.
func (a *App) releasePresence() {
	if a.presence != nil {
		a.presence()
		a.presence = nil
	}
}
