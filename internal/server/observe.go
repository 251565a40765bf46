package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/cloudtrail"
	"github.com/trent-kms/trent/internal/kms"
)

// Observer is told of every API request: when it starts, and how it was
// answered (internal/metrics implements it). Both are on the request's
// path, so they must cost little more than an atomic add.
type Observer interface {
	Start()
	// Finish gets the service (kms, iam, sts, cloudtrail), the operation
	// ("unknown" if none was recognized), the outcome ("ok" or the AWS
	// error code answered) and the time from arrival to answer.
	Finish(service, operation, outcome string, d time.Duration)
}

// ObserveWith makes s report every API request to o. Call it before s
// serves.
func (s *Server) ObserveWith(o Observer) { s.obs = o }

// Unknown is the operation of a request whose operation is not one of
// Trent's (or could not be read), in metrics and logs.
const Unknown = "unknown"

// begin starts the accounting of a request.
func (s *Server) begin() time.Time {
	if s.obs != nil {
		s.obs.Start()
	}
	return time.Now()
}

// finish reports an answered request to the observer and, at debug
// level, logs one line for it: never its body nor its answer, only what
// the answer was.
func (s *Server) finish(r *http.Request, a *answer, start time.Time) {
	debug := s.log.Enabled(r.Context(), slog.LevelDebug)
	if s.obs == nil && !debug {
		return
	}
	d := time.Since(start)
	service, op := serviceOf(r, a), a.op
	if op == "" {
		op = operationOf(r, a)
	}
	outcome := outcomeOf(a)
	if s.obs != nil {
		s.obs.Finish(service, op, outcome, d)
	}
	if debug {
		s.log.LogAttrs(context.Background(), slog.LevelDebug, "request",
			slog.String("request_id", a.requestID), slog.String("service", service),
			slog.String("operation", op), slog.String("outcome", outcome),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("source_ip", sourceIP(r)))
	}
}

// outcomeOf is "ok" or the AWS error code a was answered with.
func outcomeOf(a *answer) string {
	if a.err == nil {
		return "ok"
	}
	if a.query != nil {
		return a.query.WireError(a.err).Code
	}
	return apierr.As(a.err).Code
}

// serviceOf is the API a request was for, as the server routed it.
func serviceOf(r *http.Request, a *answer) string {
	if a.query != nil {
		return a.query.Name
	}
	if _, ok := cloudtrail.Operation(target(r)); ok {
		return "cloudtrail"
	}
	return "kms"
}

// operationOf names the operation of a request refused before dispatch
// (a bad signature, a body too large) when its target is one of Trent's;
// anything else is Unknown, so that no client can invent label values.
func operationOf(r *http.Request, a *answer) string {
	if a.query != nil {
		return Unknown
	}
	target := target(r)
	if name, ok := strings.CutPrefix(target, targetPrefix); ok {
		if op, found := kms.Lookup(name); found {
			return op.Name
		}
	}
	return Unknown
}

// ObserveWith makes f report to o the API requests it refuses while
// sealed, so that an operator's error rates show clients turned away
// (the unsealed Server reports the rest). Call it before f serves.
func (f *Front) ObserveWith(o Observer) { f.obs = o }

// refuseSealed answers an API request while sealed and reports it, under
// the service and operation its headers name (the body is not read) and
// the error code it was answered.
func (f *Front) refuseSealed(w http.ResponseWriter, r *http.Request) {
	if f.obs == nil || r.URL.Path != "/" {
		f.writeSealed(w, r)
		return
	}
	f.obs.Start()
	start := time.Now()
	f.writeSealed(w, r)
	a := &answer{query: queryOf(r), err: apierr.New(apierr.ServiceUnavailable, SealedMessage)}
	f.obs.Finish(serviceOf(r, a), operationOf(r, a), outcomeOf(a), time.Since(start))
}
