//go:build unix

package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/sigv4"
)

// shamirNode makes a 3-of-2 shamir installation and starts it, sealed,
// behind an HTTP server.
func shamirNode(t *testing.T) (*Node, *httptest.Server, *InitResult) {
	t.Helper()
	o := initCases[1].opts(newBase(t))
	res, err := initOnce(t, o)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(t.Context(), Config{DataDir: o.DataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	return n, srv, res
}

type reply struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// signed sends a SigV4-signed POST, as `trent seal` and the SDKs do.
func signed(t *testing.T, srv *httptest.Server, path, body string, header map[string]string, id, secret, service string) reply {
	t.Helper()
	r, err := trySigned(t.Context(), srv, path, body, header, id, secret, service)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// trySigned is signed for goroutines other than the test's, which must
// not call t.Fatal.
func trySigned(ctx context.Context, srv *httptest.Server, path, body string, header map[string]string, id, secret, service string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if err := sigv4.Sign(req, []byte(body), id, []byte(secret), "us-east-1", service, time.Now()); err != nil {
		return reply{}, err
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}, nil
}

func status(t *testing.T, r reply) (server.SealStatus, string) {
	t.Helper()
	var s struct {
		server.SealStatus
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		t.Fatalf("not a status (%d): %q", r.status, r.body)
	}
	return s.SealStatus, s.Error
}

var (
	listKeys = map[string]string{"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"}
	form     = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
)

// TestSealedNode drives a shamir node through the front: sealed answers,
// refused and accepted shares, unseal, the API, and seal.
func TestSealedNode(t *testing.T) {
	n, srv, res := shamirNode(t)

	// Sealed: alive, not ready, every API request 503 in its protocol.
	if r := do(t, srv, "GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("/healthz sealed = %d", r.status)
	}
	if r := do(t, srv, "GET", "/readyz", "", nil); r.status != 503 || strings.TrimSpace(r.body) != `{"ready":false,"checks":{"audit":false,"store":true,"unsealed":false}}` {
		t.Fatalf("/readyz sealed = %d %s", r.status, r.body)
	}
	r := signed(t, srv, "/", "{}", listKeys, res.AccessKeyID, res.SecretAccessKey, "kms")
	if r.status != 503 || r.header.Get("X-Amzn-ErrorType") != "ServiceUnavailableException" ||
		!strings.Contains(r.body, `"__type":"ServiceUnavailableException"`) || !strings.Contains(r.body, "sealed") {
		t.Fatalf("KMS request while sealed = %d %v %s", r.status, r.header, r.body)
	}
	for _, svc := range []string{"iam", "sts"} {
		r := signed(t, srv, "/", "Action=GetCallerIdentity&Version=2011-06-15", form, res.AccessKeyID, res.SecretAccessKey, svc)
		if r.status != 503 || !strings.Contains(r.body, "<Code>ServiceUnavailable</Code>") || !strings.Contains(r.body, "sealed") || r.header.Get("X-Amzn-Requestid") == "" {
			t.Fatalf("%s request while sealed = %d %s", svc, r.status, r.body)
		}
	}
	if r := do(t, srv, "GET", "/sys/status", "", nil); r.status != 200 {
		t.Fatalf("/sys/status = %d", r.status)
	} else {
		var m map[string]any
		json.Unmarshal([]byte(r.body), &m)
		if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, []string{"fips140", "progress", "seal_type", "sealed", "threshold", "version"}) {
			t.Fatalf("/sys/status keys %v", keys)
		}
		if st, _ := status(t, r); !st.Sealed || st.Progress != 0 || st.Threshold != 2 || st.SealType != "shamir" || st.Version == "" {
			t.Fatalf("/sys/status = %+v", st)
		}
	}

	// Malformed requests to /sys/unseal: refused, never echoed.
	share := res.UnsealShares[0]
	for _, tt := range []struct {
		name, method, body string
		want               int
	}{
		{"GET", "GET", "", 405},
		{"too large", "POST", `{"share":"` + strings.Repeat("a", 5000) + `"}`, 413},
		{"not JSON", "POST", share, 400},
		{"unknown member", "POST", `{"shares":"` + share + `"}`, 400},
		{"share and reset", "POST", `{"share":"` + share + `","reset":true}`, 400},
		{"two objects", "POST", `{"share":"` + share + `"}{"reset":true}`, 400},
		{"empty", "POST", "", 400},
		{"a number", "POST", `{"share":1}`, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, "/sys/unseal", tt.body, nil)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if strings.Contains(r.body, share[10:40]) {
				t.Fatalf("the answer quotes the share: %s", r.body)
			}
		})
	}
	if r := do(t, srv, "GET", "/sys/other", "", nil); r.status != 404 {
		t.Fatalf("/sys/other = %d", r.status)
	}

	submit := func(s string) reply { return do(t, srv, "POST", "/sys/unseal", `{"share":"`+s+`"}`, nil) }
	if r := submit(share); r.status != 200 {
		t.Fatalf("share 1: %d %s", r.status, r.body)
	}
	corrupt := []byte(res.UnsealShares[1])
	corrupt[30] = map[bool]byte{true: '1', false: '0'}[corrupt[30] == '0']
	for _, tt := range []struct{ name, share, want string }{
		{"corrupt", string(corrupt), "corrupt share"},
		{"duplicate", share, "already submitted"},
		{"garbage", "x", "corrupt share"},
	} {
		r := submit(tt.share)
		st, msg := status(t, r)
		if r.status != 400 || !strings.Contains(msg, tt.want) || st.Progress != 1 || !st.Sealed {
			t.Fatalf("%s share: %d %+v %q; want 400, %q, progress 1", tt.name, r.status, st, msg, tt.want)
		}
	}
	if n.App() != nil {
		t.Fatal("unsealed by refused shares")
	}
	r = submit(res.UnsealShares[2])
	if st, _ := status(t, r); r.status != 200 || st.Sealed {
		t.Fatalf("share 3 of threshold 2: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("/readyz unsealed = %d %s", r.status, r.body)
	}
	if r := signed(t, srv, "/", "{}", listKeys, res.AccessKeyID, res.SecretAccessKey, "kms"); r.status != 200 {
		t.Fatalf("ListKeys unsealed = %d %s", r.status, r.body)
	}
	if r := submit(res.UnsealShares[1]); r.status != 409 {
		t.Fatalf("a share while unsealed = %d %s", r.status, r.body)
	}

	// Seal: only the first account's root, signed.
	other, otherID, otherSecret, err := n.App().IAM.CreateAccount(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, srv, "POST", "/sys/seal", "{}", nil); r.status/100 != 4 {
		t.Fatalf("unsigned seal = %d %s", r.status, r.body)
	}
	if r := signed(t, srv, "/sys/seal", "{}", nil, res.AccessKeyID, "wrong-secret-wrong-secret", "kms"); r.status/100 != 4 || n.App() == nil {
		t.Fatalf("seal with a wrong secret = %d %s", r.status, r.body)
	}
	if r := signed(t, srv, "/sys/seal", "{}", nil, otherID, otherSecret, "kms"); r.status != 403 || !strings.Contains(r.body, other) || n.App() == nil {
		t.Fatalf("seal by another account's root = %d %s", r.status, r.body)
	}
	a := n.App()
	r = signed(t, srv, "/sys/seal", "{}", nil, res.AccessKeyID, res.SecretAccessKey, "kms")
	if st, _ := status(t, r); r.status != 200 || !st.Sealed || n.App() != nil {
		t.Fatalf("seal by the root = %d %s", r.status, r.body)
	}
	if _, err := a.root.Wrap([]byte("x"), nil); !errors.Is(err, seal.ErrDestroyed) {
		t.Fatalf("the root key survived the seal: %v", err)
	}
	if r := signed(t, srv, "/", "{}", listKeys, res.AccessKeyID, res.SecretAccessKey, "kms"); r.status != 503 {
		t.Fatalf("ListKeys after seal = %d %s", r.status, r.body)
	}
	if r := do(t, srv, "POST", "/sys/seal", "{}", nil); r.status != 200 {
		t.Fatalf("seal while sealed = %d %s", r.status, r.body)
	}

	// Reset drops what was submitted; the same shares then unseal again.
	submit(res.UnsealShares[0])
	if r := do(t, srv, "POST", "/sys/unseal", `{"reset":true}`, nil); r.status != 200 {
		t.Fatalf("reset = %d", r.status)
	} else if st, _ := status(t, r); st.Progress != 0 {
		t.Fatalf("progress after reset = %d", st.Progress)
	}
	submit(res.UnsealShares[0])
	if r := submit(res.UnsealShares[1]); r.status != 200 || n.App() == nil {
		t.Fatalf("unseal after seal and reset = %d %s", r.status, r.body)
	}
}

// TestSealWaitsForRequests: a request in flight keeps its App — root key
// included — until it ends; new requests meanwhile see the node sealed;
// then everything is dropped.
func TestSealWaitsForRequests(t *testing.T) {
	n, _, res := shamirNode(t)
	for _, s := range res.UnsealShares[:2] {
		if _, err := n.SubmitShare(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	a := n.App()
	_, release, ok := n.Acquire()
	if !ok {
		t.Fatal("Acquire on an unsealed node failed")
	}
	done := make(chan struct{})
	go func() {
		n.mu.Lock()
		n.sealLocked()
		n.mu.Unlock()
		close(done)
	}()
	for n.App() != nil {
		runtime.Gosched()
	}
	if _, _, ok := n.Acquire(); ok {
		t.Fatal("a new request was admitted while sealing")
	}
	if _, err := a.root.Wrap([]byte("x"), nil); err != nil {
		t.Fatalf("the root key went while a request still ran: %v", err)
	}
	select {
	case <-done:
		t.Fatal("seal finished before the request did")
	default:
	}
	release()
	<-done
	if _, err := a.root.Wrap([]byte("x"), nil); !errors.Is(err, seal.ErrDestroyed) {
		t.Fatalf("root key after seal: %v", err)
	}
}

// TestKeyFileNodeSeal: a key-file installation starts unsealed, can be
// sealed, and then says that only a restart unseals it.
func TestKeyFileNodeSeal(t *testing.T) {
	o := initCases[0].opts(newBase(t))
	if _, err := initOnce(t, o); err != nil {
		t.Fatal(err)
	}
	n, err := Start(t.Context(), Config{DataDir: o.DataDir, SealKeyFile: o.SealKeyFile, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if st := n.Status(); st.Sealed || st.SealType != "keyfile" || st.Threshold != 0 {
		t.Fatalf("status %+v", st)
	}
	n.mu.Lock()
	n.sealLocked()
	n.mu.Unlock()
	_, err = n.SubmitShare(t.Context(), "01")
	if !errors.Is(err, server.ErrConflict) || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("SubmitShare to a sealed key-file node = %v", err)
	}
	if !n.Status().Sealed {
		t.Fatal("not sealed")
	}
}

// TestStartRefusesMismatchedSealFlags: a shamir installation refuses
// --seal-key-file; a key-file one demands it; Open refuses a shamir one.
func TestStartRefusesMismatchedSealFlags(t *testing.T) {
	so := initCases[1].opts(newBase(t))
	if _, err := initOnce(t, so); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(t.Context(), Config{DataDir: so.DataDir, SealKeyFile: "/etc/trent/seal.key"}); err == nil || !strings.Contains(err.Error(), "does not apply") {
		t.Fatalf("shamir with --seal-key-file: %v", err)
	}
	if _, err := Open(t.Context(), Config{DataDir: so.DataDir}); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("Open of a shamir installation: %v", err)
	}
	ko := initCases[0].opts(newBase(t))
	if _, err := initOnce(t, ko); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(t.Context(), Config{DataDir: ko.DataDir}); err == nil || !strings.Contains(err.Error(), "--seal-key-file") {
		t.Fatalf("keyfile without --seal-key-file: %v", err)
	}
	pin := filepath.Join(t.TempDir(), "pin")
	for _, cfg := range []Config{{DataDir: so.DataDir}, {DataDir: ko.DataDir, SealKeyFile: ko.SealKeyFile}} {
		cfg.PKCS11PINFile = pin
		if _, err := Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "--pkcs11-pin-file does not apply") {
			t.Fatalf("%s with --pkcs11-pin-file: %v", cfg.DataDir, err)
		}
	}
}
