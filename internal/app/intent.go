package app

import "github.com/trent-kms/trent/internal/store"

// intentsOf returns the store's audit outbox (store.AuditIntents), under
// any wrappers; nil if it has none.
func intentsOf(st store.Store) store.AuditIntents {
	for s := st; s != nil; {
		if k, ok := s.(store.AuditIntents); ok {
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
