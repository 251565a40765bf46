// Package policy is the IAM policy language: it parses and validates key
// policies the way AWS KMS checks them at CreateKey and PutKeyPolicy (Parse)
// and identity policies the way IAM checks them (ParseIdentity), writes the
// default key policy (Default), evaluates a policy against a request
// (Compile, then Compiled.Evaluate), and combines the policies bearing on a
// request into AWS's decision (Decide for a key, DecideIdentity for actions
// on no resource).
//
// Parse bounds its own work (size, nesting depth, statement count) before and
// while decoding, so callers may hand it anything a client sent. Every error
// it returns is an *apierr.Error: MalformedPolicyDocumentException for a
// document AWS would refuse, LimitExceededException for one over 32768
// bytes; ParseIdentity's are IAM's MalformedPolicyDocument.
//
// The package is pure: no I/O, no storage, no clock (the request's time
// comes in its Context). It does not decide whether a principal exists,
// apply the policy-lockout safety check, look up which policies apply to a
// caller or check grants: those need account state, which belongs to the
// service and authz layers. It also does not check the [\t\n\r\x20-\xFF]
// character set AWS enforces on the Policy parameter; the request-validation
// layer does that.
package policy

import (
	"encoding/json"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/jsonlimit"
)

// MaxSize is the key policy size quota: 32 KB (32768 bytes), not adjustable.
// It is measured in bytes of the UTF-8 document as received.
const MaxSize = 32768

// Limits on untrusted input that AWS does not document but that no real key
// policy comes near: the deepest legal element (a condition value list) sits
// at depth 6, and 32 KB holds at most about 700 of the smallest statements.
const (
	maxDepth      = 10
	maxStatements = 1000
)

// Policy language versions AWS accepts in the Version element.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Document is a parsed key policy.
//
// The struct tags make json.Marshal of a Document produce an equivalent
// policy that Parse accepts (a single-object Statement comes back as a list,
// "Principal": "*" as {"AWS": ["*"]}, scalar values as one-element lists).
type Document struct {
	Version    string      `json:"Version,omitempty"` // "" when the document has none
	ID         string      `json:"Id,omitempty"`
	Statements []Statement `json:"Statement"`
}

// Statement is one policy statement. Parse guarantees that Effect is "Allow"
// or "Deny", that exactly one of Principal and NotPrincipal is non-nil, and
// that at most one of each other pair is non-nil. List fields are never empty
// when non-nil, and map values are never empty lists.
//
// Action/NotAction and Resource/NotResource may both be nil: AWS accepts such
// a statement at CreateKey and PutKeyPolicy, and documents it as having no
// effect. An evaluator must treat it as matching no request.
type Statement struct {
	Sid    string `json:"Sid,omitempty"`
	Effect string `json:"Effect"` // "Allow" | "Deny"

	// Principal and NotPrincipal map a principal type ("AWS", "Service",
	// "Federated", "CanonicalUser") to its values. "Principal": "*" parses as
	// {"AWS": ["*"]}.
	Principal    map[string][]string `json:"Principal,omitempty"`
	NotPrincipal map[string][]string `json:"NotPrincipal,omitempty"`

	Action      []string `json:"Action,omitempty"`
	NotAction   []string `json:"NotAction,omitempty"`
	Resource    []string `json:"Resource,omitempty"`
	NotResource []string `json:"NotResource,omitempty"`

	// Condition maps an operator as written ("StringEquals",
	// "ForAnyValue:StringLike", "NumericLessThanIfExists", …) to condition
	// keys as written, and each key to its values. Boolean and number values
	// are kept as their JSON text ("true", "1e3"). A nil map means no
	// condition ("Condition": {} parses as nil); an operator with no keys is
	// kept as an empty map.
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// Parse parses and validates a key policy document. It returns an
// *apierr.Error with code MalformedPolicyDocumentException for anything AWS
// would reject, and LimitExceededException when doc is over MaxSize bytes.
//
// Parse is stricter than AWS in one documented way: it rejects an object with
// the same key twice (two "Effect" members, say), which AWS's parser is
// believed to accept with the last one winning. A policy whose meaning
// depends on which duplicate a reader honours has no place in an
// authorization decision.
func Parse(doc string) (*Document, error) {
	if len(doc) > MaxSize {
		return nil, apierr.New(apierr.LimitExceeded,
			"The key policy is %d bytes, which exceeds the maximum key policy size of %d bytes.", len(doc), MaxSize)
	}
	return parse(doc)
}

// parse is Parse without the size quota. Tests use it to reach the limits
// that the quota otherwise hides.
func parse(doc string) (*Document, error) {
	return keyPolicy.parse(doc)
}

// ParseIdentity parses and validates an IAM identity policy: an inline or
// managed policy of a user, group or role, a permissions boundary, or an STS
// session policy. The grammar is Parse's, except that Principal and
// NotPrincipal are refused, every statement needs Action or NotAction and
// Resource or NotResource, and Sids follow IAM's rules (alphanumeric, unique
// when not empty). Every error is an *apierr.Error with IAM's code
// MalformedPolicyDocument and IAM's wording.
//
// ParseIdentity applies no size quota: IAM's differ by kind of policy (2048
// characters inline for a user, 6144 for a managed policy, 2048 packed for a
// session policy, …), so the caller checks the one that applies. Its own
// bounds on nesting depth and statement count still hold.
func ParseIdentity(doc string) (*Document, error) {
	return identityPolicy.parse(doc)
}

func (g grammar) parse(doc string) (*Document, error) {
	if jsonlimit.TooDeep(doc, maxDepth) {
		return nil, g.malformed(faultSyntax, "Policy document is nested more than %d levels deep.", maxDepth)
	}
	v, err := g.decode(doc)
	if err != nil {
		return nil, err
	}
	return g.buildDocument(v)
}

// Default returns the default key policy AWS KMS writes for a key created
// through the API without a Policy, byte for byte as GetKeyPolicy returns it
// (AWS's " : " separators and two-space indentation). account should be a
// 12-digit account id; it is JSON-escaped so that no argument can change the
// document's structure.
func Default(account string) string {
	arn := quote("arn:aws:iam::" + account + ":root")
	return "{\n" +
		"  \"Version\" : \"2012-10-17\",\n" +
		"  \"Id\" : \"key-default-1\",\n" +
		"  \"Statement\" : [ {\n" +
		"    \"Sid\" : \"Enable IAM User Permissions\",\n" +
		"    \"Effect\" : \"Allow\",\n" +
		"    \"Principal\" : {\n" +
		"      \"AWS\" : " + arn + "\n" +
		"    },\n" +
		"    \"Action\" : \"kms:*\",\n" +
		"    \"Resource\" : \"*\"\n" +
		"  } ]\n" +
		"}"
}

// quote returns s as a JSON string literal without HTML escaping.
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
