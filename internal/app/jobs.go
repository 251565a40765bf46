package app

import (
	"fmt"
	"os"

	"github.com/trent-kms/trent/internal/jobs"
	"github.com/trent-kms/trent/internal/store"
)

// jobLease returns the lease that lets one node of those sharing st run
// the lifecycle jobs, or nil for a store only this process opens (SQLite),
// whose runner needs none.
func jobLease(st store.Store) jobs.Lease {
	ls, ok := st.(store.Leases)
	if !ok {
		return nil
	}
	return ls.NewLease(store.LeaseJobs, leaseHolder())
}

// leaseHolder names this process to operators looking at who holds a
// lease (docs/postgres.md).
func leaseHolder() string {
	host, err := os.Hostname()
	if err != nil {
		host = "?"
	}
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}
