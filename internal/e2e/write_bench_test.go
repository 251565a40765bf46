package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/benchload"
	"github.com/trent-kms/trent/internal/testenv"
)

// BenchmarkCreateKeyHTTP measures CreateKey through the whole HTTP stack
// with 16 concurrent clients, as issue 13's write target states it: every
// key is durable (SQLite, synchronous=FULL, durable audit) before its
// answer. It reports keys/s and latency percentiles.
//
//	go test -run '^$' -bench BenchmarkCreateKeyHTTP -benchtime 20000x ./internal/e2e/
func BenchmarkCreateKeyHTTP(b *testing.B) {
	e := testenv.Start(b)
	t := benchload.Target{Endpoint: e.URL, AccessKeyID: e.AccessKeyID, Secret: []byte(e.Secret), Region: e.Region}
	body, err := benchload.Body(context.Background(), t, "CreateKey", "")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := benchload.Run(context.Background(), t, benchload.Load{
		Op: "CreateKey", Body: body, Connections: 16, Duration: 10 * time.Minute, MaxRequests: int64(b.N),
	})
	if err != nil {
		b.Fatal(err)
	}
	if res.Errors > 0 {
		b.Fatalf("%d of %d requests failed; first: %s", res.Errors, res.Errors+res.Requests, res.FirstError)
	}
	b.ReportMetric(res.Rate(), "keys/s")
	b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
}
