package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestAWSCLIMultiRegion runs docs/multi-region.md's commands through the
// AWS CLI: a key made and used in us-east-1 decrypts in eu-west-1.
func TestAWSCLIMultiRegion(t *testing.T) {
	env := testenv.Start(t)
	cli := newAWSCLI(t, env.URL, env.AccessKeyID, env.Secret)
	id := strings.TrimSpace(cli.mustRun(t, "create-key", "--multi-region", "--query", "KeyMetadata.KeyId", "--output", "text"))
	if !mrkIDPattern.MatchString(id) {
		t.Fatalf("create-key --multi-region made %q", id)
	}
	state := cli.mustRun(t, "replicate-key", "--key-id", id, "--replica-region", "eu-west-1",
		"--query", "ReplicaKeyMetadata.KeyState", "--output", "text")
	if strings.TrimSpace(state) != "Creating" {
		t.Errorf("replicate-key: state %q", state)
	}
	plain := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(plain, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	b64 := cli.mustRun(t, "encrypt", "--key-id", id, "--plaintext", "fileb://"+plain, "--query", "CiphertextBlob", "--output", "text")
	blob, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(t.TempDir(), "secret.enc")
	if err := os.WriteFile(enc, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	out := cli.mustRun(t, "decrypt", "--region", "eu-west-1", "--ciphertext-blob", "fileb://"+enc, "--query", "[KeyId,Plaintext]", "--output", "text")
	want := "arn:aws:kms:eu-west-1:" + env.Account + ":key/" + id + "\t" + base64.StdEncoding.EncodeToString([]byte("hello"))
	if strings.TrimSpace(out) != want {
		t.Errorf("decrypt in eu-west-1: %q, want %q", out, want)
	}
}
