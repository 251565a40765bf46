package iam

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
)

// Service answers the IAM and STS APIs and is the identity directory that
// authentication and authorization consult on every request (Resolve,
// PrincipalPolicies, PrincipalExists; directory.go). It is safe for
// concurrent use.
//
// Handlers assume their caller is authenticated and authorized for the
// action: the server and internal/authz decide that before CallIAM or
// CallSTS. The exceptions are the parts AWS makes part of the operation
// itself: AssumeRole evaluates the role's trust policy, and
// GetCallerIdentity answers every valid caller.
//
// Caching. Every read the directory serves comes from memory while nothing
// has changed. A generation counter moves on every write the Service makes
// (all IAM writes, access-key status changes, account creation) and every
// cache entry records the generation it was filled at; an entry of an older
// generation is refilled from the store. Writes are rare and serialised by
// writeMu, so a generation that moves on any write is cheap. Changes made
// by another process or node are seen after Refresh notices the store's
// authorization generation move.
type Service struct {
	st    store.Store
	root  *seal.RootKey
	clock clock.Clock
	log   *slog.Logger

	// writeMu serialises IAM writes: they read, check and write (a user's
	// inline policy total, a tag merge) and are rare.
	writeMu sync.Mutex

	gen      atomic.Int64 // moves on every write; see Service
	storeGen atomic.Int64 // the store's authorization generation as Refresh last saw it

	keys       genCache[*keyEntry]      // access key id → credential
	misses     genCache[*keyEntry]      // access key id → remembered absence
	missReads  chan struct{}            // a slot per store read of an unknown id
	principals genCache[*policiesEntry] // principal or session → compiled policies
	accounts   sync.Map                 // account ids known to exist → struct{}
}

// Config is what New needs.
type Config struct {
	Store store.Store
	Root  *seal.RootKey
	// Clock tells the time for session expiry, creation dates and
	// condition keys; nil means the real clock.
	Clock  clock.Clock
	Logger *slog.Logger
}

// New returns a Service. It seeds the AWS-managed policies (managed.go)
// and makes sure every account that has a root access key exists as an
// account, both idempotently, so that New may run at every start of every
// node.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Root == nil {
		return nil, errors.New("iam: New needs a store and a root key")
	}
	s := &Service{st: cfg.Store, root: cfg.Root, clock: cfg.Clock, log: cfg.Logger}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.keys.max, s.misses.max, s.principals.max = maxCacheEntries, maxCacheEntries, maxCacheEntries
	s.missReads = make(chan struct{}, resolveMissReads)
	if err := s.seedManagedPolicies(ctx); err != nil {
		return nil, err
	}
	keys, err := s.st.ListAccessKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("iam: list access keys: %w", err)
	}
	for _, k := range keys {
		if k.UserName == "" {
			if err := s.ensureAccount(ctx, k.Account); err != nil {
				return nil, err
			}
		}
	}
	g, err := s.st.AuthzGeneration(ctx)
	if err != nil {
		return nil, fmt.Errorf("iam: read authorization generation: %w", err)
	}
	s.storeGen.Store(g)
	return s, nil
}

// Request is what a handler knows of the request besides its input.
type Request struct {
	// Caller is the authenticated caller; required.
	Caller    *identity.Caller
	RequestID string
	SourceIP  string
	// Region is the region of the SigV4 credential scope.
	Region string
	// SecureTransport is whether the request came over TLS
	// (aws:SecureTransport).
	SecureTransport bool
	// Audit is the request's audit event, or nil when audit is off; Serve
	// fills its parameters and response elements, never a handler.
	Audit *audit.Event
}

func (r *Request) account() string { return r.Caller.Principal.Account }

// Invalidate drops every cached identity, key and policy: the next lookup
// of each reads the store. The Service calls it on its own writes; call it
// after changing identities behind its back.
func (s *Service) Invalidate() { s.gen.Add(1) }

// Refresh reads the store's authorization generation and invalidates the
// caches if it moved since the last Refresh: how a node learns of changes
// another node (or the CLI, on the same data directory) made. One small
// read; call it periodically or before a decision that must be fresh.
func (s *Service) Refresh(ctx context.Context) error {
	g, err := s.st.AuthzGeneration(ctx)
	if err != nil {
		return fmt.Errorf("iam: read authorization generation: %w", err)
	}
	if s.storeGen.Swap(g) != g {
		s.Invalidate()
	}
	return nil
}

// handler is one row of an operation table.
type handler struct {
	call func(s *Service, ctx context.Context, r *Request, in any) (any, error)
	// write marks operations that change state: they run under writeMu
	// and move the generation.
	write bool
}

// read and write adapt a typed handler with a result to a row.
func read[In, Out any](f func(*Service, context.Context, *Request, *In) (*Out, error)) handler {
	return handler{call: adapt(f)}
}

func write[In, Out any](f func(*Service, context.Context, *Request, *In) (*Out, error)) handler {
	return handler{call: adapt(f), write: true}
}

// writeNoResult adapts a handler of an operation without a result.
func writeNoResult[In any](f func(*Service, context.Context, *Request, *In) error) handler {
	return handler{write: true, call: func(s *Service, ctx context.Context, r *Request, in any) (any, error) {
		i, ok := in.(*In)
		if !ok {
			return nil, internal("dispatch", fmt.Errorf("input is %T, want *%T", in, *new(In)))
		}
		return nil, f(s, ctx, r, i)
	}}
}

func adapt[In, Out any](f func(*Service, context.Context, *Request, *In) (*Out, error)) func(*Service, context.Context, *Request, any) (any, error) {
	return func(s *Service, ctx context.Context, r *Request, in any) (any, error) {
		i, ok := in.(*In)
		if !ok {
			return nil, internal("dispatch", fmt.Errorf("input is %T, want *%T", in, *new(In)))
		}
		out, err := f(s, ctx, r, i)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// CallIAM runs the IAM operation op with its decoded input (as
// awsquery.IAM.Decode returned them) and returns its output: a pointer to
// op's output type, or nil for an operation without a result. Errors are
// *apierr.Error values with IAM's Query codes, or internal errors.
func (s *Service) CallIAM(ctx context.Context, r *Request, op *awsquery.Operation, in any) (any, error) {
	return s.call(ctx, r, op, in, iamHandlers)
}

// CallSTS is CallIAM for the STS operations.
func (s *Service) CallSTS(ctx context.Context, r *Request, op *awsquery.Operation, in any) (any, error) {
	return s.call(ctx, r, op, in, stsHandlers)
}

func (s *Service) call(ctx context.Context, r *Request, op *awsquery.Operation, in any, table map[string]handler) (any, error) {
	if r == nil || r.Caller == nil || op == nil {
		return nil, internal("dispatch", errors.New("no caller or operation"))
	}
	h, ok := table[op.Name]
	if !ok {
		return nil, internal("dispatch", fmt.Errorf("no handler for %s", op.Name))
	}
	if h.write {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		// After the store has committed, so that a reader that filled a
		// cache entry from the old state sees its entry outdated.
		defer s.Invalidate()
	}
	return h.call(s, ctx, r, in)
}

// iamHandlers is every IAM operation of awsquery.IAM; a test checks that
// the two tables match.
var iamHandlers = map[string]handler{
	"CreateUser":   write((*Service).createUser),
	"GetUser":      read((*Service).getUser),
	"ListUsers":    read((*Service).listUsers),
	"UpdateUser":   writeNoResult((*Service).updateUser),
	"DeleteUser":   writeNoResult((*Service).deleteUser),
	"TagUser":      writeNoResult((*Service).tagUser),
	"UntagUser":    writeNoResult((*Service).untagUser),
	"ListUserTags": read((*Service).listUserTags),

	"CreateAccessKey":      write((*Service).createAccessKey),
	"ListAccessKeys":       read((*Service).listAccessKeys),
	"UpdateAccessKey":      writeNoResult((*Service).updateAccessKey),
	"DeleteAccessKey":      writeNoResult((*Service).deleteAccessKey),
	"GetAccessKeyLastUsed": read((*Service).getAccessKeyLastUsed),

	"PutUserPolicy":    writeNoResult((*Service).putUserPolicy),
	"GetUserPolicy":    read((*Service).getUserPolicy),
	"DeleteUserPolicy": writeNoResult((*Service).deleteUserPolicy),
	"ListUserPolicies": read((*Service).listUserPolicies),

	"CreateGroup":         write((*Service).createGroup),
	"GetGroup":            read((*Service).getGroup),
	"ListGroups":          read((*Service).listGroups),
	"DeleteGroup":         writeNoResult((*Service).deleteGroup),
	"AddUserToGroup":      writeNoResult((*Service).addUserToGroup),
	"RemoveUserFromGroup": writeNoResult((*Service).removeUserFromGroup),
	"ListGroupsForUser":   read((*Service).listGroupsForUser),
	"PutGroupPolicy":      writeNoResult((*Service).putGroupPolicy),
	"GetGroupPolicy":      read((*Service).getGroupPolicy),
	"DeleteGroupPolicy":   writeNoResult((*Service).deleteGroupPolicy),
	"ListGroupPolicies":   read((*Service).listGroupPolicies),

	"CreateRole":             write((*Service).createRole),
	"GetRole":                read((*Service).getRole),
	"ListRoles":              read((*Service).listRoles),
	"DeleteRole":             writeNoResult((*Service).deleteRole),
	"UpdateAssumeRolePolicy": writeNoResult((*Service).updateAssumeRolePolicy),
	"TagRole":                writeNoResult((*Service).tagRole),
	"UntagRole":              writeNoResult((*Service).untagRole),
	"ListRoleTags":           read((*Service).listRoleTags),
	"PutRolePolicy":          writeNoResult((*Service).putRolePolicy),
	"GetRolePolicy":          read((*Service).getRolePolicy),
	"DeleteRolePolicy":       writeNoResult((*Service).deleteRolePolicy),
	"ListRolePolicies":       read((*Service).listRolePolicies),

	"CreatePolicy":              write((*Service).createPolicy),
	"GetPolicy":                 read((*Service).getPolicy),
	"DeletePolicy":              writeNoResult((*Service).deletePolicy),
	"ListPolicies":              read((*Service).listPolicies),
	"CreatePolicyVersion":       write((*Service).createPolicyVersion),
	"GetPolicyVersion":          read((*Service).getPolicyVersion),
	"ListPolicyVersions":        read((*Service).listPolicyVersions),
	"DeletePolicyVersion":       writeNoResult((*Service).deletePolicyVersion),
	"SetDefaultPolicyVersion":   writeNoResult((*Service).setDefaultPolicyVersion),
	"ListEntitiesForPolicy":     read((*Service).listEntitiesForPolicy),
	"AttachUserPolicy":          writeNoResult((*Service).attachUserPolicy),
	"DetachUserPolicy":          writeNoResult((*Service).detachUserPolicy),
	"ListAttachedUserPolicies":  read((*Service).listAttachedUserPolicies),
	"AttachGroupPolicy":         writeNoResult((*Service).attachGroupPolicy),
	"DetachGroupPolicy":         writeNoResult((*Service).detachGroupPolicy),
	"ListAttachedGroupPolicies": read((*Service).listAttachedGroupPolicies),
	"AttachRolePolicy":          writeNoResult((*Service).attachRolePolicy),
	"DetachRolePolicy":          writeNoResult((*Service).detachRolePolicy),
	"ListAttachedRolePolicies":  read((*Service).listAttachedRolePolicies),

	"PutUserPermissionsBoundary":    writeNoResult((*Service).putUserPermissionsBoundary),
	"DeleteUserPermissionsBoundary": writeNoResult((*Service).deleteUserPermissionsBoundary),
	"PutRolePermissionsBoundary":    writeNoResult((*Service).putRolePermissionsBoundary),
	"DeleteRolePermissionsBoundary": writeNoResult((*Service).deleteRolePermissionsBoundary),

	"SimulatePrincipalPolicy": read((*Service).simulatePrincipalPolicy),
	"SimulateCustomPolicy":    read((*Service).simulateCustomPolicy),
}

// stsHandlers is every STS operation of awsquery.STS. None writes: sessions
// are stateless (session.go).
var stsHandlers = map[string]handler{
	"GetCallerIdentity": read((*Service).getCallerIdentity),
	"AssumeRole":        read((*Service).assumeRole),
	"GetSessionToken":   read((*Service).getSessionToken),
	"GetAccessKeyInfo":  read((*Service).getAccessKeyInfo),
}

// Paging. IAM's Marker is opaque to clients; Trent's is the sort key of
// the last item of the previous page, base64url-encoded, and the store
// lists what sorts after it.

const defaultMaxItems = 100

type pager struct {
	after string
	limit int
}

// newPager reads Marker and MaxItems, which the caller has validated.
func newPager(marker *string, maxItems *int32) (pager, error) {
	p := pager{limit: defaultMaxItems}
	if maxItems != nil {
		p.limit = int(*maxItems)
	}
	if marker != nil {
		b, err := base64.RawURLEncoding.DecodeString(*marker)
		if err != nil || len(b) == 0 {
			return pager{}, iamErr(awsquery.ValidationError, msgInvalidMarker)
		}
		p.after = string(b)
	}
	return p, nil
}

// pager ends the checks of a List request: it adds the paging members'
// constraints to c's, reports every violation collected so far, and only
// then reads the marker, so that a request with both a bad member and a bad
// marker gets the ValidationError list, as from AWS.
func (c *checker) pager(marker *string, maxItems *int32) (pager, error) {
	c.paging(marker, maxItems)
	if err := c.err(); err != nil {
		return pager{}, err
	}
	return newPager(marker, maxItems)
}

// fetch is the limit to ask the store for: one more than the page, to
// tell whether there is a next page.
func (p pager) fetch() int { return p.limit + 1 }

// listByPath is the page of ListUsers, ListGroups or ListRoles: the
// account's users, groups or roles (what) under PathPrefix by name, read
// with list; name is an item's name, the key of the pages.
func listByPath[T any](ctx context.Context, r *Request, prefix, marker *string, maxItems *int32, what string,
	list func(ctx context.Context, account, pathPrefix, after string, limit int) ([]T, error), name func(T) string) ([]T, bool, string, error) {
	c := iamChecker()
	c.pathPrefix("pathPrefix", prefix)
	p, err := c.pager(marker, maxItems)
	if err != nil {
		return nil, false, "", err
	}
	items, err := list(ctx, r.account(), str(prefix), p.after, p.fetch())
	if err != nil {
		return nil, false, "", internal("list "+what, err)
	}
	items, more, next := finish(p, items, name)
	return items, more, next, nil
}

// finish cuts items (fetched with p.fetch()) to the page and returns the
// page, whether more follow, and the marker of the next page.
func finish[T any](p pager, items []T, key func(T) string) ([]T, bool, string) {
	if len(items) <= p.limit {
		return items, false, ""
	}
	items = items[:p.limit]
	return items, true, encodeMarker(key(items[len(items)-1]))
}

func encodeMarker(after string) string { return base64.RawURLEncoding.EncodeToString([]byte(after)) }

// pageSlice pages a list already in memory, sorted by key.
func pageSlice[T any](p pager, items []T, key func(T) string) ([]T, bool, string) {
	start := 0
	if p.after != "" {
		for start < len(items) && key(items[start]) <= p.after {
			start++
		}
	}
	end := min(len(items), start+p.fetch())
	return finish(p, items[start:end], key)
}

// indexes pages a list of n items in memory by position, for lists that
// have no sort key of their own: the marker is the index of the next item.
// It returns the page's bounds and the next marker ("" on the last page).
func (p pager) indexes(n int) (start, end int, marker string, err error) {
	if p.after != "" {
		start, err = strconv.Atoi(p.after)
		if err != nil || start < 0 || start > n {
			return 0, 0, "", iamErr(awsquery.ValidationError, msgInvalidMarker)
		}
	}
	end = min(n, start+p.limit)
	if end < n {
		marker = encodeMarker(strconv.Itoa(end))
	}
	return start, end, marker, nil
}

// each converts the items of a list for the wire, one by one.
func each[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// genCache holds entries that carry the generation they were filled at.
// It is bounded: when it holds max entries it is emptied, since entries
// are cheap to refill and a flood of distinct keys gains nothing from them.
type genCache[V any] struct {
	m   sync.Map
	n   atomic.Int64
	max int64
}

func (c *genCache[V]) load(key string) (V, bool) {
	v, ok := c.m.Load(key)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

func (c *genCache[V]) store(key string, v V) {
	if c.n.Load() >= c.max {
		c.m.Clear()
		c.n.Store(0)
	}
	if _, loaded := c.m.Swap(key, v); !loaded {
		c.n.Add(1)
	}
}

// maxCacheEntries bounds each cache (keys, principals): about a few MB.
const maxCacheEntries = 20000
