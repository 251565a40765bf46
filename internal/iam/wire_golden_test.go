package iam

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// wireStep is one request of the golden script: who sends it, to which
// service, and its form parameters after Action and Version.
type wireStep struct {
	svc    *awsquery.Service
	caller string // "root", or a user or session named by an earlier step
	action string
	params string
}

// TestWireGolden runs a script of IAM and STS requests, successes and
// failures, through the Service and awsquery's encoder, and compares every
// status and XML body byte for byte with testdata/wire.golden. It pins what
// the handlers send (element names and order, which members are left out,
// error codes and messages) so that refactoring them cannot change the wire
// unnoticed; random identifiers, secrets and tokens are replaced by
// numbered placeholders. Regenerate with -update, and read the diff.
func TestWireGolden(t *testing.T) {
	f := newFixture(t)
	callers := map[string]*identity.Caller{"root": f.rootCaller}
	boundary := "arn:aws:iam::" + testAccount + ":policy/bound"
	roleTrust := trust("arn:aws:iam::"+testAccount+":root", `"sts:AssumeRole"`, "")
	bobTrust := trust("arn:aws:iam::"+testAccount+":user/bob", `["sts:AssumeRole","sts:TagSession"]`, "")
	doc := q(allowAllKMS)
	iam := awsquery.IAM
	sts := awsquery.STS
	steps := []wireStep{
		// Managed policies, first so that users and roles can use one as
		// a boundary.
		{iam, "root", "CreatePolicy", "PolicyName=bound&Path=/&Description=d&PolicyDocument=" + doc + "&Tags.member.1.Key=k&Tags.member.1.Value=v"},
		{iam, "root", "CreatePolicy", "PolicyName=bound&PolicyDocument=" + doc},
		{iam, "root", "CreatePolicy", "PolicyName=second&Path=/team/&PolicyDocument=" + doc},
		{iam, "root", "GetPolicy", "PolicyArn=" + boundary},
		{iam, "root", "GetPolicy", "PolicyArn=arn:aws:iam::" + testAccount + ":policy/nope"},
		{iam, "root", "GetPolicy", "PolicyArn=bound"},
		{iam, "root", "ListPolicies", "Scope=Local&MaxItems=1"},
		{iam, "root", "ListPolicies", "Scope=Local&Marker=" + encodeMarker("arn:aws:iam::"+testAccount+":policy/bound")},
		{iam, "root", "ListPolicies", "Scope=Bogus&MaxItems=0"},
		{iam, "root", "CreatePolicyVersion", "PolicyArn=" + boundary + "&PolicyDocument=" + doc},
		{iam, "root", "CreatePolicyVersion", "PolicyArn=" + boundary + "&SetAsDefault=true&PolicyDocument=" + doc},
		{iam, "root", "GetPolicyVersion", "PolicyArn=" + boundary + "&VersionId=v2"},
		{iam, "root", "GetPolicyVersion", "PolicyArn=" + boundary + "&VersionId=v9"},
		{iam, "root", "ListPolicyVersions", "PolicyArn=" + boundary + "&MaxItems=2"},
		{iam, "root", "SetDefaultPolicyVersion", "PolicyArn=" + boundary + "&VersionId=v1"},
		{iam, "root", "DeletePolicyVersion", "PolicyArn=" + boundary + "&VersionId=v1"},
		{iam, "root", "DeletePolicyVersion", "PolicyArn=" + boundary + "&VersionId=v2"},
		{iam, "root", "DeletePolicy", "PolicyArn=" + boundary},

		// Users and their tags and boundaries.
		{iam, "root", "CreateUser", "UserName=alice&Path=/eng/&PermissionsBoundary=" + boundary + "&Tags.member.1.Key=team&Tags.member.1.Value=kms"},
		{iam, "root", "CreateUser", "UserName=alice"},
		{iam, "root", "CreateUser", "UserName=bad!name&Path=nope"},
		{iam, "root", "CreateUser", "UserName=bob&PermissionsBoundary=arn:aws:iam::" + testAccount + ":policy/nope"},
		{iam, "root", "CreateUser", "UserName=bob&Tags.member.1.Key=aws:x&Tags.member.1.Value=v"},
		{iam, "root", "CreateUser", "UserName=bob"},
		{iam, "root", "CreateUser", "UserName=carol"},
		{iam, "root", "GetUser", "UserName=alice"},
		{iam, "root", "GetUser", "UserName=nobody"},
		{iam, "root", "GetUser", ""},
		{iam, "root", "ListUsers", "MaxItems=2"},
		{iam, "root", "ListUsers", "Marker=" + encodeMarker("bob")},
		{iam, "root", "ListUsers", "PathPrefix=/eng/"},
		{iam, "root", "ListUsers", "Marker=%21%21"},
		{iam, "root", "UpdateUser", "UserName=carol&NewUserName=dave&NewPath=/ops/"},
		{iam, "root", "UpdateUser", "UserName=dave&NewUserName=alice"},
		{iam, "root", "UpdateUser", "UserName=carol&NewUserName=erin"},
		{iam, "root", "TagUser", "UserName=bob&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.3.Key=c&Tags.member.3.Value=3"},
		{iam, "root", "TagUser", "UserName=bob&Tags.member.1.Key=A&Tags.member.1.Value=replaced"},
		{iam, "root", "TagUser", "UserName=nobody&Tags.member.1.Key=a&Tags.member.1.Value=1"},
		{iam, "root", "TagUser", "UserName=bob&Tags.member.1.Key=aws:a&Tags.member.1.Value=1"},
		{iam, "root", "TagUser", "UserName=bob&Tags.member.1.Key=x&Tags.member.1.Value=1&Tags.member.2.Key=X&Tags.member.2.Value=2"},
		{iam, "root", "TagUser", "UserName=bob&Tags.member.1.Key=&Tags.member.1.Value=1"},
		{iam, "root", "ListUserTags", "UserName=bob&MaxItems=2"},
		{iam, "root", "ListUserTags", "UserName=bob&Marker=" + encodeMarker("2")},
		{iam, "root", "ListUserTags", "UserName=bob&Marker=" + encodeMarker("9")},
		{iam, "root", "ListUserTags", "UserName=nobody"},
		{iam, "root", "UntagUser", "UserName=bob&TagKeys.member.1=B&TagKeys.member.2=zz"},
		{iam, "root", "UntagUser", "UserName=nobody&TagKeys.member.1=a"},
		{iam, "root", "UntagUser", "UserName=bob&TagKeys.member.1="},
		{iam, "root", "ListUserTags", "UserName=bob"},
		{iam, "root", "ListUserTags", "UserName=alice"},
		{iam, "root", "CreatePolicy", "PolicyName=bound&PolicyDocument=" + doc},
		{iam, "root", "PutUserPermissionsBoundary", "UserName=bob&PermissionsBoundary=" + boundary},
		{iam, "root", "PutUserPermissionsBoundary", "UserName=nobody&PermissionsBoundary=" + boundary},
		{iam, "root", "PutUserPermissionsBoundary", "UserName=bob&PermissionsBoundary=arn:aws:iam::" + testAccount + ":policy/nope"},
		{iam, "root", "PutUserPermissionsBoundary", "UserName=bob&PermissionsBoundary=short"},
		{iam, "root", "GetUser", "UserName=bob"},
		{iam, "root", "DeleteUserPermissionsBoundary", "UserName=bob"},
		{iam, "root", "DeleteUserPermissionsBoundary", "UserName=nobody"},
		{iam, "root", "GetUser", "UserName=bob"},

		// Access keys.
		{iam, "root", "CreateAccessKey", "UserName=bob"},
		{iam, "root", "CreateAccessKey", "UserName=nobody"},
		{iam, "root", "ListAccessKeys", "UserName=bob"},
		{iam, "root", "ListAccessKeys", "UserName=nobody"},
		{iam, "bob", "GetUser", ""},
		{iam, "bob", "ListAccessKeys", ""},
		{iam, "root", "UpdateAccessKey", "UserName=bob&AccessKeyId=AKIAAAAAAAAAAAAAAAAA&Status=Inactive"},
		{iam, "root", "UpdateAccessKey", "UserName=bob&AccessKeyId=AKIAAAAAAAAAAAAAAAAA&Status=Sleeping"},
		{iam, "root", "GetAccessKeyLastUsed", "AccessKeyId=AKIAAAAAAAAAAAAAAAAA"},

		// Groups.
		{iam, "root", "CreateGroup", "GroupName=admins&Path=/eng/"},
		{iam, "root", "CreateGroup", "GroupName=admins"},
		{iam, "root", "CreateGroup", "GroupName=readers"},
		{iam, "root", "CreateGroup", "GroupName=bad!name"},
		{iam, "root", "GetGroup", "GroupName=admins"},
		{iam, "root", "GetGroup", "GroupName=nope"},
		{iam, "root", "ListGroups", "MaxItems=1"},
		{iam, "root", "ListGroups", "Marker=" + encodeMarker("admins")},
		{iam, "root", "ListGroups", "PathPrefix=/eng/&MaxItems=1001"},
		{iam, "root", "AddUserToGroup", "GroupName=admins&UserName=alice"},
		{iam, "root", "AddUserToGroup", "GroupName=admins&UserName=bob"},
		{iam, "root", "AddUserToGroup", "GroupName=nope&UserName=nobody"},
		{iam, "root", "AddUserToGroup", "GroupName=admins&UserName=nobody"},
		{iam, "root", "GetGroup", "GroupName=admins&MaxItems=1"},
		{iam, "root", "ListGroupsForUser", "UserName=alice"},
		{iam, "root", "ListGroupsForUser", "UserName=nobody"},
		{iam, "root", "RemoveUserFromGroup", "GroupName=admins&UserName=bob"},
		{iam, "root", "RemoveUserFromGroup", "GroupName=admins&UserName=bob"},
		{iam, "root", "DeleteGroup", "GroupName=admins"},
		{iam, "root", "DeleteGroup", "GroupName=nope"},

		// Roles.
		{iam, "root", "CreateRole", "RoleName=app&Path=/svc/&Description=the+app&MaxSessionDuration=7200&PermissionsBoundary=" + boundary +
			"&Tags.member.1.Key=env&Tags.member.1.Value=prod&AssumeRolePolicyDocument=" + q(bobTrust)},
		{iam, "root", "CreateRole", "RoleName=app&AssumeRolePolicyDocument=" + q(roleTrust)},
		{iam, "root", "CreateRole", "RoleName=plain&AssumeRolePolicyDocument=" + q(roleTrust)},
		{iam, "root", "CreateRole", "RoleName=broken&AssumeRolePolicyDocument=" + q("{not json")},
		{iam, "root", "CreateRole", "RoleName=ghost&AssumeRolePolicyDocument=" + q(trust("arn:aws:iam::"+testAccount+":user/ghost", `"sts:AssumeRole"`, ""))},
		{iam, "root", "CreateRole", "RoleName=toolong&MaxSessionDuration=60&Description=%01&AssumeRolePolicyDocument=" + q(roleTrust)},
		{iam, "root", "GetRole", "RoleName=app"},
		{iam, "root", "GetRole", "RoleName=nope"},
		{iam, "root", "ListRoles", ""},
		{iam, "root", "ListRoles", "MaxItems=1"},
		{iam, "root", "UpdateAssumeRolePolicy", "RoleName=plain&PolicyDocument=" + q(roleTrust)},
		{iam, "root", "UpdateAssumeRolePolicy", "RoleName=nope&PolicyDocument=" + q(roleTrust)},
		{iam, "root", "UpdateAssumeRolePolicy", "RoleName=plain&PolicyDocument=" + q(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"*"}]}`)},
		{iam, "root", "TagRole", "RoleName=app&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=ENV&Tags.member.2.Value=dev"},
		{iam, "root", "TagRole", "RoleName=nope&Tags.member.1.Key=a&Tags.member.1.Value=1"},
		{iam, "root", "TagRole", "RoleName=app&Tags.member.1.Key=aws:a&Tags.member.1.Value=1"},
		{iam, "root", "ListRoleTags", "RoleName=app&MaxItems=1"},
		{iam, "root", "ListRoleTags", "RoleName=nope"},
		{iam, "root", "UntagRole", "RoleName=app&TagKeys.member.1=A"},
		{iam, "root", "UntagRole", "RoleName=nope&TagKeys.member.1=a"},
		{iam, "root", "ListRoleTags", "RoleName=app"},
		{iam, "root", "PutRolePermissionsBoundary", "RoleName=plain&PermissionsBoundary=" + boundary},
		{iam, "root", "PutRolePermissionsBoundary", "RoleName=nope&PermissionsBoundary=" + boundary},
		{iam, "root", "PutRolePermissionsBoundary", "RoleName=plain&PermissionsBoundary=arn:aws:iam::" + testAccount + ":policy/nope"},
		{iam, "root", "GetRole", "RoleName=plain"},
		{iam, "root", "DeleteRolePermissionsBoundary", "RoleName=plain"},
		{iam, "root", "DeleteRolePermissionsBoundary", "RoleName=nope"},
		{iam, "root", "GetRole", "RoleName=plain"},

		// Inline policies of each kind of entity.
		{iam, "root", "PutUserPolicy", "UserName=bob&PolicyName=p1&PolicyDocument=" + doc},
		{iam, "root", "PutUserPolicy", "UserName=nobody&PolicyName=p1&PolicyDocument=" + doc},
		{iam, "root", "PutUserPolicy", "UserName=bob&PolicyName=big&PolicyDocument=" + q(bigPolicy(2100))},
		{iam, "root", "PutUserPolicy", "UserName=bob&PolicyName=bad&PolicyDocument=" + q("{")},
		{iam, "root", "GetUserPolicy", "UserName=BOB&PolicyName=p1"},
		{iam, "root", "GetUserPolicy", "UserName=bob&PolicyName=nope"},
		{iam, "root", "GetUserPolicy", "UserName=nobody&PolicyName=p1"},
		{iam, "root", "ListUserPolicies", "UserName=bob"},
		{iam, "root", "ListUserPolicies", "UserName=nobody"},
		{iam, "root", "PutGroupPolicy", "GroupName=readers&PolicyName=g1&PolicyDocument=" + doc},
		{iam, "root", "PutGroupPolicy", "GroupName=readers&PolicyName=g2&PolicyDocument=" + doc},
		{iam, "root", "PutGroupPolicy", "GroupName=nope&PolicyName=g1&PolicyDocument=" + doc},
		{iam, "root", "PutGroupPolicy", "GroupName=readers&PolicyName=big&PolicyDocument=" + q(bigPolicy(5200))},
		{iam, "root", "GetGroupPolicy", "GroupName=READERS&PolicyName=g1"},
		{iam, "root", "GetGroupPolicy", "GroupName=readers&PolicyName=nope"},
		{iam, "root", "ListGroupPolicies", "GroupName=readers&MaxItems=1"},
		{iam, "root", "ListGroupPolicies", "GroupName=nope"},
		{iam, "root", "PutRolePolicy", "RoleName=plain&PolicyName=r1&PolicyDocument=" + doc},
		{iam, "root", "PutRolePolicy", "RoleName=nope&PolicyName=r1&PolicyDocument=" + doc},
		{iam, "root", "GetRolePolicy", "RoleName=PLAIN&PolicyName=r1"},
		{iam, "root", "GetRolePolicy", "RoleName=plain&PolicyName=nope"},
		{iam, "root", "GetRolePolicy", "RoleName=nope&PolicyName=r1"},
		{iam, "root", "ListRolePolicies", "RoleName=plain"},
		{iam, "root", "DeleteRole", "RoleName=plain"},
		{iam, "root", "DeleteGroup", "GroupName=readers"},
		{iam, "root", "DeleteRolePolicy", "RoleName=plain&PolicyName=r1"},
		{iam, "root", "DeleteRolePolicy", "RoleName=plain&PolicyName=r1"},
		{iam, "root", "DeleteGroupPolicy", "GroupName=readers&PolicyName=g1"},
		{iam, "root", "DeleteGroupPolicy", "GroupName=nope&PolicyName=g1"},
		{iam, "root", "DeleteUserPolicy", "UserName=bob&PolicyName=p1"},
		{iam, "root", "DeleteUserPolicy", "UserName=bob&PolicyName=p1"},

		// Attachments.
		{iam, "root", "AttachUserPolicy", "UserName=bob&PolicyArn=" + boundary},
		{iam, "root", "AttachUserPolicy", "UserName=bob&PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"},
		{iam, "root", "AttachUserPolicy", "UserName=bob&PolicyArn=arn:aws:iam::" + testAccount + ":policy/nope"},
		{iam, "root", "AttachUserPolicy", "UserName=nobody&PolicyArn=" + boundary},
		{iam, "root", "AttachUserPolicy", "UserName=bob&PolicyArn=bound"},
		{iam, "root", "AttachGroupPolicy", "GroupName=readers&PolicyArn=" + boundary},
		{iam, "root", "AttachRolePolicy", "RoleName=plain&PolicyArn=" + boundary},
		{iam, "root", "AttachRolePolicy", "RoleName=nope&PolicyArn=" + boundary},
		{iam, "root", "ListAttachedUserPolicies", "UserName=bob&MaxItems=1"},
		{iam, "root", "ListAttachedUserPolicies", "UserName=bob&PathPrefix=/"},
		{iam, "root", "ListAttachedUserPolicies", "UserName=nobody"},
		{iam, "root", "ListAttachedGroupPolicies", "GroupName=readers"},
		{iam, "root", "ListAttachedRolePolicies", "RoleName=plain"},
		{iam, "root", "ListEntitiesForPolicy", "PolicyArn=" + boundary},
		{iam, "root", "ListEntitiesForPolicy", "PolicyArn=" + boundary + "&EntityFilter=Role"},
		{iam, "root", "ListEntitiesForPolicy", "PolicyArn=" + boundary + "&PolicyUsageFilter=PermissionsBoundary"},
		{iam, "root", "ListEntitiesForPolicy", "PolicyArn=" + boundary + "&MaxItems=1"},
		{iam, "root", "GetPolicy", "PolicyArn=" + boundary},
		{iam, "root", "DeletePolicy", "PolicyArn=" + boundary},
		{iam, "root", "DeleteRole", "RoleName=plain"},
		{iam, "root", "DetachUserPolicy", "UserName=bob&PolicyArn=" + boundary},
		{iam, "root", "DetachUserPolicy", "UserName=bob&PolicyArn=" + boundary},
		{iam, "root", "DetachUserPolicy", "UserName=nobody&PolicyArn=" + boundary},
		{iam, "root", "DetachGroupPolicy", "GroupName=readers&PolicyArn=" + boundary},
		{iam, "root", "DetachRolePolicy", "RoleName=plain&PolicyArn=" + boundary},

		// An invalid entity name is named by its member in each family.
		{iam, "root", "TagRole", "RoleName=bad!&Tags.member.1.Key=a&Tags.member.1.Value=1"},
		{iam, "root", "ListUserTags", "UserName=bad!"},
		{iam, "root", "PutUserPermissionsBoundary", "UserName=bad!&PermissionsBoundary=" + boundary},
		{iam, "root", "DeleteRolePermissionsBoundary", "RoleName="},
		{iam, "root", "PutGroupPolicy", "GroupName=bad!&PolicyName=p&PolicyDocument=" + doc},
		{iam, "root", "GetRolePolicy", "RoleName=bad!&PolicyName=p"},
		{iam, "root", "DeleteUserPolicy", "UserName=bad!&PolicyName=p"},
		{iam, "root", "ListGroupPolicies", "GroupName=bad!"},
		{iam, "root", "AttachGroupPolicy", "GroupName=bad!&PolicyArn=" + boundary},
		{iam, "root", "DetachRolePolicy", "RoleName=bad!&PolicyArn=" + boundary},
		{iam, "root", "ListAttachedUserPolicies", "UserName=bad!"},

		// The simulator.
		{iam, "root", "SimulatePrincipalPolicy", "PolicySourceArn=arn:aws:iam::" + testAccount + ":user/bob&ActionNames.member.1=iam:GetUser&ActionNames.member.2=kms:Encrypt"},
		{iam, "root", "SimulateCustomPolicy", "PolicyInputList.member.1=" + doc + "&ActionNames.member.1=kms:Decrypt&ResourceArns.member.1=*"},

		// STS.
		{sts, "root", "GetCallerIdentity", ""},
		{sts, "bob", "GetCallerIdentity", ""},
		{sts, "bob", "AssumeRole", "RoleArn=arn:aws:iam::" + testAccount + ":role/svc/app&RoleSessionName=s1&DurationSeconds=900&Tags.member.1.Key=k&Tags.member.1.Value=v"},
		{sts, "bob", "AssumeRole", "RoleArn=arn:aws:iam::" + testAccount + ":role/nope&RoleSessionName=s1"},
		{sts, "bob", "AssumeRole", "RoleArn=arn:aws:iam::" + testAccount + ":role/svc/app&RoleSessionName=bad:name&DurationSeconds=10"},
		{sts, "root", "AssumeRole", "RoleArn=arn:aws:iam::" + testAccount + ":role/svc/app&RoleSessionName=s1"},
		{sts, "session", "GetCallerIdentity", ""},
		{iam, "session", "GetUser", ""},
		{sts, "bob", "GetSessionToken", "DurationSeconds=900"},
		{sts, "root", "GetAccessKeyInfo", "AccessKeyId=AKIAAAAAAAAAAAAAAAAA"},
		{sts, "root", "GetAccessKeyInfo", "AccessKeyId=short"},

		// Deleting what is still in use, then all of it.
		{iam, "root", "DeleteUser", "UserName=bob"},
		{iam, "root", "DeleteAccessKey", "UserName=bob&AccessKeyId=AKIAAAAAAAAAAAAAAAAA"},
		{iam, "root", "DeleteUser", "UserName=bob"},
		{iam, "root", "DeleteUser", "UserName=alice"},
		{iam, "root", "RemoveUserFromGroup", "GroupName=admins&UserName=alice"},
		{iam, "root", "DeleteUser", "UserName=alice"},
		{iam, "root", "DeleteUser", "UserName=alice"},
		{iam, "root", "DeleteGroup", "GroupName=admins"},
		{iam, "root", "DeleteRole", "RoleName=app"},
		{iam, "root", "DeleteRole", "RoleName=app"},
	}

	var got bytes.Buffer
	n := newNormalizer()
	for i, st := range steps {
		caller, ok := callers[st.caller]
		if !ok {
			t.Fatalf("step %d: no caller %q after:\n%s", i, st.caller, got.String()[max(0, got.Len()-3000):])
		}
		params := n.restore(st.params)
		body := "Action=" + st.action + "&Version=" + st.svc.Version
		if params != "" {
			body += "&" + params
		}
		w := httptest.NewRecorder()
		op, in, err := st.svc.Decode([]byte(body))
		if err == nil {
			r := &Request{Caller: caller, RequestID: "req-1", SourceIP: "192.0.2.1", Region: "us-east-1"}
			var out any
			if st.svc == awsquery.IAM {
				out, err = f.s.CallIAM(context.Background(), r, op, in)
			} else {
				out, err = f.s.CallSTS(context.Background(), r, op, in)
			}
			if err == nil {
				st.svc.WriteResult(w, "req-1", op, out)
			}
		}
		if err != nil {
			st.svc.WriteError(w, "req-1", err)
		}
		text := n.replace(w.Body.String())
		fmt.Fprintf(&got, "### %s %s %s %s\n%d %s\n\n", st.svc.Name, st.caller, st.action, st.params, w.Code, text)
		n.after(f, st, w.Body.String(), callers)
	}

	path := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("wire output differs from %s at line %d:\ngot  %s\nwant %s", path, i+1, g, w)
			}
		}
	}
	if !strings.Contains(string(want), "<ErrorResponse") || !strings.Contains(string(want), "<CreateUserResult>") {
		t.Fatalf("%s holds no errors or no results: the script did not run", path)
	}
}

// after lets later steps act as a user the script gave a key (once bob has
// one, he is a caller, and his key id stands in the parameters of later
// steps as AKIAAAAAAAAAAAAAAAAA) or as the role session bob's AssumeRole
// opened.
func (n *normalizer) after(f *fixture, st wireStep, body string, callers map[string]*identity.Caller) {
	id := regexp.MustCompile(`<AccessKeyId>([A-Z0-9]+)</AccessKeyId>`).FindStringSubmatch(body)
	switch {
	case id == nil:
	case st.action == "CreateAccessKey" && strings.Contains(st.params, "UserName=bob"):
		callers["bob"] = f.resolve(id[1], "")
		n.bobKey = id[1]
	case st.action == "AssumeRole" && st.caller == "bob":
		token := regexp.MustCompile(`<SessionToken>([^<]+)</SessionToken>`).FindStringSubmatch(body)
		callers["session"] = f.resolve(id[1], token[1])
	}
}

// normalizer replaces what is random in a response (unique ids, access
// key ids, secrets, session tokens) with placeholders numbered in order of
// first appearance, so that the golden file is stable.
type normalizer struct {
	seen   map[string]string
	n      int
	bobKey string // the real id of the key the script creates for bob
}

func newNormalizer() *normalizer { return &normalizer{seen: map[string]string{}} }

var (
	randomID  = regexp.MustCompile(`\b(AIDA|AGPA|AROA|ANPA|AKIA|ASIA)[A-Z2-7]{16,17}\b`)
	secretish = regexp.MustCompile(`<(SecretAccessKey|SessionToken)>[^<]*</`)
)

func (n *normalizer) replace(s string) string {
	s = randomID.ReplaceAllStringFunc(s, func(id string) string {
		if p, ok := n.seen[id]; ok {
			return p
		}
		n.n++
		p := fmt.Sprintf("<%s:%d>", id[:4], n.n)
		n.seen[id] = p
		return p
	})
	return secretish.ReplaceAllString(s, "<$1>($1)</")
}

// restore puts bob's real key id into a step's parameters.
func (n *normalizer) restore(params string) string {
	if n.bobKey == "" {
		return params
	}
	return strings.ReplaceAll(params, "AKIAAAAAAAAAAAAAAAAA", n.bobKey)
}

// bigPolicy is an identity policy of at least n characters without
// whitespace.
func bigPolicy(n int) string {
	sid := strings.Repeat("a", n)
	return `{"Version":"2012-10-17","Statement":[{"Sid":"` + sid + `","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
}
