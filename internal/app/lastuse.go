package app

import (
	"context"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
)

// keyLastUser is a store that knows every node's last use of a key
// (postgres.DB, from the audit events the nodes ship).
type keyLastUser interface {
	KeyLastUse(ctx context.Context, keyARN string) (audit.Usage, bool, error)
}

// lastUsage answers GetKeyLastUsage (kms.Config.LastUsage) from the
// node's own log and, on a store several nodes share, from what every
// node shipped: the later of the two. A use through another node is seen
// once that node has shipped it (asynchronously, normally within a second;
// docs/postgres.md). The tracking start stays this node's: a later start
// than the cluster's is the conservative side (GetKeyLastUsage then says
// the key may have been used before tracking began).
func lastUsage(l *audit.Log, st store.Store) func(context.Context, string) (audit.Usage, bool, time.Time, error) {
	var shared keyLastUser
	for s := st; s != nil; {
		if k, ok := s.(keyLastUser); ok {
			shared = k
			break
		}
		u, ok := s.(interface{ Unwrap() store.Store })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	if shared == nil {
		return l.LastUsage
	}
	return func(ctx context.Context, keyARN string) (audit.Usage, bool, time.Time, error) {
		u, used, since, err := l.LastUsage(ctx, keyARN)
		if err != nil {
			return u, used, since, err
		}
		c, cused, err := shared.KeyLastUse(ctx, keyARN)
		if err != nil {
			return audit.Usage{}, false, time.Time{}, err
		}
		if cused && (!used || c.Time.After(u.Time)) {
			return c, true, since, nil
		}
		return u, used, since, nil
	}
}
