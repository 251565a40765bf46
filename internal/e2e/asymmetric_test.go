package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/testenv"
)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func newAsymKey(t *testing.T, env *testenv.Env, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	skipSpecInFIPSMode(t, spec)
	out, err := env.KMS.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey %s/%s: %v", spec, usage, err)
	}
	return out.KeyMetadata
}

// TestSignVerifyStdlib signs through the SDK and verifies every signature
// with the Go standard library against the DER public key from GetPublicKey.
func TestSignVerifyStdlib(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	msg := []byte("the message to sign")
	cases := []struct {
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
		h    crypto.Hash
	}{
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, crypto.SHA256},
		{types.KeySpecEccNistP384, types.SigningAlgorithmSpecEcdsaSha384, crypto.SHA384},
		{types.KeySpecEccNistP521, types.SigningAlgorithmSpecEcdsaSha512, crypto.SHA512},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, crypto.SHA256},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, crypto.SHA384},
		{types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519Sha512, 0},
	}
	for _, c := range cases {
		t.Run(string(c.spec)+"/"+string(c.alg), func(t *testing.T) {
			md := newAsymKey(t, env, c.spec, types.KeyUsageTypeSignVerify)
			if len(md.SigningAlgorithms) == 0 || md.EncryptionAlgorithms != nil {
				t.Errorf("metadata algorithms: sign %v enc %v", md.SigningAlgorithms, md.EncryptionAlgorithms)
			}
			// AWS reports key material ids for symmetric encryption keys only.
			if md.CurrentKeyMaterialId != nil {
				t.Errorf("CurrentKeyMaterialId = %q on a %s key", *md.CurrentKeyMaterialId, c.spec)
			}
			pk, err := env.KMS.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: md.KeyId})
			if err != nil {
				t.Fatalf("GetPublicKey: %v", err)
			}
			pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
			if err != nil {
				t.Fatalf("parse SPKI: %v", err)
			}
			sig, err := env.KMS.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: msg, SigningAlgorithm: c.alg})
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			var digest []byte
			if c.h != 0 {
				h := c.h.New()
				h.Write(msg)
				digest = h.Sum(nil)
			}
			switch p := pub.(type) {
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(p, digest, sig.Signature) {
					t.Fatal("stdlib rejects the ECDSA signature")
				}
			case *rsa.PublicKey:
				if c.alg == types.SigningAlgorithmSpecRsassaPssSha256 {
					err = rsa.VerifyPSS(p, c.h, digest, sig.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
				} else {
					err = rsa.VerifyPKCS1v15(p, c.h, digest, sig.Signature)
				}
				if err != nil {
					t.Fatalf("stdlib rejects the RSA signature: %v", err)
				}
			case ed25519.PublicKey:
				if !ed25519.Verify(p, msg, sig.Signature) {
					t.Fatal("stdlib rejects the Ed25519 signature")
				}
			default:
				t.Fatalf("unexpected public key %T", pub)
			}
			if _, err := env.KMS.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: msg, Signature: sig.Signature, SigningAlgorithm: c.alg}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			bad := bytes.Clone(sig.Signature)
			bad[len(bad)/2] ^= 1
			_, err = env.KMS.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: msg, Signature: bad, SigningAlgorithm: c.alg})
			if apiCode(err) != "KMSInvalidSignatureException" {
				t.Fatalf("Verify of a bad signature: %v, want KMSInvalidSignatureException", err)
			}
		})
	}
}

func TestAsymmetricRules(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	p256 := newAsymKey(t, env, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	_, err := env.KMS.Sign(ctx, &kms.SignInput{KeyId: p256.KeyId, Message: make([]byte, 31), MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantAPIError(t, err, "ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256.")
	_, err = env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: p256.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "InvalidKeyUsageException", *p256.Arn+" key usage is SIGN_VERIFY which is not valid for Encrypt.")
	_, err = env.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeKeyAgreement})
	wantAPIError(t, err, "ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048")
	_, err = env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: p256.KeyId})
	if apiCode(err) != "UnsupportedOperationException" {
		t.Errorf("RotateKeyOnDemand on ECC key: %v", err)
	}
	st, err := env.KMS.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: p256.KeyId})
	if err != nil || st.KeyRotationEnabled {
		t.Errorf("GetKeyRotationStatus on ECC key: %+v, %v", st, err)
	}
	hm := newAsymKey(t, env, types.KeySpecHmac224, types.KeyUsageTypeGenerateVerifyMac)
	_, err = env.KMS.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: hm.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantAPIError(t, err, "InvalidKeyUsageException", "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.")
	_, err = env.KMS.Sign(ctx, &kms.SignInput{KeyId: hm.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantAPIError(t, err, "InvalidKeyUsageException", *hm.Arn+" key usage is GENERATE_VERIFY_MAC which is not valid for Sign.")
	_, err = env.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac256})
	wantAPIError(t, err, "ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || ae.ErrorMessage() != msg {
		t.Errorf("got %v; want %s: %s", err, code, msg)
	}
}

func TestRSAEncryption(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	md := newAsymKey(t, env, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	pk, err := env.KMS.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: md.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	// Made locally with the public key, decrypted by Trent.
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), []byte("local"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{KeyId: md.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil || string(dec.Plaintext) != "local" || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecRsaesOaepSha256 {
		t.Fatalf("Decrypt of a local OAEP ciphertext: %+v, %v", dec, err)
	}
	if dec.KeyMaterialId != nil {
		t.Errorf("Decrypt with an RSA key reports KeyMaterialId %q", *dec.KeyMaterialId)
	}
	// Without an algorithm Encrypt means SYMMETRIC_DEFAULT, which AWS refuses
	// for an RSA key with this message (quoted from real AWS by sops#684).
	_, err = env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "InvalidKeyUsageException", "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.")
	_, err = env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: make([]byte, 215), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	wantAPIError(t, err, "ValidationException", "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes.")
	enc, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: make([]byte, 214), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	if err != nil {
		t.Fatal(err)
	}
	dec, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{KeyId: md.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	if err != nil || len(dec.Plaintext) != 214 {
		t.Fatalf("round trip: %v", err)
	}
	_, err = env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256,
		EncryptionContext: map[string]string{"a": "b"}})
	if apiCode(err) != "ValidationException" {
		t.Errorf("encryption context on an RSA key: %v", err)
	}
}

func TestMacAndKeyAgreementAndDataKeyPairs(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	for _, c := range []struct {
		spec types.KeySpec
		alg  types.MacAlgorithmSpec
		h    func() hash.Hash
	}{
		{types.KeySpecHmac256, types.MacAlgorithmSpecHmacSha256, sha256.New},
		{types.KeySpecHmac512, types.MacAlgorithmSpecHmacSha512, sha512.New},
	} {
		md := newAsymKey(t, env, c.spec, types.KeyUsageTypeGenerateVerifyMac)
		mac, err := env.KMS.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: md.KeyId, Message: []byte("msg"), MacAlgorithm: c.alg})
		if err != nil || len(mac.Mac) != c.h().Size() {
			t.Fatalf("GenerateMac %s: %v", c.spec, err)
		}
		if _, err := env.KMS.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: md.KeyId, Message: []byte("msg"), Mac: mac.Mac, MacAlgorithm: c.alg}); err != nil {
			t.Fatalf("VerifyMac: %v", err)
		}
		_, err = env.KMS.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: md.KeyId, Message: []byte("msG"), Mac: mac.Mac, MacAlgorithm: c.alg})
		if apiCode(err) != "KMSInvalidMacException" {
			t.Fatalf("VerifyMac of an altered message: %v", err)
		}
		// The enum set in AWS's order, as AWS answered it (recorded).
		const badAlg = "1 validation error detected: Value 'INVALID' at 'macAlgorithm' failed to satisfy constraint: " +
			"Member must satisfy enum value set: [HMAC_SHA_384, HMAC_SHA_256, HMAC_SHA_224, HMAC_SHA_512]"
		_, err = env.KMS.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: md.KeyId, Message: []byte("msg"), MacAlgorithm: "INVALID"})
		wantError(t, err, "ValidationException", badAlg)
		_, err = env.KMS.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: md.KeyId, Message: []byte("msg"), Mac: mac.Mac, MacAlgorithm: "INVALID"})
		wantError(t, err, "ValidationException", badAlg)
	}

	ka := newAsymKey(t, env, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	pk, err := env.KMS.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: ka.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	trentPub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	minePub, err := x509.MarshalPKIXPublicKey(mine.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	shared, err := env.KMS.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: ka.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: minePub})
	if err != nil {
		t.Fatalf("DeriveSharedSecret: %v", err)
	}
	tp, err := trentPub.(*ecdsa.PublicKey).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	local, err := mine.ECDH(tp)
	if err != nil || !bytes.Equal(local, shared.SharedSecret) {
		t.Fatalf("shared secrets differ (%v)", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	otherPub, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	_, err = env.KMS.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: ka.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: otherPub})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("peer key on another curve: %v", err)
	}

	sym, err := env.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []types.DataKeyPairSpec{types.DataKeyPairSpecEccNistP256, types.DataKeyPairSpecRsa2048, types.DataKeyPairSpecEccNistEdwards25519} {
		pair, err := env.KMS.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: sym.KeyMetadata.KeyId, KeyPairSpec: spec, EncryptionContext: map[string]string{"p": "q"}})
		if err != nil {
			t.Fatalf("GenerateDataKeyPair %s: %v", spec, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(pair.PrivateKeyPlaintext)
		if err != nil {
			t.Fatalf("PKCS#8 of %s: %v", spec, err)
		}
		pubDER, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
		if err != nil || !bytes.Equal(pubDER, pair.PublicKey) {
			t.Fatalf("%s: public key does not match the private key", spec)
		}
		dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: pair.PrivateKeyCiphertextBlob, EncryptionContext: map[string]string{"p": "q"}})
		if err != nil || !bytes.Equal(dec.Plaintext, pair.PrivateKeyPlaintext) {
			t.Fatalf("%s: encrypted private key does not decrypt to the plaintext one (%v)", spec, err)
		}
	}
	_, err = env.KMS.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: ka.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	if apiCode(err) != "InvalidKeyUsageException" {
		t.Fatalf("GenerateDataKeyPair under an ECC key: %v", err)
	}
}

// TestForgedHeaderNamingAsymmetricKey: a symmetric blob whose header is
// rewritten to name an RSA or HMAC key is a damaged ciphertext, never a
// server fault (the named key's material is not a 32-byte backing key).
func TestForgedHeaderNamingAsymmetricKey(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	sym, err := env.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: sym.KeyMetadata.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []*types.KeyMetadata{
		newAsymKey(t, env, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt),
		newAsymKey(t, env, types.KeySpecHmac224, types.KeyUsageTypeGenerateVerifyMac),
	} {
		forged := bytes.Clone(enc.CiphertextBlob)
		id, err := hex.DecodeString(strings.ReplaceAll(*target.KeyId, "-", ""))
		if err != nil || len(id) != 16 {
			t.Fatalf("key id %s: %v", *target.KeyId, err)
		}
		copy(forged[1:17], id) // the header's key id follows the version byte
		_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: forged})
		if apiCode(err) != "InvalidCiphertextException" {
			t.Errorf("blob naming a %s key: %v, want InvalidCiphertextException", target.KeySpec, err)
		}
	}
}

// TestIgnoreCiphertextDryRunWithRSAKey: DryRun with IGNORE_CIPHERTEXT checks
// only the named key, and an RSA ENCRYPT_DECRYPT key can decrypt.
func TestIgnoreCiphertextDryRunWithRSAKey(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	rsaKey := newAsymKey(t, env, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	_, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{KeyId: rsaKey.KeyId, CiphertextBlob: []byte("anything"), DryRun: aws.Bool(true),
		DryRunModifiers: []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}})
	if apiCode(err) != "DryRunOperationException" {
		t.Errorf("Decrypt DryRun IGNORE_CIPHERTEXT with an RSA key: %v", err)
	}
	signKey := newAsymKey(t, env, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{KeyId: signKey.KeyId, CiphertextBlob: []byte("anything"), DryRun: aws.Bool(true),
		DryRunModifiers: []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}})
	if apiCode(err) != "InvalidKeyUsageException" {
		t.Errorf("Decrypt DryRun IGNORE_CIPHERTEXT with a signing key: %v", err)
	}
}
