package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/store"
)

// TestDatabaseTrouble: an error holding store.ErrUnavailable is answered
// with AWS's server faults — even when a handler made a client error of
// it — and other errors pass unchanged.
func TestDatabaseTrouble(t *testing.T) {
	s := New(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	timeout := fmt.Errorf("postgres: get key: %w", &store.Unavailable{Timeout: true, Err: errors.New("dial tcp: connection refused")})
	broken := fmt.Errorf("postgres: tag key: %w", &store.Unavailable{Err: errors.New("unexpected EOF")})
	unknown := fmt.Errorf("postgres: create key: %w", &store.Unavailable{Timeout: true, OutcomeUnknown: true, Err: errors.New("timeout")})
	notFound := apierr.New(apierr.NotFound, "Key 'x' does not exist")
	for _, tt := range []struct {
		name string
		err  error
		code string // "" for unchanged
	}{
		{"unreachable", apierr.Internal(timeout), apierr.DependencyTimeout},
		{"unreachable, unwrapped", timeout, apierr.DependencyTimeout},
		{"connection broke", apierr.Internal(broken), apierr.KMSInternal},
		{"commit outcome unknown", unknown, apierr.KMSInternal},
		{"made a client error", &apierr.Error{Code: apierr.NotFound, Message: "no", Cause: timeout}, apierr.DependencyTimeout},
		{"made access denied", &apierr.Error{Code: apierr.AccessDenied, Message: "no", Cause: broken}, apierr.KMSInternal},
		{"a client error", notFound, ""},
		{"an internal error", apierr.Internal(errors.New("bug")), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &answer{err: tt.err, requestID: "r"}
			s.databaseTrouble(a)
			if tt.code == "" {
				if a.err != tt.err {
					t.Fatalf("changed %v to %v", tt.err, a.err)
				}
				return
			}
			w := httptest.NewRecorder()
			awsproto.WriteError(w, a.err)
			var body struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != 500 || body.Type != tt.code {
				t.Fatalf("answered %d %s, want 500 %s", w.Code, body.Type, tt.code)
			}
			if tt.code == apierr.DependencyTimeout && body.Message != msgDependencyTimeout {
				t.Errorf("message %q", body.Message)
			}
			if !errors.Is(a.err, store.ErrUnavailable) {
				t.Error("the cause is lost for the log")
			}
		})
	}
}

// TestCloudTrailFault: a CloudTrail request's server faults are answered
// with AWS's common InternalFailure, never a KMS exception name, and its
// client errors pass unchanged.
func TestCloudTrailFault(t *testing.T) {
	s := New(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	timeout := fmt.Errorf("postgres: search audit events: %w", &store.Unavailable{Timeout: true, Err: errors.New("statement timeout")})
	for _, tt := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"database timeout", timeout, 500, apierr.InternalFailure},
		{"internal", apierr.Internal(errors.New("bug")), 500, apierr.InternalFailure},
		{"audit log late", auditError(audit.ErrTimeout), 500, apierr.InternalFailure},
		{"client error", apierr.New(apierr.InvalidNextToken, "The NextToken is not valid for this request."), 400, apierr.InvalidNextToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &answer{err: tt.err, requestID: "r", op: "LookupEvents", trail: true}
			s.databaseTrouble(a)
			w := httptest.NewRecorder()
			s.write(w, a)
			var body struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status || body.Type != tt.code {
				t.Fatalf("answered %d %s, want %d %s", w.Code, body.Type, tt.status, tt.code)
			}
			if tt.code == apierr.InternalFailure && body.Message != msgInternalFailure {
				t.Errorf("message %q", body.Message)
			}
		})
	}
}
