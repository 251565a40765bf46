package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
)

// slowLog is an audit log whose disk takes a while: Record returns nil
// once the write is done, or the context's cause if it ends first — as
// audit.Log.Record does.
type slowLog struct {
	write time.Duration
	err   error

	mu       sync.Mutex
	recorded int
}

func (l *slowLog) Ready() error { return nil }

func (l *slowLog) Record(ctx context.Context, evs ...*audit.Event) error {
	l.mu.Lock()
	l.recorded += len(evs) // queued: written whatever the caller does next
	l.mu.Unlock()
	select {
	case <-time.After(l.write):
		return l.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// TestRecordOutlivesTheClient: a client that hangs up while its event is
// being written does not turn the answer into an error — no "answer
// withheld" in the log, no 5xx outcome — since the event is written all
// the same; a log that is in fact late still fails the request.
func TestRecordOutlivesTheClient(t *testing.T) {
	for _, tc := range []struct {
		name        string
		clientGone  bool
		logErr      error
		wantOutcome string
		wantLogged  bool
	}{
		{name: "client waits", wantOutcome: "ok"},
		{name: "client gone", clientGone: true, wantOutcome: "ok"},
		{name: "log late", logErr: audit.ErrTimeout, wantOutcome: apierr.DependencyTimeout, wantLogged: true},
		{name: "log late, client gone", clientGone: true, logErr: audit.ErrTimeout, wantOutcome: apierr.DependencyTimeout, wantLogged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged bytes.Buffer
			s := New(nil, nil, slog.New(slog.NewTextHandler(&logged, nil)))
			l := &slowLog{write: 50 * time.Millisecond, err: tc.logErr}
			s.AuditWith(l)
			if auditCompiledOut {
				t.Skip("built without audit")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := httptest.NewRequestWithContext(ctx, "POST", "/", nil)
			r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
			a := &answer{requestID: "req-1", op: "Encrypt"}
			a.ev = s.newEvent(r, a, a.requestID)
			if tc.clientGone {
				time.AfterFunc(5*time.Millisecond, cancel)
			}
			s.record(r, a)
			if got := outcomeOf(a); got != tc.wantOutcome {
				t.Errorf("outcome %q, want %q (err %v)", got, tc.wantOutcome, a.err)
			}
			if got := strings.Contains(logged.String(), "answer withheld"); got != tc.wantLogged {
				t.Errorf("logged %q, want withheld logged: %v", logged.String(), tc.wantLogged)
			}
			if l.recorded != 1 {
				t.Errorf("%d events recorded, want 1", l.recorded)
			}
		})
	}
}
