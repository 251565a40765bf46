package server

import (
	"context"
	"mime"
	"net/http"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/sigv4"
)

// QueryRequest is what the dispatch layer knows of an IAM or STS request
// besides its operation and input.
type QueryRequest struct {
	// Service is "iam" or "sts", from the SigV4 credential scope.
	Service   string
	Caller    *identity.Caller
	RequestID string
	SourceIP  string
	// Region is the credential scope's region.
	Region          string
	SecureTransport bool
	// Audit is the request's audit event (nil when audit is off), for the
	// dispatch layer to fill with parameters and response elements.
	Audit *audit.Event
}

// QueryAPI serves the IAM and STS operations. It authorizes the operation
// for the caller before running it (internal/iam implements it); the server
// only authenticates, decodes and encodes.
type QueryAPI interface {
	ServeQuery(ctx context.Context, r *QueryRequest, op *awsquery.Operation, in any) (any, error)
}

// isQuery reports whether r is an AWS Query-protocol request: a
// form-encoded POST with no X-Amz-Target (which names a JSON operation).
func isQuery(r *http.Request) bool {
	if target(r) != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// queryService is the Query API a request is for: the one its credential
// scope names, if the Authorization header says, else IAM (an error is
// then answered in IAM's shape, as good a guess as any).
func queryService(r *http.Request, auth sigv4.Auth) *awsquery.Service {
	service := auth.Service
	if service == "" {
		if a, err := sigv4.ParseAuthorization(r.Header.Get("Authorization")); err == nil {
			service = a.Service
		}
	}
	if service == "sts" {
		return awsquery.STS
	}
	return awsquery.IAM
}

// serveQuery runs an IAM or STS request whose body has been read and
// whose signature has been checked (verr is the outcome) into a.
func (s *Server) serveQuery(r *http.Request, body []byte, auth sigv4.Auth, verr error, a *answer) {
	a.query = queryService(r, auth)
	if verr != nil {
		a.err = verr
		return
	}
	if auth.Service != "iam" && auth.Service != "sts" {
		a.err = apierr.New(apierr.InvalidSignature, "Credential should be scoped to correct service: 'iam'. ")
		return
	}
	if s.query == nil {
		a.err = apierr.New(apierr.UnsupportedOperation, "This Trent serves no IAM or STS API.")
		return
	}
	op, in, derr := a.query.Decode(body)
	if derr != nil {
		if a.ev != nil {
			if action := actionOf(body); action != "" {
				a.ev.EventName = action
			}
		}
		a.err = derr
		return
	}
	a.op, a.queryOp = op.Name, op
	if a.ev != nil {
		a.ev.EventName = op.Name
		a.ev.ReadOnly = queryReadOnly(op.Name)
	}
	req := &QueryRequest{
		Service: auth.Service, Caller: callerOf(auth), RequestID: a.requestID,
		SourceIP: sourceIP(r), Region: auth.Region, SecureTransport: r.TLS != nil, Audit: a.ev,
	}
	ctx, cancel := s.performContext(r, a)
	defer cancel()
	a.out, a.err = s.query.ServeQuery(ctx, req, op, in)
}

// queryReadOnly is CloudTrail's readOnly for an IAM or STS operation.
func queryReadOnly(name string) bool {
	for _, p := range []string{"Get", "List", "Simulate"} {
		if strings.HasPrefix(name, p) {
			return name != "GetSessionToken"
		}
	}
	return false
}

// queryOf is the Query API r is for, or nil for a JSON request.
func queryOf(r *http.Request) *awsquery.Service {
	if !isQuery(r) {
		return nil
	}
	return queryService(r, sigv4.Auth{})
}

func (s *Server) writeQueryError(w http.ResponseWriter, svc *awsquery.Service, requestID, operation string, err error) {
	e := apierr.As(err)
	if e.Code == apierr.KMSInternal {
		s.log.Error("internal error", "request_id", requestID, "operation", operation, "err", apierr.ForLog(err))
	}
	svc.WriteError(w, requestID, e)
}

// callerOf is the caller a verified credential names: the one its lookup
// filled in, or else the root of its account (the only principal an
// access key without an identity directory can belong to).
func callerOf(auth sigv4.Auth) *identity.Caller {
	if auth.Credential == nil {
		return nil
	}
	if auth.Caller != nil {
		return auth.Caller
	}
	return identity.Root(auth.Account, auth.AccessKeyID)
}
