package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

const (
	dryRunMessage       = "The request would have succeeded, but the DryRun option is set."
	incorrectKeyMessage = "The key ID in the request does not identify a CMK that can perform this operation."
)

// keyForms returns the four ways to name a key that has the alias alias.
func keyForms(env *testenv.Env, md *types.KeyMetadata, alias string) map[string]string {
	return map[string]string{
		"key id":    aws.ToString(md.KeyId),
		"key ARN":   aws.ToString(md.Arn),
		"alias":     alias,
		"alias ARN": aliasARN(env, alias),
	}
}

func encrypt(t testing.TB, env *testenv.Env, keyID string, pt []byte, ec map[string]string) []byte {
	t.Helper()
	out, err := env.KMS.Encrypt(t.Context(), &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: pt, EncryptionContext: ec})
	mustOK(t, err, "Encrypt")
	return out.CiphertextBlob
}

func TestEncryptDecryptKeyIdForms(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	createAlias(t, env, "alias/forms", aws.ToString(md.KeyId))
	arn := aws.ToString(md.Arn)
	pt := []byte("the plaintext")

	for name, keyID := range keyForms(env, md, "alias/forms") {
		t.Run(name, func(t *testing.T) {
			enc, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: pt})
			mustOK(t, err, "Encrypt")
			if aws.ToString(enc.KeyId) != arn || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
				t.Errorf("Encrypt KeyId, EncryptionAlgorithm = %s, %s; want %s, SYMMETRIC_DEFAULT", aws.ToString(enc.KeyId), enc.EncryptionAlgorithm, arn)
			}
			if bytes.Contains(enc.CiphertextBlob, pt) {
				t.Errorf("ciphertext contains the plaintext")
			}
			for _, decryptKeyID := range []*string{nil, aws.String(keyID)} {
				dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: decryptKeyID})
				mustOK(t, err, "Decrypt")
				if !bytes.Equal(dec.Plaintext, pt) || aws.ToString(dec.KeyId) != arn ||
					dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault ||
					aws.ToString(dec.KeyMaterialId) != aws.ToString(md.CurrentKeyMaterialId) {
					t.Errorf("Decrypt(KeyId %v) = %q, %s, %s, %s; want %q, %s, SYMMETRIC_DEFAULT, %s", aws.ToString(decryptKeyID),
						dec.Plaintext, aws.ToString(dec.KeyId), dec.EncryptionAlgorithm, aws.ToString(dec.KeyMaterialId),
						pt, arn, aws.ToString(md.CurrentKeyMaterialId))
				}
			}
		})
	}

	// Encrypting twice gives different ciphertexts.
	a, b := encrypt(t, env, arn, pt, nil), encrypt(t, env, arn, pt, nil)
	if bytes.Equal(a, b) {
		t.Error("two encryptions of the same plaintext are equal")
	}
}

func TestEncryptionContext(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	keyID := aws.ToString(createKey(t, env, nil).KeyId)
	for _, tc := range []struct {
		name     string
		enc, dec map[string]string
		ok       bool
	}{
		{"same", map[string]string{"a": "b"}, map[string]string{"a": "b"}, true},
		{"none", nil, nil, true},
		{"empty is none", map[string]string{}, nil, true},
		{"order free", map[string]string{"a": "b", "c": "d", "e": "f"}, map[string]string{"e": "f", "c": "d", "a": "b"}, true},
		{"unicode", map[string]string{"ключ": "значение", "🔑": "✓"}, map[string]string{"🔑": "✓", "ключ": "значение"}, true},
		{"missing", map[string]string{"a": "b"}, nil, false},
		{"unexpected", nil, map[string]string{"a": "b"}, false},
		{"key case", map[string]string{"a": "b"}, map[string]string{"A": "b"}, false},
		{"value case", map[string]string{"a": "b"}, map[string]string{"a": "B"}, false},
		{"ab:c vs a:bc", map[string]string{"ab": "c"}, map[string]string{"a": "bc"}, false},
		{"a:bc vs ab:c", map[string]string{"a": "bc"}, map[string]string{"ab": "c"}, false},
		{"subset", map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "b"}, false},
		{"superset", map[string]string{"a": "b"}, map[string]string{"a": "b", "c": "d"}, false},
		{"empty value", map[string]string{"a": ""}, nil, false},
		{"swapped", map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "d", "c": "b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := encrypt(t, env, keyID, []byte("secret"), tc.enc)
			dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: tc.dec})
			if tc.ok {
				mustOK(t, err, "Decrypt")
				if string(dec.Plaintext) != "secret" {
					t.Errorf("Decrypt = %q", dec.Plaintext)
				}
				return
			}
			wantError(t, err, "InvalidCiphertextException", "")
			wantType[*types.InvalidCiphertextException](t, err)

			// The same context rules hold for data keys and ReEncrypt.
			gdk, err := env.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyID), NumberOfBytes: aws.Int32(32), EncryptionContext: tc.enc})
			mustOK(t, err, "GenerateDataKey")
			_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: tc.dec})
			wantError(t, err, "InvalidCiphertextException", "")
			_, err = env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: tc.dec, DestinationKeyId: aws.String(keyID)})
			wantError(t, err, "InvalidCiphertextException", "")
		})
	}
}

func TestDecryptErrors(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	other := createKey(t, env, nil)
	createAlias(t, env, "alias/other", aws.ToString(other.KeyId))
	blob := encrypt(t, env, aws.ToString(md.KeyId), []byte("0123456789abcdef"), map[string]string{"k": "v"})
	ec := map[string]string{"k": "v"}

	t.Run("incorrect key", func(t *testing.T) {
		for name, keyID := range keyForms(env, other, "alias/other") {
			_, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(keyID)})
			if wantError(t, err, "IncorrectKeyException", incorrectKeyMessage) {
				wantType[*types.IncorrectKeyException](t, err)
			} else {
				t.Logf("KeyId form %s", name)
			}
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		unknown := "134f2428-cec1-4b25-a1ae-9048164dba47"
		_, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(unknown)})
		wantError(t, err, "NotFoundException", "Key '"+keyARN(env, unknown)+"' does not exist")
		_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String("alias/missing")})
		wantError(t, err, "NotFoundException", "Alias "+aliasARN(env, "alias/missing")+" is not found.")
	})

	tampered := map[string][]byte{}
	for _, i := range []int{0, 1, 16, 17, 20, 21, 52, 53, 64, 65, 70, len(blob) - 16, len(blob) - 1} {
		b := bytes.Clone(blob)
		b[i] ^= 0x01
		tampered[fmt.Sprintf("bit flipped at %d", i)] = b
	}
	tampered["truncated by one"] = blob[:len(blob)-1]
	tampered["header only"] = blob[:21]
	tampered["extended"] = append(bytes.Clone(blob), 0)
	tampered["text"] = []byte("hello")
	random := make([]byte, 200)
	rand.Read(random)
	tampered["random"] = random
	tampered["one byte"] = []byte{1}
	for name, b := range tampered {
		t.Run(name, func(t *testing.T) {
			_, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b, EncryptionContext: ec})
			wantError(t, err, "InvalidCiphertextException", "")
		})
	}

	t.Run("wrong algorithm", func(t *testing.T) {
		_, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		wantError(t, err, "InvalidCiphertextException", "")
	})

	t.Run("blob too long", func(t *testing.T) {
		_, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: make([]byte, 6145)})
		wantError(t, err, "ValidationException",
			"1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144")
	})

	// After all that, the genuine ciphertext still decrypts.
	dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: md.KeyId})
	mustOK(t, err, "Decrypt")
	if string(dec.Plaintext) != "0123456789abcdef" {
		t.Errorf("Decrypt = %q", dec.Plaintext)
	}
}

func TestEncryptValidation(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	keyID := createKey(t, env, nil).KeyId

	big := make([]byte, 4096)
	rand.Read(big)
	blob := encrypt(t, env, aws.ToString(keyID), big, nil)
	dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt 4096 bytes")
	if !bytes.Equal(dec.Plaintext, big) {
		t.Error("4096-byte round trip differs")
	}

	for _, tc := range []struct {
		name  string
		in    kms.EncryptInput
		code  string
		msg   string
		exact bool
	}{
		{"4097 bytes", kms.EncryptInput{Plaintext: make([]byte, 4097)}, "ValidationException",
			"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096", true},
		{"empty", kms.EncryptInput{Plaintext: []byte{}}, "ValidationException",
			"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1", true},
		{"RSA algorithm", kms.EncryptInput{Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256},
			"InvalidKeyUsageException", "", false},
		{"unknown algorithm", kms.EncryptInput{Plaintext: []byte("x"), EncryptionAlgorithm: "BOGUS"}, "ValidationException",
			"1 validation error detected: Value 'BOGUS' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.KeyId = keyID
			_, err := env.KMS.Encrypt(ctx, &tc.in)
			if tc.exact {
				wantError(t, err, tc.code, tc.msg)
			} else {
				wantErrorPrefix(t, err, tc.code, tc.msg)
			}
		})
	}
}

func TestReEncrypt(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	src := createKey(t, env, nil)
	dst := createKey(t, env, nil)
	createAlias(t, env, "alias/src", aws.ToString(src.KeyId))
	createAlias(t, env, "alias/dst", aws.ToString(dst.KeyId))
	ec1, ec2 := map[string]string{"stage": "one"}, map[string]string{"stage": "two"}
	blob := encrypt(t, env, aws.ToString(src.KeyId), []byte("moving"), ec1)

	for name, dstID := range keyForms(env, dst, "alias/dst") {
		t.Run("destination "+name, func(t *testing.T) {
			out, err := env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{
				CiphertextBlob: blob, SourceEncryptionContext: ec1,
				DestinationKeyId: aws.String(dstID), DestinationEncryptionContext: ec2,
			})
			mustOK(t, err, "ReEncrypt")
			if aws.ToString(out.SourceKeyId) != aws.ToString(src.Arn) || aws.ToString(out.KeyId) != aws.ToString(dst.Arn) ||
				out.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault ||
				out.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
				t.Errorf("ReEncrypt = SourceKeyId %s KeyId %s algs %s %s", aws.ToString(out.SourceKeyId), aws.ToString(out.KeyId),
					out.SourceEncryptionAlgorithm, out.DestinationEncryptionAlgorithm)
			}
			if aws.ToString(out.SourceKeyMaterialId) != aws.ToString(src.CurrentKeyMaterialId) ||
				aws.ToString(out.DestinationKeyMaterialId) != aws.ToString(dst.CurrentKeyMaterialId) {
				t.Errorf("ReEncrypt material ids = %s, %s", aws.ToString(out.SourceKeyMaterialId), aws.ToString(out.DestinationKeyMaterialId))
			}
			dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec2})
			mustOK(t, err, "Decrypt re-encrypted")
			if string(dec.Plaintext) != "moving" || aws.ToString(dec.KeyId) != aws.ToString(dst.Arn) {
				t.Errorf("Decrypt = %q under %s", dec.Plaintext, aws.ToString(dec.KeyId))
			}
			_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec1})
			wantError(t, err, "InvalidCiphertextException", "")
		})
	}
	for name, srcID := range keyForms(env, src, "alias/src") {
		t.Run("source "+name, func(t *testing.T) {
			_, err := env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec1,
				SourceKeyId: aws.String(srcID), DestinationKeyId: dst.KeyId})
			mustOK(t, err, "ReEncrypt")
		})
	}
	t.Run("incorrect source key", func(t *testing.T) {
		_, err := env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec1,
			SourceKeyId: dst.KeyId, DestinationKeyId: dst.KeyId})
		wantError(t, err, "IncorrectKeyException", incorrectKeyMessage)
	})
	t.Run("source key that cannot decrypt", func(t *testing.T) {
		// AWS answers the source's mismatch before the destination's usage
		// (recorded: an HMAC key as both source and destination).
		mac := createKey(t, env, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac224, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
		_, err := env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec1,
			SourceKeyId: mac.KeyId, DestinationKeyId: mac.KeyId})
		wantError(t, err, "IncorrectKeyException", incorrectKeyMessage)
		_, err = env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec1,
			SourceKeyId: src.KeyId, DestinationKeyId: mac.KeyId})
		wantError(t, err, "InvalidKeyUsageException", aws.ToString(mac.Arn)+" key usage is GENERATE_VERIFY_MAC which is not valid for ReEncrypt.")
	})
	t.Run("wrong source context", func(t *testing.T) {
		_, err := env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec2, DestinationKeyId: dst.KeyId})
		wantError(t, err, "InvalidCiphertextException", "")
	})
	t.Run("tampered", func(t *testing.T) {
		b := bytes.Clone(blob)
		b[len(b)-1] ^= 0x80
		_, err := env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: b, SourceEncryptionContext: ec1, DestinationKeyId: dst.KeyId})
		wantError(t, err, "InvalidCiphertextException", "")
	})
	t.Run("missing destination", func(t *testing.T) {
		_, err := env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec1, DestinationKeyId: aws.String("alias/missing")})
		wantError(t, err, "NotFoundException", "Alias "+aliasARN(env, "alias/missing")+" is not found.")
	})
}

func TestGenerateDataKey(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	createAlias(t, env, "alias/dk", aws.ToString(md.KeyId))
	arn := aws.ToString(md.Arn)
	ec := map[string]string{"purpose": "test"}

	for _, tc := range []struct {
		name string
		spec types.DataKeySpec
		n    *int32
		want int
	}{
		{"AES_128", types.DataKeySpecAes128, nil, 16},
		{"AES_256", types.DataKeySpecAes256, nil, 32},
		{"1 byte", "", aws.Int32(1), 1},
		{"64 bytes", "", aws.Int32(64), 64},
		{"1024 bytes", "", aws.Int32(1024), 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := env.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/dk"), KeySpec: tc.spec, NumberOfBytes: tc.n, EncryptionContext: ec})
			mustOK(t, err, "GenerateDataKey")
			if len(out.Plaintext) != tc.want || aws.ToString(out.KeyId) != arn || aws.ToString(out.KeyMaterialId) != aws.ToString(md.CurrentKeyMaterialId) {
				t.Errorf("GenerateDataKey = %d bytes under %s (material %s); want %d under %s", len(out.Plaintext), aws.ToString(out.KeyId),
					aws.ToString(out.KeyMaterialId), tc.want, arn)
			}
			dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
			mustOK(t, err, "Decrypt data key")
			if !bytes.Equal(dec.Plaintext, out.Plaintext) || aws.ToString(dec.KeyId) != arn {
				t.Errorf("Decrypt(CiphertextBlob) differs from Plaintext")
			}

			wo, err := env.KMS.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{
				KeyId: aws.String(aliasARN(env, "alias/dk")), KeySpec: tc.spec, NumberOfBytes: tc.n, EncryptionContext: ec})
			mustOK(t, err, "GenerateDataKeyWithoutPlaintext")
			if aws.ToString(wo.KeyId) != arn || aws.ToString(wo.KeyMaterialId) != aws.ToString(md.CurrentKeyMaterialId) {
				t.Errorf("GenerateDataKeyWithoutPlaintext KeyId = %s, material %s", aws.ToString(wo.KeyId), aws.ToString(wo.KeyMaterialId))
			}
			dec, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wo.CiphertextBlob, EncryptionContext: ec})
			mustOK(t, err, "Decrypt data key without plaintext")
			if len(dec.Plaintext) != tc.want {
				t.Errorf("data key without plaintext is %d bytes, want %d", len(dec.Plaintext), tc.want)
			}
		})
	}

	// Two data keys differ.
	a, err := env.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256})
	mustOK(t, err, "GenerateDataKey")
	b, err := env.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256})
	mustOK(t, err, "GenerateDataKey")
	if bytes.Equal(a.Plaintext, b.Plaintext) {
		t.Error("two data keys are equal")
	}

	for _, tc := range []struct {
		name  string
		spec  types.DataKeySpec
		n     *int32
		msg   string
		exact bool
	}{
		{"both", types.DataKeySpecAes256, aws.Int32(32), "", false},
		{"neither", "", nil, "", false},
		{"0 bytes", "", aws.Int32(0), "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1", true},
		{"1025 bytes", "", aws.Int32(1025), "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024", true},
		{"AES_512", "AES_512", nil, "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: tc.spec, NumberOfBytes: tc.n})
			_, err2 := env.KMS.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: md.KeyId, KeySpec: tc.spec, NumberOfBytes: tc.n})
			for _, err := range []error{err, err2} {
				if tc.exact {
					wantError(t, err, "ValidationException", tc.msg)
				} else {
					wantErrorPrefix(t, err, "ValidationException", tc.msg)
				}
			}
		})
	}
}

func TestGenerateRandom(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	for _, n := range []int32{1, 12, 1024} {
		out, err := env.KMS.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(n)})
		mustOK(t, err, "GenerateRandom")
		if len(out.Plaintext) != int(n) {
			t.Errorf("GenerateRandom(%d) = %d bytes", n, len(out.Plaintext))
		}
	}
	a, _ := env.KMS.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	b, _ := env.KMS.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	if a == nil || b == nil || bytes.Equal(a.Plaintext, b.Plaintext) {
		t.Error("two GenerateRandom(32) results are equal or missing")
	}
	for _, tc := range []struct {
		n   *int32
		msg string
	}{
		{nil, "NumberOfBytes is required."},
		{aws.Int32(0), "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{aws.Int32(1025), "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
	} {
		_, err := env.KMS.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: tc.n})
		wantError(t, err, "ValidationException", tc.msg)
	}
}

func TestDryRun(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	dst := createKey(t, env, nil)
	blob := encrypt(t, env, aws.ToString(md.KeyId), []byte("dry"), nil)
	yes := aws.Bool(true)
	ignore := []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}

	for _, tc := range []struct {
		name string
		call func() (any, error)
	}{
		{"Encrypt", func() (any, error) {
			return env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), DryRun: yes})
		}},
		{"Decrypt", func() (any, error) {
			return env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, DryRun: yes})
		}},
		{"Decrypt with KeyId", func() (any, error) {
			return env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: md.Arn, DryRun: yes})
		}},
		{"Decrypt ignoring ciphertext", func() (any, error) {
			return env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("junk"), KeyId: md.KeyId, DryRun: yes, DryRunModifiers: ignore})
		}},
		{"ReEncrypt", func() (any, error) {
			return env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: dst.KeyId, DryRun: yes})
		}},
		{"ReEncrypt ignoring ciphertext", func() (any, error) {
			return env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: []byte("junk"), SourceKeyId: md.KeyId, DestinationKeyId: dst.KeyId, DryRun: yes, DryRunModifiers: ignore})
		}},
		{"GenerateDataKey", func() (any, error) {
			return env.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256, DryRun: yes})
		}},
		{"GenerateDataKeyWithoutPlaintext", func() (any, error) {
			return env.KMS.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: md.KeyId, NumberOfBytes: aws.Int32(32), DryRun: yes})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.call()
			wantError(t, err, "DryRunOperationException", dryRunMessage)
			wantType[*types.DryRunOperationException](t, err)
			if err == nil {
				t.Errorf("DryRun returned %+v", out)
			}
		})
	}

	// DryRun:false is an ordinary call; a DryRun that would fail reports
	// the failure, not DryRunOperationException.
	_, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), DryRun: aws.Bool(false)})
	mustOK(t, err, "Encrypt DryRun:false")
	// IGNORE_CIPHERTEXT needs a KeyId to check.
	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, DryRun: yes, DryRunModifiers: ignore})
	wantError(t, err, "ValidationException", anyMessage)
	_, err = env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: dst.KeyId, DryRun: yes, DryRunModifiers: ignore})
	wantError(t, err, "ValidationException", anyMessage)
	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: dst.KeyId, DryRun: yes})
	wantError(t, err, "IncorrectKeyException", incorrectKeyMessage)
	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"x": "y"}, DryRun: yes})
	wantError(t, err, "InvalidCiphertextException", "")
	_, err = env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId})
	mustOK(t, err, "DisableKey")
	_, err = env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), DryRun: yes})
	wantError(t, err, "DisabledException", aws.ToString(md.Arn)+" is disabled.")
}
