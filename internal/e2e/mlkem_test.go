package e2e

import (
	"bytes"
	"crypto/mlkem"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"

	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// ML-KEM as AWS documents it [API Encapsulate, Decapsulate, CreateKey,
// GenerateDataKeyPair]: encapsulated secrets of 768, 1088 and 1568 bytes,
// 32-byte shared secrets, the RFC 9935 SPKI from GetPublicKey and PKCS#8
// seed-form private keys from GenerateDataKeyPair.
var mlkemCases = []struct {
	spec    types.KeySpec
	pair    types.DataKeyPairSpec
	oid     asn1.ObjectIdentifier
	ekSize  int
	ctSize  int
	decapOf func(seed []byte) (ek []byte, decap func(ct []byte) []byte)
	encapTo func(ek []byte) (shared, ct []byte)
}{
	{types.KeySpecMlKem512, types.DataKeyPairSpecMlKem512, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}, 800, 768,
		func(seed []byte) ([]byte, func([]byte) []byte) {
			pk, sk := mlkem512.NewKeyFromSeed(seed)
			ek, _ := pk.MarshalBinary()
			return ek, func(ct []byte) []byte {
				ss, _ := mlkem512.Scheme().Decapsulate(sk, ct)
				return ss
			}
		},
		func(ek []byte) ([]byte, []byte) {
			pk, err := mlkem512.Scheme().UnmarshalBinaryPublicKey(ek)
			if err != nil {
				return nil, nil
			}
			ct, ss, _ := mlkem512.Scheme().Encapsulate(pk)
			return ss, ct
		}},
	{types.KeySpecMlKem768, types.DataKeyPairSpecMlKem768, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}, 1184, 1088,
		func(seed []byte) ([]byte, func([]byte) []byte) {
			dk, err := mlkem.NewDecapsulationKey768(seed)
			if err != nil {
				return nil, nil
			}
			return dk.EncapsulationKey().Bytes(), func(ct []byte) []byte { ss, _ := dk.Decapsulate(ct); return ss }
		},
		func(ek []byte) ([]byte, []byte) {
			k, err := mlkem.NewEncapsulationKey768(ek)
			if err != nil {
				return nil, nil
			}
			return k.Encapsulate()
		}},
	{types.KeySpecMlKem1024, types.DataKeyPairSpecMlKem1024, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}, 1568, 1568,
		func(seed []byte) ([]byte, func([]byte) []byte) {
			dk, err := mlkem.NewDecapsulationKey1024(seed)
			if err != nil {
				return nil, nil
			}
			return dk.EncapsulationKey().Bytes(), func(ct []byte) []byte { ss, _ := dk.Decapsulate(ct); return ss }
		},
		func(ek []byte) ([]byte, []byte) {
			k, err := mlkem.NewEncapsulationKey1024(ek)
			if err != nil {
				return nil, nil
			}
			return k.Encapsulate()
		}},
}

// mlkemPublic parses GetPublicKey's SPKI with encoding/asn1 and checks the
// algorithm: the RFC 9935 OID without parameters.
func mlkemPublic(t *testing.T, der []byte, oid asn1.ObjectIdentifier, size int) []byte {
	t.Helper()
	s, err := parseSPKI(der)
	if err != nil {
		t.Fatalf("SPKI: %v", err)
	}
	if !s.Algorithm.Algorithm.Equal(oid) || len(s.Algorithm.Parameters.FullBytes) != 0 {
		t.Fatalf("SPKI algorithm %v %x, want %v without parameters", s.Algorithm.Algorithm, s.Algorithm.Parameters.FullBytes, oid)
	}
	ek := s.PublicKey.RightAlign()
	if len(ek) != size {
		t.Fatalf("encapsulation key is %d bytes, want %d", len(ek), size)
	}
	return ek
}

// mlkemSeed parses a PKCS#8 seed-form private key with encoding/asn1.
func mlkemSeed(t *testing.T, der []byte, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	var pki struct {
		Version    int
		Algorithm  struct{ Algorithm asn1.ObjectIdentifier }
		PrivateKey []byte
	}
	if rest, err := asn1.Unmarshal(der, &pki); err != nil || len(rest) != 0 {
		t.Fatalf("PKCS#8: %v (%d trailing bytes)", err, len(rest))
	}
	if pki.Version != 0 || !pki.Algorithm.Algorithm.Equal(oid) {
		t.Fatalf("PKCS#8 version %d algorithm %v, want 0 and %v", pki.Version, pki.Algorithm.Algorithm, oid)
	}
	var seed asn1.RawValue
	if rest, err := asn1.Unmarshal(pki.PrivateKey, &seed); err != nil || len(rest) != 0 ||
		seed.Class != asn1.ClassContextSpecific || seed.Tag != 0 || seed.IsCompound || len(seed.Bytes) != 64 {
		t.Fatalf("privateKey %x is not a [0] 64-byte seed", pki.PrivateKey)
	}
	return seed.Bytes
}

// TestMLKEM drives ML-KEM keys end to end with the SDK, each secret
// checked against an implementation outside Trent's process: Go's
// crypto/mlkem for 768 and 1024, circl for 512 (Trent itself uses circl
// only for 512, whose answers internal/keys checks against Wycheproof).
func TestMLKEM(t *testing.T) {
	env := testenv.Start(t)
	c := env.KMS
	ctx := t.Context()
	sym := createKey(t, env, nil)
	for _, tc := range mlkemCases {
		t.Run(string(tc.spec), func(t *testing.T) {
			md := newAsymKey(t, env, tc.spec, types.KeyUsageTypeEncapsulateDecapsulate)
			if md.KeyUsage != types.KeyUsageTypeEncapsulateDecapsulate || md.KeySpec != tc.spec ||
				!slices.Equal(md.EncapsulationAlgorithms, []types.EncapsulationAlgorithmSpec{types.EncapsulationAlgorithmSpecMlKem}) ||
				md.EncryptionAlgorithms != nil || md.SigningAlgorithms != nil || md.KeyAgreementAlgorithms != nil || md.MacAlgorithms != nil {
				t.Errorf("metadata %+v", md)
			}
			if d := describe(t, env, aws.ToString(md.KeyId)); !slices.Equal(d.EncapsulationAlgorithms, md.EncapsulationAlgorithms) {
				t.Errorf("DescribeKey EncapsulationAlgorithms = %v", d.EncapsulationAlgorithms)
			}
			pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: md.KeyId})
			mustOK(t, err, "GetPublicKey")
			if pub.KeyUsage != types.KeyUsageTypeEncapsulateDecapsulate || pub.KeySpec != tc.spec ||
				!slices.Equal(pub.EncapsulationAlgorithms, []types.EncapsulationAlgorithmSpec{types.EncapsulationAlgorithmSpecMlKem}) {
				t.Errorf("GetPublicKey %+v", pub)
			}
			ek := mlkemPublic(t, pub.PublicKey, tc.oid, tc.ekSize)

			// Trent encapsulates and decapsulates.
			enc, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: md.Arn, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
			mustOK(t, err, "Encapsulate")
			if aws.ToString(enc.KeyId) != aws.ToString(md.Arn) || enc.EncapsulationAlgorithm != types.EncapsulationAlgorithmSpecMlKem ||
				len(enc.SharedSecret) != 32 || len(enc.SharedSecretCiphertextBlob) != tc.ctSize {
				t.Fatalf("Encapsulate: key %s alg %s, %d-byte secret, %d-byte ciphertext", aws.ToString(enc.KeyId), enc.EncapsulationAlgorithm, len(enc.SharedSecret), len(enc.SharedSecretCiphertextBlob))
			}
			dec, err := c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: md.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
				SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob})
			mustOK(t, err, "Decapsulate")
			if !bytes.Equal(dec.SharedSecret, enc.SharedSecret) || aws.ToString(dec.KeyId) != aws.ToString(md.Arn) || dec.EncapsulationAlgorithm != types.EncapsulationAlgorithmSpecMlKem {
				t.Errorf("Decapsulate: %+v", dec)
			}

			// A client encapsulates to the public key; Trent decapsulates.
			ss, ct := tc.encapTo(ek)
			if ct == nil {
				t.Fatal("the outside implementation refused GetPublicKey's key")
			}
			dec, err = c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: md.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: ct})
			mustOK(t, err, "Decapsulate of the client's ciphertext")
			if !bytes.Equal(dec.SharedSecret, ss) {
				t.Errorf("Trent recovered %x, the client encapsulated %x", dec.SharedSecret, ss)
			}

			// Implicit rejection: a damaged ciphertext of the right length
			// yields some other 32 bytes, not an error.
			bad := bytes.Clone(ct)
			bad[len(bad)-1] ^= 1
			dec, err = c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: md.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: bad})
			mustOK(t, err, "Decapsulate of a damaged ciphertext")
			if len(dec.SharedSecret) != 32 || bytes.Equal(dec.SharedSecret, ss) {
				t.Errorf("damaged ciphertext gave %x", dec.SharedSecret)
			}
			last, err := c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: md.KeyId})
			mustOK(t, err, "GetKeyLastUsage")
			if last.KeyLastUsage == nil || last.KeyLastUsage.Operation != types.KeyLastUsageTrackingOperationDecapsulate {
				t.Errorf("GetKeyLastUsage after Decapsulate: %+v", last.KeyLastUsage)
			}
			for _, n := range []int{1, tc.ctSize - 1, tc.ctSize + 1} {
				_, err = c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: md.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: make([]byte, n)})
				wantError(t, err, "InvalidCiphertextException", "")
			}

			// Data key pairs of the spec, under a symmetric key.
			pair, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: tc.pair})
			mustOK(t, err, "GenerateDataKeyPair")
			if pair.KeyPairSpec != tc.pair || len(pair.PrivateKeyPlaintext) != 86 {
				t.Fatalf("GenerateDataKeyPair: spec %s, %d-byte private key", pair.KeyPairSpec, len(pair.PrivateKeyPlaintext))
			}
			seed := mlkemSeed(t, pair.PrivateKeyPlaintext, tc.oid)
			pairEK, decap := tc.decapOf(seed)
			if !bytes.Equal(pairEK, mlkemPublic(t, pair.PublicKey, tc.oid, tc.ekSize)) {
				t.Error("the seed expands to another public key than the one returned")
			}
			ss, ct = tc.encapTo(pairEK)
			if !bytes.Equal(decap(ct), ss) {
				t.Error("the data key pair does not decapsulate")
			}
			opened, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: pair.PrivateKeyCiphertextBlob})
			mustOK(t, err, "Decrypt of the private key")
			if !bytes.Equal(opened.Plaintext, pair.PrivateKeyPlaintext) {
				t.Error("PrivateKeyCiphertextBlob decrypts to another key")
			}
			without, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: sym.KeyId, KeyPairSpec: tc.pair})
			mustOK(t, err, "GenerateDataKeyPairWithoutPlaintext")
			opened, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: without.PrivateKeyCiphertextBlob})
			mustOK(t, err, "Decrypt of the private key")
			if ek, _ := tc.decapOf(mlkemSeed(t, opened.Plaintext, tc.oid)); !bytes.Equal(ek, mlkemPublic(t, without.PublicKey, tc.oid, tc.ekSize)) {
				t.Error("WithoutPlaintext: private and public keys do not match")
			}
		})
	}
}

// TestMLKEMErrors: what AWS answers to ML-KEM requests that cannot work.
func TestMLKEMErrors(t *testing.T) {
	env := testenv.Start(t)
	c := env.KMS
	ctx := t.Context()
	kem := newAsymKey(t, env, types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate)
	kemID, kemARN := aws.ToString(kem.KeyId), aws.ToString(kem.Arn)
	sym := createKey(t, env, nil)
	ecc := newAsymKey(t, env, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	enc, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: kem.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	mustOK(t, err, "Encapsulate")
	ct := enc.SharedSecretCiphertextBlob

	t.Run("CreateKey", func(t *testing.T) {
		_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecMlKem1024})
		wantError(t, err, "ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
		for _, u := range []types.KeyUsageType{types.KeyUsageTypeEncryptDecrypt, types.KeyUsageTypeSignVerify, types.KeyUsageTypeKeyAgreement} {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecMlKem512, KeyUsage: u})
			wantError(t, err, "ValidationException", fmt.Sprintf("KeyUsage %s is not compatible with KeySpec ML_KEM_512", u))
		}
		_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeEncapsulateDecapsulate})
		wantError(t, err, "ValidationException", "KeyUsage ENCAPSULATE_DECAPSULATE is not compatible with KeySpec ECC_NIST_P256")
	})
	t.Run("wrong key usage", func(t *testing.T) {
		for _, md := range []*types.KeyMetadata{sym, ecc} {
			_, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: md.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
			wantError(t, err, "InvalidKeyUsageException", fmt.Sprintf("%s key usage is %s which is not valid for Encapsulate.", aws.ToString(md.Arn), md.KeyUsage))
			_, err = c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: md.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: ct})
			wantError(t, err, "InvalidKeyUsageException", fmt.Sprintf("%s key usage is %s which is not valid for Decapsulate.", aws.ToString(md.Arn), md.KeyUsage))
		}
		usage := func(op string) string {
			return kemARN + " key usage is ENCAPSULATE_DECAPSULATE which is not valid for " + op + "."
		}
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: kem.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		wantError(t, err, "InvalidKeyUsageException", usage("Encrypt"))
		_, err = c.Sign(ctx, &kms.SignInput{KeyId: kem.KeyId, Message: []byte("x"), SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
		wantError(t, err, "InvalidKeyUsageException", usage("Sign"))
		_, err = c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: kem.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: []byte{1}})
		wantError(t, err, "InvalidKeyUsageException", usage("DeriveSharedSecret"))
		// A key that cannot decrypt did not make the ciphertext.
		blob := encrypt(t, env, aws.ToString(sym.KeyId), []byte("x"), nil)
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: kem.KeyId})
		wantError(t, err, "IncorrectKeyException", incorrectKeyMessage)
		_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceKeyId: kem.KeyId, DestinationKeyId: sym.KeyId})
		wantError(t, err, "IncorrectKeyException", incorrectKeyMessage)
		_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: kem.KeyId})
		wantError(t, err, "UnsupportedOperationException", anyMessage)
		_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: kem.KeyId})
		wantError(t, err, "UnsupportedOperationException", anyMessage)
		_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: kem.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"a": "b"}})
		wantError(t, err, "InvalidKeyUsageException", usage("Encrypt"))
	})
	t.Run("validation", func(t *testing.T) {
		_, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: kem.KeyId, EncapsulationAlgorithm: "ML_KEM_768"})
		wantError(t, err, "ValidationException", "1 validation error detected: Value 'ML_KEM_768' at 'encapsulationAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [ML_KEM]")
		_, err = c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: kem.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: make([]byte, 6145)})
		wantError(t, err, "ValidationException", "1 validation error detected: Value at 'sharedSecretCiphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144")
		_, err = c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: aws.String("alias/missing"), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
		wantError(t, err, "NotFoundException", "Alias "+aliasARN(env, "alias/missing")+" is not found.")
		// Members the SDK requires, sent without them over the wire.
		for op, body := range map[string]string{
			"Encapsulate": `{"KeyId":"` + kemID + `"}`,
			"Decapsulate": `{"KeyId":"` + kemID + `","EncapsulationAlgorithm":"ML_KEM"}`,
		} {
			status, _, resp := env.Post(t, op, []byte(body), true)
			if status != 400 || !strings.Contains(string(resp), "ValidationException") {
				t.Errorf("%s %s: %d %s", op, body, status, resp)
			}
		}
	})
	t.Run("DryRun", func(t *testing.T) {
		_, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: kem.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, DryRun: aws.Bool(true)})
		wantError(t, err, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
		_, err = c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: kem.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: ct, DryRun: aws.Bool(true)})
		wantError(t, err, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	})
	t.Run("grants", func(t *testing.T) {
		principal := "arn:aws:iam::" + env.Account + ":root"
		_, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: kem.KeyId, GranteePrincipal: aws.String(principal),
			Operations: []types.GrantOperation{types.GrantOperationEncapsulate, types.GrantOperationDecapsulate, types.GrantOperationGetPublicKey}})
		mustOK(t, err, "CreateGrant")
		_, err = c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: sym.KeyId, GranteePrincipal: aws.String(principal),
			Operations: []types.GrantOperation{types.GrantOperationEncapsulate}})
		wantError(t, err, "ValidationException", anyMessage)
		_, err = c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: kem.KeyId, GranteePrincipal: aws.String(principal),
			Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
		wantError(t, err, "ValidationException", anyMessage)
	})
}

// TestMLKEMOpenSSL has OpenSSL read the PKCS#8 seed form Trent returns
// from GenerateDataKeyPair and derive the public key from it: OpenSSL has
// ML-KEM from 3.5 on; Debian 12's OpenSSL 3.0 does not, so there it skips.
func TestMLKEMOpenSSL(t *testing.T) {
	out, err := testcmd.Command(t, "openssl", "list", "-kem-algorithms").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ML-KEM") {
		v, _ := testcmd.Command(t, "openssl", "version").Output()
		t.Skipf("the installed OpenSSL (%s) has no ML-KEM (3.5 or later has); Trent's ML-KEM is checked against Go's crypto/mlkem, circl and Wycheproof instead", strings.TrimSpace(string(v)))
	}
	env := testenv.Start(t)
	sym := createKey(t, env, nil)
	dir := t.TempDir()
	for _, tc := range mlkemCases {
		pair, err := env.KMS.GenerateDataKeyPair(t.Context(), &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: tc.pair})
		mustOK(t, err, "GenerateDataKeyPair")
		priv, pub := filepath.Join(dir, "priv.der"), filepath.Join(dir, "pub.der")
		if err := os.WriteFile(priv, pair.PrivateKeyPlaintext, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := testcmd.Command(t, "openssl", "pkey", "-inform", "DER", "-in", priv, "-pubout", "-outform", "DER", "-out", pub).CombinedOutput(); err != nil {
			t.Fatalf("%s: openssl pkey: %v\n%s", tc.spec, err, out)
		}
		got, err := os.ReadFile(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pair.PublicKey) {
			t.Errorf("%s: OpenSSL derives another public key from the seed", tc.spec)
		}
	}
}

// FuzzMLKEMDispatch sends arbitrary signed Encapsulate and Decapsulate
// bodies naming a real ML-KEM key ({{K}}) and a real encapsulation ({{C}})
// and checks that none is answered with a 5xx.
func FuzzMLKEMDispatch(f *testing.F) {
	seeds := []string{
		`{}`,
		`{"KeyId":"{{K}}","EncapsulationAlgorithm":"ML_KEM"}`,
		`{"KeyId":"{{K}}","EncapsulationAlgorithm":"ML_KEM","SharedSecretCiphertextBlob":"{{C}}"}`,
		`{"KeyId":"{{K}}","EncapsulationAlgorithm":"ML_KEM","SharedSecretCiphertextBlob":"AAAA","DryRun":true}`,
		`{"KeyId":"{{K}}","EncapsulationAlgorithm":"ml_kem","GrantTokens":["x"]}`,
		`{"KeyId":"{{K}}","EncapsulationAlgorithm":"ML_KEM","SharedSecretCiphertextBlob":"{{C}}","GrantTokens":[]}`,
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, op := range []uint8{0, 1} {
		for _, s := range seeds {
			f.Add(op, []byte(s))
		}
	}
	env := testenv.Start(f)
	md, err := env.KMS.CreateKey(f.Context(), &kms.CreateKeyInput{KeySpec: types.KeySpecMlKem768, KeyUsage: types.KeyUsageTypeEncapsulateDecapsulate})
	if err != nil {
		f.Fatal(err)
	}
	enc, err := env.KMS.Encapsulate(f.Context(), &kms.EncapsulateInput{KeyId: md.KeyMetadata.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	if err != nil {
		f.Fatal(err)
	}
	key, ct := aws.ToString(md.KeyMetadata.KeyId), base64.StdEncoding.EncodeToString(enc.SharedSecretCiphertextBlob)
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		body = bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("{{K}}"), []byte(key)), []byte("{{C}}"), []byte(ct))
		name := []string{"Encapsulate", "Decapsulate"}[op%2]
		status, _, resp := env.Post(t, name, body, true)
		if status >= 500 {
			t.Fatalf("%s %q: %d %s", name, body, status, resp)
		}
	})
}

// TestMLKEMFIPSMode runs the built binary as `serve --dev --fips` (Go's
// FIPS 140-3 module on): ML-KEM-768 and -1024 (crypto/mlkem, in the
// module) create keys, encapsulate and decapsulate — a client's
// crypto/mlkem ciphertext included — and make data key pairs; ML-KEM-512
// (circl) is refused with UnsupportedOperationException naming FIPS mode.
func TestMLKEMFIPSMode(t *testing.T) {
	id, secret := randomAccessKey(t)
	p := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}, "--fips")
	if !strings.Contains(p.Stderr(), `msg="FIPS 140-3 mode" enabled=true`) {
		t.Fatalf("not in FIPS mode:\n%s", p.Stderr())
	}
	c, ctx := p.Client(id, secret), t.Context()
	fipsRefusal := func(what string, err error, spec string) {
		t.Helper()
		wantErrorPrefix(t, err, "UnsupportedOperationException", what+" "+spec+" is not available in FIPS 140-3 mode: ")
	}
	_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecMlKem512, KeyUsage: types.KeyUsageTypeEncapsulateDecapsulate})
	fipsRefusal("KeySpec", err, "ML_KEM_512")
	sym := symmetricKey(t, c)
	_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecMlKem512})
	fipsRefusal("KeyPairSpec", err, "ML_KEM_512")
	for _, tc := range mlkemCases[1:] {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: tc.spec, KeyUsage: types.KeyUsageTypeEncapsulateDecapsulate})
		mustOK(t, err, "CreateKey "+string(tc.spec))
		pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: out.KeyMetadata.KeyId})
		mustOK(t, err, "GetPublicKey")
		ss, ct := tc.encapTo(mlkemPublic(t, pub.PublicKey, tc.oid, tc.ekSize))
		dec, err := c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: out.KeyMetadata.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem, SharedSecretCiphertextBlob: ct})
		mustOK(t, err, "Decapsulate")
		if !bytes.Equal(dec.SharedSecret, ss) {
			t.Errorf("%s: FIPS-mode Decapsulate recovered another secret", tc.spec)
		}
		enc, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: out.KeyMetadata.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
		mustOK(t, err, "Encapsulate")
		if len(enc.SharedSecretCiphertextBlob) != tc.ctSize {
			t.Errorf("%s: %d-byte encapsulation", tc.spec, len(enc.SharedSecretCiphertextBlob))
		}
		_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: tc.pair})
		mustOK(t, err, "GenerateDataKeyPair "+string(tc.pair))
	}
}

// TestMLKEMCrossAccountGrant: another account may Encapsulate and
// Decapsulate with an ML-KEM key by its ARN once a grant allows those
// operations ("Cross-account use: Yes"), and is denied before.
func TestMLKEMCrossAccountGrant(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := newAsymKey(t, env, types.KeySpecMlKem1024, types.KeyUsageTypeEncapsulateDecapsulate)
	other, oid, osecret := env.NewAccount(t)
	oc := env.Client(oid, osecret)
	encap := func() (*kms.EncapsulateOutput, error) {
		return oc.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: md.Arn, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	}
	_, err := encap()
	wantError(t, err, "AccessDeniedException", anyMessage)
	_, err = env.KMS.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String("arn:aws:iam::" + other + ":root"),
		Operations: []types.GrantOperation{types.GrantOperationEncapsulate, types.GrantOperationDecapsulate}})
	mustOK(t, err, "CreateGrant")
	enc, err := encap()
	mustOK(t, err, "Encapsulate by grant")
	dec, err := oc.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: md.Arn, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
		SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob})
	mustOK(t, err, "Decapsulate by grant")
	if !bytes.Equal(dec.SharedSecret, enc.SharedSecret) {
		t.Error("Decapsulate by grant recovered another secret")
	}
	// The grant allows no GetPublicKey.
	_, err = oc.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: md.Arn})
	wantError(t, err, "AccessDeniedException", anyMessage)
}
