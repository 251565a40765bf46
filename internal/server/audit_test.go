package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"runtime"
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

// TestActionOf: the Action of a body that did not decode, the first one
// given, unescaped and clipped.
func TestActionOf(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"first", "Action=CreateUser&Version=2010-05-08", "CreateUser"},
		{"later", "Version=2010-05-08&UserName=bob&Action=GetUser", "GetUser"},
		{"the first of two", "Action=GetUser&Action=DeleteUser", "GetUser"},
		{"escaped", "Action=Get%55ser", "GetUser"},
		{"plus", "Action=a+b", "a b"},
		{"bad escape", "Action=Get%zzUser", ""},
		{"empty", "Action=&Action=GetUser", ""},
		{"none", "Version=2010-05-08&UserName=bob", ""},
		{"only ampersands", "&&&&", ""},
		{"no body", "", ""},
		{"name only", "Action", ""},
		{"clipped", "Action=" + strings.Repeat("a", 1000), strings.Repeat("a", maxAction)},
		{"clipped escapes", "Action=" + strings.Repeat("%41", 1000), strings.Repeat("A", maxAction)},
		{"escape cut at the bound", "Action=" + strings.Repeat("a", 3*maxAction-1) + "%41", strings.Repeat("a", maxAction)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := actionOf([]byte(tc.body)); got != tc.want {
				t.Errorf("actionOf(%.40q) = %.40q, want %.40q", tc.body, got, tc.want)
			}
		})
	}
}

// TestActionOfAllocations: a hostile 1 MiB body costs the few small
// allocations of the value it names, never a copy or a split of itself.
func TestActionOfAllocations(t *testing.T) {
	const size = 1 << 20
	for _, tc := range []struct {
		name      string
		body      []byte
		maxAllocs float64
	}{
		{"ampersands", bytes.Repeat([]byte("&"), size), 0},
		{"one long pair", append([]byte("UserName="), bytes.Repeat([]byte("a"), size)...), 0},
		{"Action at the end", append(bytes.Repeat([]byte("&x=y"), size/4), "&Action=GetUser"...), 2},
		{"a long Action", append([]byte("Action="), bytes.Repeat([]byte("%41"), size/3)...), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(5, func() { _ = actionOf(tc.body) }); n > tc.maxAllocs {
				t.Errorf("%v allocations, want at most %v", n, tc.maxAllocs)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_ = actionOf(tc.body)
			runtime.ReadMemStats(&after)
			if b := after.TotalAlloc - before.TotalAlloc; b > 4<<10 {
				t.Errorf("%d bytes allocated for a %d-byte body", b, len(tc.body))
			}
		})
	}
}
