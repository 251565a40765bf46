package iam

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/store"
)

// The directory: what authentication and authorization ask of the Service
// on every request. Every answer comes from memory while the generation
// (see Service) has not moved since it was computed.

// Errors of Resolve. Map them with AuthError.
var (
	// ErrUnknownAccessKey: no active access key has that id (never made,
	// deleted, inactive, or its user is gone).
	ErrUnknownAccessKey = errors.New("iam: no active access key with that id")
	// ErrInvalidToken: the session token does not unwrap under the root
	// key, is malformed, belongs to another access key id, or its role or
	// user no longer exists.
	ErrInvalidToken = errors.New("iam: invalid session token")
	// ErrExpiredToken: the session token is genuine but has expired.
	ErrExpiredToken = errors.New("iam: session token expired")
)

// AWS's messages for a credential it does not accept.
const (
	MsgInvalidToken = "The security token included in the request is invalid."
	MsgExpiredToken = "The security token included in the request is expired"
)

// AuthError turns an error of Resolve into what AWS answers on the named
// service ("kms", "iam" or "sts"): UnrecognizedClientException or
// ExpiredTokenException on KMS's JSON protocol, InvalidClientTokenId or
// ExpiredToken on the Query protocol. Any other error is internal.
func AuthError(service string, err error) *apierr.Error {
	query := service == "iam" || service == "sts"
	switch {
	case errors.Is(err, ErrExpiredToken):
		if query {
			return &apierr.Error{Code: awsquery.ExpiredToken, Message: MsgExpiredToken, Cause: err}
		}
		return &apierr.Error{Code: "ExpiredTokenException", Message: MsgExpiredToken, Cause: err}
	case errors.Is(err, ErrUnknownAccessKey), errors.Is(err, ErrInvalidToken):
		if query {
			return &apierr.Error{Code: awsquery.InvalidClientTokenId, Message: MsgInvalidToken, Cause: err}
		}
		return &apierr.Error{Code: apierr.UnrecognizedClient, Message: MsgInvalidToken, Cause: err}
	}
	return apierr.As(err)
}

// negativeTTL is how long an access key id the store does not have is
// remembered as absent, so that repeating it does not read the store every
// time; a key made meanwhile by this Service is seen at once (the write
// moves the generation), one made elsewhere within negativeTTL. Absences
// have a cache of their own, so that a flood of made-up ids cannot evict
// the keys in use. resolveMissReads bounds the store reads for ids in neither
// cache that run at once.
const (
	negativeTTL      = 5 * time.Second
	resolveMissReads = 2
)

// keyEntry is a resolved access key, or (in Service.misses, absentUntil
// set) a remembered absence.
type keyEntry struct {
	gen         int64
	absentUntil time.Time
	token       string // the session token it was resolved with (ASIA keys)
	expires     time.Time
	secret      []byte
	caller      *identity.Caller
	cred        *sigv4.Credential
}

// Resolve authenticates an access key id for SigV4: it returns the secret
// to verify the signature with and the caller the request comes from.
//
// Long-term keys (sessionToken "") must exist and be Active; the caller is
// the account root or the key's IAM user, with the user's tags. Temporary
// keys need their session token: it must unwrap under the root key, name
// this access key id, not have expired (ErrExpiredToken) and, for a role
// session, name a role that still exists with the same id. The secret is
// shared: callers must not modify it.
func (s *Service) Resolve(ctx context.Context, accessKeyID, sessionToken string) (secret []byte, caller *identity.Caller, err error) {
	e, err := s.resolve(ctx, accessKeyID, sessionToken)
	if err != nil {
		return nil, nil, err
	}
	return e.secret, e.caller, nil
}

// Lookup is sigv4.Verifier.Lookup, served by Resolve for long-term keys:
// the credential carries its Caller, and IAM's changes (deactivated and
// deleted keys) take effect at once.
func (s *Service) Lookup(accessKeyID string) (*sigv4.Credential, bool) {
	e, err := s.resolve(context.Background(), accessKeyID, "")
	if err != nil {
		return nil, false
	}
	return e.cred, true
}

// LookupKey is sigv4.Verifier.LookupKey: Lookup that tells an unknown key
// (sigv4.ErrUnknownCredential) from a store that cannot be read.
func (s *Service) LookupKey(accessKeyID string) (*sigv4.Credential, error) {
	e, err := s.resolve(context.Background(), accessKeyID, "")
	if err != nil {
		return nil, verifierError(err)
	}
	return e.cred, nil
}

// verifierError marks the errors that mean "no such credential" with
// sigv4.ErrUnknownCredential, leaving failures to look as they are.
func verifierError(err error) error {
	if errors.Is(err, ErrUnknownAccessKey) || errors.Is(err, ErrInvalidToken) {
		return fmt.Errorf("%w: %w", sigv4.ErrUnknownCredential, err)
	}
	return err
}

// LookupSession is sigv4.Verifier.LookupSession, served by Resolve for
// temporary credentials. An expired session's error matches both
// sigv4.ErrExpiredToken and ErrExpiredToken.
func (s *Service) LookupSession(accessKeyID, sessionToken string) (*sigv4.Credential, error) {
	if sessionToken == "" {
		return nil, verifierError(ErrInvalidToken)
	}
	e, err := s.resolve(context.Background(), accessKeyID, sessionToken)
	if errors.Is(err, ErrExpiredToken) {
		return nil, fmt.Errorf("%w: %w", sigv4.ErrExpiredToken, err)
	}
	if err != nil {
		return nil, verifierError(err)
	}
	return e.cred, nil
}

func (s *Service) resolve(ctx context.Context, id, token string) (*keyEntry, error) {
	if !validAccessKeyID(id) {
		return nil, ErrUnknownAccessKey
	}
	g := s.gen.Load()
	now := s.clock.Now()
	e, ok := s.keys.load(id)
	if token == "" {
		if ok && e.gen == g && e.token == "" {
			return e, nil
		}
		if m, ok := s.misses.load(id); ok && m.gen == g && now.Before(m.absentUntil) {
			return nil, ErrUnknownAccessKey
		}
		// Resolve runs before a request is authenticated: bound how many
		// store reads made-up ids can hold at once, so that the rest of
		// the store's readers stay free for everyone else.
		select {
		case s.missReads <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-s.missReads }()
		return s.loadLongTerm(ctx, id, g, now)
	}
	if ok && e.gen == g && e.token != "" && subtle.ConstantTimeCompare([]byte(e.token), []byte(token)) == 1 {
		if !now.Before(e.expires) {
			return nil, ErrExpiredToken
		}
		return e, nil
	}
	sess, err := openSessionToken(s.root, token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(sess.AccessKeyID), []byte(id)) != 1 {
		return nil, fmt.Errorf("%w: token of another access key", ErrInvalidToken)
	}
	if !now.Before(sess.expires()) {
		return nil, ErrExpiredToken
	}
	caller, err := s.sessionCaller(ctx, sess)
	if err != nil {
		return nil, err
	}
	e = &keyEntry{gen: g, token: token, expires: sess.expires(), secret: []byte(sess.Secret), caller: caller}
	e.cred = &sigv4.Credential{AccessKeyID: id, Secret: e.secret, Account: sess.Account, PrincipalARN: caller.Principal.ARN, Caller: caller}
	s.keys.store(id, e)
	return e, nil
}

// loadLongTerm reads a long-term key and its principal; g is the
// generation read before the store was.
func (s *Service) loadLongTerm(ctx context.Context, id string, g int64, now time.Time) (*keyEntry, error) {
	k, err := s.st.GetAccessKey(ctx, id)
	if isNotFound(err) || err == nil && !k.Active {
		s.misses.store(id, &keyEntry{gen: g, absentUntil: now.Add(negativeTTL)})
		return nil, ErrUnknownAccessKey
	}
	if err != nil {
		return nil, fmt.Errorf("iam: get access key %s: %w", id, err)
	}
	secret, err := s.root.Unwrap(k.WrappedSecret, secretAAD(id))
	if err != nil {
		return nil, fmt.Errorf("iam: unwrap access key %s: %w", id, err)
	}
	var caller *identity.Caller
	if k.UserName == "" {
		if err := s.ensureAccount(ctx, k.Account); err != nil {
			return nil, err
		}
		caller = identity.Root(k.Account, "")
	} else {
		u, err := s.st.GetUser(ctx, k.Account, k.UserName)
		if isNotFound(err) {
			s.misses.store(id, &keyEntry{gen: g, absentUntil: now.Add(negativeTTL)})
			return nil, ErrUnknownAccessKey
		}
		if err != nil {
			return nil, fmt.Errorf("iam: get user of access key %s: %w", id, err)
		}
		caller = userCaller(u)
	}
	caller.AccessKeyID = id
	e := &keyEntry{gen: g, secret: secret, caller: caller,
		cred: &sigv4.Credential{AccessKeyID: id, Secret: secret, Account: k.Account, PrincipalARN: caller.Principal.ARN, Caller: caller}}
	s.keys.store(id, e)
	return e, nil
}

func userCaller(u store.User) *identity.Caller {
	return &identity.Caller{
		Principal: policy.Principal{ARN: u.ARN, Account: u.Account, Type: policy.PrincipalIAMUser, UserID: u.ID, Username: u.Name},
		Tags:      callerTags(u.Tags),
	}
}

// sessionCaller builds the caller of temporary credentials, checking that
// the principal they were issued to still exists as it was.
func (s *Service) sessionCaller(ctx context.Context, sess *session) (*identity.Caller, error) {
	var c *identity.Caller
	switch sess.Type {
	case policy.PrincipalRoot:
		if _, err := s.st.GetAccount(ctx, sess.Account); err != nil {
			return nil, s.goneOr(err, "get account")
		}
		c = identity.Root(sess.Account, "")
	case policy.PrincipalIAMUser:
		u, err := s.st.GetUser(ctx, sess.Account, sess.UserName)
		if err != nil {
			return nil, s.goneOr(err, "get user")
		}
		if u.ID != sess.UserID {
			return nil, fmt.Errorf("%w: user was replaced", ErrInvalidToken)
		}
		c = userCaller(u)
	case policy.PrincipalAssumedRole:
		role, ok, err := s.roleFromARN(ctx, sess.RoleARN)
		if err != nil {
			return nil, err
		}
		if !ok || role.ID != sess.RoleID {
			return nil, fmt.Errorf("%w: role %s no longer exists", ErrInvalidToken, sess.RoleARN)
		}
		// Session tags win over the role's tags of the same key.
		tags := make([]identity.Tag, 0, len(role.Tags)+len(sess.Tags))
		for _, t := range role.Tags {
			if !hasKeyFold(sess.Tags, t.Key) {
				tags = append(tags, identity.Tag{Key: t.Key, Value: t.Value})
			}
		}
		for _, t := range sess.Tags {
			tags = append(tags, identity.Tag{Key: t[0], Value: t[1]})
		}
		c = &identity.Caller{
			Principal: policy.Principal{
				ARN: AssumedRoleARN(sess.Account, role.Name, sess.Name), Account: sess.Account,
				Type: policy.PrincipalAssumedRole, UserID: role.ID + ":" + sess.Name, RoleARN: role.ARN,
			},
			Tags: tags,
		}
	default:
		return nil, fmt.Errorf("%w: principal type %q", ErrInvalidToken, sess.Type)
	}
	c.AccessKeyID = sess.AccessKeyID
	c.Session = &identity.Session{
		Name: sess.Name, RoleARN: sess.RoleARN, RoleID: sess.RoleID,
		Issued: sess.issued(), Expires: sess.expires(),
		Policy: sess.Policy, PolicyARNs: sess.PolicyARNs, TransitiveTagKeys: sess.Transitive,
		SourceIdentity: sess.SourceIdentity,
	}
	return c, nil
}

// goneOr maps "not found" to ErrInvalidToken (the principal of the session
// is gone) and anything else to an error with context.
func (s *Service) goneOr(err error, what string) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: principal no longer exists", ErrInvalidToken)
	}
	return fmt.Errorf("iam: %s: %w", what, err)
}

func hasKeyFold(tags [][2]string, key string) bool {
	for _, t := range tags {
		if strings.EqualFold(t[0], key) {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// PrincipalPolicies are the compiled identity-based policies that bear on
// a caller's requests, as policy.Decide and policy.DecideIdentity take
// them. Values are shared and immutable: do not modify them.
type PrincipalPolicies struct {
	// Identity is the caller's identity-based policies: an IAM user's
	// inline and attached policies and those of each of its groups; a role
	// session's role's inline and attached policies. Empty for the root.
	Identity []*policy.Compiled
	// Sources describes Identity[i], for the policy simulator and for
	// saying which policy decided.
	Sources []PolicySource
	// Boundary is the user's or role's permissions boundary, or nil. A
	// boundary whose policy no longer exists allows nothing.
	Boundary *policy.Compiled
	// Session is the session policies of temporary credentials (AssumeRole's
	// Policy and PolicyArns), empty when there were none. Session policies
	// that no longer exist allow nothing.
	Session []*policy.Compiled

	shared     sync.Once
	sharedPols policy.Policies
}

// PolicySource names one identity-based policy.
type PolicySource struct {
	// Name is the inline policy's name or the managed policy's name.
	Name string
	// ARN is the managed policy's ARN; "" for an inline policy.
	ARN string
	// Owner is the ARN of the user, group or role holding an inline policy
	// or to which a managed policy is attached.
	Owner string
	// Document is the policy text, as stored.
	Document string
}

// Policies returns p as the policy.Policies of a decision; the caller
// adds Resource and GrantAllows for a decision on a key.
func (p *PrincipalPolicies) Policies() policy.Policies {
	return policy.Policies{Identity: p.Identity, Boundary: p.Boundary, Session: p.Session}
}

// Shared returns Policies() made once per p, for callers on the hot path
// that copy it before adding to it (internal/kms does); it must not be
// modified.
func (p *PrincipalPolicies) Shared() *policy.Policies {
	p.shared.Do(func() { p.sharedPols = p.Policies() })
	return &p.sharedPols
}

type policiesEntry struct {
	gen int64
	pp  *PrincipalPolicies
}

var noPolicies = &PrincipalPolicies{}

// PrincipalPolicies returns the policies that bear on the caller: the
// root's are empty (IAM policies do not restrict the root user); a user's
// and a role session's are read from the store once per generation and
// compiled; a session adds its session policies.
func (s *Service) PrincipalPolicies(ctx context.Context, caller *identity.Caller) (*PrincipalPolicies, error) {
	if caller == nil {
		return nil, errors.New("iam: PrincipalPolicies of no caller")
	}
	g := s.gen.Load()
	sess := caller.Session
	withSession := sess != nil && (sess.Policy != "" || len(sess.PolicyARNs) > 0)
	var key string
	if withSession {
		key = "session\x00" + caller.AccessKeyID
		if e, ok := s.principals.load(key); ok && e.gen == g {
			return e.pp, nil
		}
	}
	base, err := s.basePolicies(ctx, caller, g)
	if err != nil {
		return nil, err
	}
	if !withSession {
		return base, nil
	}
	pp := &PrincipalPolicies{Identity: base.Identity, Sources: base.Sources, Boundary: base.Boundary}
	pp.Session, err = s.sessionPolicies(ctx, caller.Principal.Account, sess)
	if err != nil {
		return nil, err
	}
	s.principals.store(key, &policiesEntry{gen: g, pp: pp})
	return pp, nil
}

// basePolicies are the policies of the user or role behind a caller.
func (s *Service) basePolicies(ctx context.Context, caller *identity.Caller, g int64) (*PrincipalPolicies, error) {
	p := caller.Principal
	var key string
	switch p.Type {
	case policy.PrincipalIAMUser:
		key = "user\x00" + p.ARN
	case policy.PrincipalAssumedRole:
		key = "role\x00" + p.RoleARN
	default:
		return noPolicies, nil
	}
	if e, ok := s.principals.load(key); ok && e.gen == g {
		return e.pp, nil
	}
	var (
		pp  *PrincipalPolicies
		err error
	)
	if p.Type == policy.PrincipalIAMUser {
		pp, err = s.userPolicies(ctx, p.Account, p.Username)
	} else {
		pp, err = s.rolePolicies(ctx, p.RoleARN)
	}
	if err != nil {
		return nil, err
	}
	s.principals.store(key, &policiesEntry{gen: g, pp: pp})
	return pp, nil
}

// gatherer collects compiled identity policies.
type gatherer struct {
	s  *Service
	pp *PrincipalPolicies
}

func (g *gatherer) add(src PolicySource) error {
	c, err := compileIdentity(src.Document)
	if err != nil {
		return fmt.Errorf("iam: stored policy %s of %s: %w", src.Name, src.Owner, err)
	}
	g.pp.Identity = append(g.pp.Identity, c)
	g.pp.Sources = append(g.pp.Sources, src)
	return nil
}

// entity adds an entity's inline and attached policies.
func (g *gatherer) entity(ctx context.Context, ref store.EntityRef, owner string) error {
	err := g.s.eachInline(ctx, ref, func(name, doc string) error {
		return g.add(PolicySource{Name: name, Owner: owner, Document: doc})
	})
	if err != nil {
		return err
	}
	for after := ""; ; {
		ps, err := g.s.st.ListAttachedPolicies(ctx, ref, "", after, 1000)
		if err != nil {
			return fmt.Errorf("iam: list attached policies of %s: %w", owner, err)
		}
		for _, p := range ps {
			v, err := g.s.st.GetPolicyVersion(ctx, ref.Account, p.ARN, p.DefaultVersion)
			if isNotFound(err) {
				continue // detached or changed meanwhile; the next generation sees it
			}
			if err != nil {
				return fmt.Errorf("iam: get policy %s: %w", p.ARN, err)
			}
			if err := g.add(PolicySource{Name: p.Name, ARN: p.ARN, Owner: owner, Document: v.Document}); err != nil {
				return err
			}
		}
		if len(ps) < 1000 {
			return nil
		}
		after = ps[len(ps)-1].ARN
	}
}

// boundary compiles the permissions boundary arn for account.
func (s *Service) boundary(ctx context.Context, account, arn string) (*policy.Compiled, error) {
	doc, ok, err := s.managedDocument(ctx, account, arn)
	if err != nil || !ok {
		// A boundary that no longer exists allows nothing: fail closed.
		return &policy.Compiled{}, err
	}
	c, err := compileIdentity(doc)
	if err != nil {
		return nil, fmt.Errorf("iam: permissions boundary %s: %w", arn, err)
	}
	return c, nil
}

// managedDocument returns the default version's document of a managed
// policy visible to account; ok is false if there is no such policy.
func (s *Service) managedDocument(ctx context.Context, account, arn string) (doc string, ok bool, err error) {
	p, err := s.st.GetPolicy(ctx, account, arn)
	if isNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("iam: get policy %s: %w", arn, err)
	}
	v, err := s.st.GetPolicyVersion(ctx, account, arn, p.DefaultVersion)
	if isNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("iam: get policy %s: %w", arn, err)
	}
	return v.Document, true, nil
}

func (s *Service) userPolicies(ctx context.Context, account, name string) (*PrincipalPolicies, error) {
	u, err := s.st.GetUser(ctx, account, name)
	if isNotFound(err) {
		return noPolicies, nil // deleted: it may do nothing
	}
	if err != nil {
		return nil, fmt.Errorf("iam: get user %s: %w", name, err)
	}
	g := &gatherer{s: s, pp: &PrincipalPolicies{}}
	if err := g.entity(ctx, store.EntityRef{Kind: store.KindUser, Account: account, Name: u.Name}, u.ARN); err != nil {
		return nil, err
	}
	for after := ""; ; {
		gs, err := s.st.ListGroupsForUser(ctx, account, u.Name, after, 1000)
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("iam: list groups of %s: %w", name, err)
		}
		for _, grp := range gs {
			if err := g.entity(ctx, store.EntityRef{Kind: store.KindGroup, Account: account, Name: grp.Name}, grp.ARN); err != nil && !isNotFound(err) {
				return nil, err
			}
		}
		if len(gs) < 1000 {
			break
		}
		after = gs[len(gs)-1].Name
	}
	if u.PermissionsBoundary != "" {
		if g.pp.Boundary, err = s.boundary(ctx, account, u.PermissionsBoundary); err != nil {
			return nil, err
		}
	}
	return g.pp, nil
}

func (s *Service) rolePolicies(ctx context.Context, arn string) (*PrincipalPolicies, error) {
	role, ok, err := s.roleFromARN(ctx, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return noPolicies, nil
	}
	g := &gatherer{s: s, pp: &PrincipalPolicies{}}
	if err := g.entity(ctx, store.EntityRef{Kind: store.KindRole, Account: role.Account, Name: role.Name}, role.ARN); err != nil {
		return nil, err
	}
	if role.PermissionsBoundary != "" {
		if g.pp.Boundary, err = s.boundary(ctx, role.Account, role.PermissionsBoundary); err != nil {
			return nil, err
		}
	}
	return g.pp, nil
}

// sessionPolicies compiles a session's policies. Managed session policies
// are read as they are now, as AWS evaluates them; one that no longer
// exists contributes nothing, and a session left with none allows nothing.
func (s *Service) sessionPolicies(ctx context.Context, account string, sess *identity.Session) ([]*policy.Compiled, error) {
	var out []*policy.Compiled
	if sess.Policy != "" {
		c, err := compileIdentity(sess.Policy)
		if err != nil {
			return nil, fmt.Errorf("iam: session policy: %w", err)
		}
		out = append(out, c)
	}
	for _, arn := range sess.PolicyARNs {
		doc, ok, err := s.managedDocument(ctx, account, arn)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		c, err := compileIdentity(doc)
		if err != nil {
			return nil, fmt.Errorf("iam: session policy %s: %w", arn, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		out = append(out, &policy.Compiled{})
	}
	return out, nil
}

func compileIdentity(doc string) (*policy.Compiled, error) {
	d, err := policy.ParseIdentity(doc)
	if err != nil {
		return nil, err
	}
	return policy.Compile(d)
}

// PrincipalExists reports whether a principal a key policy names exists,
// for KMS's rule that a key policy's principals must exist: "*"; an
// account id or an account's root ARN of an existing account; the ARN of
// an existing user or role (path included); an assumed-role session ARN of
// an existing role. A failure to read the store answers false, and is
// logged.
func (s *Service) PrincipalExists(ctx context.Context, principal string) bool {
	ok, err := s.principalExists(ctx, principal)
	if err != nil {
		s.log.ErrorContext(ctx, "iam: checking that a principal exists", "principal", principal, "err", apierr.ForLog(err))
		return false
	}
	return ok
}

func (s *Service) principalExists(ctx context.Context, principal string) (bool, error) {
	if principal == "*" {
		return true, nil
	}
	if ids.IsAccountID(principal) {
		return s.accountExists(ctx, principal)
	}
	a, ok := parseARN(principal)
	if !ok || a.partition != "aws" || a.region != "" || !ids.IsAccountID(a.account) {
		return false, nil
	}
	switch a.service {
	case "iam":
		if a.resource == "root" {
			return s.accountExists(ctx, a.account)
		}
		typ, path, name, ok := iamResource(a.resource)
		if !ok {
			return false, nil
		}
		switch typ {
		case "user":
			u, err := s.st.GetUser(ctx, a.account, name)
			if isNotFound(err) {
				return false, nil
			}
			return err == nil && u.Path == path, err
		case "role":
			_, ok, err := s.roleFromARN(ctx, principal)
			return ok, err
		}
	case "sts":
		rest, ok := strings.CutPrefix(a.resource, "assumed-role/")
		if !ok {
			return false, nil
		}
		roleName, session, ok := strings.Cut(rest, "/")
		if !ok || roleName == "" || session == "" || strings.Contains(session, "/") {
			return false, nil
		}
		_, err := s.st.GetRole(ctx, a.account, roleName)
		if isNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}
	return false, nil
}

func (s *Service) accountExists(ctx context.Context, id string) (bool, error) {
	if _, ok := s.accounts.Load(id); ok {
		return true, nil
	}
	_, err := s.st.GetAccount(ctx, id)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.accounts.Store(id, struct{}{})
	return true, nil
}

// ensureAccount makes sure the account exists in the store. Accounts made
// before accounts were stored (the installation's account, whose root key
// `trent init` or the dev server made) get their row the first time
// their root is seen.
func (s *Service) ensureAccount(ctx context.Context, id string) error {
	ok, err := s.accountExists(ctx, id)
	if err != nil {
		return internal("get account", err)
	}
	if ok {
		return nil
	}
	err = s.st.CreateAccount(ctx, store.Account{ID: id, CreatedAt: s.now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return internal("create account "+id, err)
	}
	s.accounts.Store(id, struct{}{})
	s.Invalidate()
	return nil
}

// ErrAccountExists is CreateAccount's answer for an id that is taken.
var ErrAccountExists = errors.New("iam: account exists")

// CreateAccount makes an account and its root access key, whose secret
// is returned once and never again. id "" picks a random 12-digit id;
// otherwise it must be 12 digits. For `trent account create`.
func (s *Service) CreateAccount(ctx context.Context, id string) (account, accessKeyID, secret string, err error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	defer s.Invalidate()
	if id == "" {
		id = newAccountID()
	} else if !ids.IsAccountID(id) {
		return "", "", "", fmt.Errorf("iam: account id %q is not 12 digits", id)
	}
	err = s.st.CreateAccount(ctx, store.Account{ID: id, CreatedAt: s.now()})
	if errors.Is(err, store.ErrExists) {
		return "", "", "", fmt.Errorf("%w: %s", ErrAccountExists, id)
	}
	if err != nil {
		return "", "", "", fmt.Errorf("iam: create account %s: %w", id, err)
	}
	s.accounts.Store(id, struct{}{})
	accessKeyID, secret, err = s.newKey(ctx, id, "", RootARN(id), s.now())
	if err != nil {
		return "", "", "", err
	}
	return id, accessKeyID, secret, nil
}

// newKey makes, wraps and stores a long-term access key of the user (or
// of the account root, user "") whose ARN is principalARN, created at.
func (s *Service) newKey(ctx context.Context, account, user, principalARN string, at time.Time) (id, secret string, err error) {
	id, secret = newAccessKeyID(prefixLongTerm, account), newSecret()
	wrapped, err := s.root.Wrap([]byte(secret), secretAAD(id))
	if err != nil {
		return "", "", fmt.Errorf("iam: wrap access key %s: %w", id, err)
	}
	err = s.st.CreateAccessKey(ctx, store.AccessKey{
		ID: id, Account: account, PrincipalARN: principalARN, WrappedSecret: wrapped,
		CreatedAt: at, Active: true, UserName: user,
	})
	if err != nil {
		return "", "", fmt.Errorf("iam: store access key %s: %w", id, err)
	}
	return id, secret, nil
}

// now is the Service's time, to the second as IAM reports times.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Second) }
