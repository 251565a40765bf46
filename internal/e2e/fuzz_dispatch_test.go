package e2e

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/testenv"
)

// dispatchOps are the operations FuzzDispatch sends bodies to: every
// operation Trent implements.
var dispatchOps = []string{
	"CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey",
	"ScheduleKeyDeletion", "CancelKeyDeletion", "Encrypt", "Decrypt", "ReEncrypt",
	"GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "CreateAlias",
	"UpdateAlias", "DeleteAlias", "ListAliases", "TagResource", "UntagResource",
	"ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "EnableKeyRotation",
	"DisableKeyRotation", "GetKeyRotationStatus", "GetKeyLastUsage", "RotateKeyOnDemand", "ListKeyRotations",
	"Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac", "DeriveSharedSecret",
	"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
	"Encapsulate", "Decapsulate",
	"CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant",
	"ReplicateKey", "UpdatePrimaryRegion",
	"GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial",
}

// dispatchSeeds are bodies that reach deep into the handlers; {{K}} is
// replaced by a real key id and {{B}} by a real ciphertext.
var dispatchSeeds = []string{
	`{}`,
	`{"KeyId":"{{K}}"}`,
	`{"KeyId":"{{K}}","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}`,
	`{"CiphertextBlob":"{{B}}","EncryptionContext":{"a":"b"}}`,
	`{"CiphertextBlob":"{{B}}","DestinationKeyId":"{{K}}","DryRun":true,"DryRunModifiers":["IGNORE_CIPHERTEXT"]}`,
	`{"KeyId":"{{K}}","NumberOfBytes":1024,"KeySpec":"AES_256"}`,
	`{"KeyId":"{{K}}","Message":"bQ==","SigningAlgorithm":"ECDSA_SHA_256","MessageType":"DIGEST","Signature":"AA=="}`,
	`{"KeyId":"{{K}}","Tags":[{"TagKey":"a","TagValue":"b"},{"TagKey":"aws:x"}],"TagKeys":["a"]}`,
	`{"AliasName":"alias/x","TargetKeyId":"{{K}}"}`,
	`{"KeyId":"{{K}}","Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"}`,
	`{"Limit":1,"Marker":"a2V5cwBh"}`,
	`{"KeyId":"{{K}}","KeyPairSpec":"ECC_NIST_P256","PublicKey":"MAA=","KeyAgreementAlgorithm":"ECDH"}`,
	`{"KeyId":"{{K}}","KeyPairSpec":"ML_KEM_768","EncapsulationAlgorithm":"ML_KEM","SharedSecretCiphertextBlob":"AA=="}`,
	`{"KeySpec":"HMAC_256","KeyUsage":"GENERATE_VERIFY_MAC","Description":"\u0000\uffff"}`,
	`{"KeyId":"{{K}}","RotationPeriodInDays":90,"PendingWindowInDays":7,"IncludeKeyMaterial":"ALL_KEY_MATERIAL"}`,
	`{"KeyId":"{{K}}","GranteePrincipal":"arn:aws:iam::111122223333:root","Operations":["Encrypt","Decrypt"],"Constraints":{"EncryptionContextSubset":{"a":"b"}},"Name":"n"}`,
	`{"KeyId":"{{K}}","GrantId":"0000000000000000000000000000000000000000000000000000000000000000","GrantToken":"AQID","RetiringPrincipal":"arn:aws:iam::111122223333:root"}`,
	`{"KeyId":"{{K}}","ReplicaRegion":"eu-west-1","PrimaryRegion":"eu-west-1","Tags":[{"TagKey":"k","TagValue":"v"}],"MultiRegion":true}`,
	`{"KeyId":"mrk-0123456789abcdef0123456789abcdef","ReplicaRegion":"eu-west-1-","PrimaryRegion":"EU"}`,
	`{"KeyId":"{{K}}","WrappingAlgorithm":"RSA_AES_KEY_WRAP_SHA_256","WrappingKeySpec":"RSA_2048","ImportToken":"AQID","EncryptedKeyMaterial":"AA==","ExpirationModel":"KEY_MATERIAL_EXPIRES","ValidTo":1.7e9,"ImportType":"NEW_KEY_MATERIAL","KeyMaterialId":"00"}`,
}

// FuzzDispatch sends arbitrary signed bodies to every operation of a real
// server and checks that none is answered with a 5xx: bad input is the
// caller's error, never the server's.
func FuzzDispatch(f *testing.F) {
	if len(dispatchSeeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for i := range dispatchOps {
		for _, s := range dispatchSeeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	env := testenv.Start(f)
	key := aws.ToString(createKey(f, env, nil).KeyId)
	blob := base64.StdEncoding.EncodeToString(encrypt(f, env, key, []byte("fuzz"), map[string]string{"a": "b"}))
	replacer := func(b []byte) []byte {
		b = bytes.ReplaceAll(b, []byte("{{K}}"), []byte(key))
		return bytes.ReplaceAll(b, []byte("{{B}}"), []byte(blob))
	}
	h := env.App.Handler
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		body = replacer(body)
		name := dispatchOps[int(op)%len(dispatchOps)]
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService."+name)
		if err := sigv4.Sign(req, body, env.AccessKeyID, []byte(env.Secret), env.Region, "kms", time.Now()); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d, body %s", name, body, rec.Code, rec.Body.Bytes())
		}
		if rec.Header().Get("X-Amzn-Requestid") == "" {
			t.Fatalf("%s: no request id", name)
		}
	})
}

func TestDispatchOpsCoverTheTable(t *testing.T) {
	// Every implemented operation is fuzzed: an operation answering
	// UnsupportedOperationException is the only kind left out.
	env := testenv.Start(t)
	sorted := append([]string(nil), dispatchOps...)
	sort.Strings(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			t.Fatalf("%s listed twice", sorted[i])
		}
	}
	for _, op := range dispatchOps {
		status, _, body := env.Post(t, op, []byte(`{}`), true)
		if bytes.Contains(body, []byte("UnsupportedOperationException")) || bytes.Contains(body, []byte("UnknownOperationException")) {
			t.Errorf("%s: %d %s", op, status, body)
		}
	}
}
