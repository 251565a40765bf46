package e2e

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	iamsvc "github.com/trent-kms/trent/internal/iam"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/testenv"
)

// Authorization through the real server: SigV4 verified by the real
// verifier, every request through the operation table, keys in SQLite.
// TestAuthzWithIAM takes users and their policies from the real
// iam.Service, made through the IAM API. The other tests set policies per
// case, so they use two stand-ins: identity policies and the existence of
// principals come from e2eIdentities (fixed compiled policies), and the
// IAM users alice and bob sign with access keys this file's lookup knows.
// Account roots — of the dev account and of a second account — are real
// access keys of the identity directory.

const otherAccount = "444455556666"

// e2eIdentities is the test's kms.Identities.
type e2eIdentities struct {
	mu       sync.RWMutex
	policies map[string]*policy.Policies
	exists   map[string]bool
}

func (f *e2eIdentities) PrincipalPolicies(_ context.Context, c *identity.Caller) (*policy.Policies, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.policies[c.Principal.ARN], nil
}

func (f *e2eIdentities) PrincipalExists(_ context.Context, arn string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.exists[arn]
}

// set gives principal arn these identity-based policies (none clears them).
func (f *e2eIdentities) set(t testing.TB, arn string, docs ...string) {
	t.Helper()
	ps := &policy.Policies{}
	for _, doc := range docs {
		d, err := policy.ParseIdentity(doc)
		if err != nil {
			t.Fatalf("identity policy %s: %v", doc, err)
		}
		c, err := policy.Compile(d)
		if err != nil {
			t.Fatal(err)
		}
		ps.Identity = append(ps.Identity, c)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies[arn] = ps
}

// authzEnv is a dev installation served by a KMS endpoint that accepts
// every region, with clients for several principals.
type authzEnv struct {
	*testenv.Env
	ids      *e2eIdentities
	url      string
	users    map[string]*sigv4.Credential // the test's IAM users, by access key id
	otherKey [2]string                    // access key of the other account's root
}

type principal struct{ id, secret string }

var (
	aliceKey = principal{"AKIAE2EALICE0000001", "alice-secret-key-0123456789"}
	bobKey   = principal{"AKIAE2EBOB000000001", "bob-secret-key-0123456789ab"}
)

func startAuthz(t *testing.T) *authzEnv {
	t.Helper()
	ids := &e2eIdentities{policies: map[string]*policy.Policies{}, exists: map[string]bool{}}
	env := testenv.Start(t, testenv.WithIdentities(ids))
	e := &authzEnv{Env: env, ids: ids, users: map[string]*sigv4.Credential{}}
	for name, k := range map[string]principal{"alice": aliceKey, "bob": bobKey} {
		arn := e.userARN(name)
		e.users[k.id] = &sigv4.Credential{
			AccessKeyID: k.id, Secret: []byte(k.secret), Account: env.Account, PrincipalARN: arn,
			Caller: &identity.Caller{AccessKeyID: k.id, Principal: policy.Principal{
				ARN: arn, Account: env.Account, Type: policy.PrincipalIAMUser,
				UserID: "AIDA" + strings.ToUpper(name), Username: name,
			}},
		}
		ids.exists[arn] = true
	}
	ids.exists[e.rootARN()] = true
	ids.exists["arn:aws:iam::"+otherAccount+":root"] = true
	id, secret, err := env.App.Directory.CreateAccessKey(t.Context(), otherAccount)
	if err != nil {
		t.Fatal(err)
	}
	e.otherKey = [2]string{id, secret}
	// Region "" accepts every well-formed region, as one Trent serves all.
	verifier := &sigv4.Verifier{Service: "kms", Lookup: e.lookup}
	srv := httptest.NewServer(server.New(env.App.KMS, verifier, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *authzEnv) lookup(id string) (*sigv4.Credential, bool) {
	if c, ok := e.users[id]; ok {
		return c, true
	}
	return e.App.IAM.Lookup(id)
}

func (e *authzEnv) userARN(name string) string {
	return "arn:aws:iam::" + e.Account + ":user/" + name
}

func (e *authzEnv) rootARN() string { return "arn:aws:iam::" + e.Account + ":root" }

func (e *authzEnv) client(id, secret, region string) *kms.Client {
	return kms.NewFromConfig(testenv.Config(e.url, region, id, secret, ""))
}

func (e *authzEnv) root() *kms.Client  { return e.client(e.AccessKeyID, e.Secret, e.Region) }
func (e *authzEnv) alice() *kms.Client { return e.client(aliceKey.id, aliceKey.secret, e.Region) }
func (e *authzEnv) bob() *kms.Client   { return e.client(bobKey.id, bobKey.secret, e.Region) }
func (e *authzEnv) other() *kms.Client { return e.client(e.otherKey[0], e.otherKey[1], e.Region) }

// newKey creates a key as the root with policy ("" for the default),
// bypassing the lockout check so that any policy can be set up.
func (e *authzEnv) newKey(t *testing.T, doc string, tags ...types.Tag) *types.KeyMetadata {
	t.Helper()
	in := &kms.CreateKeyInput{Tags: tags, BypassPolicyLockoutSafetyCheck: true}
	if doc != "" {
		in.Policy = aws.String(doc)
	}
	out, err := e.root().CreateKey(t.Context(), in)
	mustOK(t, err, "CreateKey")
	return out.KeyMetadata
}

func (e *authzEnv) policy(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func (e *authzEnv) rootStmt() string {
	return `{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"` + e.rootARN() + `"},"Action":"kms:*","Resource":"*"}`
}

func allow(principal, actions, cond string) string {
	return statement("Allow", principal, actions, cond)
}

func statement(effect, principal, actions, cond string) string {
	s := `{"Effect":"` + effect + `","Principal":` + principal + `,"Action":` + actions + `,"Resource":"*"`
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return s + "}"
}

func identityPolicy(actions, cond string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":` + actions + `,"Resource":"*"`
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return s + "}]}"
}

func notAuthorized(who, action, resource, why string) string {
	return "User: " + who + " is not authorized to perform: " + action + " on resource: " + resource + " " + why
}

func encryptIn(keyID string, ec map[string]string) *kms.EncryptInput {
	return &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("e2e"), EncryptionContext: ec}
}

// TestAuthzKeyPolicyAndRoot: the root is the account, and a key policy
// that leaves the account out locks it out; the lockout safety check
// keeps a caller from doing that by accident; an explicit Deny binds even
// the root.
func TestAuthzKeyPolicyAndRoot(t *testing.T) {
	e := startAuthz(t)
	ctx := t.Context()
	root := e.root()
	onlyAlice := e.policy(allow(`{"AWS":"`+e.userARN("alice")+`"}`, `"kms:*"`, ""))

	locked := e.newKey(t, onlyAlice)
	_, err := root.Encrypt(ctx, encryptIn(aws.ToString(locked.KeyId), nil))
	wantError(t, err, "AccessDeniedException", notAuthorized(e.rootARN(), "kms:Encrypt", aws.ToString(locked.Arn),
		"because no resource-based policy allows the kms:Encrypt action"))
	_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: locked.KeyId, Policy: aws.String(policy.Default(e.Account)), BypassPolicyLockoutSafetyCheck: true})
	wantError(t, err, "AccessDeniedException", anyMessage)
	// alice, whom the policy names, is not locked out.
	_, err = e.alice().Encrypt(ctx, encryptIn(aws.ToString(locked.Arn), nil))
	mustOK(t, err, "Encrypt by the principal the policy names")

	const lockout = "The new key policy will not allow you to update the key policy in the future."
	_, err = root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(onlyAlice)})
	wantError(t, err, "MalformedPolicyDocumentException", lockout)
	wantType[*types.MalformedPolicyDocumentException](t, err)
	md := e.newKey(t, "")
	_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(onlyAlice)})
	wantError(t, err, "MalformedPolicyDocumentException", lockout)

	// Principals named in a key policy must exist.
	ghost := e.policy(e.rootStmt(), allow(`{"AWS":"arn:aws:iam::`+e.Account+`:user/ghost"}`, `"kms:Decrypt"`, ""))
	_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(ghost)})
	wantError(t, err, "MalformedPolicyDocumentException", "Policy contains a statement with one or more invalid principals.")

	// An explicit Deny wins over the account's Allow, for the root too.
	noEncrypt := e.policy(e.rootStmt(), statement("Deny", `"*"`, `"kms:Encrypt"`, ""))
	_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(noEncrypt)})
	mustOK(t, err, "PutKeyPolicy")
	_, err = root.Encrypt(ctx, encryptIn(aws.ToString(md.KeyId), nil))
	wantError(t, err, "AccessDeniedException", notAuthorized(e.rootARN(), "kms:Encrypt", aws.ToString(md.Arn),
		"with an explicit deny in a resource-based policy"))
	_, err = root.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256})
	mustOK(t, err, "GenerateDataKey, which the Deny does not name")
}

// TestAuthzConditions: condition keys of the request and of the key,
// decided over HTTP for an IAM user.
func TestAuthzConditions(t *testing.T) {
	e := startAuthz(t)
	ctx := t.Context()
	root, alice := e.root(), e.alice()
	aliceARN := e.userARN("alice")
	doc := e.policy(e.rootStmt(),
		allow(`{"AWS":"`+aliceARN+`"}`, `["kms:Encrypt","kms:Decrypt"]`,
			`{"StringEquals":{"kms:EncryptionContext:purpose":"test","kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}`),
		allow(`{"AWS":"`+aliceARN+`"}`, `"kms:DescribeKey"`, `{"StringEquals":{"kms:RequestAlias":"alias/authz-e2e"}}`))
	md := e.newKey(t, doc, tags("team", "blue")...)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	_, err := root.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/authz-e2e"), TargetKeyId: md.KeyId})
	mustOK(t, err, "CreateAlias")

	enc, err := alice.Encrypt(ctx, encryptIn(id, map[string]string{"purpose": "test"}))
	mustOK(t, err, "Encrypt with the context the policy asks for")
	_, err = alice.Encrypt(ctx, encryptIn(id, map[string]string{"purpose": "other"}))
	wantError(t, err, "AccessDeniedException", notAuthorized(aliceARN, "kms:Encrypt", arn,
		"because no identity-based policy allows the kms:Encrypt action"))
	_, err = alice.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x"),
		EncryptionContext: map[string]string{"purpose": "test"}, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantError(t, err, "AccessDeniedException", anyMessage)
	// Decrypt without a KeyId is decided on the key the ciphertext names.
	_, err = alice.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "test"}})
	mustOK(t, err, "Decrypt without KeyId")

	_, err = alice.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/authz-e2e")})
	mustOK(t, err, "DescribeKey through the alias the policy names")
	_, err = alice.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantError(t, err, "AccessDeniedException", notAuthorized(aliceARN, "kms:DescribeKey", arn,
		"because no identity-based policy allows the kms:DescribeKey action"))

	// ABAC on the key's tags, through an identity-based policy; a tag
	// change counts from the next request.
	e.ids.set(t, aliceARN, identityPolicy(`"kms:GenerateDataKey"`, `{"StringEquals":{"aws:ResourceTag/team":"blue"}}`))
	gdk := &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256}
	_, err = alice.GenerateDataKey(ctx, gdk)
	mustOK(t, err, "GenerateDataKey on a key tagged team=blue")
	_, err = root.TagResource(ctx, &kms.TagResourceInput{KeyId: md.KeyId, Tags: tags("team", "red")})
	mustOK(t, err, "TagResource")
	_, err = alice.GenerateDataKey(ctx, gdk)
	wantError(t, err, "AccessDeniedException", anyMessage)
}

// TestAuthzDecryptAndReEncrypt: Decrypt without a KeyId is authorized on
// the ciphertext's key, ReEncrypt on both of its keys.
func TestAuthzDecryptAndReEncrypt(t *testing.T) {
	e := startAuthz(t)
	ctx := t.Context()
	aliceARN := e.userARN("alice")
	mine := e.newKey(t, e.policy(e.rootStmt(), allow(`{"AWS":"`+aliceARN+`"}`, `["kms:Encrypt","kms:Decrypt","kms:ReEncryptFrom"]`, "")))
	theirs := e.newKey(t, "")
	alice, root := e.alice(), e.root()

	myBlob, err := alice.Encrypt(ctx, encryptIn(aws.ToString(mine.KeyId), nil))
	mustOK(t, err, "Encrypt")
	theirBlob, err := root.Encrypt(ctx, encryptIn(aws.ToString(theirs.KeyId), nil))
	mustOK(t, err, "Encrypt")
	_, err = alice.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: myBlob.CiphertextBlob})
	mustOK(t, err, "Decrypt of a blob of her key")
	_, err = alice.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: theirBlob.CiphertextBlob})
	wantError(t, err, "AccessDeniedException", notAuthorized(aliceARN, "kms:Decrypt", aws.ToString(theirs.Arn),
		"because no identity-based policy allows the kms:Decrypt action"))

	_, err = alice.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: myBlob.CiphertextBlob, DestinationKeyId: theirs.KeyId})
	wantError(t, err, "AccessDeniedException", notAuthorized(aliceARN, "kms:ReEncryptTo", aws.ToString(theirs.Arn),
		"because no identity-based policy allows the kms:ReEncryptTo action"))
	_, err = alice.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: theirBlob.CiphertextBlob, DestinationKeyId: mine.KeyId})
	wantError(t, err, "AccessDeniedException", notAuthorized(aliceARN, "kms:ReEncryptFrom", aws.ToString(theirs.Arn),
		"because no identity-based policy allows the kms:ReEncryptFrom action"))
	e.ids.set(t, aliceARN, identityPolicy(`"kms:ReEncryptTo"`, ""))
	_, err = alice.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: myBlob.CiphertextBlob, DestinationKeyId: theirs.KeyId})
	mustOK(t, err, "ReEncrypt with both halves allowed")
}

// TestAuthzPutKeyPolicyAtOnce: a new key policy governs the very next
// request.
func TestAuthzPutKeyPolicyAtOnce(t *testing.T) {
	e := startAuthz(t)
	ctx := t.Context()
	bobARN := e.userARN("bob")
	md := e.newKey(t, e.policy(e.rootStmt(), allow(`{"AWS":"`+bobARN+`"}`, `"kms:Encrypt"`, "")))
	bob := e.bob()
	_, err := bob.Encrypt(ctx, encryptIn(aws.ToString(md.KeyId), nil))
	mustOK(t, err, "Encrypt while the policy names bob")
	_, err = e.root().PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(e.policy(e.rootStmt()))})
	mustOK(t, err, "PutKeyPolicy")
	_, err = bob.Encrypt(ctx, encryptIn(aws.ToString(md.KeyId), nil))
	wantError(t, err, "AccessDeniedException", notAuthorized(bobARN, "kms:Encrypt", aws.ToString(md.Arn),
		"because no identity-based policy allows the kms:Encrypt action"))
}

// TestAuthzGrants: grants end to end — a constrained grant used by its
// grantee, with and without its token, listed, retired by its retiring
// principal, revoked, and given across accounts.
func TestAuthzGrants(t *testing.T) {
	e := startAuthz(t)
	ctx := t.Context()
	root, alice, bob := e.root(), e.alice(), e.bob()
	aliceARN, bobARN := e.userARN("alice"), e.userARN("bob")
	md := e.newKey(t, "")
	id := aws.ToString(md.KeyId)
	caseCtx := map[string]string{"case": "42"}

	_, err := alice.Encrypt(ctx, encryptIn(id, caseCtx))
	wantError(t, err, "AccessDeniedException", anyMessage)

	in := &kms.CreateGrantInput{
		KeyId: md.KeyId, GranteePrincipal: aws.String(aliceARN), RetiringPrincipal: aws.String(bobARN),
		Operations:  []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: caseCtx},
		Name:        aws.String("e2e-grant"),
	}
	g, err := root.CreateGrant(ctx, in)
	mustOK(t, err, "CreateGrant")
	grantID, token := aws.ToString(g.GrantId), aws.ToString(g.GrantToken)
	if len(grantID) != 64 || token == "" {
		t.Fatalf("CreateGrant answered id %q token %q", grantID, token)
	}
	again, err := root.CreateGrant(ctx, in)
	mustOK(t, err, "CreateGrant again")
	if aws.ToString(again.GrantId) != grantID {
		t.Errorf("a retried named grant got id %s, want %s", aws.ToString(again.GrantId), grantID)
	}

	blob, err := alice.Encrypt(ctx, encryptIn(id, map[string]string{"case": "42", "more": "x"}))
	mustOK(t, err, "Encrypt through the grant")
	_, err = alice.Encrypt(ctx, encryptIn(id, nil))
	wantError(t, err, "AccessDeniedException", notAuthorized(aliceARN, "kms:Encrypt", aws.ToString(md.Arn),
		"because no identity-based policy allows the kms:Encrypt action"))
	_, err = alice.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob, EncryptionContext: map[string]string{"case": "42", "more": "x"}, GrantTokens: []string{token}})
	mustOK(t, err, "Decrypt through the grant, with its token")
	_, err = alice.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), EncryptionContext: caseCtx, GrantTokens: []string{"not-a-token"}})
	wantError(t, err, "InvalidGrantTokenException", anyMessage)
	wantType[*types.InvalidGrantTokenException](t, err)
	_, err = bob.Encrypt(ctx, encryptIn(id, caseCtx))
	wantError(t, err, "AccessDeniedException", anyMessage)

	list, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: md.KeyId})
	mustOK(t, err, "ListGrants")
	if len(list.Grants) != 1 || list.Truncated {
		t.Fatalf("ListGrants: %d grants, truncated %v", len(list.Grants), list.Truncated)
	}
	ge := list.Grants[0]
	if aws.ToString(ge.KeyId) != aws.ToString(md.Arn) || aws.ToString(ge.GrantId) != grantID || aws.ToString(ge.Name) != "e2e-grant" ||
		aws.ToString(ge.GranteePrincipal) != aliceARN || aws.ToString(ge.RetiringPrincipal) != bobARN ||
		aws.ToString(ge.IssuingAccount) != e.rootARN() || ge.CreationDate == nil || len(ge.Operations) != 2 ||
		ge.Constraints == nil || ge.Constraints.EncryptionContextSubset["case"] != "42" {
		t.Errorf("ListGrants entry: %+v", ge)
	}

	e.ids.set(t, bobARN, identityPolicy(`"kms:ListRetirableGrants"`, ""))
	retirable, err := bob.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(bobARN)})
	mustOK(t, err, "ListRetirableGrants")
	if len(retirable.Grants) != 1 || aws.ToString(retirable.Grants[0].GrantId) != grantID {
		t.Errorf("ListRetirableGrants: %+v", retirable.Grants)
	}
	_, err = alice.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: aws.String(token)})
	wantError(t, err, "AccessDeniedException", anyMessage)
	_, err = bob.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: aws.String(token)})
	mustOK(t, err, "RetireGrant by the retiring principal")
	_, err = alice.Encrypt(ctx, encryptIn(id, caseCtx))
	wantError(t, err, "AccessDeniedException", anyMessage)

	// Revoked: refused from the next request on.
	g2, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String(aliceARN),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	mustOK(t, err, "CreateGrant")
	_, err = alice.Encrypt(ctx, encryptIn(id, nil))
	mustOK(t, err, "Encrypt through an unconstrained grant")
	_, err = alice.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: md.KeyId, GrantId: g2.GrantId})
	wantError(t, err, "AccessDeniedException", notAuthorized(aliceARN, "kms:RevokeGrant", aws.ToString(md.Arn),
		"because no identity-based policy allows the kms:RevokeGrant action"))
	_, err = root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: md.KeyId, GrantId: g2.GrantId})
	mustOK(t, err, "RevokeGrant")
	_, err = alice.Encrypt(ctx, encryptIn(id, nil))
	wantError(t, err, "AccessDeniedException", anyMessage)
	_, err = root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: md.KeyId, GrantId: g2.GrantId})
	wantError(t, err, "NotFoundException", anyMessage)

	// A grant reaches another account, where the key policy does not.
	other := e.other()
	otherRoot := "arn:aws:iam::" + otherAccount + ":root"
	_, err = other.Encrypt(ctx, encryptIn(aws.ToString(md.Arn), nil))
	wantError(t, err, "AccessDeniedException", notAuthorized(otherRoot, "kms:Encrypt", aws.ToString(md.Arn),
		"because no resource-based policy allows the kms:Encrypt action"))
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String(otherRoot),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	mustOK(t, err, "CreateGrant to another account")
	_, err = other.Encrypt(ctx, encryptIn(aws.ToString(md.Arn), nil))
	mustOK(t, err, "cross-account Encrypt through a grant")

	// Operations a key cannot do are refused.
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String(aliceARN),
		Operations: []types.GrantOperation{types.GrantOperationSign}})
	wantError(t, err, "ValidationException", anyMessage)
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String(aliceARN),
		Operations: []types.GrantOperation{types.GrantOperationCreateGrant}})
	wantError(t, err, "ValidationException", "Grants must not contain only the CreateGrant operation.")
}

// TestAuthzTenancy: a key lives in its region and account; another region
// does not know it, another account reaches it only by ARN and only as
// far as the key policy allows.
func TestAuthzTenancy(t *testing.T) {
	e := startAuthz(t)
	ctx := t.Context()
	west := e.client(e.AccessKeyID, e.Secret, "us-west-2")
	east := e.client(e.AccessKeyID, e.Secret, "us-east-1")
	out, err := west.CreateKey(ctx, &kms.CreateKeyInput{})
	mustOK(t, err, "CreateKey in us-west-2")
	id, arn := aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
	if !strings.HasPrefix(arn, "arn:aws:kms:us-west-2:"+e.Account+":key/") {
		t.Fatalf("key made with a us-west-2 scope has ARN %s", arn)
	}
	_, err = west.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "DescribeKey in us-west-2")
	_, err = east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantError(t, err, "NotFoundException", "Key 'arn:aws:kms:us-east-1:"+e.Account+":key/"+id+"' does not exist")
	_, err = east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	wantError(t, err, "NotFoundException", "Invalid arn us-west-2")
	keys, err := east.ListKeys(ctx, &kms.ListKeysInput{})
	mustOK(t, err, "ListKeys in us-east-1")
	for _, k := range keys.Keys {
		if aws.ToString(k.KeyId) == id {
			t.Errorf("ListKeys in us-east-1 lists the us-west-2 key")
		}
	}

	otherWest := e.client(e.otherKey[0], e.otherKey[1], "us-west-2")
	otherRoot := "arn:aws:iam::" + otherAccount + ":root"
	_, err = otherWest.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantError(t, err, "NotFoundException", "Key 'arn:aws:kms:us-west-2:"+otherAccount+":key/"+id+"' does not exist")
	_, err = otherWest.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	wantError(t, err, "AccessDeniedException", notAuthorized(otherRoot, "kms:DescribeKey", arn,
		"because no resource-based policy allows the kms:DescribeKey action"))
	shared := e.policy(e.rootStmt(), allow(`{"AWS":"`+otherRoot+`"}`, `["kms:DescribeKey","kms:Encrypt","kms:ScheduleKeyDeletion"]`, ""))
	_, err = west.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(shared)})
	mustOK(t, err, "PutKeyPolicy")
	_, err = otherWest.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	mustOK(t, err, "cross-account DescribeKey")
	_, err = otherWest.Encrypt(ctx, encryptIn(arn, nil))
	mustOK(t, err, "cross-account Encrypt")
	// Managing a key is never shared across accounts.
	_, err = otherWest.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn)})
	wantError(t, err, "AccessDeniedException", anyMessage)
}

// iamIdentities is kms.Identities over the real iam.Service, as the app
// will wire it: the service is set once the app has made it.
type iamIdentities struct{ svc *iamsvc.Service }

func (a *iamIdentities) PrincipalPolicies(ctx context.Context, c *identity.Caller) (*policy.Policies, error) {
	pp, err := a.svc.PrincipalPolicies(ctx, c)
	if err != nil {
		return nil, err
	}
	ps := pp.Policies()
	return &ps, nil
}

func (a *iamIdentities) PrincipalExists(ctx context.Context, arn string) bool {
	return a.svc.PrincipalExists(ctx, arn)
}

// TestAuthzWithIAM: users made through the IAM API, their policies put
// through it, decide KMS requests through the real iam.Service; a policy
// change counts from the next request.
func TestAuthzWithIAM(t *testing.T) {
	ids := &iamIdentities{}
	env := testenv.Start(t, testenv.WithIdentities(ids))
	ids.svc = env.App.IAM
	ctx := t.Context()
	cfg := aws.Config{Region: env.Region, Credentials: credentials.NewStaticCredentialsProvider(env.AccessKeyID, env.Secret, ""),
		HTTPClient: testenv.HTTPClient(nil)}
	rootIAM := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(env.URL) })

	_, err := rootIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dana")})
	mustOK(t, err, "CreateUser")
	key, err := rootIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dana")})
	mustOK(t, err, "CreateAccessKey")
	dana := env.Client(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey))
	danaARN := "arn:aws:iam::" + env.Account + ":user/dana"

	md := createKey(t, env, nil)
	_, err = dana.Encrypt(ctx, encryptIn(aws.ToString(md.KeyId), nil))
	wantError(t, err, "AccessDeniedException", notAuthorized(danaARN, "kms:Encrypt", aws.ToString(md.Arn),
		"because no identity-based policy allows the kms:Encrypt action"))

	_, err = rootIAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dana"), PolicyName: aws.String("kms"),
		PolicyDocument: aws.String(identityPolicy(`["kms:Encrypt","kms:DescribeKey"]`, ""))})
	mustOK(t, err, "PutUserPolicy")
	_, err = dana.Encrypt(ctx, encryptIn(aws.ToString(md.KeyId), nil))
	mustOK(t, err, "Encrypt once the user policy allows it")

	_, err = rootIAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("dana"), PolicyName: aws.String("kms")})
	mustOK(t, err, "DeleteUserPolicy")
	_, err = dana.Encrypt(ctx, encryptIn(aws.ToString(md.KeyId), nil))
	wantError(t, err, "AccessDeniedException", anyMessage)

	// Key policies may name the user, but not a user that does not exist.
	root := env.KMS
	names := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + env.Account + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"` + danaARN + `"},"Action":"kms:Encrypt","Resource":"*"}]}`
	_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(names)})
	mustOK(t, err, "PutKeyPolicy naming the user")
	_, err = dana.Encrypt(ctx, encryptIn(aws.ToString(md.KeyId), nil))
	mustOK(t, err, "Encrypt allowed by the key policy alone")
	ghost := strings.ReplaceAll(names, "user/dana", "user/ghost")
	_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(ghost)})
	wantError(t, err, "MalformedPolicyDocumentException", "Policy contains a statement with one or more invalid principals.")
}
