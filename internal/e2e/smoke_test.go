package e2e

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv"
)

func TestSmokeEncryptDecrypt(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ck, err := env.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("app")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	enc, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("hello"),
		EncryptionContext: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(dec.Plaintext, []byte("hello")) || *dec.KeyId != *ck.KeyMetadata.Arn {
		t.Fatalf("Decrypt = %q, %s", dec.Plaintext, *dec.KeyId)
	}
}
