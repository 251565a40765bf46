package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/testenv"
)

// TestChangeOutlivesTheClient: a client that sends a CreateKey and hangs
// up before the answer does not cut the change short halfway; the key is
// made, and the request's event says it succeeded, as the store says.
func TestChangeOutlivesTheClient(t *testing.T) {
	env := testenv.Start(t)
	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		body := []byte(fmt.Sprintf(`{"Description":"hung up %d"}`, i))
		req, err := http.NewRequest(http.MethodPost, env.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService.CreateKey")
		if err := sigv4.Sign(req, body, env.AccessKeyID, []byte(env.Secret), env.Region, "kms", time.Now()); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, len(body))
		for name, vs := range req.Header {
			fmt.Fprintf(&b, "%s: %s\r\n", name, vs[0])
		}
		b.WriteString("\r\n")
		b.Write(body)
		if _, err := c.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		c.Close() // at once: the server sees the hang-up as it works
	}
	// The keys are made, however long the server takes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := env.KMS.ListKeys(t.Context(), &kms.ListKeysInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Keys) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keys made of %d requests whose clients hung up", len(out.Keys), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And every CreateKey event says so.
	created := 0
	for _, ev := range auditEvents(t, env.DataDir) {
		if ev["eventName"] == "CreateKey" {
			if code, ok := ev["errorCode"]; ok {
				t.Errorf("a CreateKey event with %v", code)
			}
			created++
		}
	}
	if created != n {
		t.Errorf("%d CreateKey events, want %d", created, n)
	}
}
