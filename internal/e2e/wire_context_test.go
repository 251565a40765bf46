package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/keys"
)

// contextOf returns an encryption context (as JSON) whose keys and values
// add up to exactly size bytes, in pairs of about pairSize bytes.
func contextOf(t *testing.T, size, pairSize int) string {
	t.Helper()
	var pairs []string
	left := size
	for i := 0; left > 0; i++ {
		k := fmt.Sprintf("k%d", i)
		if len(k) >= left { // the last pair: a key of what is left
			k = strings.Repeat("z", left)
		}
		v := strings.Repeat("v", max(0, min(left, pairSize)-len(k)))
		left -= len(k) + len(v)
		pairs = append(pairs, fmt.Sprintf("%q:%q", k, v))
	}
	doc := "{" + strings.Join(pairs, ",") + "}"
	var ec map[string]string
	if err := json.Unmarshal([]byte(doc), &ec); err != nil || keys.ContextSize(ec) != size || len(ec) != len(pairs) {
		t.Fatalf("contextOf(%d, %d) made %d pairs of %d bytes (%v)", size, pairSize, len(ec), keys.ContextSize(ec), err)
	}
	return doc
}

// TestWireEncryptionContextLimit checks that every operation that takes an
// encryption context refuses one larger than keys.MaxContextBytes before
// any crypto, and accepts one of exactly that size. Before the limit, an
// Encrypt with 100,000 pairs took 139 ms.
func TestWireEncryptionContextLimit(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	for _, pairSize := range []int{keys.MaxContextBytes, 64, 8} {
		atLimit := contextOf(t, keys.MaxContextBytes, pairSize)
		over := contextOf(t, keys.MaxContextBytes+1, pairSize)

		// A context of exactly the limit binds and unbinds.
		r := w.post(t, "Encrypt", []byte(`{"KeyId":"`+keyID+`","Plaintext":"aGVsbG8=","EncryptionContext":`+atLimit+`}`), true)
		if r.status != 200 {
			t.Fatalf("Encrypt with a %d-byte context in %d-byte pairs: %d %s", keys.MaxContextBytes, pairSize, r.status, r.body)
		}
		var enc struct{ CiphertextBlob []byte }
		if err := json.Unmarshal(r.body, &enc); err != nil {
			t.Fatal(err)
		}
		blob := base64.StdEncoding.EncodeToString(enc.CiphertextBlob)

		for _, tc := range []struct{ op, body, member string }{
			{"Encrypt", `{"KeyId":"` + keyID + `","Plaintext":"aGVsbG8=","EncryptionContext":%s}`, "encryptionContext"},
			{"Decrypt", `{"CiphertextBlob":"` + blob + `","EncryptionContext":%s}`, "encryptionContext"},
			{"ReEncrypt", `{"CiphertextBlob":"` + blob + `","DestinationKeyId":"` + keyID + `","SourceEncryptionContext":%s}`, "sourceEncryptionContext"},
			{"ReEncrypt", `{"CiphertextBlob":"` + blob + `","DestinationKeyId":"` + keyID + `","SourceEncryptionContext":` + atLimit + `,"DestinationEncryptionContext":%s}`, "destinationEncryptionContext"},
			{"GenerateDataKey", `{"KeyId":"` + keyID + `","NumberOfBytes":32,"EncryptionContext":%s}`, "encryptionContext"},
			{"GenerateDataKeyWithoutPlaintext", `{"KeyId":"` + keyID + `","NumberOfBytes":32,"EncryptionContext":%s}`, "encryptionContext"},
			{"GenerateDataKeyPair", `{"KeyId":"` + keyID + `","KeyPairSpec":"ECC_NIST_P256","EncryptionContext":%s}`, "encryptionContext"},
			{"GenerateDataKeyPairWithoutPlaintext", `{"KeyId":"` + keyID + `","KeyPairSpec":"ECC_NIST_P256","EncryptionContext":%s}`, "encryptionContext"},
		} {
			name := fmt.Sprintf("%s %s in %d-byte pairs", tc.op, tc.member, pairSize)
			if r := w.post(t, tc.op, []byte(fmt.Sprintf(tc.body, atLimit)), true); r.status != 200 {
				t.Errorf("%s, %d bytes: %d %s, want 200", name, keys.MaxContextBytes, r.status, r.body)
			}
			msg := wantWireError(t, w.post(t, tc.op, []byte(fmt.Sprintf(tc.body, over)), true), 400, "ValidationException")
			want := fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have keys and values of at most %d bytes in all", tc.member, keys.MaxContextBytes)
			if msg != want {
				t.Errorf("%s, %d bytes: message %q, want %q", name, keys.MaxContextBytes+1, msg, want)
			}
		}
	}
}
