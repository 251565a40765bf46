package app

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/iam"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/store"
)

// Caches of a node that shares its store with other nodes (PostgreSQL).
//
// The KMS caches (key metadata and unwrapped backing keys, aliases,
// grants) and the IAM ones (access keys, identities and their policies)
// are kept right by the node's own writes. What other nodes write arrives
// through the store's change feed (store.ChangeFeed; for PostgreSQL,
// LISTEN/NOTIFY, internal/store/postgres/notify.go), which names what
// changed; the node drops exactly that. The feed also says up to when the
// node is known to have missed nothing (Fresh).
//
// The rule: a node serves from its caches only while its last confirmation
// is at most FreshnessBound old. Past that — the listening connection is
// lost, the database does not answer, a proxy swallows notifications — it
// treats every cache as unknown: each request finds them emptied (at most
// staleDropEvery before), so what it uses was read from the store just now,
// and if the store cannot be read the request fails (KMSInternalException)
// rather than use what may have changed. When the feed is back, the node
// drops everything once more (a reconnection may have missed changes) and
// serves from its caches again.

// FreshnessBound is how old the news of other nodes' changes may be while
// a node still serves from its caches: a key disabled, a key policy changed
// or an access key deactivated through one node is enforced by every other
// node within this time. The feed confirms freshness every
// postgres.PingInterval (500 ms), which leaves half of the bound for the
// round trip.
const FreshnessBound = time.Second

// staleDropEvery is how often, at most, the caches are emptied while the
// node is not known to be fresh: what a request uses then was read from the
// store at most this long before.
const staleDropEvery = 100 * time.Millisecond

// cluster applies a store's change feed to the node's caches and enforces
// FreshnessBound on its requests.
type cluster struct {
	kms *kms.Service
	iam *iam.Service
	log *slog.Logger

	// Times are monotonic nanoseconds since base, so that a change of the
	// wall clock does not make stale caches look fresh.
	base    time.Time
	freshAt atomic.Int64 // when the feed last confirmed freshness
	dropped atomic.Int64 // when a request last emptied the caches for staleness
	stale   atomic.Bool  // the caches were found stale and not fresh since (for the log)
}

func newCluster(k *kms.Service, i *iam.Service, log *slog.Logger) *cluster {
	c := &cluster{kms: k, iam: i, log: log, base: time.Now()}
	c.freshAt.Store(math.MinInt64 / 2) // not fresh until the feed says so
	c.dropped.Store(-int64(staleDropEvery))
	return c
}

// watchChanges starts applying feed's changes to a's caches and wraps a's
// handler in the freshness rule; a's teardown stops it.
func (a *App) watchChanges(feed store.ChangeFeed, log *slog.Logger) {
	c := newCluster(a.KMS, a.IAM, log)
	a.cluster = c
	a.Handler = c.gate(a.Handler)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = feed.WatchChanges(ctx, c)
	}()
	stop := a.stopJobs
	a.stopJobs = func() { cancel(); <-done; stop() }
}

func (c *cluster) now() int64 { return int64(time.Since(c.base)) }

// freshAtNow reports whether the node is known fresh within the bound at
// time now (of c.now).
func (c *cluster) freshAtNow(now int64) bool { return now-c.freshAt.Load() <= int64(FreshnessBound) }

// fresh is the node's readiness check "changes": whether it serves from
// its caches (false: it reads the store for every request, or fails).
func (c *cluster) fresh() bool { return c.freshAtNow(c.now()) }

// gate runs check before every request.
func (c *cluster) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.check()
		next.ServeHTTP(w, r)
	})
}

// check empties the caches if the node is not known to be fresh and they
// were not emptied within staleDropEvery. One atomic load and a clock
// reading while fresh.
func (c *cluster) check() {
	now := c.now()
	if c.freshAtNow(now) {
		return
	}
	last := c.dropped.Load()
	if now-last < int64(staleDropEvery) || !c.dropped.CompareAndSwap(last, now) {
		return
	}
	if !c.stale.Swap(true) {
		c.log.Warn("changes made through other nodes are not known to be seen: caches are not used until they are",
			"bound", FreshnessBound)
	}
	c.dropAll()
}

func (c *cluster) dropAll() {
	c.kms.ForgetAll()
	c.iam.Invalidate()
}

// Changed implements store.ChangeWatcher.
func (c *cluster) Changed(ch store.Change) {
	switch ch.Kind {
	case store.ChangeKey:
		c.kms.ForgetKey(ch.KeyID)
	case store.ChangeKeyAliases:
		c.kms.ForgetKeyAliases(ch.KeyID)
	case store.ChangeAlias:
		c.kms.ForgetAlias(ch.Account, ch.Region, ch.Name)
	case store.ChangeGrants:
		c.kms.ForgetGrants(ch.KeyID)
	case store.ChangeAuthz:
		c.iam.Invalidate()
	default:
		c.dropAll()
	}
}

// Fresh implements store.ChangeWatcher. A key made through another node is
// not announced (notify.go), so remembered absences go too: such a key is
// found within one confirmation.
func (c *cluster) Fresh(at time.Time) {
	t := int64(at.Sub(c.base))
	for {
		cur := c.freshAt.Load()
		if t <= cur || c.freshAt.CompareAndSwap(cur, t) {
			break
		}
	}
	c.kms.ForgetAbsent()
	if c.stale.Swap(false) {
		c.log.Info("changes made through other nodes are seen again: caches in use")
	}
}

// Trouble implements store.ChangeWatcher.
func (c *cluster) Trouble(err error) {
	c.log.Warn("change feed", "err", err)
}
