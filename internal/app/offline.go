package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
)

// Offline tools on an installation in PostgreSQL (`trent rekey`, `trent
// seal migrate` with --database-url). On SQLite they take the data dir's
// exclusive lock, which no server beside them can share. A database has
// no such lock, so they use the cluster's leases instead:
//
//   - the rotate-root lease (store.LeaseRotateRoot), held from before the
//     seal is read until the commit: a root-key rotation on a node commits
//     a new sealed root key, and a reseal that read the old one would
//     otherwise put the old root key back, sealed anew, over it — after
//     the next restart nothing rewrapped would unwrap. The two exclude
//     each other, and two reseals too.
//   - no node may serve the installation unsealed (the job lease's
//     contenders, as for a rotation), checked at the start and again
//     just before the commit. A reseal seals the same root key again, so
//     a node that keeps serving would not be harmed by it: it holds the
//     root key in memory and never reads the sealed copy again until it
//     unseals. But that node was started with the old seal's flags (a key
//     file, a PIN), which no longer open the installation: it would fail
//     at its next restart, an outage found late. Stopping (or sealing)
//     the nodes first makes the change explicit, like on SQLite. Sealed
//     nodes may stay: each reads the sealed root key afresh at unseal; a
//     shamir node collecting shares under the old settings is refused
//     and must be restarted.

// offlineGuard holds the rotate-root lease for an offline tool; nil for a
// store without leases (its caller locked the data dir instead).
type offlineGuard struct {
	g    *rotationGuard
	what string
}

// openDatabaseOffline opens the installation in the database at url for
// an offline tool that will "what" (for messages), holding the rotate-root
// lease, once no node serves it unsealed.
func openDatabaseOffline(ctx context.Context, url, what string) (*postgres.DB, *offlineGuard, error) {
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	var ls store.Leases = db
	g := &rotationGuard{ls: ls, lease: ls.NewLease(store.LeaseRotateRoot, leaseHolder())}
	held, err := g.lease.Try(ctx)
	switch {
	case err != nil:
		db.Close()
		return nil, nil, fmt.Errorf("take the cluster-wide rotate-root lease: %w", err)
	case !held:
		holders, _ := ls.Contenders(ctx, store.LeaseRotateRoot)
		g.lease.Release()
		db.Close()
		return nil, nil, fmt.Errorf("cannot %s now: a root-key rotation or another seal change holds the cluster-wide rotate-root lease (%s); wait for it to finish", what, strings.Join(holders, ", "))
	}
	og := &offlineGuard{g: g, what: what}
	if err := og.alone(ctx); err != nil {
		g.lease.Release()
		db.Close()
		return nil, nil, err
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.keep(store.LeaseRenew / 2)
	return db, og, nil
}

// errNodesServing is the refusal while nodes serve the installation.
var errNodesServing = errors.New("node(s) serve this installation unsealed")

func (og *offlineGuard) alone(ctx context.Context) error {
	others, err := og.g.ls.Contenders(ctx, store.LeaseJobs)
	if err != nil {
		return fmt.Errorf("look for nodes serving this installation: %w", err)
	}
	if len(others) > 0 {
		return fmt.Errorf("cannot %s: %d %w (%s): stop or seal every node first (`trent seal --endpoint …`), then start them with the new seal's flags", og.what, len(others), errNodesServing, strings.Join(others, ", "))
	}
	return nil
}

// check confirms, just before a commit, that the lease is still held and
// no node came to serve meanwhile.
func (og *offlineGuard) check(ctx context.Context) error {
	if og == nil {
		return nil
	}
	if err := og.g.try(ctx); err != nil {
		return fmt.Errorf("the cluster-wide rotate-root lease was lost: %w", err)
	}
	return og.alone(ctx)
}

func (og *offlineGuard) release() {
	if og != nil {
		og.g.release()
	}
}
