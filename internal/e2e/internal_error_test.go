package e2e

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/testenv"
)

// logBuffer collects a server's log output; the server writes from its
// handler goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestInternalErrorCauseLoggedNotSent provokes real internal failures and
// checks that the server log carries the cause — what an operator needs —
// while the caller gets a bare KMSInternalException. The log used to show
// only the exception name.
func TestInternalErrorCauseLoggedNotSent(t *testing.T) {
	for _, tt := range []struct {
		name string
		// provoke breaks something real and returns the response to one
		// request, and text from the cause the log must show.
		provoke func(t *testing.T, e *testenv.Env, log *slog.Logger) (status int, body []byte, cause []string)
	}{
		{"store closed under the service", func(t *testing.T, e *testenv.Env, _ *slog.Logger) (int, []byte, []string) {
			if err := e.App.Store.Close(); err != nil {
				t.Fatal(err)
			}
			status, _, body := e.Post(t, "CreateKey", []byte(`{"Description":"after close"}`), true)
			return status, body, []string{"database is closed"}
		}},
		{"panic in a handler", func(t *testing.T, e *testenv.Env, log *slog.Logger) (int, []byte, []string) {
			// A server whose KMS service is missing: dispatch dereferences
			// it and panics, after SigV4 has accepted the request.
			srv := httptest.NewServer(server.New(nil, e.App.Verifier, log))
			defer srv.Close()
			e2 := *e
			e2.URL = srv.URL
			status, _, body := e2.Post(t, "ListKeys", []byte(`{}`), true)
			return status, body, []string{"nil pointer dereference", "goroutine ", "server.(*Server).ServeHTTP"}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			e := testenv.Start(t, testenv.WithLogger(log))
			status, body, cause := tt.provoke(t, e, log)
			if status != http.StatusInternalServerError || !bytes.Contains(body, []byte("KMSInternalException")) {
				t.Fatalf("response %d %s, want 500 KMSInternalException", status, body)
			}
			out := logs.String()
			for _, c := range cause {
				if !strings.Contains(out, c) {
					t.Errorf("the server log lacks %q:\n%s", c, out)
				}
				if bytes.Contains(body, []byte(c)) {
					t.Errorf("the response body shows the cause %q: %s", c, body)
				}
			}
		})
	}
}
