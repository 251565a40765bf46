package e2e

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/testenv"
)

// Helpers shared by the e2e tests of the KMS operations.

// anyMessage makes wantError check the exception name only, for errors
// whose exact AWS text is not known.
const anyMessage = "\x00any message"

// wantError reports whether err is the AWS exception code with exactly the
// message msg (an empty msg means no message, as AWS sends for
// InvalidCiphertextException). It fails the test otherwise.
func wantError(t testing.TB, err error, code, msg string) bool {
	t.Helper()
	if err == nil {
		if msg == anyMessage {
			t.Errorf("got success, want %s", code)
		} else {
			t.Errorf("got success, want %s %q", code, msg)
		}
		return false
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("error %v is not an AWS API error, want %s", err, code)
		return false
	}
	if ae.ErrorCode() != code {
		if msg == anyMessage {
			t.Errorf("got %s %q, want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
		} else {
			t.Errorf("got %s %q, want %s %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
		}
		return false
	}
	if msg != anyMessage && ae.ErrorMessage() != msg {
		t.Errorf("%s message = %q, want %q", code, ae.ErrorMessage(), msg)
		return false
	}
	return true
}

// wantErrorPrefix is wantError for messages known only by their start.
func wantErrorPrefix(t testing.TB, err error, code, prefix string) {
	t.Helper()
	if !wantError(t, err, code, anyMessage) {
		return
	}
	var ae smithy.APIError
	errors.As(err, &ae)
	if !strings.HasPrefix(ae.ErrorMessage(), prefix) {
		t.Errorf("%s message = %q, want prefix %q", code, ae.ErrorMessage(), prefix)
	}
}

// wantType checks that the SDK decoded err into the typed exception E.
func wantType[E error](t testing.TB, err error) {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Errorf("error %v (%T) is not a %T", err, err, e)
	}
}

func mustOK(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func createKey(t testing.TB, env *testenv.Env, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kms.CreateKeyInput{}
	}
	out, err := env.KMS.CreateKey(t.Context(), in)
	mustOK(t, err, "CreateKey")
	return out.KeyMetadata
}

func describe(t testing.TB, env *testenv.Env, keyID string) *types.KeyMetadata {
	t.Helper()
	out, err := env.KMS.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	mustOK(t, err, "DescribeKey "+keyID)
	return out.KeyMetadata
}

func createAlias(t testing.TB, env *testenv.Env, name, target string) {
	t.Helper()
	_, err := env.KMS.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(target)})
	mustOK(t, err, "CreateAlias "+name)
}

func keyARN(env *testenv.Env, id string) string {
	return "arn:aws:kms:" + env.Region + ":" + env.Account + ":key/" + id
}

func aliasARN(env *testenv.Env, name string) string {
	return "arn:aws:kms:" + env.Region + ":" + env.Account + ":" + name
}

// otherRegion is a region the test server does not serve.
func otherRegion(env *testenv.Env) string {
	if env.Region == "us-west-2" {
		return "eu-west-1"
	}
	return "us-west-2"
}

func near(a, b time.Time, slack time.Duration) bool {
	d := a.Sub(b)
	return d <= slack && d >= -slack
}

var (
	uuidRE       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	materialIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

const day = 24 * time.Hour

// checkSymmetricMetadata checks every KeyMetadata member AWS returns for an
// enabled symmetric AWS_KMS customer managed key.
func checkSymmetricMetadata(t *testing.T, env *testenv.Env, md *types.KeyMetadata, description string) {
	t.Helper()
	id := aws.ToString(md.KeyId)
	if !uuidRE.MatchString(id) {
		t.Errorf("KeyId = %q, want a lowercase UUID", id)
	}
	if got := aws.ToString(md.Arn); got != keyARN(env, id) {
		t.Errorf("Arn = %q, want %q", got, keyARN(env, id))
	}
	if got := aws.ToString(md.AWSAccountId); got != env.Account {
		t.Errorf("AWSAccountId = %q, want %q", got, env.Account)
	}
	if md.CreationDate == nil || md.CreationDate.After(env.Clock.Now().Add(time.Second)) {
		t.Errorf("CreationDate = %v, want a time before %v", md.CreationDate, env.Clock.Now())
	}
	if md.Description == nil || *md.Description != description {
		t.Errorf("Description = %v, want %q (present)", md.Description, description)
	}
	if !md.Enabled || md.KeyState != types.KeyStateEnabled {
		t.Errorf("Enabled, KeyState = %v, %s; want true, Enabled", md.Enabled, md.KeyState)
	}
	if md.KeyUsage != types.KeyUsageTypeEncryptDecrypt {
		t.Errorf("KeyUsage = %s", md.KeyUsage)
	}
	if md.KeySpec != types.KeySpecSymmetricDefault || md.CustomerMasterKeySpec != types.CustomerMasterKeySpecSymmetricDefault {
		t.Errorf("KeySpec, CustomerMasterKeySpec = %s, %s; want SYMMETRIC_DEFAULT twice", md.KeySpec, md.CustomerMasterKeySpec)
	}
	if md.Origin != types.OriginTypeAwsKms || md.KeyManager != types.KeyManagerTypeCustomer {
		t.Errorf("Origin, KeyManager = %s, %s; want AWS_KMS, CUSTOMER", md.Origin, md.KeyManager)
	}
	if len(md.EncryptionAlgorithms) != 1 || md.EncryptionAlgorithms[0] != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("EncryptionAlgorithms = %v, want [SYMMETRIC_DEFAULT]", md.EncryptionAlgorithms)
	}
	if md.MultiRegion == nil || *md.MultiRegion {
		t.Errorf("MultiRegion = %v, want false (present)", md.MultiRegion)
	}
	if !materialIDRE.MatchString(aws.ToString(md.CurrentKeyMaterialId)) {
		t.Errorf("CurrentKeyMaterialId = %q, want 64 lowercase hex", aws.ToString(md.CurrentKeyMaterialId))
	}
	// Members AWS leaves out for such a key.
	if md.DeletionDate != nil || md.ValidTo != nil || md.ExpirationModel != "" || md.PendingDeletionWindowInDays != nil ||
		md.MultiRegionConfiguration != nil || md.CustomKeyStoreId != nil || md.CloudHsmClusterId != nil || md.XksKeyConfiguration != nil ||
		md.SigningAlgorithms != nil || md.MacAlgorithms != nil || md.KeyAgreementAlgorithms != nil || md.EncapsulationAlgorithms != nil {
		t.Errorf("unexpected members in %+v", md)
	}
}

func TestCreateKeyAndDescribeKeyMetadata(t *testing.T) {
	env := testenv.Start(t)
	md := createKey(t, env, nil)
	checkSymmetricMetadata(t, env, md, "")
	if !near(*md.CreationDate, env.Clock.Now(), time.Second) {
		t.Errorf("CreationDate = %v, want ≈ %v (the lifecycle clock)", md.CreationDate, env.Clock.Now())
	}

	id := aws.ToString(md.KeyId)
	createAlias(t, env, "alias/meta", id)
	for _, form := range []string{id, keyARN(env, id), "alias/meta", aliasARN(env, "alias/meta")} {
		got := describe(t, env, form)
		checkSymmetricMetadata(t, env, got, "")
		if aws.ToString(got.KeyId) != id || aws.ToString(got.CurrentKeyMaterialId) != aws.ToString(md.CurrentKeyMaterialId) ||
			!got.CreationDate.Equal(*md.CreationDate) {
			t.Errorf("DescribeKey(%s) = %+v, want the created key %+v", form, got, md)
		}
	}

	// A second key differs in everything that identifies it.
	md2 := createKey(t, env, nil)
	if aws.ToString(md2.KeyId) == id || aws.ToString(md2.CurrentKeyMaterialId) == aws.ToString(md.CurrentKeyMaterialId) {
		t.Errorf("two keys share an id or material id: %+v %+v", md, md2)
	}
}

func TestCreateKeyOptions(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	doc := `{"Version":"2012-10-17","Id":"custom","Statement":[{"Sid":"Root","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::` + env.Account + `:root"},"Action":"kms:*","Resource":"*"}]}`
	md := createKey(t, env, &kms.CreateKeyInput{
		Description:                    aws.String("app data key"),
		KeyUsage:                       types.KeyUsageTypeEncryptDecrypt,
		KeySpec:                        types.KeySpecSymmetricDefault,
		Tags:                           []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("core")}, {TagKey: aws.String("env"), TagValue: aws.String("")}},
		Policy:                         aws.String(doc),
		BypassPolicyLockoutSafetyCheck: true,
	})
	checkSymmetricMetadata(t, env, md, "app data key")
	id := aws.ToString(md.KeyId)
	checkSymmetricMetadata(t, env, describe(t, env, id), "app data key")

	tags, err := env.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
	mustOK(t, err, "ListResourceTags")
	if got := tagString(tags.Tags); got != "env=,team=core" {
		t.Errorf("tags = %s, want env=,team=core", got)
	}
	pol, err := env.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")})
	mustOK(t, err, "GetKeyPolicy")
	if aws.ToString(pol.Policy) != doc {
		t.Errorf("policy = %s, want %s", aws.ToString(pol.Policy), doc)
	}

	// The deprecated CustomerMasterKeySpec member names the same thing.
	md = createKey(t, env, &kms.CreateKeyInput{CustomerMasterKeySpec: types.CustomerMasterKeySpecSymmetricDefault})
	checkSymmetricMetadata(t, env, md, "")
}

func TestCreateKeyRefused(t *testing.T) {
	env := testenv.Start(t)
	tooManyTags := make([]types.Tag, 51)
	for i := range tooManyTags {
		tooManyTags[i] = types.Tag{TagKey: aws.String("k" + strings.Repeat("x", i)), TagValue: aws.String("v")}
	}
	for _, tc := range []struct {
		name   string
		in     kms.CreateKeyInput
		code   string
		msg    string
		prefix bool
	}{
		// Pairings AWS refuses, and SM2, which Trent does not offer.
		{"RSA key agreement", kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeKeyAgreement},
			"ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048", false},
		{"secp256k1 key agreement", kms.CreateKeyInput{KeySpec: types.KeySpecEccSecgP256k1, KeyUsage: types.KeyUsageTypeKeyAgreement},
			"ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec ECC_SECG_P256K1", false},
		{"HMAC signing", kms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeSignVerify},
			"ValidationException", "KeyUsage SIGN_VERIFY is not compatible with KeySpec HMAC_256", false},
		{"ML-DSA encryption", kms.CreateKeyInput{KeySpec: types.KeySpecMlDsa65, KeyUsage: types.KeyUsageTypeEncryptDecrypt},
			"ValidationException", "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ML_DSA_65", false},
		{"CMKSpec ECC encryption", kms.CreateKeyInput{CustomerMasterKeySpec: types.CustomerMasterKeySpecEccNistP256, KeyUsage: types.KeyUsageTypeEncryptDecrypt},
			"ValidationException", "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ECC_NIST_P256", false},
		{"SM2", kms.CreateKeyInput{KeySpec: types.KeySpecSm2, KeyUsage: types.KeyUsageTypeSignVerify},
			"UnsupportedOperationException", anyMessage, false},
		{"HMAC without usage", kms.CreateKeyInput{KeySpec: types.KeySpecHmac256},
			"ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.", false},
		{"symmetric SIGN_VERIFY", kms.CreateKeyInput{KeyUsage: types.KeyUsageTypeSignVerify},
			"ValidationException", "KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT", false},
		{"unknown usage", kms.CreateKeyInput{KeyUsage: "RANDOM"},
			"ValidationException", "1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [", true},
		{"unknown spec", kms.CreateKeyInput{KeySpec: "HMAC_random"},
			"ValidationException", "1 validation error detected: Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [", true},
		{"both specs", kms.CreateKeyInput{KeySpec: types.KeySpecSymmetricDefault, CustomerMasterKeySpec: types.CustomerMasterKeySpecSymmetricDefault},
			"ValidationException", anyMessage, false},
		{"long description", kms.CreateKeyInput{Description: aws.String(strings.Repeat("d", 8193))},
			// The echoed value is clipped to 1 KiB: a message must not
			// repeat a request's megabytes.
			"ValidationException", "1 validation error detected: Value '" + strings.Repeat("d", 1021) + "...' at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192", false},
		{"malformed policy", kms.CreateKeyInput{Policy: aws.String(`{"Statement":`)},
			"MalformedPolicyDocumentException", anyMessage, false},
		{"policy without statement", kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17"}`)},
			"MalformedPolicyDocumentException", anyMessage, false},
		{"too many tags", kms.CreateKeyInput{Tags: tooManyTags}, "TagException", "Too many tags", false},
		{"reserved tag", kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("aws:key1"), TagValue: aws.String("v")}}},
			"TagException", "Tags beginning with aws: are reserved", false},
		{"CloudHSM origin", kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm},
			"UnsupportedOperationException", anyMessage, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.KMS.CreateKey(t.Context(), &tc.in)
			if tc.prefix {
				wantErrorPrefix(t, err, tc.code, tc.msg)
			} else {
				wantError(t, err, tc.code, tc.msg)
			}
		})
	}
	// A refused CreateKey leaves no key behind.
	out, err := env.KMS.ListKeys(t.Context(), &kms.ListKeysInput{})
	mustOK(t, err, "ListKeys")
	if len(out.Keys) != 0 {
		t.Errorf("ListKeys after refused CreateKeys = %d keys, want 0", len(out.Keys))
	}
}

func TestDescribeKeyNotFound(t *testing.T) {
	env := testenv.Start(t)
	md := createKey(t, env, nil)
	id := aws.ToString(md.KeyId)
	unknown := "134f2428-cec1-4b25-a1ae-9048164dba47"
	otherRegionARN := "arn:aws:kms:" + otherRegion(env) + ":" + env.Account + ":key/" + id
	for _, tc := range []struct{ keyID, msg string }{
		{"fake-key-id", "Invalid keyId 'fake-key-id'"},
		{"134f2428cec14b25a1ae9048164dba47", "Invalid keyId '134f2428cec14b25a1ae9048164dba47'"},
		{"mrk-fake-key-id", "Invalid keyId 'mrk-fake-key-id'"},
		{unknown, "Key '" + keyARN(env, unknown) + "' does not exist"},
		{keyARN(env, unknown), "Key '" + keyARN(env, unknown) + "' does not exist"},
		{"mrk-d3b95762d3b95762d3b95762d3b95762", "Key '" + keyARN(env, "mrk-d3b95762d3b95762d3b95762d3b95762") + "' does not exist"},
		{otherRegionARN, "Invalid arn " + otherRegion(env)},
		{"alias/missing", "Alias " + aliasARN(env, "alias/missing") + " is not found."},
		{aliasARN(env, "alias/missing"), "Alias " + aliasARN(env, "alias/missing") + " is not found."},
	} {
		t.Run(tc.keyID, func(t *testing.T) {
			_, err := env.KMS.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(tc.keyID)})
			wantError(t, err, "NotFoundException", tc.msg)
			wantType[*types.NotFoundException](t, err)
		})
	}
}

func TestListKeysPagination(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	want := map[string]bool{}
	for range 7 {
		want[aws.ToString(createKey(t, env, nil).KeyId)] = true
	}

	all, err := env.KMS.ListKeys(ctx, &kms.ListKeysInput{})
	mustOK(t, err, "ListKeys")
	if len(all.Keys) != 7 || all.Truncated || all.NextMarker != nil {
		t.Errorf("ListKeys = %d keys, truncated %v, marker %v; want 7, false, none", len(all.Keys), all.Truncated, all.NextMarker)
	}

	seen := map[string]bool{}
	pages := 0
	listAll(t, "ListKeys", 2, func(marker *string) (page[types.KeyListEntry], error) {
		out, err := env.KMS.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(2), Marker: marker})
		if err != nil {
			return page[types.KeyListEntry]{}, err
		}
		pages++
		for _, k := range out.Keys {
			id := aws.ToString(k.KeyId)
			if seen[id] || !want[id] {
				t.Errorf("page %d: key %s repeated or unknown", pages, id)
			}
			seen[id] = true
			if aws.ToString(k.KeyArn) != keyARN(env, id) {
				t.Errorf("KeyArn = %s, want %s", aws.ToString(k.KeyArn), keyARN(env, id))
			}
		}
		return page[types.KeyListEntry]{out.Keys, out.Truncated, out.NextMarker}, nil
	})
	if pages != 4 || len(seen) != 7 {
		t.Errorf("paged through %d pages and %d keys, want 4 and 7", pages, len(seen))
	}

	aliasMarker := func() *string {
		for i := range 2 {
			createAlias(t, env, "alias/page"+string(rune('a'+i)), aws.ToString(all.Keys[0].KeyId))
		}
		out, err := env.KMS.ListAliases(ctx, &kms.ListAliasesInput{Limit: aws.Int32(1)})
		mustOK(t, err, "ListAliases")
		return out.NextMarker
	}()
	for _, tc := range []struct {
		name  string
		in    kms.ListKeysInput
		code  string
		msg   string
		exact bool
	}{
		{"limit 0", kms.ListKeysInput{Limit: aws.Int32(0)}, "ValidationException",
			"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", true},
		{"limit 1001", kms.ListKeysInput{Limit: aws.Int32(1001)}, "ValidationException",
			"1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000", true},
		{"garbage marker", kms.ListKeysInput{Marker: aws.String("not-a-marker!")}, "InvalidMarkerException", "", false},
		{"made-up marker", kms.ListKeysInput{Marker: aws.String("AAAAAAAAAAAAAAAA")}, "InvalidMarkerException", "", false},
		{"ListAliases marker", kms.ListKeysInput{Marker: aliasMarker}, "InvalidMarkerException", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.KMS.ListKeys(ctx, &tc.in)
			if tc.exact {
				wantError(t, err, tc.code, tc.msg)
			} else {
				wantError(t, err, tc.code, anyMessage)
				wantType[*types.InvalidMarkerException](t, err)
			}
		})
	}
}

func TestUpdateKeyDescription(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, &kms.CreateKeyInput{Description: aws.String("before")})
	id := aws.ToString(md.KeyId)
	for _, tc := range []struct{ keyID, description string }{
		{id, "after"},
		{keyARN(env, id), "by arn"},
		{id, ""},
	} {
		_, err := env.KMS.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(tc.keyID), Description: aws.String(tc.description)})
		mustOK(t, err, "UpdateKeyDescription")
		if got := describe(t, env, id).Description; got == nil || *got != tc.description {
			t.Errorf("Description = %v, want %q", got, tc.description)
		}
	}
	_, err := env.KMS.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String(strings.Repeat("x", 8193))})
	wantErrorPrefix(t, err, "ValidationException", "1 validation error detected: Value '")
}

func TestEnableDisableKey(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	encrypt := func() error {
		_, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
		return err
	}
	for range 2 { // both are idempotent
		_, err := env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
		mustOK(t, err, "DisableKey")
	}
	got := describe(t, env, id)
	if got.Enabled || got.KeyState != types.KeyStateDisabled {
		t.Errorf("after DisableKey: Enabled %v, KeyState %s", got.Enabled, got.KeyState)
	}
	err := encrypt()
	wantError(t, err, "DisabledException", arn+" is disabled.")
	wantType[*types.DisabledException](t, err)

	for range 2 {
		_, err := env.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(arn)})
		mustOK(t, err, "EnableKey")
	}
	got = describe(t, env, id)
	if !got.Enabled || got.KeyState != types.KeyStateEnabled {
		t.Errorf("after EnableKey: Enabled %v, KeyState %s", got.Enabled, got.KeyState)
	}
	mustOK(t, encrypt(), "Encrypt after EnableKey")
}

func TestScheduleKeyDeletion(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	for _, tc := range []struct {
		window *int32
		days   int32
	}{{nil, 30}, {aws.Int32(7), 7}, {aws.Int32(30), 30}, {aws.Int32(12), 12}} {
		md := createKey(t, env, nil)
		id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
		out, err := env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: tc.window})
		mustOK(t, err, "ScheduleKeyDeletion")
		wantDate := env.Clock.Now().Add(time.Duration(tc.days) * day)
		if aws.ToString(out.KeyId) != arn || out.KeyState != types.KeyStatePendingDeletion ||
			aws.ToInt32(out.PendingWindowInDays) != tc.days || out.DeletionDate == nil || !near(*out.DeletionDate, wantDate, time.Second) {
			t.Errorf("ScheduleKeyDeletion(%d days) = %s %s %v %v; want %s PendingDeletion %d %v",
				tc.days, aws.ToString(out.KeyId), out.KeyState, aws.ToInt32(out.PendingWindowInDays), out.DeletionDate, arn, tc.days, wantDate)
		}
		got := describe(t, env, id)
		if got.Enabled || got.KeyState != types.KeyStatePendingDeletion || got.DeletionDate == nil || !got.DeletionDate.Equal(*out.DeletionDate) {
			t.Errorf("DescribeKey after ScheduleKeyDeletion: Enabled %v, KeyState %s, DeletionDate %v", got.Enabled, got.KeyState, got.DeletionDate)
		}
		// Scheduling twice is refused with the text Terraform looks for.
		_, err = env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn)})
		wantError(t, err, "KMSInvalidStateException", arn+" is pending deletion.")
		wantType[*types.KMSInvalidStateException](t, err)
	}

	md := createKey(t, env, nil)
	for _, n := range []int32{6, 31, 0, 365} {
		_, err := env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(n)})
		wantError(t, err, "ValidationException", anyMessage)
	}
	if got := describe(t, env, aws.ToString(md.KeyId)); got.KeyState != types.KeyStateEnabled {
		t.Errorf("refused ScheduleKeyDeletion changed the state to %s", got.KeyState)
	}
}

func TestCancelKeyDeletion(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)

	_, err := env.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	wantErrorPrefix(t, err, "KMSInvalidStateException", arn+" is not pending deletion")

	_, err = env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)})
	mustOK(t, err, "ScheduleKeyDeletion")
	out, err := env.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(arn)})
	mustOK(t, err, "CancelKeyDeletion")
	if aws.ToString(out.KeyId) != arn {
		t.Errorf("CancelKeyDeletion KeyId = %s, want %s", aws.ToString(out.KeyId), arn)
	}
	got := describe(t, env, id)
	if got.Enabled || got.KeyState != types.KeyStateDisabled || got.DeletionDate != nil {
		t.Errorf("after CancelKeyDeletion: Enabled %v, KeyState %s, DeletionDate %v; want false, Disabled, none", got.Enabled, got.KeyState, got.DeletionDate)
	}
	_, err = env.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	wantErrorPrefix(t, err, "KMSInvalidStateException", arn+" is not pending deletion")

	// A cancelled key is back to normal once enabled, and survives the
	// date it was to be deleted on.
	_, err = env.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "EnableKey")
	env.Clock.Advance(31 * day)
	env.RunJobs(t)
	checkSymmetricMetadata(t, env, describe(t, env, id), "")
}
