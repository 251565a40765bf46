package kms

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/throttle"
)

// TestEveryRowHasAQuota: a row added to the table without a request quota
// would never be throttled.
func TestEveryRowHasAQuota(t *testing.T) {
	for name, op := range operations {
		if op.invoke == nil {
			continue // not implemented: answers UnsupportedOperationException, touches nothing
		}
		if op.quota.by == quotaNone {
			t.Errorf("%s counts against no request quota (internal/throttle classes.go)", name)
		}
	}
}

// charges records what a Service's Throttle hook was asked, and refuses
// the classes in deny.
type charges struct {
	mu   sync.Mutex
	got  []string
	deny map[throttle.Class]bool
}

func (c *charges) allow(account, region string, cl throttle.Class) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, account+" "+region+" "+cl.String())
	return !c.deny[cl]
}

func (c *charges) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.got
	c.got = nil
	return g
}

func newThrottledNode(t *testing.T, c *charges) *testNode {
	t.Helper()
	db, root := newTestStore(t) // service_test.go
	s, err := New(Config{Store: db, Root: root, Clock: clock.NewFake(time.Now()), Logger: slog.New(slog.DiscardHandler), Throttle: c.allow})
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{Service: s, db: db, root: root}
}

// TestThrottleClasses: each request is charged once, to its caller's
// account and its region, in the class AWS counts it against — for the
// cryptographic operations, the class of the key's spec.
func TestThrottleClasses(t *testing.T) {
	c := &charges{}
	n := newThrottledNode(t, c)
	ctx := t.Context()
	newKey := func(spec, usage string) string {
		t.Helper()
		out, err := n.run(ctx, "CreateKey", &awsproto.CreateKeyInput{KeySpec: &spec, KeyUsage: &usage})
		if err != nil {
			t.Fatalf("CreateKey %s: %v", spec, err)
		}
		return out.(*awsproto.KeyMetadataOutput).KeyMetadata.KeyId
	}
	sym := newKey("SYMMETRIC_DEFAULT", UsageEncryptDecrypt)
	rsa := newKey("RSA_2048", UsageEncryptDecrypt)
	ecc := newKey("ECC_NIST_P256", UsageSignVerify)
	mldsa := newKey("ML_DSA_44", UsageSignVerify)
	hmac := newKey("HMAC_256", UsageGenerateVerifyMac)
	c.take()
	s := func(v string) *string { return &v }
	enc, err := n.run(ctx, "Encrypt", &awsproto.EncryptInput{KeyId: &rsa, Plaintext: []byte("x"), EncryptionAlgorithm: s("RSAES_OAEP_SHA_256")})
	if err != nil {
		t.Fatal(err)
	}
	rsaBlob := enc.(*awsproto.EncryptOutput).CiphertextBlob
	c.take()
	missing := "1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tc := range []struct {
		op   string
		in   any
		want string
	}{
		{"Encrypt", &awsproto.EncryptInput{KeyId: &sym, Plaintext: []byte("x")}, "symmetric"},
		{"Encrypt", &awsproto.EncryptInput{KeyId: &rsa, Plaintext: []byte("x"), EncryptionAlgorithm: s("RSAES_OAEP_SHA_256")}, "rsa"},
		{"Decrypt", &awsproto.DecryptInput{KeyId: &rsa, CiphertextBlob: rsaBlob, EncryptionAlgorithm: s("RSAES_OAEP_SHA_256")}, "rsa"},
		{"ReEncrypt", &awsproto.ReEncryptInput{SourceKeyId: &rsa, CiphertextBlob: rsaBlob, SourceEncryptionAlgorithm: s("RSAES_OAEP_SHA_256"), DestinationKeyId: &sym}, "rsa"},
		{"Sign", &awsproto.SignInput{KeyId: &ecc, Message: []byte("m"), SigningAlgorithm: s("ECDSA_SHA_256")}, "ecc"},
		{"Sign", &awsproto.SignInput{KeyId: &mldsa, Message: []byte("m"), SigningAlgorithm: s("ML_DSA_SHAKE_256")}, "ml-dsa"},
		{"GenerateMac", &awsproto.GenerateMacInput{KeyId: &hmac, Message: []byte("m"), MacAlgorithm: s("HMAC_SHA_256")}, "symmetric"},
		{"GenerateDataKeyPair", &awsproto.GenerateDataKeyPairInput{GenerateDataKeyPairWithoutPlaintextInput: awsproto.GenerateDataKeyPairWithoutPlaintextInput{KeyId: &sym, KeyPairSpec: s("ECC_NIST_P384")}}, "GenerateDataKeyPair/ECC_NIST_P384"},
		{"GenerateDataKeyPairWithoutPlaintext", &awsproto.GenerateDataKeyPairWithoutPlaintextInput{KeyId: &sym, KeyPairSpec: s("RSA_2048")}, "GenerateDataKeyPair/RSA_2048"},
		{"GenerateRandom", &awsproto.GenerateRandomInput{NumberOfBytes: new(int32(8))}, "symmetric"},
		{"DescribeKey", &awsproto.DescribeKeyInput{KeyId: &rsa}, "DescribeKey"},
		{"ListKeys", &awsproto.ListInput{}, "ListKeys"},
		// Refused requests count too; one refused before its key was found
		// counts as symmetric.
		{"Encrypt", &awsproto.EncryptInput{KeyId: &missing, Plaintext: []byte("x")}, "symmetric"},
		{"Sign", &awsproto.SignInput{KeyId: &missing, Message: []byte("m"), SigningAlgorithm: s("ECDSA_SHA_256")}, "symmetric"},
	} {
		n.run(ctx, tc.op, tc.in)
		got := c.take()
		want := testAccount + " " + testRegion + " " + tc.want
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: charged %q, want [%q]", tc.op, got, want)
		}
	}
}

// TestThrottledRequestDoesNothing: a throttled request answers
// ThrottlingException with AWS's message before anything runs.
func TestThrottledRequestDoesNothing(t *testing.T) {
	create, _ := throttle.ForOperation("CreateKey")
	c := &charges{deny: map[throttle.Class]bool{create: true, throttle.Symmetric: true}}
	n := newThrottledNode(t, c)
	ctx := t.Context()
	_, err := n.run(ctx, "CreateKey", &awsproto.CreateKeyInput{})
	e := apierr.As(err)
	if e == nil || e.Code != apierr.Throttling || e.Message != throttle.Message {
		t.Fatalf("CreateKey over its quota: %v", err)
	}
	out, err := n.run(ctx, "ListKeys", &awsproto.ListInput{})
	if err != nil {
		t.Fatal(err)
	}
	if keys := out.(*awsproto.ListKeysOutput).Keys; len(keys) != 0 {
		t.Fatalf("a throttled CreateKey made %d keys", len(keys))
	}
	// Throttled even though the key does not exist: the answer does not
	// tell a throttled caller whether it does.
	missing := "1234abcd-12ab-34cd-56ef-1234567890ab"
	_, err = n.run(context.Background(), "Encrypt", &awsproto.EncryptInput{KeyId: &missing, Plaintext: []byte("x")})
	if !apierr.Is(err, apierr.Throttling) {
		t.Fatalf("Encrypt over the quota with a missing key: %v", err)
	}
}

// BenchmarkEncryptRowThrottled is BenchmarkEncryptRow with a real limiter
// in the hook (at a rate the benchmark never reaches), for the cost of
// throttling on the hot path.
func BenchmarkEncryptRowThrottled(b *testing.B) {
	n, in := benchEncrypt(b)
	l, err := throttle.New(throttle.Config{Rates: map[throttle.Class]throttle.Rate{throttle.Symmetric: {PerSecond: 1e9}}})
	if err != nil {
		b.Fatal(err)
	}
	n.throttle = l.Allow
	op, _ := Lookup("Encrypt")
	ctx := b.Context()
	pt := in.Plaintext
	b.ReportAllocs()
	for b.Loop() {
		in.Plaintext = bytes.Clone(pt)
		if _, err := op.invoke(ctx, n.Service, alice, in); err != nil {
			b.Fatal(err)
		}
	}
}
