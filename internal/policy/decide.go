package policy

import (
	"strconv"
	"strings"
)

// Policies are the policies that bear on one request, compiled.
type Policies struct {
	// Identity holds the caller's identity-based policies: an IAM user's
	// inline and attached policies and those of its groups, or a role's.
	Identity []*Compiled
	// Boundary is the permissions boundary of the caller's user or role;
	// nil when it has none.
	Boundary *Compiled
	// Session holds the session policies the caller's session was created
	// with (AssumeRole's Policy and PolicyArns); empty when it had none.
	// The session may do what any of them allows.
	Session []*Compiled
	// Resource is the key policy; Decide needs it, DecideIdentity ignores it.
	Resource *Compiled
	// GrantAllows says that a grant on the key covers the caller and the
	// operation and that its constraints are met. Grants are the authz
	// layer's to check; they allow, and never deny.
	GrantAllows bool
}

// References reports whether any of p's policies names the condition key
// key (lower case; Compiled.References).
func (p *Policies) References(key string) bool {
	if p.Boundary.References(key) || p.Resource.References(key) {
		return true
	}
	for _, c := range p.Identity {
		if c.References(key) {
			return true
		}
	}
	for _, c := range p.Session {
		if c.References(key) {
			return true
		}
	}
	return false
}

// Reason says why a Decision came out as it did.
type Reason uint8

const (
	_ Reason = iota
	// AllowedByResource: the key policy allows the caller itself.
	AllowedByResource
	// AllowedByIdentity: identity-based policies allow (and, for a key, the
	// key policy allows the caller's account).
	AllowedByIdentity
	// AllowedByGrant: a grant allows.
	AllowedByGrant
	// AllowedAsRoot: the caller is the root user of the account, which IAM
	// policies do not restrict (and, for a key, the key policy allows the
	// account).
	AllowedAsRoot

	DeniedByResource // an explicit Deny in the key policy
	DeniedByIdentity // an explicit Deny in an identity-based policy
	DeniedByBoundary // an explicit Deny in the permissions boundary
	DeniedBySession  // an explicit Deny in a session policy

	NoResourceAllow // implicitly denied: the key policy allows nothing here
	NoIdentityAllow // implicitly denied: no identity-based policy allows
	NoBoundaryAllow // implicitly denied: the permissions boundary does not allow
	NoSessionAllow  // implicitly denied: no session policy allows
)

var reasonNames = [...]string{
	AllowedByResource: "AllowedByResource",
	AllowedByIdentity: "AllowedByIdentity",
	AllowedByGrant:    "AllowedByGrant",
	AllowedAsRoot:     "AllowedAsRoot",
	DeniedByResource:  "DeniedByResource",
	DeniedByIdentity:  "DeniedByIdentity",
	DeniedByBoundary:  "DeniedByBoundary",
	DeniedBySession:   "DeniedBySession",
	NoResourceAllow:   "NoResourceAllow",
	NoIdentityAllow:   "NoIdentityAllow",
	NoBoundaryAllow:   "NoBoundaryAllow",
	NoSessionAllow:    "NoSessionAllow",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Decision is the outcome of Decide or DecideIdentity.
type Decision struct {
	Allowed bool
	Reason  Reason
	// Statement is the statement that decided, when one did: the Deny, or
	// the Allow of the key policy or identity policy that allowed. Its
	// Effect is NoMatch for an implicit deny, a grant or the root user.
	Statement Result
	// Policy is the index in Policies.Identity or Policies.Session of the
	// policy holding Statement, or -1.
	Policy int
}

// Decide is KMS's authorization decision for a request on a key (KMS
// Developer Guide, "Troubleshooting key access" and "Allowing users in other
// accounts to use a KMS key"; IAM User Guide, "Policy evaluation logic"):
//
//  1. An explicit Deny in any policy (key policy, identity-based policies,
//     permissions boundary, session policies) denies.
//  2. Within the key's account, a key policy Allow that names the caller
//     (ViaPrincipal) allows on its own. One that names the caller's role
//     (ViaRole) allows if the permissions boundary and the session policies
//     allow too: a boundary or session policy limits what a resource
//     policy gives a role, but not what it gives a session or user it
//     names (IAM User Guide, "Permissions boundaries for IAM entities" and
//     "Session policies").
//  3. A key policy Allow that names the caller's account, or any key
//     policy Allow for a caller from another account, allows only if the
//     caller's identity-based policies allow, and the boundary and the
//     session policies (when there are any) allow. Unlike other resource
//     policies, a KMS key policy never lets a caller from another account
//     in without an IAM policy of its own account; the account's root user
//     counts as allowed by its IAM policies.
//  4. Otherwise a grant allows, and failing that the request is implicitly
//     denied.
//
// Organizations SCPs and RCPs and VPC endpoint policies are not modelled.
// Decide does not allocate beyond what Evaluate does.
func Decide(p *Policies, req *Request) Decision {
	key := p.Resource.Evaluate(req)
	idRes, idIdx := evaluateAll(p.Identity, req)
	bnd := p.Boundary.Evaluate(req)
	sesRes, sesIdx := evaluateAll(p.Session, req)
	switch {
	case key.Effect == Deny:
		return deny(DeniedByResource, key, -1)
	case idRes.Effect == Deny:
		return deny(DeniedByIdentity, idRes, idIdx)
	case bnd.Effect == Deny:
		return deny(DeniedByBoundary, bnd, -1)
	case sesRes.Effect == Deny:
		return deny(DeniedBySession, sesRes, sesIdx)
	}

	root := req.Principal.Type == PrincipalRoot
	idOK := root || idRes.Effect == Allow
	bOK := p.Boundary == nil || bnd.Effect == Allow
	sOK := len(p.Session) == 0 || sesRes.Effect == Allow

	var reason Reason
	switch {
	case key.Effect != Allow:
		reason = NoResourceAllow
	case key.Via == ViaPrincipal && sameAccount(req):
		return Decision{Allowed: true, Reason: AllowedByResource, Statement: key, Policy: -1}
	case key.Via == ViaRole && sameAccount(req):
		if bOK && sOK {
			return Decision{Allowed: true, Reason: AllowedByResource, Statement: key, Policy: -1}
		}
		// The account path needs the same boundary and session policy,
		// so it cannot do better.
		reason = firstFailure(true, bOK, sOK)
	case idOK && bOK && sOK:
		if root {
			return Decision{Allowed: true, Reason: AllowedAsRoot, Statement: key, Policy: -1}
		}
		return Decision{Allowed: true, Reason: AllowedByIdentity, Statement: idRes, Policy: idIdx}
	default:
		reason = firstFailure(idOK, bOK, sOK)
	}
	if p.GrantAllows {
		return Decision{Allowed: true, Reason: AllowedByGrant, Statement: Result{Statement: -1}, Policy: -1}
	}
	return deny(reason, Result{Statement: -1}, -1)
}

// DecideIdentity decides a request that no resource policy governs:
// CreateKey, ListKeys, ListAliases, GenerateRandom, and IAM's and STS's own
// actions. An explicit Deny in the identity-based policies, the boundary or
// a session policy denies; the account's root user is allowed anything in
// its own account; anyone else needs an Allow from its identity-based
// policies, and from its boundary and session policies when it has them.
// p.Resource and p.GrantAllows are ignored.
func DecideIdentity(p *Policies, req *Request) Decision {
	idRes, idIdx := evaluateAll(p.Identity, req)
	bnd := p.Boundary.Evaluate(req)
	sesRes, sesIdx := evaluateAll(p.Session, req)
	switch {
	case idRes.Effect == Deny:
		return deny(DeniedByIdentity, idRes, idIdx)
	case bnd.Effect == Deny:
		return deny(DeniedByBoundary, bnd, -1)
	case sesRes.Effect == Deny:
		return deny(DeniedBySession, sesRes, sesIdx)
	}
	if req.Principal.Type == PrincipalRoot && sameAccount(req) {
		return Decision{Allowed: true, Reason: AllowedAsRoot, Statement: Result{Statement: -1}, Policy: -1}
	}
	idOK := idRes.Effect == Allow
	bOK := p.Boundary == nil || bnd.Effect == Allow
	sOK := len(p.Session) == 0 || sesRes.Effect == Allow
	if idOK && bOK && sOK {
		return Decision{Allowed: true, Reason: AllowedByIdentity, Statement: idRes, Policy: idIdx}
	}
	return deny(firstFailure(idOK, bOK, sOK), Result{Statement: -1}, -1)
}

func deny(r Reason, st Result, policy int) Decision {
	return Decision{Reason: r, Statement: st, Policy: policy}
}

func firstFailure(idOK, bOK, sOK bool) Reason {
	switch {
	case !idOK:
		return NoIdentityAllow
	case !bOK:
		return NoBoundaryAllow
	case !sOK:
		return NoSessionAllow
	}
	return NoIdentityAllow // not reached: the caller had a failure
}

// evaluateAll evaluates a list of policies as one: the first Deny, else the
// first Allow, with the index of the policy it came from.
func evaluateAll(list []*Compiled, req *Request) (Result, int) {
	best, idx := Result{Statement: -1}, -1
	for i, c := range list {
		switch r := c.Evaluate(req); r.Effect {
		case Deny:
			return r, i
		case Allow:
			if best.Effect != Allow {
				best, idx = r, i
			}
		}
	}
	return best, idx
}

// sameAccount reports whether the request's resource belongs to the
// caller's account. A resource that is not an ARN, or whose ARN has no
// account ("*", an S3 bucket), counts as the caller's own.
func sameAccount(req *Request) bool {
	start, end, ok := arnSplit(req.Resource)
	if !ok || start[4] == end[4] {
		return true
	}
	return req.Resource[start[4]:end[4]] == req.Principal.Account
}

// Message words a denial as AWS's AccessDeniedException does, for
// instance "User: arn:aws:iam::111122223333:user/bob is not authorized to
// perform: kms:Decrypt on resource: arn:aws:kms:…:key/… because no
// identity-based policy allows the kms:Decrypt action". resourceARN "" leaves
// out the "on resource" part. It returns "" for an allowed decision.
func (d Decision) Message(principalARN, action, resourceARN string) string {
	if d.Allowed {
		return ""
	}
	var b strings.Builder
	b.WriteString("User: ")
	b.WriteString(principalARN)
	b.WriteString(" is not authorized to perform: ")
	b.WriteString(action)
	if resourceARN != "" {
		b.WriteString(" on resource: ")
		b.WriteString(resourceARN)
	}
	explicit, implicit := "", ""
	switch d.Reason {
	case DeniedByResource:
		explicit = "a resource-based policy"
	case DeniedByIdentity:
		explicit = "an identity-based policy"
	case DeniedByBoundary:
		explicit = "a permissions boundary"
	case DeniedBySession:
		explicit = "a session policy"
	case NoResourceAllow:
		implicit = "resource-based policy"
	case NoIdentityAllow:
		implicit = "identity-based policy"
	case NoBoundaryAllow:
		implicit = "permissions boundary"
	case NoSessionAllow:
		implicit = "session policy"
	}
	switch {
	case explicit != "":
		b.WriteString(" with an explicit deny in ")
		b.WriteString(explicit)
	case implicit != "":
		b.WriteString(" because no ")
		b.WriteString(implicit)
		b.WriteString(" allows the ")
		b.WriteString(action)
		b.WriteString(" action")
	}
	return b.String()
}
