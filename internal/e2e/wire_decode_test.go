package e2e

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestWireLosslessJSON checks that what Trent binds into a ciphertext is
// exactly what the caller sent: member names match exactly (a wrong-case
// member is unknown and ignored, as AWS ignores it), names are never given
// twice, and escapes that name no character are refused rather than read as
// U+FFFD.
func TestWireLosslessJSON(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	pt := `"Plaintext":"aGVsbG8="`

	t.Run("wrong-case KeyId is not KeyId", func(t *testing.T) {
		msg := wantWireError(t, w.post(t, "Encrypt", []byte(`{"keyid":"`+keyID+`",`+pt+`}`), true), 400, "ValidationException")
		if want := "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"; msg != want {
			t.Fatalf("message %q, want %q", msg, want)
		}
	})

	t.Run("case variants are not merged", func(t *testing.T) {
		r := w.post(t, "Encrypt", []byte(`{"KeyId":"`+keyID+`",`+pt+`,"EncryptionContext":{"a":"1"},"encryptionContext":{"b":"2"}}`), true)
		if r.status != 200 {
			t.Fatalf("Encrypt: %d %s", r.status, r.body)
		}
		var out struct{ CiphertextBlob []byte }
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		// Only {"a":"1"} was bound.
		if _, err := w.KMS.Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: map[string]string{"a": "1"}}); err != nil {
			t.Fatalf("Decrypt with the exactly-named context: %v", err)
		}
		_, err := w.KMS.Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: map[string]string{"a": "1", "b": "2"}})
		wantError(t, err, "InvalidCiphertextException", "")
	})

	for _, tc := range []struct{ name, body string }{
		{"duplicate context key", `{"KeyId":"` + keyID + `",` + pt + `,"EncryptionContext":{"a":"1","a":"2"}}`},
		{"duplicate context key, escaped", `{"KeyId":"` + keyID + `",` + pt + `,"EncryptionContext":{"a":"1","\u0061":"1"}}`},
		{"duplicate member", `{"KeyId":"` + keyID + `","KeyId":"alias/other",` + pt + `}`},
		{"duplicate context", `{"KeyId":"` + keyID + `",` + pt + `,"EncryptionContext":{"a":"1"},"EncryptionContext":{"a":"2"}}`},
		{"unpaired high surrogate", `{"KeyId":"` + keyID + `",` + pt + `,"EncryptionContext":{"k":"\ud800"}}`},
		{"unpaired low surrogate", `{"KeyId":"` + keyID + `",` + pt + `,"EncryptionContext":{"k":"\udfff"}}`},
		{"unpaired surrogate in a key", `{"KeyId":"` + keyID + `",` + pt + `,"EncryptionContext":{"\udfff":"v"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantWireError(t, w.post(t, "Encrypt", []byte(tc.body), true), 400, "SerializationException")
		})
	}
}
