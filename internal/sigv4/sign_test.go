package sigv4

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSignMatchesSDK signs the same request at the same time with Sign and
// with aws-sdk-go-v2's signer and wants the same headers. The requests carry
// no Content-Length (ContentLength 0), which the SDK would also sign.
func TestSignMatchesSDK(t *testing.T) {
	tests := []struct {
		name, url string
		headers   map[string]string
		body      string
	}{
		{name: "kms request", url: "https://" + testHost + "/", body: testBody,
			headers: map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"}},
		{name: "loopback with port", url: "http://127.0.0.1:4599/", body: testBody,
			headers: map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Decrypt"}},
		{name: "default http port", url: "http://localhost:80/", body: testBody,
			headers: map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"}},
		{name: "default https port", url: "https://" + testHost + ":443", body: testBody,
			headers: map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"}},
		{name: "ipv6 default port", url: "http://[::1]:80/", body: testBody,
			headers: map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"}},
		{name: "ipv6", url: "http://[::1]:8080/", body: testBody,
			headers: map[string]string{"X-Amz-Target": "TrentService.Encrypt"}},
		{name: "no target", url: "https://" + testHost + "/", body: "{}",
			headers: map[string]string{"Content-Type": "application/x-amz-json-1.1"}},
		{name: "bare", url: "https://" + testHost + "/", body: ""},
		{name: "spaces in values", url: "https://" + testHost + "/", body: testBody,
			headers: map[string]string{"Content-Type": "  application/x-amz-json-1.1   ", "X-Amz-Target": "TrentService.Encrypt"}},
		{name: "escaped path", url: "https://" + testHost + "/a%20b/c", body: testBody,
			headers: map[string]string{"Content-Type": "application/x-amz-json-1.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newReq := func() *http.Request {
				r, err := http.NewRequest(http.MethodPost, tt.url, nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range tt.headers {
					r.Header.Set(k, v)
				}
				return r
			}
			ours, sdk := newReq(), newReq()
			if err := Sign(ours, []byte(tt.body), testAKID, []byte(testSecret), testRegion, testService, t0.Add(123*time.Millisecond)); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, sdk, hashHex(tt.body), testService, testRegion, t0); err != nil {
				t.Fatalf("SignHTTP: %v", err)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date"} {
				if got, want := ours.Header.Get(h), sdk.Header.Get(h); got != want {
					t.Errorf("%s:\n Sign:    %s\n the SDK: %s", h, got, want)
				}
			}
			if ours.Host != sdk.Host {
				t.Errorf("Host = %q, the SDK sets %q", ours.Host, sdk.Host)
			}

			ours.Header.Set("User-Agent", "trent-test") // not signed
			if _, err := newVerifier(t0).Verify(ours, []byte(tt.body)); err != nil {
				t.Fatalf("Verify: %v\nAuthorization: %s", err, ours.Header.Get("Authorization"))
			}
			if _, err := newVerifier(t0).Verify(ours, []byte(tt.body+" ")); err == nil {
				t.Fatal("Verify accepted another body")
			}
		})
	}
}

// TestSignOverHTTP sends requests signed by Sign through a real client and
// server, with the Content-Length and User-Agent net/http adds, and verifies
// them on the server side; signing the same request again (as a load
// generator reusing a request would) must work too.
func TestSignOverHTTP(t *testing.T) {
	v := &Verifier{Region: testRegion, Service: testService, Lookup: newVerifier(t0).Lookup}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := v.Verify(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		io.WriteString(w, "{}")
	}))
	defer srv.Close()

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	for _, body := range []string{testBody, `{"KeyId":"alias/other"}`, ""} {
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
		if err := Sign(req, []byte(body), testAKID, []byte(testSecret), testRegion, testService, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("body %q: %s: %s", body, resp.Status, out)
		}
	}
}

// A changed secret must change the signature, though the signing key of the
// old one is cached for the same scope.
func TestSignSecretChange(t *testing.T) {
	sig := func(secret string) string {
		r := newRequest("Encrypt", testBody)
		r.Header.Del("User-Agent")
		if err := Sign(r, []byte(testBody), testAKID, []byte(secret), testRegion, testService, t0); err != nil {
			t.Fatal(err)
		}
		return r.Header.Get("Authorization")
	}
	a, b, a2 := sig("secret-one"), sig("secret-two"), sig("secret-one")
	if a == b {
		t.Fatal("two secrets gave the same signature")
	}
	if a != a2 {
		t.Fatalf("the same secret signed twice gave\n%s\n%s", a, a2)
	}
}

func TestSignRejects(t *testing.T) {
	good := func() *http.Request { return newRequest("Encrypt", testBody) }
	tests := []struct {
		name                 string
		req                  *http.Request
		akid, secret, region string
		service              string
	}{
		{"no request", nil, testAKID, testSecret, testRegion, testService},
		{"no access key id", good(), "", testSecret, testRegion, testService},
		{"no secret", good(), testAKID, "", testRegion, testService},
		{"no region", good(), testAKID, testSecret, "", testService},
		{"no service", good(), testAKID, testSecret, testRegion, ""},
		{"slash in access key id", good(), "AKID/X", testSecret, testRegion, testService},
		{"comma in region", good(), testAKID, testSecret, "us-east-1,x", testService},
		{"no host", &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/"}, Header: http.Header{}}, testAKID, testSecret, testRegion, testService},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Sign(tt.req, nil, tt.akid, []byte(tt.secret), tt.region, tt.service, t0); err == nil {
				t.Fatal("Sign succeeded")
			}
		})
	}
}

func TestSignAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	r, body := newRequest("Encrypt", testBody), []byte(testBody)
	secret := []byte(testSecret)
	if err := Sign(r, body, testAKID, secret, testRegion, testService, t0); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := Sign(r, body, testAKID, secret, testRegion, testService, t0); err != nil {
			t.Fatal(err)
		}
	})
	// The two header values and their []string: what setting them costs.
	if allocs > 4 {
		t.Errorf("Sign allocates %v times per request, want at most 4", allocs)
	}
}

func BenchmarkSign(b *testing.B) {
	r, body := newRequest("Encrypt", testBody), []byte(testBody)
	secret := []byte(testSecret)
	b.ReportAllocs()
	for b.Loop() {
		if err := Sign(r, body, testAKID, secret, testRegion, testService, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignSDK(b *testing.B) {
	r := newRequest("Encrypt", testBody)
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	s := v4.NewSigner()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.SignHTTP(context.Background(), creds, r, hashHex(testBody), testService, testRegion, t0); err != nil {
			b.Fatal(err)
		}
	}
}
