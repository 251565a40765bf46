package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/metrics"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/store"
)

// pingTimeout bounds the store check of GET /readyz.
const pingTimeout = 2 * time.Second

// storeReachable reports whether the store answers a read now.
func (n *Node) storeReachable() bool {
	o, ok := n.st.(store.Observable)
	if !ok {
		return true // nothing to ask; the requests will tell
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := o.Ping(ctx); err != nil {
		n.log.Warn("readiness: store unreachable", "err", err)
		return false
	}
	return true
}

// observe gives reg the node's state to read at scrape time.
func (n *Node) observe(reg *metrics.Registry) {
	src := metrics.Sources{
		Sealed: func() bool { return n.cur.Load() == nil },
		Backup: func() (metrics.HousekeepingStats, bool) {
			return n.backupStats.stats("backup"), n.backupsOn.Load()
		},
		Cache: func() (metrics.CacheStats, bool) {
			a := n.cur.Load()
			if a == nil || !a.enter() {
				return metrics.CacheStats{}, false
			}
			defer a.leave()
			cs := a.KMS.CacheStats()
			return metrics.CacheStats{Hits: cs.Hits, Misses: cs.Misses, Evictions: cs.Evictions, Keys: cs.Keys, Bytes: cs.Bytes}, true
		},
		Audit: func() (metrics.AuditStats, bool) {
			a := n.cur.Load()
			if a == nil || !a.enter() {
				return metrics.AuditStats{}, false
			}
			defer a.leave()
			st, ws := a.Audit.Stats(), a.Audit.WriteStats()
			return metrics.AuditStats{
				Healthy: a.Audit.Healthy(), Events: st.Records, Queued: st.Queued,
				Writes: ws.Count, WriteSum: ws.Sum, Bounds: audit.WriteBounds, Cumulative: ws.Cumulative,
				Housekeeping: a.housekeepingStats(),
			}, true
		},
	}
	if o, ok := n.st.(store.Observable); ok {
		src.Keys = func(ctx context.Context) ([]metrics.KeyCount, error) {
			counts, err := o.CountKeys(ctx)
			out := make([]metrics.KeyCount, len(counts))
			for i, c := range counts {
				out[i] = metrics.KeyCount{State: c.State, Spec: c.Spec, Count: c.Count}
			}
			return out, err
		}
	}
	reg.SetSources(src)
}

// authorizeOperator accepts a request SigV4-signed (with an empty body)
// by the root user of the installation's first account, as Seal does:
// the one who runs the installation.
func (n *Node) authorizeOperator(r *http.Request) error {
	a := n.cur.Load()
	if a == nil || !a.enter() {
		return fmt.Errorf("%w: sealed", server.ErrConflict)
	}
	auth, err := a.Verifier.Verify(r, nil)
	a.leave()
	if err != nil {
		return err
	}
	c := auth.Caller
	if c == nil {
		c = identity.Root(auth.Account, auth.AccessKeyID)
	}
	if !c.IsRoot() || c.Principal.Account != n.Account {
		return fmt.Errorf("%w: only the root user of account %s may read the metrics here, not %s (or scrape the --metrics-listen listener)", server.ErrForbidden, n.Account, c.Principal.ARN)
	}
	return nil
}
