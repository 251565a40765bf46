package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

var initKeyLine = regexp.MustCompile(`AWS_ACCESS_KEY_ID=(\S+)\s+AWS_SECRET_ACCESS_KEY=(\S+)`)

// TestProductionMode runs `trent init`, serves the result without --dev
// using the access key init printed, and checks that the two kinds of data
// directory refuse each other's mode.
func TestProductionMode(t *testing.T) {
	bin := trentBinary(t)
	dir := filepath.Join(t.TempDir(), "prod")
	sealKey := filepath.Join(t.TempDir(), "seal.key")
	out, err := testcmd.Command(t, bin, "init", "--data-dir", dir, "--seal-key-file", sealKey, "--account", "444455556666").CombinedOutput()
	if err != nil {
		t.Fatalf("trent init: %v\n%s", err, out)
	}
	m := initKeyLine.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("trent init printed no access key:\n%s", out)
	}
	id, secret := m[1], m[2]
	if fi, err := os.Stat(sealKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seal key file: %v, mode %v", err, fi.Mode())
	}

	// init refuses a directory that already holds an installation.
	if out, err := testcmd.Command(t, bin, "init", "--data-dir", dir, "--seal-key-file", sealKey+"2").CombinedOutput(); err == nil {
		t.Fatalf("second init succeeded:\n%s", out)
	}
	// --dev is refused for a directory made by init.
	out, err = testcmd.Command(t, bin, "serve", "--dev", "--data-dir", dir, "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "trent init") {
		t.Fatalf("serve --dev on an init-made dir: %v\n%s", err, out)
	}
	// Without the seal key file, serve cannot unseal (and says which flag
	// it needs).
	out, err = testcmd.Command(t, bin, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "seal") {
		t.Fatalf("serve without the seal key file: %v\n%s", err, out)
	}

	p := startTrentArgs(t, nil, "serve", "--data-dir", dir, "--seal-key-file", sealKey, "--listen", "127.0.0.1:0")
	c := p.Client(id, secret)
	ctx := context.Background()
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("prod")})
	if err != nil {
		t.Fatalf("CreateKey with init's access key: %v", err)
	}
	if !strings.Contains(*ck.KeyMetadata.Arn, ":444455556666:key/") || *ck.KeyMetadata.AWSAccountId != "444455556666" {
		t.Errorf("key ARN %s does not name the account given to init", *ck.KeyMetadata.Arn)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(t); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}

	// Restarted, the key and its ciphertext still work.
	p = startTrentArgs(t, nil, "serve", "--data-dir", dir, "--seal-key-file", sealKey, "--listen", "127.0.0.1:0")
	dec, err := p.Client(id, secret).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "p" {
		t.Fatalf("Decrypt after restart: %v", err)
	}

	// A --dev data dir refuses to be served without --dev.
	devDir := filepath.Join(t.TempDir(), "dev")
	d := startTrent(t, nil, "--data-dir", devDir)
	if err := d.Stop(t); err != nil {
		t.Fatal(err)
	}
	out, err = testcmd.Command(t, bin, "serve", "--data-dir", devDir, "--seal-key-file", sealKey, "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--dev") {
		t.Fatalf("serve of a dev dir without --dev: %v\n%s", err, out)
	}
}
