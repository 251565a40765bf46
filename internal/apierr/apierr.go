// Package apierr defines the errors Trent's service layer returns to the wire
// layer: an AWS exception name and its message. Service code builds them with
// the constructors below; only internal/awsproto turns them into HTTP status
// codes and JSON bodies. Nothing here may carry plaintext or key material: the
// message is shown to the caller and may be written to logs and audit events.
package apierr

import (
	"errors"
	"fmt"
	"log/slog"
	"unicode/utf8"
)

// Exception names as AWS KMS spells them on the wire (the "__type" member).
const (
	AccessDenied               = "AccessDeniedException"
	AlreadyExists              = "AlreadyExistsException"
	Conflict                   = "ConflictException"
	DependencyTimeout          = "DependencyTimeoutException"
	Disabled                   = "DisabledException"
	DryRunOperation            = "DryRunOperationException"
	ExpiredToken               = "ExpiredTokenException"
	IncorrectKey               = "IncorrectKeyException"
	InvalidAliasName           = "InvalidAliasNameException"
	InvalidArn                 = "InvalidArnException"
	InvalidCiphertext          = "InvalidCiphertextException"
	InvalidGrantId             = "InvalidGrantIdException"
	InvalidGrantToken          = "InvalidGrantTokenException"
	InvalidKeyUsage            = "InvalidKeyUsageException"
	InvalidMarker              = "InvalidMarkerException"
	InvalidSignature           = "InvalidSignatureException"
	KMSInternal                = "KMSInternalException"
	KMSInvalidMac              = "KMSInvalidMacException"
	KMSInvalidSignature        = "KMSInvalidSignatureException"
	KMSInvalidState            = "KMSInvalidStateException"
	KeyUnavailable             = "KeyUnavailableException"
	LimitExceeded              = "LimitExceededException"
	MalformedPolicyDocument    = "MalformedPolicyDocumentException"
	MissingAuthenticationToken = "MissingAuthenticationTokenException"
	IncompleteSignature        = "IncompleteSignatureException"
	NotFound                   = "NotFoundException"
	RequestEntityTooLarge      = "RequestEntityTooLargeException"
	Serialization              = "SerializationException"
	// ServiceUnavailable is not a KMS exception: Trent answers it, with
	// HTTP 503, to every request while it is sealed. KMS's own faults
	// (KMSInternalException and the like) are 500s that say something
	// broke; 503 says "not now, retry", which is what a sealed server
	// means, and the AWS SDKs retry a 503 with backoff.
	ServiceUnavailable = "ServiceUnavailableException"
	// InternalFailure is AWS's common error for a server fault in a
	// service without faults of its own: Trent's CloudTrail answers it
	// where KMS answers KMSInternalException or DependencyTimeoutException.
	InternalFailure      = "InternalFailure"
	Tag                  = "TagException"
	Throttling           = "ThrottlingException"
	UnknownOperation     = "UnknownOperationException"
	UnrecognizedClient   = "UnrecognizedClientException"
	UnsupportedOperation = "UnsupportedOperationException"
	Validation           = "ValidationException"

	// CloudTrail's LookupEvents answers these, in the same JSON shape.
	InvalidLookupAttributes = "InvalidLookupAttributesException"
	InvalidTimeRange        = "InvalidTimeRangeException"
	InvalidMaxResults       = "InvalidMaxResultsException"
	InvalidNextToken        = "InvalidNextTokenException"
	InvalidEventCategory    = "InvalidEventCategoryException"

	// IAMMalformedPolicyDocument is IAM's code (Query protocol, no
	// "Exception" suffix) for a policy document IAM or STS refuses.
	IAMMalformedPolicyDocument = "MalformedPolicyDocument"
)

// Error is an AWS-shaped error: the exception name and the message the caller
// sees. A nil-message exception (InvalidCiphertextException, for one) has
// Message "" and is sent without a message member, as AWS does.
type Error struct {
	Code    string
	Message string
	// Cause is kept for logs only; it is never sent to the caller.
	Cause error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// LogValue makes slog show the cause, which Error leaves out: an internal
// error logged by its Error text alone says only "KMSInternalException".
func (e *Error) LogValue() slog.Value { return ForLog(e).LogValue() }

// ForLog returns err for a log line: its Error text followed by the Cause
// of each *Error in its chain, which Error leaves out so that the text can
// never reach a caller. Use it wherever an error that may wrap an *Error is
// logged (slog.Any("err", ForLog(err))); never where the caller or an audit
// event sees the result.
func ForLog(err error) slog.LogValuer { return logView{err} }

type logView struct{ err error }

func (v logView) LogValue() slog.Value {
	if v.err == nil {
		return slog.StringValue("<nil>")
	}
	text := v.err.Error()
	var e *Error
	if errors.As(v.err, &e) && e.Cause != nil {
		text += " (cause: " + logView{e.Cause}.LogValue().String() + ")"
	}
	return slog.StringValue(text)
}

// New returns an Error with a formatted message.
func New(code, format string, args ...any) *Error {
	if len(args) == 0 {
		return &Error{Code: code, Message: format}
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure. The caller sees KMSInternalException
// with no detail; the cause stays in the server's log.
func Internal(cause error) *Error {
	return &Error{Code: KMSInternal, Cause: cause}
}

// As extracts the *Error from err; anything else becomes an internal error so
// that an unexpected failure never leaks its text to the caller.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Is reports whether err is an *Error with the given code.
func Is(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// HTTPStatus is the status code AWS KMS uses for an exception: 500 for the
// three server faults, 413 for a body over the cap, 400 for everything else
// (KMS answers NotFoundException and AccessDeniedException with 400 too),
// and Trent's 503 while sealed.
func HTTPStatus(code string) int {
	switch code {
	case KMSInternal, DependencyTimeout, KeyUnavailable, InternalFailure:
		return 500
	case RequestEntityTooLarge:
		return 413
	case ServiceUnavailable:
		return 503
	}
	return 400
}

// ClipMessage returns m if it is at most n bytes, else its longest prefix
// of whole characters that leaves room for "...", and "...": messages
// repeat parts of requests, and what carries them (an answer, an audit
// event) bounds them.
func ClipMessage(m string, n int) string {
	const mark = "..."
	if len(m) <= n {
		return m
	}
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(m[cut]) {
		cut--
	}
	return m[:cut] + mark
}
