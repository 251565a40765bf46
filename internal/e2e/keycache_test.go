package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestServeKeyCacheFlags serves with the key cache at its smallest — one
// key, or nothing cached at all — and uses more keys than that through the
// AWS SDK: every key is unwrapped again as needed, and every result is
// right.
func TestServeKeyCacheFlags(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flags []string
	}{
		{"one key", []string{"--key-cache-max-keys", "1", "--key-cache-max-bytes", "1KiB"}},
		{"unwrap per request", []string{"--key-cache-idle", "0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, secret := randomAccessKey(t)
			srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}, tt.flags...)
			c := srv.Client(id, secret)
			ctx := context.Background()
			var keys []string
			for range 3 {
				out, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, aws.ToString(out.KeyMetadata.KeyId))
			}
			for round := range 3 {
				for i, k := range keys {
					pt := fmt.Appendf(nil, "round %d key %d", round, i)
					enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k), Plaintext: pt})
					if err != nil {
						t.Fatalf("Encrypt: %v", err)
					}
					dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
					if err != nil {
						t.Fatalf("Decrypt: %v", err)
					}
					if !bytes.Equal(dec.Plaintext, pt) || aws.ToString(dec.KeyId) != aws.ToString(enc.KeyId) {
						t.Fatalf("Decrypt = %q with %s, want %q with %s", dec.Plaintext, aws.ToString(dec.KeyId), pt, aws.ToString(enc.KeyId))
					}
				}
			}
		})
	}
}
