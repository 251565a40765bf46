package awsproto

import (
	"net/http/httptest"
	"testing"
)

// encryptBody is a typical Encrypt request as the AWS SDKs send it: a key
// ARN, a 32-byte data key and a two-pair encryption context.
const encryptBody = `{"EncryptionContext":{"aws:s3:arn":"arn:aws:s3:::bucket/object","purpose":"bench"},` +
	`"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",` +
	`"Plaintext":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`

// BenchmarkDecodeEncrypt measures Decode of a typical Encrypt body.
func BenchmarkDecodeEncrypt(b *testing.B) {
	body := []byte(encryptBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var in EncryptInput
		if err := Decode(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeDecrypt measures Encode of a Decrypt output with a 32-byte
// plaintext.
func BenchmarkEncodeDecrypt(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		out := &DecryptOutput{
			KeyId:               "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			Plaintext:           make([]byte, 32),
			EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
		}
		Encode(httptest.NewRecorder(), out)
	}
}
