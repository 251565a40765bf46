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
func slowBody(t *testing.T, env *testenv.Env, signed bool) net.Conn {
	t.Helper()
	const size = 1 << 20
	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, env.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	if signed {
		if err := sigv4.Sign(req, make([]byte, size), env.AccessKeyID, []byte(env.Secret), env.Region, "kms", time.Now()); err != nil {
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
	for range 64 {
		slowBody(t, env, true)
	}
	// The server takes them up in its own time: the 65th may have to
	// wait for the others to be read in.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body = answerNow(t, slowBody(t, env, true))
		if strings.Contains(body, "ThrottlingException") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != http.StatusBadRequest || !strings.Contains(body, "ThrottlingException") {
		t.Fatalf("a body past the bound: %d %s, want 400 ThrottlingException at once", status, body)
	}
}
