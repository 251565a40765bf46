package kms

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
)

// fakeIdentities is the test's Identities: fixed compiled policies per
// principal ARN and a set of principals that exist. The real one, over
// IAM's users, groups and roles, is the IAM side's.
type fakeIdentities struct {
	mu       sync.RWMutex
	policies map[string]*policy.Policies
	exists   map[string]bool
}

var _ Identities = (*fakeIdentities)(nil)

func (f *fakeIdentities) PrincipalPolicies(_ context.Context, c *identity.Caller) (*policy.Policies, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.policies[c.Principal.ARN], nil
}

func (f *fakeIdentities) PrincipalExists(_ context.Context, arn string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.exists[arn]
}

// set gives principal arn these identity-based policies (none clears them).
func (f *fakeIdentities) set(t testing.TB, arn string, docs ...string) {
	t.Helper()
	ps := &policy.Policies{}
	for _, d := range docs {
		ps.Identity = append(ps.Identity, compileIdentityPolicy(t, d))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies[arn] = ps
}

func compileIdentityPolicy(t testing.TB, doc string) *policy.Compiled {
	t.Helper()
	d, err := policy.ParseIdentity(doc)
	if err != nil {
		t.Fatalf("identity policy %s: %v", doc, err)
	}
	c, err := policy.Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const otherAccount = "444455556666"

var (
	aliceARN  = "arn:aws:iam::" + testAccount + ":user/alice"
	bobARN    = "arn:aws:iam::" + testAccount + ":user/bob"
	appRole   = "arn:aws:iam::" + testAccount + ":role/app"
	carolARN  = "arn:aws:iam::" + otherAccount + ":user/carol"
	rootARN   = "arn:aws:iam::" + testAccount + ":root"
	otherRoot = "arn:aws:iam::" + otherAccount + ":root"
)

// userOf is the request of IAM user name of account in the test region.
func userOf(account, name string) *Request {
	return &Request{
		Caller: &identity.Caller{Principal: policy.Principal{
			ARN: "arn:aws:iam::" + account + ":user/" + name, Account: account, Type: policy.PrincipalIAMUser,
			UserID: "AIDA" + strings.ToUpper(name), Username: name,
		}},
		Region: testRegion, SourceIP: "192.0.2.1", SecureTransport: true,
	}
}

// sessionOf is a session of role in account.
func sessionOf(account, role, session string) *Request {
	return &Request{
		Caller: &identity.Caller{Principal: policy.Principal{
			ARN: "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session, Account: account,
			Type: policy.PrincipalAssumedRole, UserID: "AROA" + strings.ToUpper(role) + ":" + session,
			RoleARN: "arn:aws:iam::" + account + ":role/" + role,
		}},
		Region: testRegion, SourceIP: "192.0.2.1", SecureTransport: true,
	}
}

var (
	alice   = userOf(testAccount, "alice")
	bob     = userOf(testAccount, "bob")
	root    = rootOf(testAccount, testRegion)
	appSess = sessionOf(testAccount, "app", "job-1")
)

// newAuthzNode is a test node whose Service has fakeIdentities, knowing
// the principals the tests name.
func newAuthzNode(t testing.TB) (*testNode, *fakeIdentities) {
	t.Helper()
	base := newTestNode(t)
	ids := &fakeIdentities{policies: map[string]*policy.Policies{}, exists: map[string]bool{}}
	for _, p := range []string{rootARN, otherRoot, aliceARN, bobARN, appRole, carolARN} {
		ids.exists[p] = true
	}
	s, err := New(Config{Store: base.db, Root: base.root, Identities: ids, Clock: base.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{Service: s, db: base.db, root: base.root, clock: base.clock}, ids
}

// keyPolicy builds a key policy of the given statements.
func keyPolicy(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// allowStmt allows principal (JSON) the actions (JSON) with an optional
// condition (JSON, "" for none).
func allowStmt(principal, actions, cond string) string {
	return stmt("Allow", principal, actions, cond)
}

func stmt(effect, principal, actions, cond string) string {
	s := `{"Effect":"` + effect + `","Principal":` + principal + `,"Action":` + actions + `,"Resource":"*"`
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return s + "}"
}

// iamPolicy is an identity policy of one statement.
func iamPolicy(effect, actions, resource, cond string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Effect":"` + effect + `","Action":` + actions + `,"Resource":"` + resource + `"`
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return s + "}]}"
}

var rootStmt = allowStmt(`{"AWS":"`+rootARN+`"}`, `"kms:*"`, "")

// makeKey creates a key as the account root with the given policy ("" for
// the default), bypassing the lockout check so any policy can be set up.
func (n *testNode) makeKey(t testing.TB, policyDoc string, tags ...awsproto.Tag) *awsproto.KeyMetadata {
	t.Helper()
	in := &awsproto.CreateKeyInput{Tags: tags, BypassPolicyLockoutSafetyCheck: true}
	if policyDoc != "" {
		in.Policy = &policyDoc
	}
	out, err := n.run(t.Context(), "CreateKey", in)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.(*awsproto.KeyMetadataOutput).KeyMetadata
}

func (n *testNode) encryptAs(t *testing.T, r *Request, keyID string, ec map[string]string) ([]byte, error) {
	t.Helper()
	out, err := n.as(t.Context(), r, "Encrypt", &awsproto.EncryptInput{KeyId: &keyID, Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	return out.(*awsproto.EncryptOutput).CiphertextBlob, nil
}

func tag(k, v string) awsproto.Tag { return awsproto.Tag{TagKey: &k, TagValue: &v} }

// wantErr checks err: code "" means success; msg, if set, must be the
// whole message, with {key} standing for the key ARN.
func wantErr(t *testing.T, err error, code, msg, keyARN string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		return
	}
	e := apierr.As(err)
	if err == nil || e.Code != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	if msg = strings.ReplaceAll(msg, "{key}", keyARN); msg != "" && e.Message != msg {
		t.Fatalf("message\n got %q\nwant %q", e.Message, msg)
	}
}

func denied(who, action, reason string) string {
	return "User: " + who + " is not authorized to perform: " + action + " on resource: {key} " + reason
}

func noIdentity(action string) string {
	return "because no identity-based policy allows the " + action + " action"
}

func noResource(action string) string {
	return "because no resource-based policy allows the " + action + " action"
}

const (
	explicitResource = "with an explicit deny in a resource-based policy"
	explicitIdentity = "with an explicit deny in an identity-based policy"
)

// TestAuthorizeKeyRows decides requests on a key: each case makes a key
// with a policy (and tags, and an alias), gives the caller identity-based
// policies, sends one request and states AWS's answer.
func TestAuthorizeKeyRows(t *testing.T) {
	n, ids := newAuthzNode(t)
	allowAlice := func(actions, cond string) string {
		return keyPolicy(rootStmt, allowStmt(`{"AWS":"`+aliceARN+`"}`, actions, cond))
	}
	encrypt := func(ec map[string]string) func(string, string) (string, any) {
		return func(id, _ string) (string, any) {
			return "Encrypt", &awsproto.EncryptInput{KeyId: &id, Plaintext: []byte("x"), EncryptionContext: ec}
		}
	}
	viaAlias := func(id, alias string) (string, any) {
		return "Encrypt", &awsproto.EncryptInput{KeyId: &alias, Plaintext: []byte("x")}
	}
	describe := func(id, _ string) (string, any) { return "DescribeKey", &awsproto.DescribeKeyInput{KeyId: &id} }
	enable := func(id, _ string) (string, any) { return "EnableKey", &awsproto.KeyIdInput{KeyId: &id} }
	withAlg := func(alg string) func(string, string) (string, any) {
		return func(id, _ string) (string, any) {
			return "Encrypt", &awsproto.EncryptInput{KeyId: &id, Plaintext: []byte("x"), EncryptionAlgorithm: &alg}
		}
	}
	tests := []struct {
		name   string
		policy string // "" for the default key policy
		tags   []awsproto.Tag
		alias  string // an alias of the key, made before the request
		caller *Request
		iam    []string
		req    func(keyID, alias string) (string, any)
		code   string
		msg    string
	}{
		{name: "root, default policy", caller: root, req: encrypt(nil)},
		{name: "user, default policy, no IAM policy", caller: alice, req: encrypt(nil),
			code: apierr.AccessDenied, msg: denied(aliceARN, "kms:Encrypt", noIdentity("kms:Encrypt"))},
		{name: "user, default policy, IAM allows", caller: alice, iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", "")}, req: encrypt(nil)},
		{name: "user, IAM allows another action", caller: alice, iam: []string{iamPolicy("Allow", `"kms:Decrypt"`, "*", "")}, req: encrypt(nil),
			code: apierr.AccessDenied, msg: denied(aliceARN, "kms:Encrypt", noIdentity("kms:Encrypt"))},
		{name: "root locked out by a policy without the account", policy: keyPolicy(allowStmt(`{"AWS":"`+aliceARN+`"}`, `"kms:*"`, "")), caller: root, req: encrypt(nil),
			code: apierr.AccessDenied, msg: denied(rootARN, "kms:Encrypt", noResource("kms:Encrypt"))},
		{name: "IAM policy useless without the account statement", policy: keyPolicy(allowStmt(`{"AWS":"`+bobARN+`"}`, `"kms:*"`, "")), caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:*"`, "*", "")}, req: encrypt(nil),
			code: apierr.AccessDenied, msg: denied(aliceARN, "kms:Encrypt", noResource("kms:Encrypt"))},
		{name: "key policy names the user", policy: allowAlice(`"kms:Encrypt"`, ""), caller: alice, req: encrypt(nil)},
		{name: "key policy names the role, session uses it", policy: keyPolicy(rootStmt, allowStmt(`{"AWS":"`+appRole+`"}`, `"kms:Encrypt"`, "")), caller: appSess, req: encrypt(nil)},
		{name: "explicit deny in the key policy wins over IAM", policy: keyPolicy(rootStmt, stmt("Deny", `"*"`, `"kms:Encrypt"`, "")), caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:*"`, "*", "")}, req: encrypt(nil),
			code: apierr.AccessDenied, msg: denied(aliceARN, "kms:Encrypt", explicitResource)},
		{name: "explicit deny in the key policy binds the root too", policy: keyPolicy(rootStmt, stmt("Deny", `"*"`, `"kms:Encrypt"`, "")), caller: root, req: encrypt(nil),
			code: apierr.AccessDenied, msg: denied(rootARN, "kms:Encrypt", explicitResource)},
		{name: "explicit deny in IAM wins over the key policy", policy: allowAlice(`"kms:*"`, ""), caller: alice,
			iam: []string{iamPolicy("Deny", `"kms:Encrypt"`, "*", "")}, req: encrypt(nil),
			code: apierr.AccessDenied, msg: denied(aliceARN, "kms:Encrypt", explicitIdentity)},
		{name: "encryption context condition met", policy: allowAlice(`"kms:Encrypt"`, `{"StringEquals":{"kms:EncryptionContext:dept":"IT"}}`), caller: alice,
			req: encrypt(map[string]string{"dept": "IT"})},
		{name: "encryption context key is case-insensitive", policy: allowAlice(`"kms:Encrypt"`, `{"StringEquals":{"kms:EncryptionContext:dept":"IT"}}`), caller: alice,
			req: encrypt(map[string]string{"Dept": "IT"})},
		{name: "encryption context condition not met", policy: allowAlice(`"kms:Encrypt"`, `{"StringEquals":{"kms:EncryptionContext:dept":"IT"}}`), caller: alice,
			req: encrypt(map[string]string{"dept": "HR"}), code: apierr.AccessDenied, msg: denied(aliceARN, "kms:Encrypt", noIdentity("kms:Encrypt"))},
		{name: "encryption context absent", policy: allowAlice(`"kms:Encrypt"`, `{"StringEquals":{"kms:EncryptionContext:dept":"IT"}}`), caller: alice,
			req: encrypt(nil), code: apierr.AccessDenied},
		{name: "encryption context keys", policy: allowAlice(`"kms:Encrypt"`, `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["dept","app"]}}`), caller: alice,
			req: encrypt(map[string]string{"dept": "IT", "app": "x"})},
		{name: "encryption context keys, one too many", policy: allowAlice(`"kms:Encrypt"`, `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["dept","app"]}}`), caller: alice,
			req: encrypt(map[string]string{"dept": "IT", "other": "x"}), code: apierr.AccessDenied},
		{name: "encryption algorithm default", policy: allowAlice(`"kms:Encrypt"`, `{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}`), caller: alice,
			req: encrypt(nil)},
		{name: "encryption algorithm condition", policy: allowAlice(`"kms:Encrypt"`, `{"StringEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`), caller: alice,
			req: withAlg("SYMMETRIC_DEFAULT"), code: apierr.AccessDenied},
		{name: "request alias matches", policy: allowAlice(`"kms:Encrypt"`, `{"StringLike":{"kms:RequestAlias":"alias/app-*"}}`), alias: "alias/app-one", caller: alice,
			req: viaAlias},
		{name: "request alias absent when the key id is used", policy: allowAlice(`"kms:Encrypt"`, `{"StringLike":{"kms:RequestAlias":"alias/app-*"}}`), alias: "alias/app-two", caller: alice,
			req: encrypt(nil), code: apierr.AccessDenied},
		{name: "resource aliases", caller: alice, alias: "alias/app-three",
			iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}`)}, req: encrypt(nil)},
		{name: "resource aliases, none", caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}`)}, req: encrypt(nil), code: apierr.AccessDenied},
		// The alias names are read only when a policy names the key; each
		// kind of policy that can must find them.
		{name: "resource aliases in the key policy", policy: allowAlice(`"kms:Encrypt"`, `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}`),
			alias: "alias/app-four", caller: alice, req: encrypt(nil)},
		{name: "resource aliases in the key policy, none", policy: allowAlice(`"kms:Encrypt"`, `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}`),
			caller: alice, req: encrypt(nil), code: apierr.AccessDenied},
		{name: "deny a key without aliases (Null), one alias", alias: "alias/app-five", caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", ""), iamPolicy("Deny", `"kms:Encrypt"`, "*", `{"Null":{"kms:ResourceAliases":"true"}}`)}, req: encrypt(nil)},
		{name: "deny a key without aliases (Null), none", caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", ""), iamPolicy("Deny", `"kms:Encrypt"`, "*", `{"Null":{"kms:ResourceAliases":"true"}}`)}, req: encrypt(nil), code: apierr.AccessDenied},
		{name: "resource tag (ABAC)", tags: []awsproto.Tag{tag("Env", "prod")}, caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", `{"StringEquals":{"aws:ResourceTag/env":"prod"}}`)}, req: encrypt(nil)},
		{name: "resource tag of another value", tags: []awsproto.Tag{tag("env", "dev")}, caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", `{"StringEquals":{"aws:ResourceTag/env":"prod"}}`)}, req: encrypt(nil), code: apierr.AccessDenied},
		{name: "key spec condition", caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:DescribeKey"`, "*", `{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT","kms:KeyUsage":"ENCRYPT_DECRYPT","kms:KeyOrigin":"AWS_KMS"}}`)}, req: describe},
		{name: "caller account condition", policy: keyPolicy(rootStmt, allowStmt(`"*"`, `"kms:DescribeKey"`, `{"StringEquals":{"kms:CallerAccount":"`+testAccount+`"}}`)), caller: alice, req: describe},
		{name: "secure transport and source ip", caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", `{"Bool":{"aws:SecureTransport":"true","aws:MultiFactorAuthPresent":"false"},"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`)},
			req: encrypt(nil)},
		{name: "source ip outside", caller: alice,
			iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", `{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`)}, req: encrypt(nil), code: apierr.AccessDenied},
		{name: "IAM policy naming the key ARN", caller: alice, iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "arn:aws:kms:"+testRegion+":"+testAccount+":key/*", "")}, req: encrypt(nil)},
		{name: "IAM policy naming another region", caller: alice, iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "arn:aws:kms:us-east-1:"+testAccount+":key/*", "")}, req: encrypt(nil), code: apierr.AccessDenied},
		{name: "management action", caller: alice, iam: []string{iamPolicy("Allow", `"kms:Encrypt"`, "*", "")}, req: enable,
			code: apierr.AccessDenied, msg: denied(aliceARN, "kms:EnableKey", noIdentity("kms:EnableKey"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := n.makeKey(t, tc.policy, tc.tags...)
			if tc.alias != "" {
				if _, err := n.run(t.Context(), "CreateAlias", &awsproto.AliasInput{AliasName: &tc.alias, TargetKeyId: &md.KeyId}); err != nil {
					t.Fatalf("CreateAlias: %v", err)
				}
			}
			ids.set(t, tc.caller.Caller.Principal.ARN, tc.iam...)
			name, in := tc.req(md.KeyId, tc.alias)
			_, err := n.as(t.Context(), tc.caller, name, in)
			wantErr(t, err, tc.code, tc.msg, md.Arn)
		})
	}
}

// TestAuthorizeAccountRows decides the rows without a key resource:
// identity-based policies alone, on resource "*".
func TestAuthorizeAccountRows(t *testing.T) {
	n, ids := newAuthzNode(t)
	size := int32(16)
	rsa := "RSA_2048"
	sign := "SIGN_VERIFY"
	tests := []struct {
		name   string
		caller *Request
		iam    []string
		op     string
		in     any
		code   string
		msg    string
	}{
		{name: "root creates keys", caller: root, op: "CreateKey", in: &awsproto.CreateKeyInput{}},
		{name: "user without policy", caller: alice, op: "CreateKey", in: &awsproto.CreateKeyInput{},
			code: apierr.AccessDenied, msg: "User: " + aliceARN + " is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action"},
		{name: "user allowed", caller: alice, iam: []string{iamPolicy("Allow", `"kms:CreateKey"`, "*", "")}, op: "CreateKey", in: &awsproto.CreateKeyInput{}},
		{name: "key spec condition, default spec", caller: alice, op: "CreateKey", in: &awsproto.CreateKeyInput{},
			iam: []string{iamPolicy("Allow", `"kms:CreateKey"`, "*", `{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}`)}},
		{name: "key spec condition, other spec", caller: alice, op: "CreateKey", in: &awsproto.CreateKeyInput{KeySpec: &rsa, KeyUsage: &sign},
			iam:  []string{iamPolicy("Allow", `"kms:CreateKey"`, "*", `{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}`)},
			code: apierr.AccessDenied},
		{name: "request tags required", caller: alice, op: "CreateKey", in: &awsproto.CreateKeyInput{Tags: []awsproto.Tag{tag("team", "blue")}},
			iam: []string{iamPolicy("Allow", `"kms:CreateKey"`, "*", `{"StringEquals":{"aws:RequestTag/team":"blue"},"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}`)}},
		{name: "request tags missing", caller: alice, op: "CreateKey", in: &awsproto.CreateKeyInput{},
			iam:  []string{iamPolicy("Allow", `"kms:CreateKey"`, "*", `{"StringEquals":{"aws:RequestTag/team":"blue"}}`)},
			code: apierr.AccessDenied},
		{name: "explicit deny", caller: alice, op: "ListKeys", in: &awsproto.ListInput{},
			iam:  []string{iamPolicy("Allow", `"kms:*"`, "*", ""), iamPolicy("Deny", `"kms:List*"`, "*", "")},
			code: apierr.AccessDenied, msg: "User: " + aliceARN + " is not authorized to perform: kms:ListKeys on resource: * with an explicit deny in an identity-based policy"},
		{name: "list aliases", caller: alice, iam: []string{iamPolicy("Allow", `"kms:ListAliases"`, "*", "")}, op: "ListAliases", in: &awsproto.ListAliasesInput{}},
		{name: "generate random denied", caller: bob, op: "GenerateRandom", in: &awsproto.GenerateRandomInput{NumberOfBytes: &size}, code: apierr.AccessDenied},
		{name: "generate random", caller: bob, iam: []string{iamPolicy("Allow", `"kms:GenerateRandom"`, "*", "")}, op: "GenerateRandom", in: &awsproto.GenerateRandomInput{NumberOfBytes: &size}},
		{name: "principal tag (ABAC)", caller: func() *Request {
			r := userOf(testAccount, "dave")
			r.Caller.Tags = []identity.Tag{{Key: "Team", Value: "blue"}}
			return r
		}(), iam: []string{iamPolicy("Allow", `"kms:ListKeys"`, "*", `{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`)}, op: "ListKeys", in: &awsproto.ListInput{}},
		{name: "validation before authorization", caller: bob, op: "GenerateRandom", in: &awsproto.GenerateRandomInput{}, code: apierr.Validation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids.set(t, tc.caller.Caller.Principal.ARN, tc.iam...)
			_, err := n.as(t.Context(), tc.caller, tc.op, tc.in)
			wantErr(t, err, tc.code, tc.msg, "")
		})
	}
}

// TestDecryptAuthorizedOnBlobKey: Decrypt without a KeyId is authorized
// against the key the ciphertext names, and ReEncrypt asks for
// kms:ReEncryptFrom on the source and kms:ReEncryptTo on the destination.
func TestDecryptAuthorizedOnBlobKey(t *testing.T) {
	n, ids := newAuthzNode(t)
	useBy := func(principal, actions string) string {
		return keyPolicy(rootStmt, allowStmt(`{"AWS":"`+principal+`"}`, actions, ""))
	}
	a := n.makeKey(t, useBy(aliceARN, `["kms:Encrypt","kms:Decrypt","kms:ReEncryptFrom"]`))
	b := n.makeKey(t, useBy(bobARN, `["kms:Encrypt","kms:Decrypt","kms:ReEncryptTo"]`))
	ids.set(t, aliceARN)
	blobA, err := n.encryptAs(t, alice, a.KeyId, nil)
	if err != nil {
		t.Fatal(err)
	}
	blobB, err := n.encryptAs(t, bob, b.KeyId, nil)
	if err != nil {
		t.Fatal(err)
	}
	decrypt := func(r *Request, blob []byte) error {
		_, err := n.as(t.Context(), r, "Decrypt", &awsproto.DecryptInput{CiphertextBlob: bytes.Clone(blob)})
		return err
	}
	wantErr(t, decrypt(alice, blobA), "", "", "")
	wantErr(t, decrypt(alice, blobB), apierr.AccessDenied, denied(aliceARN, "kms:Decrypt", noIdentity("kms:Decrypt")), b.Arn)
	wantErr(t, decrypt(bob, blobB), "", "", "")

	reEncrypt := func(r *Request, blob []byte, dst string) error {
		_, err := n.as(t.Context(), r, "ReEncrypt", &awsproto.ReEncryptInput{CiphertextBlob: bytes.Clone(blob), DestinationKeyId: &dst})
		return err
	}
	// alice may take ciphertexts from A, but not put them under B; bob
	// the other way round.
	wantErr(t, reEncrypt(alice, blobA, b.KeyId), apierr.AccessDenied, denied(aliceARN, "kms:ReEncryptTo", noIdentity("kms:ReEncryptTo")), b.Arn)
	wantErr(t, reEncrypt(bob, blobA, b.KeyId), apierr.AccessDenied, denied(bobARN, "kms:ReEncryptFrom", noIdentity("kms:ReEncryptFrom")), a.Arn)
	// With both halves, it works; kms:ReEncryptOnSameKey tells the cases apart.
	both := n.makeKey(t, keyPolicy(rootStmt, allowStmt(`{"AWS":"`+aliceARN+`"}`, `"kms:ReEncrypt*"`, `{"Bool":{"kms:ReEncryptOnSameKey":"false"}}`)))
	wantErr(t, reEncrypt(root, blobA, both.KeyId), "", "", "")
	if _, err := n.run(t.Context(), "PutKeyPolicy", &awsproto.PutKeyPolicyInput{KeyId: &a.KeyId, Policy: new(keyPolicy(rootStmt,
		allowStmt(`{"AWS":"`+aliceARN+`"}`, `"kms:ReEncrypt*"`, `{"Bool":{"kms:ReEncryptOnSameKey":"false"}}`)))}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, reEncrypt(alice, blobA, a.KeyId), apierr.AccessDenied, denied(aliceARN, "kms:ReEncryptFrom", noIdentity("kms:ReEncryptFrom")), a.Arn)
}

// TestChangesTakeEffectAtOnce: a new key policy, a tag removed, an alias
// moved — the next request is decided on the new state.
func TestChangesTakeEffectAtOnce(t *testing.T) {
	n, ids := newAuthzNode(t)
	md := n.makeKey(t, "", tag("env", "prod"))
	ids.set(t, aliceARN, iamPolicy("Allow", `"kms:Encrypt"`, "*", `{"StringEquals":{"aws:ResourceTag/env":"prod"}}`))
	if _, err := n.encryptAs(t, alice, md.KeyId, nil); err != nil {
		t.Fatalf("tagged prod: %v", err)
	}
	if _, err := n.run(t.Context(), "UntagResource", &awsproto.UntagResourceInput{KeyId: &md.KeyId, TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	_, err := n.encryptAs(t, alice, md.KeyId, nil)
	wantErr(t, err, apierr.AccessDenied, "", "")

	// A policy that names alice, then one that does not.
	put := func(doc string) {
		t.Helper()
		if _, err := n.run(t.Context(), "PutKeyPolicy", &awsproto.PutKeyPolicyInput{KeyId: &md.KeyId, Policy: &doc}); err != nil {
			t.Fatalf("PutKeyPolicy: %v", err)
		}
	}
	ids.set(t, aliceARN)
	put(keyPolicy(rootStmt, allowStmt(`{"AWS":"`+aliceARN+`"}`, `"kms:Encrypt"`, "")))
	if _, err := n.encryptAs(t, alice, md.KeyId, nil); err != nil {
		t.Fatalf("after the policy named alice: %v", err)
	}
	put(keyPolicy(rootStmt))
	_, err = n.encryptAs(t, alice, md.KeyId, nil)
	wantErr(t, err, apierr.AccessDenied, denied(aliceARN, "kms:Encrypt", noIdentity("kms:Encrypt")), md.Arn)

	// kms:ResourceAliases follows alias changes.
	ids.set(t, aliceARN, iamPolicy("Allow", `"kms:Encrypt"`, "*", `{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/x"}}`))
	other := n.makeKey(t, "")
	alias := "alias/x"
	if _, err := n.run(t.Context(), "CreateAlias", &awsproto.AliasInput{AliasName: &alias, TargetKeyId: &md.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.encryptAs(t, alice, md.KeyId, nil); err != nil {
		t.Fatalf("with the alias: %v", err)
	}
	if _, err := n.run(t.Context(), "UpdateAlias", &awsproto.AliasInput{AliasName: &alias, TargetKeyId: &other.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = n.encryptAs(t, alice, md.KeyId, nil)
	wantErr(t, err, apierr.AccessDenied, "", "")
	if _, err := n.encryptAs(t, alice, other.KeyId, nil); err != nil {
		t.Fatalf("the alias's new key: %v", err)
	}
}

// TestKeyPolicyChecks: the lockout safety check and principals that must
// exist, at CreateKey and PutKeyPolicy.
func TestKeyPolicyChecks(t *testing.T) {
	n, ids := newAuthzNode(t)
	noRoot := keyPolicy(allowStmt(`{"AWS":"`+aliceARN+`"}`, `"kms:*"`, ""))
	ghost := keyPolicy(rootStmt, allowStmt(`{"AWS":"arn:aws:iam::`+testAccount+`:user/ghost"}`, `"kms:Decrypt"`, ""))
	ghostAccount := keyPolicy(rootStmt, allowStmt(`{"AWS":"999999999999"}`, `"kms:Decrypt"`, ""))
	onlyAlice := keyPolicy(rootStmt, allowStmt(`{"AWS":"`+aliceARN+`"}`, `["kms:PutKeyPolicy","kms:Encrypt"]`, ""))
	tests := []struct {
		name   string
		caller *Request
		iam    []string
		create bool // CreateKey instead of PutKeyPolicy
		doc    string
		bypass bool
		code   string
		msg    string
	}{
		{name: "root keeps access", caller: root, doc: keyPolicy(rootStmt)},
		{name: "root locks itself out", caller: root, doc: noRoot, code: apierr.MalformedPolicyDocument, msg: msgLockout},
		{name: "bypass", caller: root, doc: noRoot, bypass: true},
		{name: "create: root locks itself out", caller: root, create: true, doc: noRoot, code: apierr.MalformedPolicyDocument, msg: msgLockout},
		{name: "create: bypass", caller: root, create: true, doc: noRoot, bypass: true},
		{name: "user kept by IAM through the account", caller: alice, create: true, doc: keyPolicy(rootStmt),
			iam: []string{iamPolicy("Allow", `["kms:CreateKey","kms:PutKeyPolicy"]`, "*", "")}},
		{name: "user without PutKeyPolicy afterwards", caller: alice, create: true, doc: keyPolicy(rootStmt),
			iam: []string{iamPolicy("Allow", `"kms:CreateKey"`, "*", "")}, code: apierr.MalformedPolicyDocument, msg: msgLockout},
		{name: "user named by the new policy", caller: alice, create: true, doc: onlyAlice, iam: []string{iamPolicy("Allow", `"kms:CreateKey"`, "*", "")}},
		{name: "principal does not exist", caller: root, doc: ghost, code: apierr.MalformedPolicyDocument, msg: msgInvalidPrincipals},
		{name: "principal does not exist, even with bypass", caller: root, doc: ghost, bypass: true, code: apierr.MalformedPolicyDocument, msg: msgInvalidPrincipals},
		{name: "create: account does not exist", caller: root, create: true, doc: ghostAccount, code: apierr.MalformedPolicyDocument, msg: msgInvalidPrincipals},
		{name: "other account exists", caller: root, doc: keyPolicy(rootStmt, allowStmt(`{"AWS":"`+otherAccount+`"}`, `"kms:Decrypt"`, ""))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids.set(t, tc.caller.Caller.Principal.ARN, tc.iam...)
			var err error
			if tc.create {
				_, err = n.as(t.Context(), tc.caller, "CreateKey", &awsproto.CreateKeyInput{Policy: &tc.doc, BypassPolicyLockoutSafetyCheck: tc.bypass})
			} else {
				md := n.makeKey(t, "")
				_, err = n.as(t.Context(), tc.caller, "PutKeyPolicy", &awsproto.PutKeyPolicyInput{KeyId: &md.KeyId, Policy: &tc.doc, BypassPolicyLockoutSafetyCheck: tc.bypass})
			}
			wantErr(t, err, tc.code, tc.msg, "")
		})
	}
}

// TestTenancy: one Service, keys in (account, region).
func TestTenancy(t *testing.T) {
	n, ids := newAuthzNode(t)
	west := rootOf(testAccount, "us-west-2")
	out, err := n.as(t.Context(), west, "CreateKey", &awsproto.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	md := out.(*awsproto.KeyMetadataOutput).KeyMetadata
	if want := "arn:aws:kms:us-west-2:" + testAccount + ":key/" + md.KeyId; md.Arn != want || md.AWSAccountId != testAccount {
		t.Fatalf("key made in us-west-2: %s in %s", md.Arn, md.AWSAccountId)
	}
	describe := func(r *Request, id string) error {
		_, err := n.as(t.Context(), r, "DescribeKey", &awsproto.DescribeKeyInput{KeyId: &id})
		return err
	}
	wantErr(t, describe(west, md.KeyId), "", "", "")
	// The test region is another region: the id is unknown there, and an
	// ARN naming us-west-2 is refused as AWS refuses it.
	wantErr(t, describe(root, md.KeyId), apierr.NotFound, "Key 'arn:aws:kms:"+testRegion+":"+testAccount+":key/"+md.KeyId+"' does not exist", "")
	wantErr(t, describe(root, md.Arn), apierr.NotFound, "Invalid arn us-west-2", "")

	// Another account: a bare id or an alias name never reaches this
	// account's key; its ARN does, and authorization decides.
	otherWest := rootOf(otherAccount, "us-west-2")
	wantErr(t, describe(otherWest, md.KeyId), apierr.NotFound, "Key 'arn:aws:kms:us-west-2:"+otherAccount+":key/"+md.KeyId+"' does not exist", "")
	alias := "alias/shared"
	if _, err := n.as(t.Context(), west, "CreateAlias", &awsproto.AliasInput{AliasName: &alias, TargetKeyId: &md.KeyId}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, describe(otherWest, alias), apierr.NotFound, "Alias arn:aws:kms:us-west-2:"+otherAccount+":alias/shared is not found.", "")
	wantErr(t, describe(otherWest, md.Arn), apierr.AccessDenied, denied(otherRoot, "kms:DescribeKey", noResource("kms:DescribeKey")), md.Arn)
	aliasARN := "arn:aws:kms:us-west-2:" + testAccount + ":alias/shared"
	wantErr(t, describe(otherWest, aliasARN), apierr.AccessDenied, "", "")
	missing := "arn:aws:kms:us-west-2:" + testAccount + ":key/00000000-0000-4000-8000-000000000000"
	wantErr(t, describe(otherWest, missing), apierr.NotFound, "Key '"+missing+"' does not exist", "")

	// Listing sees the tenant's keys only.
	list := func(r *Request) int {
		out, err := n.as(t.Context(), r, "ListKeys", &awsproto.ListInput{})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.(*awsproto.ListKeysOutput).Keys)
	}
	if got := list(west); got != 1 {
		t.Errorf("ListKeys in us-west-2: %d keys, want 1", got)
	}
	if got := list(root); got != 0 {
		t.Errorf("ListKeys in %s: %d keys, want 0", testRegion, got)
	}
	if got := list(otherWest); got != 0 {
		t.Errorf("ListKeys of another account: %d keys, want 0", got)
	}

	// Cross-account use, when the key policy trusts the other account and
	// its identity-based policies allow; never for management.
	shared := keyPolicy(allowStmt(`{"AWS":"`+rootARN+`"}`, `"kms:*"`, ""), allowStmt(`{"AWS":"`+otherRoot+`"}`, `["kms:Encrypt","kms:DescribeKey","kms:EnableKey"]`, ""))
	if _, err := n.as(t.Context(), west, "PutKeyPolicy", &awsproto.PutKeyPolicyInput{KeyId: &md.KeyId, Policy: &shared}); err != nil {
		t.Fatal(err)
	}
	carolWest := userOf(otherAccount, "carol")
	carolWest.Region = "us-west-2"
	wantErr(t, describe(otherWest, md.Arn), "", "", "")
	wantErr(t, describe(carolWest, md.Arn), apierr.AccessDenied, denied(carolARN, "kms:DescribeKey", noIdentity("kms:DescribeKey")), md.Arn)
	ids.set(t, carolARN, iamPolicy("Allow", `"kms:*"`, "*", ""))
	wantErr(t, describe(carolWest, md.Arn), "", "", "")
	_, err = n.as(t.Context(), carolWest, "EnableKey", &awsproto.KeyIdInput{KeyId: &md.Arn})
	wantErr(t, err, apierr.AccessDenied, denied(carolARN, "kms:EnableKey", noResource("kms:EnableKey")), md.Arn)
	blob, err := n.encryptAs(t, carolWest, md.Arn, nil)
	if err != nil {
		t.Fatalf("cross-account Encrypt: %v", err)
	}
	// Decrypt was not shared: the blob names the key, and the key policy
	// does not allow the other account to decrypt.
	_, err = n.as(t.Context(), carolWest, "Decrypt", &awsproto.DecryptInput{CiphertextBlob: blob})
	wantErr(t, err, apierr.AccessDenied, denied(carolARN, "kms:Decrypt", noResource("kms:Decrypt")), md.Arn)
}

// TestRunDueEveryTenant: the lifecycle job rotates and deletes the keys of
// every account and region.
func TestRunDueEveryTenant(t *testing.T) {
	n := newTestNode(t)
	var ids []string
	for _, r := range []*Request{rootOf(testAccount, testRegion), rootOf(otherAccount, testRegion), rootOf(testAccount, "ap-south-1")} {
		out, err := n.as(t.Context(), r, "CreateKey", &awsproto.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		id := out.(*awsproto.KeyMetadataOutput).KeyMetadata.KeyId
		days := int32(7)
		if _, err := n.as(t.Context(), r, "ScheduleKeyDeletion", &awsproto.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: &days}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	n.clock.Advance(8 * 24 * 3600e9)
	if err := n.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := n.db.GetKey(t.Context(), id); err == nil {
			t.Errorf("key %s not deleted by the job", id)
		}
	}
}

// TestAuthorizeAliases: the alias rows need their action on the alias ARN
// (identity-based policies only: an alias has no resource policy) and on
// every key involved — UpdateAlias on the alias's key and on the new one.
func TestAuthorizeAliases(t *testing.T) {
	n, ids := newAuthzNode(t)
	a := n.makeKey(t, "")
	b := n.makeKey(t, "")
	aliasARN := func(name string) string { return "arn:aws:kms:" + testRegion + ":" + testAccount + ":" + name }
	onResources := func(action string, resources ...string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":["` + strings.Join(resources, `","`) + `"]}]}`
	}
	name := "alias/team"
	create := func() error {
		_, err := n.as(t.Context(), alice, "CreateAlias", &awsproto.AliasInput{AliasName: &name, TargetKeyId: &a.KeyId})
		return err
	}
	ids.set(t, aliceARN, onResources("kms:CreateAlias", a.Arn))
	wantErr(t, create(), apierr.AccessDenied, "User: "+aliceARN+" is not authorized to perform: kms:CreateAlias on resource: "+aliasARN(name)+
		" because no identity-based policy allows the kms:CreateAlias action", "")
	ids.set(t, aliceARN, onResources("kms:CreateAlias", aliasARN(name)))
	wantErr(t, create(), apierr.AccessDenied, denied(aliceARN, "kms:CreateAlias", noIdentity("kms:CreateAlias")), a.Arn)
	ids.set(t, aliceARN, onResources("kms:CreateAlias", aliasARN(name), a.Arn))
	wantErr(t, create(), "", "", "")

	update := func() error {
		_, err := n.as(t.Context(), alice, "UpdateAlias", &awsproto.AliasInput{AliasName: &name, TargetKeyId: &b.KeyId})
		return err
	}
	ids.set(t, aliceARN, onResources("kms:UpdateAlias", aliasARN(name), b.Arn))
	wantErr(t, update(), apierr.AccessDenied, denied(aliceARN, "kms:UpdateAlias", noIdentity("kms:UpdateAlias")), a.Arn)
	ids.set(t, aliceARN, onResources("kms:UpdateAlias", aliasARN(name), a.Arn))
	wantErr(t, update(), apierr.AccessDenied, denied(aliceARN, "kms:UpdateAlias", noIdentity("kms:UpdateAlias")), b.Arn)
	ids.set(t, aliceARN, onResources("kms:UpdateAlias", aliasARN(name), a.Arn, b.Arn))
	wantErr(t, update(), "", "", "")

	del := func() error {
		_, err := n.as(t.Context(), alice, "DeleteAlias", &awsproto.AliasInput{AliasName: &name})
		return err
	}
	ids.set(t, aliceARN, onResources("kms:DeleteAlias", aliasARN(name), a.Arn))
	wantErr(t, del(), apierr.AccessDenied, denied(aliceARN, "kms:DeleteAlias", noIdentity("kms:DeleteAlias")), b.Arn)
	ids.set(t, aliceARN, onResources("kms:DeleteAlias", aliasARN(name), b.Arn))
	wantErr(t, del(), "", "", "")
	wantErr(t, del(), apierr.NotFound, "Alias "+aliasARN(name)+" is not found.", "")
}
