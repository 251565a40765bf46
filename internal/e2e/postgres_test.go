package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv/pgtest"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestPostgresInstallation runs the real binary on a throwaway PostgreSQL:
// `trent init --database-url` (no data dir), a node serving it creates a
// key and encrypts, is stopped; a second node with a data dir of its own,
// given the URL through TRENT_DATABASE_URL, decrypts — the state is in the
// database, not in a node. While both serve at once, a key created through
// one is used through the other. A second init on the database is refused.
func TestPostgresInstallation(t *testing.T) {
	c := pgtest.StartForTest(t)
	ctx := context.Background()
	url, err := c.NewDatabase(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	bin := trentBinary(t)
	sealKey := filepath.Join(t.TempDir(), "seal.key")
	out, err := testcmd.Command(t, bin, "init", "--database-url", url, "--seal-key-file", sealKey,
		"--account", "444455556666", "--format", "json").Output()
	if err != nil {
		t.Fatalf("trent init --database-url: %v\n%s", err, out)
	}
	var res struct {
		AccountID       string `json:"account_id"`
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.AccessKeyID == "" || res.AccountID != "444455556666" {
		t.Fatalf("init --format json: %v: %s", err, out)
	}
	if out, err := testcmd.Command(t, bin, "init", "--database-url", url, "--seal-key-file", sealKey+"2").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "already holds a Trent installation") {
		t.Fatalf("second init on the database: %v\n%s", err, out)
	}

	serve := func(env []string, args ...string) *trentProc {
		return startTrentArgs(t, env, append([]string{"serve", "--seal-key-file", sealKey,
			"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "node")}, args...)...)
	}
	a := serve(nil, "--database-url", url)
	ca := a.Client(res.AccessKeyID, res.SecretAccessKey)
	ck, err := ca.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("on postgres")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	enc, err := ca.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("p")})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if err := a.Stop(t); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}

	b := serve([]string{"TRENT_DATABASE_URL=" + url})
	cb := b.Client(res.AccessKeyID, res.SecretAccessKey)
	dec, err := cb.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "p" {
		t.Fatalf("Decrypt on another node after the first stopped: %v", err)
	}

	// Two nodes at once.
	a = serve(nil, "--database-url", url)
	ca = a.Client(res.AccessKeyID, res.SecretAccessKey)
	ck2, err := cb.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey through the second node: %v", err)
	}
	enc2, err := ca.Encrypt(ctx, &kms.EncryptInput{KeyId: ck2.KeyMetadata.KeyId, Plaintext: []byte("q")})
	if err != nil {
		t.Fatalf("Encrypt through the first node with the second's key: %v", err)
	}
	dec2, err := cb.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc2.CiphertextBlob})
	if err != nil || string(dec2.Plaintext) != "q" {
		t.Fatalf("Decrypt through the second node: %v", err)
	}
}
