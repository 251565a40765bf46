package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/testenv"
)

// The authorization table: principals of every kind, keys with different
// key policies, and for each (principal, operation, key) the decision AWS
// KMS makes. Everything is set up and exercised through the public APIs
// (IAM, STS and KMS over HTTP with aws-sdk-go-v2), as a team would on AWS.

// world is the fixture the table runs against.
type world struct {
	e       *testenv.Env
	acct    string // account A, the dev account
	other   string // account B
	kms     map[string]*kms.Client
	arn     map[string]string // principal name → ARN
	keys    map[string]string // key name → key ARN
	blobs   map[string][]byte // key name → a ciphertext made by root (context app=test)
	grantTo map[string]string // grant token by name
}

const (
	allowed = "allowed"
	denied  = "AccessDeniedException"
)

func policyDoc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func iamClient(e *testenv.Env, id, secret string) *iam.Client {
	return iam.NewFromConfig(testenv.Config(e.URL, e.Region, id, secret, ""))
}

func stsClient(e *testenv.Env, id, secret, token string) *sts.Client {
	return sts.NewFromConfig(testenv.Config(e.URL, e.Region, id, secret, token))
}

func kmsSession(e *testenv.Env, c *ststypes.Credentials) *kms.Client {
	return kms.NewFromConfig(testenv.Config(e.URL, e.Region, *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
}

// mustErr carries a setup call's error to catch, which fails the test:
// must takes a call's two results directly, which a t parameter would not
// allow.
type mustErr struct{ err error }

func must[T any](v T, err error) T {
	if err != nil {
		panic(mustErr{err})
	}
	return v
}

// catch turns a failed must into a test failure; defer it where must is used.
func catch(t testing.TB) {
	if p := recover(); p != nil {
		if m, ok := p.(mustErr); ok {
			t.Helper()
			t.Fatalf("setup: %v", m.err)
		}
		panic(p)
	}
}

// newUser makes an IAM user with an access key, optional tags and inline
// policy, and returns a KMS client signed with its key.
func (w *world) newUser(t testing.TB, admin *iam.Client, name string, tags map[string]string, inline string) {
	t.Helper()
	defer catch(t)
	ctx := context.Background()
	in := &iam.CreateUserInput{UserName: aws.String(name)}
	for k, v := range tags {
		in.Tags = append(in.Tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	u := must(admin.CreateUser(ctx, in))
	w.arn[name] = *u.User.Arn
	if inline != "" {
		must(admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("inline"), PolicyDocument: aws.String(inline)}))
	}
	k := must(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)}))
	w.kms[name] = w.e.Client(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey)
}

func (w *world) newKey(t testing.TB, name, keyPolicy string, tags map[string]string) {
	t.Helper()
	defer catch(t)
	ctx := context.Background()
	in := &kms.CreateKeyInput{Description: aws.String(name)}
	if keyPolicy != "" {
		in.Policy = aws.String(keyPolicy)
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, kmstypes.Tag{TagKey: aws.String(k), TagValue: aws.String(v)})
	}
	out := must(w.e.KMS.CreateKey(ctx, in))
	w.keys[name] = *out.KeyMetadata.Arn
	enc, err := w.e.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: out.KeyMetadata.Arn, Plaintext: []byte("secret"), EncryptionContext: map[string]string{"app": "test"}})
	if err == nil {
		w.blobs[name] = enc.CiphertextBlob
	}
}

// rootAdmin is the statement that keeps a key manageable by the account
// root without delegating its use to IAM policies.
func rootAdmin(acct string) string {
	return `{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":["kms:Describe*","kms:Get*","kms:List*","kms:Put*","kms:Create*","kms:Enable*","kms:Disable*","kms:Schedule*","kms:Cancel*","kms:Tag*","kms:Untag*","kms:Revoke*","kms:Retire*","kms:Encrypt"],"Resource":"*"}`
}

func setupWorld(t *testing.T) *world {
	defer catch(t)
	e := testenv.Start(t)
	ctx := context.Background()
	w := &world{e: e, acct: e.Account, kms: map[string]*kms.Client{"root": e.KMS}, arn: map[string]string{"root": "arn:aws:iam::" + e.Account + ":root"},
		keys: map[string]string{}, blobs: map[string][]byte{}, grantTo: map[string]string{}}
	admin := iamClient(e, e.AccessKeyID, e.Secret)
	a := e.Account

	// Account B and its user zed, allowed to encrypt with A's shared key.
	otherAcct, otherID, otherSecret := e.NewAccount(t)
	w.other = otherAcct
	w.kms["rootB"] = e.Client(otherID, otherSecret)
	adminB := iamClient(e, otherID, otherSecret)

	// Users named in key policies exist before the keys (AWS refuses a
	// key policy naming a principal that does not exist).
	w.newUser(t, admin, "alice", nil, "")
	w.newUser(t, admin, "bob", nil, policyDoc(`{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*","kms:ReEncrypt*"],"Resource":"*"}`,
		`{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"arn:aws:iam::`+a+`:role/*"}`))

	// Keys of account A.
	w.newKey(t, "default", "", nil) // delegates everything to IAM
	w.newKey(t, "direct", policyDoc(rootAdmin(a),
		`{"Sid":"alice","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+a+`:user/alice"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}`), nil)
	w.newKey(t, "denybob", policyDoc(
		`{"Sid":"all","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+a+`:root"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"nobob","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::`+a+`:user/bob"},"Action":"kms:Decrypt","Resource":"*"}`), nil)
	w.newKey(t, "ctx", policyDoc(rootAdmin(a),
		`{"Sid":"eng","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+a+`:user/alice"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:dept":"eng"}}}`), nil)
	w.newKey(t, "red", "", map[string]string{"team": "red"})
	w.newKey(t, "blue", "", map[string]string{"team": "blue"})
	w.newKey(t, "shared", policyDoc(
		`{"Sid":"all","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+a+`:root"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"b","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+otherAcct+`:root"},"Action":["kms:Encrypt","kms:DescribeKey"],"Resource":"*"}`), nil)
	w.newKey(t, "notaction", policyDoc(
		`{"Sid":"all","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+a+`:root"},"NotAction":["kms:Decrypt"],"Resource":"*"}`), nil)
	w.newKey(t, "ifexists", policyDoc(rootAdmin(a),
		`{"Sid":"ie","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+a+`:user/alice"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEqualsIfExists":{"kms:EncryptionContext:dept":"eng"}}}`), nil)
	must(e.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/frank-app"), TargetKeyId: aws.String(w.keys["default"])}))
	must(e.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/other-app"), TargetKeyId: aws.String(w.keys["default"])}))

	kmsAll := `{"Effect":"Allow","Action":"kms:*","Resource":"*"}`
	w.newUser(t, admin, "carol", nil, "")
	must(admin.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("crypto")}))
	must(admin.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("crypto"), PolicyName: aws.String("all"), PolicyDocument: aws.String(policyDoc(kmsAll))}))
	must(admin.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("crypto"), UserName: aws.String("carol")}))
	// dave: kms:* but a boundary that allows only DescribeKey and Encrypt.
	bnd := must(admin.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("describe-encrypt"), PolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Action":["kms:DescribeKey","kms:Encrypt"],"Resource":"*"}`))}))
	w.newUser(t, admin, "dave", nil, policyDoc(kmsAll))
	must(admin.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("dave"), PermissionsBoundary: bnd.Policy.Arn}))
	// erin: kms:* with an explicit deny of Decrypt.
	w.newUser(t, admin, "erin", nil, policyDoc(kmsAll, `{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}`))
	// frank: only through aliases that start with alias/frank-.
	w.newUser(t, admin, "frank", nil, policyDoc(`{"Effect":"Allow","Action":["kms:Encrypt","kms:DescribeKey"],"Resource":"*","Condition":{"StringLike":{"kms:RequestAlias":"alias/frank-*"}}}`))
	// gina and hal: ABAC, keys whose team tag equals their own.
	abac := policyDoc(`{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}`)
	w.newUser(t, admin, "gina", map[string]string{"team": "red"}, abac)
	w.newUser(t, admin, "hal", map[string]string{"team": "blue"}, abac)
	// ivan: NotResource — everything but the "red" key.
	w.newUser(t, admin, "ivan", nil, policyDoc(`{"Effect":"Allow","Action":"kms:Encrypt","NotResource":"`+w.keys["red"]+`"}`))
	// judy: ForAllValues on the context keys: only "app" may appear
	// (true for an empty context too).
	w.newUser(t, admin, "judy", nil, policyDoc(`{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app"]}}}`))
	// kim: may create keys only with a team tag, and list keys.
	w.newUser(t, admin, "kim", nil, policyDoc(`{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*","Condition":{"Null":{"aws:RequestTag/team":"false"}}}`,
		`{"Effect":"Allow","Action":["kms:ListKeys","kms:ListAliases"],"Resource":"*"}`))
	// leo: allowed kms:* on one key ARN only, denied on CreateKey by NotAction.
	w.newUser(t, admin, "leo", nil, policyDoc(`{"Effect":"Allow","Action":"kms:*","Resource":"`+w.keys["default"]+`"}`,
		`{"Effect":"Deny","NotAction":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}`))
	// mia: algorithm condition: RSA OAEP only — so symmetric encrypt is denied.
	w.newUser(t, admin, "mia", nil, policyDoc(`{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}}`))

	// The role app: trusted by account A, allowed to encrypt and decrypt.
	must(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
		AssumeRolePolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + a + `:root"},"Action":"sts:AssumeRole"}`))}))
	must(admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("use"),
		PolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}`))}))
	bobSTS := func() *sts.Client {
		k := must(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))
		return stsClient(e, *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey, "")
	}()
	assume := func(role, name string, in *sts.AssumeRoleInput) {
		in.RoleArn = aws.String("arn:aws:iam::" + a + ":role/" + role)
		in.RoleSessionName = aws.String(name)
		out := must(bobSTS.AssumeRole(ctx, in))
		w.kms[name] = kmsSession(e, out.Credentials)
		w.arn[name] = *out.AssumedRoleUser.Arn
	}
	assume("app", "sess", &sts.AssumeRoleInput{})
	assume("app", "sess-encrypt-only", &sts.AssumeRoleInput{Policy: aws.String(policyDoc(`{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}`))})
	// The role tagged is tagged team=blue and may use keys of its team;
	// a session tag team=red overrides the role's tag.
	must(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("tagged"),
		AssumeRolePolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + a + `:root"},"Action":["sts:AssumeRole","sts:TagSession"]}`)),
		Tags:                     []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}))
	must(admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("tagged"), PolicyName: aws.String("abac"), PolicyDocument: aws.String(abac)}))
	assume("tagged", "sess-red", &sts.AssumeRoleInput{Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("red")}}})
	assume("tagged", "sess-blue", &sts.AssumeRoleInput{})

	// Account B's user zed may encrypt with any key; only A's shared key
	// trusts account B.
	u := must(adminB.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("zed")}))
	w.arn["zed"] = *u.User.Arn
	must(adminB.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("zed"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Action":["kms:Encrypt","kms:DescribeKey","kms:Decrypt"],"Resource":"*"}`))}))
	zk := must(adminB.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("zed")}))
	w.kms["zed"] = e.Client(*zk.AccessKey.AccessKeyId, *zk.AccessKey.SecretAccessKey)
	w.newUserB(t, adminB, "yan") // no policies

	// Grants on the default key to alice: Encrypt with app=grant, and to
	// carol's nothing (she has kms:* anyway).
	g := must(e.KMS.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(w.keys["default"]), GranteePrincipal: aws.String(w.arn["alice"]),
		Operations:  []kmstypes.GrantOperation{kmstypes.GrantOperationEncrypt, kmstypes.GrantOperationDescribeKey},
		Constraints: &kmstypes.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "grant"}}}))
	w.grantTo["alice-default"] = *g.GrantToken
	return w
}

func (w *world) newUserB(t testing.TB, adminB *iam.Client, name string) {
	t.Helper()
	defer catch(t)
	ctx := context.Background()
	u := must(adminB.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}))
	w.arn[name] = *u.User.Arn
	k := must(adminB.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)}))
	w.kms[name] = w.e.Client(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey)
}

// op is one KMS call against a named key.
type op func(w *world, c *kms.Client, key string) error

func encryptOp(ctx map[string]string) op {
	return func(w *world, c *kms.Client, key string) error {
		_, err := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x"), EncryptionContext: ctx})
		return err
	}
}

// decryptOp decrypts the root-made blob of the key, without a KeyId, so
// the key comes from the ciphertext.
func decryptOp(name string) op {
	return func(w *world, c *kms.Client, _ string) error {
		_, err := c.Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: w.blobs[name], EncryptionContext: map[string]string{"app": "test"}})
		return err
	}
}

func describeOp(w *world, c *kms.Client, key string) error {
	_, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(key)})
	return err
}

func gdkOp(w *world, c *kms.Client, key string) error {
	_, err := c.GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{KeyId: aws.String(key), KeySpec: kmstypes.DataKeySpecAes256})
	return err
}

func putPolicyOp(w *world, c *kms.Client, key string) error {
	_, err := c.PutKeyPolicy(context.Background(), &kms.PutKeyPolicyInput{KeyId: aws.String(key), PolicyName: aws.String("default"),
		Policy: aws.String(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + w.acct + `:root"},"Action":"kms:*","Resource":"*"}`))})
	return err
}

func tagOp(w *world, c *kms.Client, key string) error {
	_, err := c.TagResource(context.Background(), &kms.TagResourceInput{KeyId: aws.String(key), Tags: []kmstypes.Tag{{TagKey: aws.String("t"), TagValue: aws.String("v")}}})
	return err
}

func createKeyOp(tags map[string]string) op {
	return func(w *world, c *kms.Client, _ string) error {
		in := &kms.CreateKeyInput{}
		for k, v := range tags {
			in.Tags = append(in.Tags, kmstypes.Tag{TagKey: aws.String(k), TagValue: aws.String(v)})
		}
		_, err := c.CreateKey(context.Background(), in)
		return err
	}
}

func listKeysOp(w *world, c *kms.Client, _ string) error {
	_, err := c.ListKeys(context.Background(), &kms.ListKeysInput{})
	return err
}

func reEncryptOp(from, to string) op {
	return func(w *world, c *kms.Client, _ string) error {
		_, err := c.ReEncrypt(context.Background(), &kms.ReEncryptInput{CiphertextBlob: w.blobs[from], SourceEncryptionContext: map[string]string{"app": "test"},
			DestinationKeyId: aws.String(w.keys[to])})
		return err
	}
}

func withGrantToken(name string, ctx map[string]string) op {
	return func(w *world, c *kms.Client, key string) error {
		_, err := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x"), EncryptionContext: ctx, GrantTokens: []string{w.grantTo[name]}})
		return err
	}
}

func errCode(err error) string {
	if err == nil {
		return allowed
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}

// TestAuthorizationTable runs each (principal, operation, key) through the
// real server and compares the outcome with AWS KMS's decision.
func TestAuthorizationTable(t *testing.T) {
	w := setupWorld(t)
	appCtx := map[string]string{"app": "test"}
	eng := map[string]string{"dept": "eng"}
	ops := map[string]op{
		"Encrypt": encryptOp(nil), "Encrypt(app)": encryptOp(appCtx), "Encrypt(dept=eng)": encryptOp(eng),
		"Encrypt(dept=ops)": encryptOp(map[string]string{"dept": "ops"}), "Encrypt(app,x)": encryptOp(map[string]string{"app": "1", "x": "2"}),
		"Encrypt(app=grant)": encryptOp(map[string]string{"app": "grant", "more": "ok"}),
		"DescribeKey":        describeOp, "GenerateDataKey": gdkOp, "PutKeyPolicy": putPolicyOp, "TagResource": tagOp,
		"CreateKey": createKeyOp(nil), "CreateKey(team)": createKeyOp(map[string]string{"team": "x"}), "ListKeys": listKeysOp,
		"GrantToken(app=grant)": withGrantToken("alice-default", map[string]string{"app": "grant"}),
	}
	for _, k := range []string{"default", "direct", "denybob", "ctx", "red", "blue", "shared", "notaction", "ifexists"} {
		ops["Decrypt:"+k] = decryptOp(k)
	}
	ops["ReEncrypt:default→red"] = reEncryptOp("default", "red")

	tests := []struct {
		who, op, key, want string
	}{
		// The account root: the default key policy trusts the account.
		{"root", "Encrypt", "default", allowed},
		{"root", "Decrypt:default", "", allowed},
		{"root", "DescribeKey", "default", allowed},
		{"root", "PutKeyPolicy", "blue", allowed}, // writes a policy equivalent to the default
		{"root", "CreateKey", "", allowed},
		{"root", "ListKeys", "", allowed},
		// A key policy that gives root only admin actions: no Decrypt.
		{"root", "Decrypt:direct", "", denied},
		{"root", "GenerateDataKey", "direct", denied},
		{"root", "DescribeKey", "direct", allowed},
		// NotAction on the key policy: everything but Decrypt.
		{"root", "Encrypt", "notaction", allowed},
		{"root", "Decrypt:notaction", "", denied},
		{"carol", "Decrypt:notaction", "", denied},
		{"carol", "Encrypt", "notaction", allowed},

		// alice has no identity policies.
		{"alice", "Encrypt", "default", denied},
		{"alice", "CreateKey", "", denied},
		{"alice", "ListKeys", "", denied},
		// … but the "direct" key policy names her.
		{"alice", "Encrypt", "direct", allowed},
		{"alice", "Decrypt:direct", "", allowed},
		{"alice", "DescribeKey", "direct", allowed},
		{"alice", "GenerateDataKey", "direct", denied},
		{"alice", "PutKeyPolicy", "direct", denied},
		// Encryption-context condition in the key policy.
		{"alice", "Encrypt(dept=eng)", "ctx", allowed},
		{"alice", "Encrypt(dept=ops)", "ctx", denied},
		{"alice", "Encrypt", "ctx", denied},
		{"alice", "Decrypt:ctx", "", denied},
		// IfExists: no dept key → allowed; dept=ops → denied.
		{"alice", "Encrypt", "ifexists", allowed},
		{"alice", "Encrypt(dept=eng)", "ifexists", allowed},
		{"alice", "Encrypt(dept=ops)", "ifexists", denied},
		{"alice", "Decrypt:ifexists", "", allowed},
		// The grant on the default key: Encrypt and DescribeKey with app=grant.
		{"alice", "Encrypt(app=grant)", "default", allowed},
		{"alice", "Encrypt(app)", "default", denied},
		{"alice", "GrantToken(app=grant)", "default", allowed},
		// Grant constraints do not apply to DescribeKey (AWS CreateGrant docs).
		{"alice", "DescribeKey", "default", allowed},
		{"alice", "GenerateDataKey", "default", denied},
		{"alice", "Decrypt:default", "", denied},

		// bob: identity policy allows crypto on any key the key policy
		// delegates to the account.
		{"bob", "Encrypt", "default", allowed},
		{"bob", "Decrypt:default", "", allowed},
		{"bob", "GenerateDataKey", "default", allowed},
		{"bob", "DescribeKey", "default", denied},
		// The direct key's policy delegates only admin actions and Encrypt
		// to the account, so bob's identity policy reaches Encrypt alone.
		{"bob", "Encrypt", "direct", allowed},
		{"bob", "Decrypt:direct", "", denied},
		{"bob", "GenerateDataKey", "direct", denied},
		{"bob", "Encrypt", "denybob", allowed},
		{"bob", "Decrypt:denybob", "", denied}, // explicit deny in the key policy
		{"bob", "ReEncrypt:default→red", "", allowed},
		{"bob", "CreateKey", "", denied},
		{"bob", "PutKeyPolicy", "default", denied},
		{"bob", "Encrypt", "shared", allowed},

		// carol: kms:* through her group.
		{"carol", "Encrypt", "default", allowed},
		{"carol", "DescribeKey", "red", allowed},
		{"carol", "CreateKey", "", allowed},
		{"carol", "ListKeys", "", allowed},
		{"carol", "TagResource", "blue", allowed},
		{"carol", "Encrypt", "direct", allowed},
		{"carol", "GenerateDataKey", "direct", denied},
		{"carol", "Decrypt:denybob", "", allowed},

		// dave: kms:* limited by a boundary to DescribeKey and Encrypt.
		{"dave", "Encrypt", "default", allowed},
		{"dave", "DescribeKey", "default", allowed},
		{"dave", "Decrypt:default", "", denied},
		{"dave", "GenerateDataKey", "default", denied},
		{"dave", "CreateKey", "", denied},
		{"dave", "ListKeys", "", denied},

		// erin: kms:* with an explicit identity deny of Decrypt.
		{"erin", "Encrypt", "default", allowed},
		{"erin", "Decrypt:default", "", denied},
		{"erin", "Decrypt:denybob", "", denied},
		{"erin", "DescribeKey", "blue", allowed},

		// frank: only through an alias named alias/frank-*.
		{"frank", "Encrypt", "alias/frank-app", allowed},
		{"frank", "DescribeKey", "alias/frank-app", allowed},
		{"frank", "Encrypt", "alias/other-app", denied},
		{"frank", "Encrypt", "default", denied},

		// gina (team=red) and hal (team=blue): ABAC on key tags.
		{"gina", "Encrypt", "red", allowed},
		{"gina", "Decrypt:red", "", allowed},
		{"gina", "Encrypt", "blue", denied},
		{"gina", "Encrypt", "default", denied},
		{"hal", "Encrypt", "blue", allowed},
		{"hal", "Encrypt", "red", denied},
		{"hal", "DescribeKey", "blue", allowed},

		// ivan: NotResource — every key but red.
		{"ivan", "Encrypt", "blue", allowed},
		{"ivan", "Encrypt", "default", allowed},
		{"ivan", "Encrypt", "red", denied},
		{"ivan", "DescribeKey", "blue", denied},

		// judy: ForAllValues on the context keys.
		{"judy", "Encrypt", "default", allowed}, // empty set: true
		{"judy", "Encrypt(app)", "default", allowed},
		{"judy", "Encrypt(app,x)", "default", denied},
		{"judy", "Encrypt(dept=eng)", "default", denied},

		// kim: CreateKey only with a team tag (aws:RequestTag, Null).
		{"kim", "CreateKey(team)", "", allowed},
		{"kim", "CreateKey", "", denied},
		{"kim", "ListKeys", "", allowed},
		{"kim", "Encrypt", "default", denied},

		// leo: one key by ARN, and a Deny with NotAction.
		{"leo", "Encrypt", "default", allowed},
		{"leo", "DescribeKey", "default", allowed},
		{"leo", "GenerateDataKey", "default", denied},
		{"leo", "Encrypt", "blue", denied},
		{"leo", "TagResource", "default", denied},

		// mia: algorithm condition.
		{"mia", "Encrypt", "default", denied},

		// Role sessions.
		{"sess", "Encrypt", "default", allowed},
		{"sess", "Decrypt:default", "", allowed},
		{"sess", "DescribeKey", "blue", allowed},
		{"sess", "GenerateDataKey", "default", denied},
		{"sess", "Decrypt:direct", "", denied},
		{"sess-encrypt-only", "Encrypt", "default", allowed},
		{"sess-encrypt-only", "Decrypt:default", "", denied}, // the session policy limits
		{"sess-encrypt-only", "DescribeKey", "default", denied},
		// ABAC on session and role tags: the session tag team=red wins
		// over the role's team=blue.
		{"sess-red", "Encrypt", "red", allowed},
		{"sess-red", "Encrypt", "blue", denied},
		{"sess-blue", "Encrypt", "blue", allowed},
		{"sess-blue", "Encrypt", "red", denied},
		{"sess-blue", "Decrypt:blue", "", allowed},

		// Cross-account: account B's zed on A's keys.
		{"zed", "Encrypt", "shared", allowed},
		{"zed", "DescribeKey", "shared", allowed},
		{"zed", "Decrypt:shared", "", denied}, // the key policy gives B only Encrypt and DescribeKey
		{"zed", "Encrypt", "default", denied},
		{"zed", "Encrypt", "blue", denied},
		{"rootB", "Encrypt", "shared", allowed},
		{"rootB", "Encrypt", "default", denied},
		{"yan", "Encrypt", "shared", denied}, // B's user without an identity policy
	}
	if len(tests) < 100 {
		t.Fatalf("the table has %d cases, want at least 100", len(tests))
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%s/%s", tt.who, tt.op, tt.key)
		t.Run(name, func(t *testing.T) {
			c := w.kms[tt.who]
			f := ops[tt.op]
			if c == nil || f == nil {
				t.Fatalf("unknown principal %q or operation %q", tt.who, tt.op)
			}
			key := tt.key // an alias name is used as it is
			if arn, ok := w.keys[key]; ok {
				key = arn
			}
			err := f(w, c, key)
			if got := errCode(err); got != tt.want {
				t.Errorf("got %s (%v), want %s", got, err, tt.want)
			}
			if tt.want == denied && err != nil {
				msg := err.Error()
				if !strings.Contains(msg, "is not authorized to perform: kms:") {
					t.Errorf("AccessDenied message %q is not in AWS's form", msg)
				}
			}
		})
	}
}

// TestAccessDeniedMessages pins AWS's wording for the main reasons.
func TestAccessDeniedMessages(t *testing.T) {
	w := setupWorld(t)
	tests := []struct {
		who, op, key, want string
	}{
		{"alice", "Encrypt", "default", "User: " + "%alice" + " is not authorized to perform: kms:Encrypt on resource: %key because no identity-based policy allows the kms:Encrypt action"},
		{"bob", "Decrypt:denybob", "denybob", "User: %bob is not authorized to perform: kms:Decrypt on resource: %key with an explicit deny in a resource-based policy"},
		{"erin", "Decrypt:default", "default", "User: %erin is not authorized to perform: kms:Decrypt on resource: %key with an explicit deny in an identity-based policy"},
	}
	for _, tt := range tests {
		t.Run(tt.who, func(t *testing.T) {
			var err error
			switch {
			case strings.HasPrefix(tt.op, "Decrypt:"):
				err = decryptOp(strings.TrimPrefix(tt.op, "Decrypt:"))(w, w.kms[tt.who], "")
			default:
				err = encryptOp(nil)(w, w.kms[tt.who], w.keys[tt.key])
			}
			want := strings.NewReplacer("%"+tt.who, w.arn[tt.who], "%key", w.keys[tt.key]).Replace(tt.want)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != denied || ae.ErrorMessage() != want {
				t.Errorf("got %v\nwant AccessDeniedException: %s", err, want)
			}
		})
	}
}

// TestCredentialStates: inactive, deleted and expired credentials are
// refused as AWS refuses them, and a policy change takes effect at once.
func TestCredentialStates(t *testing.T) {
	defer catch(t)
	e := testenv.Start(t)
	ctx := context.Background()
	admin := iamClient(e, e.AccessKeyID, e.Secret)
	must(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}))
	must(admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Action":["kms:ListKeys","sts:AssumeRole"],"Resource":"*"}`))}))
	k := must(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("u")}))
	id, secret := *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey
	c := e.Client(id, secret)
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("active key: %v", err)
	}
	// A policy change is enforced at once.
	must(admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("p")}))
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); errCode(err) != denied {
		t.Fatalf("after DeleteUserPolicy: %v, want AccessDeniedException", err)
	}
	must(admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Action":["kms:ListKeys","sts:AssumeRole"],"Resource":"*"}`))}))

	// A session made now, used after it expires.
	must(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"),
		AssumeRolePolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + e.Account + `:root"},"Action":"sts:AssumeRole"}`))}))
	must(admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}`))}))
	out := must(stsClient(e, id, secret, "").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + e.Account + ":role/r"), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(900)}))
	sc := kmsSession(e, out.Credentials)
	if _, err := sc.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	e.Clock.Advance(16 * time.Minute)
	if _, err := sc.ListKeys(ctx, &kms.ListKeysInput{}); errCode(err) != "ExpiredTokenException" {
		t.Fatalf("expired session: %v, want ExpiredTokenException", err)
	}
	// A tampered session token.
	bad := *out.Credentials
	bad.SessionToken = aws.String((*bad.SessionToken)[:len(*bad.SessionToken)-4] + "AAAA")
	if _, err := kmsSession(e, &bad).ListKeys(ctx, &kms.ListKeysInput{}); errCode(err) != "UnrecognizedClientException" {
		t.Fatalf("tampered session token: %v, want UnrecognizedClientException", err)
	}

	// Inactive, then deleted.
	must(admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("u"), AccessKeyId: aws.String(id), Status: iamtypes.StatusTypeInactive}))
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); errCode(err) != "UnrecognizedClientException" {
		t.Fatalf("inactive key: %v, want UnrecognizedClientException", err)
	}
	must(admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("u"), AccessKeyId: aws.String(id), Status: iamtypes.StatusTypeActive}))
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("reactivated key: %v", err)
	}
	must(admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("u"), AccessKeyId: aws.String(id)}))
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); errCode(err) != "UnrecognizedClientException" {
		t.Fatalf("deleted key: %v, want UnrecognizedClientException", err)
	}
}
