package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/cloudtrail"
	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/store"
)

// maxAuditedAgent bounds the user agent an event repeats.
const maxAuditedAgent = 1024

// newEvent begins the audit event of a request with what is known before
// it is authenticated: the time, the service and operation it names, the
// access key it claims and where it comes from. handle fills in the rest.
func (s *Server) newEvent(r *http.Request, a *answer, requestID string) *audit.Event {
	source, name := audit.SourceKMS, "Unknown"
	if a.query != nil {
		source, name = audit.SourceIAM, "Unknown"
		if a.query.Name == "sts" {
			source = audit.SourceSTS
		}
	} else if n, ok := strings.CutPrefix(target(r), targetPrefix); ok && n != "" {
		name = clip(n, 128)
	} else if n, ok := cloudtrail.Operation(target(r)); ok {
		// A CloudTrail call is recorded under CloudTrail's source, even
		// when it fails before it is authenticated.
		source = audit.SourceCloudTrail
		if n != "" {
			name = clip(n, 128)
		}
	}
	ev := a.evStore.begin(time.Now(), source, name)
	ev.RequestID = requestID
	ev.SourceIPAddress = sourceIP(r)
	ev.UserAgent = clip(r.UserAgent(), maxAuditedAgent)
	return ev
}

// claimedIdentity fills the identity and region of an event whose request
// was not authenticated from what its Authorization header claims. An
// authenticated request's event has them from the verifier already, so
// the header is parsed again only on this path.
func claimedIdentity(r *http.Request, ev *audit.Event) {
	h, err := sigv4.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		ev.UserIdentity = audit.UnknownIdentity("")
		return
	}
	ev.UserIdentity = audit.UnknownIdentity(clip(h.AccessKeyID, 128))
	if ev.AWSRegion == "" && sigv4.ValidRegion(h.Region) {
		ev.AWSRegion = h.Region
	}
}

// intentLog is the side of the audit log that makes a request's audit
// intent (audit.Log.Intent).
type intentLog interface {
	Intent(ev *audit.Event) *store.AuditIntent
}

// changeTimeout bounds the work of a request that may change state once
// its client no longer bounds it (performContext): the server's write
// timeout, past which its answer could not be delivered anyway.
const changeTimeout = 30 * time.Second

// performContext is the context a request is performed under, and its
// cancel. For one that may change state:
//   - it is not cancelled when the client hangs up, as AWS finishes what
//     it received: a change cut short between its steps would leave a
//     state its event does not describe (TestChangeOutlivesTheClient);
//     changeTimeout bounds it instead;
//   - it carries the request's audit intent, which the store commits with
//     the change (store.AuditIntent), so that a stop between the commit
//     and record leaves a trace the log recovers at start.
//
// A read stays the client's to cancel.
func (s *Server) performContext(r *http.Request, a *answer) (context.Context, context.CancelFunc) {
	ctx := r.Context()
	if a.ev == nil || !audit.MayChangeState(a.ev) {
		return ctx, func() {}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changeTimeout)
	if il, ok := s.audit.(intentLog); ok {
		if in := il.Intent(a.ev); in != nil {
			ctx = store.WithAuditIntent(ctx, in)
		}
	}
	return ctx, cancel
}

// record completes a's event with the outcome and records it, with a copy
// for every other account whose key it concerns (CloudTrail delivers a
// cross-account call to both). If the log cannot record it, the answer
// becomes an error: the operation may have run, but its result is not
// released unrecorded.
func (s *Server) record(r *http.Request, a *answer) {
	ev := a.ev
	if ev.UserIdentity.Type == "" {
		claimedIdentity(r, ev)
	}
	if a.err != nil {
		code, msg := s.wireError(a)
		ev.SetError(code, msg)
		ev.ResponseElements = nil
	}
	failpointBeforeRecord(a.op, a.err) // test builds only (failpoint_on.go)
	evs := append(a.evStore.recordList(), ev)
	for _, res := range ev.Resources {
		if res.AccountID == "" || res.AccountID == ev.RecipientAccountID || hasRecipient(evs, res.AccountID) {
			continue
		}
		evs = append(evs, ev.CopyFor(res.AccountID))
	}
	// Not the request's own context: a client that hangs up does not undo
	// what was performed, and its event is written all the same; waiting
	// on r.Context() turned a disconnect into an "answer withheld" error
	// and a 5xx outcome for a request that was in fact recorded. The log
	// bounds the wait by its deadline (audit.Options.Deadline, 5 s by
	// default), so nothing waits on a stuck disk for longer.
	if err := s.audit.Record(context.WithoutCancel(r.Context()), evs...); err != nil {
		s.log.Error("audit: request not recorded; answer withheld", "request_id", a.requestID, "operation", a.op, "err", err)
		a.out, a.err = nil, auditError(err)
	}
}

func hasRecipient(evs []*audit.Event, account string) bool {
	for _, e := range evs {
		if e.RecipientAccountID == account {
			return true
		}
	}
	return false
}

// wireError is the error code and message the caller gets for a.err, in
// the request's protocol.
func (s *Server) wireError(a *answer) (code, message string) {
	if a.query != nil {
		e := a.query.WireError(a.err)
		return e.Code, e.Message
	}
	e := apierr.As(a.err)
	return e.Code, e.Message
}

// maxAction bounds the operation name an event takes from a request.
const maxAction = 128

// actionOf reads the Action of a Query body that did not decode, so that
// its event names what was asked for; only that failure path pays for it.
// The body is up to 1 MiB of the caller's choosing: it is scanned in
// place, and only the value, clipped first, is copied — splitting it
// (strings.Split(string(body), "&")) cost 17 times its size for a body
// of ampersands.
func actionOf(body []byte) string {
	for rest := body; len(rest) > 0; {
		kv := rest
		if i := bytes.IndexByte(rest, '&'); i >= 0 {
			kv, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		v, ok := bytes.CutPrefix(kv, []byte("Action="))
		if !ok {
			continue
		}
		// Each character is at most three bytes escaped; an escape cut
		// in two at the bound is dropped rather than failing the whole.
		if len(v) > 3*maxAction {
			v = v[:3*maxAction]
			if i := bytes.LastIndexByte(v, '%'); i >= len(v)-2 {
				v = v[:i]
			}
		}
		if a, err := url.QueryUnescape(string(v)); err == nil && a != "" {
			return clip(a, maxAction)
		}
		return ""
	}
	return ""
}

// auditError is the answer to a request the log could not record: the
// deadline passing is a dependency's timeout, anything else an internal
// failure.
func auditError(err error) error {
	if errors.Is(err, audit.ErrTimeout) {
		return apierr.New(apierr.DependencyTimeout, "The audit log did not record the request in time.")
	}
	return apierr.Internal(err)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SourceSys is the eventSource of the operator endpoints — /sys/status,
// /sys/unseal, /sys/seal, /sys/rotate-root and the signed /metrics. AWS
// has no such calls, so they get a source of their own rather than
// kms.amazonaws.com: a name AWS may later give a KMS operation cannot
// collide with them, scripts that read KMS events see only KMS
// operations, and `lookup-events` with the EventSource attribute lists
// every operator action at once. It is not an AWS host name on purpose.
const SourceSys = "trent.sys"

// NewSysEvent begins the event of an operator request with what the
// request says: time, source address, user agent, and the access key its
// Authorization header claims (an unsigned request is Unknown with none).
// The installation fills the region and account (Backend.Record).
func NewSysEvent(r *http.Request, name string, readOnly bool) *audit.Event {
	ev := audit.NewAPICall(time.Now(), SourceSys, name, readOnly)
	ev.SourceIPAddress = sourceIP(r)
	ev.UserAgent = clip(r.UserAgent(), maxAuditedAgent)
	claimedIdentity(r, ev)
	return ev
}

// SysErrorCode is the errorCode and errorMessage an operator request's
// event records for err, chosen as its answer's status is.
func SysErrorCode(err error) (code, message string) {
	var ae *apierr.Error
	switch {
	case errors.Is(err, ErrForbidden):
		return "AccessDeniedException", err.Error()
	case errors.Is(err, ErrRefused):
		return "InvalidRequestException", err.Error()
	case errors.Is(err, ErrConflict):
		return "ConflictException", err.Error()
	case errors.As(err, &ae) && ae.Code != apierr.KMSInternal:
		return ae.Code, ae.Message
	}
	return "InternalFailure", "The operation failed; the server's log says why."
}

// maxSealedActionScan bounds how much of a Query body answered while
// sealed is read to name its Action in the event.
const maxSealedActionScan = 4 << 10

// sealedEvent is the event of an API request answered 503 while sealed:
// what the request claims, as for an unauthenticated call — the service
// and operation it names and the access key of its Authorization header.
func sealedEvent(r *http.Request, requestID string, query bool) *audit.Event {
	source, name := audit.SourceKMS, "Unknown"
	if query {
		source = audit.SourceIAM
		if queryService(r, sigv4.Auth{}).Name == "sts" {
			source = audit.SourceSTS
		}
		if a := r.URL.Query().Get("Action"); a != "" {
			name = clip(a, 128)
		} else if r.Body != nil {
			// Only the Action is taken from what is read; SDKs send it first.
			head, _ := io.ReadAll(io.LimitReader(r.Body, maxSealedActionScan))
			if a := actionOf(head); a != "" {
				name = a
			}
			clear(head)
		}
	} else if n, ok := strings.CutPrefix(target(r), targetPrefix); ok && n != "" {
		name = clip(n, 128)
	} else if n, ok := cloudtrail.Operation(target(r)); ok {
		source = audit.SourceCloudTrail
		if n != "" {
			name = clip(n, 128)
		}
	}
	ev := audit.NewAPICall(time.Now(), source, name, false)
	ev.RequestID = requestID
	ev.SourceIPAddress = sourceIP(r)
	ev.UserAgent = clip(r.UserAgent(), maxAuditedAgent)
	claimedIdentity(r, ev)
	return ev
}
