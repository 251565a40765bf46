// Package server is Trent's HTTP front: it routes requests, reads bodies
// within bounds, authenticates them with SigV4 and dispatches them to the
// KMS operation table. Every operation goes through the same path, so
// authentication (and, later, authorization and audit) cannot be skipped
// by a handler.
package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/cloudtrail"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/throttle"
)

const targetPrefix = "TrentService."

var errTooLarge = apierr.New(apierr.RequestEntityTooLarge, "Request body is larger than %d bytes.", awsproto.MaxBodyBytes)

// Server handles Trent's HTTP API.
type Server struct {
	kms      *kms.Service
	query    QueryAPI
	trail    CloudTrailAPI
	audit    AuditLog
	verifier *sigv4.Verifier
	log      *slog.Logger
	bufs     sync.Pool
	bodies   bodyBudget
	reads    bodyReads
	obs      Observer // observe.go
}

// New returns a Server for the KMS API. It serves IAM and STS too once
// ServeQueryWith names what serves them.
func New(svc *kms.Service, verifier *sigv4.Verifier, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{kms: svc, verifier: verifier, log: log,
		bufs: sync.Pool{New: func() any { return new(bodyBuffer) }}}
}

// AuditLog is the side of the audit log (internal/audit.Log) the server
// uses: Ready before anything is performed, Record before the answer is
// released.
type AuditLog interface {
	Ready() error
	Record(ctx context.Context, evs ...*audit.Event) error
}

// AuditWith makes s record one audit event per API request in l, durably
// before the request is answered, and refuse requests while l cannot
// write. Call it before s serves.
func (s *Server) AuditWith(l AuditLog) {
	if auditCompiledOut {
		s.log.Warn("this binary was built with -tags trent_noaudit, for measuring only: requests are NOT audited")
		return
	}
	s.audit = l
}

// ServeQueryWith makes s answer AWS Query-protocol requests (IAM and STS)
// with q. Call it before s serves.
func (s *Server) ServeQueryWith(q QueryAPI) { s.query = q }

// CloudTrailAPI serves CloudTrail's JSON operations (internal/cloudtrail
// implements it). It authorizes each call itself; the server only
// authenticates, routes and encodes.
type CloudTrailAPI interface {
	Call(ctx context.Context, name string, r *cloudtrail.Request, body []byte) (any, error)
}

// ServeCloudTrailWith makes s answer CloudTrail requests (X-Amz-Target
// cloudtrail.TargetPrefix… or its short form) with c. Call it before s serves.
func (s *Server) ServeCloudTrailWith(c CloudTrailAPI) { s.trail = c }

// HTTPServer wraps h in an http.Server whose timeouts and header limit keep
// slow or hostile clients from holding connections or memory.
func HTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	requestID := ids.NewUUID()
	// AWS's x-amzn-RequestId, under the canonical key Header.Set would
	// compute: assigning it directly saves canonicalizing it per request.
	w.Header()["X-Amzn-Requestid"] = []string{requestID}
	var start time.Time // set once the request counts as an API request
	defer func() {
		if p := recover(); p != nil {
			if !start.IsZero() && s.obs != nil {
				s.obs.Finish(serviceOf(r, &answer{query: queryOf(r)}), Unknown, apierr.KMSInternal, time.Since(start))
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			// The stack is what makes a panic diagnosable; it stays in the
			// log and the caller sees a bare KMSInternalException.
			s.log.Error("panic in handler", "request_id", requestID, "panic", p, "stack", string(debug.Stack()))
			awsproto.WriteError(w, apierr.Internal(errors.New("panic")))
		}
	}()
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	start = s.begin()
	if s.audit != nil {
		// A log that cannot write refuses the request before anything is
		// performed: no request runs unrecorded.
		if err := s.audit.Ready(); err != nil {
			_, trail := cloudtrail.Operation(target(r))
			a := &answer{requestID: requestID, query: queryOf(r), err: auditError(err), trail: trail}
			s.write(w, a)
			s.finish(r, a, start)
			return
		}
	}
	buf := s.bufs.Get().(*bodyBuffer)
	buf.Reset()
	defer func() {
		// The body may hold plaintext: wipe it before the buffer is reused
		// or left to the garbage collector.
		clear(buf.Bytes())
		buf.limit = io.LimitedReader{}
		if buf.Cap() <= 64<<10 {
			s.bufs.Put(buf)
		}
	}()
	a := s.handle(w, r, buf, requestID)
	s.databaseTrouble(a)
	if a.trail {
		a.err = cloudTrailFault(a.err) // before the event takes its code
	}
	if a.ev != nil {
		s.record(r, a)
	}
	s.write(w, a)
	s.finish(r, a, start)
}

// bodyBuffer is a request body's pooled buffer, with the reader that
// bounds it (a field, so that bounding allocates nothing).
type bodyBuffer struct {
	bytes.Buffer
	limit io.LimitedReader
}

// answer is what a request is answered with, and its audit event.
type answer struct {
	requestID string
	// query is the Query API of an IAM or STS request (nil for JSON).
	query   *awsquery.Service
	queryOp *awsquery.Operation
	op      string // the operation's name, for logs
	trail   bool   // a CloudTrail request: its faults are AWS's common ones
	out     any
	err     error
	ev      *audit.Event
	evStore eventStore // where ev lives
	caller  string     // the caller's account, "" if unknown
	// kmsReq is the KMS request handle dispatches, allocated with the
	// answer.
	kmsReq kms.Request
	// checked is what the verifier checked before the body was read.
	checked sigv4.Checked
}

// bodyReads are the requests reading their bodies, so that PauseBodyReads
// can cut them short. Each is keyed by its pooled body buffer, unique to it
// while it reads; the ResponseController is made only at a pause, so that
// a request on the hot path allocates nothing for it.
type bodyReads struct {
	mu     sync.Mutex
	m      map[*bodyBuffer]http.ResponseWriter
	paused int
}

// start registers a request about to read its body into buf; false while
// the reads are paused.
func (b *bodyReads) start(buf *bodyBuffer, w http.ResponseWriter) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paused > 0 {
		return false
	}
	if b.m == nil {
		b.m = make(map[*bodyBuffer]http.ResponseWriter)
	}
	b.m[buf] = w
	return true
}

// done unregisters buf's request and reports whether the reads were
// paused meanwhile (so a failed read was cut short, not the client's
// fault).
func (b *bodyReads) done(buf *bodyBuffer) (paused bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, buf)
	return b.paused > 0
}

// errPaused answers a request whose body read a pause cut short or
// refused: a 503, which the SDKs retry.
var errPaused = apierr.New(apierr.ServiceUnavailable, "Trent is sealing or rotating its root key; retry the request.")

// PauseBodyReads ends the body reads under way at once (their requests
// are answered errPaused) and refuses new ones until resume is called. A
// seal, and a root-key rotation's barrier, call it before they wait for
// the requests in flight: a client sending its body slowly must not hold
// the key material in memory, or every other request behind the barrier,
// for as long as the read timeout lets it (review, December 8).
func (s *Server) PauseBodyReads() (resume func()) {
	b := &s.reads
	b.mu.Lock()
	defer b.mu.Unlock()
	b.paused++
	for _, w := range b.m {
		// An error means the connection cannot take deadlines; its read
		// then ends by the server's own timeout.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.paused--
			b.mu.Unlock()
		})
	}
}

// maxBodyBytesInFlight bounds the request bodies the server reads and
// holds at once. The SDKs' requests are a few KiB (Encrypt's plaintext
// is at most 4 KiB); a body may be up to awsproto.MaxBodyBytes (1 MiB), so
// this admits 64 of those at once and thousands of ordinary requests.
const maxBodyBytesInFlight = 64 << 20

// bodyBudget counts the body bytes reserved by requests in flight.
type bodyBudget struct {
	n      atomic.Int64
	warned atomic.Int64 // when a refusal was last logged, Unix seconds
}

// shouldWarn says whether a refusal is to be logged: once a second at
// most, so that a flood does not flood the log too.
func (b *bodyBudget) shouldWarn() bool {
	now := time.Now().Unix()
	last := b.warned.Load()
	return now > last && b.warned.CompareAndSwap(last, now)
}

// take reserves n bytes, or reports that the bound would be passed.
func (b *bodyBudget) take(n int64) bool {
	if b.n.Add(n) > maxBodyBytesInFlight {
		b.n.Add(-n)
		return false
	}
	return true
}

func (b *bodyBudget) give(n int64) { b.n.Add(-n) }

// handle authenticates, decodes and dispatches a request, and says how to
// answer it. It writes nothing, so that the answer can wait for its audit
// event to be durable.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, buf *bodyBuffer, requestID string) *answer {
	a := &answer{requestID: requestID, query: queryOf(r)}
	if s.audit != nil {
		a.ev = s.newEvent(r, a, requestID)
	}
	if r.ContentLength > awsproto.MaxBodyBytes {
		a.err = errTooLarge
		return a
	}
	// Everything but the signature is checked before the body is read: a
	// client without a valid credential cannot make the server hold a
	// body, nor get a 100 Continue.
	if err := s.verifier.Check(r, &a.checked); err != nil {
		if a.query != nil {
			s.serveQuery(r, nil, sigv4.Auth{}, err, a)
		} else {
			a.err = err
		}
		return a
	}
	// And the bodies held at once are bounded, so that even clients with
	// valid credentials cannot hold the server's memory by sending slowly.
	reserved := r.ContentLength
	if reserved < 0 {
		reserved = awsproto.MaxBodyBytes + 1 // chunked: up to the bound
	}
	if !s.bodies.take(reserved) {
		if s.bodies.shouldWarn() {
			s.log.Warn("request bodies in flight at their bound: requests refused with ThrottlingException", "bound_bytes", maxBodyBytesInFlight)
		}
		a.err = apierr.New(apierr.Throttling, "%s", throttle.Message)
		return a
	}
	defer s.bodies.give(reserved)
	if !s.reads.start(buf, w) {
		a.err = errPaused
		return a
	}
	if r.ContentLength > 0 {
		// The whole body at once, with the room ReadFrom wants for its
		// final read: no doubling and copying as it arrives.
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	// One byte past the bound tells a body over it from one at it.
	buf.limit = io.LimitedReader{R: r.Body, N: awsproto.MaxBodyBytes + 1}
	_, err := buf.ReadFrom(&buf.limit)
	if paused := s.reads.done(buf); err != nil {
		// A truncated body or broken chunking; the client may be gone.
		s.log.Debug("read request body", "request_id", requestID, "err", err)
		a.err = apierr.New(apierr.Serialization, "Could not read the request body.")
		if paused {
			a.err = errPaused
		}
		return a
	}
	if buf.Len() > awsproto.MaxBodyBytes {
		a.err = errTooLarge
		return a
	}
	body := buf.Bytes()

	auth, err := s.verifier.VerifyChecked(r, body, &a.checked)
	if auth.Credential != nil && a.ev != nil {
		caller := callerOf(auth)
		a.caller = caller.Principal.Account
		a.ev.UserIdentity = audit.IdentityOf(caller)
		a.ev.RecipientAccountID = a.caller
		a.ev.AWSRegion = auth.Region
	}
	if a.query != nil {
		s.serveQuery(r, body, auth, err, a)
		return a
	}
	if err != nil {
		a.err = err
		return a
	}
	// JSON requests are routed by their target's prefix, and each must be
	// signed for its own service: a signature scoped to kms must not read
	// the audit log, nor one scoped to cloudtrail use a key.
	if name, ok := cloudtrail.Operation(target(r)); ok {
		s.serveCloudTrail(r, body, auth, name, a)
		return a
	}
	if auth.Service != "kms" {
		a.err = apierr.New(apierr.InvalidSignature, "Credential should be scoped to correct service: 'kms'. ")
		return a
	}
	name, ok := strings.CutPrefix(target(r), targetPrefix)
	op, found := kms.Lookup(name)
	if !ok || !found {
		a.err = apierr.New(apierr.UnknownOperation, "")
		return a
	}
	a.op = op.Name
	req := &a.kmsReq
	*req = kms.Request{
		Caller:          callerOf(auth),
		Region:          auth.Region,
		RequestID:       requestID,
		SourceIP:        sourceIP(r),
		SecureTransport: r.TLS != nil,
		Audit:           a.ev,
	}
	if a.ev != nil {
		a.ev.ReadOnly = op.ReadOnly
	}
	ctx, cancel := s.performContext(r, a)
	defer cancel()
	a.out, a.err = s.kms.Call(ctx, op, req, body)
	return a
}

// serveCloudTrail runs an authenticated CloudTrail request into a.
func (s *Server) serveCloudTrail(r *http.Request, body []byte, auth sigv4.Auth, name string, a *answer) {
	if auth.Service != "cloudtrail" {
		a.err = apierr.New(apierr.InvalidSignature, "Credential should be scoped to correct service: 'cloudtrail'. ")
		return
	}
	if s.trail == nil || name == "" {
		a.err = apierr.New(apierr.UnknownOperation, "")
		return
	}
	a.op, a.trail = name, true
	if a.ev != nil {
		// Trent serves only CloudTrail's LookupEvents, which reads.
		a.ev.ReadOnly = true
	}
	req := &cloudtrail.Request{
		Caller: callerOf(auth), RequestID: a.requestID, SourceIP: sourceIP(r),
		Region: auth.Region, SecureTransport: r.TLS != nil, Audit: a.ev,
	}
	a.out, a.err = s.trail.Call(r.Context(), name, req, body)
}

// write sends the answer in the request's protocol.
func (s *Server) write(w http.ResponseWriter, a *answer) {
	if a.query != nil {
		if a.err != nil {
			s.writeQueryError(w, a.query, a.requestID, a.op, a.err)
			return
		}
		a.query.WriteResult(w, a.requestID, a.queryOp, a.out)
		return
	}
	if a.err != nil {
		if a.trail {
			a.err = cloudTrailFault(a.err)
		}
		s.writeError(w, a.requestID, a.op, a.err)
		return
	}
	awsproto.Encode(w, a.out)
}

// writeError answers err. An internal error's cause goes to the log, with
// the request id the caller sees, because the caller gets none of it.
func (s *Server) writeError(w http.ResponseWriter, requestID, operation string, err error) {
	e := apierr.As(err)
	if e.Code == apierr.KMSInternal || e.Code == apierr.InternalFailure {
		s.log.Error("internal error", "request_id", requestID, "operation", operation, "err", apierr.ForLog(err))
	}
	awsproto.WriteError(w, e)
}

// target is the request's X-Amz-Target. net/http stores incoming header
// names canonicalized, so reading the map directly is Header.Get without
// canonicalizing the name again on each of a request's several reads.
func target(r *http.Request) string {
	if v := r.Header["X-Amz-Target"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
