package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// BenchmarkServe runs the scenarios of ../shared/perf/ratio.sh (the same
// bodies: 256 B plaintext, a two-pair encryption context, …) through
// Trent's whole handler — front, SigV4, dispatch, JSON, authorization,
// crypto, audit, encoding — in the benchmark's goroutine, with no socket
// and no net/http server in between. What it reports per operation,
// B/op, allocs/op and (under callgrind) instructions, is what Trent adds
// to a bare net/http handler, free of the loopback's and the scheduler's
// noise; "NoopHandler" is the bare handler of BenchmarkHTTP on the same
// request, for scale.
//
// With durable audit on (the default) every request waits for an fsync;
// build with -tags trent_noaudit to measure the rest:
//
//	go test -run '^$' -bench BenchmarkServe -benchmem -tags trent_noaudit ./internal/e2e/
func BenchmarkServe(b *testing.B) {
	e := testenv.Start(b)
	ctx := context.Background()
	create := func(spec types.KeySpec, usage types.KeyUsageType) string {
		k, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Description: aws.String("BenchmarkServe")})
		if err != nil {
			b.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.KeyId)
	}
	sym := create(types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	ecc := create(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	mac := create(types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	ec := map[string]string{"tenant-id": "acme-corp-7f3c9a", "purpose": "customer-pii/billing-address"}
	pt := perfBytes("perf/plaintext", 256)
	enc, err := e.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: &sym, Plaintext: bytes.Clone(pt), EncryptionContext: ec})
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("perf/sign/message: order #1234567 approved for 99.95 USD"))
	b64 := base64.StdEncoding.EncodeToString
	loads := []struct {
		name, op string
		body     map[string]any
		noop     bool
	}{
		{"NoopHandler", "Encrypt", map[string]any{"KeyId": sym, "Plaintext": b64(pt), "EncryptionContext": ec}, true},
		{"Encrypt", "Encrypt", map[string]any{"KeyId": sym, "Plaintext": b64(pt), "EncryptionContext": ec}, false},
		{"Decrypt", "Decrypt", map[string]any{"CiphertextBlob": enc.CiphertextBlob, "EncryptionContext": ec, "KeyId": sym}, false},
		{"GenerateDataKey", "GenerateDataKey", map[string]any{"KeyId": sym, "KeySpec": "AES_256", "EncryptionContext": ec}, false},
		{"DescribeKey", "DescribeKey", map[string]any{"KeyId": sym}, false},
		{"SignECCP256", "Sign", map[string]any{"KeyId": ecc, "Message": digest[:], "MessageType": "DIGEST", "SigningAlgorithm": "ECDSA_SHA_256"}, false},
		{"GenerateMac", "GenerateMac", map[string]any{"KeyId": mac, "Message": b64(perfBytes("perf/mac-message", 256)), "MacAlgorithm": "HMAC_SHA_256"}, false},
	}
	for _, l := range loads {
		body, err := json.Marshal(l.body)
		if err != nil {
			b.Fatal(err)
		}
		var h http.Handler = e.App.Handler
		if l.noop {
			h = noopHandler()
		}
		b.Run(l.name, func(b *testing.B) {
			req := newReplayRequest(b, e, l.op, body)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				if status := serveOnce(h, w, req); status != http.StatusOK {
					b.Fatalf("%s: status %d", l.name, status)
				}
			}
		})
	}
}

// serveOnce sends req to h once and returns the status answered. It is
// its own function so that callgrind can count it alone
// (--toggle-collect='*e2e.serveOnce').
//
//go:noinline
func serveOnce(h http.Handler, w *discardWriter, req *replayRequest) int {
	req.replay()
	clear(w.h)
	w.status = 0
	h.ServeHTTP(w, req.r)
	return w.status
}

// replayRequest is one signed request sent again and again: SigV4 has no
// nonce, so its signature stays good for the five minutes of allowed skew.
type replayRequest struct {
	r    *http.Request
	body replayBody
	raw  []byte
}

type replayBody struct{ bytes.Reader }

func (*replayBody) Close() error { return nil }

func newReplayRequest(b *testing.B, e *testenv.Env, op string, body []byte) *replayRequest {
	r, err := http.NewRequest(http.MethodPost, e.URL+"/", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService."+op)
	e.Sign(b, r, body, time.Now())
	r.RemoteAddr = "127.0.0.1:40000"
	r.RequestURI = "/"
	rr := &replayRequest{r: r, raw: body}
	r.Body = &rr.body
	return rr
}

// replay rewinds the body.
func (rr *replayRequest) replay() {
	rr.body.Reset(rr.raw)
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

// perfBytes is ../shared/perf's deterministic pseudo-random bytes (SHA-256
// in counter mode over a label), so the bodies are the scenarios' own.
func perfBytes(label string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	for i := 0; len(out) < n; i++ {
		s := sha256.Sum256([]byte(label + "/" + strconv.Itoa(i)))
		out = append(out, s[:]...)
	}
	return out[:n]
}
