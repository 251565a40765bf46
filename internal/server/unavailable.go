package server

import (
	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/store"
)

// msgDependencyTimeout is AWS's description of DependencyTimeoutException.
const msgDependencyTimeout = "The system timed out while trying to fulfill the request. You can retry the request."

// databaseTrouble answers a request that failed because the database was
// out of reach (store.ErrUnavailable anywhere in err's chain) with AWS's
// server faults, whatever the handler made of the error: the database not
// reachable or not answering in time is DependencyTimeoutException, a
// connection that broke during the call (a COMMIT whose outcome is unknown
// among them) KMSInternalException; both are HTTP 500, which the AWS SDKs
// retry. A client error (4xx) would tell the caller its request was wrong
// — a key not found, access denied — when only the database was away. IAM
// and STS answer both as their own internal failure (awsquery). Other
// errors are returned as they are.
func (s *Server) databaseTrouble(a *answer) {
	u, ok := store.AsUnavailable(a.err)
	if !ok {
		return
	}
	if u.Timeout && !u.OutcomeUnknown {
		// writeError logs only internal errors; this one the operator
		// wants to see too.
		s.log.Warn("database unavailable", "request_id", a.requestID, "operation", a.op, "err", apierr.ForLog(a.err))
		a.err = &apierr.Error{Code: apierr.DependencyTimeout, Message: msgDependencyTimeout, Cause: a.err}
		return
	}
	a.err = &apierr.Error{Code: apierr.KMSInternal, Cause: a.err}
}

// msgInternalFailure is AWS's description of the common InternalFailure.
const msgInternalFailure = "The request processing has failed because of an unknown error, exception or failure."

// cloudTrailFault answers a CloudTrail request's server fault as CloudTrail
// does: KMS's fault names (KMSInternalException, DependencyTimeoutException
// from the database or the audit log) are not CloudTrail's, whose API has
// only AWS's common InternalFailure (HTTP 500, which the SDKs retry).
// Client errors and nil pass unchanged.
func cloudTrailFault(err error) error {
	if err == nil {
		return nil
	}
	switch e := apierr.As(err); e.Code {
	case apierr.KMSInternal, apierr.DependencyTimeout, apierr.KeyUnavailable:
		return &apierr.Error{Code: apierr.InternalFailure, Message: msgInternalFailure, Cause: e}
	}
	return err
}
