package app

import "github.com/trent-kms/trent/internal/store"

// storeAs returns the store, or the first store under its wrappers, that
// has the optional part T (store.KeyUses, store.AuditIntents); the zero
// T if none has.
func storeAs[T any](st store.Store) T {
	for s := st; s != nil; {
		if k, ok := s.(T); ok {
			return k
		}
		u, ok := s.(interface{ Unwrap() store.Store })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero
}
