package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/testenv"
)

// slowBody opens a connection to env and sends the headers of a KMS
// ListKeys request announcing a 1 MiB body, then 16 bytes of it, and
// stops: a client holding the server's memory as long as it may. signed
// says whether the headers carry a valid-looking signature (a real access
// key id and the current date; the signature is over the whole body, which
// never comes).
func slowBody(t *testing.T, env *testenv.Env, signed bool, extraHeaders ...string) net.Conn {
	t.Helper()
	return slowBodyTo(t, env.URL, env.AccessKeyID, env.Secret, env.Region, signed, extraHeaders...)
}

// slowBodyTo is slowBody to the server at endpoint, signed (if signed) by
// the access key (id, secret) for region.
func slowBodyTo(t *testing.T, endpoint, id, secret, region string, signed bool, extraHeaders ...string) net.Conn {
	t.Helper()
	const size = 1 << 20
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	if signed {
		if err := sigv4.Sign(req, make([]byte, size), id, []byte(secret), region, "kms", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, size)
	for name, vs := range req.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", name, vs[0])
	}
	for _, h := range extraHeaders {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(make([]byte, 16))
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	return c
}

// answerNow reads the response c gets within a few seconds (it must not
// wait for the rest of the body), or fails.
func answerNow(t *testing.T, c net.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer while the body is incomplete: %v", err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	return resp.StatusCode, body.String()
}

// TestBodiesHeldBeforeAuthentication: a client without a valid credential
// is answered before the server reads its body, and clients with one
// cannot make the server hold more than its bound of bodies at once: the
// request past it is refused with ThrottlingException, at once.
func TestBodiesHeldBeforeAuthentication(t *testing.T) {
	env := testenv.Start(t)

	status, body := answerNow(t, slowBody(t, env, false))
	if status != http.StatusBadRequest || !strings.Contains(body, "MissingAuthenticationTokenException") {
		t.Fatalf("unsigned slow body: %d %s, want 400 MissingAuthenticationTokenException before the body", status, body)
	}

	// 64 MiB of bodies in flight is the bound: 64 held bodies of 1 MiB.
	// Each asks for a 100 Continue, which the server sends once it reads
	// the body, so after it has reserved the body's room.
	for range 64 {
		c := slowBody(t, env, true, "Expect: 100-continue")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.Contains(line, " 100 ") {
			t.Fatalf("no 100 Continue: %q %v", line, err)
		}
	}
	status, body = answerNow(t, slowBody(t, env, true))
	if status != http.StatusBadRequest || !strings.Contains(body, "ThrottlingException") {
		t.Fatalf("a body past the bound: %d %s, want 400 ThrottlingException at once", status, body)
	}
}

// TestSealCutsSlowBodiesShort: a seal does not wait for a client that
// sends its body slowly (up to the server's 30 s read timeout) before it
// drops the key material; /sys/status answers meanwhile.
func TestSealCutsSlowBodiesShort(t *testing.T) {
	id, secret := randomAccessKey(t)
	p := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret})
	c := slowBodyTo(t, p.URL, id, secret, "us-east-1", true)
	time.Sleep(100 * time.Millisecond) // the server is reading it

	req, err := http.NewRequest(http.MethodPost, p.URL+"/sys/seal", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := sigv4.Sign(req, []byte("{}"), id, []byte(secret), "us-east-1", "kms", time.Now()); err != nil {
		t.Fatal(err)
	}
	sealed := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		sealed <- err
	}()
	select {
	case err := <-sealed:
		if err != nil {
			t.Fatalf("seal: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the seal waited for the slow body")
	}
	if status := sysCall(t, p.URL, http.MethodGet, "/sys/status", "", "", ""); status != http.StatusOK {
		t.Fatalf("status after the seal: %d", status)
	}
	// The slow request was answered at once, with a 503 the SDKs retry.
	if status, body := answerNow(t, c); status != http.StatusServiceUnavailable || !strings.Contains(body, "ServiceUnavailableException") {
		t.Fatalf("the cut request: %d %s, want 503 ServiceUnavailableException", status, body)
	}
}
