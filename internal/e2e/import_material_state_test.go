package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestLosingOldMaterialMakesPendingImport: AWS puts an imported key in
// PendingImport when any of its permanently associated materials (the
// current one and those rotated out) is deleted or expires, not only the
// current one, and makes it usable again once all of them are back
// (Developer Guide, "Deleting imported key material"). Before, losing a
// rotated-out material left the key Enabled, encrypting, and its old
// ciphertexts answered as if tampered with. DescribeKey's ValidTo is the
// earliest expiry of those materials.
func TestLosingOldMaterialMakesPendingImport(t *testing.T) {
	e := startMR(t)
	c, ctx := e.home, t.Context()
	md, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	mustOK(t, err, "CreateKey")
	id := aws.ToString(md.KeyMetadata.KeyId)
	m1, m2 := random(32), random(32)
	soon := e.Clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	imp1, err := importInto(t, c, id, m1, &kms.ImportKeyMaterialInput{ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: &soon})
	mustOK(t, err, "import m1")
	old := encryptWith(t, c, id, []byte("under m1"))
	_, err = importInto(t, c, id, m2, &kms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	mustOK(t, err, "import m2")
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand")

	d := wantState(t, c, id, types.KeyStateEnabled)
	if d.ValidTo == nil || !d.ValidTo.Equal(soon) || d.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires {
		t.Errorf("ValidTo %v %s, want the rotated-out material's %v", d.ValidTo, d.ExpirationModel, soon)
	}

	_, err = c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: imp1.KeyMaterialId})
	mustOK(t, err, "DeleteImportedKeyMaterial of the rotated-out material")
	wantState(t, c, id, types.KeyStatePendingImport)
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")}); apiCode(err) != "KMSInvalidStateException" {
		t.Errorf("Encrypt while an old material is missing: %v, want KMSInvalidStateException", err)
	}

	// The same material again, under its id: usable, and the old
	// ciphertext decrypts.
	_, err = importInto(t, c, id, m1, &kms.ImportKeyMaterialInput{KeyMaterialId: imp1.KeyMaterialId, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	mustOK(t, err, "re-import m1")
	wantState(t, c, id, types.KeyStateEnabled)
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: old}); err != nil {
		t.Fatalf("Decrypt under the re-imported material: %v", err)
	}
}

// TestLosingMaterialKeepsPendingReplicaDeletion: a multi-Region primary
// waiting for its replicas' deletion stays so when its material is
// deleted or expires, and becomes PendingDeletion once the last replica
// is gone, as AWS's key-state table has it. Before, the loss made it
// PendingImport, which cancelled the scheduled deletion for good.
func TestLosingMaterialKeepsPendingReplicaDeletion(t *testing.T) {
	for _, how := range []string{"deleted", "expired"} {
		t.Run(how, func(t *testing.T) {
			e := startMR(t)
			ctx := t.Context()
			md := e.createMR(t, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
			id := aws.ToString(md.KeyId)
			validTo := e.Clock.Now().Add(48 * time.Hour)
			_, err := importInto(t, e.home, id, random(32), &kms.ImportKeyMaterialInput{ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: &validTo})
			mustOK(t, err, "import")
			e.replicate(t, id)
			_, err = e.home.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
			mustOK(t, err, "ScheduleKeyDeletion")
			wantState(t, e.home, id, types.KeyStatePendingReplicaDeletion)
			if how == "deleted" {
				_, err = e.home.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)})
				mustOK(t, err, "DeleteImportedKeyMaterial")
			} else {
				e.Clock.Advance(72 * time.Hour)
				e.RunJobs(t)
			}
			wantState(t, e.home, id, types.KeyStatePendingReplicaDeletion)

			_, err = e.away.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
			mustOK(t, err, "ScheduleKeyDeletion of the replica")
			e.Clock.Advance(8 * 24 * time.Hour)
			e.RunJobs(t)
			wantState(t, e.home, id, types.KeyStatePendingDeletion)
			e.Clock.Advance(8 * 24 * time.Hour)
			e.RunJobs(t)
			if _, err := e.home.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); apiCode(err) != "NotFoundException" {
				t.Fatalf("DescribeKey after both windows: %v, want NotFoundException", err)
			}
		})
	}
}
