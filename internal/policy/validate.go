package policy

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/ids"
)

// Messages AWS KMS documents word for word.
const (
	// AWS Knowledge Center, "How can I resolve the AWS KMS key policy error
	// 'Policy contains a statement with one or more invalid principals'?"
	msgInvalidPrincipals = "Policy contains a statement with one or more invalid principals."

	// AWS KMS Developer Guide, conditions-kms, kms:EncryptionContext:context-key.
	msgForAllValuesEncryptionContext = "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified encryption context or with an unspecified encryption context. To fix, remove ForAllValues."

	// The same guide says KMS rejects ForAllValues with aws:RequestTag/tag-key
	// too and gives the message only as a template ("…without the specified
	// [encryption context or tag]…"); this is that template filled in for tags.
	msgForAllValuesRequestTag = "OverlyPermissiveCondition:RequestTag: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified tag or with an unspecified tag. To fix, remove ForAllValues."
)

// maxEcho bounds how much of a caller-supplied value is copied into an error
// message.
const maxEcho = 128

// grammar is the policy language one parser reads. Key policies and IAM
// identity policies (inline and managed policies, permissions boundaries,
// session policies) share every rule in this file; they differ in the
// Principal, Action and Resource elements and in how errors are worded: KMS
// answers MalformedPolicyDocumentException with messages that say what is
// wrong, IAM answers MalformedPolicyDocument with its own terse texts.
type grammar struct {
	// identity selects IAM's rules: no Principal or NotPrincipal, Action
	// and Resource (or their Not forms) required, IAM's Sid rules.
	identity bool
}

var (
	keyPolicy      = grammar{}
	identityPolicy = grammar{identity: true}
)

// fault classifies a malformed document for the messages IAM uses. KMS's
// messages are written at each call site instead, because they name what
// is wrong.
type fault uint8

const (
	faultSyntax    fault = iota // anything IAM words as a syntax error
	faultJSON                   // not one well-formed JSON value
	faultPrincipal              // Principal or NotPrincipal in an identity policy
	faultNoAction
	faultNoResource
	faultActionVendor // an action without a service prefix
	faultActionColons // an action with more than one colon
	faultSidChars
	faultSidUnique
)

// IAM's messages for each fault, as IAM's API returns them. "This policy
// contains invalid Json" is recorded from AWS
// (/work/shared/reference/aws-recorded/iam.snapshot.json); the others are
// quoted in public reports of MalformedPolicyDocument errors from IAM's API
// (CreatePolicy, PutUserPolicy, PutRolePolicy).
var iamMessages = [...]string{
	faultSyntax:       "Syntax errors in policy.",
	faultJSON:         "This policy contains invalid Json",
	faultPrincipal:    "Policy document should not specify a principal.",
	faultNoAction:     "Policy statement must contain actions.",
	faultNoResource:   "Policy statement must contain resources.",
	faultActionVendor: "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
	faultActionColons: "Actions/Condition can contain only one colon.",
	faultSidChars:     "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
	faultSidUnique:    "Statement IDs (SID) in a single policy must be unique.",
}

// malformed returns the error for a document this grammar refuses: for a key
// policy, format and args make the message; for an identity policy, IAM's
// message for f.
func (g grammar) malformed(f fault, format string, args ...any) *apierr.Error {
	if g.identity {
		return apierr.New(apierr.IAMMalformedPolicyDocument, "%s", iamMessages[f])
	}
	return apierr.New(apierr.MalformedPolicyDocument, format, args...)
}

// echo quotes a caller-supplied string for an error message, cut to maxEcho
// bytes.
func echo(s string) string {
	if len(s) > maxEcho {
		s = strings.ToValidUTF8(s[:maxEcho], "") + "..."
	}
	return quote(s)
}

// sortedKeys returns m's keys in order, so that the first error reported for a
// document does not depend on map iteration order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

var (
	documentElements  = []string{"Version", "Id", "Statement"}
	statementElements = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)

func (g grammar) buildDocument(v value) (*Document, error) {
	obj, ok := v.(map[string]value)
	if !ok {
		return nil, g.malformed(faultSyntax, "Policy document must be a JSON object.")
	}
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(documentElements, k) {
			return nil, g.malformed(faultSyntax, "Policy document contains an unknown element %s.", echo(k))
		}
	}
	d := &Document{}
	var err error
	if d.Version, err = g.optionalString(obj, "Version", documentNotString); err != nil {
		return nil, err
	}
	if _, present := obj["Version"]; present && d.Version != Version2012 && d.Version != Version2008 {
		return nil, g.malformed(faultSyntax, "Policy document has an unsupported Version %s. Use %q or %q.", echo(d.Version), Version2012, Version2008)
	}
	if d.ID, err = g.optionalString(obj, "Id", documentNotString); err != nil {
		return nil, err
	}
	sv, present := obj["Statement"]
	if !present {
		return nil, g.malformed(faultSyntax, "Policy document is missing the Statement element.")
	}
	var raw []value
	switch s := sv.(type) {
	case map[string]value:
		raw = []value{s}
	case []value:
		raw = s
	default:
		return nil, g.malformed(faultSyntax, "The Statement element must be a statement object or a list of statement objects.")
	}
	if len(raw) == 0 {
		return nil, g.malformed(faultSyntax, "Policy document must contain at least one statement.")
	}
	if len(raw) > maxStatements {
		return nil, g.malformed(faultSyntax, "Policy document contains %d statements, more than the maximum of %d.", len(raw), maxStatements)
	}
	d.Statements = make([]Statement, 0, len(raw))
	for _, r := range raw {
		so, ok := r.(map[string]value)
		if !ok {
			return nil, g.malformed(faultSyntax, "The Statement element must be a statement object or a list of statement objects.")
		}
		s, err := g.buildStatement(so)
		if err != nil {
			return nil, err
		}
		d.Statements = append(d.Statements, s)
	}
	if g.identity {
		// IAM's rule, not KMS's: AWS's own key policy examples reuse Sids.
		// Terraform writes "Sid": "" on every statement, which IAM accepts,
		// so only non-empty Sids must differ.
		seen := make(map[string]bool, len(d.Statements))
		for _, st := range d.Statements {
			if st.Sid != "" && seen[st.Sid] {
				return nil, g.malformed(faultSidUnique, "")
			}
			seen[st.Sid] = true
		}
	}
	return d, nil
}

// Messages for an element that must be a string; %s is the element's name.
const (
	documentNotString  = "The %s element of the policy document must be a string."
	statementNotString = "Policy contains a statement whose %s element is not a string."
)

// optionalString returns obj[key] when it is a string, "" when absent, and an
// error worded by format for any other JSON type (null included).
func (g grammar) optionalString(obj map[string]value, key, format string) (string, error) {
	v, present := obj[key]
	if !present {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", g.malformed(faultSyntax, format, key)
	}
	return s, nil
}

func (g grammar) buildStatement(obj map[string]value) (Statement, error) {
	var s Statement
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(statementElements, k) {
			return s, g.malformed(faultSyntax, "Policy contains a statement with an unknown element %s.", echo(k))
		}
	}
	var err error
	if s.Sid, err = g.optionalString(obj, "Sid", statementNotString); err != nil {
		return s, err
	}
	if g.identity && !isAlnumString(s.Sid) {
		// IAM User Guide, "IAM JSON policy elements: Sid": IAM policies
		// allow only A-Z, a-z and 0-9; key policies allow more.
		return s, g.malformed(faultSidChars, "")
	}

	if _, present := obj["Effect"]; !present {
		return s, g.malformed(faultSyntax, "Policy contains a statement without an Effect element.")
	}
	if s.Effect, err = g.optionalString(obj, "Effect", statementNotString); err != nil {
		return s, err
	}
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return s, g.malformed(faultSyntax, "Policy contains a statement with an invalid Effect %s. The Effect must be \"Allow\" or \"Deny\".", echo(s.Effect))
	}

	if err := g.exclusive(obj, "Principal", "NotPrincipal"); err != nil {
		return s, err
	}
	p, hasP := obj["Principal"]
	np, hasNP := obj["NotPrincipal"]
	switch {
	case g.identity && (hasP || hasNP):
		// The principal of an identity policy is whoever it is attached to.
		err = g.malformed(faultPrincipal, "")
	case g.identity:
		// nothing to read
	case hasP:
		s.Principal, err = g.buildPrincipal(p)
	case hasNP:
		s.NotPrincipal, err = g.buildPrincipal(np)
	default:
		err = g.malformed(faultSyntax, "Policy contains a statement without a Principal or NotPrincipal element. Each statement in a key policy must specify a principal.")
	}
	if err != nil {
		return s, err
	}

	if err := g.exclusive(obj, "Action", "NotAction"); err != nil {
		return s, err
	}
	if s.Action, err = g.listOf(obj, "Action", validAction, "action"); err != nil {
		return s, err
	}
	if s.NotAction, err = g.listOf(obj, "NotAction", validAction, "action"); err != nil {
		return s, err
	}
	if g.identity && s.Action == nil && s.NotAction == nil {
		// A key policy statement without actions is accepted and matches
		// nothing; IAM refuses one.
		return s, g.malformed(faultNoAction, "")
	}

	if err := g.exclusive(obj, "Resource", "NotResource"); err != nil {
		return s, err
	}
	if s.Resource, err = g.listOf(obj, "Resource", validResource, "resource"); err != nil {
		return s, err
	}
	if s.NotResource, err = g.listOf(obj, "NotResource", validResource, "resource"); err != nil {
		return s, err
	}
	if g.identity && s.Resource == nil && s.NotResource == nil {
		return s, g.malformed(faultNoResource, "")
	}

	if c, present := obj["Condition"]; present {
		if s.Condition, err = g.buildCondition(c); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (g grammar) exclusive(obj map[string]value, a, b string) error {
	_, hasA := obj[a]
	_, hasB := obj[b]
	if hasA && hasB {
		return g.malformed(faultSyntax, "Policy contains a statement with both %s and %s elements. Use only one of them.", a, b)
	}
	return nil
}

// stringList returns v as a list: a string becomes a one-element list, a
// non-empty list of strings is returned as is, anything else is !ok.
func stringList(v value) (list []string, ok bool) {
	switch t := v.(type) {
	case string:
		return []string{t}, true
	case []value:
		if len(t) == 0 {
			return nil, false
		}
		list = make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			list = append(list, s)
		}
		return list, true
	}
	return nil, false
}

// listOf reads the optional string-or-list element key and checks each entry
// with valid. It returns nil when the element is absent.
func (g grammar) listOf(obj map[string]value, key string, valid func(string) bool, noun string) ([]string, error) {
	v, present := obj[key]
	if !present {
		return nil, nil
	}
	list, ok := stringList(v)
	if !ok {
		return nil, g.malformed(faultSyntax, "Policy contains a statement whose %s element is not a string or a non-empty list of strings.", key)
	}
	for _, e := range list {
		if !valid(e) {
			if g.identity {
				return nil, iamInvalidEntry(noun, e)
			}
			return nil, g.malformed(faultSyntax, "Policy contains a statement with an invalid %s %s.", noun, echo(e))
		}
	}
	return list, nil
}

// iamInvalidEntry words IAM's refusal of an action or resource entry. IAM
// echoes a bad resource unquoted ("Resource sns-topic must be in ARN format
// or \"*\"."), so this one message carries caller text, cut to maxEcho.
func iamInvalidEntry(noun, e string) *apierr.Error {
	if noun == "resource" {
		if len(e) > maxEcho {
			e = strings.ToValidUTF8(e[:maxEcho], "") + "..."
		}
		return apierr.New(apierr.IAMMalformedPolicyDocument, "Resource %s must be in ARN format or \"*\".", e)
	}
	f := faultSyntax
	switch strings.Count(e, ":") {
	case 0:
		f = faultActionVendor
	case 1:
	default:
		f = faultActionColons
	}
	return identityPolicy.malformed(f, "")
}

// buildPrincipal reads a Principal or NotPrincipal element. Every problem
// with it gets AWS's one message for invalid principals.
func (g grammar) buildPrincipal(v value) (map[string][]string, error) {
	if s, ok := v.(string); ok {
		if s != "*" {
			return nil, g.malformed(faultSyntax, msgInvalidPrincipals)
		}
		return map[string][]string{"AWS": {"*"}}, nil
	}
	obj, ok := v.(map[string]value)
	if !ok || len(obj) == 0 {
		return nil, g.malformed(faultSyntax, msgInvalidPrincipals)
	}
	out := make(map[string][]string, len(obj))
	for _, typ := range sortedKeys(obj) {
		var valid func(string) bool
		switch typ {
		case "AWS":
			valid = validAWSPrincipal
		case "Service":
			valid = validServicePrincipal
		case "Federated":
			valid = validFederatedPrincipal
		case "CanonicalUser":
			valid = validCanonicalUser
		default:
			return nil, g.malformed(faultSyntax, msgInvalidPrincipals)
		}
		list, ok := stringList(obj[typ])
		if !ok {
			return nil, g.malformed(faultSyntax, msgInvalidPrincipals)
		}
		for _, p := range list {
			if !valid(p) {
				return nil, g.malformed(faultSyntax, msgInvalidPrincipals)
			}
		}
		out[typ] = list
	}
	return out, nil
}

// validAWSPrincipal accepts "*", a 12-digit account id, and the ARNs of an
// account root, IAM user, IAM role, assumed-role session or federated user.
// Wildcards are not allowed inside an ARN, and unique ids (AIDA…, AROA…),
// which AWS shows for deleted principals, are rejected as AWS rejects them.
func validAWSPrincipal(p string) bool {
	if p == "*" || ids.IsAccountID(p) {
		return true
	}
	if strings.ContainsAny(p, "*?") {
		return false
	}
	arn, ok := splitARN(p)
	if !ok || !validPartition(arn.partition) || arn.region != "" || !ids.IsAccountID(arn.account) {
		return false
	}
	switch arn.service {
	case "iam":
		if arn.resource == "root" {
			return true
		}
		if rest, ok := strings.CutPrefix(arn.resource, "user/"); ok {
			return validIAMPathName(rest)
		}
		if rest, ok := strings.CutPrefix(arn.resource, "role/"); ok {
			return validIAMPathName(rest)
		}
	case "sts":
		if rest, ok := strings.CutPrefix(arn.resource, "assumed-role/"); ok {
			role, session, ok := strings.Cut(rest, "/")
			return ok && validIAMName(role) && validIAMName(session)
		}
		if rest, ok := strings.CutPrefix(arn.resource, "federated-user/"); ok {
			return validIAMName(rest)
		}
	}
	return false
}

// validServicePrincipal accepts a service principal name such as
// "logs.amazonaws.com" or "logs.us-east-1.amazonaws.com": a DNS name with at
// least two labels.
func validServicePrincipal(p string) bool {
	return isDNSName(p)
}

// validFederatedPrincipal accepts a web identity provider name
// ("cognito-identity.amazonaws.com", "accounts.google.com") or the ARN of an
// IAM SAML or OIDC provider.
func validFederatedPrincipal(p string) bool {
	if isDNSName(p) {
		return true
	}
	if strings.ContainsAny(p, "*?") {
		return false
	}
	arn, ok := splitARN(p)
	if !ok || !validPartition(arn.partition) || arn.service != "iam" || arn.region != "" || !ids.IsAccountID(arn.account) {
		return false
	}
	for _, prefix := range []string{"saml-provider/", "oidc-provider/"} {
		if rest, ok := strings.CutPrefix(arn.resource, prefix); ok {
			return rest != "" && isPrintableASCII(rest)
		}
	}
	return false
}

// validCanonicalUser accepts an S3 canonical user id: 64 hex digits.
func validCanonicalUser(p string) bool {
	if len(p) != 64 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !isHex(p[i]) {
			return false
		}
	}
	return true
}

// validAction accepts "*" and "service:name", where the name may hold the
// wildcards * and ? ("kms:*", "kms:ReEncrypt*", "kms:Describe?ey"). The
// service prefix may not be a wildcard.
func validAction(a string) bool {
	if a == "*" {
		return true
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" {
		return false
	}
	for i := 0; i < len(svc); i++ {
		c := svc[i]
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '*' && c != '?' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validResource accepts "*" and anything shaped like an ARN
// ("arn:partition:service:region:account:resource", wildcards allowed). In a
// key policy "*" means the key the policy is attached to.
func validResource(r string) bool {
	if r == "*" {
		return true
	}
	arn, ok := splitARN(r)
	return ok && arn.service != "" && arn.resource != ""
}

// Condition operators of the IAM policy language, without the IfExists
// suffix and the ForAnyValue:/ForAllValues: set-operator prefix.
var conditionOperators = map[string]bool{
	"StringEquals": true, "StringNotEquals": true,
	"StringEqualsIgnoreCase": true, "StringNotEqualsIgnoreCase": true,
	"StringLike": true, "StringNotLike": true,
	"NumericEquals": true, "NumericNotEquals": true,
	"NumericLessThan": true, "NumericLessThanEquals": true,
	"NumericGreaterThan": true, "NumericGreaterThanEquals": true,
	"DateEquals": true, "DateNotEquals": true,
	"DateLessThan": true, "DateLessThanEquals": true,
	"DateGreaterThan": true, "DateGreaterThanEquals": true,
	"Bool":         true,
	"BinaryEquals": true,
	"IpAddress":    true, "NotIpAddress": true,
	"ArnEquals": true, "ArnLike": true, "ArnNotEquals": true, "ArnNotLike": true,
	"Null": true,
}

const (
	forAnyValue  = "ForAnyValue:"
	forAllValues = "ForAllValues:"
)

// validOperator reports whether op is a condition operator: a known base
// operator, optionally with the IfExists suffix (not on Null) and optionally
// with a set-operator prefix (not on Null).
func validOperator(op string) bool {
	base, set := op, false
	if rest, ok := strings.CutPrefix(base, forAnyValue); ok {
		base, set = rest, true
	} else if rest, ok := strings.CutPrefix(base, forAllValues); ok {
		base, set = rest, true
	}
	base, ifExists := strings.CutSuffix(base, "IfExists")
	if base == "Null" {
		return !ifExists && !set
	}
	return conditionOperators[base]
}

func (g grammar) buildCondition(v value) (map[string]map[string][]string, error) {
	obj, ok := v.(map[string]value)
	if !ok {
		return nil, g.malformed(faultSyntax, "Policy contains a statement whose Condition element is not an object.")
	}
	out := make(map[string]map[string][]string, len(obj))
	for _, op := range sortedKeys(obj) {
		if !validOperator(op) {
			return nil, g.malformed(faultSyntax, "Policy contains a statement with an invalid condition operator %s.", echo(op))
		}
		block, ok := obj[op].(map[string]value)
		if !ok {
			return nil, g.malformed(faultSyntax, "Policy contains a statement whose condition operator %s is not followed by an object of condition keys.", echo(op))
		}
		keys := make(map[string][]string, len(block))
		for _, key := range sortedKeys(block) {
			if key == "" {
				return nil, g.malformed(faultSyntax, "Policy contains a statement with an empty condition key.")
			}
			// KMS refuses these in key policies (KMS Developer Guide,
			// conditions-kms); IAM, which does not know KMS's keys, is not
			// documented to, so identity policies keep them.
			if !g.identity && strings.HasPrefix(op, forAllValues) {
				lower := strings.ToLower(key)
				if strings.HasPrefix(lower, "kms:encryptioncontext:") {
					return nil, g.malformed(faultSyntax, msgForAllValuesEncryptionContext)
				}
				if strings.HasPrefix(lower, "aws:requesttag/") {
					return nil, g.malformed(faultSyntax, msgForAllValuesRequestTag)
				}
			}
			vals, ok := conditionValues(block[key])
			if !ok {
				return nil, g.malformed(faultSyntax, "Policy contains a statement with an invalid value for condition key %s. A condition value must be a string, boolean or number, or a non-empty list of them.", echo(key))
			}
			keys[key] = vals
		}
		out[op] = keys
	}
	if len(out) == 0 {
		return nil, nil // "Condition": {} is no condition
	}
	return out, nil
}

// conditionValues returns a condition value, or a non-empty list of them, as
// strings. Booleans and numbers keep their JSON text.
func conditionValues(v value) ([]string, bool) {
	if s, ok := conditionScalar(v); ok {
		return []string{s}, true
	}
	arr, ok := v.([]value)
	if !ok || len(arr) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := conditionScalar(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func conditionScalar(v value) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		if t {
			return "true", true
		}
		return "false", true
	case json.Number:
		return string(t), true
	}
	return "", false
}

// arn is an ARN split into its six fields; resource keeps any further colons.
type arn struct {
	partition, service, region, account, resource string
}

func splitARN(s string) (arn, bool) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[1] == "" {
		return arn{}, false
	}
	return arn{partition: f[1], service: f[2], region: f[3], account: f[4], resource: f[5]}, true
}

// validPartition accepts "aws" and the other partitions' names, all of the
// form aws-<letters>[-<letters>…] ("aws-cn", "aws-us-gov", "aws-iso-b").
func validPartition(p string) bool {
	rest, ok := strings.CutPrefix(p, "aws")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	for _, part := range strings.Split(rest, "-")[1:] {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if part[i] < 'a' || part[i] > 'z' {
				return false
			}
		}
	}
	return rest[0] == '-'
}

// validIAMName accepts an IAM user, role or session name: 1–64 characters
// from [A-Za-z0-9+=,.@_-].
func validIAMName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("+=,.@_-", rune(c)) {
			return false
		}
	}
	return true
}

// validIAMPathName accepts "name" or "path/…/name": a name preceded by
// non-empty path segments of printable ASCII (IAM paths allow ! through ~).
func validIAMPathName(s string) bool {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return validIAMName(s)
	}
	path, name := s[:i], s[i+1:]
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || !isPrintableASCII(seg) {
			return false
		}
	}
	return len(path) <= 510 && validIAMName(name)
}

// isDNSName accepts names like "logs.us-east-1.amazonaws.com": at least two
// dot-separated labels of 1–63 letters, digits and inner hyphens.
func isDNSName(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return true
}

// isPrintableASCII reports whether s holds only ! through ~.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isAlnumString reports whether s holds only A-Z, a-z and 0-9 ("" does).
func isAlnumString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
