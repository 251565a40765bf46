package store

import "errors"

// ErrUnavailable is the database being out of reach: it could not be
// connected to, did not answer within the store's deadline, or the
// connection broke during the call (the server shut down or restarted,
// the network failed). It is not the caller's fault and may pass by
// itself; a store that wraps it has a pool that reconnects on its own.
//
// A read that fails with it returned nothing. A write that fails with it
// changed nothing — unless the error also says the commit's outcome is
// unknown (Unavailable.OutcomeUnknown): then the connection was lost
// while the database was committing, and the write may or may not have
// been stored. Either way the caller must not report success.
var ErrUnavailable = errors.New("database unavailable")

// Unavailable is the error a store returns for ErrUnavailable, with what
// the wire layer needs to choose the caller's answer. It matches
// ErrUnavailable with errors.Is and unwraps to the driver's error.
type Unavailable struct {
	// Timeout is true when the database could not be reached or did not
	// answer in time (AWS's DependencyTimeoutException), false when the
	// connection broke during the call (KMSInternalException).
	Timeout bool
	// OutcomeUnknown is true when the connection was lost during a
	// COMMIT: the write may have been stored.
	OutcomeUnknown bool
	Err            error
}

func (e *Unavailable) Error() string {
	what := "database unavailable"
	switch {
	case e.OutcomeUnknown:
		what = "database connection lost during commit (outcome unknown)"
	case e.Timeout:
		what = "database unreachable or not answering in time"
	}
	if e.Err == nil {
		return what
	}
	return what + ": " + e.Err.Error()
}

func (e *Unavailable) Is(target error) bool { return target == ErrUnavailable }

func (e *Unavailable) Unwrap() error { return e.Err }

// AsUnavailable returns the *Unavailable in err's chain, if there is one.
func AsUnavailable(err error) (*Unavailable, bool) {
	return errors.AsType[*Unavailable](err)
}
