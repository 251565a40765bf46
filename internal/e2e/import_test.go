package e2e

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"

	"github.com/trent-kms/trent/internal/testenv"
)

// Imported key material (BYOK) end to end, through aws-sdk-go-v2. The
// material is made and wrapped here with the Go standard library (and with
// openssl in import_openssl_test.go), so each test knows the key and can
// check Trent's results independently.

func createExternal(t testing.TB, env *testenv.Env, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	skipSpecInFIPSMode(t, spec)
	return createKey(t, env, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Origin: types.OriginTypeExternal})
}

// importParams calls GetParametersForImport and parses the wrapping key.
func importParams(t testing.TB, env *testenv.Env, keyID string, alg types.AlgorithmSpec, spec types.WrappingKeySpec) (*rsa.PublicKey, []byte) {
	t.Helper()
	out, err := env.KMS.GetParametersForImport(t.Context(), &kms.GetParametersForImportInput{
		KeyId: aws.String(keyID), WrappingAlgorithm: alg, WrappingKeySpec: spec})
	mustOK(t, err, "GetParametersForImport")
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		t.Fatalf("wrapping public key: %v", err)
	}
	return pub.(*rsa.PublicKey), out.ImportToken
}

func wrapHash(alg types.AlgorithmSpec) hash.Hash {
	if alg == types.AlgorithmSpecRsaesOaepSha1 || alg == types.AlgorithmSpecRsaAesKeyWrapSha1 {
		return sha1.New()
	}
	return sha256.New()
}

// wrapMaterial wraps material as a client does: RSAES-OAEP, or RSA-AES key
// wrap (OAEP of a fresh AES-256 key ‖ RFC 5649 wrap of the material),
// with an independent RFC 5649 implementation (kwpWrap).
func wrapMaterial(t testing.TB, alg types.AlgorithmSpec, pub *rsa.PublicKey, material []byte) []byte {
	t.Helper()
	switch alg {
	case types.AlgorithmSpecRsaesOaepSha1, types.AlgorithmSpecRsaesOaepSha256:
		w, err := rsa.EncryptOAEP(wrapHash(alg), rand.Reader, pub, material, nil)
		if err != nil {
			t.Fatalf("wrap: %v", err)
		}
		return w
	}
	kek := make([]byte, 32)
	rand.Read(kek)
	head, err := rsa.EncryptOAEP(wrapHash(alg), rand.Reader, pub, kek, nil)
	if err != nil {
		t.Fatalf("wrap AES key: %v", err)
	}
	return append(head, kwpWrap(t, kek, material)...)
}

// kwpWrap is AES key wrap with padding (RFC 5649), written from the RFC
// for this test.
func kwpWrap(t testing.TB, kek, p []byte) []byte {
	b, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	padded := make([]byte, (len(p)+7)/8*8)
	copy(padded, p)
	var a [8]byte
	binary.BigEndian.PutUint32(a[:4], 0xA65959A6)
	binary.BigEndian.PutUint32(a[4:], uint32(len(p)))
	n := len(padded) / 8
	if n == 1 {
		out := make([]byte, 16)
		b.Encrypt(out, append(a[:], padded...))
		return out
	}
	r := padded
	aa := binary.BigEndian.Uint64(a[:])
	var blk [16]byte
	for j := 0; j <= 5; j++ {
		for i := 1; i <= n; i++ {
			binary.BigEndian.PutUint64(blk[:8], aa)
			copy(blk[8:], r[8*(i-1):8*i])
			b.Encrypt(blk[:], blk[:])
			aa = binary.BigEndian.Uint64(blk[:8]) ^ uint64(n*j+i)
			copy(r[8*(i-1):8*i], blk[8:])
		}
	}
	return append(binary.BigEndian.AppendUint64(nil, aa), r...)
}

// importMaterial wraps and imports material with a fresh token.
func importMaterial(t testing.TB, env *testenv.Env, keyID string, alg types.AlgorithmSpec, material []byte, in *kms.ImportKeyMaterialInput) (*kms.ImportKeyMaterialOutput, error) {
	t.Helper()
	pub, token := importParams(t, env, keyID, alg, types.WrappingKeySpecRsa2048)
	if in == nil {
		in = &kms.ImportKeyMaterialInput{}
	}
	in.KeyId, in.ImportToken = aws.String(keyID), token
	if in.ExpirationModel == "" && in.ValidTo == nil {
		// AWS's default, KEY_MATERIAL_EXPIRES, needs a ValidTo.
		in.ExpirationModel = types.ExpirationModelTypeKeyMaterialDoesNotExpire
	}
	in.EncryptedKeyMaterial = wrapMaterial(t, alg, pub, material)
	return env.KMS.ImportKeyMaterial(t.Context(), in)
}

// openBlob decrypts a Trent ciphertext (no encryption context) with the
// material itself, as docs/ARCHITECTURE.md describes the blob: the proof
// that Trent encrypts under the imported key and not under another.
func openBlob(t testing.TB, material, blob []byte) []byte {
	t.Helper()
	const header = 1 + 16 + 4 + 32
	if len(blob) < header+12+16 {
		t.Fatalf("blob of %d bytes", len(blob))
	}
	k, err := hkdf.Key(sha256.New, material, blob[21:header], "trent/symmetric/v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := aes.NewCipher(k)
	g, _ := cipher.NewGCM(b)
	aad := append(append([]byte(nil), blob[:header]...), 0, 0, 0, 0)
	pt, err := g.Open(nil, blob[header:header+12], blob[header+12:], aad)
	if err != nil {
		t.Fatalf("the blob does not open under the imported material: %v", err)
	}
	return pt
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestImportSymmetric(t *testing.T) {
	env := testenv.Start(t)
	c, ctx := env.KMS, t.Context()
	md := createExternal(t, env, "", "")
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	if md.KeyState != types.KeyStatePendingImport || md.Enabled || md.Origin != types.OriginTypeExternal ||
		md.CurrentKeyMaterialId != nil || md.ExpirationModel != "" {
		t.Fatalf("new EXTERNAL key: %+v", md)
	}
	_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantAPIError(t, err, "KMSInvalidStateException", arn+" is pending import.")
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
	wantAPIError(t, err, "KMSInvalidStateException", arn+" is pending import.")

	// GetParametersForImport: a fresh wrapping key each time, 24 hours.
	out, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa3072})
	mustOK(t, err, "GetParametersForImport")
	if aws.ToString(out.KeyId) != arn || !out.ParametersValidTo.Equal(env.Clock.Now().Add(24*time.Hour).Truncate(time.Millisecond)) &&
		out.ParametersValidTo.Sub(env.Clock.Now().Add(24*time.Hour)).Abs() > time.Millisecond {
		t.Errorf("GetParametersForImport: KeyId %s, ParametersValidTo %v (clock %v)", aws.ToString(out.KeyId), out.ParametersValidTo, env.Clock.Now())
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil || pub.(*rsa.PublicKey).N.BitLen() != 3072 {
		t.Fatalf("wrapping key: %v", err)
	}
	pub2, token2 := importParams(t, env, id, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa3072)
	if pub2.Equal(pub) {
		t.Error("two GetParametersForImport calls returned the same wrapping key")
	}

	material := random(32)
	// The token and wrapping key must come from the same answer.
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: token2,
		EncryptedKeyMaterial: wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, pub.(*rsa.PublicKey), material), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantAPIError(t, err, "InvalidCiphertextException", "")
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: out.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, pub.(*rsa.PublicKey), material),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialExpires})
	wantAPIError(t, err, "ValidationException", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
	// Neither named: AWS's default model is KEY_MATERIAL_EXPIRES, so this
	// is the same refusal (recorded from AWS), not a permanent import.
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: out.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, pub.(*rsa.PublicKey), material)})
	wantAPIError(t, err, "ValidationException", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
	// Wrong lengths are IncorrectKeyMaterialException.
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha1, random(31), nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")

	imp, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: out.ImportToken,
		EncryptedKeyMaterial:   wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, pub.(*rsa.PublicKey), material),
		KeyMaterialDescription: aws.String("first"), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	mustOK(t, err, "ImportKeyMaterial")
	matID := aws.ToString(imp.KeyMaterialId)
	if aws.ToString(imp.KeyId) != arn || len(matID) != 64 {
		t.Fatalf("ImportKeyMaterial answered %s %s", aws.ToString(imp.KeyId), matID)
	}
	md = describe(t, env, id)
	if md.KeyState != types.KeyStateEnabled || !md.Enabled || aws.ToString(md.CurrentKeyMaterialId) != matID ||
		md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || md.ValidTo != nil {
		t.Fatalf("after import: %+v", md)
	}
	blob := encrypt(t, env, id, []byte("secret"), nil)
	if got := openBlob(t, material, blob); string(got) != "secret" {
		t.Fatalf("independent decrypt = %q", got)
	}

	// The same material again (EXISTING_KEY_MATERIAL is the default now):
	// the same KeyMaterialId. Other material is refused.
	again, err := importMaterial(t, env, id, types.AlgorithmSpecRsaAesKeyWrapSha256, material, nil)
	mustOK(t, err, "re-import")
	if aws.ToString(again.KeyMaterialId) != matID {
		t.Errorf("re-import: KeyMaterialId %s, want %s", aws.ToString(again.KeyMaterialId), matID)
	}
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, random(32), nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, material, &kms.ImportKeyMaterialInput{KeyMaterialId: aws.String(hex.EncodeToString(random(32)))})
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")

	// A token of another key; an expired token.
	other := createExternal(t, env, "", "")
	opub, otoken := importParams(t, env, aws.ToString(other.KeyId), types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048)
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: otoken,
		EncryptedKeyMaterial: wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, opub, material), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantAPIError(t, err, "InvalidImportTokenException", "The import token is invalid or is associated with a different KMS key.")
	xpub, xtoken := importParams(t, env, id, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048)
	env.Clock.Advance(24*time.Hour + time.Second)
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: xtoken,
		EncryptedKeyMaterial: wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, xpub, material), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantAPIError(t, err, "ExpiredImportTokenException", "The import token has expired. Call GetParametersForImport for a new one.")

	// Deleting the material: PendingImport, ciphertexts unusable, the
	// material id kept; the same material brings the key back.
	del, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)})
	mustOK(t, err, "DeleteImportedKeyMaterial")
	if aws.ToString(del.KeyId) != arn || aws.ToString(del.KeyMaterialId) != matID {
		t.Errorf("DeleteImportedKeyMaterial answered %s %s", aws.ToString(del.KeyId), aws.ToString(del.KeyMaterialId))
	}
	md = describe(t, env, id)
	if md.KeyState != types.KeyStatePendingImport || md.Enabled || aws.ToString(md.CurrentKeyMaterialId) != matID || md.ExpirationModel != "" {
		t.Fatalf("after delete: %+v", md)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantAPIError(t, err, "KMSInvalidStateException", arn+" is pending import.")
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, random(32), nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha1, material, nil)
	mustOK(t, err, "import after delete")
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt after re-import")
	if string(dec.Plaintext) != "secret" || describe(t, env, id).KeyState != types.KeyStateEnabled {
		t.Fatalf("after re-import: %q", dec.Plaintext)
	}

	// Operations the origin rules out.
	aws1 := createKey(t, env, nil)
	_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws1.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantAPIError(t, err, "UnsupportedOperationException", aws.ToString(aws1.Arn)+" origin is AWS_KMS which is not valid for this operation.")
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws1.KeyId, ImportToken: xtoken, EncryptedKeyMaterial: []byte{1}, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantAPIError(t, err, "UnsupportedOperationException", aws.ToString(aws1.Arn)+" origin is AWS_KMS which is not valid for this operation.")
	_, err = c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws1.KeyId})
	wantAPIError(t, err, "UnsupportedOperationException", aws.ToString(aws1.Arn)+" origin is AWS_KMS which is not valid for this operation.")
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id)})
	wantAPIError(t, err, "UnsupportedOperationException", arn+" origin is EXTERNAL which is not valid for this operation.")
	_, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	wantAPIError(t, err, "UnsupportedOperationException", arn+" origin is EXTERNAL which is not valid for this operation.")
	_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id),
		WrappingAlgorithm: types.AlgorithmSpecRsaesPkcs1V15, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if apiCode(err) != "ValidationException" {
		t.Errorf("RSAES_PKCS1_V1_5: %v", err)
	}
}

func TestImportExpiry(t *testing.T) {
	env := testenv.Start(t)
	c, ctx := env.KMS, t.Context()
	md := createExternal(t, env, "", "")
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	material := random(32)
	validTo := env.Clock.Now().Add(time.Hour).Truncate(time.Second)
	_, err := importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, material, &kms.ImportKeyMaterialInput{
		ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(env.Clock.Now().Add(400 * 24 * time.Hour))})
	if apiCode(err) != "ValidationException" {
		t.Errorf("ValidTo past a year: %v", err)
	}
	// ValidTo alone: KEY_MATERIAL_EXPIRES is the default model.
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, material, &kms.ImportKeyMaterialInput{
		ValidTo: aws.Time(validTo)})
	mustOK(t, err, "ImportKeyMaterial")
	md = describe(t, env, id)
	if md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || md.ValidTo == nil || !md.ValidTo.Equal(validTo) {
		t.Fatalf("DescribeKey: ExpirationModel %s ValidTo %v, want %v", md.ExpirationModel, md.ValidTo, validTo)
	}
	blob := encrypt(t, env, id, []byte("p"), nil)

	env.RunJobs(t) // not yet
	if describe(t, env, id).KeyState != types.KeyStateEnabled {
		t.Fatal("material expired early")
	}
	env.Clock.Advance(2 * time.Hour)
	env.RunJobs(t)
	md = describe(t, env, id)
	if md.KeyState != types.KeyStatePendingImport || md.ExpirationModel != "" {
		t.Fatalf("after expiry: %+v", md)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantAPIError(t, err, "KMSInvalidStateException", arn+" is pending import.")
	evs := lookupAll(t, cloudTrailClient(env, env.AccessKeyID, env.Secret), &cloudtrail.LookupEventsInput{
		LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "DeleteExpiredKeyMaterial")})
	if len(evs) != 1 {
		t.Fatalf("DeleteExpiredKeyMaterial events: %d, want 1", len(evs))
	}
	env.RunJobs(t) // nothing more to do
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, material, nil)
	mustOK(t, err, "re-import after expiry")
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt")
	if string(dec.Plaintext) != "p" || describe(t, env, id).ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Fatal("re-import did not restore the key")
	}
}

func TestImportRotateOnDemand(t *testing.T) {
	env := testenv.Start(t)
	c, ctx := env.KMS, t.Context()
	md := createExternal(t, env, "", "")
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantAPIError(t, err, "KMSInvalidStateException", arn+" is pending import.")
	m1, m2 := random(32), random(32)
	i1, err := importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, m1, nil)
	mustOK(t, err, "import 1")
	id1 := aws.ToString(i1.KeyMaterialId)
	c1 := encrypt(t, env, id, []byte("one"), nil)
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantAPIError(t, err, "KMSInvalidStateException", "No available key material pending rotation for the key: "+arn+".")

	i2, err := importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, m2, &kms.ImportKeyMaterialInput{
		ImportType: types.ImportTypeNewKeyMaterial, KeyMaterialDescription: aws.String("second")})
	mustOK(t, err, "import 2")
	id2 := aws.ToString(i2.KeyMaterialId)
	if id2 == id1 || aws.ToString(describe(t, env, id).CurrentKeyMaterialId) != id1 {
		t.Fatal("new material became current before rotation")
	}
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, random(32), &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	if apiCode(err) != "KMSInvalidStateException" {
		t.Errorf("second pending material: %v", err)
	}
	rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	mustOK(t, err, "ListKeyRotations")
	if len(rot.Rotations) != 2 ||
		aws.ToString(rot.Rotations[0].KeyMaterialId) != id1 || rot.Rotations[0].KeyMaterialState != types.KeyMaterialStateCurrent || rot.Rotations[0].ImportState != types.ImportStateImported ||
		aws.ToString(rot.Rotations[1].KeyMaterialId) != id2 || rot.Rotations[1].KeyMaterialState != types.KeyMaterialStatePendingRotation ||
		aws.ToString(rot.Rotations[1].KeyMaterialDescription) != "second" || rot.Rotations[1].ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Fatalf("ListKeyRotations before rotation: %+v", rot.Rotations)
	}

	r, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand")
	if aws.ToString(r.KeyId) != arn || aws.ToString(describe(t, env, id).CurrentKeyMaterialId) != id2 {
		t.Fatal("rotation did not make the new material current")
	}
	c2 := encrypt(t, env, id, []byte("two"), nil)
	if string(openBlob(t, m2, c2)) != "two" || string(openBlob(t, m1, c1)) != "one" {
		t.Fatal("ciphertexts are not under their materials")
	}
	for _, b := range [][]byte{c1, c2} {
		_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b})
		mustOK(t, err, "Decrypt after rotation")
	}
	rot, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id)})
	mustOK(t, err, "ListKeyRotations")
	if len(rot.Rotations) != 1 || aws.ToString(rot.Rotations[0].KeyMaterialId) != id2 ||
		rot.Rotations[0].RotationType != types.RotationTypeOnDemand || rot.Rotations[0].KeyMaterialState != types.KeyMaterialStateCurrent {
		t.Fatalf("ListKeyRotations after rotation: %+v", rot.Rotations)
	}

	// Deleting old material by id: it was permanently associated (it
	// was current once), so the key is PendingImport, as AWS's Developer
	// Guide has it, until that material comes back.
	_, err = c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: aws.String(id1)})
	mustOK(t, err, "DeleteImportedKeyMaterial old")
	if st := describe(t, env, id).KeyState; st != types.KeyStatePendingImport {
		t.Fatalf("after deleting a rotated-out material the key is %s, want PendingImport", st)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: c1}); err == nil {
		t.Fatal("a ciphertext of deleted material decrypted")
	}
	_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaesOaepSha256, m1, &kms.ImportKeyMaterialInput{
		ImportType: types.ImportTypeExistingKeyMaterial, KeyMaterialId: aws.String(id1)})
	mustOK(t, err, "re-import old material")
	if st := describe(t, env, id).KeyState; st != types.KeyStateEnabled {
		t.Fatalf("after re-importing it the key is %s, want Enabled", st)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: c1})
	mustOK(t, err, "Decrypt with restored material")
	_, err = c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: aws.String(hex.EncodeToString(random(32)))})
	if apiCode(err) != "NotFoundException" {
		t.Errorf("DeleteImportedKeyMaterial of an unknown id: %v", err)
	}
}

// asymmetric imports: the key is made here, imported, and Trent's public
// key and signatures are checked with the standard library.
func TestImportAsymmetric(t *testing.T) {
	env := testenv.Start(t)
	c, ctx := env.KMS, t.Context()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	der := func(k any) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p256DER := der(p256) // der fails the test: not from within a subtest
	msg := []byte("imported signing key")
	digest := sha256.Sum256(msg)
	cases := []struct {
		spec   types.KeySpec
		usage  types.KeyUsageType
		alg    types.AlgorithmSpec
		der    []byte
		public any
		signAl types.SigningAlgorithmSpec
		verify func(sig []byte) bool
	}{
		{types.KeySpecRsa2048, types.KeyUsageTypeSignVerify, types.AlgorithmSpecRsaAesKeyWrapSha256, der(rsaKey), &rsaKey.PublicKey, types.SigningAlgorithmSpecRsassaPssSha256,
			func(sig []byte) bool {
				return rsa.VerifyPSS(&rsaKey.PublicKey, 5, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
			}},
		{types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, types.AlgorithmSpecRsaesOaepSha256, der(p256), &p256.PublicKey, types.SigningAlgorithmSpecEcdsaSha256,
			func(sig []byte) bool { return ecdsa.VerifyASN1(&p256.PublicKey, digest[:], sig) }},
		{types.KeySpecEccNistP521, types.KeyUsageTypeSignVerify, types.AlgorithmSpecRsaAesKeyWrapSha1, der(p521), &p521.PublicKey, types.SigningAlgorithmSpecEcdsaSha512,
			func(sig []byte) bool {
				d := sha512.Sum512(msg)
				return ecdsa.VerifyASN1(&p521.PublicKey, d[:], sig)
			}},
		{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeSignVerify, types.AlgorithmSpecRsaesOaepSha1, der(edKey), edKey.Public(), types.SigningAlgorithmSpecEd25519Sha512,
			func(sig []byte) bool { return ed25519.Verify(edKey.Public().(ed25519.PublicKey), msg, sig) }},
	}
	for _, tc := range cases {
		t.Run(string(tc.spec), func(t *testing.T) {
			md := createExternal(t, env, tc.spec, tc.usage)
			id := aws.ToString(md.KeyId)
			_, err := importMaterial(t, env, id, tc.alg, tc.der, nil)
			mustOK(t, err, "ImportKeyMaterial")
			md = describe(t, env, id)
			if md.KeyState != types.KeyStateEnabled || md.CurrentKeyMaterialId != nil || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
				t.Fatalf("after import: %+v", md)
			}
			pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
			mustOK(t, err, "GetPublicKey")
			want, _ := x509.MarshalPKIXPublicKey(tc.public)
			if hex.EncodeToString(pk.PublicKey) != hex.EncodeToString(want) {
				t.Fatal("GetPublicKey is not the imported key's public key")
			}
			sig, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: tc.signAl})
			mustOK(t, err, "Sign")
			if !tc.verify(sig.Signature) {
				t.Fatal("the standard library does not verify Trent's signature with the imported key")
			}
			// Asymmetric keys take one material: other material is refused,
			// NEW_KEY_MATERIAL is for symmetric keys only.
			_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaAesKeyWrapSha256, p256DER, nil)
			if tc.spec != types.KeySpecEccNistP256 {
				wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")
			}
			_, err = importMaterial(t, env, id, types.AlgorithmSpecRsaAesKeyWrapSha256, tc.der, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
			if apiCode(err) != "ValidationException" {
				t.Errorf("NEW_KEY_MATERIAL on %s: %v", tc.spec, err)
			}
			_, err = c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)})
			mustOK(t, err, "DeleteImportedKeyMaterial")
			_, err = c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: tc.signAl})
			wantAPIError(t, err, "KMSInvalidStateException", aws.ToString(md.Arn)+" is pending import.")
			_, err = importMaterial(t, env, id, tc.alg, tc.der, nil)
			mustOK(t, err, "re-import")
		})
	}

	// AWS's rules on wrapping: RSA private keys need RSA_AES; P-521 does
	// not fit RSAES-OAEP under RSA_2048.
	rsaMD := createExternal(t, env, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: rsaMD.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa4096})
	if apiCode(err) != "ValidationException" {
		t.Errorf("RSA material with RSAES_OAEP: %v", err)
	}
	p521MD := createExternal(t, env, types.KeySpecEccNistP521, types.KeyUsageTypeSignVerify)
	_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: p521MD.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha1, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if apiCode(err) != "ValidationException" {
		t.Errorf("P-521 material with RSAES_OAEP and RSA_2048: %v", err)
	}
	// Material of the wrong size or kind, or whose public point is not the
	// private key's, is IncorrectKeyMaterialException.
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024) // of the wrong size, and quick to make
	_, err = importMaterial(t, env, aws.ToString(rsaMD.KeyId), types.AlgorithmSpecRsaAesKeyWrapSha256, der(rsa1024), nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")
	_, err = importMaterial(t, env, aws.ToString(rsaMD.KeyId), types.AlgorithmSpecRsaAesKeyWrapSha256, der(p256), nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")
	ecMD := createExternal(t, env, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bad := der(p256)
	own, _ := p256.PublicKey.ECDH()
	swap, _ := other.PublicKey.ECDH()
	copy(bad[len(bad)-len(own.Bytes()):], swap.Bytes())
	_, err = importMaterial(t, env, aws.ToString(ecMD.KeyId), types.AlgorithmSpecRsaAesKeyWrapSha256, bad, nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")

	// RSA encryption with an imported key: encrypted here, decrypted by Trent.
	_, err = importMaterial(t, env, aws.ToString(rsaMD.KeyId), types.AlgorithmSpecRsaAesKeyWrapSha1, der(rsaKey), nil)
	mustOK(t, err, "import RSA encryption key")
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &rsaKey.PublicKey, []byte("to trent"), nil)
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: rsaMD.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	mustOK(t, err, "Decrypt")
	if string(dec.Plaintext) != "to trent" {
		t.Fatalf("Decrypt = %q", dec.Plaintext)
	}

	// HMAC: Trent's MAC equals crypto/hmac's under the imported key.
	hmacMD := createExternal(t, env, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	hk := random(40)
	_, err = importMaterial(t, env, aws.ToString(hmacMD.KeyId), types.AlgorithmSpecRsaesOaepSha256, hk, nil)
	mustOK(t, err, "import HMAC key")
	mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: hmacMD.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	mustOK(t, err, "GenerateMac")
	h := hmac.New(sha256.New, hk)
	h.Write(msg)
	if !hmac.Equal(h.Sum(nil), mac.Mac) {
		t.Fatal("GenerateMac is not HMAC-SHA-256 under the imported key")
	}
	short := createExternal(t, env, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	_, err = importMaterial(t, env, aws.ToString(short.KeyId), types.AlgorithmSpecRsaesOaepSha256, random(31), nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")
}

// TestImportMLDSA imports an ML-DSA-44 seed in the RFC 9881 seed-only
// PKCS#8 form, written here byte by byte, and checks Trent's public key
// and signature against the key pair FIPS 204 derives from that seed.
func TestImportMLDSA(t *testing.T) {
	env := testenv.Start(t)
	c, ctx := env.KMS, t.Context()
	var seed [32]byte
	rand.Read(seed[:])
	// SEQUENCE { INTEGER 0, SEQUENCE { OID 2.16.840.1.101.3.4.3.17 },
	// OCTET STRING { [0] IMPLICIT seed } }
	der := append(mustHexE2E(t, "3034020100300b0609608648016503040311042280 20"), seed[:]...)
	md := createExternal(t, env, types.KeySpecMlDsa44, types.KeyUsageTypeSignVerify)
	_, err := importMaterial(t, env, aws.ToString(md.KeyId), types.AlgorithmSpecRsaesOaepSha256, der, nil)
	mustOK(t, err, "ImportKeyMaterial")
	pub, _ := mldsa44.NewKeyFromSeed(&seed)
	pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: md.KeyId})
	mustOK(t, err, "GetPublicKey")
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(pk.PublicKey, &spki); err != nil || !bytes.Equal(spki.Key.Bytes, pub.Bytes()) {
		t.Fatalf("GetPublicKey is not the seed's public key (%v)", err)
	}
	msg := []byte("ml-dsa import")
	sig, err := c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
	mustOK(t, err, "Sign")
	if !mldsa44.Verify(pub, msg, nil, sig.Signature) {
		t.Fatal("the signature does not verify under the seed's public key")
	}
	// The expanded (non-seed) form and another parameter set's seed are refused.
	md65 := createExternal(t, env, types.KeySpecMlDsa65, types.KeyUsageTypeSignVerify)
	_, err = importMaterial(t, env, aws.ToString(md65.KeyId), types.AlgorithmSpecRsaesOaepSha256, der, nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.")
}

func mustHexE2E(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportAudit: the import operations are recorded, and neither the
// import token (which carries the sealed wrapping key) nor the wrapped
// material reaches the audit log.
func TestImportAudit(t *testing.T) {
	env := testenv.Start(t)
	md := createExternal(t, env, "", "")
	id := aws.ToString(md.KeyId)
	pub, token := importParams(t, env, id, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048)
	wrapped := wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, pub, random(32))
	_, err := env.KMS.ImportKeyMaterial(t.Context(), &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: token, EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	mustOK(t, err, "ImportKeyMaterial")
	_, err = env.KMS.DeleteImportedKeyMaterial(t.Context(), &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)})
	mustOK(t, err, "DeleteImportedKeyMaterial")
	ct := cloudTrailClient(env, env.AccessKeyID, env.Secret)
	for _, name := range []string{"GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial"} {
		evs := lookupAll(t, ct, &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, name)})
		if len(evs) != 1 {
			t.Fatalf("%s: %d events, want 1", name, len(evs))
		}
		ev := aws.ToString(evs[0].CloudTrailEvent)
		if !strings.Contains(ev, aws.ToString(md.Arn)) {
			t.Errorf("%s event does not name the key: %s", name, ev)
		}
		for what, secret := range map[string][]byte{"import token": token, "wrapped material": wrapped, "wrapping key": pub.N.Bytes()} {
			for _, enc := range []string{base64.StdEncoding.EncodeToString(secret), hex.EncodeToString(secret)} {
				if strings.Contains(ev, enc[:32]) {
					t.Errorf("%s event holds the %s", name, what)
				}
			}
		}
	}
}
