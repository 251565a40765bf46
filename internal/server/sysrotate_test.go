package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// rotateBackend is unsealBackend that can rotate, failing with err.
type rotateBackend struct {
	unsealBackend
	err error
}

func (b *rotateBackend) RotateRoot(context.Context, *http.Request, []byte) (RotateStatus, error) {
	return RotateStatus{}, b.err
}

// brokenBody fails its first read, as a client gone mid-body does.
type brokenBody struct{}

func (brokenBody) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestRotateRootAnswers: a body too large is a 413, one that cannot be
// read a 400, and an internal failure a 500 whose text keeps the cause
// (which may name paths and hosts) to the server's log.
func TestRotateRootAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    io.Reader
		err     error
		status  int
		hidden  string // must not be in the answer
		records int
	}{
		{"too large", strings.NewReader(strings.Repeat("a", maxRotateBody+1)), nil, http.StatusRequestEntityTooLarge, "", 1},
		{"unreadable", brokenBody{}, nil, http.StatusBadRequest, "", 1},
		{"internal", strings.NewReader("{}"), errors.New("open /var/lib/trent/secret-path: no such file"), http.StatusInternalServerError, "/var/lib/trent", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &rotateBackend{err: tc.err}
			w := httptest.NewRecorder()
			NewFront(b, nil).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/sys/rotate-root", tc.body))
			if w.Code != tc.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if tc.hidden != "" && strings.Contains(w.Body.String(), tc.hidden) {
				t.Fatalf("the answer tells the cause: %s", w.Body)
			}
			if b.events != tc.records {
				t.Fatalf("%d events recorded by the front, want %d", b.events, tc.records)
			}
		})
	}
}
