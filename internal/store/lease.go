package store

import (
	"context"
	"time"
)

// Names of the cluster-wide leases Trent takes.
const (
	// LeaseJobs is held by the one node that runs the lifecycle jobs
	// (deletions, automatic rotations, expiry of imported material).
	LeaseJobs = "jobs"
	// LeaseRotateRoot is held by the node rotating the root key.
	LeaseRotateRoot = "rotate-root"
)

// LeaseRenew is how often a holder must Try its lease to keep it.
const LeaseRenew = 5 * time.Second

// Leases is offered by a store that several nodes share (PostgreSQL), so
// that work meant to run once across the cluster runs on one node at a
// time. A store that only one process opens (SQLite, whose data dir that
// process locks) lacks it: callers check with a type assertion, and
// without it every lease is the process's own.
type Leases interface {
	// NewLease returns a handle on the lease name, not held yet. holder
	// describes the caller to operators who look at who holds it (host
	// and pid). The handle is for one goroutine at a time.
	NewLease(name, holder string) Lease
	// Contenders returns the holder of every handle on the lease name
	// made by another opening of the store (another node) that is
	// connected now, holding the lease or trying to: who else is around,
	// not who holds it.
	Contenders(ctx context.Context, name string) ([]string, error)
}

// A Lease is the right, shared by every node on the store, to do one
// thing alone. It is held from a Try that reports true until Release, or
// until the store ends it because the holder stopped answering (a node
// that died, a connection that broke): a holder learns that at its next
// Try, which then reports false. A holder keeps it by trying it at least
// every LeaseRenew: a store may end the lease of a holder silent for
// longer (PostgreSQL does after 10 s), so that a hung holder lets go.
type Lease interface {
	// Try takes the lease if nobody holds it, or confirms that this
	// handle still does, asking the store each time. It reports whether
	// the handle holds the lease now; false with a nil error means
	// another holder has it. An error (the store did not answer) also
	// means not held: the handle drops whatever it had and the next Try
	// starts afresh.
	Try(ctx context.Context) (bool, error)
	// Release gives the lease up, if held, and frees what the handle
	// holds. The handle may be tried again afterwards.
	Release() error
}
