package e2e

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkkms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/kms"
)

// TestPlaintextZeroedAfterResponse runs each operation that answers with
// plaintext through the real service, as the server does, and writes its
// output with awsproto.Encode, as the server does: the client gets the
// plaintext, and the handler's slice that held it is zero afterwards.
func TestPlaintextZeroedAfterResponse(t *testing.T) {
	w := startWire(t)
	ctx := t.Context()
	keyID := w.createKey(t)
	enc, err := w.KMS.Encrypt(ctx, &sdkkms.EncryptInput{KeyId: &keyID, Plaintext: []byte("attack at dawn")})
	if err != nil {
		t.Fatal(err)
	}
	agree, err := w.KMS.CreateKey(ctx, &sdkkms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerDER, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	body := func(v map[string]any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		op     string
		body   []byte
		member string
		secret func(any) []byte
	}{
		{"Decrypt", body(map[string]any{"CiphertextBlob": enc.CiphertextBlob}), "Plaintext",
			func(o any) []byte { return o.(*awsproto.DecryptOutput).Plaintext }},
		{"GenerateDataKey", body(map[string]any{"KeyId": keyID, "KeySpec": "AES_256"}), "Plaintext",
			func(o any) []byte { return o.(*awsproto.GenerateDataKeyOutput).Plaintext }},
		{"GenerateRandom", body(map[string]any{"NumberOfBytes": 64}), "Plaintext",
			func(o any) []byte { return o.(*awsproto.GenerateRandomOutput).Plaintext }},
		{"GenerateDataKeyPair", body(map[string]any{"KeyId": keyID, "KeyPairSpec": "ECC_NIST_P256"}), "PrivateKeyPlaintext",
			func(o any) []byte { return o.(*awsproto.GenerateDataKeyPairOutput).PrivateKeyPlaintext }},
		{"DeriveSharedSecret", body(map[string]any{"KeyId": aws.ToString(agree.KeyMetadata.KeyId), "KeyAgreementAlgorithm": "ECDH", "PublicKey": peerDER}), "SharedSecret",
			func(o any) []byte { return o.(*awsproto.DeriveSharedSecretOutput).SharedSecret }},
	} {
		t.Run(tc.op, func(t *testing.T) {
			row, ok := kms.Lookup(tc.op)
			if !ok {
				t.Fatalf("no operation %s", tc.op)
			}
			out, err := w.App.KMS.Call(ctx, row, &kms.Request{Caller: identity.Root(w.Account, w.AccessKeyID), Region: w.Region}, tc.body)
			if err != nil {
				t.Fatalf("%s: %v", tc.op, err)
			}
			secret := tc.secret(out) // the handler's own slice
			want := bytes.Clone(secret)
			if len(want) == 0 || allZero(want) {
				t.Fatalf("%s answered no plaintext", tc.op)
			}
			rec := httptest.NewRecorder()
			awsproto.Encode(rec, out)
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("response %s: %v", rec.Body.Bytes(), err)
			}
			if got[tc.member] != base64.StdEncoding.EncodeToString(want) {
				t.Fatalf("response %s does not carry the plaintext", rec.Body.Bytes())
			}
			if !allZero(secret) {
				t.Fatalf("the handler's %s is not zeroed after the response was written", tc.member)
			}
		})
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
