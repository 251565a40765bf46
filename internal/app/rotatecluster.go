package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/store"
)

// Root-key rotation with several nodes on one store (PostgreSQL).
//
// The rotating node wraps new secrets with the next generation and
// rewraps the stored ones; any other node serving meanwhile holds only the
// old generation in memory: it cannot unwrap what was rewrapped, and what
// it wraps after the last rewrap pass would, once the rotation commits and
// the old sealed root key is gone, unwrap on no node after a restart. So
// the rule is: one node rotates, the others are sealed or stopped. A
// rotation enforces it:
//
//   - it takes the cluster-wide lease store.LeaseRotateRoot, so two
//     rotations never run at once (the second is refused, 409);
//   - it refuses to start (409), and again to commit, while another node
//     serves the store unsealed — seen by the session every unsealed node
//     keeps for the job lease (store.Leases.Contenders);
//   - a node that starts or unseals during the rotation unseals the next
//     generation too and wraps with it (unsealRoot), so what it writes
//     needs no rewrap; after the commit, a node unseals the new root key.
//
// A store only one process opens (SQLite) needs none of this: the data
// dir's lock keeps the other processes out (rotateRoot).

// rotationGuard holds the rotate-root lease for one rotation.
type rotationGuard struct {
	ls    store.Leases
	lease store.Lease

	// A keeper tries the lease while the rotation runs, which may take
	// longer than a lease survives untried (store.LeaseRenew); mu orders
	// its tries with beforeCommit's, lost records a try that failed.
	mu   sync.Mutex
	lost error
	stop chan struct{}
	done chan struct{}
}

// keep tries the lease every renew until release.
func (g *rotationGuard) keep(renew time.Duration) {
	defer close(g.done)
	t := time.NewTicker(renew)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.try(context.Background())
	}
}

// try tries the lease and records a loss; it returns the first loss.
func (g *rotationGuard) try(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lost != nil {
		return g.lost
	}
	held, err := g.lease.Try(ctx)
	switch {
	case err != nil:
		g.lost = err
	case !held:
		g.lost = errors.New("another node holds it now")
	}
	return g.lost
}

// guardRotation takes the rotate-root lease and checks that no other node
// serves the store; nil for a store that lacks leases.
func (n *Node) guardRotation(ctx context.Context) (*rotationGuard, error) {
	ls, ok := n.st.(store.Leases)
	if !ok {
		return nil, nil
	}
	g := &rotationGuard{ls: ls, lease: ls.NewLease(store.LeaseRotateRoot, leaseHolder())}
	held, err := g.lease.Try(ctx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("take the cluster-wide root-key rotation lease: %w", err)
	case !held:
		holders, _ := ls.Contenders(ctx, store.LeaseRotateRoot)
		g.lease.Release()
		return nil, fmt.Errorf("%w: another node is rotating the root key (%s); wait for it to finish", server.ErrConflict, strings.Join(holders, ", "))
	}
	if err := g.alone(ctx); err != nil {
		g.lease.Release()
		return nil, err
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.keep(store.LeaseRenew / 2)
	return g, nil
}

// alone fails with ErrConflict if another node serves the store unsealed.
func (g *rotationGuard) alone(ctx context.Context) error {
	others, err := g.ls.Contenders(ctx, store.LeaseJobs)
	if err != nil {
		return fmt.Errorf("look for other nodes serving this installation: %w", err)
	}
	if len(others) > 0 {
		return fmt.Errorf("%w: %d other node(s) serve this installation unsealed (%s): they would keep wrapping new secrets with the old root key; "+
			"seal or stop every other node, rotate the root key on this one, then unseal or start the others again", server.ErrConflict, len(others), strings.Join(others, ", "))
	}
	return nil
}

// beforeCommit checks, just before the rotation commits, that this node
// still holds the lease and that no other node came to serve meanwhile.
func (g *rotationGuard) beforeCommit(ctx context.Context) error {
	if g == nil {
		return nil
	}
	if err := g.try(ctx); err != nil {
		return fmt.Errorf("the cluster-wide root-key rotation lease was lost (%w): not committed (every secret is rewrapped); run rotate-root again", err)
	}
	if err := g.alone(ctx); err != nil {
		return fmt.Errorf("not committed (every secret is rewrapped; run rotate-root again once alone): %w", err)
	}
	return nil
}

func (g *rotationGuard) release() {
	if g == nil {
		return
	}
	close(g.stop)
	<-g.done
	g.lease.Release()
}
