package iam

import (
	"context"
	"errors"

	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// IAM users.

// outUser is a user as CreateUser and GetUser describe it; list reports
// the subset that ListUsers and GetGroup do (no tags, no boundary: IAM's
// listing operations leave them out).
func outUser(u store.User, list bool) awsquery.User {
	out := awsquery.User{Path: u.Path, UserName: u.Name, UserId: u.ID, Arn: u.ARN, CreateDate: u.CreatedAt}
	if !list {
		out.PermissionsBoundary = outBoundary(u.PermissionsBoundary)
		out.Tags = outTags(u.Tags)
	}
	return out
}

// boundaryType is what AWS answers as PermissionsBoundaryType: "Policy",
// as its API reference's prose says, though the model's enum names
// PermissionsBoundaryPolicy (localstack's AWS-validated IAM tests assert
// "Policy" on CreateUser and PutUserPermissionsBoundary).
const boundaryType = "Policy"

func outBoundary(arn string) *awsquery.AttachedPermissionsBoundary {
	if arn == "" {
		return nil
	}
	return &awsquery.AttachedPermissionsBoundary{PermissionsBoundaryType: boundaryType, PermissionsBoundaryArn: arn}
}

func outUsers(us []store.User) []awsquery.User {
	return each(us, func(u store.User) awsquery.User { return outUser(u, true) })
}

// getUser reads the account's user or answers NoSuchEntity.
func (s *Service) loadUser(ctx context.Context, account, name string) (store.User, error) {
	u, err := s.st.GetUser(ctx, account, name)
	return u, errMap{notFound: noSuchUser(name)}.wrap("get user", err)
}

func (s *Service) createUser(ctx context.Context, r *Request, in *awsquery.CreateUserInput) (*awsquery.UserOutput, error) {
	c := iamChecker()
	c.userName("userName", in.UserName)
	c.path("path", in.Path)
	c.arn("permissionsBoundary", in.PermissionsBoundary)
	c.tags("tags", in.Tags)
	if err := c.err(); err != nil {
		return nil, err
	}
	tags, err := requestTags(in.Tags, awsquery.InvalidInput)
	if err != nil {
		return nil, err
	}
	account, name, path := r.account(), *in.UserName, pathOrRoot(in.Path)
	if in.PermissionsBoundary != nil {
		if err := s.checkBoundary(ctx, account, *in.PermissionsBoundary); err != nil {
			return nil, err
		}
	}
	if err := s.ensureAccount(ctx, account); err != nil {
		return nil, err
	}
	u := store.User{
		Account: account, Name: name, Path: path, ID: newUniqueID(prefixUser),
		ARN: userARN(account, path, name), PermissionsBoundary: str(in.PermissionsBoundary),
		Tags: tags, CreatedAt: s.now(),
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return nil, errMap{exists: iamErr(awsquery.EntityAlreadyExists, msgUserExists, name)}.wrap("create user", err)
	}
	return &awsquery.UserOutput{User: outUser(u, false)}, nil
}

func (s *Service) getUser(ctx context.Context, r *Request, in *awsquery.GetUserInput) (*awsquery.UserOutput, error) {
	c := iamChecker()
	c.existingUserName("userName", in.UserName)
	if err := c.err(); err != nil {
		return nil, err
	}
	if in.UserName == nil {
		p := r.Caller.Principal
		switch p.Type {
		case policy.PrincipalRoot:
			// The root "user" as AWS describes it: the account id as its
			// id, the root ARN, no name or path.
			a, err := s.st.GetAccount(ctx, p.Account)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, internal("get account", err)
			}
			return &awsquery.UserOutput{User: awsquery.User{UserId: p.Account, Arn: p.ARN, CreateDate: a.CreatedAt}}, nil
		case policy.PrincipalIAMUser:
			in.UserName = &p.Username
		default:
			return nil, iamErr(awsquery.ValidationError, msgNonUserCredentials)
		}
	}
	u, err := s.loadUser(ctx, r.account(), *in.UserName)
	if err != nil {
		return nil, err
	}
	return &awsquery.UserOutput{User: outUser(u, false)}, nil
}

func (s *Service) listUsers(ctx context.Context, r *Request, in *awsquery.ListUsersInput) (*awsquery.ListUsersOutput, error) {
	us, more, marker, err := listByPath(ctx, r, in.PathPrefix, in.Marker, in.MaxItems, "users", s.st.ListUsers,
		func(u store.User) string { return u.Name })
	if err != nil {
		return nil, err
	}
	return &awsquery.ListUsersOutput{Users: outUsers(us), IsTruncated: more, Marker: marker}, nil
}

func (s *Service) updateUser(ctx context.Context, r *Request, in *awsquery.UpdateUserInput) error {
	c := iamChecker()
	c.existingUserName("userName", in.UserName)
	c.path("newPath", in.NewPath)
	c.userName("newUserName", in.NewUserName)
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.loadUser(ctx, r.account(), *in.UserName)
	if err != nil {
		return err
	}
	if in.NewUserName != nil {
		u.Name = *in.NewUserName
	}
	if in.NewPath != nil {
		u.Path = *in.NewPath
	}
	u.ARN = userARN(u.Account, u.Path, u.Name)
	_, err = s.st.UpdateUser(ctx, u)
	return errMap{notFound: noSuchUser(*in.UserName), exists: iamErr(awsquery.EntityAlreadyExists, msgUserExists, u.Name)}.wrap("update user", err)
}

// deleteUser refuses, as IAM does, while the user has anything attached,
// naming the first thing to remove.
func (s *Service) deleteUser(ctx context.Context, r *Request, in *awsquery.DeleteUserInput) error {
	c := iamChecker()
	c.existingUserName("userName", in.UserName)
	if err := c.err(); err != nil {
		return err
	}
	account, name := r.account(), *in.UserName
	ref := store.EntityRef{Kind: store.KindUser, Account: account, Name: name}
	if _, err := s.loadUser(ctx, account, name); err != nil {
		return err
	}
	if keys, err := s.st.ListAccessKeysForUser(ctx, account, name); err != nil {
		return errMap{notFound: noSuchUser(name)}.wrap("list access keys", err)
	} else if len(keys) > 0 {
		return deleteConflict(msgDeleteAccessKeys)
	}
	if err := s.checkDeletable(ctx, ref); err != nil {
		return err
	}
	if gs, err := s.st.ListGroupsForUser(ctx, account, name, "", 1); err != nil {
		return errMap{notFound: noSuchUser(name)}.wrap("list groups for user", err)
	} else if len(gs) > 0 {
		return deleteConflict(msgRemoveUsers)
	}
	err := s.st.DeleteUser(ctx, account, name)
	return errMap{notFound: noSuchUser(name), conflict: deleteConflict(msgDeleteReferenced)}.wrap("delete user", err)
}

// checkDeletable refuses an entity that still has inline or attached
// policies.
func (s *Service) checkDeletable(ctx context.Context, ref store.EntityRef) error {
	names, err := s.st.ListInlinePolicies(ctx, ref, "", 1)
	if err != nil {
		return errMap{notFound: noSuchEntity(ref)}.wrap("list inline policies", err)
	}
	if len(names) > 0 {
		return deleteConflict(msgDeletePolicies)
	}
	ps, err := s.st.ListAttachedPolicies(ctx, ref, "", "", 1)
	if err != nil {
		return errMap{notFound: noSuchEntity(ref)}.wrap("list attached policies", err)
	}
	if len(ps) > 0 {
		return deleteConflict(msgDetachPolicies)
	}
	return nil
}

func (s *Service) tagUser(ctx context.Context, r *Request, in *awsquery.TagUserInput) error {
	return s.tag(ctx, r, userEntity, in.UserName, in.Tags)
}

func (s *Service) untagUser(ctx context.Context, r *Request, in *awsquery.UntagUserInput) error {
	return s.untag(ctx, r, userEntity, in.UserName, in.TagKeys)
}

func (s *Service) listUserTags(ctx context.Context, r *Request, in *awsquery.ListUserTagsInput) (*awsquery.ListTagsOutput, error) {
	return s.listTags(ctx, r, userEntity, in.UserName, in.Marker, in.MaxItems)
}
