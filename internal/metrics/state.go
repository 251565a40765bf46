package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// keyCountTimeout bounds the store query of a scrape: a slow store makes
// the key counts absent from one scrape rather than hold the scraper.
const keyCountTimeout = 5 * time.Second

var (
	descSealed = prometheus.NewDesc("trent_sealed",
		"1 while Trent is sealed (no key can be used), 0 while unsealed.", nil, nil)
	descKeys = prometheus.NewDesc("trent_keys",
		"KMS keys of every account and region, by key state and key spec.", []string{"state", "spec"}, nil)
	descCacheHits = prometheus.NewDesc("trent_key_cache_hits_total",
		"Key lookups answered from the cache of unwrapped keys (since the last unseal).", nil, nil)
	descCacheMisses = prometheus.NewDesc("trent_key_cache_misses_total",
		"Key lookups the cache sent to the store (since the last unseal).", nil, nil)
	descCacheEvictions = prometheus.NewDesc("trent_key_cache_evictions_total",
		"Keys dropped from the cache for its bounds or idle expiry (since the last unseal).", nil, nil)
	descCacheKeys = prometheus.NewDesc("trent_key_cache_keys",
		"Keys held unwrapped in memory now.", nil, nil)
	descCacheBytes = prometheus.NewDesc("trent_key_cache_bytes",
		"Bytes of unwrapped key material held in memory now.", nil, nil)
	descAuditHealthy = prometheus.NewDesc("trent_audit_healthy",
		"1 while the audit log takes events; 0 while it fails (requests are refused) or is closed (sealed).", nil, nil)
	descAuditEvents = prometheus.NewDesc("trent_audit_events_total",
		"Audit events recorded (since the last unseal).", nil, nil)
	descAuditQueued = prometheus.NewDesc("trent_audit_queued_events",
		"Audit events waiting for the disk.", nil, nil)
	descAuditWrite = prometheus.NewDesc("trent_audit_write_seconds",
		"Time to write and fsync one batch of audit events (since the last unseal).", nil, nil)
	descHousekeepingSuccess = prometheus.NewDesc("trent_audit_housekeeping_last_success_timestamp_seconds",
		"When the scheduled audit task last succeeded (archive: --audit-archive-to; prune: --audit-prune-older-than, on the node running the jobs); absent until it has.", []string{"task"}, nil)
	descBackupSuccess = prometheus.NewDesc("trent_backup_last_success_timestamp_seconds",
		"When the scheduled backup of the store (--backup-to) last succeeded: at start, the time of the newest of this installation's backups there; absent while there is none.", nil, nil)
	descBackupFailures = prometheus.NewDesc("trent_backup_failures_total",
		"Scheduled backups of the store that failed, since the server started; each is logged and tried again at the next interval.", nil, nil)
	descHousekeepingFailures = prometheus.NewDesc("trent_audit_housekeeping_failures_total",
		"Runs of the scheduled audit task that failed (since the last unseal); each is logged and tried again at the next interval.", []string{"task"}, nil)
)

// stateCollector reads the installation's state at scrape time.
type stateCollector struct{ r *Registry }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSealed, descKeys, descCacheHits, descCacheMisses, descCacheEvictions,
		descCacheKeys, descCacheBytes, descAuditHealthy, descAuditEvents, descAuditQueued, descAuditWrite,
		descHousekeepingSuccess, descHousekeepingFailures, descBackupSuccess, descBackupFailures} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.src.Load()
	if s == nil {
		return
	}
	if s.Sealed != nil {
		v := 0.0
		if s.Sealed() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descSealed, prometheus.GaugeValue, v)
	}
	if s.Keys != nil {
		ctx, cancel := context.WithTimeout(context.Background(), keyCountTimeout)
		counts, err := s.Keys(ctx)
		cancel()
		if err != nil {
			c.r.log.Warn("metrics: key counts not read", "err", err)
		}
		for _, k := range counts {
			ch <- prometheus.MustNewConstMetric(descKeys, prometheus.GaugeValue, float64(k.Count), k.State, k.Spec)
		}
	}
	if s.Cache != nil {
		if cs, ok := s.Cache(); ok {
			ch <- prometheus.MustNewConstMetric(descCacheHits, prometheus.CounterValue, float64(cs.Hits))
			ch <- prometheus.MustNewConstMetric(descCacheMisses, prometheus.CounterValue, float64(cs.Misses))
			ch <- prometheus.MustNewConstMetric(descCacheEvictions, prometheus.CounterValue, float64(cs.Evictions))
			ch <- prometheus.MustNewConstMetric(descCacheKeys, prometheus.GaugeValue, float64(cs.Keys))
			ch <- prometheus.MustNewConstMetric(descCacheBytes, prometheus.GaugeValue, float64(cs.Bytes))
		}
	}
	if s.Backup != nil {
		if b, ok := s.Backup(); ok {
			if !b.LastSuccess.IsZero() {
				ch <- prometheus.MustNewConstMetric(descBackupSuccess, prometheus.GaugeValue, float64(b.LastSuccess.UnixNano())/1e9)
			}
			ch <- prometheus.MustNewConstMetric(descBackupFailures, prometheus.CounterValue, float64(b.Failures))
		}
	}
	if s.Audit != nil {
		as, ok := s.Audit()
		healthy := 0.0
		if ok && as.Healthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(descAuditHealthy, prometheus.GaugeValue, healthy)
		if ok {
			ch <- prometheus.MustNewConstMetric(descAuditEvents, prometheus.CounterValue, float64(as.Events))
			ch <- prometheus.MustNewConstMetric(descAuditQueued, prometheus.GaugeValue, float64(as.Queued))
			buckets := make(map[float64]uint64, len(as.Bounds))
			for i, b := range as.Bounds {
				buckets[b] = as.Cumulative[i]
			}
			ch <- prometheus.MustNewConstHistogram(descAuditWrite, as.Writes, as.WriteSum.Seconds(), buckets)
			for _, h := range as.Housekeeping {
				if !h.LastSuccess.IsZero() {
					ch <- prometheus.MustNewConstMetric(descHousekeepingSuccess, prometheus.GaugeValue,
						float64(h.LastSuccess.UnixNano())/1e9, h.Task)
				}
				ch <- prometheus.MustNewConstMetric(descHousekeepingFailures, prometheus.CounterValue, float64(h.Failures), h.Task)
			}
		}
	}
}
