// Package metrics is Trent's Prometheus instrumentation: request counters
// and latency histograms that the server updates per request, and a
// collector that reads the installation's state (seal, keys, key cache,
// audit log) only when Prometheus scrapes. A Registry lives as long as the
// process, across seals and unseals.
//
// The per-request path touches pre-resolved children only: a lookup in a
// sync.Map keyed by (service, operation) and atomic adds. It never
// formats a label nor takes a lock after an operation's first request.
//
// Labels come from closed sets — Trent's operation names and AWS error
// codes, "unknown" for anything a client made up — so no client can
// grow the number of series.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OK is the outcome label of a request answered without error.
const OK = "ok"

// Registry holds Trent's metrics.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight atomic.Int64 // read by a GaugeFunc: Add is one atomic add, a Gauge's Inc a CAS loop
	ops      sync.Map     // opKey → *opMetrics
	src      atomic.Pointer[Sources]
	log      *slog.Logger
}

type opKey struct{ service, operation string }

// opMetrics are one operation's pre-resolved children.
type opMetrics struct {
	ok       prometheus.Counter
	duration prometheus.Observer
	errs     sync.Map // outcome → prometheus.Counter
}

// New returns a Registry with the request metrics, the state collector
// (reading what SetSources gives it) and Go's process and runtime
// metrics.
func New(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.Default()
	}
	r := &Registry{
		reg: prometheus.NewRegistry(),
		log: log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trent_requests_total",
			Help: "API requests answered, by service (kms, iam, sts, cloudtrail), operation and outcome (ok or the AWS error code).",
		}, []string{"service", "operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "trent_request_duration_seconds",
			Help: "Time from a request's arrival to its answer (audit write included), by service and operation.",
			// From a cached-key Encrypt (well under a millisecond) to an
			// RSA-4096 key generation or a stalled audit disk.
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"service", "operation"}),
	}
	inflight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "trent_requests_in_flight",
		Help: "API requests being served now.",
	}, func() float64 { return float64(r.inflight.Load()) })
	r.reg.MustRegister(r.requests, r.duration, inflight, &stateCollector{r: r},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the metrics in Prometheus's text format (or whatever
// the scraper negotiates).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(r.log.Handler(), slog.LevelWarn)})
}

// Gatherer is the registry, for tests that read metrics directly.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Start counts a request as in flight; Finish ends it.
func (r *Registry) Start() { r.inflight.Add(1) }

// Finish counts a request answered with outcome (OK or an AWS error code)
// after d, and ends its in-flight count.
func (r *Registry) Finish(service, operation, outcome string, d time.Duration) {
	r.inflight.Add(-1)
	k := opKey{service, operation}
	v, ok := r.ops.Load(k)
	if !ok {
		v, _ = r.ops.LoadOrStore(k, &opMetrics{
			ok:       r.requests.WithLabelValues(service, operation, OK),
			duration: r.duration.WithLabelValues(service, operation),
		})
	}
	m := v.(*opMetrics)
	m.duration.Observe(d.Seconds())
	if outcome == OK {
		m.ok.Inc()
		return
	}
	c, ok := m.errs.Load(outcome)
	if !ok {
		c, _ = m.errs.LoadOrStore(outcome, r.requests.WithLabelValues(service, operation, outcome))
	}
	c.(prometheus.Counter).Inc()
}

// Sources are where the state collector reads the installation's state
// at scrape time. Each may be nil; each returns ok false when it has
// nothing to say now (sealed: no key cache, no audit log).
type Sources struct {
	Sealed func() bool
	Keys   func(ctx context.Context) ([]KeyCount, error)
	Cache  func() (CacheStats, bool)
	Audit  func() (AuditStats, bool)
	// Backup is the scheduled backup's outcomes (serve --backup-to).
	Backup func() (HousekeepingStats, bool)
}

// KeyCount is the number of keys of one state and spec.
type KeyCount struct {
	State, Spec string
	Count       int64
}

// CacheStats are the key cache's counters of the current unsealed
// period.
type CacheStats struct {
	Hits, Misses, Evictions uint64
	Keys                    int
	Bytes                   int64
}

// AuditStats are the audit log's health and write latency.
type AuditStats struct {
	Healthy bool
	Events  uint64 // events recorded
	Queued  int64  // events waiting for the disk
	// The batch write latency histogram: Cumulative[i] writes took at
	// most Bounds[i] seconds.
	Writes     uint64
	WriteSum   time.Duration
	Bounds     []float64
	Cumulative []uint64
	// Housekeeping are the scheduled archive and prune tasks that run
	// here (serve --audit-archive-to, --audit-prune-older-than).
	Housekeeping []HousekeepingStats
}

// HousekeepingStats are one scheduled audit task's outcomes since the
// last unseal.
type HousekeepingStats struct {
	Task        string    // "archive" or "prune"
	LastSuccess time.Time // zero until its first success
	Failures    uint64
}

// SetSources gives the state collector its sources. Call it once the
// installation is open; until then only request metrics are served.
func (r *Registry) SetSources(s Sources) { r.src.Store(&s) }
