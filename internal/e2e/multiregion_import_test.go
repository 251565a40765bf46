package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Multi-Region keys with imported key material, through the AWS SDK with
// one client per region (docs/multi-region.md, docs/import.md): AWS does
// not copy imported material to replicas; the same material is imported
// into each member, and each member's import, expiry and deletion are its
// own.

// importInto imports material into keyID with client c (RSAES_OAEP_SHA_256
// under a fresh RSA_2048 wrapping key of c's region).
func importInto(t *testing.T, c *kms.Client, keyID string, material []byte, in *kms.ImportKeyMaterialInput) (*kms.ImportKeyMaterialOutput, error) {
	t.Helper()
	p, err := c.GetParametersForImport(t.Context(), &kms.GetParametersForImportInput{KeyId: aws.String(keyID),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	mustOK(t, err, "GetParametersForImport")
	pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatalf("wrapping public key: %v", err)
	}
	if in == nil {
		in = &kms.ImportKeyMaterialInput{}
	}
	in.KeyId, in.ImportToken = aws.String(keyID), p.ImportToken
	if in.ExpirationModel == "" && in.ValidTo == nil {
		// AWS's default, KEY_MATERIAL_EXPIRES, needs a ValidTo.
		in.ExpirationModel = types.ExpirationModelTypeKeyMaterialDoesNotExpire
	}
	in.EncryptedKeyMaterial = wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, pub.(*rsa.PublicKey), material)
	return c.ImportKeyMaterial(t.Context(), in)
}

func encryptWith(t *testing.T, c *kms.Client, keyID string, pt []byte) []byte {
	t.Helper()
	out, err := c.Encrypt(t.Context(), &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: pt})
	mustOK(t, err, "Encrypt")
	return out.CiphertextBlob
}

func wantDecryptIn(t *testing.T, c *kms.Client, blob []byte, want string) {
	t.Helper()
	out, err := c.Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt")
	if string(out.Plaintext) != want {
		t.Fatalf("Decrypt = %q, want %q", out.Plaintext, want)
	}
}

func wantState(t *testing.T, c *kms.Client, id string, want types.KeyState) *types.KeyMetadata {
	t.Helper()
	md := describeIn(t, c, id)
	if md.KeyState != want {
		t.Fatalf("%s is %s, want %s", aws.ToString(md.Arn), md.KeyState, want)
	}
	return md
}

// newImportedMR makes a symmetric multi-Region key of Origin EXTERNAL with
// material imported into the primary, and its replica in e.other.
func newImportedMR(t *testing.T, e *mrEnv, material []byte) (id string, blob []byte) {
	t.Helper()
	md := e.createMR(t, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	id = aws.ToString(md.KeyId)
	_, err := importInto(t, e.home, id, material, nil)
	mustOK(t, err, "ImportKeyMaterial into the primary")
	blob = encryptWith(t, e.home, id, []byte("made by the primary"))
	e.replicate(t, id)
	return id, blob
}

func TestMultiRegionImport(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()

	// CreateKey: a primary without material.
	md := e.createMR(t, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	id := aws.ToString(md.KeyId)
	homeARN, awayARN := e.arn(e.homeRegion, id), e.arn(e.other, id)
	if md.KeyState != types.KeyStatePendingImport || md.Enabled || md.Origin != types.OriginTypeExternal ||
		!aws.ToBool(md.MultiRegion) || md.MultiRegionConfiguration == nil || len(id) != 36 || id[:4] != "mrk-" {
		t.Fatalf("CreateKey MultiRegion EXTERNAL: %+v", md)
	}
	_, err := e.home.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantError(t, err, "KMSInvalidStateException", homeARN+" is pending import.")

	material := random(32)
	imp, err := importInto(t, e.home, id, material, nil)
	mustOK(t, err, "ImportKeyMaterial into the primary")
	matID := aws.ToString(imp.KeyMaterialId)
	wantState(t, e.home, id, types.KeyStateEnabled)
	blob := encryptWith(t, e.home, id, []byte("made by the primary"))
	if got := openBlob(t, material, blob); string(got) != "made by the primary" {
		t.Fatalf("the blob opens under the imported material to %q", got)
	}

	// ReplicateKey: the replica has no material.
	out := e.replicate(t, id)
	if out.ReplicaKeyMetadata.Origin != types.OriginTypeExternal || aws.ToString(out.ReplicaKeyMetadata.Arn) != awayARN {
		t.Fatalf("ReplicaKeyMetadata: %+v", out.ReplicaKeyMetadata)
	}
	rmd := wantState(t, e.away, id, types.KeyStatePendingImport)
	if rmd.Enabled || rmd.CurrentKeyMaterialId != nil || rmd.Origin != types.OriginTypeExternal {
		t.Fatalf("replica before import: %+v", rmd)
	}
	wantConfig(t, rmd, types.MultiRegionKeyTypeReplica, homeARN, e.homeRegion, awayARN+"@"+e.other)
	_, err = e.away.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantError(t, err, "KMSInvalidStateException", awayARN+" is pending import.")
	_, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantError(t, err, "KMSInvalidStateException", awayARN+" is pending import.")

	// Other material is refused, and changes nothing.
	_, err = importInto(t, e.away, id, random(32), nil)
	wantError(t, err, "IncorrectKeyMaterialException", anyMessage)
	_, err = importInto(t, e.away, id, random(32), &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	wantError(t, err, "IncorrectKeyMaterialException", anyMessage)
	wantState(t, e.away, id, types.KeyStatePendingImport)
	rot, err := e.away.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	mustOK(t, err, "ListKeyRotations")
	if len(rot.Rotations) != 0 {
		t.Fatalf("a refused import left material in the replica: %+v", rot.Rotations)
	}

	// The same material, with its own expiration: the replica decrypts
	// what the primary made, and the other way round.
	validTo := e.Clock.Now().Add(time.Hour).Truncate(time.Second)
	imp, err = importInto(t, e.away, id, material, &kms.ImportKeyMaterialInput{
		ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(validTo)})
	mustOK(t, err, "ImportKeyMaterial into the replica")
	if got := aws.ToString(imp.KeyMaterialId); got != matID {
		t.Fatalf("the replica's KeyMaterialId %s, the primary's %s", got, matID)
	}
	rmd = wantState(t, e.away, id, types.KeyStateEnabled)
	if aws.ToString(rmd.CurrentKeyMaterialId) != matID || rmd.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires {
		t.Fatalf("replica after import: %+v", rmd)
	}
	if pmd := describeIn(t, e.home, id); pmd.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Fatalf("the replica's expiration reached the primary: %s", pmd.ExpirationModel)
	}
	wantDecryptIn(t, e.away, blob, "made by the primary")
	back := encryptWith(t, e.away, id, []byte("made by the replica"))
	wantDecryptIn(t, e.home, back, "made by the replica")
	if got := openBlob(t, material, back); string(got) != "made by the replica" {
		t.Fatalf("the replica's blob opens to %q", got)
	}
	// Re-importing the same material (restating the id) works too.
	_, err = importInto(t, e.away, id, material, &kms.ImportKeyMaterialInput{
		ImportType: types.ImportTypeExistingKeyMaterial, KeyMaterialId: aws.String(matID),
		ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(validTo)})
	mustOK(t, err, "re-import into the replica")

	// Other material into a replica that has material: still refused.
	_, err = importInto(t, e.away, id, random(32), &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeExistingKeyMaterial})
	wantError(t, err, "IncorrectKeyMaterialException", anyMessage)
	wantState(t, e.away, id, types.KeyStateEnabled)
	wantDecryptIn(t, e.away, blob, "made by the primary")

	// Deleting in one member leaves the other working.
	_, err = e.away.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)})
	mustOK(t, err, "DeleteImportedKeyMaterial in the replica")
	wantState(t, e.away, id, types.KeyStatePendingImport)
	_, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantError(t, err, "KMSInvalidStateException", awayARN+" is pending import.")
	wantState(t, e.home, id, types.KeyStateEnabled)
	wantDecryptIn(t, e.home, back, "made by the replica")
	_, err = importInto(t, e.away, id, material, nil)
	mustOK(t, err, "re-import into the replica")
	wantState(t, e.away, id, types.KeyStateEnabled)

	_, err = e.home.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)})
	mustOK(t, err, "DeleteImportedKeyMaterial in the primary")
	wantState(t, e.home, id, types.KeyStatePendingImport)
	wantDecryptIn(t, e.away, blob, "made by the primary")
	_, err = importInto(t, e.home, id, material, nil)
	mustOK(t, err, "re-import into the primary")
	wantState(t, e.home, id, types.KeyStateEnabled)
}

// TestMultiRegionImportExpiry: material expires in the member it was
// imported into, with that member's ValidTo, and nowhere else.
func TestMultiRegionImportExpiry(t *testing.T) {
	e := startMR(t)
	material := random(32)
	id, blob := newImportedMR(t, e, material)
	_, err := importInto(t, e.away, id, material, &kms.ImportKeyMaterialInput{
		ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(e.Clock.Now().Add(time.Hour))})
	mustOK(t, err, "ImportKeyMaterial into the replica")
	e.RunJobs(t)
	wantState(t, e.away, id, types.KeyStateEnabled)

	e.Clock.Advance(2 * time.Hour)
	e.RunJobs(t)
	md := wantState(t, e.away, id, types.KeyStatePendingImport)
	if md.ExpirationModel != "" {
		t.Fatalf("expired replica: ExpirationModel %s", md.ExpirationModel)
	}
	wantState(t, e.home, id, types.KeyStateEnabled)
	wantDecryptIn(t, e.home, blob, "made by the primary")

	// The other way round: the primary's material expires, the replica's
	// (re-imported without expiry) stays.
	_, err = importInto(t, e.away, id, material, nil)
	mustOK(t, err, "re-import into the replica")
	_, err = importInto(t, e.home, id, material, &kms.ImportKeyMaterialInput{
		ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(e.Clock.Now().Add(time.Hour))})
	mustOK(t, err, "re-import into the primary")
	e.Clock.Advance(2 * time.Hour)
	e.RunJobs(t)
	wantState(t, e.home, id, types.KeyStatePendingImport)
	wantState(t, e.away, id, types.KeyStateEnabled)
	wantDecryptIn(t, e.away, blob, "made by the primary")
}

// TestMultiRegionImportRotation: on-demand rotation of a symmetric
// multi-Region key with imported material, as AWS documents it: new
// material into the primary, the same into every replica, then
// RotateKeyOnDemand on the primary.
func TestMultiRegionImportRotation(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	m1, m2 := random(32), random(32)
	id, blob1 := newImportedMR(t, e, m1)
	homeARN, awayARN := e.arn(e.homeRegion, id), e.arn(e.other, id)
	_, err := importInto(t, e.away, id, m1, nil)
	mustOK(t, err, "ImportKeyMaterial into the replica")

	// New material goes into the primary first.
	_, err = importInto(t, e.away, id, m2, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	wantError(t, err, "IncorrectKeyMaterialException", anyMessage)
	imp, err := importInto(t, e.home, id, m2, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial NEW_KEY_MATERIAL into the primary")
	id2 := aws.ToString(imp.KeyMaterialId)
	pendingState := func(c *kms.Client) types.KeyMaterialState {
		t.Helper()
		out, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
		mustOK(t, err, "ListKeyRotations")
		for _, r := range out.Rotations {
			if aws.ToString(r.KeyMaterialId) == id2 {
				return r.KeyMaterialState
			}
		}
		return ""
	}
	if got := pendingState(e.home); got != types.KeyMaterialStatePendingMultiRegionImportAndRotation {
		t.Fatalf("the primary's new material before the replica has it: %s", got)
	}
	_, err = e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantError(t, err, "KMSInvalidStateException", anyMessage)

	imp, err = importInto(t, e.away, id, m2, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeExistingKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial EXISTING_KEY_MATERIAL into the replica")
	if aws.ToString(imp.KeyMaterialId) != id2 {
		t.Fatalf("the replica's id of the new material: %s, want %s", aws.ToString(imp.KeyMaterialId), id2)
	}
	if got := pendingState(e.home); got != types.KeyMaterialStatePendingRotation {
		t.Fatalf("the primary's new material, every replica having it: %s", got)
	}
	if got := pendingState(e.away); got != types.KeyMaterialStatePendingRotation {
		t.Fatalf("the replica's new material: %s", got)
	}
	_, err = e.away.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantError(t, err, "UnsupportedOperationException", awayARN+" is not a multi-region primary key.")
	_, err = e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand")

	for _, c := range []*kms.Client{e.home, e.away} {
		md := wantState(t, c, id, types.KeyStateEnabled)
		if aws.ToString(md.CurrentKeyMaterialId) != id2 {
			t.Fatalf("%s: CurrentKeyMaterialId %s, want %s", aws.ToString(md.Arn), aws.ToString(md.CurrentKeyMaterialId), id2)
		}
		if got := pendingState(c); got != types.KeyMaterialStateCurrent {
			t.Fatalf("%s: the new material is %s", aws.ToString(md.Arn), got)
		}
	}
	blob2 := encryptWith(t, e.away, id, []byte("after rotation"))
	if got := openBlob(t, m2, blob2); string(got) != "after rotation" {
		t.Fatalf("the replica encrypts under the new material: %q", got)
	}
	wantDecryptIn(t, e.home, blob2, "after rotation")
	wantDecryptIn(t, e.away, blob1, "made by the primary")

	// Automatic rotation stays unavailable, as for every imported key.
	_, err = e.home.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id)})
	wantError(t, err, "UnsupportedOperationException", homeARN+" origin is EXTERNAL which is not valid for this operation.")
}

// TestMultiRegionImportDeletePending: deleting the primary's material
// pending rotation deletes the replicas' copies of it (AWS's
// DeleteImportedKeyMaterial); deleting a replica's leaves the primary's.
func TestMultiRegionImportDeletePending(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	m1, m2 := random(32), random(32)
	id, _ := newImportedMR(t, e, m1)
	_, err := importInto(t, e.away, id, m1, nil)
	mustOK(t, err, "ImportKeyMaterial into the replica")
	imp, err := importInto(t, e.home, id, m2, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial NEW_KEY_MATERIAL into the primary")
	id2 := imp.KeyMaterialId
	_, err = importInto(t, e.away, id, m2, nil)
	mustOK(t, err, "ImportKeyMaterial into the replica")

	importState := func(c *kms.Client) types.ImportState {
		t.Helper()
		out, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
		mustOK(t, err, "ListKeyRotations")
		for _, r := range out.Rotations {
			if aws.ToString(r.KeyMaterialId) == aws.ToString(id2) {
				return r.ImportState
			}
		}
		return ""
	}
	_, err = e.away.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: id2})
	mustOK(t, err, "DeleteImportedKeyMaterial of the replica's pending material")
	if a, h := importState(e.away), importState(e.home); a != types.ImportStatePendingImport || h != types.ImportStateImported {
		t.Fatalf("after deleting in the replica: replica %s, primary %s", a, h)
	}
	_, err = importInto(t, e.away, id, m2, nil)
	mustOK(t, err, "re-import into the replica")

	_, err = e.home.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: id2})
	mustOK(t, err, "DeleteImportedKeyMaterial of the primary's pending material")
	if a, h := importState(e.away), importState(e.home); a != types.ImportStatePendingImport || h != types.ImportStatePendingImport {
		t.Fatalf("after deleting in the primary: replica %s, primary %s", a, h)
	}
	// Both keep working with their current material.
	for _, c := range []*kms.Client{e.home, e.away} {
		wantState(t, c, id, types.KeyStateEnabled)
		encryptWith(t, c, id, []byte("x"))
	}

	// Other material may now take the deleted material's place (AWS:
	// material pending rotation is not bound to the key); the replica
	// can no longer bring the deleted material back.
	m3 := random(32)
	imp, err = importInto(t, e.home, id, m3, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial NEW_KEY_MATERIAL after the pending material was deleted")
	id3 := aws.ToString(imp.KeyMaterialId)
	_, err = importInto(t, e.away, id, m2, nil)
	wantError(t, err, "IncorrectKeyMaterialException", anyMessage)
	_, err = e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantError(t, err, "KMSInvalidStateException", anyMessage)
	_, err = importInto(t, e.away, id, m3, nil)
	mustOK(t, err, "ImportKeyMaterial of the new material into the replica")
	_, err = e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand")
	for _, c := range []*kms.Client{e.home, e.away} {
		md := wantState(t, c, id, types.KeyStateEnabled)
		if aws.ToString(md.CurrentKeyMaterialId) != id3 {
			t.Fatalf("%s: CurrentKeyMaterialId %s, want %s", aws.ToString(md.Arn), aws.ToString(md.CurrentKeyMaterialId), id3)
		}
	}
	if got := openBlob(t, m3, encryptWith(t, e.away, id, []byte("three"))); string(got) != "three" {
		t.Fatalf("after rotation the replica's blob opens to %q", got)
	}
}

// TestImportReplacePendingMaterial (a single-Region key): material pending
// rotation, once deleted, may be replaced by other material, as AWS's
// RotationsListEntry documents; while it is imported it may not.
func TestImportReplacePendingMaterial(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	md := createExternal(t, e.Env, "", "")
	id := aws.ToString(md.KeyId)
	_, err := importInto(t, e.home, id, random(32), nil)
	mustOK(t, err, "ImportKeyMaterial")
	imp, err := importInto(t, e.home, id, random(32), &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial NEW_KEY_MATERIAL")
	_, err = importInto(t, e.home, id, random(32), &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	wantError(t, err, "KMSInvalidStateException", anyMessage)
	_, err = e.home.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: imp.KeyMaterialId})
	mustOK(t, err, "DeleteImportedKeyMaterial of the pending material")
	m3 := random(32)
	imp, err = importInto(t, e.home, id, m3, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial NEW_KEY_MATERIAL in its place")
	_, err = e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand")
	if got := aws.ToString(describeIn(t, e.home, id).CurrentKeyMaterialId); got != aws.ToString(imp.KeyMaterialId) {
		t.Fatalf("CurrentKeyMaterialId %s, want %s", got, aws.ToString(imp.KeyMaterialId))
	}
	if got := openBlob(t, m3, encryptWith(t, e.home, id, []byte("x"))); string(got) != "x" {
		t.Fatalf("the blob opens to %q", got)
	}
	out, err := e.home.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	mustOK(t, err, "ListKeyRotations")
	if len(out.Rotations) != 2 {
		t.Fatalf("ListKeyRotations: %d materials, want 2 (the deleted one was replaced)", len(out.Rotations))
	}
}

// TestMultiRegionImportAsymmetric: an ECC signing key imported into the
// primary and the replica signs in one region and verifies in the other;
// another private key is refused by the replica.
func TestMultiRegionImportAsymmetric(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	md := e.createMR(t, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	id := aws.ToString(md.KeyId)
	priv := ecdsaPKCS8(t)
	_, err := importInto(t, e.home, id, priv, nil)
	mustOK(t, err, "ImportKeyMaterial into the primary")
	e.replicate(t, id)
	_, err = importInto(t, e.away, id, ecdsaPKCS8(t), nil)
	wantError(t, err, "IncorrectKeyMaterialException", anyMessage)
	wantState(t, e.away, id, types.KeyStatePendingImport)
	_, err = importInto(t, e.away, id, priv, nil)
	mustOK(t, err, "ImportKeyMaterial into the replica")
	wantState(t, e.away, id, types.KeyStateEnabled)

	msg := []byte("signed in one region")
	sig, err := e.home.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	mustOK(t, err, "Sign")
	v, err := e.away.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(id), Message: msg, MessageType: types.MessageTypeRaw,
		Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	mustOK(t, err, "Verify")
	if !v.SignatureValid {
		t.Fatal("the replica does not verify the primary's signature")
	}
	a, err := e.away.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "GetPublicKey")
	h, err := e.home.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "GetPublicKey")
	if string(a.PublicKey) != string(h.PublicKey) {
		t.Fatal("the members' public keys differ")
	}
}

// ecdsaPKCS8 is a fresh P-256 private key in PKCS#8 DER.
func ecdsaPKCS8(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestMultiRegionImportKeyStates: the multi-Region operations on members
// without material, and UpdatePrimaryRegion moving the right to bring in
// new material to the new primary.
func TestMultiRegionImportKeyStates(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	md := e.createMR(t, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	id := aws.ToString(md.KeyId)
	homeARN, awayARN := e.arn(e.homeRegion, id), e.arn(e.other, id)
	// A primary without material is not replicated (ReplicateKey needs an
	// Enabled primary, as for every multi-Region key).
	_, err := e.home.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(e.other)})
	wantError(t, err, "KMSInvalidStateException", homeARN+" is pending import.")

	m1 := random(32)
	_, err = importInto(t, e.home, id, m1, nil)
	mustOK(t, err, "ImportKeyMaterial into the primary")
	e.replicate(t, id)
	// The replica, without material: not a primary, not a target of
	// UpdatePrimaryRegion until it is Enabled.
	_, err = e.away.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("ap-south-1")})
	wantError(t, err, "UnsupportedOperationException", awayARN+" is not a multi-region primary key.")
	_, err = e.home.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(e.other)})
	wantError(t, err, "KMSInvalidStateException", awayARN+" is pending import.")
	_, err = e.away.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	wantError(t, err, "UnsupportedOperationException", awayARN+" origin is EXTERNAL which is not valid for this operation.")
	_, err = e.away.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantError(t, err, "UnsupportedOperationException", awayARN+" is not a multi-region primary key.")

	_, err = importInto(t, e.away, id, m1, nil)
	mustOK(t, err, "ImportKeyMaterial into the replica")
	_, err = e.home.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(e.other)})
	mustOK(t, err, "UpdatePrimaryRegion")
	// New material now enters through the new primary only.
	m2 := random(32)
	_, err = importInto(t, e.home, id, m2, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	wantError(t, err, "IncorrectKeyMaterialException", anyMessage)
	_, err = importInto(t, e.away, id, m2, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial NEW_KEY_MATERIAL into the new primary")
	_, err = importInto(t, e.home, id, m2, nil)
	mustOK(t, err, "ImportKeyMaterial into the new replica")
	_, err = e.away.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand on the new primary")
	blob := encryptWith(t, e.home, id, []byte("rotated"))
	if got := openBlob(t, m2, blob); string(got) != "rotated" {
		t.Fatalf("after rotation the blob opens to %q", got)
	}
	wantDecryptIn(t, e.away, blob, "rotated")
}

// TestMultiRegionImportLateReplica: a replica made after the primary
// rotated takes each material as the version it has in the primary: with
// only the current material it encrypts and decrypts new ciphertexts, and
// older ones once their material is imported too.
func TestMultiRegionImportLateReplica(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	m1, m2 := random(32), random(32)
	md := e.createMR(t, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	id := aws.ToString(md.KeyId)
	_, err := importInto(t, e.home, id, m1, nil)
	mustOK(t, err, "ImportKeyMaterial")
	blob1 := encryptWith(t, e.home, id, []byte("one"))
	imp, err := importInto(t, e.home, id, m2, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial NEW_KEY_MATERIAL")
	id2 := aws.ToString(imp.KeyMaterialId)
	_, err = e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand without replicas")
	blob2 := encryptWith(t, e.home, id, []byte("two"))

	e.replicate(t, id)
	_, err = importInto(t, e.away, id, m2, nil)
	mustOK(t, err, "ImportKeyMaterial of the current material into the replica")
	md = wantState(t, e.away, id, types.KeyStateEnabled)
	if aws.ToString(md.CurrentKeyMaterialId) != id2 {
		t.Fatalf("replica CurrentKeyMaterialId %s, want %s", aws.ToString(md.CurrentKeyMaterialId), id2)
	}
	wantDecryptIn(t, e.away, blob2, "two")
	_, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob1})
	wantError(t, err, "InvalidCiphertextException", anyMessage)

	_, err = importInto(t, e.away, id, m1, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeExistingKeyMaterial})
	mustOK(t, err, "ImportKeyMaterial of the older material into the replica")
	wantDecryptIn(t, e.away, blob1, "one")
	if got := openBlob(t, m2, encryptWith(t, e.away, id, []byte("three"))); string(got) != "three" {
		t.Fatalf("the replica encrypts under %q, not the current material", got)
	}
	// Both members list the same materials in the same states.
	list := func(c *kms.Client) string {
		out, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
		mustOK(t, err, "ListKeyRotations")
		s := ""
		for _, r := range out.Rotations {
			s += aws.ToString(r.KeyMaterialId) + ":" + string(r.KeyMaterialState) + ":" + string(r.RotationType) + " "
		}
		return s
	}
	if h, a := list(e.home), list(e.away); h != a {
		t.Fatalf("ListKeyRotations differ:\nprimary %s\nreplica %s", h, a)
	}
}
