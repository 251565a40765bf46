package metrics

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFinishCounts(t *testing.T) {
	r := New(nil)
	r.Start()
	r.Finish("kms", "Encrypt", OK, time.Millisecond)
	r.Start()
	r.Finish("kms", "Encrypt", "AccessDeniedException", 2*time.Millisecond)
	r.Start()
	r.Finish("kms", "Encrypt", OK, time.Millisecond)
	r.Start() // still in flight
	if got := testutil.ToFloat64(r.requests.WithLabelValues("kms", "Encrypt", OK)); got != 2 {
		t.Errorf("ok = %v, want 2", got)
	}
	if got := testutil.ToFloat64(r.requests.WithLabelValues("kms", "Encrypt", "AccessDeniedException")); got != 1 {
		t.Errorf("AccessDenied = %v, want 1", got)
	}
	if got := r.inflight.Load(); got != 1 {
		t.Errorf("in flight = %v, want 1", got)
	}
}

// TestStateCollector: the state is read at scrape time, and what a
// sealed installation lacks is left out rather than reported as zero.
func TestStateCollector(t *testing.T) {
	r := New(nil)
	sealed := true
	r.SetSources(Sources{
		Sealed: func() bool { return sealed },
		Keys: func(context.Context) ([]KeyCount, error) {
			return []KeyCount{{State: "Enabled", Spec: "RSA_2048", Count: 3}}, nil
		},
		Cache: func() (CacheStats, bool) { return CacheStats{Hits: 5}, !sealed },
		Backup: func() (HousekeepingStats, bool) {
			return HousekeepingStats{Task: "backup", LastSuccess: time.Unix(1765000000, 0)}, true
		},
		Audit: func() (AuditStats, bool) {
			return AuditStats{Healthy: true, Writes: 2, WriteSum: time.Millisecond, Bounds: []float64{0.001}, Cumulative: []uint64{2},
				Housekeeping: []HousekeepingStats{{Task: "archive", LastSuccess: time.Unix(1765000000, 5e8), Failures: 1}, {Task: "prune"}}}, !sealed
		},
	})
	get := func() string {
		w := httptest.NewRecorder()
		r.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		return w.Body.String()
	}
	out := get()
	for _, want := range []string{"trent_sealed 1", `trent_keys{spec="RSA_2048",state="Enabled"} 3`, "trent_audit_healthy 0",
		"trent_backup_last_success_timestamp_seconds 1.765e+09", "trent_backup_failures_total 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("sealed: no %q", want)
		}
	}
	if strings.Contains(out, "trent_key_cache_hits_total") {
		t.Error("sealed: key cache reported")
	}
	sealed = false
	out = get()
	for _, want := range []string{"trent_sealed 0", "trent_key_cache_hits_total 5", "trent_audit_healthy 1", "trent_audit_write_seconds_count 2",
		`trent_audit_housekeeping_last_success_timestamp_seconds{task="archive"} 1.7650000005e+09`,
		`trent_audit_housekeeping_failures_total{task="archive"} 1`, `trent_audit_housekeeping_failures_total{task="prune"} 0`} {
		if !strings.Contains(out, want) {
			t.Errorf("unsealed: no %q", want)
		}
	}
	if strings.Contains(out, `trent_audit_housekeeping_last_success_timestamp_seconds{task="prune"}`) {
		t.Error("a task that never succeeded has a last success")
	}
}

func TestKeyCountError(t *testing.T) {
	r := New(nil)
	r.SetSources(Sources{Keys: func(context.Context) ([]KeyCount, error) { return nil, errors.New("store down") }})
	w := httptest.NewRecorder()
	r.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 || strings.Contains(w.Body.String(), "trent_keys{") {
		t.Errorf("a failed key count: %d, %s", w.Code, w.Body.String())
	}
}

// BenchmarkRequest is what metrics add to one request: Start and Finish
// of an operation seen before, from parallel goroutines.
func BenchmarkRequest(b *testing.B) {
	r := New(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Start()
			r.Finish("kms", "Encrypt", OK, 300*time.Microsecond)
		}
	})
}

// BenchmarkRequestSerial is BenchmarkRequest from one goroutine: the cost
// without contention on the shared counters.
func BenchmarkRequestSerial(b *testing.B) {
	r := New(nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Start()
		r.Finish("kms", "Encrypt", OK, 300*time.Microsecond)
	}
}
