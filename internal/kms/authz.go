package kms

import (
	"context"
	"fmt"
	"github.com/trent-kms/trent/internal/audit"
	"strings"
	"sync"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
)

// Authorization: every row of the operation table (ops.go) declares how to
// find the resources a request names and which condition keys the request
// sets, and the dispatch layer decides before the handler runs. The
// decision itself is policy.Decide (key rows) or policy.DecideIdentity
// (rows without a key: CreateKey, ListKeys, ListAliases, GenerateRandom,
// ListRetirableGrants, and the alias ARN of the alias rows); this file
// builds their inputs — the caller's identity-based policies, the key
// policy compiled with the key's cache entry, the request's condition keys
// — and adds grants (grants.go) where the policies leave the request
// implicitly denied. No handler decides access: a handler receives the
// keys its row authorized in the access value.
//
// This lives in kms rather than in a package of its own because its
// inputs are kms's cache entries (the compiled policy, the prepared tag
// keys, the cached aliases and grants of a key) and its rows' typed
// inputs; a separate package would have to copy them per request or
// export the cache. The pure parts — the policy language and the way
// policies combine — are internal/policy's.

// Identities is what authorization needs to know about principals. The
// IAM side of Trent implements it.
type Identities interface {
	// PrincipalPolicies returns the caller's identity-based policies,
	// compiled: Identity (the user's or role's own and its groups'),
	// Boundary (its permissions boundary, or nil) and Session (the
	// session policies of temporary credentials). Resource and GrantAllows
	// are left zero. The result may be shared between requests: callers
	// never change it. It is called on every request, so it should answer
	// from memory. An error fails the request closed.
	PrincipalPolicies(ctx context.Context, c *identity.Caller) (*policy.Policies, error)
	// PrincipalExists reports whether arn names an existing principal: an
	// account root (arn:aws:iam::ACCOUNT:root), user, role, assumed-role
	// session or federated user. A key policy may name only principals
	// that exist.
	PrincipalExists(ctx context.Context, arn string) bool
}

// Request carries what the dispatch layer knows about a call. It is the
// only input besides the body: the account is the caller's, the region
// the SigV4 scope's.
type Request struct {
	Caller          *identity.Caller
	Region          string
	RequestID       string
	SourceIP        string
	SecureTransport bool
	// Audit is the request's audit event, or nil when audit is off. The
	// dispatch layer fills its parameters, resources and response
	// elements; the server records it. Handlers never touch it.
	Audit *audit.Event
}

func (r *Request) tenant() tenant { return tenant{r.Caller.Principal.Account, r.Region} }

// noPolicies stands for a caller without identity-based policies.
var noPolicies = &policy.Policies{}

// Condition key names, lower-cased as policy.Context stores them, so that
// setting one does not fold it again.
const (
	condCallerAccount     = "kms:calleraccount"
	condSourceIP          = "aws:sourceip"
	condSecureTransport   = "aws:securetransport"
	condMFA               = "aws:multifactorauthpresent"
	condRequestedRegion   = "aws:requestedregion"
	condKeySpec           = "kms:keyspec"
	condCMKSpec           = "kms:customermasterkeyspec"
	condKeyUsage          = "kms:keyusage"
	condCMKUsage          = "kms:customermasterkeyusage"
	condKeyOrigin         = "kms:keyorigin"
	condMultiRegion       = "kms:multiregion"
	condRequestAlias      = "kms:requestalias"
	condResourceAliases   = "kms:resourcealiases"
	condECKeys            = "kms:encryptioncontextkeys"
	condEncryptionAlg     = "kms:encryptionalgorithm"
	condSigningAlg        = "kms:signingalgorithm"
	condMacAlg            = "kms:macalgorithm"
	condKeyAgreementAlg   = "kms:keyagreementalgorithm"
	condMessageType       = "kms:messagetype"
	condDataKeyPairSpec   = "kms:datakeypairspec"
	condBypassLockout     = "kms:bypasspolicylockoutsafetycheck"
	condReEncryptSameKey  = "kms:reencryptonsamekey"
	condRotationPeriod    = "kms:rotationperiodindays"
	condPendingWindow     = "kms:schedulekeydeletionpendingwindowindays"
	condGrantOperations   = "kms:grantoperations"
	condGranteePrincipal  = "kms:granteeprincipal"
	condRetiringPrincipal = "kms:retiringprincipal"
	condGrantConstraint   = "kms:grantconstrainttype"
	condGrantForAWS       = "kms:grantisforawsresource"
	condTagKeys           = "aws:tagkeys"

	prefixEC           = "kms:encryptioncontext:"
	prefixPrincipalTag = "aws:principaltag/"
	prefixRequestTag   = "aws:requesttag/"
)

// access is the authorization state of one request. The row's access step
// fills it and decides; the handler reads the resources it authorized.
// Values are pooled: building a request's policy context reuses the room
// of an earlier one, so Encrypt's decision allocates nothing in the
// common case.
type access struct {
	s      *Service
	r      *Request
	action string // the row's IAM action, "kms:Encrypt"

	ids    *policy.Policies // the caller's identity-based policies, loaded once
	req    policy.Request   // the question being decided
	ecKeys []string         // room for kms:EncryptionContextKeys
	tokens []grantToken     // the request's grant tokens, parsed

	// What the row authorized, for its handler.
	key   *keyEntry // the key the row names (ReEncrypt: the destination)
	src   *keyEntry // ReEncrypt's source key
	grant *grantRef // RetireGrant, RevokeGrant: the grant named
	alias aliasTarget
}

// aliasTarget is what UpdateAlias and DeleteAlias authorized: the alias and
// the key it pointed to when it was read.
type aliasTarget struct {
	key  aliasKey
	from string // key id
}

var accessPool = sync.Pool{New: func() any {
	a := &access{}
	a.req.Context.Grow(24)
	return a
}}

func (s *Service) newAccess(r *Request, action string) *access {
	a := accessPool.Get().(*access)
	a.s, a.r, a.action = s, r, action
	return a
}

// release returns a to the pool, keeping its room and dropping every
// reference into the request.
func (a *access) release() {
	c := a.req.Context
	c.Reset()
	clear(a.ecKeys)
	clear(a.tokens)
	*a = access{ecKeys: a.ecKeys[:0], tokens: a.tokens[:0]}
	a.req.Context = c
	accessPool.Put(a)
}

// begin starts a question — may the caller do action on resource — and
// sets the condition keys every KMS request has.
func (a *access) begin(action, resource string) {
	c := &a.req.Context
	c.Reset()
	caller := a.r.Caller
	a.req.Principal = caller.Principal
	a.req.Action = action
	a.req.Resource = resource
	c.Time = a.s.now()
	c.Set(condCallerAccount, caller.Principal.Account)
	if a.r.SourceIP != "" {
		c.Set(condSourceIP, a.r.SourceIP)
	}
	c.Set(condSecureTransport, boolString(a.r.SecureTransport))
	// Trent has no MFA: AWS sets the key to false for long-term keys.
	c.Set(condMFA, "false")
	c.Set(condRequestedRegion, a.r.Region)
	for _, t := range caller.Tags {
		c.Set(a.s.names.principalTag.get(t.Key), t.Value)
	}
}

// onKey begins a question on key e and sets the key's condition keys.
// requestAlias is the alias the request named the key by, if any.
func (a *access) onKey(ctx context.Context, e *keyEntry, action, requestAlias string) error {
	a.begin(action, e.arn)
	if ev := a.r.Audit; ev != nil && e.meta.Revision != 0 {
		addKeyOnce(ev, e.arn)
	}
	c := &a.req.Context
	c.Set(condKeySpec, e.meta.KeySpec)
	c.Set(condCMKSpec, e.meta.KeySpec)
	c.Set(condKeyUsage, e.meta.KeyUsage)
	c.Set(condCMKUsage, e.meta.KeyUsage)
	c.Set(condKeyOrigin, e.meta.Origin)
	c.Set(condMultiRegion, boolString(isMultiRegion(&e.meta)))
	if isMultiRegion(&e.meta) {
		c.Set(condMultiRegionKeyType, mrkType(&e.meta))
	}
	// A key's tag keys are case-sensitive, so "Team" and "team" may both
	// be there; Add keeps both values of aws:ResourceTag/team.
	for _, t := range e.resourceTags {
		c.Add(t.name, t.value)
	}
	if requestAlias != "" {
		c.Set(condRequestAlias, requestAlias)
	}
	if e.meta.Revision == 0 {
		return nil // a key being created has no aliases yet
	}
	// A key's alias names cost a store read whenever the key is not in the
	// cache (~10 of the ~45 µs a cold Encrypt spent in the store). Nothing
	// but a policy condition or variable reads them, so they are read only
	// when a policy this question is decided by names kms:ResourceAliases.
	ids, err := a.identityPolicies(ctx)
	if err != nil {
		return err
	}
	if !e.policy.References(condResourceAliases) && !ids.References(condResourceAliases) {
		return nil
	}
	names, err := a.s.resourceAliases(ctx, e)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		c.SetMulti(condResourceAliases, names)
	}
	return nil
}

// addKeyOnce names a key in ev's resources unless it is there already (a
// row may ask about one key twice, as the alias rows do).
func addKeyOnce(ev *audit.Event, arn string) {
	for _, r := range ev.Resources {
		if r.ARN == arn {
			return
		}
	}
	ev.AddKey(arn)
}

// set sets a single-valued condition key.
func (a *access) set(name, value string) { a.req.Context.Set(name, value) }

// setOr sets name to *v, or to def when the request left it out: AWS
// evaluates a request condition key at its default value then.
func (a *access) setOr(name string, v *string, def string) {
	if v != nil {
		def = *v
	}
	a.req.Context.Set(name, def)
}

// encryptionContext sets kms:EncryptionContext:<k> for each pair and
// kms:EncryptionContextKeys. A request without one leaves both absent.
// Context keys are case-sensitive but the condition key's name is not, so
// pairs such as "purpose" and "Purpose" meet in one condition key: Add
// keeps every value rather than the one map order happens to write last.
func (a *access) encryptionContext(ec map[string]string) {
	if len(ec) == 0 {
		return
	}
	c := &a.req.Context
	a.ecKeys = a.ecKeys[:0]
	for k, v := range ec {
		c.Add(a.s.names.ec.get(k), v)
		a.ecKeys = append(a.ecKeys, k)
	}
	c.SetMulti(condECKeys, a.ecKeys)
}

// identityPolicies returns the caller's identity-based policies, asking
// Identities once per request.
func (a *access) identityPolicies(ctx context.Context) (*policy.Policies, error) {
	if a.ids != nil {
		return a.ids, nil
	}
	a.ids = noPolicies
	if a.s.ids != nil {
		p, err := a.s.ids.PrincipalPolicies(ctx, a.r.Caller)
		if err != nil {
			a.ids = nil
			return nil, apierr.Internal(fmt.Errorf("identity policies of %s: %w", a.r.Caller.Principal.ARN, err))
		}
		if p != nil {
			a.ids = p
		}
	}
	return a.ids, nil
}

// decideKey decides the question begun with onKey: the key policy with the
// caller's identity-based policies (policy.Decide), then, where that
// leaves the request implicitly denied, the key's grants for use.
func (a *access) decideKey(ctx context.Context, e *keyEntry, use grantUse) error {
	if e.policyErr != nil {
		return apierr.Internal(e.policyErr)
	}
	ids, err := a.identityPolicies(ctx)
	if err != nil {
		return err
	}
	ps := *ids // ids is shared; the copy carries this key's policy
	ps.Resource = e.policy
	ps.GrantAllows = false
	d := policy.Decide(&ps, &a.req)
	if d.Allowed {
		return nil
	}
	// Decide's last rule: a grant allows what no policy denies
	// explicitly. Grants are read only here, so a request the policies
	// allow never touches them.
	if !explicitDeny(d.Reason) && use.op != 0 {
		ok, err := a.s.grantAllows(ctx, e, &a.r.Caller.Principal, use, a.tokens)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return a.denied(d)
}

// decideIdentity decides the question begun with begin on a resource no
// resource policy governs (policy.DecideIdentity).
func (a *access) decideIdentity(ctx context.Context) error {
	ids, err := a.identityPolicies(ctx)
	if err != nil {
		return err
	}
	ps := *ids
	if d := policy.DecideIdentity(&ps, &a.req); !d.Allowed {
		return a.denied(d)
	}
	return nil
}

// denied words d as AWS's AccessDeniedException for the current question.
func (a *access) denied(d policy.Decision) error {
	return apierr.New(apierr.AccessDenied, "%s", d.Message(a.r.Caller.Principal.ARN, a.req.Action, a.req.Resource))
}

// notCrossAccount refuses a key of another account for a row AWS does not
// allow across accounts: a key policy that names another account does not
// let it manage the key, only use it.
func (a *access) notCrossAccount(e *keyEntry) error {
	if e.meta.Account == a.r.Caller.Principal.Account {
		return nil
	}
	return a.denied(policy.Decision{Reason: policy.NoResourceAllow, Statement: policy.Result{Statement: -1}, Policy: -1})
}

func explicitDeny(r policy.Reason) bool {
	switch r {
	case policy.DeniedByResource, policy.DeniedByIdentity, policy.DeniedByBoundary, policy.DeniedBySession:
		return true
	}
	return false
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// keyed is how a row whose resource is the key in one KeyId member is
// authorized: which member, which KeyId forms it takes, whether a key of
// another account may be named, which grant operation covers it, and the
// row's own condition keys.
type keyed[In any] struct {
	id     func(*In) *string
	flags  lookup
	cross  bool    // the row allows cross-account use
	grant  grantOp // the grant operation that allows the row; 0 for none
	ec     func(*In) map[string]string
	tokens func(*In) []string
	cond   func(*access, *In)
}

// keyAuth is the access step of a keyed row: resolve the key, set the
// condition keys, decide.
func keyAuth[In any](k keyed[In]) func(*access, context.Context, *In) error {
	return func(a *access, ctx context.Context, in *In) error {
		if k.tokens != nil {
			if err := a.parseTokens(k.tokens(in)); err != nil {
				return err
			}
		}
		e, alias, err := a.s.resolve(ctx, a.r.tenant(), *k.id(in), k.flags)
		if err != nil {
			return err
		}
		a.key = e
		if err := a.onKey(ctx, e, a.action, alias); err != nil {
			return err
		}
		if !k.cross {
			if err := a.notCrossAccount(e); err != nil {
				return err
			}
		}
		var ec map[string]string
		if k.ec != nil {
			ec = k.ec(in)
			a.encryptionContext(ec)
		}
		if k.cond != nil {
			k.cond(a, in)
		}
		return a.decideKey(ctx, e, grantUse{op: k.grant, ec: ec})
	}
}

// accountAuth is the access step of a row without a key: an identity-policy
// decision on resource "*", with the row's condition keys.
func accountAuth[In any](cond func(*access, *In)) func(*access, context.Context, *In) error {
	return func(a *access, ctx context.Context, in *In) error {
		a.begin(a.action, "*")
		if cond != nil {
			cond(a, in)
		}
		return a.decideIdentity(ctx)
	}
}

// nameCache interns the condition key names made of a fixed prefix and a
// name from the request (an encryption context key, a tag key), lower-
// cased as policy.Context wants them, so the hot path builds none. It
// holds at most maxNames names; past that, names are built per use, so a
// flood of distinct keys costs allocations, not memory.
type nameCache struct {
	mu     sync.RWMutex
	prefix string
	m      map[string]string
}

const maxNames = 4096

type nameCaches struct {
	ec, principalTag nameCache
}

func (c *nameCache) get(key string) string {
	c.mu.RLock()
	name, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return name
	}
	name = c.prefix + strings.ToLower(key)
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]string)
	}
	if len(c.m) < maxNames {
		c.m[strings.Clone(key)] = name
	}
	c.mu.Unlock()
	return name
}
