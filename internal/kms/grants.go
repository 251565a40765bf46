package kms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Grants (KMS Developer Guide, "Grants in AWS KMS"). A grant lets one
// grantee principal do the listed operations on one key, within its
// encryption context constraints. Grants only allow: authorization reads
// them only when the key policy and the caller's identity-based policies
// leave a request implicitly denied (authz.go), and an explicit Deny in
// any policy still wins.
//
// A key's grants are cached together (grantSet), read from the store at
// the first request that needs them and dropped on every grant write on
// the key, so a new grant counts from the next request and a retired or
// revoked one stops counting with the response that retired it.

const (
	maxGrantsPerKey       = 50000
	maxConstraintPairs    = 8
	maxConstraintValueLen = 384
)

// grantOp is a set of grant operations, one bit each.
type grantOp uint32

const (
	opDecrypt grantOp = 1 << iota
	opEncrypt
	opGenerateDataKey
	opGenerateDataKeyWithoutPlaintext
	opReEncryptFrom
	opReEncryptTo
	opSign
	opVerify
	opGetPublicKey
	opCreateGrant
	opRetireGrant
	opDescribeKey
	opGenerateDataKeyPair
	opGenerateDataKeyPairWithoutPlaintext
	opGenerateMac
	opVerifyMac
	opDeriveSharedSecret
	opEncapsulate
	opDecapsulate
)

// grantOpNames are the GrantOperation enum of the API model, in its order,
// bit i of grantOp being grantOpNames[i].
var grantOpNames = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
	"ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey",
	"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac",
	"DeriveSharedSecret", "Encapsulate", "Decapsulate",
}

// contextOps are the operations that take an encryption context: the only
// ones a grant's constraints apply to ("Grant constraints are not applied
// to operations that do not support an encryption context").
const contextOps = opDecrypt | opEncrypt | opGenerateDataKey | opGenerateDataKeyWithoutPlaintext |
	opReEncryptFrom | opReEncryptTo | opGenerateDataKeyPair | opGenerateDataKeyPairWithoutPlaintext

// commonOps are valid for every key.
const commonOps = opCreateGrant | opRetireGrant | opDescribeKey

func grantOpOf(name string) (grantOp, bool) {
	for i, n := range grantOpNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// names lists the operations of ops in the model's order.
func (ops grantOp) names() []string {
	out := []string{}
	for i, n := range grantOpNames {
		if ops&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// grantOpsFor is the set of grant operations valid for a key of this spec
// and usage (the Developer Guide's "Grant operations" table).
func grantOpsFor(spec, usage string) grantOp {
	switch {
	case spec == SpecSymmetric:
		return commonOps | opDecrypt | opEncrypt | opGenerateDataKey | opGenerateDataKeyWithoutPlaintext |
			opReEncryptFrom | opReEncryptTo | opGenerateDataKeyPair | opGenerateDataKeyPairWithoutPlaintext
	case usage == UsageEncryptDecrypt:
		return commonOps | opEncrypt | opDecrypt | opReEncryptFrom | opReEncryptTo | opGetPublicKey
	case usage == UsageSignVerify:
		return commonOps | opSign | opVerify | opGetPublicKey
	case usage == UsageGenerateVerifyMac:
		return commonOps | opGenerateMac | opVerifyMac
	case usage == UsageKeyAgreement:
		return commonOps | opDeriveSharedSecret | opGetPublicKey
	case usage == UsageEncapsulateDecapsulate:
		return commonOps | opEncapsulate | opDecapsulate | opGetPublicKey
	}
	return commonOps
}

// grantRule is a grant as authorization uses it.
type grantRule struct {
	id      string
	grantee string
	ops     grantOp
	// The constraints, as stored: nil for none. Keys compare
	// case-insensitively, values exactly (GrantConstraints).
	equals, subset map[string]string
}

func ruleOf(g *store.Grant) grantRule {
	r := grantRule{id: g.GrantID, grantee: g.GranteePrincipal,
		equals: g.ConstraintsEncryptionContextEquals, subset: g.ConstraintsEncryptionContextSubset}
	for _, name := range g.Operations {
		if op, ok := grantOpOf(name); ok {
			r.ops |= op
		}
	}
	return r
}

// grantSet is the grants of one key.
type grantSet struct {
	rules []grantRule
}

func (g *grantSet) has(id string) bool {
	for i := range g.rules {
		if g.rules[i].id == id {
			return true
		}
	}
	return false
}

// grantUse is what a request asks of a grant: one operation, with the
// request's encryption context, or for CreateGrant the grant it would make.
type grantUse struct {
	op    grantOp
	ec    map[string]string
	child *grantRule
}

// allows reports whether the grant lets caller p do use.
func (r *grantRule) allows(p *policy.Principal, use grantUse) bool {
	if r.ops&use.op == 0 || !granteeIs(r.grantee, p) {
		return false
	}
	if use.op&contextOps != 0 {
		if r.equals != nil && !ecEqual(r.equals, use.ec) {
			return false
		}
		if r.subset != nil && !ecSubset(r.subset, use.ec) {
			return false
		}
	}
	if use.op == opCreateGrant && use.child != nil {
		return r.admits(use.child)
	}
	return true
}

// admits reports whether a grantee of r, using r's CreateGrant, may create
// child: only operations r has, and constraints at least as strict as r's
// (CreateGrant's Constraints: "any grants created with the CreateGrant
// permission have an equally strict or stricter encryption context
// constraint").
func (r *grantRule) admits(child *grantRule) bool {
	if child.ops&^r.ops != 0 {
		return false
	}
	if r.equals != nil && (child.equals == nil || !ecEqual(r.equals, child.equals)) {
		return false
	}
	if r.subset != nil && !(child.equals != nil && ecSubset(r.subset, child.equals) ||
		child.subset != nil && ecSubset(r.subset, child.subset)) {
		return false
	}
	return true
}

// granteeIs reports whether a grant's principal is caller p: p itself, or,
// for a role session, its role.
func granteeIs(principal string, p *policy.Principal) bool {
	return principal == p.ARN || p.Type == policy.PrincipalAssumedRole && p.RoleARN != "" && principal == p.RoleARN
}

// ecHas reports whether ec holds key k, compared case-insensitively, with
// value v.
func ecHas(ec map[string]string, k, v string) bool {
	if got, ok := ec[k]; ok && got == v {
		return true
	}
	for ek, ev := range ec {
		if ev == v && strings.EqualFold(ek, k) {
			return true
		}
	}
	return false
}

// ecSubset reports whether every pair of want is in have.
func ecSubset(want, have map[string]string) bool {
	for k, v := range want {
		if !ecHas(have, k, v) {
			return false
		}
	}
	return true
}

// ecEqual reports whether a and b are the same encryption context, keys
// compared case-insensitively and values exactly: their pairs match one to
// one. Mutual subsets are not enough, because case variants fold together:
// {"a":"1","A":"1"} and {"a":"1"} hold each other's pairs, yet the first
// has a pair the second lacks, and EncryptionContextEquals allows no extra
// pairs.
func ecEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	exact := true
	for k, v := range a {
		if got, ok := b[k]; !ok || got != v {
			exact = false
			break
		}
	}
	if exact {
		return true // the common case: no folding needed, no allocation
	}
	// Pair each of a's pairs with an unused pair of b. "Keys equal under
	// strings.EqualFold and values equal" is an equivalence relation, so
	// taking the first unused match never spoils a later pairing.
	type pair struct{ k, v string }
	rest := make([]pair, 0, len(b))
	for k, v := range b {
		rest = append(rest, pair{k, v})
	}
	for k, v := range a {
		i := slices.IndexFunc(rest, func(p pair) bool { return p.v == v && strings.EqualFold(p.k, k) })
		if i < 0 {
			return false
		}
		rest = slices.Delete(rest, i, i+1)
	}
	return true
}

// grantsOf returns the grants of key e, from the cache or the store.
func (s *Service) grantsOf(ctx context.Context, e *keyEntry) (*grantSet, error) {
	if g, ok := s.grants.Load(e.meta.ID); ok {
		return g, nil
	}
	gen := s.grantGeneration()
	set := &grantSet{}
	after := ""
	for {
		page, err := s.store.ListGrants(ctx, e.meta.ID, store.GrantFilter{}, after, 1000)
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("load grants of key %s: %w", e.meta.ID, err))
		}
		for i := range page {
			set.rules = append(set.rules, ruleOf(&page[i]))
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].GrantID
	}
	s.publishGrants(e.meta.ID, set, gen)
	return set, nil
}

// grantAllows reports whether a grant on key e lets caller p do use. The
// request's grant tokens add the grants they name that this node's cache
// does not hold yet.
func (s *Service) grantAllows(ctx context.Context, e *keyEntry, p *policy.Principal, use grantUse, tokens []grantToken) (bool, error) {
	set, err := s.grantsOf(ctx, e)
	if err != nil {
		return false, err
	}
	for i := range set.rules {
		if set.rules[i].allows(p, use) {
			return true, nil
		}
	}
	for _, t := range tokens {
		if t.keyID != wireKeyID(e.meta.ID) || set.has(t.grantID) {
			continue
		}
		g, err := s.store.GetGrant(ctx, e.meta.ID, t.grantID)
		if errors.Is(err, store.ErrNotFound) {
			continue // retired or revoked: a token outlives its grant
		}
		if err != nil {
			return false, apierr.Internal(fmt.Errorf("load grant %s of key %s: %w", t.grantID, t.keyID, err))
		}
		if r := ruleOf(&g); r.allows(p, use) {
			return true, nil
		}
	}
	return false, nil
}

// parseTokens reads the request's grant tokens. A token Trent could not
// have made is InvalidGrantTokenException, whether or not a grant is
// needed.
func (a *access) parseTokens(tokens []string) error {
	for _, t := range tokens {
		g, err := parseGrantToken(t)
		if err != nil {
			return errInvalidGrantToken
		}
		a.tokens = append(a.tokens, g)
	}
	return nil
}

var errInvalidGrantToken = apierr.New(apierr.InvalidGrantToken, "Invalid grant token.")

// newGrantID makes a grant id: 64 lower-case hex digits, as AWS's.
func newGrantID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// isGrantID reports whether s has the form of the grant ids Trent makes.
func isGrantID(s string) bool { return len(s) == 64 && isHex(s) }

func invalidGrantID(id string) error {
	return apierr.New(apierr.InvalidGrantId, "Invalid grant ID %s.", id)
}

func grantNotFound(id, keyARN string) error {
	return apierr.New(apierr.NotFound, "Grant ID %s not found for key %s.", id, keyARN)
}

func accountRootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

// principalChars is the model's pattern for principal members:
// ^[\w+=,.@:/-]+$.
func principalChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@:/-", c) >= 0) {
			return false
		}
	}
	return true
}

func (v *validator) principal(member string, s *string) {
	v.length(member, s, 1, 256)
	v.pattern(member, s, `^[\w+=,.@:/-]+$`, principalChars)
}

func (v *validator) grantID(member string, s *string) {
	v.length(member, s, 1, 128)
	v.pattern(member, s, `^[a-zA-Z0-9]+$`, func(s string) bool {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
		return s != ""
	})
}

func checkCreateGrant(in *awsproto.CreateGrantInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.requiredString("granteePrincipal", in.GranteePrincipal) {
		v.principal("granteePrincipal", in.GranteePrincipal)
	}
	v.principal("retiringPrincipal", in.RetiringPrincipal)
	if v.required("operations", in.Operations != nil) {
		valid := true
		for _, op := range in.Operations {
			if _, ok := grantOpOf(op); !ok {
				valid = false
				break
			}
		}
		if !valid && v.violation() {
			v.list(fmt.Sprintf("Value '[%s]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [%s]]",
				echo(strings.Join(in.Operations, ", ")), strings.Join(grantOpNames, ", ")))
		}
	}
	if c := in.Constraints; c != nil {
		v.encryptionContext("constraints.encryptionContextEquals", c.EncryptionContextEquals)
		v.encryptionContext("constraints.encryptionContextSubset", c.EncryptionContextSubset)
	}
	v.grantTokens(in.GrantTokens)
	v.length("name", in.Name, 1, 256)
	v.pattern("name", in.Name, "^[a-zA-Z0-9:/_-]+$", aliasChars)
	if err := v.err(); err != nil {
		return err
	}
	if len(in.Operations) == 0 {
		return apierr.New(apierr.Validation, "Grants must include at least one operation.")
	}
	if !slices.ContainsFunc(in.Operations, func(op string) bool { return op != "CreateGrant" }) {
		// AWS's words for a grant of nothing but CreateGrant.
		return apierr.New(apierr.Validation, "Grants must not contain only the CreateGrant operation.")
	}
	if c := in.Constraints; c != nil {
		for _, m := range []map[string]string{c.EncryptionContextEquals, c.EncryptionContextSubset} {
			if len(m) > maxConstraintPairs {
				return apierr.New(apierr.Validation, "A grant constraint can have at most %d encryption context pairs.", maxConstraintPairs)
			}
			for _, val := range m {
				if len([]rune(val)) > maxConstraintValueLen {
					return apierr.New(apierr.Validation, "An encryption context value in a grant constraint can have at most %d characters.", maxConstraintValueLen)
				}
			}
		}
	}
	return nil
}

// childRule is the grant a CreateGrant request would make, as a rule.
func childRule(in *awsproto.CreateGrantInput) *grantRule {
	r := &grantRule{grantee: *in.GranteePrincipal}
	for _, name := range in.Operations {
		op, _ := grantOpOf(name)
		r.ops |= op
	}
	if c := in.Constraints; c != nil {
		r.equals, r.subset = c.EncryptionContextEquals, c.EncryptionContextSubset
	}
	return r
}

// authCreateGrant authorizes kms:CreateGrant on the key with the grant's
// condition keys; a grant with CreateGrant allows it only for a grant no
// wider than itself.
func authCreateGrant(a *access, ctx context.Context, in *awsproto.CreateGrantInput) error {
	if err := a.parseTokens(in.GrantTokens); err != nil {
		return err
	}
	e, _, err := a.s.resolve(ctx, a.r.tenant(), *in.KeyId, 0)
	if err != nil {
		return err
	}
	a.key = e
	if err := a.onKey(ctx, e, a.action, ""); err != nil {
		return err
	}
	child := childRule(in)
	// kms:EncryptionContext:<k> and kms:EncryptionContextKeys are the
	// constraint's pairs for CreateGrant.
	switch {
	case child.equals != nil:
		a.encryptionContext(child.equals)
		a.set(condGrantConstraint, "EncryptionContextEquals")
	case child.subset != nil:
		a.encryptionContext(child.subset)
		a.set(condGrantConstraint, "EncryptionContextSubset")
	}
	a.req.Context.SetMulti(condGrantOperations, in.Operations)
	a.set(condGranteePrincipal, *in.GranteePrincipal)
	if in.RetiringPrincipal != nil {
		a.set(condRetiringPrincipal, *in.RetiringPrincipal)
	}
	a.set(condGrantForAWS, "false")
	return a.decideKey(ctx, e, grantUse{op: opCreateGrant, child: child})
}

func (s *Service) createGrant(ctx context.Context, r *Request, in *awsproto.CreateGrantInput, a *access) (any, error) {
	e := a.key
	if err := usable(e); err != nil {
		return nil, err
	}
	child := childRule(in)
	if bad := child.ops &^ grantOpsFor(e.meta.KeySpec, e.meta.KeyUsage); bad != 0 {
		return nil, apierr.New(apierr.Validation, "Grant operations %s are not valid for %s, whose key spec is %s and key usage %s.",
			"["+strings.Join(bad.names(), ", ")+"]", e.arn, e.meta.KeySpec, e.meta.KeyUsage)
	}
	if (child.equals != nil || child.subset != nil) && e.meta.KeySpec != SpecSymmetric {
		return nil, apierr.New(apierr.Validation, "Encryption context grant constraints are not supported for %s KMS keys: their operations take no encryption context.", e.meta.KeySpec)
	}
	if in.DryRun {
		return nil, errDryRun
	}
	id, err := newGrantID()
	if err != nil {
		return nil, apierr.Internal(err)
	}
	g := store.Grant{
		KeyID: e.meta.ID, GrantID: id, Account: e.meta.Account, Region: e.meta.Region,
		GranteePrincipal: *in.GranteePrincipal, IssuingAccount: accountRootARN(r.Caller.Principal.Account),
		Operations: child.ops.names(), ConstraintsEncryptionContextEquals: child.equals,
		ConstraintsEncryptionContextSubset: child.subset, CreatedAt: s.now(),
	}
	if in.RetiringPrincipal != nil {
		g.RetiringPrincipal = *in.RetiringPrincipal
	}
	if in.Name != nil {
		g.Name = *in.Name
	}
	stored, err := s.store.CreateGrant(ctx, g, s.maxGrants)
	switch {
	case errors.Is(err, store.ErrExists) && stored.GrantID != "":
		// A retry of a named grant: the grant it made, with a new token.
	case errors.Is(err, store.ErrLimit):
		return nil, apierr.New(apierr.LimitExceeded, "The number of grants for %s exceeds the limit of %d.", e.arn, s.maxGrants)
	case errors.Is(err, store.ErrNotFound):
		return nil, keyNotFound(e.arn) // deleted since it was resolved
	case err != nil:
		return nil, apierr.Internal(fmt.Errorf("create grant on key %s: %w", e.meta.ID, err))
	default:
		s.grantsChanged(e.meta.ID)
	}
	token, err := mintGrantToken(wireKeyID(e.meta.ID), stored.GrantID)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	return &awsproto.CreateGrantOutput{GrantId: stored.GrantID, GrantToken: token}, nil
}

func grantEntry(g *store.Grant) awsproto.GrantListEntry {
	out := awsproto.GrantListEntry{
		KeyId: keyARN(g.Region, g.Account, g.KeyID), GrantId: g.GrantID, Name: g.Name,
		CreationDate: awsproto.Time(g.CreatedAt), GranteePrincipal: g.GranteePrincipal,
		RetiringPrincipal: g.RetiringPrincipal, IssuingAccount: g.IssuingAccount,
		Operations: append([]string{}, g.Operations...),
	}
	if g.ConstraintsEncryptionContextEquals != nil || g.ConstraintsEncryptionContextSubset != nil {
		out.Constraints = &awsproto.GrantConstraints{
			EncryptionContextEquals: g.ConstraintsEncryptionContextEquals,
			EncryptionContextSubset: g.ConstraintsEncryptionContextSubset,
		}
	}
	return out
}

func checkListGrants(in *awsproto.ListGrantsInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.grantID("grantId", in.GrantId)
	v.principal("granteePrincipal", in.GranteePrincipal)
	if err := v.err(); err != nil {
		return err
	}
	_, _, err := grantPages.params(in.Limit, in.Marker)
	return err
}

func (s *Service) listGrants(ctx context.Context, r *Request, in *awsproto.ListGrantsInput, a *access) (any, error) {
	limit, after, err := grantPages.params(in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	var f store.GrantFilter
	if in.GrantId != nil {
		if !isGrantID(*in.GrantId) {
			return nil, invalidGrantID(*in.GrantId)
		}
		f.GrantID = *in.GrantId
	}
	if in.GranteePrincipal != nil {
		f.GranteePrincipal = *in.GranteePrincipal
	}
	gs, err := s.store.ListGrants(ctx, a.key.meta.ID, f, after, limit+1)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("list grants of key %s: %w", a.key.meta.ID, err))
	}
	return grantPage(gs, limit, "grants"), nil
}

// grantPage answers a listing of up to limit grants from gs, which holds
// one more when there are more.
func grantPage(gs []store.Grant, limit int, kind string) *awsproto.ListGrantsOutput {
	out := &awsproto.ListGrantsOutput{Grants: []awsproto.GrantListEntry{}}
	for i := range gs {
		if i == limit {
			out.Truncated = true
			out.NextMarker = encodeMarker(kind, gs[i-1].GrantID)
			break
		}
		out.Grants = append(out.Grants, grantEntry(&gs[i]))
	}
	return out
}

func checkListRetirableGrants(in *awsproto.ListRetirableGrantsInput) error {
	var v validator
	if v.requiredString("retiringPrincipal", in.RetiringPrincipal) {
		v.principal("retiringPrincipal", in.RetiringPrincipal)
	}
	if err := v.err(); err != nil {
		return err
	}
	_, _, err := retirablePages.params(in.Limit, in.Marker)
	return err
}

// authListRetirableGrants is an identity-policy decision; the principal
// asked about must be of the caller's account ("You must specify a
// principal in your AWS account"), or any caller allowed the action could
// list other accounts' grants.
func authListRetirableGrants(a *access, ctx context.Context, in *awsproto.ListRetirableGrantsInput) error {
	a.begin(a.action, "*")
	if err := a.decideIdentity(ctx); err != nil {
		return err
	}
	if p, ok := splitARN(*in.RetiringPrincipal); !ok || p[4] != a.r.Caller.Principal.Account {
		return a.denied(policy.Decision{Reason: policy.NoIdentityAllow, Statement: policy.Result{Statement: -1}, Policy: -1})
	}
	return nil
}

func (s *Service) listRetirableGrants(ctx context.Context, r *Request, in *awsproto.ListRetirableGrantsInput, a *access) (any, error) {
	limit, after, err := retirablePages.params(in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	// The store lists grants on keys of every region; those of other
	// regions are skipped until the page is full.
	var gs []store.Grant
	cursor := after
	for len(gs) <= limit {
		page, err := s.store.ListGrantsByRetiringPrincipal(ctx, *in.RetiringPrincipal, cursor, limit+1)
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("list grants retirable by %s: %w", *in.RetiringPrincipal, err))
		}
		for _, g := range page {
			if g.Region == r.Region && len(gs) <= limit {
				gs = append(gs, g)
			}
		}
		if len(page) < limit+1 {
			break
		}
		cursor = page[len(page)-1].GrantID
	}
	return grantPage(gs, limit, "retirable"), nil
}

// grantRef is a grant RetireGrant or RevokeGrant names, with its key.
type grantRef struct {
	key *keyEntry
	g   store.Grant
}

// loadGrant reads grant id of key e for RetireGrant and RevokeGrant.
func (s *Service) loadGrant(ctx context.Context, e *keyEntry, id string) (*grantRef, error) {
	if !isGrantID(id) {
		return nil, invalidGrantID(id)
	}
	g, err := s.store.GetGrant(ctx, e.meta.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, grantNotFound(id, e.arn)
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("load grant %s of key %s: %w", id, e.meta.ID, err))
	}
	return &grantRef{key: e, g: g}, nil
}

func checkRetireGrant(in *awsproto.RetireGrantInput) error {
	var v validator
	v.length("grantToken", in.GrantToken, 1, 8192)
	v.length("keyId", in.KeyId, 1, 2048)
	v.grantID("grantId", in.GrantId)
	if err := v.err(); err != nil {
		return err
	}
	if in.GrantToken == nil && (in.KeyId == nil || in.GrantId == nil) {
		return apierr.New(apierr.Validation, "Either GrantToken, or both KeyId and GrantId, must be specified.")
	}
	return nil
}

// authRetireGrant applies AWS's rule for who may retire a grant
// ("Retiring and revoking grants"): its retiring principal, its grantee if
// the grant includes RetireGrant, or the account that issued it — the
// account's root, or a principal of it whose identity-based policies allow
// kms:RetireGrant on the key. An explicit Deny of kms:RetireGrant in the
// key policy or the caller's policies still wins.
func authRetireGrant(a *access, ctx context.Context, in *awsproto.RetireGrantInput) error {
	var e *keyEntry
	var grantID string
	if in.GrantToken != nil {
		t, err := parseGrantToken(*in.GrantToken)
		if err != nil {
			return errInvalidGrantToken
		}
		// The token names the key by id alone; it may be of another
		// account (cross-account retirement), never of another region.
		e, err = a.s.entry(ctx, storeIDIn(t.keyID, a.r.Region))
		if errors.Is(err, errKeyAbsent) || err == nil && e.meta.Region != a.r.Region {
			return keyNotFound(keyARN(a.r.Region, a.r.Caller.Principal.Account, t.keyID))
		}
		if err != nil {
			return err
		}
		grantID = t.grantID
	} else {
		var err error
		if e, _, err = a.s.resolve(ctx, a.r.tenant(), *in.KeyId, 0); err != nil {
			return err
		}
		grantID = *in.GrantId
	}
	ref, err := a.s.loadGrant(ctx, e, grantID)
	if err != nil {
		return err
	}
	a.key, a.grant = e, ref
	if err := a.onKey(ctx, e, a.action, ""); err != nil {
		return err
	}
	if e.policyErr != nil {
		return apierr.Internal(e.policyErr)
	}
	ids, err := a.identityPolicies(ctx)
	if err != nil {
		return err
	}
	ps := *ids
	ps.Resource = e.policy
	d := policy.Decide(&ps, &a.req)
	if explicitDeny(d.Reason) {
		return a.denied(d)
	}
	p := &a.r.Caller.Principal
	g := &ref.g
	rule := ruleOf(g)
	switch {
	case g.RetiringPrincipal != "" && granteeIs(g.RetiringPrincipal, p):
		return nil
	case rule.ops&opRetireGrant != 0 && granteeIs(g.GranteePrincipal, p):
		return nil
	case g.IssuingAccount == accountRootARN(p.Account):
		if d := policy.DecideIdentity(&ps, &a.req); d.Allowed {
			return nil
		}
		return a.denied(policy.Decision{Reason: policy.NoIdentityAllow, Statement: policy.Result{Statement: -1}, Policy: -1})
	}
	return a.denied(policy.Decision{Reason: policy.NoResourceAllow, Statement: policy.Result{Statement: -1}, Policy: -1})
}

func (s *Service) retireGrant(ctx context.Context, r *Request, in *awsproto.RetireGrantInput, a *access) (any, error) {
	return nil, s.deleteGrant(ctx, a.grant, in.DryRun)
}

func checkRevokeGrant(in *awsproto.RevokeGrantInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.requiredString("grantId", in.GrantId) {
		v.grantID("grantId", in.GrantId)
	}
	return v.err()
}

func (s *Service) revokeGrant(ctx context.Context, r *Request, in *awsproto.RevokeGrantInput, a *access) (any, error) {
	ref, err := s.loadGrant(ctx, a.key, *in.GrantId)
	if err != nil {
		return nil, err
	}
	return nil, s.deleteGrant(ctx, ref, in.DryRun)
}

// deleteGrant removes a grant for RetireGrant and RevokeGrant; it stops
// counting before the response is sent.
func (s *Service) deleteGrant(ctx context.Context, ref *grantRef, dryRun bool) error {
	if dryRun {
		return errDryRun
	}
	err := s.store.DeleteGrant(ctx, ref.key.meta.ID, ref.g.GrantID)
	if errors.Is(err, store.ErrNotFound) {
		return grantNotFound(ref.g.GrantID, ref.key.arn)
	}
	if err != nil {
		return apierr.Internal(fmt.Errorf("delete grant %s of key %s: %w", ref.g.GrantID, ref.key.meta.ID, err))
	}
	s.grantsChanged(ref.key.meta.ID)
	return nil
}

// resourceAliases returns the alias names of key e (kms:ResourceAliases),
// from the cache or the store.
func (s *Service) resourceAliases(ctx context.Context, e *keyEntry) ([]string, error) {
	if v, ok := s.keyAliases.Load(e.meta.ID); ok {
		return v, nil
	}
	gen := s.aliasGeneration()
	as, err := s.store.ListAliases(ctx, e.meta.Account, e.meta.Region, e.meta.ID, "", maxAliasesPerKey+1)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("list aliases of key %s: %w", e.meta.ID, err))
	}
	names := make([]string, len(as))
	for i, al := range as {
		names[i] = al.Name
	}
	s.publishKeyAliases(e.meta.ID, names, gen)
	return names, nil
}
