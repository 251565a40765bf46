package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/benchload"
	"github.com/trent-kms/trent/internal/testenv"
)

// benchConnections is the number of concurrent keep-alive connections, one
// client goroutine each, of every HTTP benchmark.
const benchConnections = 32

// noopHandler is the yardstick: net/http with nothing behind it. It reads
// the body and answers a small JSON document, verifying nothing.
func noopHandler() http.Handler {
	resp := []byte(`{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write(resp)
	})
}

// httpLoad is one thing BenchmarkHTTP measures: an operation, its request
// body, and the server it goes to.
type httpLoad struct {
	name   string
	target benchload.Target
	op     string
	body   []byte
}

// run sends n requests of l over benchConnections connections. Any failed
// request fails the benchmark.
func (l httpLoad) run(b *testing.B, n int64, d time.Duration) benchload.Result {
	b.Helper()
	res, err := benchload.Run(context.Background(), l.target, benchload.Load{
		Op: l.op, Body: l.body, Connections: benchConnections, Duration: d, MaxRequests: n,
	})
	if err != nil {
		b.Fatalf("%s: %v", l.name, err)
	}
	if res.Errors > 0 {
		b.Fatalf("%s: %d of %d requests failed; first: %s", l.name, res.Errors, res.Errors+res.Requests, res.FirstError)
	}
	return res
}

// BenchmarkHTTP measures Encrypt and Decrypt through the whole HTTP stack —
// loopback TCP, net/http, body read, SigV4 verification, JSON, the KMS
// service and its crypto — beside a do-nothing net/http handler loaded the
// same way in the same run: the same client (benchload, signing every
// request), the same signed request, 32 keep-alive connections.
//
// NoopHandler, Encrypt and Decrypt each send b.N requests and report req/s
// and latency percentiles; Encrypt and Decrypt also report their throughput
// as a fraction of NoopHandler's (vs_noop), measured earlier in the run.
// Interleaved sends b.N requests of each of the three in alternating rounds,
// so that load from elsewhere on the machine falls on all three alike, and
// reports the three rates and encrypt_ratio and decrypt_ratio.
//
//	go test -run '^$' -bench BenchmarkHTTP -benchtime 5s ./internal/e2e/
func BenchmarkHTTP(b *testing.B) {
	e := testenv.Start(b)
	noop := httptest.NewServer(noopHandler())
	b.Cleanup(noop.Close)

	ctx := context.Background()
	key, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("BenchmarkHTTP")})
	if err != nil {
		b.Fatal(err)
	}
	trent := benchload.Target{Endpoint: e.URL, AccessKeyID: e.AccessKeyID, Secret: []byte(e.Secret), Region: e.Region}
	keyID := aws.ToString(key.KeyMetadata.KeyId)
	encrypt, err := benchload.Body(ctx, trent, "Encrypt", keyID)
	if err != nil {
		b.Fatal(err)
	}
	decrypt, err := benchload.Body(ctx, trent, "Decrypt", keyID)
	if err != nil {
		b.Fatal(err)
	}
	noopTarget := trent
	noopTarget.Endpoint = noop.URL
	loads := []httpLoad{
		{"NoopHandler", noopTarget, "Encrypt", encrypt},
		{"Encrypt", trent, "Encrypt", encrypt},
		{"Decrypt", trent, "Decrypt", decrypt},
	}

	// A safety bound only: b.N requests end every run long before it.
	const bound = 10 * time.Minute
	var noopRate float64 // of NoopHandler's last (largest) run
	for _, l := range loads {
		b.Run(l.name, func(b *testing.B) {
			res := l.run(b, int64(b.N), bound)
			b.ReportMetric(res.Rate(), "req/s")
			b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
			if l.name == "NoopHandler" {
				noopRate = res.Rate()
				return
			}
			if noopRate == 0 { // NoopHandler was filtered out by -bench
				noopRate = loads[0].run(b, 0, time.Second).Rate()
			}
			b.ReportMetric(res.Rate()/noopRate, "vs_noop")
		})
	}

	b.Run("Interleaved", func(b *testing.B) {
		const round = 2000
		var requests [3]int64
		var elapsed [3]time.Duration
		for left := int64(b.N); left > 0; left -= round {
			n := min(left, round)
			for i, l := range loads {
				res := l.run(b, n, bound)
				requests[i] += res.Requests
				elapsed[i] += res.Elapsed
			}
		}
		var rate [3]float64
		for i := range rate {
			rate[i] = float64(requests[i]) / elapsed[i].Seconds()
		}
		b.ReportMetric(rate[0], "noop_req/s")
		b.ReportMetric(rate[1], "encrypt_req/s")
		b.ReportMetric(rate[2], "decrypt_req/s")
		b.ReportMetric(rate[1]/rate[0], "encrypt_ratio")
		b.ReportMetric(rate[2]/rate[0], "decrypt_ratio")
	})
}
