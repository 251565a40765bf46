package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/jsonstrict"
	"github.com/trent-kms/trent/internal/sigv4"
)

// The front is the handler a Trent process serves from start to exit,
// sealed or not. It answers by itself:
//
//	GET  /healthz     200 while the process serves (sealed or not)
//	GET  /readyz      200 {"ready":true,"checks":{…}} when every check
//	                  passes, else 503 with the same shape
//	GET  /sys/status  the seal status (SealStatus)
//	POST /sys/unseal  {"share":"…"} submits one unseal share;
//	                  {"reset":true} drops the shares submitted so far
//	POST /sys/seal    SigV4-signed by the first account's root: seal now
//	POST /sys/rotate-root  signed likewise: rotate the root key
//	                  (sysrotate.go)
//
// and hands everything else to the API handler of the unsealed
// installation, or, while sealed, answers it with an AWS-shaped 503. The
// /sys endpoints carry no SigV4 except /sys/seal: while sealed there is
// no key to check a signature with, and a share is its own credential
// (as in Vault). Their bodies are bounded, and shares never reach a log.
//
// Every request it answers itself, except /healthz and /readyz, yields an
// audit event through Backend.Record (the signed /sys/seal,
// /sys/rotate-root and /metrics: by the backend, which knows the caller):
// operator calls under SourceSys, 503s while sealed under the service
// they name. Internal/app's sysaudit.go says when those become durable.

// maxSysBody bounds a /sys request body: a share is under 200 characters.
const maxSysBody = 4 << 10

// SealStatus is what /sys/status answers and `trent status` prints. The
// JSON names are an interface: scripts read them.
type SealStatus struct {
	Sealed bool `json:"sealed"`
	// Progress is how many unseal shares have been accepted, of Threshold
	// (0 and 0 for a seal that needs none).
	Progress  int    `json:"progress"`
	Threshold int    `json:"threshold"`
	SealType  string `json:"seal_type"`
	FIPS140   bool   `json:"fips140"`
	Version   string `json:"version"`
}

// Backend is the installation a Front serves: it owns the seal state.
type Backend interface {
	Status() SealStatus
	// Checks are the readiness checks by name ("unsealed", …); the
	// installation is ready when all are true.
	Checks() map[string]bool
	// SubmitShare accepts one unseal share. Errors wrapping ErrRefused
	// are the operator's (400); ErrConflict means the installation does
	// not unseal from shares (409); others are internal (500).
	SubmitShare(ctx context.Context, share string) (SealStatus, error)
	// ResetUnseal drops the shares submitted so far.
	ResetUnseal() SealStatus
	// Seal checks the signed request (r, body) and seals. Errors wrapping
	// ErrForbidden are answered 403; an *apierr.Error (a bad signature)
	// as the JSON protocol answers it.
	Seal(ctx context.Context, r *http.Request, body []byte) (SealStatus, error)
	// Acquire returns the handler of the AWS APIs and a function to call
	// when the request is done, or ok false while sealed. Sealing waits
	// for every acquired request to be released.
	Acquire() (h http.Handler, release func(), ok bool)
	// Record records the event of a request the front answers itself
	// (operator endpoints, 503s while sealed). Unsealed, it returns once
	// the event is durable; sealed, it queues the event, bounded, for
	// the audit log to record first thing at the next unseal.
	Record(ctx context.Context, ev *audit.Event) error
}

// Errors a Backend wraps to choose the status of a /sys answer.
var (
	ErrRefused   = errors.New("share refused")
	ErrConflict  = errors.New("not possible in this state")
	ErrForbidden = errors.New("forbidden")
)

// SealedMessage is the message of every AWS API request refused while
// sealed.
const SealedMessage = "Trent is sealed: no key can be used until it is unsealed (see `trent status`)."

// Front is the process's HTTP handler (see the top of this file).
type Front struct {
	b   Backend
	log *slog.Logger
	// metrics serves GET /metrics to signed operators (frontmetrics.go).
	metrics *signedMetrics
	// obs counts the requests refused while sealed (observe.go).
	obs Observer
}

// NewFront returns the front handler for b.
func NewFront(b Backend, log *slog.Logger) *Front {
	if log == nil {
		log = slog.Default()
	}
	return &Front{b: b, log: log}
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		if allow(w, r, http.MethodGet, http.MethodHead) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		}
		return
	case "/readyz":
		if allow(w, r, http.MethodGet, http.MethodHead) {
			f.readyz(w)
		}
		return
	case "/metrics":
		if f.metrics != nil {
			if allow(w, r, http.MethodGet) {
				f.serveMetrics(w, r)
			}
			return
		}
	case "/sys/status":
		if allow(w, r, http.MethodGet, http.MethodHead) {
			st := f.b.Status()
			ev := NewSysEvent(r, "GetStatus", true)
			ev.ResponseElements = statusElements(st)
			f.recordSys(r, ev)
			writeSys(w, http.StatusOK, st, "")
		}
		return
	case "/sys/unseal":
		if allow(w, r, http.MethodPost) {
			f.unseal(w, r)
		}
		return
	case "/sys/seal":
		if allow(w, r, http.MethodPost) {
			f.seal(w, r)
		}
		return
	case "/sys/rotate-root":
		if rr, ok := f.b.(RootRotator); ok && allow(w, r, http.MethodPost) {
			f.rotateRoot(w, r, rr)
			return
		} else if ok {
			return
		}
	}
	if strings.HasPrefix(r.URL.Path, "/sys/") {
		writeSys(w, http.StatusNotFound, f.b.Status(), "no such endpoint")
		return
	}
	h, release, ok := f.b.Acquire()
	if !ok {
		f.refuseSealed(w, r)
		return
	}
	defer release()
	h.ServeHTTP(w, r)
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func (f *Front) readyz(w http.ResponseWriter) {
	checks := f.b.Checks()
	ready := true
	for _, ok := range checks {
		ready = ready && ok
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, struct {
		Ready  bool            `json:"ready"`
		Checks map[string]bool `json:"checks"`
	}{ready, checks})
}

// writeSealed answers an AWS API request while sealed: 503 in the shape of
// the protocol the request speaks — ServiceUnavailableException for KMS's
// JSON, ServiceUnavailable for IAM's and STS's Query (AWS's common 503).
// Nothing of the request is checked: there is nothing to check it with.
// Its event (what it claims: service, operation, access key) is queued
// for the audit log to record at the next unseal.
func (f *Front) writeSealed(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	requestID := ids.NewUUID()
	err := apierr.New(apierr.ServiceUnavailable, SealedMessage)
	query := isQuery(r)
	ev := sealedEvent(r, requestID, query)
	if query {
		e := queryService(r, sigv4.Auth{}).WireError(err)
		ev.SetError(e.Code, e.Message)
	} else {
		ev.SetError(err.Code, err.Message)
	}
	// As the unsealed server, which answers anything but a POST 405
	// unrecorded: only what would be an API request is.
	if r.Method == http.MethodPost {
		f.recordSys(r, ev)
	}
	if query {
		queryService(r, sigv4.Auth{}).WriteError(w, requestID, err)
		return
	}
	w.Header()["X-Amzn-Requestid"] = []string{requestID}
	awsproto.WriteError(w, err)
}

// recordSys records the event of a request the front answers. The answer
// is not withheld if that fails: the operator endpoints must keep working
// while the audit disk fails (to see why, and to seal), a 503 while
// sealed is an error already, and the log keeps the event queued until
// the disk takes it.
func (f *Front) recordSys(r *http.Request, ev *audit.Event) {
	if err := f.b.Record(r.Context(), ev); err != nil {
		f.log.Error("audit: operator or sealed-time request not recorded yet", "event", ev.EventName, "source_ip", ev.SourceIPAddress, "err", err)
	}
}

// statusElements is the responseElements of an event answered with st.
func statusElements(st SealStatus) json.RawMessage {
	b, err := json.Marshal(struct {
		Sealed    bool `json:"sealed"`
		Progress  int  `json:"progress"`
		Threshold int  `json:"threshold"`
	}{st.Sealed, st.Progress, st.Threshold})
	if err != nil {
		return nil
	}
	return b
}

// failSys completes ev with a failure answered by the front itself.
func failSys(ev *audit.Event, code, message string) *audit.Event {
	ev.SetError(code, message)
	return ev
}

// readSys reads a /sys request body within maxSysBody. The caller clears
// the result: it may hold a share.
func readSys(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxSysBody)); err != nil {
		clear(buf.Bytes())
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "could not read the request body", http.StatusBadRequest)
		}
		return nil, false
	}
	return buf.Bytes(), true
}

// unsealRequest is the body of POST /sys/unseal: one of its members.
type unsealRequest struct {
	Share *string `json:"share"`
	Reset bool    `json:"reset"`
}

func (f *Front) unseal(w http.ResponseWriter, r *http.Request) {
	// The event never holds the share, nor anything of the body: only
	// whether it reset or submitted, and the outcome.
	ev := NewSysEvent(r, "Unseal", false)
	body, ok := readSys(w, r)
	if !ok {
		f.recordSys(r, failSys(ev, "ValidationException", "The request body could not be read or is too large."))
		return
	}
	defer clear(body)
	var req unsealRequest
	if err := jsonstrict.Decode(body, &req); err != nil || (req.Share != nil) == req.Reset {
		// The decoder's error may quote the body, which may hold a share.
		const msg = `the body must be {"share": "…"} or {"reset": true}`
		f.recordSys(r, failSys(ev, "ValidationException", msg))
		writeSys(w, http.StatusBadRequest, f.b.Status(), msg)
		return
	}
	if req.Reset {
		st := f.b.ResetUnseal()
		f.log.Info("unseal progress reset", "source_ip", sourceIP(r))
		ev.EventName = "ResetUnseal"
		ev.ResponseElements = statusElements(st)
		f.recordSys(r, ev)
		writeSys(w, http.StatusOK, st, "")
		return
	}
	st, err := f.b.SubmitShare(r.Context(), *req.Share)
	// At the threshold the node is unsealed now, and this event is the
	// first the new log records after what was queued while sealed.
	ev.EventTime = audit.Timestamp{Time: time.Now()}
	ev.ResponseElements = statusElements(st)
	if err != nil {
		// A refusal names a share by index at most, never its content.
		ev.ResponseElements = nil
		ev.SetError(SysErrorCode(err))
	}
	f.recordSys(r, ev)
	switch {
	case err == nil:
		f.log.Info("unseal share accepted", "source_ip", sourceIP(r), "progress", st.Progress, "threshold", st.Threshold, "sealed", st.Sealed)
		writeSys(w, http.StatusOK, st, "")
	case errors.Is(err, ErrRefused):
		// The error names a share by index at most, never its content.
		f.log.Warn("unseal share refused", "source_ip", sourceIP(r), "err", err)
		writeSys(w, http.StatusBadRequest, st, err.Error())
	case errors.Is(err, ErrConflict):
		writeSys(w, http.StatusConflict, st, err.Error())
	default:
		f.log.Error("unseal failed", "source_ip", sourceIP(r), "err", apierr.ForLog(err))
		writeSys(w, http.StatusInternalServerError, st, "unsealing failed; the server's log says why")
	}
}

func (f *Front) seal(w http.ResponseWriter, r *http.Request) {
	// The backend records the event of a seal it receives: before its
	// audit log closes.
	body, ok := readSys(w, r)
	if !ok {
		f.recordSys(r, failSys(NewSysEvent(r, "Seal", false), "ValidationException", "The request body could not be read or is too large."))
		return
	}
	defer clear(body)
	st, err := f.b.Seal(r.Context(), r, body)
	var ae *apierr.Error
	switch {
	case err == nil:
		writeSys(w, http.StatusOK, st, "")
	case errors.Is(err, ErrForbidden):
		f.log.Warn("seal refused", "source_ip", sourceIP(r), "err", err)
		writeSys(w, http.StatusForbidden, st, err.Error())
	case errors.As(err, &ae) && ae.Code != apierr.KMSInternal:
		f.log.Warn("seal refused", "source_ip", sourceIP(r), "err", err)
		writeSys(w, apierr.HTTPStatus(ae.Code), st, ae.Error())
	default:
		f.log.Error("seal failed", "source_ip", sourceIP(r), "err", apierr.ForLog(err))
		writeSys(w, http.StatusInternalServerError, st, "sealing failed; the server's log says why")
	}
}

// sysResponse is every /sys answer: the status, and what went wrong.
type sysResponse struct {
	SealStatus
	Error string `json:"error,omitempty"`
}

func writeSys(w http.ResponseWriter, status int, st SealStatus, msg string) {
	writeJSON(w, status, sysResponse{st, msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
