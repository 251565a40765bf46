package iam

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
)

// trust returns a trust policy allowing actions to the principal, with an
// optional condition (JSON) on the statement.
func trust(principal, actions, condition string) string {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":` + actions
	if condition != "" {
		doc += `,"Condition":` + condition
	}
	return doc + `}]}`
}

// assume runs AssumeRole and resolves the credentials it returns.
func (f *fixture) assume(caller *identity.Caller, params string) (*awsquery.AssumeRoleOutput, *identity.Caller) {
	f.t.Helper()
	out := f.sts(caller, "AssumeRole", params).(*awsquery.AssumeRoleOutput)
	return out, f.resolve(out.Credentials.AccessKeyId, out.Credentials.SessionToken)
}

func TestGetCallerIdentity(t *testing.T) {
	f := newFixture(t)
	bob, _ := f.userWithKey("bob")
	for _, tc := range []struct {
		caller               *identity.Caller
		userID, account, arn string
	}{
		{f.rootCaller, testAccount, testAccount, "arn:aws:iam::" + testAccount + ":root"},
		{bob, bob.Principal.UserID, testAccount, "arn:aws:iam::" + testAccount + ":user/bob"},
	} {
		out := f.sts(tc.caller, "GetCallerIdentity", "").(*awsquery.GetCallerIdentityOutput)
		if out.UserId != tc.userID || out.Account != tc.account || out.Arn != tc.arn {
			t.Fatalf("got %+v", out)
		}
	}
}

func TestAssumeRole(t *testing.T) {
	f := newFixture(t)
	dev, _ := f.userWithKey("dev")
	other, _ := f.userWithKey("other")
	devARN := dev.Principal.ARN
	f.iam(f.rootCaller, "CreateRole", "RoleName=reader&Path=/app/&AssumeRolePolicyDocument="+
		q(trust(devARN, `"sts:AssumeRole"`, `{"StringEquals":{"sts:ExternalId":"ext-123"}}`))+
		"&Tags.member.1.Key=team&Tags.member.1.Value=platform&Tags.member.2.Key=env&Tags.member.2.Value=prod")
	roleARN := "arn:aws:iam::" + testAccount + ":role/app/reader"
	role := f.iam(f.rootCaller, "GetRole", "RoleName=reader").(*awsquery.RoleOutput).Role

	out, sess := f.assume(dev, "RoleArn="+q(roleARN)+"&RoleSessionName=s1&ExternalId=ext-123")
	c := out.Credentials
	if !strings.HasPrefix(c.AccessKeyId, "ASIA") || len(c.AccessKeyId) != 20 || len(c.SecretAccessKey) != 40 || c.SessionToken == "" {
		t.Fatalf("credentials %+v", c)
	}
	if want := f.clock.Now().Add(time.Hour); !c.Expiration.Equal(want) {
		t.Fatalf("expiration %v, want %v", c.Expiration, want)
	}
	wantARN := "arn:aws:sts::" + testAccount + ":assumed-role/reader/s1"
	if out.AssumedRoleUser.Arn != wantARN || out.AssumedRoleUser.AssumedRoleId != role.RoleId+":s1" {
		t.Fatalf("assumed role user %+v", out.AssumedRoleUser)
	}
	if out.PackedPolicySize != nil || out.SessionTokenSize != nil {
		t.Fatal("packed size reported without session policies or tags")
	}
	p := sess.Principal
	if p.Type != policy.PrincipalAssumedRole || p.ARN != wantARN || p.RoleARN != roleARN || p.UserID != role.RoleId+":s1" || p.Account != testAccount {
		t.Fatalf("session principal %+v", p)
	}
	if sess.Session == nil || sess.Session.Name != "s1" || sess.Session.RoleARN != roleARN || sess.AccessKeyID != c.AccessKeyId {
		t.Fatalf("session %+v", sess.Session)
	}
	if v, _ := sess.Tag("TEAM"); v != "platform" {
		t.Fatalf("role tags not principal tags: %+v", sess.Tags)
	}
	id := f.sts(sess, "GetCallerIdentity", "").(*awsquery.GetCallerIdentityOutput)
	if id.Arn != wantARN || id.UserId != role.RoleId+":s1" {
		t.Fatalf("GetCallerIdentity of a session %+v", id)
	}

	denied := "User: %s is not authorized to perform: sts:AssumeRole on resource: %s"
	for _, tc := range []struct {
		name    string
		caller  *identity.Caller
		params  string
		code    string
		message string
	}{
		{"wrong external id", dev, "RoleArn=" + q(roleARN) + "&RoleSessionName=sx&ExternalId=nope", "AccessDenied", fmt.Sprintf(denied, devARN, roleARN)},
		{"no external id", dev, "RoleArn=" + q(roleARN) + "&RoleSessionName=sx", "AccessDenied", fmt.Sprintf(denied, devARN, roleARN)},
		{"not trusted", other, "RoleArn=" + q(roleARN) + "&RoleSessionName=sx&ExternalId=ext-123", "AccessDenied", fmt.Sprintf(denied, other.Principal.ARN, roleARN)},
		{"no such role", dev, "RoleArn=" + q("arn:aws:iam::"+testAccount+":role/ghost") + "&RoleSessionName=sx", "AccessDenied",
			fmt.Sprintf(denied, devARN, "arn:aws:iam::"+testAccount+":role/ghost")},
		{"path differs", dev, "RoleArn=" + q("arn:aws:iam::"+testAccount+":role/reader") + "&RoleSessionName=sx&ExternalId=ext-123", "AccessDenied",
			fmt.Sprintf(denied, devARN, "arn:aws:iam::"+testAccount+":role/reader")},
		{"root", f.rootCaller, "RoleArn=" + q(roleARN) + "&RoleSessionName=sx", "AccessDenied", "Roles may not be assumed by root accounts."},
		// Recorded from AWS.
		{"malformed arn", dev, "RoleArn=nothing-valid-in-here&RoleSessionName=sx", "ValidationError", "nothing-valid-in-here is invalid"},
		{"no resource", dev, "RoleArn=" + q("arn:a:a::aaaaaaaaaa:") + "&RoleSessionName=sx", "ValidationError", "arn:a:a::aaaaaaaaaa: is invalid"},
		{"session name", dev, "RoleArn=" + q(roleARN) + "&RoleSessionName=Session1:2", "ValidationError",
			`1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{"short duration", dev, "RoleArn=" + q(roleARN) + "&RoleSessionName=sx&DurationSeconds=899", "ValidationError",
			"1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{"over max session", dev, "RoleArn=" + q(roleARN) + "&RoleSessionName=sx&ExternalId=ext-123&DurationSeconds=3601", "ValidationError",
			"The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{"mfa", dev, "RoleArn=" + q(roleARN) + "&RoleSessionName=sx&SerialNumber=arn:aws:iam::111122223333:mfa/dev&TokenCode=123456", "AccessDenied",
			"MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f.stsErr(tc.caller, "AssumeRole", tc.params), tc.code, tc.message)
		})
	}

	// A longer session within the role's maximum.
	f.iam(f.rootCaller, "CreateRole", "RoleName=long&MaxSessionDuration=43200&AssumeRolePolicyDocument="+q(trust(testAccount, `"sts:AssumeRole"`, "")))
	out, _ = f.assume(dev, "RoleArn="+q("arn:aws:iam::"+testAccount+":role/long")+"&RoleSessionName=sx&DurationSeconds=43200")
	if want := f.clock.Now().Add(12 * time.Hour); !out.Credentials.Expiration.Equal(want) {
		t.Fatalf("expiration %v, want %v", out.Credentials.Expiration, want)
	}
}

func TestAssumeRoleSessionTags(t *testing.T) {
	f := newFixture(t)
	dev, _ := f.userWithKey("dev")
	f.iam(f.rootCaller, "CreateRole", "RoleName=plain&AssumeRolePolicyDocument="+q(trust(testAccount, `"sts:AssumeRole"`, ""))+
		"&Tags.member.1.Key=team&Tags.member.1.Value=role")
	f.iam(f.rootCaller, "CreateRole", "RoleName=tagged&AssumeRolePolicyDocument="+q(trust(testAccount, `["sts:AssumeRole","sts:TagSession"]`,
		`{"StringEquals":{"aws:RequestTag/project":"kms"}}`))+"&Tags.member.1.Key=team&Tags.member.1.Value=role")
	plain := q("arn:aws:iam::" + testAccount + ":role/plain")
	tagged := q("arn:aws:iam::" + testAccount + ":role/tagged")
	tags := "&Tags.member.1.Key=project&Tags.member.1.Value=kms&Tags.member.2.Key=Team&Tags.member.2.Value=session"

	// Tagging a session needs sts:TagSession in the trust policy.
	wantErrPrefix(t, f.stsErr(dev, "AssumeRole", "RoleArn="+plain+"&RoleSessionName=sx"+tags), "AccessDenied", "User: ")
	// The trust policy's condition on the tags.
	wantErrPrefix(t, f.stsErr(dev, "AssumeRole", "RoleArn="+tagged+"&RoleSessionName=sx&Tags.member.1.Key=project&Tags.member.1.Value=x"), "AccessDenied", "User: ")

	out, sess := f.assume(dev, "RoleArn="+tagged+"&RoleSessionName=sx"+tags+"&TransitiveTagKeys.member.1=project")
	if out.PackedPolicySize == nil || *out.PackedPolicySize <= 0 || out.SessionTokenSize == nil || *out.SessionTokenSize != int32(len(out.Credentials.SessionToken)) {
		t.Fatalf("packed size %v, token size %v", out.PackedPolicySize, out.SessionTokenSize)
	}
	// Session tags win over the role's tag of the same key, in any case.
	if v, _ := sess.Tag("team"); v != "session" {
		t.Fatalf("team = %q; tags %+v", v, sess.Tags)
	}
	if v, _ := sess.Tag("project"); v != "kms" {
		t.Fatalf("project = %q", v)
	}
	if keys := sess.Session.TransitiveTagKeys; len(keys) != 1 || keys[0] != "project" {
		t.Fatalf("transitive %v", keys)
	}

	// Role chaining carries transitive tags on, and they cannot be reset.
	_, chained := f.assume(sess, "RoleArn="+tagged+"&RoleSessionName=s2")
	if v, _ := chained.Tag("project"); v != "kms" {
		t.Fatalf("chained session lost its transitive tag: %+v", chained.Tags)
	}
	if v, _ := chained.Tag("team"); v != "role" {
		t.Fatalf("non-transitive tag carried on: %+v", chained.Tags)
	}
	wantErr(t, f.stsErr(sess, "AssumeRole", "RoleArn="+tagged+"&RoleSessionName=s3x&Tags.member.1.Key=PROJECT&Tags.member.1.Value=kms"),
		"InvalidParameterValue", "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.")
	wantErr(t, f.stsErr(sess, "AssumeRole", "RoleArn="+tagged+"&RoleSessionName=s3x&DurationSeconds=3601"),
		"ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")

	// Recorded from AWS.
	wantErr(t, f.stsErr(dev, "AssumeRole", "RoleArn="+tagged+"&RoleSessionName=sx"+tags+"&TransitiveTagKeys.member.1=other"),
		"InvalidParameterValue", "The specified transitive tag key must be included in the requested tags.")
	wantErr(t, f.stsErr(dev, "AssumeRole", "RoleArn="+tagged+"&RoleSessionName=sx&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=A&Tags.member.2.Value=2"),
		"InvalidParameterValue", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
	// A transitive key is a tag key: the model holds it to 1–128 characters.
	wantErr(t, f.stsErr(dev, "AssumeRole", "RoleArn="+tagged+"&RoleSessionName=sx&TransitiveTagKeys.member.1="+strings.Repeat("k", 129)),
		"ValidationError", "1 validation error detected: Value '"+strings.Repeat("k", 129)+"' at 'transitiveTagKeys.1.member' failed to satisfy constraint: Member must have length less than or equal to 128")
}

func TestAssumeRoleSessionPolicies(t *testing.T) {
	f := newFixture(t)
	dev, _ := f.userWithKey("dev")
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trust(testAccount, `"sts:AssumeRole"`, "")))
	f.iam(f.rootCaller, "PutRolePolicy", "RoleName=r&PolicyName=all&PolicyDocument="+q(allowAllKMS))
	f.iam(f.rootCaller, "CreatePolicy", "PolicyName=decrypt&PolicyDocument="+q(policyDoc("kms:Decrypt")))
	role := q("arn:aws:iam::" + testAccount + ":role/r")
	decrypt := "arn:aws:iam::" + testAccount + ":policy/decrypt"

	out, sess := f.assume(dev, "RoleArn="+role+"&RoleSessionName=sx&Policy="+q(policyDoc("kms:Encrypt"))+"&PolicyArns.member.1.arn="+q(decrypt))
	if out.PackedPolicySize == nil {
		t.Fatal("no packed size with session policies")
	}
	if sess.Session.Policy != policyDoc("kms:Encrypt") || len(sess.Session.PolicyARNs) != 1 || sess.Session.PolicyARNs[0] != decrypt {
		t.Fatalf("session %+v", sess.Session)
	}
	pp, err := f.s.PrincipalPolicies(context.Background(), sess)
	if err != nil {
		t.Fatal(err)
	}
	if len(pp.Identity) != 1 || len(pp.Session) != 2 {
		t.Fatalf("policies: %d identity, %d session", len(pp.Identity), len(pp.Session))
	}
	pols := pp.Policies()
	for _, tc := range []struct {
		action string
		allow  bool
	}{{"kms:Encrypt", true}, {"kms:Decrypt", true}, {"kms:Sign", false}} {
		req := policy.Request{Principal: sess.Principal, Action: tc.action, Resource: "*"}
		if d := policy.DecideIdentity(&pols, &req); d.Allowed != tc.allow {
			t.Errorf("%s: %+v", tc.action, d)
		}
	}

	wantErr(t, f.stsErr(dev, "AssumeRole", "RoleArn="+role+"&RoleSessionName=sx&Policy="+q(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`)),
		"MalformedPolicyDocument", "Policy document should not specify a principal.")
	wantErr(t, f.stsErr(dev, "AssumeRole", "RoleArn="+role+"&RoleSessionName=sx&PolicyArns.member.1.arn="+q("arn:aws:iam::111122223333:policy/ghost")),
		"InvalidParameterValue", "The policy arn:aws:iam::111122223333:policy/ghost does not exist or is not attachable.")
	var many strings.Builder
	for i := 1; i <= 11; i++ {
		many.WriteString("&PolicyArns.member." + strconv.Itoa(i) + ".arn=" + q(decrypt))
	}
	wantErr(t, f.stsErr(dev, "AssumeRole", "RoleArn="+role+"&RoleSessionName=sx"+many.String()),
		"ValidationError", "1 validation error detected: Value '11' at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10")

	// Tags that fill more than the packed budget.
	var tags strings.Builder
	for i := 1; i <= 20; i++ {
		tags.WriteString("&Tags.member." + strconv.Itoa(i) + ".Key=k" + strconv.Itoa(i) + "&Tags.member." + strconv.Itoa(i) + ".Value=" + strings.Repeat("v", 256))
	}
	f.iam(f.rootCaller, "UpdateAssumeRolePolicy", "RoleName=r&PolicyDocument="+q(trust(testAccount, `["sts:AssumeRole","sts:TagSession"]`, "")))
	wantErrPrefix(t, f.stsErr(dev, "AssumeRole", "RoleArn="+role+"&RoleSessionName=sx"+tags.String()), "PackedPolicyTooLarge", "Packed policy consumes 1")
}

func TestGetSessionToken(t *testing.T) {
	f := newFixture(t)
	bob, _ := f.userWithKey("bob")
	out := f.sts(bob, "GetSessionToken", "").(*awsquery.GetSessionTokenOutput)
	if want := f.clock.Now().Add(12 * time.Hour); !out.Credentials.Expiration.Equal(want) {
		t.Fatalf("default expiration %v, want %v", out.Credentials.Expiration, want)
	}
	sess := f.resolve(out.Credentials.AccessKeyId, out.Credentials.SessionToken)
	if sess.Principal != bob.Principal || sess.Session == nil || sess.Session.RoleARN != "" {
		t.Fatalf("session of bob: %+v %+v", sess.Principal, sess.Session)
	}
	if id := f.sts(sess, "GetCallerIdentity", "").(*awsquery.GetCallerIdentityOutput); id.Arn != bob.Principal.ARN {
		t.Fatalf("GetCallerIdentity %+v", id)
	}
	wantErr(t, f.stsErr(sess, "GetSessionToken", ""), "AccessDenied", "Cannot call GetSessionToken with session credentials")
	wantErr(t, f.stsErr(bob, "GetSessionToken", "DurationSeconds=129601"), "ValidationError",
		"1 validation error detected: Value '129601' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600")

	// The root's sessions last an hour at most.
	out = f.sts(f.rootCaller, "GetSessionToken", "DurationSeconds=7200").(*awsquery.GetSessionTokenOutput)
	if want := f.clock.Now().Add(time.Hour); !out.Credentials.Expiration.Equal(want) {
		t.Fatalf("root expiration %v, want %v", out.Credentials.Expiration, want)
	}
	root := f.resolve(out.Credentials.AccessKeyId, out.Credentials.SessionToken)
	if !root.IsRoot() || root.Session == nil {
		t.Fatalf("root session %+v", root)
	}

	// A user's session ends with the user.
	f.iam(f.rootCaller, "DeleteAccessKey", "UserName=bob&AccessKeyId="+bob.AccessKeyID)
	tok := f.sts(bob, "GetSessionToken", "").(*awsquery.GetSessionTokenOutput).Credentials
	f.iam(f.rootCaller, "DeleteUser", "UserName=bob")
	if _, _, err := f.s.Resolve(context.Background(), tok.AccessKeyId, tok.SessionToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("session of a deleted user: %v", err)
	}
}

func TestGetAccessKeyInfo(t *testing.T) {
	f := newFixture(t)
	bob, key := f.userWithKey("bob")
	tok := f.sts(bob, "GetSessionToken", "").(*awsquery.GetSessionTokenOutput).Credentials
	other := newAccessKeyID(prefixLongTerm, "999988887777")
	for _, tc := range []struct{ id, account string }{
		{key, testAccount},
		{f.rootKeyID, testAccount},
		{tok.AccessKeyId, testAccount},
		{other, "999988887777"},
	} {
		if got := f.sts(bob, "GetAccessKeyInfo", "AccessKeyId="+tc.id).(*awsquery.GetAccessKeyInfoOutput).Account; got != tc.account {
			t.Errorf("%s: account %s, want %s", tc.id, got, tc.account)
		}
	}
	wantErr(t, f.stsErr(bob, "GetAccessKeyInfo", "AccessKeyId=short"), "ValidationError",
		"1 validation error detected: Value 'short' at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16")
}

// A role of another account of this Trent, whose trust policy names the
// caller's account: the trust policy is the resource half of the decision
// (the identity half is the authorization layer's), and the session
// belongs to the role's account.
func TestAssumeRoleCrossAccount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dev, _ := f.userWithKey("dev")
	other, id, _, err := f.s.CreateAccount(ctx, "444455556666")
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := f.resolve(id, "")
	f.iam(otherRoot, "CreateRole", "RoleName=shared&AssumeRolePolicyDocument="+q(trust("arn:aws:iam::"+testAccount+":root", `"sts:AssumeRole"`, "")))
	f.iam(otherRoot, "PutRolePolicy", "RoleName=shared&PolicyName=p&PolicyDocument="+q(allowAllKMS))
	out, sess := f.assume(dev, "RoleArn="+q("arn:aws:iam::"+other+":role/shared")+"&RoleSessionName=xacct")
	if sess.Principal.Account != other || out.AssumedRoleUser.Arn != "arn:aws:sts::"+other+":assumed-role/shared/xacct" {
		t.Fatalf("cross-account session %+v", sess.Principal)
	}
	pp, err := f.s.PrincipalPolicies(ctx, sess)
	if err != nil || len(pp.Identity) != 1 {
		t.Fatalf("policies of the session: %v %+v", err, pp)
	}
	// A role that trusts only its own account keeps the other out.
	f.iam(otherRoot, "CreateRole", "RoleName=private&AssumeRolePolicyDocument="+q(trust(other, `"sts:AssumeRole"`, "")))
	wantErrPrefix(t, f.stsErr(dev, "AssumeRole", "RoleArn="+q("arn:aws:iam::"+other+":role/private")+"&RoleSessionName=xacct"), "AccessDenied", "User: ")
}
