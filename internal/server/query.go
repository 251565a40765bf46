package server

import (
	"context"
	"mime"
	"net/http"

	"github.com/trent-kms/trent/internal/apierr"
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
	if r.Header.Get("X-Amz-Target") != "" {
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

// serveQuery answers an IAM or STS request whose body has been read and
// whose signature has been checked (verr is the outcome).
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, body []byte, requestID string, auth sigv4.Auth, verr error) {
	svc := queryService(r, auth)
	if verr != nil {
		s.writeQueryError(w, svc, requestID, "", verr)
		return
	}
	if auth.Service != "iam" && auth.Service != "sts" {
		s.writeQueryError(w, svc, requestID, "", apierr.New(apierr.InvalidSignature,
			"Credential should be scoped to correct service: 'iam'. "))
		return
	}
	if s.query == nil {
		s.writeQueryError(w, svc, requestID, "", apierr.New(apierr.UnsupportedOperation, "This Trent serves no IAM or STS API."))
		return
	}
	op, in, derr := svc.Decode(body)
	if derr != nil {
		s.writeQueryError(w, svc, requestID, "", derr)
		return
	}
	req := &QueryRequest{
		Service: auth.Service, Caller: callerOf(auth), RequestID: requestID,
		SourceIP: sourceIP(r), Region: auth.Region, SecureTransport: r.TLS != nil,
	}
	out, err := s.query.ServeQuery(r.Context(), req, op, in)
	if err != nil {
		s.writeQueryError(w, svc, requestID, op.Name, err)
		return
	}
	svc.WriteResult(w, requestID, op, out)
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
