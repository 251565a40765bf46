package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestAuthzImportExpirationModel: kms:ExpirationModel has the request's
// value or, when the request leaves it out, AWS's default
// KEY_MATERIAL_EXPIRES ("this type of condition works even when the
// parameter doesn't appear in the request"), so a policy that allows only
// expiring material allows an import that gives ValidTo alone.
func TestAuthzImportExpirationModel(t *testing.T) {
	e := startAuthz(t)
	out, err := e.root().CreateKey(t.Context(), &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	mustOK(t, err, "CreateKey")
	id := aws.ToString(out.KeyMetadata.KeyId)
	e.ids.set(t, e.userARN("alice"), `{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":"kms:ImportKeyMaterial","Resource":"*","Condition":{"StringEquals":{"kms:ExpirationModel":"KEY_MATERIAL_EXPIRES"}}}]}`)
	pub, token := importParams(t, e.Env, id, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048)
	wrapped := wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, pub, random(32))
	alice := e.alice()

	_, err = alice.ImportKeyMaterial(t.Context(), &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantError(t, err, "AccessDeniedException", anyMessage)
	_, err = alice.ImportKeyMaterial(t.Context(), &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: token,
		EncryptedKeyMaterial: wrapped, ValidTo: aws.Time(e.Clock.Now().Add(time.Hour))})
	mustOK(t, err, "ImportKeyMaterial with ValidTo alone")
	if md := describe(t, e.Env, id); md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires {
		t.Errorf("ExpirationModel = %s, want KEY_MATERIAL_EXPIRES", md.ExpirationModel)
	}
}
