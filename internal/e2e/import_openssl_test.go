package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestImportOpenSSL wraps key material with openssl exactly as the AWS
// Developer Guide's recipe does ("Encrypt key material with OpenSSL") and
// imports it: RSAES_OAEP_SHA_256 of 32 random bytes for a symmetric key
// (`openssl pkeyutl -encrypt … rsa_padding_mode:oaep, rsa_oaep_md:sha256,
// rsa_mgf1_md:sha256`), and RSA_AES_KEY_WRAP_SHA_256 / _SHA_1 of PKCS#8 DER
// private keys openssl generated (`openssl enc -id-aes256-wrap-pad -iv
// A65959A6` of the key, OAEP of the ephemeral AES key, concatenated). The
// results are checked with the Go standard library: a Trent ciphertext
// opened with openssl's material, signatures verified with the public half
// of openssl's key.
func TestImportOpenSSL(t *testing.T) {
	if _, err := os.Stat(opensslPath); err != nil {
		t.Skipf("no %s: %v", opensslPath, err)
	}
	env := testenv.Start(t)
	c, ctx := env.KMS, t.Context()
	dir := t.TempDir()
	run := func(t *testing.T, args ...string) {
		t.Helper()
		if out, ok := openssl(t, dir, args...); !ok {
			t.Fatalf("openssl %v: %s", args, out)
		}
	}
	read := func(t *testing.T, name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	params := func(t *testing.T, keyID string, alg types.AlgorithmSpec) []byte {
		t.Helper()
		out, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(keyID),
			WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		mustOK(t, err, "GetParametersForImport")
		writeFile(t, dir, "WrappingPublicKey.bin", out.PublicKey)
		return out.ImportToken
	}
	oaep := func(t *testing.T, md, in, out string) {
		run(t, "pkeyutl", "-encrypt", "-in", in, "-out", out, "-inkey", "WrappingPublicKey.bin",
			"-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep",
			"-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
	}
	rsaAES := func(t *testing.T, md string) []byte {
		run(t, "rand", "-out", "aes-key.bin", "32")
		run(t, "enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(read(t, "aes-key.bin")), "-iv", "A65959A6",
			"-in", "PrivateKey.der", "-out", "key-material-wrapped.bin")
		oaep(t, md, "aes-key.bin", "aes-key-wrapped.bin")
		return append(read(t, "aes-key-wrapped.bin"), read(t, "key-material-wrapped.bin")...)
	}

	t.Run("symmetric RSAES_OAEP_SHA_256", func(t *testing.T) {
		md := createExternal(t, env, "", "")
		token := params(t, aws.ToString(md.KeyId), types.AlgorithmSpecRsaesOaepSha256)
		run(t, "rand", "-out", "PlaintextKeyMaterial.bin", "32")
		oaep(t, "sha256", "PlaintextKeyMaterial.bin", "EncryptedKeyMaterial.bin")
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: md.KeyId, ImportToken: token,
			EncryptedKeyMaterial: read(t, "EncryptedKeyMaterial.bin"), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		mustOK(t, err, "ImportKeyMaterial")
		blob := encrypt(t, env, aws.ToString(md.KeyId), []byte("wrapped by openssl"), nil)
		if got := openBlob(t, read(t, "PlaintextKeyMaterial.bin"), blob); string(got) != "wrapped by openssl" {
			t.Fatalf("opened %q", got)
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
		mustOK(t, err, "Decrypt")
		if string(dec.Plaintext) != "wrapped by openssl" {
			t.Fatalf("Decrypt = %q", dec.Plaintext)
		}
	})

	signCase := func(t *testing.T, spec types.KeySpec, alg types.AlgorithmSpec, md string, genpkey []string, signAlg types.SigningAlgorithmSpec) {
		key := createExternal(t, env, spec, types.KeyUsageTypeSignVerify)
		token := params(t, aws.ToString(key.KeyId), alg)
		run(t, append([]string{"genpkey", "-out", "priv.pem"}, genpkey...)...)
		run(t, "pkcs8", "-topk8", "-outform", "der", "-nocrypt", "-in", "priv.pem", "-out", "PrivateKey.der")
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: key.KeyId, ImportToken: token,
			EncryptedKeyMaterial: rsaAES(t, md), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		mustOK(t, err, "ImportKeyMaterial")
		priv, err := x509.ParsePKCS8PrivateKey(read(t, "PrivateKey.der"))
		if err != nil {
			t.Fatal(err)
		}
		pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: key.KeyId})
		mustOK(t, err, "GetPublicKey")
		msg := []byte("signed with a key openssl made")
		sig, err := c.Sign(ctx, &kms.SignInput{KeyId: key.KeyId, Message: msg, SigningAlgorithm: signAlg})
		mustOK(t, err, "Sign")
		d := sha256.Sum256(msg)
		switch k := priv.(type) {
		case *ecdsa.PrivateKey:
			want, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
			if !bytes.Equal(pk.PublicKey, want) || !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig.Signature) {
				t.Fatal("Trent's key is not openssl's")
			}
		case *rsa.PrivateKey:
			want, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
			if !bytes.Equal(pk.PublicKey, want) || rsa.VerifyPKCS1v15(&k.PublicKey, 5, d[:], sig.Signature) != nil {
				t.Fatal("Trent's key is not openssl's")
			}
		default:
			t.Fatalf("openssl made a %T", priv)
		}
	}
	t.Run("ECC_NIST_P256 RSA_AES_KEY_WRAP_SHA_256", func(t *testing.T) {
		signCase(t, types.KeySpecEccNistP256, types.AlgorithmSpecRsaAesKeyWrapSha256, "sha256",
			[]string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, types.SigningAlgorithmSpecEcdsaSha256)
	})
	t.Run("ECC_SECG_P256K1 RSA_AES_KEY_WRAP_SHA_256", func(t *testing.T) {
		// Go's standard library has no secp256k1: openssl checks the
		// public key and the signature.
		key := createExternal(t, env, types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify)
		token := params(t, aws.ToString(key.KeyId), types.AlgorithmSpecRsaAesKeyWrapSha256)
		run(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", "k1.pem")
		run(t, "pkcs8", "-topk8", "-outform", "der", "-nocrypt", "-in", "k1.pem", "-out", "PrivateKey.der")
		run(t, "pkey", "-in", "k1.pem", "-pubout", "-outform", "DER", "-out", "k1pub.der")
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: key.KeyId, ImportToken: token,
			EncryptedKeyMaterial: rsaAES(t, "sha256"), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		mustOK(t, err, "ImportKeyMaterial")
		pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: key.KeyId})
		mustOK(t, err, "GetPublicKey")
		if !bytes.Equal(pk.PublicKey, read(t, "k1pub.der")) {
			t.Fatal("Trent's public key is not openssl's")
		}
		msg := []byte("secp256k1 via openssl")
		sig, err := c.Sign(ctx, &kms.SignInput{KeyId: key.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		mustOK(t, err, "Sign")
		writeFile(t, dir, "msg", msg)
		writeFile(t, dir, "sig", sig.Signature)
		run(t, "dgst", "-sha256", "-verify", "k1pub.der", "-keyform", "DER", "-signature", "sig", "msg")
	})
	t.Run("RSA_2048 RSA_AES_KEY_WRAP_SHA_1", func(t *testing.T) {
		signCase(t, types.KeySpecRsa2048, types.AlgorithmSpecRsaAesKeyWrapSha1, "sha1",
			[]string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"}, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256)
	})
}
