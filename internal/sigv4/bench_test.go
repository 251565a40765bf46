package sigv4

import (
	"net/http"
	"strconv"
	"testing"
)

// benchRequest is a request as the SDK's KMS client sends it, signed by the
// SDK, with the headers its middleware adds.
func benchRequest(b *testing.B) (*http.Request, []byte) {
	body := `{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab","Plaintext":"SGVsbG8sIFdvcmxkIQ==","EncryptionContext":{"purpose":"bench"}}`
	r := newRequest("Encrypt", body)
	r.Header.Set("Amz-Sdk-Invocation-Id", "5b7a4c4e-3d6f-4d7e-9b55-7b0f3a1a2c9d")
	r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	sign(b, r, body, defaults())
	return r, []byte(body)
}

func BenchmarkVerify(b *testing.B) {
	r, body := benchRequest(b)
	v := newVerifier(t0)
	if _, err := v.Verify(r, body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	r, body := benchRequest(b)
	v := newVerifier(t0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(r, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyUncached derives the signing key on every request, which is
// what the cache saves.
func BenchmarkVerifyUncached(b *testing.B) {
	r, body := benchRequest(b)
	v := newVerifier(t0)
	b.ReportAllocs()
	for b.Loop() {
		v.keys.m = nil
		if _, err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBadSignature(b *testing.B) {
	r, body := benchRequest(b)
	h := r.Header.Get("Authorization")
	r.Header.Set("Authorization", h[:len(h)-4]+"0000")
	v := newVerifier(t0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body); err == nil {
			b.Fatal("verified")
		}
	}
}

func BenchmarkParseAuthorization(b *testing.B) {
	r, _ := benchRequest(b)
	h := r.Header.Get("Authorization")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}
