package benchload

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/testenv"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var all []int64
	for range 100000 {
		// Latencies from 10 ns to about 1 s, spread over many octaves.
		v := int64(float64(int64(10)<<rng.IntN(27)) * (1 + rng.Float64()))
		all = append(all, v)
		h.record(time.Duration(v))
	}
	slices.Sort(all)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := all[max(0, int(q*float64(len(all))+0.5)-1)]
		got := int64(h.quantile(q))
		if diff := float64(got-want) / float64(want); diff < -0.02 || diff > 0.02 {
			t.Errorf("quantile(%v) = %d, want %d within 2%%", q, got, want)
		}
	}
	for _, v := range []int64{-5, 0, 1, 63, 64, 65, 127, 128, 1 << 50} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Errorf("bucketOf(%d) = %d, out of range", v, i)
		}
	}
}

func TestRefusesRemoteEndpoints(t *testing.T) {
	for _, ep := range []string{
		"http://192.0.2.1:8080",     // TEST-NET-1
		"http://[2001:db8::1]:8080", // documentation prefix
		"http://10.0.0.1",
	} {
		_, err := Run(context.Background(), Target{Endpoint: ep, AccessKeyID: "AKID", Secret: []byte("s"), Region: "us-east-1"},
			Load{Op: "Encrypt", Duration: time.Second})
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Run(%s) = %v, want a refusal", ep, err)
		}
	}
	for _, ep := range []string{"https://127.0.0.1:8443", "http://127.0.0.1:8080/path", "127.0.0.1:8080", "http://u:p@127.0.0.1:1"} {
		if _, err := resolve(context.Background(), Target{Endpoint: ep}); err == nil {
			t.Errorf("resolve(%s) succeeded", ep)
		}
	}
	for _, ep := range []string{"http://127.0.0.1:8080", "http://[::1]:8080/", "http://127.1.2.3"} {
		if _, err := resolve(context.Background(), Target{Endpoint: ep}); err != nil {
			t.Errorf("resolve(%s): %v", ep, err)
		}
	}
}

func TestRunAgainstTrent(t *testing.T) {
	e := testenv.Start(t)
	tgt := Target{Endpoint: e.URL, AccessKeyID: e.AccessKeyID, Secret: []byte(e.Secret), Region: e.Region}
	ctx := context.Background()
	keyID, err := CreateKey(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range Ops {
		t.Run(op, func(t *testing.T) {
			body, err := Body(ctx, tgt, op, keyID)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(ctx, tgt, Load{Op: op, Body: body, Connections: 4, Duration: time.Minute, MaxRequests: 300})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 300 || res.Errors != 0 {
				t.Fatalf("%d requests, %d errors (%s); want 300 and 0", res.Requests, res.Errors, res.FirstError)
			}
			if res.P50 <= 0 || res.P99 < res.P50 || res.Rate() <= 0 {
				t.Fatalf("implausible result %+v", res)
			}
		})
	}

	// Wrong credentials: every request fails and says why.
	bad := tgt
	bad.Secret = []byte("not the secret")
	body, _ := Body(ctx, tgt, "Encrypt", keyID)
	res, err := Run(ctx, bad, Load{Op: "Encrypt", Body: body, Connections: 2, Duration: time.Minute, MaxRequests: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Errors != 10 || !strings.Contains(res.FirstError, "InvalidSignatureException") {
		t.Fatalf("with a wrong secret: %+v", res)
	}
	if _, err := Call(ctx, bad, "ListKeys", []byte("{}")); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("Call with a wrong secret = %v", err)
	}
}

// A server that closes the connection after some answers must cost a
// reconnect, not errors; one that stops answering must not hold Run beyond
// its duration.
func TestRunReconnectsAndStopsOnTime(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1)%7 == 0 {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	tgt := Target{Endpoint: srv.URL, AccessKeyID: "AKIDEXAMPLE", Secret: []byte("secret"), Region: "us-east-1"}
	res, err := Run(context.Background(), tgt, Load{Op: "Encrypt", Body: []byte("{}"), Connections: 3, Duration: time.Minute, MaxRequests: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || res.Errors != 0 {
		t.Fatalf("%+v; want 200 requests and no errors", res)
	}

	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer stuck.Close()
	defer close(release)
	tgt.Endpoint = stuck.URL
	begin := time.Now()
	res, err = Run(context.Background(), tgt, Load{Op: "Encrypt", Body: []byte("{}"), Connections: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Errors != 0 {
		t.Fatalf("against a server that never answers: %+v", res)
	}
	// Not a timing assertion: a run that ignored its duration would hang
	// until the test binary's timeout.
	t.Logf("stopped after %v", time.Since(begin))
}
