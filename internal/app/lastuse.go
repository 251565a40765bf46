package app

import (
	"context"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
)

// keyUsesOf returns the store's table of key uses (store.KeyUses), under
// any wrappers; nil if it has none.
func keyUsesOf(st store.Store) store.KeyUses {
	for s := st; s != nil; {
		if k, ok := s.(store.KeyUses); ok {
			return k
		}
		u, ok := s.(interface{ Unwrap() store.Store })
		if !ok {
			return nil
		}
		s = u.Unwrap()
	}
	return nil
}

// lastUsage answers GetKeyLastUsage (kms.Config.LastUsage) from the audit
// log, which writes each key's last use into the store in batches
// (internal/audit/usage.go). On a store several nodes share, the table
// also holds what every other node shipped (migration 0008's trigger): a
// use through another node is seen once that node has shipped it or
// written it (asynchronously, normally within a second; docs/postgres.md).
// The tracking start stays this node's: a later start than the cluster's
// is the conservative side (GetKeyLastUsage then says the key may have
// been used before tracking began).
func lastUsage(l *audit.Log) func(context.Context, string) (audit.Usage, bool, time.Time, error) {
	return l.LastUsage
}
