package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

const opensslPath = "/usr/bin/openssl"

// openssl runs /usr/bin/openssl in dir and returns its combined output and
// whether it exited 0.
func openssl(t *testing.T, dir string, args ...string) (string, bool) {
	t.Helper()
	cmd := testcmd.Command(t, opensslPath, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, exited := errors.AsType[*exec.ExitError](err); !exited {
			t.Fatalf("openssl %v: %v", args, err)
		}
	}
	return string(out), err == nil
}

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writePublicPEM writes GetPublicKey's DER of a key as pub.pem in dir.
func writePublicPEM(t *testing.T, env *testenv.Env, dir string, md *types.KeyMetadata) {
	t.Helper()
	out, err := env.KMS.GetPublicKey(t.Context(), &kms.GetPublicKeyInput{KeyId: md.KeyId})
	mustOK(t, err, "GetPublicKey")
	writeFile(t, dir, "pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: out.PublicKey}))
}

// TestOpenSSLInterop: OpenSSL, an implementation that shares nothing with
// Trent, verifies Trent's signatures with the PEM of GetPublicKey's DER,
// and encrypts with RSA-OAEP for Trent to decrypt.
func TestOpenSSLInterop(t *testing.T) {
	skipInFIPSMode(t)
	if _, err := os.Stat(opensslPath); err != nil {
		t.Skipf("no %s: %v", opensslPath, err)
	}
	env := testenv.Start(t)
	ctx := t.Context()
	msg := []byte("signed by Trent, verified by OpenSSL\n")
	digest := sha256.Sum256(msg)

	keys := map[types.KeySpec]*types.KeyMetadata{}
	for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecEccNistP256, types.KeySpecEccSecgP256k1, types.KeySpecEccNistEdwards25519} {
		keys[spec] = newAsymKey(t, env, spec, types.KeyUsageTypeSignVerify)
	}
	pss := []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}
	for _, tc := range []struct {
		name string
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
		mt   types.MessageType
		args []string // pub.pem, sig, msg and digest are files in the working directory
	}{
		{"RSASSA_PSS_SHA_256", types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeRaw,
			append([]string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}, append(pss, "msg")...)},
		{"RSASSA_PSS_SHA_256 DIGEST", types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeDigest,
			[]string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-sigfile", "sig", "-in", "digest",
				"-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32"}},
		{"RSASSA_PKCS1_V1_5_SHA_256", types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.MessageTypeRaw,
			[]string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "msg"}},
		{"ECDSA_SHA_256 P-256", types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw,
			[]string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "msg"}},
		{"ECDSA_SHA_256 P-256 DIGEST", types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest,
			[]string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-sigfile", "sig", "-in", "digest"}},
		{"ECDSA_SHA_256 secp256k1", types.KeySpecEccSecgP256k1, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw,
			[]string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "msg"}},
		{"ED25519_SHA_512", types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519Sha512, types.MessageTypeRaw,
			[]string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg", "-sigfile", "sig"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			md := keys[tc.spec]
			writePublicPEM(t, env, dir, md)
			writeFile(t, dir, "msg", msg)
			writeFile(t, dir, "digest", digest[:])
			in := msg
			if tc.mt == types.MessageTypeDigest {
				in = digest[:]
			}
			sig, err := env.KMS.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: in, MessageType: tc.mt, SigningAlgorithm: tc.alg})
			mustOK(t, err, "Sign")
			writeFile(t, dir, "sig", sig.Signature)
			if out, ok := openssl(t, dir, tc.args...); !ok {
				t.Fatalf("openssl rejects Trent's signature:\n%s", out)
			}
			// The check is real: a flipped bit fails it.
			bad := bytes.Clone(sig.Signature)
			bad[len(bad)/2] ^= 0x01
			writeFile(t, dir, "sig", bad)
			if out, ok := openssl(t, dir, tc.args...); ok {
				t.Fatalf("openssl accepts a corrupted signature:\n%s", out)
			}
		})
	}

	enc := newAsymKey(t, env, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	for _, tc := range []struct {
		alg  types.EncryptionAlgorithmSpec
		opts []string
	}{
		{types.EncryptionAlgorithmSpecRsaesOaepSha256, []string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"}},
		{types.EncryptionAlgorithmSpecRsaesOaepSha1, []string{"-pkeyopt", "rsa_padding_mode:oaep"}}, // SHA-1 and MGF1-SHA-1 by default
	} {
		t.Run("OpenSSL encrypts "+string(tc.alg), func(t *testing.T) {
			dir := t.TempDir()
			writePublicPEM(t, env, dir, enc)
			pt := randomBytes(t, 190)
			writeFile(t, dir, "pt", pt)
			args := append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "pt", "-out", "ct"}, tc.opts...)
			if out, ok := openssl(t, dir, args...); !ok {
				t.Fatalf("openssl pkeyutl -encrypt:\n%s", out)
			}
			ct, err := os.ReadFile(filepath.Join(dir, "ct"))
			if err != nil {
				t.Fatal(err)
			}
			dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{KeyId: enc.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: tc.alg})
			if err != nil {
				t.Fatalf("Decrypt of OpenSSL's ciphertext: %v", err)
			}
			if !bytes.Equal(dec.Plaintext, pt) || dec.EncryptionAlgorithm != tc.alg || aws.ToString(dec.KeyId) != aws.ToString(enc.Arn) {
				t.Errorf("Decrypt answered %d bytes, %s, %s", len(dec.Plaintext), dec.EncryptionAlgorithm, aws.ToString(dec.KeyId))
			}
		})
	}
}
