package iam

import (
	"context"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Inline policies, managed policies and their versions, attachments and
// permissions boundaries.

// IAM's size quotas on policy documents, in characters without whitespace
// (IAM User Guide, "IAM and AWS STS quotas"): the inline quotas bound the
// total of all of an entity's inline policies.
const (
	maxUserInlineSize  = 2048
	maxGroupInlineSize = 5120
	maxRoleInlineSize  = 10240
	maxManagedSize     = 6144
)

// entity describes how the operations on one kind of entity name it in
// validation messages, word their errors and which inline quota applies.
type entity struct {
	kind        store.EntityKind
	member      string // its name member as validation messages spell it
	noEntity    func(name string) *apierr.Error
	noPolicyMsg string // NoSuchEntity for an inline policy, %s its name
	inlineMax   int
	quotaName   string // the name of the attached-policies quota
}

var (
	userEntity = entity{kind: store.KindUser, member: "userName", noEntity: noSuchUser, noPolicyMsg: msgNoSuchUserPolicy,
		inlineMax: maxUserInlineSize, quotaName: "PoliciesPerUser"}
	groupEntity = entity{kind: store.KindGroup, member: "groupName", noEntity: noSuchGroup, noPolicyMsg: msgNoSuchGroupPolicy,
		inlineMax: maxGroupInlineSize, quotaName: "PoliciesPerGroup"}
	roleEntity = entity{kind: store.KindRole, member: "roleName", noEntity: noSuchRole, noPolicyMsg: msgNoSuchRolePolicy,
		inlineMax: maxRoleInlineSize, quotaName: "PoliciesPerRole"}
)

func entityOf(kind store.EntityKind) entity {
	switch kind {
	case store.KindGroup:
		return groupEntity
	case store.KindRole:
		return roleEntity
	}
	return userEntity
}

func noSuchEntity(ref store.EntityRef) *apierr.Error { return entityOf(ref.Kind).noEntity(ref.Name) }

// checkManagedName validates the entity name member of the managed-policy
// and permissions-boundary operations, whose model types a user's name as
// userNameType (1–64 characters) rather than existingUserNameType (1–128).
func (e entity) checkManagedName(c *checker, s *string) {
	if e.kind == store.KindUser {
		c.userName(e.member, s)
		return
	}
	e.checkName(c, s)
}

// checkName validates the entity name member of a request.
func (e entity) checkName(c *checker, s *string) {
	switch e.kind {
	case store.KindUser:
		c.existingUserName(e.member, s)
	case store.KindGroup:
		c.groupName(e.member, s)
	default:
		c.roleName(e.member, s)
	}
}

// entityExists reads the entity, answering NoSuchEntity if it is absent,
// and returns its name as stored: IAM finds names in any case, and
// answers with the stored one.
func (s *Service) entityExists(ctx context.Context, e entity, account, name string) (string, error) {
	switch e.kind {
	case store.KindUser:
		u, err := s.loadUser(ctx, account, name)
		return u.Name, err
	case store.KindGroup:
		g, err := s.loadGroup(ctx, account, name)
		return g.Name, err
	}
	r, err := s.loadRole(ctx, account, name)
	return r.Name, err
}

// --- Inline policies.

func (s *Service) putInline(ctx context.Context, r *Request, e entity, name, policyName, doc *string) error {
	c := iamChecker()
	e.checkName(c, name)
	c.policyName("policyName", policyName)
	c.document("policyDocument", doc)
	if err := c.err(); err != nil {
		return err
	}
	ref := store.EntityRef{Kind: e.kind, Account: r.account(), Name: *name}
	if _, err := s.entityExists(ctx, e, ref.Account, ref.Name); err != nil {
		return err
	}
	if _, err := policy.ParseIdentity(*doc); err != nil {
		return err
	}
	// The quota bounds the total of the entity's inline policies, with
	// this one replacing any of the same name.
	total := nonWhitespaceLen(*doc)
	err := s.eachInline(ctx, ref, func(n, d string) error {
		if n != *policyName {
			total += nonWhitespaceLen(d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if total > e.inlineMax {
		return iamErr(awsquery.LimitExceeded, msgInlineTooLarge, e.inlineMax, string(e.kind), ref.Name)
	}
	err = s.st.PutInlinePolicy(ctx, ref, *policyName, *doc)
	return errMap{notFound: e.noEntity(*name)}.wrap("put inline policy", err)
}

// eachInline calls f with the name and document of each of the entity's
// inline policies.
func (s *Service) eachInline(ctx context.Context, ref store.EntityRef, f func(name, doc string) error) error {
	after := ""
	for {
		names, err := s.st.ListInlinePolicies(ctx, ref, after, 1000)
		if err != nil {
			return errMap{notFound: noSuchEntity(ref)}.wrap("list inline policies", err)
		}
		for _, n := range names {
			d, err := s.st.GetInlinePolicy(ctx, ref, n)
			if isNotFound(err) {
				continue // deleted meanwhile
			}
			if err != nil {
				return internal("get inline policy", err)
			}
			if err := f(n, d); err != nil {
				return err
			}
		}
		if len(names) < 1000 {
			return nil
		}
		after = names[len(names)-1]
	}
}

// getInline reads an inline policy and returns it with the name of its
// entity as stored, as Get{User,Group,Role}Policy answer.
func (s *Service) getInline(ctx context.Context, r *Request, e entity, name, policyName *string) (string, awsquery.PolicyDocument, error) {
	c := iamChecker()
	e.checkName(c, name)
	c.policyName("policyName", policyName)
	if err := c.err(); err != nil {
		return "", "", err
	}
	stored, err := s.entityExists(ctx, e, r.account(), *name)
	if err != nil {
		return "", "", err
	}
	doc, err := s.st.GetInlinePolicy(ctx, store.EntityRef{Kind: e.kind, Account: r.account(), Name: *name}, *policyName)
	return stored, awsquery.PolicyDocument(doc), errMap{notFound: iamErr(awsquery.NoSuchEntity, e.noPolicyMsg, *policyName)}.wrap("get inline policy", err)
}

func (s *Service) deleteInline(ctx context.Context, r *Request, e entity, name, policyName *string) error {
	c := iamChecker()
	e.checkName(c, name)
	c.policyName("policyName", policyName)
	if err := c.err(); err != nil {
		return err
	}
	if _, err := s.entityExists(ctx, e, r.account(), *name); err != nil {
		return err
	}
	err := s.st.DeleteInlinePolicy(ctx, store.EntityRef{Kind: e.kind, Account: r.account(), Name: *name}, *policyName)
	return errMap{notFound: iamErr(awsquery.NoSuchEntity, e.noPolicyMsg, *policyName)}.wrap("delete inline policy", err)
}

func (s *Service) listInline(ctx context.Context, r *Request, e entity, name, marker *string, maxItems *int32) (*awsquery.ListPolicyNamesOutput, error) {
	c := iamChecker()
	e.checkName(c, name)
	p, err := c.pager(marker, maxItems)
	if err != nil {
		return nil, err
	}
	names, err := s.st.ListInlinePolicies(ctx, store.EntityRef{Kind: e.kind, Account: r.account(), Name: *name}, p.after, p.fetch())
	if err != nil {
		return nil, errMap{notFound: e.noEntity(*name)}.wrap("list inline policies", err)
	}
	names, more, next := finish(p, names, func(n string) string { return n })
	return &awsquery.ListPolicyNamesOutput{PolicyNames: names, IsTruncated: more, Marker: next}, nil
}

func (s *Service) putUserPolicy(ctx context.Context, r *Request, in *awsquery.PutUserPolicyInput) error {
	return s.putInline(ctx, r, userEntity, in.UserName, in.PolicyName, in.PolicyDocument)
}

func (s *Service) getUserPolicy(ctx context.Context, r *Request, in *awsquery.GetUserPolicyInput) (*awsquery.GetUserPolicyOutput, error) {
	name, doc, err := s.getInline(ctx, r, userEntity, in.UserName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &awsquery.GetUserPolicyOutput{UserName: name, PolicyName: *in.PolicyName, PolicyDocument: doc}, nil
}

func (s *Service) deleteUserPolicy(ctx context.Context, r *Request, in *awsquery.DeleteUserPolicyInput) error {
	return s.deleteInline(ctx, r, userEntity, in.UserName, in.PolicyName)
}

func (s *Service) listUserPolicies(ctx context.Context, r *Request, in *awsquery.ListUserPoliciesInput) (*awsquery.ListPolicyNamesOutput, error) {
	return s.listInline(ctx, r, userEntity, in.UserName, in.Marker, in.MaxItems)
}

func (s *Service) putGroupPolicy(ctx context.Context, r *Request, in *awsquery.PutGroupPolicyInput) error {
	return s.putInline(ctx, r, groupEntity, in.GroupName, in.PolicyName, in.PolicyDocument)
}

func (s *Service) getGroupPolicy(ctx context.Context, r *Request, in *awsquery.GetGroupPolicyInput) (*awsquery.GetGroupPolicyOutput, error) {
	name, doc, err := s.getInline(ctx, r, groupEntity, in.GroupName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &awsquery.GetGroupPolicyOutput{GroupName: name, PolicyName: *in.PolicyName, PolicyDocument: doc}, nil
}

func (s *Service) deleteGroupPolicy(ctx context.Context, r *Request, in *awsquery.DeleteGroupPolicyInput) error {
	return s.deleteInline(ctx, r, groupEntity, in.GroupName, in.PolicyName)
}

func (s *Service) listGroupPolicies(ctx context.Context, r *Request, in *awsquery.ListGroupPoliciesInput) (*awsquery.ListPolicyNamesOutput, error) {
	return s.listInline(ctx, r, groupEntity, in.GroupName, in.Marker, in.MaxItems)
}

func (s *Service) putRolePolicy(ctx context.Context, r *Request, in *awsquery.PutRolePolicyInput) error {
	return s.putInline(ctx, r, roleEntity, in.RoleName, in.PolicyName, in.PolicyDocument)
}

func (s *Service) getRolePolicy(ctx context.Context, r *Request, in *awsquery.GetRolePolicyInput) (*awsquery.GetRolePolicyOutput, error) {
	name, doc, err := s.getInline(ctx, r, roleEntity, in.RoleName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &awsquery.GetRolePolicyOutput{RoleName: name, PolicyName: *in.PolicyName, PolicyDocument: doc}, nil
}

func (s *Service) deleteRolePolicy(ctx context.Context, r *Request, in *awsquery.DeleteRolePolicyInput) error {
	return s.deleteInline(ctx, r, roleEntity, in.RoleName, in.PolicyName)
}

func (s *Service) listRolePolicies(ctx context.Context, r *Request, in *awsquery.ListRolePoliciesInput) (*awsquery.ListPolicyNamesOutput, error) {
	return s.listInline(ctx, r, roleEntity, in.RoleName, in.Marker, in.MaxItems)
}

// --- Managed policies.

func outPolicy(p store.Policy, withDescription bool) awsquery.Policy {
	n := int32(p.AttachmentCount)
	var zero int32
	out := awsquery.Policy{
		PolicyName: p.Name, PolicyId: p.ID, Arn: p.ARN, Path: p.Path, DefaultVersionId: p.DefaultVersion,
		AttachmentCount: &n, PermissionsBoundaryUsageCount: &zero, IsAttachable: true,
		CreateDate: p.CreatedAt, UpdateDate: p.UpdatedAt,
	}
	if withDescription {
		out.Description = p.Description
	}
	return out
}

// checkPolicyARN refuses what is not an IAM policy ARN, with IAM's
// recorded message. IAM checks this before the ARN's length, so a policy
// name passed as an ARN gets this message too (recorded).
func checkPolicyARN(s *string) error {
	if s == nil {
		return nil
	}
	a, ok := parseARN(*s)
	if !ok || a.service != "iam" || !strings.HasPrefix(a.resource, "policy/") {
		return iamErr(awsquery.ValidationError, msgBadPolicyARN)
	}
	return nil
}

// visiblePolicy reads a managed policy the account may see, or answers
// notFound.
func (s *Service) visiblePolicy(ctx context.Context, account, arn string, notFound *apierr.Error) (store.Policy, error) {
	p, err := s.st.GetPolicy(ctx, account, arn)
	return p, errMap{notFound: notFound}.wrap("get policy", err)
}

// ownPolicy reads a managed policy the account may change. An AWS-managed
// policy is visible to every account but changeable by none: that is the
// authorization layer's AccessDenied, repeated here so that no path
// changes one.
func (s *Service) ownPolicy(ctx context.Context, r *Request, action, arn string) (store.Policy, error) {
	p, err := s.visiblePolicy(ctx, r.account(), arn, noSuchPolicy(arn))
	if err != nil {
		return p, err
	}
	if p.Account != r.account() {
		return p, iamErr(awsquery.AccessDenied, "User: %s is not authorized to perform: iam:%s on resource: policy %s",
			r.Caller.Principal.ARN, action, arn)
	}
	return p, nil
}

// checkManagedDocument parses a managed policy document and applies the
// managed-policy size quota.
func checkManagedDocument(doc string) error {
	if _, err := policy.ParseIdentity(doc); err != nil {
		return err
	}
	if nonWhitespaceLen(doc) > maxManagedSize {
		return quota("PolicySize", maxManagedSize)
	}
	return nil
}

func (s *Service) createPolicy(ctx context.Context, r *Request, in *awsquery.CreatePolicyInput) (*awsquery.PolicyOutput, error) {
	c := iamChecker()
	c.policyName("policyName", in.PolicyName)
	c.policyPath("path", in.Path)
	c.document("policyDocument", in.PolicyDocument)
	c.length("description", in.Description, 0, 1000)
	c.tags("tags", in.Tags)
	if err := c.err(); err != nil {
		return nil, err
	}
	tags, err := requestTags(in.Tags, awsquery.InvalidInput)
	if err != nil {
		return nil, err
	}
	if err := checkManagedDocument(*in.PolicyDocument); err != nil {
		return nil, err
	}
	account, name, path := r.account(), *in.PolicyName, pathOrRoot(in.Path)
	if err := s.ensureAccount(ctx, account); err != nil {
		return nil, err
	}
	now := s.now()
	p := store.Policy{Account: account, Name: name, Path: path, ID: newUniqueID(prefixPolicy),
		ARN: policyARN(account, path, name), DefaultVersion: "v1", Description: str(in.Description),
		CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreatePolicy(ctx, p, *in.PolicyDocument); err != nil {
		return nil, errMap{exists: iamErr(awsquery.EntityAlreadyExists, msgPolicyExists, name)}.wrap("create policy", err)
	}
	out := outPolicy(p, true)
	// The store keeps no tags on policies: CreatePolicy echoes them, as
	// AWS does, but GetPolicy will not show them.
	out.Tags = outTags(tags)
	return &awsquery.PolicyOutput{Policy: out}, nil
}

func (s *Service) getPolicy(ctx context.Context, r *Request, in *awsquery.GetPolicyInput) (*awsquery.PolicyOutput, error) {
	if err := checkPolicyARN(in.PolicyArn); err != nil {
		return nil, err
	}
	p, err := s.visiblePolicy(ctx, r.account(), *in.PolicyArn, noSuchPolicy(*in.PolicyArn))
	if err != nil {
		return nil, err
	}
	return &awsquery.PolicyOutput{Policy: outPolicy(p, true)}, nil
}

func (s *Service) deletePolicy(ctx context.Context, r *Request, in *awsquery.DeletePolicyInput) error {
	if err := checkPolicyARN(in.PolicyArn); err != nil {
		return err
	}
	arn := *in.PolicyArn
	p, err := s.ownPolicy(ctx, r, "DeletePolicy", arn)
	if err != nil {
		return err
	}
	if p.AttachmentCount > 0 {
		return deleteConflict(msgPolicyAttached)
	}
	vs, err := s.st.ListPolicyVersions(ctx, r.account(), arn)
	if err != nil {
		return errMap{notFound: noSuchPolicy(arn)}.wrap("list policy versions", err)
	}
	if len(vs) > 1 {
		return deleteConflict(msgPolicyHasVersions)
	}
	err = s.st.DeletePolicy(ctx, r.account(), arn)
	return errMap{notFound: noSuchPolicy(arn), conflict: deleteConflict(msgPolicyAttached)}.wrap("delete policy", err)
}

func (s *Service) listPolicies(ctx context.Context, r *Request, in *awsquery.ListPoliciesInput) (*awsquery.ListPoliciesOutput, error) {
	c := iamChecker()
	c.enum("scope", in.Scope, "All", "AWS", "Local")
	c.policyPath("pathPrefix", in.PathPrefix)
	c.enum("policyUsageFilter", in.PolicyUsageFilter, "PermissionsPolicy", "PermissionsBoundary")
	pg, err := c.pager(in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	// Every managed policy can serve as a permissions policy and as a
	// boundary, so PolicyUsageFilter narrows nothing.
	f := store.PolicyFilter{Scope: store.PolicyScope(str(in.Scope)), OnlyAttached: in.OnlyAttached != nil && *in.OnlyAttached,
		PathPrefix: str(in.PathPrefix)}
	ps, err := s.st.ListPolicies(ctx, r.account(), f, pg.after, pg.fetch())
	if err != nil {
		return nil, internal("list policies", err)
	}
	ps, more, marker := finish(pg, ps, func(p store.Policy) string { return p.ARN })
	// ListPolicies leaves out descriptions (IAM API Reference, Policy).
	out := each(ps, func(p store.Policy) awsquery.Policy { return outPolicy(p, false) })
	return &awsquery.ListPoliciesOutput{Policies: out, IsTruncated: more, Marker: marker}, nil
}

func (s *Service) createPolicyVersion(ctx context.Context, r *Request, in *awsquery.CreatePolicyVersionInput) (*awsquery.PolicyVersionOutput, error) {
	if err := checkPolicyARN(in.PolicyArn); err != nil {
		return nil, err
	}
	c := iamChecker()
	c.document("policyDocument", in.PolicyDocument)
	if err := c.err(); err != nil {
		return nil, err
	}
	arn := *in.PolicyArn
	if _, err := s.ownPolicy(ctx, r, "CreatePolicyVersion", arn); err != nil {
		return nil, err
	}
	if err := checkManagedDocument(*in.PolicyDocument); err != nil {
		return nil, err
	}
	v, err := s.st.CreatePolicyVersion(ctx, r.account(), arn, *in.PolicyDocument, in.SetAsDefault != nil && *in.SetAsDefault, s.now())
	if err != nil {
		return nil, errMap{notFound: noSuchPolicy(arn), limit: iamErr(awsquery.LimitExceeded, msgTooManyVersions)}.wrap("create policy version", err)
	}
	return &awsquery.PolicyVersionOutput{PolicyVersion: outVersion(v, false)}, nil
}

func outVersion(v store.PolicyVersion, withDocument bool) awsquery.PolicyVersion {
	out := awsquery.PolicyVersion{VersionId: v.VersionID, IsDefaultVersion: v.IsDefault, CreateDate: v.CreatedAt}
	if withDocument {
		out.Document = awsquery.PolicyDocument(v.Document)
	}
	return out
}

func (s *Service) versionInput(arn, versionID *string) error {
	if err := checkPolicyARN(arn); err != nil {
		return err
	}
	c := iamChecker()
	c.versionID("versionId", versionID)
	return c.err()
}

func noSuchVersion(arn, versionID string) *apierr.Error {
	return iamErr(awsquery.NoSuchEntity, msgNoSuchVersion, arn, versionID)
}

func (s *Service) getPolicyVersion(ctx context.Context, r *Request, in *awsquery.GetPolicyVersionInput) (*awsquery.PolicyVersionOutput, error) {
	if err := s.versionInput(in.PolicyArn, in.VersionId); err != nil {
		return nil, err
	}
	arn := *in.PolicyArn
	if _, err := s.visiblePolicy(ctx, r.account(), arn, noSuchPolicy(arn)); err != nil {
		return nil, err
	}
	v, err := s.st.GetPolicyVersion(ctx, r.account(), arn, *in.VersionId)
	if err != nil {
		return nil, errMap{notFound: noSuchVersion(arn, *in.VersionId)}.wrap("get policy version", err)
	}
	return &awsquery.PolicyVersionOutput{PolicyVersion: outVersion(v, true)}, nil
}

func (s *Service) listPolicyVersions(ctx context.Context, r *Request, in *awsquery.ListPolicyVersionsInput) (*awsquery.ListPolicyVersionsOutput, error) {
	if err := checkPolicyARN(in.PolicyArn); err != nil {
		return nil, err
	}
	c := iamChecker()
	p, err := c.pager(in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	vs, err := s.st.ListPolicyVersions(ctx, r.account(), *in.PolicyArn)
	if err != nil {
		return nil, errMap{notFound: noSuchPolicy(*in.PolicyArn)}.wrap("list policy versions", err)
	}
	start, end, marker, err := p.indexes(len(vs))
	if err != nil {
		return nil, err
	}
	out := each(vs[start:end], func(v store.PolicyVersion) awsquery.PolicyVersion { return outVersion(v, false) })
	return &awsquery.ListPolicyVersionsOutput{Versions: out, IsTruncated: marker != "", Marker: marker}, nil
}

func (s *Service) deletePolicyVersion(ctx context.Context, r *Request, in *awsquery.DeletePolicyVersionInput) error {
	if err := s.versionInput(in.PolicyArn, in.VersionId); err != nil {
		return err
	}
	arn := *in.PolicyArn
	if _, err := s.ownPolicy(ctx, r, "DeletePolicyVersion", arn); err != nil {
		return err
	}
	err := s.st.DeletePolicyVersion(ctx, r.account(), arn, *in.VersionId)
	return errMap{notFound: noSuchVersion(arn, *in.VersionId), conflict: deleteConflict(msgDeleteDefault)}.wrap("delete policy version", err)
}

func (s *Service) setDefaultPolicyVersion(ctx context.Context, r *Request, in *awsquery.SetDefaultPolicyVersionInput) error {
	if err := s.versionInput(in.PolicyArn, in.VersionId); err != nil {
		return err
	}
	arn := *in.PolicyArn
	if _, err := s.ownPolicy(ctx, r, "SetDefaultPolicyVersion", arn); err != nil {
		return err
	}
	err := s.st.SetDefaultPolicyVersion(ctx, r.account(), arn, *in.VersionId)
	return errMap{notFound: noSuchVersion(arn, *in.VersionId)}.wrap("set default policy version", err)
}

// listEntitiesForPolicy lists the account's users, groups and roles that
// have the policy attached, use it as their permissions boundary, or
// (without PolicyUsageFilter) either. Boundaries are found by reading the
// account's users and roles, and the union is paged in memory by ARN: IAM
// accounts are small, and this is a rare administrative call.
func (s *Service) listEntitiesForPolicy(ctx context.Context, r *Request, in *awsquery.ListEntitiesForPolicyInput) (*awsquery.ListEntitiesForPolicyOutput, error) {
	if err := checkPolicyARN(in.PolicyArn); err != nil {
		return nil, err
	}
	c := iamChecker()
	c.enum("entityFilter", in.EntityFilter, "User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
	c.pathPrefix("pathPrefix", in.PathPrefix)
	c.enum("policyUsageFilter", in.PolicyUsageFilter, "PermissionsPolicy", "PermissionsBoundary")
	pg, err := c.pager(in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	account, arn, prefix := r.account(), *in.PolicyArn, str(in.PathPrefix)
	p, err := s.visiblePolicy(ctx, account, arn, noSuchPolicy(arn))
	if err != nil {
		return nil, err
	}
	var kind store.EntityKind
	switch str(in.EntityFilter) {
	case "User":
		kind = store.KindUser
	case "Group":
		kind = store.KindGroup
	case "Role":
		kind = store.KindRole
	case "LocalManagedPolicy":
		if p.Account == store.AWSAccount {
			return &awsquery.ListEntitiesForPolicyOutput{}, nil
		}
	case "AWSManagedPolicy":
		if p.Account != store.AWSAccount {
			return &awsquery.ListEntitiesForPolicyOutput{}, nil
		}
	}
	usage := str(in.PolicyUsageFilter)
	var all []store.Entity
	if usage != "PermissionsBoundary" {
		for after := ""; ; {
			es, err := s.st.ListEntitiesForPolicy(ctx, account, arn, kind, prefix, after, 1000)
			if err != nil {
				return nil, errMap{notFound: noSuchPolicy(arn)}.wrap("list entities for policy", err)
			}
			all = append(all, es...)
			if len(es) < 1000 {
				break
			}
			after = es[len(es)-1].ARN
		}
	}
	if usage != "PermissionsPolicy" {
		bounded, err := s.boundedBy(ctx, account, arn, kind, prefix)
		if err != nil {
			return nil, err
		}
		all = append(all, bounded...)
	}
	slices.SortFunc(all, func(a, b store.Entity) int { return strings.Compare(a.ARN, b.ARN) })
	all = slices.CompactFunc(all, func(a, b store.Entity) bool { return a.ARN == b.ARN })
	page, more, marker := pageSlice(pg, all, func(e store.Entity) string { return e.ARN })
	out := &awsquery.ListEntitiesForPolicyOutput{IsTruncated: more, Marker: marker}
	for _, e := range page {
		switch e.Kind {
		case store.KindUser:
			out.PolicyUsers = append(out.PolicyUsers, awsquery.PolicyUser{UserName: e.Name, UserId: e.ID})
		case store.KindGroup:
			out.PolicyGroups = append(out.PolicyGroups, awsquery.PolicyGroup{GroupName: e.Name, GroupId: e.ID})
		case store.KindRole:
			out.PolicyRoles = append(out.PolicyRoles, awsquery.PolicyRole{RoleName: e.Name, RoleId: e.ID})
		}
	}
	return out, nil
}

// boundedBy lists the account's users and roles (of kind, if not "")
// under prefix whose permissions boundary is arn.
func (s *Service) boundedBy(ctx context.Context, account, arn string, kind store.EntityKind, prefix string) ([]store.Entity, error) {
	var out []store.Entity
	if kind == "" || kind == store.KindUser {
		for after := ""; ; {
			us, err := s.st.ListUsers(ctx, account, prefix, after, 1000)
			if err != nil {
				return nil, internal("list users", err)
			}
			for _, u := range us {
				if u.PermissionsBoundary == arn {
					out = append(out, store.Entity{Kind: store.KindUser, Account: account, Name: u.Name, Path: u.Path, ID: u.ID, ARN: u.ARN})
				}
			}
			if len(us) < 1000 {
				break
			}
			after = us[len(us)-1].Name
		}
	}
	if kind == "" || kind == store.KindRole {
		for after := ""; ; {
			rs, err := s.st.ListRoles(ctx, account, prefix, after, 1000)
			if err != nil {
				return nil, internal("list roles", err)
			}
			for _, r := range rs {
				if r.PermissionsBoundary == arn {
					out = append(out, store.Entity{Kind: store.KindRole, Account: account, Name: r.Name, Path: r.Path, ID: r.ID, ARN: r.ARN})
				}
			}
			if len(rs) < 1000 {
				break
			}
			after = rs[len(rs)-1].Name
		}
	}
	return out, nil
}

// --- Attachments.

func (s *Service) attach(ctx context.Context, r *Request, e entity, name, arn *string) error {
	c := iamChecker()
	e.checkManagedName(c, name)
	if err := c.err(); err != nil {
		return err
	}
	if err := checkPolicyARN(arn); err != nil {
		return err
	}
	account := r.account()
	if _, err := s.entityExists(ctx, e, account, *name); err != nil {
		return err
	}
	if _, err := s.visiblePolicy(ctx, account, *arn, notAttachable(*arn)); err != nil {
		return err
	}
	err := s.st.AttachPolicy(ctx, store.EntityRef{Kind: e.kind, Account: account, Name: *name}, *arn)
	return errMap{notFound: notAttachable(*arn), limit: quota(e.quotaName, store.MaxAttachedPolicies)}.wrap("attach policy", err)
}

func (s *Service) detach(ctx context.Context, r *Request, e entity, name, arn *string) error {
	c := iamChecker()
	e.checkManagedName(c, name)
	if err := c.err(); err != nil {
		return err
	}
	if err := checkPolicyARN(arn); err != nil {
		return err
	}
	if _, err := s.entityExists(ctx, e, r.account(), *name); err != nil {
		return err
	}
	err := s.st.DetachPolicy(ctx, store.EntityRef{Kind: e.kind, Account: r.account(), Name: *name}, *arn)
	return errMap{notFound: noSuchPolicy(*arn)}.wrap("detach policy", err)
}

func (s *Service) listAttached(ctx context.Context, r *Request, e entity, name, prefix, marker *string, maxItems *int32) (*awsquery.ListAttachedPoliciesOutput, error) {
	c := iamChecker()
	e.checkManagedName(c, name)
	c.policyPath("pathPrefix", prefix)
	p, err := c.pager(marker, maxItems)
	if err != nil {
		return nil, err
	}
	ps, err := s.st.ListAttachedPolicies(ctx, store.EntityRef{Kind: e.kind, Account: r.account(), Name: *name}, str(prefix), p.after, p.fetch())
	if err != nil {
		return nil, errMap{notFound: e.noEntity(*name)}.wrap("list attached policies", err)
	}
	ps, more, next := finish(p, ps, func(p store.Policy) string { return p.ARN })
	out := each(ps, func(p store.Policy) awsquery.AttachedPolicy {
		return awsquery.AttachedPolicy{PolicyName: p.Name, PolicyArn: p.ARN}
	})
	return &awsquery.ListAttachedPoliciesOutput{AttachedPolicies: out, IsTruncated: more, Marker: next}, nil
}

func (s *Service) attachUserPolicy(ctx context.Context, r *Request, in *awsquery.AttachUserPolicyInput) error {
	return s.attach(ctx, r, userEntity, in.UserName, in.PolicyArn)
}

func (s *Service) detachUserPolicy(ctx context.Context, r *Request, in *awsquery.DetachUserPolicyInput) error {
	return s.detach(ctx, r, userEntity, in.UserName, in.PolicyArn)
}

func (s *Service) listAttachedUserPolicies(ctx context.Context, r *Request, in *awsquery.ListAttachedUserPoliciesInput) (*awsquery.ListAttachedPoliciesOutput, error) {
	return s.listAttached(ctx, r, userEntity, in.UserName, in.PathPrefix, in.Marker, in.MaxItems)
}

func (s *Service) attachGroupPolicy(ctx context.Context, r *Request, in *awsquery.AttachGroupPolicyInput) error {
	return s.attach(ctx, r, groupEntity, in.GroupName, in.PolicyArn)
}

func (s *Service) detachGroupPolicy(ctx context.Context, r *Request, in *awsquery.DetachGroupPolicyInput) error {
	return s.detach(ctx, r, groupEntity, in.GroupName, in.PolicyArn)
}

func (s *Service) listAttachedGroupPolicies(ctx context.Context, r *Request, in *awsquery.ListAttachedGroupPoliciesInput) (*awsquery.ListAttachedPoliciesOutput, error) {
	return s.listAttached(ctx, r, groupEntity, in.GroupName, in.PathPrefix, in.Marker, in.MaxItems)
}

func (s *Service) attachRolePolicy(ctx context.Context, r *Request, in *awsquery.AttachRolePolicyInput) error {
	return s.attach(ctx, r, roleEntity, in.RoleName, in.PolicyArn)
}

func (s *Service) detachRolePolicy(ctx context.Context, r *Request, in *awsquery.DetachRolePolicyInput) error {
	return s.detach(ctx, r, roleEntity, in.RoleName, in.PolicyArn)
}

func (s *Service) listAttachedRolePolicies(ctx context.Context, r *Request, in *awsquery.ListAttachedRolePoliciesInput) (*awsquery.ListAttachedPoliciesOutput, error) {
	return s.listAttached(ctx, r, roleEntity, in.RoleName, in.PathPrefix, in.Marker, in.MaxItems)
}

// --- Permissions boundaries.

// checkBoundary checks that arn names a managed policy the account can
// use as a permissions boundary.
func (s *Service) checkBoundary(ctx context.Context, account, arn string) error {
	if err := checkPolicyARN(&arn); err != nil {
		return err
	}
	_, err := s.visiblePolicy(ctx, account, arn, iamErr(awsquery.NoSuchEntity, msgNoSuchBoundary, arn))
	return err
}

func (s *Service) putUserPermissionsBoundary(ctx context.Context, r *Request, in *awsquery.PutUserPermissionsBoundaryInput) error {
	return s.setBoundary(ctx, r, userEntity, in.UserName, in.PermissionsBoundary)
}

func (s *Service) deleteUserPermissionsBoundary(ctx context.Context, r *Request, in *awsquery.DeleteUserPermissionsBoundaryInput) error {
	return s.setBoundary(ctx, r, userEntity, in.UserName, nil)
}

func (s *Service) putRolePermissionsBoundary(ctx context.Context, r *Request, in *awsquery.PutRolePermissionsBoundaryInput) error {
	return s.setBoundary(ctx, r, roleEntity, in.RoleName, in.PermissionsBoundary)
}

func (s *Service) deleteRolePermissionsBoundary(ctx context.Context, r *Request, in *awsquery.DeleteRolePermissionsBoundaryInput) error {
	return s.setBoundary(ctx, r, roleEntity, in.RoleName, nil)
}

// setBoundary sets (arn) or removes (nil) the permissions boundary of a
// user or role.
func (s *Service) setBoundary(ctx context.Context, r *Request, e entity, name, arn *string) error {
	c := iamChecker()
	e.checkManagedName(c, name)
	c.arn("permissionsBoundary", arn)
	if err := c.err(); err != nil {
		return err
	}
	x, err := s.loadTagged(ctx, e, r.account(), *name)
	if err != nil {
		return err
	}
	if arn != nil {
		if err := s.checkBoundary(ctx, r.account(), *arn); err != nil {
			return err
		}
	}
	*x.boundary = str(arn)
	return errMap{notFound: e.noEntity(*name)}.wrap("set "+string(e.kind)+" permissions boundary", x.save(ctx))
}
