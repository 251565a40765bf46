package iam

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/store"
)

func TestEveryOperationHasAHandler(t *testing.T) {
	for _, tc := range []struct {
		svc   *awsquery.Service
		table map[string]handler
	}{{awsquery.IAM, iamHandlers}, {awsquery.STS, stsHandlers}} {
		ops := tc.svc.Operations()
		if len(ops) != len(tc.table) {
			t.Errorf("%s: %d operations, %d handlers", tc.svc.Name, len(ops), len(tc.table))
		}
		for _, op := range ops {
			h, ok := tc.table[op.Name]
			if !ok {
				t.Errorf("%s %s: no handler", tc.svc.Name, op.Name)
				continue
			}
			// The handler accepts the operation's input type: feeding it
			// another type is an internal error, feeding it its own is not.
			_, err := h.call(nil, nil, nil, struct{}{})
			if err == nil || !strings.Contains(err.Error(), "KMSInternal") && !strings.Contains(err.Error(), "Internal") {
				t.Errorf("%s %s: wrong input type accepted: %v", tc.svc.Name, op.Name, err)
			}
		}
	}
}

func TestUserLifecycle(t *testing.T) {
	f := newFixture(t)
	out := f.iam(f.rootCaller, "CreateUser", "UserName=Bob&Path=/eng/&Tags.member.1.Key=team&Tags.member.1.Value=kms").(*awsquery.UserOutput)
	u := out.User
	if u.UserName != "Bob" || u.Path != "/eng/" || u.Arn != "arn:aws:iam::"+testAccount+":user/eng/Bob" {
		t.Fatalf("created %+v", u)
	}
	if !strings.HasPrefix(u.UserId, "AIDA") || len(u.UserId) != 21 || strings.Trim(u.UserId, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Fatalf("user id %q", u.UserId)
	}
	if !reflect.DeepEqual(u.Tags, []awsquery.OutTag{{Key: "team", Value: "kms"}}) {
		t.Fatalf("tags %+v", u.Tags)
	}

	// Names are unique without regard to case, and found in any case.
	wantErr(t, f.iamErr(f.rootCaller, "CreateUser", "UserName=bob"), "EntityAlreadyExists", "User with name bob already exists.")
	got := f.iam(f.rootCaller, "GetUser", "UserName=BOB").(*awsquery.UserOutput).User
	if got.UserName != "Bob" || got.UserId != u.UserId {
		t.Fatalf("GetUser BOB: %+v", got)
	}
	wantErr(t, f.iamErr(f.rootCaller, "GetUser", "UserName=alice"), "NoSuchEntity", "The user with name alice cannot be found.")

	f.iam(f.rootCaller, "CreateUser", "UserName=alice")
	list := f.iam(f.rootCaller, "ListUsers", "").(*awsquery.ListUsersOutput)
	if len(list.Users) != 2 || list.Users[0].UserName != "Bob" || list.Users[1].UserName != "alice" || list.IsTruncated {
		t.Fatalf("ListUsers: %+v", list)
	}
	if list.Users[0].Tags != nil {
		t.Fatal("ListUsers shows tags; IAM's listing leaves them out")
	}
	list = f.iam(f.rootCaller, "ListUsers", "PathPrefix=/eng/").(*awsquery.ListUsersOutput)
	if len(list.Users) != 1 {
		t.Fatalf("ListUsers /eng/: %+v", list)
	}

	f.iam(f.rootCaller, "UpdateUser", "UserName=bob&NewUserName=robert&NewPath=/ops/")
	got = f.iam(f.rootCaller, "GetUser", "UserName=robert").(*awsquery.UserOutput).User
	if got.Arn != "arn:aws:iam::"+testAccount+":user/ops/robert" || got.UserId != u.UserId {
		t.Fatalf("renamed: %+v", got)
	}
	wantErr(t, f.iamErr(f.rootCaller, "UpdateUser", "UserName=robert&NewUserName=ALICE"),
		"EntityAlreadyExists", "User with name ALICE already exists.")

	f.iam(f.rootCaller, "DeleteUser", "UserName=robert")
	wantErr(t, f.iamErr(f.rootCaller, "DeleteUser", "UserName=robert"), "NoSuchEntity", "The user with name robert cannot be found.")
}

func TestUserValidation(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("a", 65)
	for _, tc := range []struct {
		action, params, code, message string
	}{
		{"CreateUser", "UserName=" + long, "ValidationError",
			"1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"CreateUser", "UserName=a%2Fb", "ValidationError",
			`1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`},
		{"CreateUser", "UserName=ok&Path=nopath", "ValidationError",
			`1 validation error detected: Value at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`},
		{"CreateUser", "UserName=", "ValidationError",
			"2 validation errors detected: Value at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				`Value at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`},
		{"CreateUser", "", "ValidationError",
			"1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"ListUsers", "MaxItems=0", "ValidationError",
			"1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"ListUsers", "MaxItems=1001", "ValidationError",
			"1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"},
		{"ListUsers", "Marker=%21%21", "ValidationError", "Invalid Marker"},
		{"CreateUser", "UserName=t&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=A&Tags.member.2.Value=2",
			"InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive."},
		{"CreateUser", "UserName=t&Tags.member.1.Key=" + strings.Repeat("k", 129) + "&Tags.member.1.Value=v", "ValidationError",
			"1 validation error detected: Value at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"CreateUser", "UserName=t&PermissionsBoundary=arn:aws:iam::111122223333:policy/nope", "NoSuchEntity",
			"Scope ARN: arn:aws:iam::111122223333:policy/nope does not exist or is not attachable."},
		// The managed-policy and boundary operations type the name as
		// userNameType (at most 64), not existingUserNameType (128).
		{"AttachUserPolicy", "UserName=" + long + "&PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess", "ValidationError",
			"1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"DetachUserPolicy", "UserName=" + long + "&PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess", "ValidationError",
			"1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"ListAttachedUserPolicies", "UserName=" + long, "ValidationError",
			"1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"PutUserPermissionsBoundary", "UserName=" + long + "&PermissionsBoundary=arn:aws:iam::aws:policy/AdministratorAccess", "ValidationError",
			"1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"DeleteUserPermissionsBoundary", "UserName=" + long, "ValidationError",
			"1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		// existingUserNameType: 65 characters are valid, the user absent.
		{"ListUserPolicies", "UserName=" + long, "NoSuchEntity", "The user with name " + long + " cannot be found."},
	} {
		t.Run(tc.action+" "+tc.params[:min(len(tc.params), 40)], func(t *testing.T) {
			wantErr(t, f.iamErr(f.rootCaller, tc.action, tc.params), tc.code, tc.message)
		})
	}
}

func TestListUsersPaging(t *testing.T) {
	f := newFixture(t)
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
		f.iam(f.rootCaller, "CreateUser", "UserName="+n)
	}
	var names []string
	marker := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		params := "MaxItems=2"
		if marker != "" {
			params += "&Marker=" + q(marker)
		}
		out := f.iam(f.rootCaller, "ListUsers", params).(*awsquery.ListUsersOutput)
		for _, u := range out.Users {
			names = append(names, u.UserName)
		}
		if !out.IsTruncated {
			if out.Marker != "" {
				t.Fatal("last page has a marker")
			}
			break
		}
		if len(out.Users) != 2 || out.Marker == "" {
			t.Fatalf("truncated page: %+v", out)
		}
		marker = out.Marker
	}
	if strings.Join(names, ",") != "u1,u2,u3,u4,u5" {
		t.Fatalf("paged %v", names)
	}
}

func TestUserTags(t *testing.T) {
	f := newFixture(t)
	f.iam(f.rootCaller, "CreateUser", "UserName=t")
	f.iam(f.rootCaller, "TagUser", "UserName=t&Tags.member.1.Key=Dept&Tags.member.1.Value=IT&Tags.member.2.Key=cost&Tags.member.2.Value=1")
	// A key in another case replaces the tag.
	f.iam(f.rootCaller, "TagUser", "UserName=t&Tags.member.1.Key=dept&Tags.member.1.Value=HR")
	out := f.iam(f.rootCaller, "ListUserTags", "UserName=t").(*awsquery.ListTagsOutput)
	if !reflect.DeepEqual(out.Tags, []awsquery.OutTag{{Key: "dept", Value: "HR"}, {Key: "cost", Value: "1"}}) {
		t.Fatalf("tags %+v", out.Tags)
	}
	f.iam(f.rootCaller, "UntagUser", "UserName=t&TagKeys.member.1=DEPT&TagKeys.member.2=absent")
	out = f.iam(f.rootCaller, "ListUserTags", "UserName=t&MaxItems=1").(*awsquery.ListTagsOutput)
	if !reflect.DeepEqual(out.Tags, []awsquery.OutTag{{Key: "cost", Value: "1"}}) || out.IsTruncated {
		t.Fatalf("after untag %+v", out)
	}

	// 50 tags at most.
	var b strings.Builder
	b.WriteString("UserName=t")
	for i := 1; i <= 49; i++ {
		b.WriteString("&Tags.member." + strconv.Itoa(i) + ".Key=k" + strconv.Itoa(i) + "&Tags.member." + strconv.Itoa(i) + ".Value=v")
	}
	f.iam(f.rootCaller, "TagUser", b.String())
	wantErr(t, f.iamErr(f.rootCaller, "TagUser", "UserName=t&Tags.member.1.Key=one-more&Tags.member.1.Value=v"),
		"LimitExceeded", "The number of tags has reached the maximum limit.")
	if n := len(f.iam(f.rootCaller, "ListUserTags", "UserName=t").(*awsquery.ListTagsOutput).Tags); n != 50 {
		t.Fatalf("%d tags", n)
	}
	paged := f.iam(f.rootCaller, "ListUserTags", "UserName=t&MaxItems=20").(*awsquery.ListTagsOutput)
	if len(paged.Tags) != 20 || !paged.IsTruncated {
		t.Fatalf("page of tags: %d, truncated %v", len(paged.Tags), paged.IsTruncated)
	}
	next := f.iam(f.rootCaller, "ListUserTags", "UserName=t&MaxItems=40&Marker="+q(paged.Marker)).(*awsquery.ListTagsOutput)
	if len(next.Tags) != 30 || next.IsTruncated || next.Tags[0].Key != "k20" {
		t.Fatalf("second page of tags: %d %v %+v", len(next.Tags), next.IsTruncated, next.Tags[0])
	}
}

func TestDeleteUserConflicts(t *testing.T) {
	f := newFixture(t)
	f.iam(f.rootCaller, "CreateUser", "UserName=d")
	key := f.iam(f.rootCaller, "CreateAccessKey", "UserName=d").(*awsquery.CreateAccessKeyOutput).AccessKey.AccessKeyId
	wantErr(t, f.iamErr(f.rootCaller, "DeleteUser", "UserName=d"), "DeleteConflict", "Cannot delete entity, must delete access keys first.")
	f.iam(f.rootCaller, "DeleteAccessKey", "UserName=d&AccessKeyId="+key)

	f.iam(f.rootCaller, "PutUserPolicy", "UserName=d&PolicyName=p&PolicyDocument="+q(allowAllKMS))
	wantErr(t, f.iamErr(f.rootCaller, "DeleteUser", "UserName=d"), "DeleteConflict", "Cannot delete entity, must delete policies first.")
	f.iam(f.rootCaller, "DeleteUserPolicy", "UserName=d&PolicyName=p")

	f.iam(f.rootCaller, "AttachUserPolicy", "UserName=d&PolicyArn=arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser")
	wantErr(t, f.iamErr(f.rootCaller, "DeleteUser", "UserName=d"), "DeleteConflict", "Cannot delete entity, must detach all policies first.")
	f.iam(f.rootCaller, "DetachUserPolicy", "UserName=d&PolicyArn=arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser")

	f.iam(f.rootCaller, "CreateGroup", "GroupName=g")
	f.iam(f.rootCaller, "AddUserToGroup", "GroupName=g&UserName=d")
	wantErr(t, f.iamErr(f.rootCaller, "DeleteUser", "UserName=d"), "DeleteConflict", "Cannot delete entity, must remove users from group first.")
	wantErr(t, f.iamErr(f.rootCaller, "DeleteGroup", "GroupName=g"), "DeleteConflict", "Cannot delete entity, must remove users from group first.")
	f.iam(f.rootCaller, "RemoveUserFromGroup", "GroupName=g&UserName=d")

	f.iam(f.rootCaller, "DeleteUser", "UserName=d")
	f.iam(f.rootCaller, "DeleteGroup", "GroupName=g")
}

func TestGetUserImplicit(t *testing.T) {
	f := newFixture(t)
	bob, _ := f.userWithKey("bob")
	got := f.iam(bob, "GetUser", "").(*awsquery.UserOutput).User
	if got.UserName != "bob" || got.Arn != "arn:aws:iam::"+testAccount+":user/bob" {
		t.Fatalf("GetUser as bob: %+v", got)
	}
	root := f.iam(f.rootCaller, "GetUser", "").(*awsquery.UserOutput).User
	if root.UserId != testAccount || root.Arn != "arn:aws:iam::"+testAccount+":root" || root.UserName != "" || root.Path != "" {
		t.Fatalf("GetUser as root: %+v", root)
	}
	if root.CreateDate.IsZero() {
		t.Fatal("root has no CreateDate")
	}
}

func TestGroups(t *testing.T) {
	f := newFixture(t)
	g := f.iam(f.rootCaller, "CreateGroup", "GroupName=Admins&Path=/ops/").(*awsquery.GroupOutput).Group
	if !strings.HasPrefix(g.GroupId, "AGPA") || g.Arn != "arn:aws:iam::"+testAccount+":group/ops/Admins" {
		t.Fatalf("group %+v", g)
	}
	wantErr(t, f.iamErr(f.rootCaller, "CreateGroup", "GroupName=admins"), "EntityAlreadyExists", "Group with name admins already exists.")
	wantErr(t, f.iamErr(f.rootCaller, "GetGroup", "GroupName=nope"), "NoSuchEntity", "The group with name nope cannot be found.")
	wantErr(t, f.iamErr(f.rootCaller, "AddUserToGroup", "GroupName=admins&UserName=nobody"), "NoSuchEntity", "The user with name nobody cannot be found.")
	for _, u := range []string{"a", "b", "c"} {
		f.iam(f.rootCaller, "CreateUser", "UserName="+u)
		f.iam(f.rootCaller, "AddUserToGroup", "GroupName=admins&UserName="+u)
	}
	f.iam(f.rootCaller, "AddUserToGroup", "GroupName=admins&UserName=a") // again: no change
	got := f.iam(f.rootCaller, "GetGroup", "GroupName=ADMINS&MaxItems=2").(*awsquery.GetGroupOutput)
	if got.Group.GroupName != "Admins" || len(got.Users) != 2 || !got.IsTruncated {
		t.Fatalf("GetGroup: %+v", got)
	}
	rest := f.iam(f.rootCaller, "GetGroup", "GroupName=Admins&Marker="+q(got.Marker)).(*awsquery.GetGroupOutput)
	if len(rest.Users) != 1 || rest.Users[0].UserName != "c" {
		t.Fatalf("GetGroup page 2: %+v", rest)
	}
	for i := 1; i < store.MaxGroupsPerUser; i++ {
		f.iam(f.rootCaller, "CreateGroup", "GroupName=g"+strconv.Itoa(i))
		f.iam(f.rootCaller, "AddUserToGroup", "GroupName=g"+strconv.Itoa(i)+"&UserName=a")
	}
	f.iam(f.rootCaller, "CreateGroup", "GroupName=eleventh")
	wantErr(t, f.iamErr(f.rootCaller, "AddUserToGroup", "GroupName=eleventh&UserName=a"),
		"LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10")
	lg := f.iam(f.rootCaller, "ListGroupsForUser", "UserName=a").(*awsquery.ListGroupsOutput)
	if len(lg.Groups) != 10 {
		t.Fatalf("ListGroupsForUser: %d", len(lg.Groups))
	}
	if n := len(f.iam(f.rootCaller, "ListGroups", "PathPrefix=/ops/").(*awsquery.ListGroupsOutput).Groups); n != 1 {
		t.Fatalf("ListGroups /ops/: %d", n)
	}
	f.iam(f.rootCaller, "PutGroupPolicy", "GroupName=Admins&PolicyName=p&PolicyDocument="+q(allowAllKMS))
	for _, u := range []string{"a", "b", "c"} {
		f.iam(f.rootCaller, "RemoveUserFromGroup", "GroupName=Admins&UserName="+u)
	}
	wantErr(t, f.iamErr(f.rootCaller, "RemoveUserFromGroup", "GroupName=Admins&UserName=a"), "NoSuchEntity", "The user with name a cannot be found.")
	wantErr(t, f.iamErr(f.rootCaller, "DeleteGroup", "GroupName=Admins"), "DeleteConflict", "Cannot delete entity, must delete policies first.")
	f.iam(f.rootCaller, "DeleteGroupPolicy", "GroupName=Admins&PolicyName=p")
	f.iam(f.rootCaller, "DeleteGroup", "GroupName=Admins")
}
