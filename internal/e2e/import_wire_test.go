package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestImportMalformed sends the import operations malformed and hostile
// bodies over raw HTTP: each is a 400 with the named exception, never a
// 5xx, and the key stays PendingImport.
func TestImportMalformed(t *testing.T) {
	env := testenv.Start(t)
	md := createExternal(t, env, "", "")
	id := aws.ToString(md.KeyId)
	pub, token := importParams(t, env, id, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048)
	good := base64.StdEncoding.EncodeToString(wrapMaterial(t, types.AlgorithmSpecRsaesOaepSha256, pub, random(32)))
	b64 := base64.StdEncoding.EncodeToString
	flipped := bytes.Clone(token)
	flipped[len(flipped)/2] ^= 1
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	imp := func(tok, mat, extra string) string {
		if !strings.Contains(extra, "ExpirationModel") {
			extra += `,"ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE"`
		}
		return fmt.Sprintf(`{"KeyId":%s,"ImportToken":%s,"EncryptedKeyMaterial":%s%s}`, q(id), tok, mat, extra)
	}
	cases := []struct {
		op, body, code string
	}{
		{"ImportKeyMaterial", imp(q(b64([]byte{1})), q(good), ""), "InvalidImportTokenException"},
		{"ImportKeyMaterial", imp(q(b64(token[:len(token)-1])), q(good), ""), "InvalidImportTokenException"},
		{"ImportKeyMaterial", imp(q(b64(flipped)), q(good), ""), "InvalidImportTokenException"},
		{"ImportKeyMaterial", imp(q(b64(append([]byte{2}, token[1:]...))), q(good), ""), "InvalidImportTokenException"},
		{"ImportKeyMaterial", imp(q(b64(make([]byte, 6145))), q(good), ""), "ValidationException"},
		{"ImportKeyMaterial", imp(q(b64(token)), q(b64(make([]byte, 256))), ""), "InvalidCiphertextException"},
		{"ImportKeyMaterial", imp(q(b64(token)), q(b64([]byte{0})), ""), "InvalidCiphertextException"},
		{"ImportKeyMaterial", imp(q(b64(token)), q(good), `,"ValidTo":"tomorrow"`), "SerializationException"},
		{"ImportKeyMaterial", imp(q(b64(token)), q(good), `,"ExpirationModel":"KEY_MATERIAL_EXPIRES","ValidTo":1e300`), "ValidationException"},
		{"ImportKeyMaterial", imp(q(b64(token)), q(good), `,"ExpirationModel":"SOMETIMES"`), "ValidationException"},
		{"ImportKeyMaterial", imp(q(b64(token)), q(good), `,"KeyMaterialId":"XYZ"`), "ValidationException"},
		{"ImportKeyMaterial", imp("5", q(good), ""), "SerializationException"},
		{"ImportKeyMaterial", `{"KeyId":` + q(id) + `}`, "ValidationException"},
		{"GetParametersForImport", `{"KeyId":` + q(id) + `,"WrappingAlgorithm":"RSAES_OAEP_SHA_256","WrappingKeySpec":"RSA_1024"}`, "ValidationException"},
		{"GetParametersForImport", `{"KeyId":` + q(id) + `}`, "ValidationException"},
		{"GetParametersForImport", `{"KeyId":` + q(id) + `,"WrappingAlgorithm":"SM2PKE","WrappingKeySpec":"SM2"}`, "UnsupportedOperationException"},
		{"DeleteImportedKeyMaterial", `{"KeyId":` + q(id) + `,"KeyMaterialId":"` + string(bytes.Repeat([]byte("g"), 64)) + `"}`, "ValidationException"},
		{"DeleteImportedKeyMaterial", `{"KeyId":"alias/x"}`, "NotFoundException"},
	}
	for i, tc := range cases {
		status, _, body := env.Post(t, tc.op, []byte(tc.body), true)
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal(body, &e)
		if status != 400 || e.Type != tc.code {
			t.Errorf("case %d %s: %d %s, want 400 %s", i, tc.op, status, body, tc.code)
		}
	}
	if got := describe(t, env, id).KeyState; got != types.KeyStatePendingImport {
		t.Fatalf("after malformed requests the key is %s", got)
	}
}
