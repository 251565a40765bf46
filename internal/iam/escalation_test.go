package iam

import (
	"context"
	"errors"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
)

// serve runs an operation as the server does, authorization first (the
// fixture's call skips it), and returns its error, nil if it succeeded.
func (f *fixture) serve(svc *awsquery.Service, caller *identity.Caller, action, params string) error {
	f.t.Helper()
	op, in, r, err := decodeCall(svc, caller, action, params)
	if err != nil {
		f.t.Fatal(err)
	}
	service := "iam"
	if svc == awsquery.STS {
		service = "sts"
	}
	_, err = f.s.Serve(context.Background(), service, r, op, in)
	return err
}

// denied fails the test unless err is IAM's AccessDenied.
func denied(t *testing.T, what string, err error) {
	t.Helper()
	if e := (*apierr.Error)(nil); !errors.As(err, &e) || e.Code != apierr.AccessDenied {
		t.Fatalf("%s: %v, want AccessDenied", what, err)
	}
}

// TestGroupMembershipIsAuthorizedOnTheGroup: AddUserToGroup and
// RemoveUserFromGroup name a user and a group, and their resource is the
// group (Service Authorization Reference). Authorized on the user, a user
// allowed to manage memberships but denied the admins group joined it,
// and could leave a group whose Deny statements bound them.
func TestGroupMembershipIsAuthorizedOnTheGroup(t *testing.T) {
	f := newFixture(t)
	for _, g := range []string{"admins", "staff"} {
		f.iam(f.rootCaller, "CreateGroup", "GroupName="+g)
	}
	alice, _ := f.userWithKey("alice")
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=alice&PolicyName=p&PolicyDocument="+q(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":["iam:AddUserToGroup","iam:RemoveUserFromGroup"],"Resource":"*"},`+
		`{"Effect":"Deny","Action":["iam:AddUserToGroup","iam:RemoveUserFromGroup"],"Resource":"arn:aws:iam::`+testAccount+`:group/admins"}]}`))

	denied(t, "joining the denied group", f.serve(awsquery.IAM, alice, "AddUserToGroup", "GroupName=admins&UserName=alice"))
	if err := f.serve(awsquery.IAM, alice, "AddUserToGroup", "GroupName=staff&UserName=alice"); err != nil {
		t.Fatal(err)
	}
	f.iam(f.rootCaller, "AddUserToGroup", "GroupName=admins&UserName=alice")
	denied(t, "leaving the denied group", f.serve(awsquery.IAM, alice, "RemoveUserFromGroup", "GroupName=admins&UserName=alice"))
	if err := f.serve(awsquery.IAM, alice, "RemoveUserFromGroup", "GroupName=staff&UserName=alice"); err != nil {
		t.Fatal(err)
	}
}

// TestSessionTokenCredentialsCallNoIAM: credentials from GetSessionToken
// call no IAM operation (AWS requires MFA, which Trent does not support)
// and no STS operation but AssumeRole and GetCallerIdentity, whatever the
// user's policies allow; KMS is theirs as the user's.
func TestSessionTokenCredentialsCallNoIAM(t *testing.T) {
	f := newFixture(t)
	dave, _ := f.userWithKey("dave")
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=dave&PolicyName=all&PolicyDocument="+q(policyDoc("*")))
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trust(testAccount, `"sts:AssumeRole"`, "")))
	if err := f.serve(awsquery.IAM, dave, "CreateUser", "UserName=by-dave"); err != nil {
		t.Fatalf("dave's own key: %v", err)
	}
	out := f.sts(dave, "GetSessionToken", "").(*awsquery.GetSessionTokenOutput)
	sess := f.resolve(out.Credentials.AccessKeyId, out.Credentials.SessionToken)
	for _, call := range []struct {
		svc            *awsquery.Service
		action, params string
	}{
		{awsquery.IAM, "CreateUser", "UserName=by-session"},
		{awsquery.IAM, "CreateAccessKey", "UserName=dave"},
		{awsquery.IAM, "ListUsers", ""},
	} {
		denied(t, call.action, f.serve(call.svc, sess, call.action, call.params))
	}
	for _, call := range []struct{ action, params string }{
		{"GetCallerIdentity", ""},
		{"AssumeRole", "RoleArn=" + q("arn:aws:iam::"+testAccount+":role/r") + "&RoleSessionName=s1"},
	} {
		if err := f.serve(awsquery.STS, sess, call.action, call.params); err != nil {
			t.Errorf("%s with the session: %v", call.action, err)
		}
	}
}

// TestSessionTagsNeedTheCallersPermission: tagging a session and setting
// its source identity need sts:TagSession and sts:SetSourceIdentity on the
// caller's side too, not only in the role's trust policy: a caller denied
// them (here explicitly) cannot give itself the tag an attribute-based
// policy grants access by.
func TestSessionTagsNeedTheCallersPermission(t *testing.T) {
	f := newFixture(t)
	carol, _ := f.userWithKey("carol")
	f.iam(f.rootCaller, "CreateRole", "RoleName=worker&AssumeRolePolicyDocument="+
		q(trust("arn:aws:iam::"+testAccount+":root", `["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]`, "")))
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=carol&PolicyName=p&PolicyDocument="+q(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":"sts:*","Resource":"*"},`+
		`{"Effect":"Deny","Action":["sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}]}`))
	role := "RoleArn=" + q("arn:aws:iam::"+testAccount+":role/worker") + "&RoleSessionName=s1"
	if err := f.serve(awsquery.STS, carol, "AssumeRole", role); err != nil {
		t.Fatalf("AssumeRole without tags: %v", err)
	}
	denied(t, "with a session tag", f.serve(awsquery.STS, carol, "AssumeRole", role+"&Tags.member.1.Key=team&Tags.member.1.Value=finance"))
	denied(t, "with a transitive tag key", f.serve(awsquery.STS, carol, "AssumeRole", role+"&TransitiveTagKeys.member.1=team"))
	denied(t, "with a source identity", f.serve(awsquery.STS, carol, "AssumeRole", role+"&SourceIdentity=carol"))

	// Allowed on her side, they pass.
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=carol&PolicyName=p&PolicyDocument="+q(policyDoc("sts:*")))
	if err := f.serve(awsquery.STS, carol, "AssumeRole", role+"&Tags.member.1.Key=team&Tags.member.1.Value=finance&SourceIdentity=carol"); err != nil {
		t.Fatalf("AssumeRole with tags allowed on both sides: %v", err)
	}
}

// TestRenameNeedsThePermissionOnTheTarget: UpdateUser with a new name or
// path is authorized on the user as it is and as it would be (IAM API
// Reference): a user allowed to update only itself cannot move into a
// path that key policies trust, nor take another name.
func TestRenameNeedsThePermissionOnTheTarget(t *testing.T) {
	f := newFixture(t)
	mallory, _ := f.userWithKey("mallory")
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=mallory&PolicyName=self&PolicyDocument="+q(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":"iam:UpdateUser","Resource":"arn:aws:iam::`+testAccount+`:user/${aws:username}"}]}`))
	denied(t, "a new path", f.serve(awsquery.IAM, mallory, "UpdateUser", "UserName=mallory&NewPath=/admins/"))
	denied(t, "a new name", f.serve(awsquery.IAM, mallory, "UpdateUser", "UserName=mallory&NewUserName=admin"))

	// Allowed on both, it passes.
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=mallory&PolicyName=self&PolicyDocument="+q(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":"iam:UpdateUser","Resource":["arn:aws:iam::`+testAccount+`:user/mallory","arn:aws:iam::`+testAccount+`:user/team/mallory"]}]}`))
	if err := f.serve(awsquery.IAM, mallory, "UpdateUser", "UserName=mallory&NewPath=/team/"); err != nil {
		t.Fatalf("a move allowed on both: %v", err)
	}
}

// TestTrustNamesTheCallerUnderTheRequestsConditions: a same-account caller
// named by the role's trust policy needs no identity policy for
// AssumeRole, but only if the statement naming it holds for this request.
// Here it names carol unless the session is called admin-session, and
// another statement trusts the account (which needs an identity policy,
// which carol lacks): asking for admin-session must be denied. Evaluated
// without the request's context, the negated condition held and the
// identity requirement was skipped.
func TestTrustNamesTheCallerUnderTheRequestsConditions(t *testing.T) {
	f := newFixture(t)
	carol, _ := f.userWithKey("carol")
	doc := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:user/carol"},"Action":"sts:AssumeRole",` +
		`"Condition":{"StringNotEquals":{"sts:RoleSessionName":"admin-session"}}},` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"sts:AssumeRole"}]}`
	f.iam(f.rootCaller, "CreateRole", "RoleName=ops&AssumeRolePolicyDocument="+q(doc))
	role := "RoleArn=" + q("arn:aws:iam::"+testAccount+":role/ops")
	if err := f.serve(awsquery.STS, carol, "AssumeRole", role+"&RoleSessionName=daily"); err != nil {
		t.Fatalf("named by the trust policy: %v", err)
	}
	denied(t, "the session the naming statement excludes", f.serve(awsquery.STS, carol, "AssumeRole", role+"&RoleSessionName=admin-session"))
}
