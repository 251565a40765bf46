package app

import (
	"context"
	"time"

	"github.com/trent-kms/trent/internal/audit"
)

// lastUsage answers GetKeyLastUsage (kms.Config.LastUsage) from the audit
// log, which writes each key's last use into the store in batches
// (internal/audit/usage.go). On a store several nodes share, each node
// writes its own uses there: a use through another node is seen once that
// node has written it (asynchronously, normally within a second;
// docs/postgres.md).
// The tracking start stays this node's: a later start than the cluster's
// is the conservative side (GetKeyLastUsage then says the key may have
// been used before tracking began).
func lastUsage(l *audit.Log) func(context.Context, string) (audit.Usage, bool, time.Time, error) {
	return l.LastUsage
}
