package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/trent-kms/trent/internal/audit"
)

// unsealBackend is a sealed Backend that counts what the front asks of
// it: the unseal fuzz target checks a refused body asked nothing.
type unsealBackend struct {
	shares []string
	resets int
	events int
}

func (b *unsealBackend) Status() SealStatus                    { return SealStatus{Sealed: true, Threshold: 3} }
func (b *unsealBackend) Checks() map[string]bool               { return map[string]bool{"unsealed": false} }
func (b *unsealBackend) ResetUnseal() SealStatus               { b.resets++; return b.Status() }
func (b *unsealBackend) Acquire() (http.Handler, func(), bool) { return nil, nil, false }
func (b *unsealBackend) SubmitShare(_ context.Context, share string) (SealStatus, error) {
	b.shares = append(b.shares, share)
	return SealStatus{Sealed: true, Progress: 1, Threshold: 3}, nil
}
func (b *unsealBackend) Seal(context.Context, *http.Request, []byte) (SealStatus, error) {
	panic("unseal fuzz target: Seal called")
}
func (b *unsealBackend) Record(context.Context, *audit.Event) error { b.events++; return nil }

func unsealSeeds() []string {
	return []string{`{"share":"01ab"}`, `{"reset":true}`, `{"reset":false}`, `{}`, ``, `{"share":"a","reset":true}`,
		`{"share":null}`, `{"share":1}`, `{"x":1}`, `{"share":"a"} {}`, `[]`, `null`, `{"share":"a"`}
}

// FuzzUnsealBody: POST /sys/unseal is unauthenticated. Any body is
// recorded once and answered with a status document (or, past maxSysBody,
// a plain 413); a body the front refuses neither submits a share nor
// resets, and one it acts on is a single JSON document, nothing after it.
func FuzzUnsealBody(f *testing.F) {
	if len(unsealSeeds()) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range unsealSeeds() {
		f.Add([]byte(s))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := &unsealBackend{}
		rec := httptest.NewRecorder()
		NewFront(b, log).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sys/unseal", bytes.NewReader(body)))
		if b.events != 1 {
			t.Fatalf("%d events recorded", b.events)
		}
		acted := len(b.shares) + b.resets
		if rec.Code == http.StatusRequestEntityTooLarge && len(body) > maxSysBody {
			// readSys answers in plain text before any decoding.
			if acted != 0 {
				t.Fatalf("a body of %d bytes was acted on", len(body))
			}
			return
		}
		var resp sysResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("answer %d %q is not a status document: %v", rec.Code, rec.Body.Bytes(), err)
		}
		switch rec.Code {
		case http.StatusBadRequest:
			if acted != 0 {
				t.Fatalf("body %q refused, but the backend got shares %q and %d resets", body, b.shares, b.resets)
			}
		case http.StatusOK:
			if acted != 1 {
				t.Fatalf("body %q accepted with shares %q and %d resets", body, b.shares, b.resets)
			}
			if !json.Valid(body) {
				t.Fatalf("body %q, which is not one JSON document, was acted on", body)
			}
		default:
			t.Fatalf("body %q answered %d", body, rec.Code)
		}
	})
}
