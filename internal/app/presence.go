package app

import (
	"context"
	"log/slog"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/jobs"
	"github.com/trent-kms/trent/internal/store"
)

// nodeLeases is offered by a store several nodes share (postgres.DB): the
// lease each node holds while it runs, which tells the others it runs
// (internal/audit/orphan.go).
type nodeLeases interface {
	NodeLease(node, holder string) store.Lease
}

// holdPresence takes this node's own lease, named by the node id in its
// data dir's audit directory, waiting while a node claiming its audit
// intents holds it, and keeps it until release: for as long as the
// process runs, sealed or not, so that from before its audit log first
// reads its intents (at the first unseal) no other node claims them, and
// none claims the intents a node waiting to be unsealed will recover
// itself. A store without node leases needs none.
func holdPresence(ctx context.Context, st store.Store, dataDir string, log *slog.Logger) (release func(), err error) {
	nl := storeAs[nodeLeases](st)
	if nl == nil {
		return func() {}, nil
	}
	id, err := audit.NodeID(AuditDir(dataDir))
	if err != nil {
		return nil, err
	}
	p := &jobs.Presence{Lease: nl.NodeLease(id, leaseHolder()), Log: log.With("node", id)}
	return p.Hold(ctx)
}
