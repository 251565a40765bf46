package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/testenv"
)

// wireEnv is a Trent server as cmd/trent serves it — the app's handler in
// server.HTTPServer, with its timeouts and header limit — for tests that
// speak raw HTTP to it. Every response it gets is checked for the
// invariants of all responses: a request id, and never a 5xx.
type wireEnv struct {
	*testenv.Env
	Addr string // host:port of the server
}

func startWire(t *testing.T) *wireEnv {
	t.Helper()
	env := testenv.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.HTTPServer(env.App.Handler, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	// Registered after testenv's cleanup, so it runs first: the HTTP
	// server stops before the store closes.
	t.Cleanup(func() { srv.Close() })
	// Point the environment, and so its SDK client, at this server.
	env.URL = "http://" + ln.Addr().String()
	env.KMS = env.Client(env.AccessKeyID, env.Secret)
	return &wireEnv{Env: env, Addr: ln.Addr().String()}
}

// newRequest returns a POST / for the operation ("" for no X-Amz-Target).
func (w *wireEnv) newRequest(t testing.TB, op string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.URL+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", awsproto.ContentType)
	if op != "" {
		req.Header.Set("X-Amz-Target", "TrentService."+op)
	}
	return req
}

// signWith signs req with any credentials, as the AWS SDK does.
func signWireWith(t testing.TB, req *http.Request, body []byte, id, secret, region string, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kms", region, at); err != nil {
		t.Fatalf("sign: %v", err)
	}
}

type wireResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and checks the invariants every response must meet.
func (w *wireEnv) do(t testing.TB, req *http.Request) wireResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	r := wireResponse{resp.StatusCode, resp.Header, body}
	checkWireInvariants(t, req, r)
	return r
}

func checkWireInvariants(t testing.TB, req *http.Request, r wireResponse) {
	t.Helper()
	if r.status >= 500 {
		t.Errorf("%s %s (%s): status %d, body %s: no input may cause a server error",
			req.Method, req.URL.Path, req.Header.Get("X-Amz-Target"), r.status, r.body)
	}
	if req.URL.Path != "/healthz" && r.header.Get("X-Amzn-Requestid") == "" {
		t.Errorf("%s %s (%s): no x-amzn-RequestId header (status %d)",
			req.Method, req.URL.Path, req.Header.Get("X-Amz-Target"), r.status)
	}
}

// post sends a signed (or unsigned) request for op.
func (w *wireEnv) post(t testing.TB, op string, body []byte, sign bool) wireResponse {
	t.Helper()
	req := w.newRequest(t, op, body)
	if sign {
		w.Sign(t, req, body, time.Now())
	}
	return w.do(t, req)
}

// wantError checks that r is an AWS JSON error of the given type and status
// and returns its message.
func wantWireError(t testing.TB, r wireResponse, status int, typ string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != awsproto.ContentType {
		t.Errorf("error Content-Type %q, want %q", ct, awsproto.ContentType)
	}
	var e struct {
		Type    string  `json:"__type"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if e.Type != typ {
		t.Fatalf("__type %q, want %q (body %s)", e.Type, typ, r.body)
	}
	if e.Message == nil {
		return ""
	}
	return *e.Message
}

func (w *wireEnv) keyCount(t testing.TB) int {
	t.Helper()
	out, err := w.KMS.ListKeys(t.Context(), &kms.ListKeysInput{Limit: aws.Int32(1000)})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	return len(out.Keys)
}

func (w *wireEnv) createKey(t testing.TB) string {
	t.Helper()
	out, err := w.KMS.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("wire")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return *out.KeyMetadata.KeyId
}

func TestWireUnknownOperation(t *testing.T) {
	w := startWire(t)
	for _, target := range []string{
		"TrentService.NoSuchOperation",
		"TrentService.encrypt",
		"TrentService.",
		"Encrypt",
		"OtherService.Encrypt",
	} {
		req := w.newRequest(t, "", []byte("{}"))
		req.Header.Set("X-Amz-Target", target)
		w.Sign(t, req, []byte("{}"), time.Now())
		wantWireError(t, w.do(t, req), 400, "UnknownOperationException")
	}
	// No X-Amz-Target at all.
	wantWireError(t, w.post(t, "", []byte("{}"), true), 400, "UnknownOperationException")
}

func TestWireUnsupportedOperation(t *testing.T) {
	w := startWire(t)
	for _, op := range []string{"CreateCustomKeyStore", "ConnectCustomKeyStore", "DeleteCustomKeyStore"} {
		msg := wantWireError(t, w.post(t, op, []byte("{}"), true), 400, "UnsupportedOperationException")
		if !strings.Contains(msg, op) {
			t.Errorf("%s: message %q does not name the operation", op, msg)
		}
	}
}

func TestWireSerializationChangesNothing(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	before := w.keyCount(t)
	for _, body := range []string{
		`{"Description":"x"`,
		`{"Description":"x"}}`,
		`{"Description":5}`,
		`{"Tags":"x"}`,
		`{"Tags":[{"TagKey":1,"TagValue":"v"}]}`,
		`{"MultiRegion":"false"}`,
		`[{"Description":"x"}]`,
		`"x"`,
		`null`,
		"{\"Description\":\"\xff\"}",
		`{"Description":` + strings.Repeat("[", 64) + `"x"` + strings.Repeat("]", 64) + `}`,
	} {
		wantWireError(t, w.post(t, "CreateKey", []byte(body), true), 400, "SerializationException")
	}
	if after := w.keyCount(t); after != before {
		t.Fatalf("ListKeys: %d keys after malformed CreateKeys, %d before", after, before)
	}

	for _, tc := range []struct{ op, body string }{
		{"Encrypt", `{"KeyId":"` + keyID + `","Plaintext":"not base64!"}`},
		{"Encrypt", `{"KeyId":"` + keyID + `","Plaintext":"aGVsbG8"}`},
		{"Encrypt", `{"KeyId":"` + keyID + `","Plaintext":["aGVsbG8="]}`},
		{"Encrypt", `{"KeyId":["` + keyID + `"],"Plaintext":"aGVsbG8="}`},
		{"Encrypt", `{"KeyId":"` + keyID + `","Plaintext":"aGVsbG8=","EncryptionContext":{"a":1}}`},
		{"Decrypt", `{"CiphertextBlob":"%%%"}`},
		{"ListKeys", `{"Limit":"10"}`},
		{"ListKeys", `{"Limit":1e10}`},
		{"ScheduleKeyDeletion", `{"KeyId":"` + keyID + `","PendingWindowInDays":"7"}`},
		{"DisableKey", `{"KeyId":{"Id":"` + keyID + `"}}`},
	} {
		wantWireError(t, w.post(t, tc.op, []byte(tc.body), true), 400, "SerializationException")
	}
	// None of them touched the key.
	d, err := w.KMS.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: &keyID})
	if err != nil {
		t.Fatalf("DescribeKey: %v", err)
	}
	if d.KeyMetadata.KeyState != "Enabled" {
		t.Fatalf("key state %s after malformed requests, want Enabled", d.KeyMetadata.KeyState)
	}
}

func TestWireInvalidUTF8(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	before := w.keyCount(t)
	for _, tc := range []struct{ op, body string }{
		{"CreateKey", "{\"Description\":\"caf\xe9\"}"},
		{"CreateKey", "{\"Description\":\"ok\",\"Tags\":[{\"TagKey\":\"k\xc3\",\"TagValue\":\"v\"}]}"},
		{"CreateAlias", "{\"AliasName\":\"alias/\xff\xfe\",\"TargetKeyId\":\"" + keyID + "\"}"},
		{"Encrypt", "{\"KeyId\":\"" + keyID + "\",\"Plaintext\":\"aGVsbG8=\",\"EncryptionContext\":{\"\xed\xa0\x80\":\"v\"}}"},
		{"UpdateKeyDescription", "{\"KeyId\":\"" + keyID + "\",\"Description\":\"\xc0\xaf\"}"},
	} {
		wantWireError(t, w.post(t, tc.op, []byte(tc.body), true), 400, "SerializationException")
	}
	if after := w.keyCount(t); after != before {
		t.Fatalf("ListKeys: %d keys, want %d", after, before)
	}
	al, err := w.KMS.ListAliases(t.Context(), &kms.ListAliasesInput{KeyId: &keyID})
	if err != nil {
		t.Fatal(err)
	}
	if len(al.Aliases) != 0 {
		t.Fatalf("aliases %+v made from invalid UTF-8", al.Aliases)
	}
	d, err := w.KMS.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: &keyID})
	if err != nil {
		t.Fatal(err)
	}
	if *d.KeyMetadata.Description != "wire" {
		t.Fatalf("Description changed to %q", *d.KeyMetadata.Description)
	}
}

// rawExchange writes req to a new connection (in the background, since
// the server may answer before it has read all of a large body) and reads
// the response.
func (w *wireEnv) rawExchange(t testing.TB, req *http.Request) wireResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", w.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = req.Write(conn) // fails once the server closes; the response tells
	}()
	defer wg.Wait()
	defer conn.Close() // unblocks the writer before waiting for it
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := wireResponse{resp.StatusCode, resp.Header, body}
	checkWireInvariants(t, req, r)
	return r
}

func TestWireBodyTooLarge(t *testing.T) {
	w := startWire(t)
	before := w.keyCount(t)
	big := bytes.Repeat([]byte(" "), 10<<20)
	copy(big, `{"Description":"big"}`)

	// With a Content-Length: refused before the body is read.
	req := w.newRequest(t, "CreateKey", big)
	w.Sign(t, req, big, time.Now())
	start := time.Now()
	wantWireError(t, w.rawExchange(t, req), 413, "RequestEntityTooLargeException")
	t.Logf("413 for a 10 MB body with Content-Length in %v", time.Since(start))

	// Chunked, so only reading tells the size.
	req = w.newRequest(t, "CreateKey", nil)
	req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	w.Sign(t, req, big, time.Now())
	wantWireError(t, w.rawExchange(t, req), 413, "RequestEntityTooLargeException")

	// Just over the cap, unsigned: the size is judged before the signature.
	over := bytes.Repeat([]byte(" "), awsproto.MaxBodyBytes+1)
	copy(over, `{}`)
	wantWireError(t, w.rawExchange(t, w.newRequest(t, "ListKeys", over)), 413, "RequestEntityTooLargeException")

	// The server goes on serving, and nothing was created.
	if after := w.keyCount(t); after != before {
		t.Fatalf("ListKeys: %d keys, want %d", after, before)
	}
	// A body at the cap is read and judged on its content.
	atCap := bytes.Repeat([]byte(" "), awsproto.MaxBodyBytes)
	copy(atCap, `{"Limit":5}`)
	r := w.post(t, "ListKeys", atCap, true)
	if r.status != 200 {
		t.Fatalf("ListKeys with a body of exactly %d bytes: %d %s", awsproto.MaxBodyBytes, r.status, r.body)
	}
}

// TestWireDeepNesting: a body nested deeper than awsproto.MaxDepth is
// refused by the depth check, which scans the body once, before a decoder
// spends stack and time on it — the message says which refused it (a
// decoder's own refusal would say "Malformed JSON"). No wall-clock bound:
// a loaded machine can make any bound fail.
func TestWireDeepNesting(t *testing.T) {
	w := startWire(t)
	before := w.keyCount(t)
	deep := strings.Repeat("[", 100_000)
	const tooDeep = "Request body is nested too deeply."
	for _, tt := range []struct{ body, want string }{
		// Not an object: refused on its first byte.
		{deep, "Start of structure or map expected."},
		{`{"Description":` + deep, tooDeep},
		{`{"Description":"x","Unknown":` + deep + strings.Repeat("]", 100_000) + `}`, tooDeep},
		{strings.Repeat(`{"a":`, 50_000), tooDeep},
	} {
		msg := wantWireError(t, w.post(t, "CreateKey", []byte(tt.body), true), 400, "SerializationException")
		if msg != tt.want {
			t.Errorf("deeply nested body %.30q… refused with %q, want %q", tt.body, msg, tt.want)
		}
	}
	if after := w.keyCount(t); after != before {
		t.Fatalf("ListKeys: %d keys, want %d", after, before)
	}
}

func TestWireAuthentication(t *testing.T) {
	w := startWire(t)
	body := []byte(`{}`)

	t.Run("no Authorization", func(t *testing.T) {
		wantWireError(t, w.post(t, "ListKeys", body, false), 400, "MissingAuthenticationTokenException")
	})
	t.Run("unknown access key", func(t *testing.T) {
		req := w.newRequest(t, "ListKeys", body)
		signWireWith(t, req, body, "AKIAUNKNOWNUNKNOWN01", w.Secret, w.Region, time.Now())
		wantWireError(t, w.do(t, req), 400, "UnrecognizedClientException")
	})
	t.Run("wrong secret", func(t *testing.T) {
		req := w.newRequest(t, "ListKeys", body)
		signWireWith(t, req, body, w.AccessKeyID, w.Secret+"x", w.Region, time.Now())
		wantWireError(t, w.do(t, req), 400, "InvalidSignatureException")
	})
	t.Run("body changed after signing", func(t *testing.T) {
		req := w.newRequest(t, "CreateKey", []byte(`{"Description":"b"}`))
		w.Sign(t, req, []byte(`{"Description":"a"}`), time.Now())
		wantWireError(t, w.do(t, req), 400, "InvalidSignatureException")
	})
	t.Run("target changed after signing", func(t *testing.T) {
		req := w.newRequest(t, "ListKeys", body)
		w.Sign(t, req, body, time.Now())
		req.Header.Set("X-Amz-Target", "TrentService.CreateKey")
		wantWireError(t, w.do(t, req), 400, "InvalidSignatureException")
	})
	t.Run("malformed region", func(t *testing.T) {
		// Trent serves every region; a scope that names none is refused.
		req := w.newRequest(t, "ListKeys", body)
		signWireWith(t, req, body, w.AccessKeyID, w.Secret, "moon-base", time.Now())
		wantWireError(t, w.do(t, req), 400, "InvalidSignatureException")
	})
	t.Run("six minutes old", func(t *testing.T) {
		req := w.newRequest(t, "ListKeys", body)
		w.Sign(t, req, body, time.Now().Add(-6*time.Minute))
		msg := wantWireError(t, w.do(t, req), 400, "InvalidSignatureException")
		if !strings.Contains(msg, "Signature expired") {
			t.Fatalf("message %q does not say the signature expired", msg)
		}
	})
	t.Run("six minutes ahead", func(t *testing.T) {
		req := w.newRequest(t, "ListKeys", body)
		w.Sign(t, req, body, time.Now().Add(6*time.Minute))
		wantWireError(t, w.do(t, req), 400, "InvalidSignatureException")
	})
	t.Run("garbage Authorization", func(t *testing.T) {
		req := w.newRequest(t, "ListKeys", body)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 nonsense")
		req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
		r := w.do(t, req)
		if r.status != 400 {
			t.Fatalf("status %d, want 400 (%s)", r.status, r.body)
		}
	})
	t.Run("authentication before decoding", func(t *testing.T) {
		// An unsigned malformed body is refused for lack of a signature,
		// not parsed.
		wantWireError(t, w.post(t, "CreateKey", []byte(`{"Description":`), false), 400, "MissingAuthenticationTokenException")
	})
}

func TestWireResponses(t *testing.T) {
	w := startWire(t)
	r := w.post(t, "CreateKey", []byte(`{"Description":"resp"}`), true)
	if r.status != 200 {
		t.Fatalf("CreateKey: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("CreateKey Content-Type %q", ct)
	}
	var ck struct{ KeyMetadata struct{ KeyId string } }
	if err := json.Unmarshal(r.body, &ck); err != nil || ck.KeyMetadata.KeyId == "" {
		t.Fatalf("CreateKey body %s: %v", r.body, err)
	}
	ids := map[string]bool{r.header.Get("X-Amzn-Requestid"): true}

	for _, op := range []string{"DisableKey", "EnableKey", "EnableKeyRotation", "DisableKeyRotation"} {
		r := w.post(t, op, []byte(`{"KeyId":"`+ck.KeyMetadata.KeyId+`"}`), true)
		if r.status != 200 || len(r.body) != 0 {
			t.Errorf("%s: %d %q, want 200 and an empty body", op, r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != awsproto.ContentType {
			t.Errorf("%s Content-Type %q", op, ct)
		}
		ids[r.header.Get("X-Amzn-Requestid")] = true
	}
	r = w.post(t, "DescribeKey", []byte(`{}`), true)
	ids[r.header.Get("X-Amzn-Requestid")] = true
	if len(ids) != 6 {
		t.Errorf("request ids are not unique: %v", ids)
	}
}

func TestWireOtherPaths(t *testing.T) {
	w := startWire(t)
	get := func(method, path string) wireResponse {
		req, err := http.NewRequest(method, w.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w.do(t, req)
	}
	if r := get(http.MethodGet, "/healthz"); r.status != 200 {
		t.Errorf("GET /healthz: %d %s", r.status, r.body)
	}
	if r := get(http.MethodHead, "/healthz"); r.status != 200 {
		t.Errorf("HEAD /healthz: %d", r.status)
	}
	// Headers beyond the server's limit are refused by net/http itself,
	// before the handler (so without a request id), but never with a 5xx.
	req := w.newRequest(t, "ListKeys", []byte("{}"))
	req.Header.Set("X-Padding", strings.Repeat("a", 128<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request with 128 KiB of headers: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("request with 128 KiB of headers: %d, want 431", resp.StatusCode)
	}

	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodPut, "/"},
		{http.MethodDelete, "/"},
		{http.MethodGet, "/nope"},
		{http.MethodPost, "/nope"},
		{http.MethodPost, "/healthz"},
		{http.MethodGet, "/?Action=ListKeys"},
	} {
		if r := get(tc.method, tc.path); r.status < 400 || r.status >= 500 {
			t.Errorf("%s %s: %d, want 4xx", tc.method, tc.path, r.status)
		}
	}
}

// TestWireNoServerErrors sends odd but well-formed-enough bodies to every
// operation: whatever Trent makes of them, it must not be a 5xx.
func TestWireNoServerErrors(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	ops := []string{
		"CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey",
		"ScheduleKeyDeletion", "CancelKeyDeletion", "Encrypt", "Decrypt", "ReEncrypt",
		"GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "CreateAlias",
		"UpdateAlias", "DeleteAlias", "ListAliases", "TagResource", "UntagResource",
		"ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "EnableKeyRotation",
		"DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations",
	}
	bodies := []string{
		``,
		`{}`,
		`{"KeyId":""}`,
		`{"KeyId":"` + strings.Repeat("a", 5000) + `"}`,
		`{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/` + keyID + `x"}`,
		`{"KeyId":"arn:::::"}`,
		`{"KeyId":"alias/"}`,
		`{"KeyId":"alias/nope","Plaintext":"","CiphertextBlob":"","NumberOfBytes":-1,"Limit":0,"Marker":"~"}`,
		`{"KeyId":"` + keyID + `","Limit":2147483647,"Marker":"` + strings.Repeat("z", 2000) + `"}`,
		`{"KeyId":"` + keyID + `","NumberOfBytes":2147483647,"KeySpec":"AES_256"}`,
		`{"KeyId":"` + keyID + `","CiphertextBlob":"AAAA","PendingWindowInDays":-2147483648}`,
		`{"KeyId":"` + keyID + `","Tags":[{}],"TagKeys":[""],"AliasName":"alias/aws/x","TargetKeyId":""}`,
		`{"KeyId":"` + keyID + `","Policy":"{","PolicyName":"default","RotationPeriodInDays":0}`,
		`{"KeyId":"\u0000","Description":"\u0000","AliasName":"alias/\u0000"}`,
		`{"KeyId":"` + keyID + `","EncryptionContext":{"":""},"Plaintext":"AA==","GrantTokens":[""]}`,
		`{"SourceKeyId":"x","DestinationKeyId":"` + keyID + `","CiphertextBlob":"AQIDBAUGBwgJ"}`,
	}
	for _, op := range ops {
		for _, b := range bodies {
			w.post(t, op, []byte(b), true) // do checks for 5xx
		}
	}
	// Unsigned, every operation.
	for _, op := range ops {
		wantWireError(t, w.post(t, op, []byte(`{}`), false), 400, "MissingAuthenticationTokenException")
	}
}

// TestWireSlowClient checks that a client that sends its headers and then
// stalls mid-body holds only its own connection: other requests, reads and
// writes, go on. It does not wait for the server's read timeout.
func TestWireSlowClient(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)

	var stalled []net.Conn
	for i := range 4 {
		conn, err := net.DialTimeout("tcp", w.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		stalled = append(stalled, conn)
		var msg string
		switch i % 2 {
		case 0: // headers, then part of the body
			msg = "POST / HTTP/1.1\r\nHost: " + w.Addr + "\r\nContent-Type: application/x-amz-json-1.1\r\n" +
				"X-Amz-Target: TrentService.CreateKey\r\nContent-Length: 1000\r\n\r\n{\"Description\":"
		case 1: // part of the headers
			msg = "POST / HTTP/1.1\r\nHost: " + w.Addr + "\r\nX-Amz-Tar"
		}
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
	}

	stalledAt := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				_, err = w.KMS.ListKeys(ctx, &kms.ListKeysInput{})
			case 1:
				_, err = w.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("concurrent")})
			case 2:
				_, err = w.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: []byte("x")})
			}
			if err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("blocked by a stalled client: %v", err)
		} else {
			t.Error(err)
		}
	}

	// The stalled connections are still open: the server waits for them,
	// within its header timeout (10s), which a slow machine may have used up.
	if time.Since(stalledAt) > 8*time.Second {
		return
	}
	for _, c := range stalled {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := c.Read(make([]byte, 1)); n != 0 || !isNetTimeout(err) {
			t.Errorf("stalled connection answered early: n=%d err=%v", n, err)
		}
	}
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
