package iam

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// IAM roles and their trust policies.

const (
	defaultMaxSessionDuration = 3600
	maxMaxSessionDuration     = 43200
	// maxTrustPolicySize is IAM's default quota on a role trust policy, in
	// characters without whitespace.
	maxTrustPolicySize = 2048
)

// roleView selects what a role description holds: CreateRole's, GetRole's
// and ListRoles' differ (recorded from AWS: CreateRole sends neither
// MaxSessionDuration nor RoleLastUsed; GetRole sends both, RoleLastUsed
// empty when the role was never used; ListRoles sends MaxSessionDuration
// but no tags, boundary or RoleLastUsed).
type roleView uint8

const (
	roleCreated roleView = iota
	roleGot
	roleListed
)

func outRole(r store.Role, v roleView) awsquery.Role {
	out := awsquery.Role{
		Path: r.Path, RoleName: r.Name, RoleId: r.ID, Arn: r.ARN, CreateDate: r.CreatedAt,
		AssumeRolePolicyDocument: awsquery.PolicyDocument(r.AssumeRolePolicy), Description: r.Description,
	}
	if v != roleCreated {
		d := int32(r.MaxSessionDuration)
		out.MaxSessionDuration = &d
	}
	if v != roleListed {
		out.PermissionsBoundary = outBoundary(r.PermissionsBoundary)
		out.Tags = outTags(r.Tags)
	}
	if v == roleGot {
		// Trent does not record role use yet: the shape of a role never used.
		out.RoleLastUsed = &awsquery.RoleLastUsed{}
	}
	return out
}

func (s *Service) loadRole(ctx context.Context, account, name string) (store.Role, error) {
	r, err := s.st.GetRole(ctx, account, name)
	return r, errMap{notFound: noSuchRole(name)}.wrap("get role", err)
}

// checkTrustPolicy validates a role trust policy as IAM does at CreateRole
// and UpdateAssumeRolePolicy: a resource policy (the key-policy grammar of
// internal/policy, which has Principal) without Resource, whose IAM user
// and role principals exist.
func (s *Service) checkTrustPolicy(ctx context.Context, doc string) error {
	if nonWhitespaceLen(doc) > maxTrustPolicySize {
		return quota("ACLSizePerRole", maxTrustPolicySize)
	}
	if !json.Valid([]byte(doc)) {
		return malformed(msgInvalidJSON)
	}
	d, err := policy.Parse(doc)
	if err != nil {
		// policy.Parse answers in KMS's code; IAM's is MalformedPolicyDocument.
		e := apierr.As(err)
		if e.Code == apierr.KMSInternal {
			return err
		}
		return withCause(malformed(e.Message), err)
	}
	for _, st := range d.Statements {
		if st.Resource != nil || st.NotResource != nil {
			return malformed("Has prohibited field Resource")
		}
		if st.Action == nil && st.NotAction == nil {
			return malformed("Missing required field Action")
		}
		principals := st.Principal
		if principals == nil {
			principals = st.NotPrincipal
		}
		for _, p := range principals["AWS"] {
			if p == "*" || ids.IsAccountID(p) {
				continue
			}
			if !s.PrincipalExists(ctx, p) {
				return malformed(`Invalid principal in policy: "AWS":"` + clip(p) + `"`)
			}
		}
	}
	return nil
}

// nonWhitespaceLen is a policy's size as IAM counts it against its quotas:
// characters, not counting whitespace.
func nonWhitespaceLen(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}

func (s *Service) createRole(ctx context.Context, r *Request, in *awsquery.CreateRoleInput) (*awsquery.RoleOutput, error) {
	c := iamChecker()
	c.roleName("roleName", in.RoleName)
	c.path("path", in.Path)
	c.document("assumeRolePolicyDocument", in.AssumeRolePolicyDocument)
	c.str("description", in.Description, 0, 1000, patRoleDesc, validRoleDescription)
	c.intRange("maxSessionDuration", in.MaxSessionDuration, defaultMaxSessionDuration, maxMaxSessionDuration)
	c.arn("permissionsBoundary", in.PermissionsBoundary)
	c.tags("tags", in.Tags)
	if err := c.err(); err != nil {
		return nil, err
	}
	tags, err := requestTags(in.Tags, awsquery.InvalidInput)
	if err != nil {
		return nil, err
	}
	account, name, path := r.account(), *in.RoleName, pathOrRoot(in.Path)
	if err := s.checkTrustPolicy(ctx, *in.AssumeRolePolicyDocument); err != nil {
		return nil, err
	}
	if in.PermissionsBoundary != nil {
		if err := s.checkBoundary(ctx, account, *in.PermissionsBoundary); err != nil {
			return nil, err
		}
	}
	if err := s.ensureAccount(ctx, account); err != nil {
		return nil, err
	}
	role := store.Role{
		Account: account, Name: name, Path: path, ID: newUniqueID(prefixRole), ARN: roleARN(account, path, name),
		AssumeRolePolicy: *in.AssumeRolePolicyDocument, Description: str(in.Description),
		MaxSessionDuration: defaultMaxSessionDuration, PermissionsBoundary: str(in.PermissionsBoundary),
		Tags: tags, CreatedAt: s.now(),
	}
	if in.MaxSessionDuration != nil {
		role.MaxSessionDuration = int(*in.MaxSessionDuration)
	}
	if err := s.st.CreateRole(ctx, role); err != nil {
		return nil, errMap{exists: iamErr(awsquery.EntityAlreadyExists, msgRoleExists, name)}.wrap("create role", err)
	}
	return &awsquery.RoleOutput{Role: outRole(role, roleCreated)}, nil
}

func (s *Service) getRole(ctx context.Context, r *Request, in *awsquery.GetRoleInput) (*awsquery.RoleOutput, error) {
	c := iamChecker()
	c.roleName("roleName", in.RoleName)
	if err := c.err(); err != nil {
		return nil, err
	}
	role, err := s.loadRole(ctx, r.account(), *in.RoleName)
	if err != nil {
		return nil, err
	}
	return &awsquery.RoleOutput{Role: outRole(role, roleGot)}, nil
}

func (s *Service) listRoles(ctx context.Context, r *Request, in *awsquery.ListRolesInput) (*awsquery.ListRolesOutput, error) {
	rs, more, marker, err := listByPath(ctx, r, in.PathPrefix, in.Marker, in.MaxItems, "roles", s.st.ListRoles,
		func(r store.Role) string { return r.Name })
	if err != nil {
		return nil, err
	}
	out := each(rs, func(r store.Role) awsquery.Role { return outRole(r, roleListed) })
	return &awsquery.ListRolesOutput{Roles: out, IsTruncated: more, Marker: marker}, nil
}

func (s *Service) deleteRole(ctx context.Context, r *Request, in *awsquery.DeleteRoleInput) error {
	c := iamChecker()
	c.roleName("roleName", in.RoleName)
	if err := c.err(); err != nil {
		return err
	}
	account, name := r.account(), *in.RoleName
	if _, err := s.loadRole(ctx, account, name); err != nil {
		return err
	}
	if err := s.checkDeletable(ctx, store.EntityRef{Kind: store.KindRole, Account: account, Name: name}); err != nil {
		return err
	}
	err := s.st.DeleteRole(ctx, account, name)
	return errMap{notFound: noSuchRole(name), conflict: deleteConflict(msgDeleteReferenced)}.wrap("delete role", err)
}

func (s *Service) updateAssumeRolePolicy(ctx context.Context, r *Request, in *awsquery.UpdateAssumeRolePolicyInput) error {
	c := iamChecker()
	c.roleName("roleName", in.RoleName)
	c.document("policyDocument", in.PolicyDocument)
	if err := c.err(); err != nil {
		return err
	}
	role, err := s.loadRole(ctx, r.account(), *in.RoleName)
	if err != nil {
		return err
	}
	if err := s.checkTrustPolicy(ctx, *in.PolicyDocument); err != nil {
		return err
	}
	role.AssumeRolePolicy = *in.PolicyDocument
	_, err = s.st.UpdateRole(ctx, role)
	return errMap{notFound: noSuchRole(*in.RoleName)}.wrap("update assume role policy", err)
}

func (s *Service) tagRole(ctx context.Context, r *Request, in *awsquery.TagRoleInput) error {
	return s.tag(ctx, r, roleEntity, in.RoleName, in.Tags)
}

func (s *Service) untagRole(ctx context.Context, r *Request, in *awsquery.UntagRoleInput) error {
	return s.untag(ctx, r, roleEntity, in.RoleName, in.TagKeys)
}

func (s *Service) listRoleTags(ctx context.Context, r *Request, in *awsquery.ListRoleTagsInput) (*awsquery.ListTagsOutput, error) {
	return s.listTags(ctx, r, roleEntity, in.RoleName, in.Marker, in.MaxItems)
}

// roleFromARN finds the role an ARN names, with its path as the ARN has
// it. ok is false if the ARN is not a role ARN or names no role.
func (s *Service) roleFromARN(ctx context.Context, a string) (store.Role, bool, error) {
	parsed, ok := parseARN(a)
	if !ok || parsed.service != "iam" || parsed.partition != "aws" {
		return store.Role{}, false, nil
	}
	typ, path, name, ok := iamResource(parsed.resource)
	if !ok || typ != "role" {
		return store.Role{}, false, nil
	}
	role, err := s.st.GetRole(ctx, parsed.account, name)
	switch {
	case isNotFound(err):
		return store.Role{}, false, nil
	case err != nil:
		return store.Role{}, false, internal("get role", err)
	}
	if role.Path != path || !strings.EqualFold(role.Name, name) {
		return store.Role{}, false, nil
	}
	return role, true, nil
}
