package iam

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Serve authorizes an IAM or STS operation for the request's caller and, if
// allowed, runs it. It is the dispatch layer of the Query APIs: every
// operation of both tables goes through Authorize first, so no handler
// decides access (AssumeRole's trust policy excepted: it is the operation's
// own meaning, evaluated in the handler).
func (s *Service) Serve(ctx context.Context, service string, r *Request, op *awsquery.Operation, in any) (any, error) {
	if r != nil && r.Audit != nil {
		r.Audit.RequestParameters = auditJSON(in)
	}
	if err := s.Authorize(ctx, service, r, op, in); err != nil {
		return nil, err
	}
	var (
		out any
		err error
	)
	if service == "sts" {
		out, err = s.CallSTS(ctx, r, op, in)
	} else {
		out, err = s.CallIAM(ctx, r, op, in)
	}
	if err == nil && r.Audit != nil && !r.Audit.ReadOnly && out != nil {
		r.Audit.ResponseElements = auditJSON(out)
	}
	return out, err
}

// auditLists caches an allow-list per input and output type: every member
// but blobs and secrets (audit refuses those by type and by name, at any
// depth, so CreateAccessKey's secret and AssumeRole's credentials never
// reach an event).
var auditLists sync.Map // reflect.Type → *audit.AllowList

func auditJSON(v any) json.RawMessage {
	t := reflect.TypeOf(v)
	l, ok := auditLists.Load(t)
	if !ok {
		list, err := audit.NewAllowList(t, audit.AuditableMembers(t)...)
		if err != nil {
			return nil
		}
		l, _ = auditLists.LoadOrStore(t, list)
	}
	b, err := l.(*audit.AllowList).JSON(v)
	if err != nil {
		return nil
	}
	return b
}

// Authorize decides whether r's caller may run op with input in, as IAM
// decides its own actions: by the caller's identity policies, limited by
// a permissions boundary and session policies, an explicit Deny winning.
// The account root may do anything in its account. It returns nil or an
// *apierr.Error AccessDenied worded as AWS words it.
func (s *Service) Authorize(ctx context.Context, service string, r *Request, op *awsquery.Operation, in any) error {
	if r == nil || r.Caller == nil {
		return internal("authorize", fmt.Errorf("%s:%s without a caller", service, op.Name))
	}
	action := service + ":" + op.Name
	switch action {
	case "sts:GetCallerIdentity", "sts:GetSessionToken":
		// AWS: no permission is required, and none can deny them.
		return nil
	}
	caller := r.Caller
	if sess := caller.Session; sess != nil && sess.RoleARN == "" && action != "sts:AssumeRole" {
		// GetSessionToken's credentials: AWS lets them call no IAM
		// operation without MFA, which Trent does not support, and no STS
		// operation but AssumeRole and GetCallerIdentity (STS API
		// Reference, GetSessionToken). Otherwise a session whose key was
		// leaked could, for instance, make the user new access keys.
		return apierr.New(apierr.AccessDenied, "User: %s is not authorized to perform: %s with credentials from GetSessionToken: "+
			"they call no IAM operation, and no STS operation but AssumeRole and GetCallerIdentity, without MFA", caller.Principal.ARN, action)
	}
	resource, err := s.resourceOf(ctx, service, r, op, in)
	if err != nil {
		return err
	}
	pp, err := s.PrincipalPolicies(ctx, caller)
	if err != nil {
		return internal("authorize", fmt.Errorf("policies of %s: %w", caller.Principal.ARN, err))
	}
	p := pp.Policies()
	req := &policy.Request{Principal: caller.Principal, Action: action, Resource: resource}
	s.fillContext(&req.Context, r, in)

	namedInTrust := action == "sts:AssumeRole" && s.trustNamesCaller(ctx, caller, resource, req.Context)
	decide := func(action string) error {
		req.Action, req.Resource = action, resource
		var d policy.Decision
		if namedInTrust {
			// A trust policy in the caller's own account that names the
			// caller itself allows without an identity policy (the rule for
			// resource-based policies); an identity or boundary Deny still
			// wins.
			d = policy.Decide(&policy.Policies{Identity: p.Identity, Boundary: p.Boundary, Session: p.Session, Resource: allowAll}, req)
		} else {
			d = policy.DecideIdentity(&p, req)
		}
		if d.Allowed {
			return nil
		}
		return apierr.New(apierr.AccessDenied, "%s", d.Message(caller.Principal.ARN, action, resource))
	}
	if err := decide(action); err != nil {
		return err
	}
	if target := renameTarget(r.account(), resource, in); target != "" && target != resource {
		// AWS: renaming or moving a user needs the permission on the
		// target as well as on the source (IAM API Reference, UpdateUser);
		// else a user allowed to update only
		// itself could move into a path a key policy trusts.
		resource = target
		if err := decide(action); err != nil {
			return err
		}
	}
	if in, ok := in.(*awsquery.AssumeRoleInput); ok {
		// Session tags and a source identity need their own permissions on
		// the caller's side as well as in the role's trust policy (IAM User
		// Guide, "Permissions required to add session tags" and "to set
		// source identity"): an explicit Deny or a boundary there must stop
		// them (review, December 8).
		if len(in.Tags) > 0 || len(in.TransitiveTagKeys) > 0 {
			if err := decide("sts:TagSession"); err != nil {
				return err
			}
		}
		if in.SourceIdentity != nil {
			if err := decide("sts:SetSourceIdentity"); err != nil {
				return err
			}
		}
	}
	return nil
}

// renameTarget is the ARN an UpdateUser would give its user, whose ARN
// is now source; "" for any other operation, or one that renames nothing.
// (Trent has no UpdateGroup, to which the same rule applies.)
func renameTarget(account, source string, in any) string {
	u, ok := in.(*awsquery.UpdateUserInput)
	if !ok || u.NewPath == nil && u.NewUserName == nil {
		return ""
	}
	// source is arn:aws:iam::<account>:user<path><name>.
	slash := strings.IndexByte(source, '/')
	if slash < 0 {
		return ""
	}
	rest := source[slash:]
	i := strings.LastIndexByte(rest, '/')
	path, name := rest[:i+1], rest[i+1:]
	if u.NewPath != nil {
		path = *u.NewPath
	}
	if u.NewUserName != nil {
		name = *u.NewUserName
	}
	return userARN(account, path, name)
}

// AuthorizeAction decides, as Authorize does for IAM's own operations,
// whether r's caller may perform action (of another service, say
// "cloudtrail:LookupEvents") on resource: by its identity policies,
// boundary and session policies, the account root always allowed in its
// account. It returns nil or an AccessDenied worded as AWS words it.
func (s *Service) AuthorizeAction(ctx context.Context, r *Request, action, resource string) error {
	if r == nil || r.Caller == nil {
		return internal("authorize", fmt.Errorf("%s without a caller", action))
	}
	pp, err := s.PrincipalPolicies(ctx, r.Caller)
	if err != nil {
		return internal("authorize", fmt.Errorf("policies of %s: %w", r.Caller.Principal.ARN, err))
	}
	p := pp.Policies()
	req := &policy.Request{Principal: r.Caller.Principal, Action: action, Resource: resource}
	s.fillContext(&req.Context, r, nil)
	d := policy.DecideIdentity(&p, req)
	if d.Allowed {
		return nil
	}
	// AWS names no resource in the denial of an action that has none.
	named := resource
	if named == "*" {
		named = ""
	}
	return apierr.New(apierr.AccessDenied, "%s", d.Message(r.Caller.Principal.ARN, action, named))
}

// allowAll stands for a resource policy that names the caller: it lets
// policy.Decide weigh the identity side's Deny statements alone.
var allowAll = func() *policy.Compiled {
	d, err := policy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`)
	if err != nil {
		panic(err)
	}
	c, err := policy.Compile(d)
	if err != nil {
		panic(err)
	}
	return c
}()

// trustNamesCaller reports whether roleARN is a role of the caller's own
// account whose trust policy allows sts:AssumeRole to the caller by name
// (its user or role ARN, not only through its account).
func (s *Service) trustNamesCaller(ctx context.Context, caller *identity.Caller, roleARN string, rc policy.Context) bool {
	role, ok, err := s.roleFromARN(ctx, roleARN)
	if err != nil || !ok || role.Account != caller.Principal.Account {
		return false
	}
	trust, err := compileTrust(role.AssumeRolePolicy)
	if err != nil {
		return false
	}
	// With the request's context: a statement that names the caller under
	// a condition the request does not meet must not count, nor one whose
	// negated condition an empty context would satisfy (review, December 8).
	res := trust.Evaluate(&policy.Request{Principal: caller.Principal, Action: "sts:AssumeRole", Resource: role.ARN, Context: rc})
	return res.Effect == policy.Allow && res.Via != policy.ViaAccount
}

// fillContext sets the global condition keys of an IAM or STS request.
func (s *Service) fillContext(c *policy.Context, r *Request, in any) {
	c.Time = s.clock.Now()
	if r.SourceIP != "" {
		c.Set("aws:SourceIp", r.SourceIP)
	}
	if r.Region != "" {
		c.Set("aws:RequestedRegion", r.Region)
	}
	c.Set("aws:SecureTransport", strconv.FormatBool(r.SecureTransport))
	for _, t := range r.Caller.Tags {
		c.Set("aws:PrincipalTag/"+t.Key, t.Value)
	}
	if r.Caller.Session != nil {
		c.Set("aws:MultiFactorAuthPresent", "false")
	}
	// Tags the request sets: aws:RequestTag/<key> and aws:TagKeys.
	if tags := fieldOf(in, "Tags"); tags.IsValid() && tags.Kind() == reflect.Slice && tags.Len() > 0 {
		keys := make([]string, 0, tags.Len())
		for i := 0; i < tags.Len(); i++ {
			t := reflect.Indirect(tags.Index(i))
			k, v := stringField(t, "Key"), stringField(t, "Value")
			c.Set("aws:RequestTag/"+k, v)
			keys = append(keys, k)
		}
		c.SetMulti("aws:TagKeys", keys)
	}
	if keys := fieldOf(in, "TagKeys"); keys.IsValid() && keys.Kind() == reflect.Slice {
		if ks, ok := keys.Interface().([]string); ok {
			c.SetMulti("aws:TagKeys", ks)
		}
	}
	if arn := stringField(reflect.Indirect(reflect.ValueOf(in)), "PolicyArn"); arn != "" {
		c.Set("iam:PolicyARN", arn)
	}
	if b := stringField(reflect.Indirect(reflect.ValueOf(in)), "PermissionsBoundary"); b != "" {
		c.Set("iam:PermissionsBoundary", b)
	}
	// AssumeRole's own keys, which its trust policy's conditions read
	// (trustNamesCaller evaluates it with this context).
	if in, ok := in.(*awsquery.AssumeRoleInput); ok {
		if in.ExternalId != nil {
			c.Set("sts:ExternalId", *in.ExternalId)
		}
		if in.RoleSessionName != nil {
			c.Set("sts:RoleSessionName", *in.RoleSessionName)
		}
		if in.SourceIdentity != nil {
			c.Set("sts:SourceIdentity", *in.SourceIdentity)
		}
		if len(in.TransitiveTagKeys) > 0 {
			c.SetMulti("sts:TransitiveTagKeys", in.TransitiveTagKeys)
		}
	}
}

// resourceOf is the ARN an operation acts on, as the IAM Service
// Authorization Reference names it: the user, group, role or policy the
// input names; the caller itself where IAM defaults to it; the path of a
// listing; "*" where the action has no resource.
func (s *Service) resourceOf(ctx context.Context, service string, r *Request, op *awsquery.Operation, in any) (string, error) {
	acct := r.account()
	v := reflect.Indirect(reflect.ValueOf(in))
	if service == "sts" {
		if arn := stringField(v, "RoleArn"); arn != "" {
			return arn, nil
		}
		return "*", nil
	}
	switch op.Name {
	case "ListUsers", "ListGroups", "ListRoles", "ListPolicies":
		kind := map[string]string{"ListUsers": "user", "ListGroups": "group", "ListRoles": "role", "ListPolicies": "policy"}[op.Name]
		prefix := stringField(v, "PathPrefix")
		if prefix == "" {
			prefix = "/"
		}
		return "arn:aws:iam::" + acct + ":" + kind + prefix, nil
	case "CreatePolicy":
		return policyARN(acct, pathOr(stringField(v, "Path")), stringField(v, "PolicyName")), nil
	case "SimulatePrincipalPolicy":
		return stringField(v, "PolicySourceArn"), nil
	case "SimulateCustomPolicy":
		return "*", nil
	case "AddUserToGroup", "RemoveUserFromGroup":
		// Their resource is the group (Service Authorization Reference),
		// though they name a user too: a Deny on joining or leaving a
		// group must hold whoever the user is.
		return s.entityResource(ctx, acct, store.KindGroup, stringField(v, "GroupName"), "")
	}
	if name := stringField(v, "UserName"); name != "" {
		return s.entityResource(ctx, acct, store.KindUser, name, stringField(v, "Path"))
	}
	if name := stringField(v, "GroupName"); name != "" {
		return s.entityResource(ctx, acct, store.KindGroup, name, stringField(v, "Path"))
	}
	if name := stringField(v, "RoleName"); name != "" {
		return s.entityResource(ctx, acct, store.KindRole, name, stringField(v, "Path"))
	}
	if arn := stringField(v, "PolicyArn"); arn != "" {
		return arn, nil
	}
	// Operations on "the calling user" when no UserName is given
	// (GetUser, CreateAccessKey, ListAccessKeys …) act on the caller.
	return r.Caller.Principal.ARN, nil
}

// entityResource is the ARN of a user, group or role with its path: the
// stored one if the entity exists, else the path the request gives (a
// Create call) or "/".
func (s *Service) entityResource(ctx context.Context, acct string, kind store.EntityKind, name, path string) (string, error) {
	var (
		stored string
		err    error
	)
	switch kind {
	case store.KindUser:
		var u store.User
		if u, err = s.st.GetUser(ctx, acct, name); err == nil {
			stored = u.Path
		}
	case store.KindGroup:
		var g store.Group
		if g, err = s.st.GetGroup(ctx, acct, name); err == nil {
			stored = g.Path
		}
	case store.KindRole:
		var ro store.Role
		if ro, err = s.st.GetRole(ctx, acct, name); err == nil {
			stored = ro.Path
		}
	}
	switch {
	case err == nil:
		path = stored
	case !isNotFound(err):
		return "", internal("authorize", fmt.Errorf("look up %s %s: %w", kind, name, err))
	}
	return entityARN(acct, kind, pathOr(path), name), nil
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// fieldOf returns the named field of the struct *in points at, or the zero
// Value.
func fieldOf(in any, name string) reflect.Value {
	v := reflect.Indirect(reflect.ValueOf(in))
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.FieldByName(name)
}

// stringField returns a string or *string field of struct v, or "".
func stringField(v reflect.Value, name string) string {
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName(name)
	if !f.IsValid() {
		return ""
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return ""
		}
		f = f.Elem()
	}
	if f.Kind() != reflect.String {
		return ""
	}
	return strings.Clone(f.String())
}
