package iam

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/awsquery"
)

const trustAccount = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}`

func TestRoles(t *testing.T) {
	f := newFixture(t)
	created := f.iam(f.rootCaller, "CreateRole", "RoleName=Deploy&Path=/ci/&Description=d&AssumeRolePolicyDocument="+q(trustAccount)+
		"&Tags.member.1.Key=env&Tags.member.1.Value=prod").(*awsquery.RoleOutput).Role
	if !strings.HasPrefix(created.RoleId, "AROA") || created.Arn != "arn:aws:iam::"+testAccount+":role/ci/Deploy" {
		t.Fatalf("created %+v", created)
	}
	// As recorded from AWS: CreateRole sends neither MaxSessionDuration nor
	// RoleLastUsed; GetRole sends both; ListRoles the duration only.
	if created.MaxSessionDuration != nil || created.RoleLastUsed != nil || string(created.AssumeRolePolicyDocument) != trustAccount {
		t.Fatalf("CreateRole shape %+v", created)
	}
	got := f.iam(f.rootCaller, "GetRole", "RoleName=deploy").(*awsquery.RoleOutput).Role
	if got.MaxSessionDuration == nil || *got.MaxSessionDuration != 3600 || got.RoleLastUsed == nil || len(got.Tags) != 1 {
		t.Fatalf("GetRole shape %+v", got)
	}
	listed := f.iam(f.rootCaller, "ListRoles", "").(*awsquery.ListRolesOutput).Roles
	if len(listed) != 1 || listed[0].MaxSessionDuration == nil || listed[0].RoleLastUsed != nil || listed[0].Tags != nil {
		t.Fatalf("ListRoles shape %+v", listed)
	}
	wantErr(t, f.iamErr(f.rootCaller, "CreateRole", "RoleName=DEPLOY&AssumeRolePolicyDocument="+q(trustAccount)),
		"EntityAlreadyExists", "Role with name DEPLOY already exists.")
	wantErr(t, f.iamErr(f.rootCaller, "GetRole", "RoleName=nope"), "NoSuchEntity", "The role with name nope cannot be found.")

	for _, tc := range []struct{ doc, code, message string }{
		{`{"Version":`, "MalformedPolicyDocument", "This policy contains invalid Json"},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}]}`,
			"MalformedPolicyDocument", "Has prohibited field Resource"},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/ghost"},"Action":"sts:AssumeRole"}]}`,
			"MalformedPolicyDocument", `Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:user/ghost"`},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"x":"` +
			strings.Repeat("y", 2048) + `"}}}]}`, "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048"},
	} {
		wantErr(t, f.iamErr(f.rootCaller, "CreateRole", "RoleName=bad&AssumeRolePolicyDocument="+q(tc.doc)), tc.code, tc.message)
	}
	wantErr(t, f.iamErr(f.rootCaller, "CreateRole", "RoleName=bad&MaxSessionDuration=60&AssumeRolePolicyDocument="+q(trustAccount)),
		"ValidationError", "1 validation error detected: Value at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600")

	// A trust policy may name users that exist.
	f.iam(f.rootCaller, "CreateUser", "UserName=dev")
	trustDev := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/dev"},"Action":"sts:AssumeRole"}]}`
	f.iam(f.rootCaller, "UpdateAssumeRolePolicy", "RoleName=Deploy&PolicyDocument="+q(trustDev))
	if doc := f.iam(f.rootCaller, "GetRole", "RoleName=Deploy").(*awsquery.RoleOutput).Role.AssumeRolePolicyDocument; string(doc) != trustDev {
		t.Fatalf("trust policy %s", doc)
	}

	f.iam(f.rootCaller, "TagRole", "RoleName=Deploy&Tags.member.1.Key=team&Tags.member.1.Value=a")
	f.iam(f.rootCaller, "UntagRole", "RoleName=Deploy&TagKeys.member.1=env")
	if tags := f.iam(f.rootCaller, "ListRoleTags", "RoleName=Deploy").(*awsquery.ListTagsOutput).Tags; len(tags) != 1 || tags[0].Key != "team" {
		t.Fatalf("role tags %+v", tags)
	}

	f.iam(f.rootCaller, "PutRolePolicy", "RoleName=Deploy&PolicyName=inline&PolicyDocument="+q(allowAllKMS))
	wantErr(t, f.iamErr(f.rootCaller, "DeleteRole", "RoleName=Deploy"), "DeleteConflict", "Cannot delete entity, must delete policies first.")
	f.iam(f.rootCaller, "DeleteRolePolicy", "RoleName=Deploy&PolicyName=inline")
	f.iam(f.rootCaller, "AttachRolePolicy", "RoleName=Deploy&PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess")
	wantErr(t, f.iamErr(f.rootCaller, "DeleteRole", "RoleName=Deploy"), "DeleteConflict", "Cannot delete entity, must detach all policies first.")
	f.iam(f.rootCaller, "DetachRolePolicy", "RoleName=Deploy&PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess")
	f.iam(f.rootCaller, "DeleteRole", "RoleName=Deploy")
}

func TestInlinePolicies(t *testing.T) {
	f := newFixture(t)
	f.iam(f.rootCaller, "CreateUser", "UserName=u")
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=u&PolicyName=kms&PolicyDocument="+q(allowAllKMS))
	got := f.iam(f.rootCaller, "GetUserPolicy", "UserName=U&PolicyName=kms").(*awsquery.GetUserPolicyOutput)
	if got.UserName != "u" || got.PolicyName != "kms" || string(got.PolicyDocument) != allowAllKMS {
		t.Fatalf("GetUserPolicy %+v", got)
	}
	names := f.iam(f.rootCaller, "ListUserPolicies", "UserName=u").(*awsquery.ListPolicyNamesOutput).PolicyNames
	if len(names) != 1 || names[0] != "kms" {
		t.Fatalf("ListUserPolicies %v", names)
	}
	// Inline policy names compare exactly.
	wantErr(t, f.iamErr(f.rootCaller, "GetUserPolicy", "UserName=u&PolicyName=KMS"), "NoSuchEntity", "The user policy with name KMS cannot be found.")
	wantErr(t, f.iamErr(f.rootCaller, "GetUserPolicy", "UserName=x&PolicyName=kms"), "NoSuchEntity", "The user with name x cannot be found.")
	wantErr(t, f.iamErr(f.rootCaller, "PutUserPolicy", "UserName=u&PolicyName=bad&PolicyDocument="+q(`{"Statement":`)),
		"MalformedPolicyDocument", "This policy contains invalid Json")
	wantErr(t, f.iamErr(f.rootCaller, "PutUserPolicy", "UserName=u&PolicyName=bad&PolicyDocument="+
		q(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`)),
		"MalformedPolicyDocument", "Policy document should not specify a principal.")

	// The user quota (2048 characters, whitespace not counted) bounds the
	// total of the user's inline policies; replacing a policy counts once.
	big := func(n int) string {
		pad := strings.Repeat("a", n)
		return `{"Version":"2012-10-17","Statement":[{"Sid":"` + pad + `","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`
	}
	base := len(big(0))
	spaced := strings.ReplaceAll(big(1000-base), ",", ",   \n   ")
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=u&PolicyName=kms&PolicyDocument="+q(spaced))
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=u&PolicyName=kms&PolicyDocument="+q(big(1000-base)))
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=u&PolicyName=second&PolicyDocument="+q(big(1048-base)))
	wantErr(t, f.iamErr(f.rootCaller, "PutUserPolicy", "UserName=u&PolicyName=third&PolicyDocument="+q(allowAllKMS)),
		"LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user u")

	// Roles allow 10240, groups 5120.
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trustAccount))
	f.iam(f.rootCaller, "PutRolePolicy", "RoleName=r&PolicyName=p&PolicyDocument="+q(big(10240-base)))
	wantErr(t, f.iamErr(f.rootCaller, "PutRolePolicy", "RoleName=r&PolicyName=p&PolicyDocument="+q(big(10241-base))),
		"LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role r")
	f.iam(f.rootCaller, "CreateGroup", "GroupName=g")
	f.iam(f.rootCaller, "PutGroupPolicy", "GroupName=g&PolicyName=p&PolicyDocument="+q(big(5120-base)))
	wantErr(t, f.iamErr(f.rootCaller, "PutGroupPolicy", "GroupName=g&PolicyName=p&PolicyDocument="+q(big(5121-base))),
		"LimitExceeded", "Maximum policy size of 5120 bytes exceeded for group g")
	if got := f.iam(f.rootCaller, "GetGroupPolicy", "GroupName=g&PolicyName=p").(*awsquery.GetGroupPolicyOutput); got.GroupName != "g" {
		t.Fatalf("GetGroupPolicy %+v", got)
	}
	if got := f.iam(f.rootCaller, "GetRolePolicy", "RoleName=R&PolicyName=p").(*awsquery.GetRolePolicyOutput); got.RoleName != "r" {
		t.Fatalf("GetRolePolicy %+v", got)
	}
	if n := len(f.iam(f.rootCaller, "ListRolePolicies", "RoleName=r").(*awsquery.ListPolicyNamesOutput).PolicyNames); n != 1 {
		t.Fatalf("ListRolePolicies: %d", n)
	}
	if n := len(f.iam(f.rootCaller, "ListGroupPolicies", "GroupName=g").(*awsquery.ListPolicyNamesOutput).PolicyNames); n != 1 {
		t.Fatalf("ListGroupPolicies: %d", n)
	}
	wantErr(t, f.iamErr(f.rootCaller, "DeleteRolePolicy", "RoleName=r&PolicyName=nope"), "NoSuchEntity", "The role policy with name nope cannot be found.")
	wantErr(t, f.iamErr(f.rootCaller, "DeleteGroupPolicy", "GroupName=g&PolicyName=nope"), "NoSuchEntity", "The group policy with name nope cannot be found.")
}

func policyDoc(action string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"*"}]}`
}

func TestManagedPolicies(t *testing.T) {
	f := newFixture(t)
	p := f.iam(f.rootCaller, "CreatePolicy", "PolicyName=Enc&Path=/team/&Description=encrypt&PolicyDocument="+q(policyDoc("kms:Encrypt"))).(*awsquery.PolicyOutput).Policy
	arn := "arn:aws:iam::" + testAccount + ":policy/team/Enc"
	if p.Arn != arn || !strings.HasPrefix(p.PolicyId, "ANPA") || p.DefaultVersionId != "v1" || !p.IsAttachable ||
		p.AttachmentCount == nil || *p.AttachmentCount != 0 || p.PermissionsBoundaryUsageCount == nil {
		t.Fatalf("created %+v", p)
	}
	wantErr(t, f.iamErr(f.rootCaller, "CreatePolicy", "PolicyName=enc&PolicyDocument="+q(policyDoc("kms:Encrypt"))),
		"EntityAlreadyExists", "A policy called enc already exists. Duplicate names are not allowed.")
	wantErr(t, f.iamErr(f.rootCaller, "CreatePolicy", "PolicyName=big&PolicyDocument="+
		q(`{"Version":"2012-10-17","Statement":[{"Sid":"`+strings.Repeat("a", 6144)+`","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)),
		"LimitExceeded", "Cannot exceed quota for PolicySize: 6144")
	wantErr(t, f.iamErr(f.rootCaller, "GetPolicy", "PolicyArn=arn:aws:iam::111122223333:policy/non-existent-policy"),
		"NoSuchEntity", "Policy arn:aws:iam::111122223333:policy/non-existent-policy was not found.")
	wantErr(t, f.iamErr(f.rootCaller, "DeletePolicy", "PolicyArn=arn:aws:iam::111122223333:policy/non-existent-policy"),
		"NoSuchEntity", "Policy arn:aws:iam::111122223333:policy/non-existent-policy was not found.")

	// Versions: at most 5; the default cannot be deleted.
	for i := 2; i <= 5; i++ {
		v := f.iam(f.rootCaller, "CreatePolicyVersion", "PolicyArn="+q(arn)+"&PolicyDocument="+q(policyDoc("kms:Decrypt"))).(*awsquery.PolicyVersionOutput).PolicyVersion
		if v.VersionId != "v"+strconv.Itoa(i) || v.IsDefaultVersion || v.Document != "" {
			t.Fatalf("version %+v", v)
		}
	}
	wantErr(t, f.iamErr(f.rootCaller, "CreatePolicyVersion", "PolicyArn="+q(arn)+"&PolicyDocument="+q(policyDoc("kms:Decrypt"))),
		"LimitExceeded", "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.")
	f.iam(f.rootCaller, "SetDefaultPolicyVersion", "PolicyArn="+q(arn)+"&VersionId=v3")
	v3 := f.iam(f.rootCaller, "GetPolicyVersion", "PolicyArn="+q(arn)+"&VersionId=v3").(*awsquery.PolicyVersionOutput).PolicyVersion
	if !v3.IsDefaultVersion || string(v3.Document) != policyDoc("kms:Decrypt") {
		t.Fatalf("v3 %+v", v3)
	}
	wantErr(t, f.iamErr(f.rootCaller, "DeletePolicyVersion", "PolicyArn="+q(arn)+"&VersionId=v3"),
		"DeleteConflict", "Cannot delete the default version of a policy.")
	wantErr(t, f.iamErr(f.rootCaller, "GetPolicyVersion", "PolicyArn="+q(arn)+"&VersionId=v9"),
		"NoSuchEntity", "Policy "+arn+" version v9 does not exist.")
	vs := f.iam(f.rootCaller, "ListPolicyVersions", "PolicyArn="+q(arn)+"&MaxItems=3").(*awsquery.ListPolicyVersionsOutput)
	if len(vs.Versions) != 3 || !vs.IsTruncated || vs.Versions[0].VersionId != "v5" {
		t.Fatalf("ListPolicyVersions %+v", vs)
	}
	wantErr(t, f.iamErr(f.rootCaller, "DeletePolicy", "PolicyArn="+q(arn)), "DeleteConflict",
		"This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")

	// Attached policies block deletion; ListEntitiesForPolicy finds them.
	f.iam(f.rootCaller, "CreateUser", "UserName=u")
	f.iam(f.rootCaller, "AttachUserPolicy", "UserName=u&PolicyArn="+q(arn))
	f.iam(f.rootCaller, "AttachUserPolicy", "UserName=u&PolicyArn="+q(arn)) // again: no change
	got := f.iam(f.rootCaller, "GetPolicy", "PolicyArn="+q(arn)).(*awsquery.PolicyOutput).Policy
	if *got.AttachmentCount != 1 || got.DefaultVersionId != "v3" || got.Description != "encrypt" {
		t.Fatalf("GetPolicy %+v", got)
	}
	for _, v := range []string{"v1", "v2", "v4", "v5"} {
		f.iam(f.rootCaller, "DeletePolicyVersion", "PolicyArn="+q(arn)+"&VersionId="+v)
	}
	wantErr(t, f.iamErr(f.rootCaller, "DeletePolicy", "PolicyArn="+q(arn)), "DeleteConflict", "Cannot delete a policy attached to entities.")
	ents := f.iam(f.rootCaller, "ListEntitiesForPolicy", "PolicyArn="+q(arn)).(*awsquery.ListEntitiesForPolicyOutput)
	if len(ents.PolicyUsers) != 1 || ents.PolicyUsers[0].UserName != "u" || len(ents.PolicyRoles) != 0 {
		t.Fatalf("ListEntitiesForPolicy %+v", ents)
	}
	att := f.iam(f.rootCaller, "ListAttachedUserPolicies", "UserName=u").(*awsquery.ListAttachedPoliciesOutput).AttachedPolicies
	if len(att) != 1 || att[0].PolicyName != "Enc" || att[0].PolicyArn != arn {
		t.Fatalf("ListAttachedUserPolicies %+v", att)
	}
	f.iam(f.rootCaller, "DetachUserPolicy", "UserName=u&PolicyArn="+q(arn))
	wantErr(t, f.iamErr(f.rootCaller, "DetachUserPolicy", "UserName=u&PolicyArn="+q(arn)), "NoSuchEntity", "Policy "+arn+" was not found.")
	f.iam(f.rootCaller, "DeletePolicy", "PolicyArn="+q(arn))

	// AWS-managed policies are listed, attachable, and nobody's to change.
	aws := f.iam(f.rootCaller, "ListPolicies", "Scope=AWS").(*awsquery.ListPoliciesOutput).Policies
	if len(aws) < 2 {
		t.Fatalf("AWS-managed policies: %+v", aws)
	}
	power := "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser"
	if pv := f.iam(f.rootCaller, "GetPolicyVersion", "PolicyArn="+q(power)+"&VersionId=v1").(*awsquery.PolicyVersionOutput); !strings.Contains(string(pv.PolicyVersion.Document), "kms:CreateKey") {
		t.Fatalf("power user document %s", pv.PolicyVersion.Document)
	}
	wantErrPrefix(t, f.iamErr(f.rootCaller, "CreatePolicyVersion", "PolicyArn="+q(power)+"&PolicyDocument="+q(allowAllKMS)),
		"AccessDenied", "User: arn:aws:iam::111122223333:root is not authorized to perform: iam:CreatePolicyVersion")
	wantErrPrefix(t, f.iamErr(f.rootCaller, "DeletePolicy", "PolicyArn="+q(power)), "AccessDenied", "User: ")
	if local := f.iam(f.rootCaller, "ListPolicies", "Scope=Local").(*awsquery.ListPoliciesOutput).Policies; len(local) != 0 {
		t.Fatalf("local policies %+v", local)
	}
}

func TestAttachments(t *testing.T) {
	f := newFixture(t)
	f.iam(f.rootCaller, "CreateUser", "UserName=u")
	for _, tc := range []struct{ arn, code, message string }{
		// Recorded from AWS, both: a policy name where an ARN belongs, and
		// an ARN of no policy.
		{"policy-0b9a4f2c", "ValidationError", "Invalid ARN:  Could not be parsed!"},
		{"arn:aws:iam::111122223333:policy/nope", "NoSuchEntity", "Policy arn:aws:iam::111122223333:policy/nope does not exist or is not attachable."},
	} {
		wantErr(t, f.iamErr(f.rootCaller, "AttachUserPolicy", "UserName=u&PolicyArn="+url.QueryEscape(tc.arn)), tc.code, tc.message)
	}
	wantErr(t, f.iamErr(f.rootCaller, "AttachUserPolicy", "UserName=ghost&PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess"),
		"NoSuchEntity", "The user with name ghost cannot be found.")

	// Ten attached policies at most, for users, groups and roles alike.
	f.iam(f.rootCaller, "CreateGroup", "GroupName=g")
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trustAccount))
	for i := 1; i <= 11; i++ {
		name := "p" + strconv.Itoa(i)
		arn := q("arn:aws:iam::" + testAccount + ":policy/" + name)
		f.iam(f.rootCaller, "CreatePolicy", "PolicyName="+name+"&PolicyDocument="+q(policyDoc("kms:Encrypt")))
		if i <= 10 {
			f.iam(f.rootCaller, "AttachUserPolicy", "UserName=u&PolicyArn="+arn)
			f.iam(f.rootCaller, "AttachGroupPolicy", "GroupName=g&PolicyArn="+arn)
			f.iam(f.rootCaller, "AttachRolePolicy", "RoleName=r&PolicyArn="+arn)
			continue
		}
		wantErr(t, f.iamErr(f.rootCaller, "AttachUserPolicy", "UserName=u&PolicyArn="+arn), "LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10")
		wantErr(t, f.iamErr(f.rootCaller, "AttachGroupPolicy", "GroupName=g&PolicyArn="+arn), "LimitExceeded", "Cannot exceed quota for PoliciesPerGroup: 10")
		wantErr(t, f.iamErr(f.rootCaller, "AttachRolePolicy", "RoleName=r&PolicyArn="+arn), "LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10")
	}
	page := f.iam(f.rootCaller, "ListAttachedGroupPolicies", "GroupName=g&MaxItems=4").(*awsquery.ListAttachedPoliciesOutput)
	if len(page.AttachedPolicies) != 4 || !page.IsTruncated {
		t.Fatalf("ListAttachedGroupPolicies %+v", page)
	}
	if n := len(f.iam(f.rootCaller, "ListAttachedRolePolicies", "RoleName=r").(*awsquery.ListAttachedPoliciesOutput).AttachedPolicies); n != 10 {
		t.Fatalf("ListAttachedRolePolicies: %d", n)
	}
	ents := f.iam(f.rootCaller, "ListEntitiesForPolicy", "PolicyArn="+q("arn:aws:iam::"+testAccount+":policy/p1")).(*awsquery.ListEntitiesForPolicyOutput)
	if len(ents.PolicyUsers) != 1 || len(ents.PolicyGroups) != 1 || len(ents.PolicyRoles) != 1 {
		t.Fatalf("ListEntitiesForPolicy %+v", ents)
	}
	ents = f.iam(f.rootCaller, "ListEntitiesForPolicy", "EntityFilter=Role&PolicyArn="+q("arn:aws:iam::"+testAccount+":policy/p1")).(*awsquery.ListEntitiesForPolicyOutput)
	if len(ents.PolicyUsers) != 0 || len(ents.PolicyRoles) != 1 {
		t.Fatalf("ListEntitiesForPolicy roles %+v", ents)
	}
}

func TestPermissionsBoundaries(t *testing.T) {
	f := newFixture(t)
	f.iam(f.rootCaller, "CreatePolicy", "PolicyName=bound&PolicyDocument="+q(policyDoc("kms:*")))
	arn := "arn:aws:iam::" + testAccount + ":policy/bound"
	u := f.iam(f.rootCaller, "CreateUser", "UserName=u&PermissionsBoundary="+q(arn)).(*awsquery.UserOutput).User
	if u.PermissionsBoundary == nil || u.PermissionsBoundary.PermissionsBoundaryArn != arn ||
		u.PermissionsBoundary.PermissionsBoundaryType != "Policy" {
		t.Fatalf("boundary %+v", u.PermissionsBoundary)
	}
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trustAccount))
	f.iam(f.rootCaller, "PutRolePermissionsBoundary", "RoleName=r&PermissionsBoundary="+q(arn))
	if b := f.iam(f.rootCaller, "GetRole", "RoleName=r").(*awsquery.RoleOutput).Role.PermissionsBoundary; b == nil || b.PermissionsBoundaryArn != arn {
		t.Fatalf("role boundary %+v", b)
	}
	ents := f.iam(f.rootCaller, "ListEntitiesForPolicy", "PolicyUsageFilter=PermissionsBoundary&PolicyArn="+q(arn)).(*awsquery.ListEntitiesForPolicyOutput)
	if len(ents.PolicyUsers) != 1 || len(ents.PolicyRoles) != 1 {
		t.Fatalf("bounded entities %+v", ents)
	}
	wantErr(t, f.iamErr(f.rootCaller, "PutUserPermissionsBoundary", "UserName=u&PermissionsBoundary="+q("arn:aws:iam::111122223333:policy/none")),
		"NoSuchEntity", "Scope ARN: arn:aws:iam::111122223333:policy/none does not exist or is not attachable.")
	f.iam(f.rootCaller, "DeleteUserPermissionsBoundary", "UserName=u")
	f.iam(f.rootCaller, "DeleteRolePermissionsBoundary", "RoleName=r")
	if b := f.iam(f.rootCaller, "GetUser", "UserName=u").(*awsquery.UserOutput).User.PermissionsBoundary; b != nil {
		t.Fatalf("boundary not deleted: %+v", b)
	}
}
