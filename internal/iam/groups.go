package iam

import (
	"context"

	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/store"
)

// IAM groups and their members.

func outGroup(g store.Group) awsquery.Group {
	return awsquery.Group{Path: g.Path, GroupName: g.Name, GroupId: g.ID, Arn: g.ARN, CreateDate: g.CreatedAt}
}

func outGroups(gs []store.Group) []awsquery.Group { return each(gs, outGroup) }

func (s *Service) loadGroup(ctx context.Context, account, name string) (store.Group, error) {
	g, err := s.st.GetGroup(ctx, account, name)
	return g, errMap{notFound: noSuchGroup(name)}.wrap("get group", err)
}

func (s *Service) createGroup(ctx context.Context, r *Request, in *awsquery.CreateGroupInput) (*awsquery.GroupOutput, error) {
	c := iamChecker()
	c.groupName("groupName", in.GroupName)
	c.path("path", in.Path)
	if err := c.err(); err != nil {
		return nil, err
	}
	account, name, path := r.account(), *in.GroupName, pathOrRoot(in.Path)
	if err := s.ensureAccount(ctx, account); err != nil {
		return nil, err
	}
	g := store.Group{Account: account, Name: name, Path: path, ID: newUniqueID(prefixGroup),
		ARN: groupARN(account, path, name), CreatedAt: s.now()}
	if err := s.st.CreateGroup(ctx, g); err != nil {
		return nil, errMap{exists: iamErr(awsquery.EntityAlreadyExists, msgGroupExists, name)}.wrap("create group", err)
	}
	return &awsquery.GroupOutput{Group: outGroup(g)}, nil
}

func (s *Service) getGroup(ctx context.Context, r *Request, in *awsquery.GetGroupInput) (*awsquery.GetGroupOutput, error) {
	c := iamChecker()
	c.groupName("groupName", in.GroupName)
	p, err := c.pager(in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	g, err := s.loadGroup(ctx, r.account(), *in.GroupName)
	if err != nil {
		return nil, err
	}
	us, err := s.st.ListUsersInGroup(ctx, r.account(), g.Name, p.after, p.fetch())
	if err != nil {
		return nil, errMap{notFound: noSuchGroup(*in.GroupName)}.wrap("list users in group", err)
	}
	us, more, marker := finish(p, us, func(u store.User) string { return u.Name })
	return &awsquery.GetGroupOutput{Group: outGroup(g), Users: outUsers(us), IsTruncated: more, Marker: marker}, nil
}

func (s *Service) listGroups(ctx context.Context, r *Request, in *awsquery.ListGroupsInput) (*awsquery.ListGroupsOutput, error) {
	gs, more, marker, err := listByPath(ctx, r, in.PathPrefix, in.Marker, in.MaxItems, "groups", s.st.ListGroups,
		func(g store.Group) string { return g.Name })
	if err != nil {
		return nil, err
	}
	return &awsquery.ListGroupsOutput{Groups: outGroups(gs), IsTruncated: more, Marker: marker}, nil
}

func (s *Service) deleteGroup(ctx context.Context, r *Request, in *awsquery.DeleteGroupInput) error {
	c := iamChecker()
	c.groupName("groupName", in.GroupName)
	if err := c.err(); err != nil {
		return err
	}
	account, name := r.account(), *in.GroupName
	if _, err := s.loadGroup(ctx, account, name); err != nil {
		return err
	}
	if us, err := s.st.ListUsersInGroup(ctx, account, name, "", 1); err != nil {
		return errMap{notFound: noSuchGroup(name)}.wrap("list users in group", err)
	} else if len(us) > 0 {
		return deleteConflict(msgRemoveUsers)
	}
	if err := s.checkDeletable(ctx, store.EntityRef{Kind: store.KindGroup, Account: account, Name: name}); err != nil {
		return err
	}
	err := s.st.DeleteGroup(ctx, account, name)
	return errMap{notFound: noSuchGroup(name), conflict: deleteConflict(msgDeleteReferenced)}.wrap("delete group", err)
}

// membership checks both names and finds both entities, so that a missing
// one is named in the error, as IAM does (the group first).
func (s *Service) membership(ctx context.Context, r *Request, group, user *string) error {
	c := iamChecker()
	c.groupName("groupName", group)
	c.existingUserName("userName", user)
	if err := c.err(); err != nil {
		return err
	}
	if _, err := s.loadGroup(ctx, r.account(), *group); err != nil {
		return err
	}
	_, err := s.loadUser(ctx, r.account(), *user)
	return err
}

func (s *Service) addUserToGroup(ctx context.Context, r *Request, in *awsquery.AddUserToGroupInput) error {
	if err := s.membership(ctx, r, in.GroupName, in.UserName); err != nil {
		return err
	}
	err := s.st.AddUserToGroup(ctx, r.account(), *in.GroupName, *in.UserName)
	return errMap{notFound: noSuchUser(*in.UserName), limit: quota("GroupsPerUser", store.MaxGroupsPerUser)}.wrap("add user to group", err)
}

func (s *Service) removeUserFromGroup(ctx context.Context, r *Request, in *awsquery.RemoveUserFromGroupInput) error {
	if err := s.membership(ctx, r, in.GroupName, in.UserName); err != nil {
		return err
	}
	// A user who is not a member: IAM names the user as not found (in
	// that group).
	err := s.st.RemoveUserFromGroup(ctx, r.account(), *in.GroupName, *in.UserName)
	return errMap{notFound: noSuchUser(*in.UserName)}.wrap("remove user from group", err)
}

func (s *Service) listGroupsForUser(ctx context.Context, r *Request, in *awsquery.ListGroupsForUserInput) (*awsquery.ListGroupsOutput, error) {
	c := iamChecker()
	c.existingUserName("userName", in.UserName)
	p, err := c.pager(in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	gs, err := s.st.ListGroupsForUser(ctx, r.account(), *in.UserName, p.after, p.fetch())
	if err != nil {
		return nil, errMap{notFound: noSuchUser(*in.UserName)}.wrap("list groups for user", err)
	}
	gs, more, marker := finish(p, gs, func(g store.Group) string { return g.Name })
	return &awsquery.ListGroupsOutput{Groups: outGroups(gs), IsTruncated: more, Marker: marker}, nil
}
