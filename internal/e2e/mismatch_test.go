package e2e

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestReEncryptSourceKeyCannotHaveMadeIt: a ReEncrypt whose SourceKeyId
// names a key that cannot have made the ciphertext — an HMAC key, a
// signing, key-agreement or ML-KEM key — answers IncorrectKeyException, as
// AWS does, not InvalidKeyUsageException; so does Decrypt with such a
// KeyId. Nothing is re-encrypted.
func TestReEncryptSourceKeyCannotHaveMadeIt(t *testing.T) {
	env := testenv.Start(t)
	c, ctx := env.KMS, t.Context()
	sym := createKey(t, env, nil)
	blob := encrypt(t, env, aws.ToString(sym.KeyId), []byte("made by the symmetric key"), nil)
	for _, k := range []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
	}{
		{types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac},
		{types.KeySpecHmac512, types.KeyUsageTypeGenerateVerifyMac},
		{types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify},
		{types.KeySpecEccNistP384, types.KeyUsageTypeKeyAgreement},
		{types.KeySpecMlDsa44, types.KeyUsageTypeSignVerify},
		{types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate},
	} {
		t.Run(string(k.spec)+"/"+string(k.usage), func(t *testing.T) {
			md := newAsymKey(t, env, k.spec, k.usage)
			for name, id := range map[string]*string{"key id": md.KeyId, "key ARN": md.Arn} {
				_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceKeyId: id, DestinationKeyId: sym.KeyId})
				if !wantError(t, err, "IncorrectKeyException", incorrectKeyMessage) {
					t.Logf("SourceKeyId by %s", name)
				}
				wantType[*types.IncorrectKeyException](t, err)
				_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: id})
				wantError(t, err, "IncorrectKeyException", incorrectKeyMessage)
			}
		})
	}
}

// TestMemberNamesAreCaseSensitive: AWS matches member names exactly, so a
// wrong-case member of the new operations is an unknown member, ignored —
// here leaving a required member absent — never read as the right one.
func TestMemberNamesAreCaseSensitive(t *testing.T) {
	w := startWire(t)
	md := newAsymKey(t, w.Env, types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate)
	id, _ := json.Marshal(aws.ToString(md.KeyId))
	for _, tc := range []struct{ op, body, member string }{
		{"Encapsulate", `{"keyid":` + string(id) + `,"EncapsulationAlgorithm":"ML_KEM"}`, "keyId"},
		{"Encapsulate", `{"KeyId":` + string(id) + `,"encapsulationAlgorithm":"ML_KEM"}`, "encapsulationAlgorithm"},
		{"Decapsulate", `{"KeyId":` + string(id) + `,"EncapsulationAlgorithm":"ML_KEM","sharedSecretCiphertextBlob":"AAAA"}`, "sharedSecretCiphertextBlob"},
		{"Sign", `{"KEYID":` + string(id) + `,"Message":"AA==","SigningAlgorithm":"ML_DSA_SHAKE_256"}`, "keyId"},
	} {
		t.Run(tc.op+"/"+tc.member, func(t *testing.T) {
			msg := wantWireError(t, w.post(t, tc.op, []byte(tc.body), true), 400, "ValidationException")
			if want := "1 validation error detected: Value null at '" + tc.member + "' failed to satisfy constraint: Member must not be null"; msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
		})
	}
}
