package awsquery

import (
	"net/http"

	"github.com/trent-kms/trent/internal/apierr"
)

// Error codes as IAM and STS spell them in <Error><Code>. An *apierr.Error
// meant for a Query client carries one of these as its Code.
//
// The modeled IAM and STS errors use the code of their awsQueryError trait,
// which is what the SDKs match on: IAM drops the "Exception" suffix
// (NoSuchEntity), while four STS errors keep it (ExpiredTokenException,
// RegionDisabledException); both are reproduced exactly.
const (
	// Errors common to AWS Query services (IAM and STS API References,
	// "Common Errors").
	AccessDenied                = "AccessDenied"
	ExpiredToken                = "ExpiredToken"
	IncompleteSignature         = "IncompleteSignature"
	InternalFailure             = "InternalFailure"
	InvalidAction               = "InvalidAction"
	InvalidClientTokenId        = "InvalidClientTokenId"
	InvalidParameterCombination = "InvalidParameterCombination"
	InvalidParameterValue       = "InvalidParameterValue"
	InvalidQueryParameter       = "InvalidQueryParameter"
	MalformedQueryString        = "MalformedQueryString"
	MissingAction               = "MissingAction"
	MissingAuthenticationToken  = "MissingAuthenticationToken"
	MissingParameter            = "MissingParameter"
	OptInRequired               = "OptInRequired"
	RequestEntityTooLarge       = "RequestEntityTooLarge"
	RequestExpired              = "RequestExpired"
	ServiceUnavailable          = "ServiceUnavailable"
	SignatureDoesNotMatch       = "SignatureDoesNotMatch"
	Throttling                  = "Throttling"
	ValidationError             = "ValidationError"

	// IAM's modeled errors for the operations Trent serves.
	ConcurrentModification        = "ConcurrentModification"
	DeleteConflict                = "DeleteConflict"
	EntityAlreadyExists           = "EntityAlreadyExists"
	EntityTemporarilyUnmodifiable = "EntityTemporarilyUnmodifiable"
	InvalidInput                  = "InvalidInput"
	LimitExceeded                 = "LimitExceeded"
	MalformedPolicyDocument       = "MalformedPolicyDocument"
	NoSuchEntity                  = "NoSuchEntity"
	PolicyEvaluation              = "PolicyEvaluation"
	PolicyNotAttachable           = "PolicyNotAttachable"
	ServiceFailure                = "ServiceFailure"
	UnmodifiableEntity            = "UnmodifiableEntity"

	// STS's modeled errors for the operations Trent serves
	// (MalformedPolicyDocument is shared with IAM).
	ExpiredTokenException   = "ExpiredTokenException"
	PackedPolicyTooLarge    = "PackedPolicyTooLarge"
	RegionDisabledException = "RegionDisabledException"
)

// statuses is the HTTP status AWS sends with each code. Modeled errors take
// the httpError trait of the IAM and STS models (as carried by
// aws-sdk-go-v2 service/iam v1.66.0 and service/sts v1.53.0); common errors
// the "Common Errors" pages; the recorded AWS responses in
// shared/reference/aws-recorded agree wherever they have the code
// (NoSuchEntity 404, DeleteConflict 409, MalformedPolicyDocument,
// InvalidInput, ValidationError and InvalidParameterValue 400).
var statuses = map[string]int{
	// The Common Errors pages list a JSON-style AccessDeniedException with
	// 400; IAM and STS answer an authorization failure with AccessDenied
	// and 403.
	AccessDenied: http.StatusForbidden,
	// ExpiredToken is the common error for a request signed with an
	// expired session token, not STS's modeled ExpiredTokenException. The
	// Common Errors pages do not list it; 403 is what AWS is reported to
	// send with it.
	ExpiredToken:                http.StatusForbidden,
	IncompleteSignature:         http.StatusBadRequest,
	InternalFailure:             http.StatusInternalServerError,
	InvalidAction:               http.StatusBadRequest,
	InvalidClientTokenId:        http.StatusForbidden,
	InvalidParameterCombination: http.StatusBadRequest,
	InvalidParameterValue:       http.StatusBadRequest,
	InvalidQueryParameter:       http.StatusBadRequest,
	// 404 is what the Common Errors pages document for a query string
	// with a syntax error, odd as it is.
	MalformedQueryString:       http.StatusNotFound,
	MissingAction:              http.StatusBadRequest,
	MissingAuthenticationToken: http.StatusForbidden,
	MissingParameter:           http.StatusBadRequest,
	OptInRequired:              http.StatusForbidden,
	// Not an IAM or STS code: what Trent answers for a body over the
	// server's cap, where AWS's front end would answer before IAM sees it.
	RequestEntityTooLarge: http.StatusRequestEntityTooLarge,
	RequestExpired:        http.StatusBadRequest,
	ServiceUnavailable:    http.StatusServiceUnavailable,
	SignatureDoesNotMatch: http.StatusForbidden,
	Throttling:            http.StatusBadRequest,
	ValidationError:       http.StatusBadRequest,

	ConcurrentModification:        http.StatusConflict,
	DeleteConflict:                http.StatusConflict,
	EntityAlreadyExists:           http.StatusConflict,
	EntityTemporarilyUnmodifiable: http.StatusConflict,
	InvalidInput:                  http.StatusBadRequest,
	LimitExceeded:                 http.StatusConflict,
	MalformedPolicyDocument:       http.StatusBadRequest,
	NoSuchEntity:                  http.StatusNotFound,
	PolicyEvaluation:              http.StatusInternalServerError,
	PolicyNotAttachable:           http.StatusBadRequest,
	ServiceFailure:                http.StatusInternalServerError,
	UnmodifiableEntity:            http.StatusBadRequest,

	ExpiredTokenException:   http.StatusBadRequest,
	PackedPolicyTooLarge:    http.StatusBadRequest,
	RegionDisabledException: http.StatusForbidden,
}

// HTTPStatus is the status code IAM and STS send with an error code. A code
// this package does not know is a client error, 400, as in apierr.
func HTTPStatus(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// errorType is the <Type> of an error: AWS blames the caller (Sender) for
// every 4xx and itself (Receiver) for every 5xx.
func errorType(status int) string {
	if status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// fromJSON maps the codes that layers shared with the KMS JSON protocol
// produce (the SigV4 verifier, the HTTP front, apierr.Internal) to what IAM
// and STS answer in the same situation. Service code for IAM and STS builds
// Query codes directly and never goes through this table.
var fromJSON = map[string]string{
	// AWS Query services report every signature mismatch, including an
	// expired or not-yet-valid signature, as SignatureDoesNotMatch.
	apierr.InvalidSignature:           SignatureDoesNotMatch,
	apierr.IncompleteSignature:        IncompleteSignature,
	apierr.UnrecognizedClient:         InvalidClientTokenId,
	apierr.MissingAuthenticationToken: MissingAuthenticationToken,
	apierr.AccessDenied:               AccessDenied,
	apierr.Throttling:                 Throttling,
	apierr.UnknownOperation:           InvalidAction,
	apierr.RequestEntityTooLarge:      RequestEntityTooLarge,
	apierr.Serialization:              MalformedQueryString,
	apierr.Validation:                 ValidationError,
	// A sealed Trent: IAM's and STS's common 503.
	apierr.ServiceUnavailable: ServiceUnavailable,
}

// msgMissingToken is STS's and IAM's wording; the JSON services say
// "Missing Authentication Token".
const msgMissingToken = "Request is missing Authentication Token"

// internalMessage is the description AWS gives its own failures; the cause
// stays in the server's log.
const internalMessage = "The request processing has failed because of an unknown error, exception or failure."

// WireError returns err as the service answers it: the Query error code,
// the message and nothing else. Errors that are not *apierr.Error, and the
// internal errors of the shared layers, become the service's internal
// failure without detail.
func (s *Service) WireError(err error) *apierr.Error {
	e := apierr.As(err)
	switch e.Code {
	case apierr.KMSInternal, apierr.DependencyTimeout, apierr.KeyUnavailable:
		return &apierr.Error{Code: s.internalCode, Message: internalMessage, Cause: e}
	case apierr.MissingAuthenticationToken:
		return &apierr.Error{Code: MissingAuthenticationToken, Message: msgMissingToken, Cause: e}
	}
	if code, ok := fromJSON[e.Code]; ok {
		return &apierr.Error{Code: code, Message: e.Message, Cause: e}
	}
	if (e.Code == ServiceFailure || e.Code == InternalFailure) && e.Message == "" {
		return &apierr.Error{Code: e.Code, Message: internalMessage, Cause: e.Cause}
	}
	return e
}
