package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv"
)

// nodeTools returns node and the node_modules directory where
// scripts/test-deps.sh installed the recipes' npm packages (npm ci of
// testdata/recipes/node into the recipes cache), skipping or failing (with
// TRENT_REQUIRE_NODE set) when either is missing.
func nodeTools(t *testing.T) (node, modules string) {
	t.Helper()
	node = testenv.RequireTool(t, "TRENT_REQUIRE_NODE", "node", "install Node.js 18+")
	modules = filepath.Join(recipesCache(t), "node", "node_modules")
	for _, pkg := range []string{"@aws-sdk/client-kms", "@aws-crypto/client-node"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			testenv.Missing(t, "TRENT_REQUIRE_NODE", pkg+" is not installed in "+modules+" (run scripts/test-deps.sh)")
		}
	}
	return node, modules
}

// nodeScripts copies the JavaScript recipes into the recipe directory and
// returns where they are.
func nodeScripts(t *testing.T, r *recipeTrent, modules string) (dir string) {
	t.Helper()
	// An ES module finds its packages in node_modules beside it, so the
	// scripts run from a directory with a link to the installed ones.
	dir = filepath.Join(r.dir, "js")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"kms.mjs", "esdk.mjs"} {
		b, err := os.ReadFile(recipeFile(t, filepath.Join("node", f)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRecipeJSSDK runs docs/clients.md's AWS SDK for JavaScript v3 script
// (create a key, encrypt, decrypt, generate a data key) with an explicit
// endpoint and with AWS_ENDPOINT_URL_KMS, and decrypts what it printed with
// the Go SDK.
func TestRecipeJSSDK(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	node, modules := nodeTools(t)
	r := startRecipeTrent(t)
	dir := nodeScripts(t, r, modules)
	check := func(t *testing.T, out string) { r.mustPrintKeyAndCiphertext(t, out, "hello from js") }
	t.Run("endpoint", func(t *testing.T) {
		check(t, r.run(t, nil, node, filepath.Join(dir, "kms.mjs"), r.URL))
	})
	t.Run("AWS_ENDPOINT_URL_KMS", func(t *testing.T) {
		check(t, r.run(t, []string{"AWS_ENDPOINT_URL_KMS=" + r.URL}, node, filepath.Join(dir, "kms.mjs")))
	})
}

// TestRecipeEncryptionSDK runs docs/clients.md's AWS Encryption SDK for
// JavaScript script: an encrypt/decrypt round trip with a KMS keyring whose
// client provider points at Trent. The data key in the message must be a
// Trent ciphertext under the key given, which the Go SDK then decrypts.
func TestRecipeEncryptionSDK(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	node, modules := nodeTools(t)
	r := startRecipeTrent(t)
	dir := nodeScripts(t, r, modules)
	key, err := r.kms().CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("esdk recipe")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	out := r.run(t, nil, node, filepath.Join(dir, "esdk.mjs"), arn, r.URL)
	var msg struct {
		KeyArn            string            `json:"keyArn"`
		EncryptedDataKey  string            `json:"encryptedDataKey"`
		EncryptionContext map[string]string `json:"encryptionContext"`
	}
	if err := json.Unmarshal([]byte(out), &msg); err != nil {
		t.Fatalf("script printed %q: %v", out, err)
	}
	if msg.KeyArn != arn || msg.EncryptionContext["purpose"] != "recipe" {
		t.Fatalf("message header: %+v, want key %s and purpose=recipe", msg, arn)
	}
	ct, err := base64.StdEncoding.DecodeString(msg.EncryptedDataKey)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := r.kms().Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: ct, EncryptionContext: msg.EncryptionContext})
	if err != nil {
		t.Fatalf("Decrypt of the message's data key: %v", err)
	}
	if aws.ToString(dk.KeyId) != arn || len(dk.Plaintext) != 32 {
		t.Fatalf("data key: key %s, %d bytes; want %s, 32 bytes", aws.ToString(dk.KeyId), len(dk.Plaintext), arn)
	}
}
