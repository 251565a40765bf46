package throttle

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeNow is a clock tests move by hand.
type fakeNow struct{ ns atomic.Int64 }

func (f *fakeNow) now() int64              { return f.ns.Load() }
func (f *fakeNow) advance(d time.Duration) { f.ns.Add(int64(d)) }

func newLimiter(t testing.TB, rates map[Class]Rate) (*Limiter, *fakeNow) {
	t.Helper()
	clk := &fakeNow{}
	clk.ns.Store(int64(time.Hour)) // not zero: a new bucket must be full at any time
	l, err := New(Config{Rates: rates, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return l, clk
}

func allowed(l *Limiter, account, region string, c Class, n int) int {
	ok := 0
	for range n {
		if l.Allow(account, region, c) {
			ok++
		}
	}
	return ok
}

func TestBucketBurstAndRefill(t *testing.T) {
	l, clk := newLimiter(t, map[Class]Rate{Symmetric: {PerSecond: 10, Burst: 5}})
	if got := allowed(l, "111122223333", "us-east-1", Symmetric, 20); got != 5 {
		t.Fatalf("a full bucket of 5 let %d of 20 through", got)
	}
	if l.Throttled() != 15 {
		t.Fatalf("Throttled = %d, want 15", l.Throttled())
	}
	clk.advance(300 * time.Millisecond) // 3 tokens at 10/s
	if got := allowed(l, "111122223333", "us-east-1", Symmetric, 10); got != 3 {
		t.Fatalf("after 300 ms at 10/s: %d through, want 3", got)
	}
	clk.advance(time.Hour) // refills to the burst, never beyond
	if got := allowed(l, "111122223333", "us-east-1", Symmetric, 20); got != 5 {
		t.Fatalf("after an hour: %d through, want the burst of 5", got)
	}
}

func TestBucketsAreIndependent(t *testing.T) {
	l, _ := newLimiter(t, map[Class]Rate{Symmetric: {PerSecond: 2}, RSA: {PerSecond: 1}})
	allowed(l, "111122223333", "us-east-1", Symmetric, 10)
	for _, tc := range []struct {
		account, region string
		c               Class
		want            int
	}{
		{"111122223333", "us-east-1", Symmetric, 0}, // spent
		{"111122223333", "us-east-1", RSA, 1},       // another class
		{"444455556666", "us-east-1", Symmetric, 2}, // another account
		{"111122223333", "eu-west-1", Symmetric, 2}, // another region
	} {
		if got := allowed(l, tc.account, tc.region, tc.c, 10); got != tc.want {
			t.Errorf("%s %s %s: %d through, want %d", tc.account, tc.region, tc.c, got, tc.want)
		}
	}
}

func TestDefaultRates(t *testing.T) {
	for _, tc := range []struct {
		class  string
		region string
		want   float64
	}{
		{"symmetric", "us-east-1", 100_000},
		{"symmetric", "eu-central-1", 20_000},
		{"symmetric", "af-south-1", 10_000},
		{"rsa", "us-east-1", 1000},
		{"ecc", "us-east-1", 1000},
		{"ml-dsa", "us-east-1", 1000},
		{"GenerateDataKeyPair/RSA_4096", "us-east-1", 1},
		{"GenerateDataKeyPair/ECC_NIST_P256", "us-east-1", 100},
		{"DescribeKey", "us-east-1", 2000},
		{"CreateKey", "us-east-1", 5},
		{"TagResource", "us-east-1", 10},
		{"GetParametersForImport", "us-east-1", 1},
	} {
		c, ok := ClassByName(tc.class)
		if !ok {
			t.Fatalf("no class %q", tc.class)
		}
		if got := DefaultRate(c, tc.region); got != tc.want {
			t.Errorf("%s in %s: %v/s, want %v", tc.class, tc.region, got, tc.want)
		}
	}
	// A default bucket holds one second's worth: CreateKey (5/s) lets 5
	// through at once.
	l, _ := newLimiter(t, nil)
	if got := allowed(l, "111122223333", "us-east-1", byName["CreateKey"], 10); got != 5 {
		t.Errorf("CreateKey at the default rate: %d of 10 through at once, want 5", got)
	}
}

func TestClassOf(t *testing.T) {
	for spec, want := range map[string]Class{
		"SYMMETRIC_DEFAULT": Symmetric, "HMAC_256": Symmetric, "RSA_2048": RSA, "RSA_4096": RSA,
		"ECC_NIST_P256": ECC, "ECC_SECG_P256K1": ECC, "ECC_NIST_EDWARDS25519": ECC, "SM2": ECC,
		"ML_DSA_65": MLDSA,
	} {
		if got := ForKeySpec(spec); got != want {
			t.Errorf("ForKeySpec(%s) = %s, want %s", spec, got, want)
		}
	}
	for _, op := range []string{"Encrypt", "Decrypt", "ReEncrypt", "Sign", "Verify", "DeriveSharedSecret", "GenerateDataKeyPair"} {
		if c, ok := ForOperation(op); ok {
			t.Errorf("ForOperation(%s) = %s: its class depends on a key spec", op, c)
		}
	}
	if c, _ := ForOperation("GenerateMac"); c != Symmetric {
		t.Errorf("GenerateMac counts as %s, want symmetric", c)
	}
}

func TestOffAndOverrides(t *testing.T) {
	l, _ := newLimiter(t, map[Class]Rate{Symmetric: {Off: true}})
	if got := allowed(l, "111122223333", "us-east-1", Symmetric, 200_000); got != 200_000 {
		t.Fatalf("an off class throttled: %d through", got)
	}
	if _, err := New(Config{Rates: map[Class]Rate{RSA: {PerSecond: 0}}}); err == nil {
		t.Error("a zero rate was accepted")
	}
	if _, err := New(Config{Rates: map[Class]Rate{RSA: {PerSecond: 1, Burst: 0.5}}}); err == nil {
		t.Error("a burst below 1 (which lets nothing through) was accepted")
	}
}

func TestParseRates(t *testing.T) {
	got, err := ParseRates("symmetric=500:1000, rsa=50,GenerateDataKeyPair/RSA_4096=0.5,DescribeKey=off")
	if err != nil {
		t.Fatal(err)
	}
	want := map[Class]Rate{Symmetric: {PerSecond: 500, Burst: 1000}, RSA: {PerSecond: 50},
		byName["GenerateDataKeyPair/RSA_4096"]: {PerSecond: 0.5}, byName["DescribeKey"]: {Off: true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for in, msg := range map[string]string{
		"symmetric":         "is not CLASS=RATE",
		"nosuch=5":          `unknown class "nosuch"`,
		"rsa=0":             "rate",
		"rsa=-1":            "rate",
		"rsa=NaN":           "rate",
		"rsa=Inf":           "rate",
		"rsa=5:0.5":         "below 1",
		"rsa=5:x":           "burst",
		"rsa=1,rsa=2":       "twice",
		"symmetric=1e10":    "at most",
		"DescribeKey=off:3": "rate",
	} {
		if _, err := ParseRates(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRates(%q) = %v, want an error containing %q", in, err, msg)
		}
	}
	if got, err := ParseRates(""); err != nil || len(got) != 0 {
		t.Errorf(`ParseRates("") = %v, %v`, got, err)
	}
}

// TestIdleEntriesDropped: any region name is served, so the buckets of
// (account, region) pairs nobody uses any more must not pile up.
func TestIdleEntriesDropped(t *testing.T) {
	l, clk := newLimiter(t, nil)
	for i := range 10_000 {
		l.Allow("111122223333", fmt.Sprintf("xx-test-%d", i), Symmetric)
		if i%1000 == 999 {
			clk.advance(2 * time.Second) // every bucket so far is full again
		}
	}
	n := 0
	for i := range l.shards {
		n += len(l.shards[i].m)
	}
	if n > 4000 {
		t.Fatalf("%d entries kept for 10,000 regions used once each", n)
	}
}

// TestConcurrentAllowExact: under contention every token is handed out
// once: exactly the burst passes, however the goroutines interleave.
func TestConcurrentAllowExact(t *testing.T) {
	l, _ := newLimiter(t, map[Class]Rate{Symmetric: {PerSecond: 1, Burst: 1000}})
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok.Add(int64(allowed(l, "111122223333", "us-east-1", Symmetric, 500)))
		}()
	}
	wg.Wait()
	if ok.Load() != 1000 {
		t.Fatalf("%d of 4000 through a bucket of 1000 that does not refill", ok.Load())
	}
}

func BenchmarkAllow(b *testing.B) {
	l, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("111122223333", "us-east-1", Symmetric)
		}
	})
}

func FuzzParseRates(f *testing.F) {
	for _, s := range []string{"", "symmetric=5", "symmetric=500:1000,rsa=50", "DescribeKey=off", "GenerateDataKeyPair/RSA_4096=0.5", "x=", "=,=", "rsa=1e309"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rates, err := ParseRates(s)
		if err != nil {
			return
		}
		// Whatever parses must make a limiter.
		if _, err := New(Config{Rates: rates}); err != nil {
			t.Fatalf("ParseRates(%q) accepted what New refuses: %v", s, err)
		}
	})
}
