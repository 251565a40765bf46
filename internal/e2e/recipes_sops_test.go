package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv"
)

// sopsBinary returns sops from PATH or from the recipes cache, where
// scripts/test-deps.sh builds it from the Go module proxy (unless
// TRENT_RECIPES_SOPS=0: it is a few minutes' build, once per machine).
func sopsBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(recipesCache(t), "bin", "sops")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return testenv.RequireTool(t, "TRENT_REQUIRE_SOPS", "sops", "nor in "+filepath.Dir(p)+"; scripts/test-deps.sh builds it unless TRENT_RECIPES_SOPS=0")
}

// TestRecipeSops runs docs/clients.md's sops recipe: with
// AWS_ENDPOINT_URL_KMS pointing at Trent and a .sops.yaml naming a Trent
// key, sops encrypts a YAML file and decrypts it back. The encrypted file
// must not hold the secret, and must name the key's ARN.
func TestRecipeSops(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	sops := sopsBinary(t)
	r := startRecipeTrent(t)
	key, err := r.kms().CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("sops recipe")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	rules, err := os.ReadFile(recipeFile(t, "sops/.sops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rules), "key/<key-id>") {
		t.Fatalf(".sops.yaml has no key/<key-id> to fill in:\n%s", rules)
	}
	rules = []byte(strings.ReplaceAll(string(rules), "arn:aws:kms:us-east-1:111122223333:key/<key-id>", arn))
	if err := os.WriteFile(filepath.Join(r.dir, ".sops.yaml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(recipeFile(t, "sops/secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "secrets.yaml"), plain, 0o600); err != nil {
		t.Fatal(err)
	}

	env := []string{"AWS_ENDPOINT_URL_KMS=" + r.URL}
	enc := r.run(t, env, sops, "encrypt", "secrets.yaml")
	if strings.Contains(enc, "hunter2") || !strings.Contains(enc, arn) || !strings.Contains(enc, "ENC[AES256_GCM,") {
		t.Fatalf("sops encrypt output is not an encrypted file for %s:\n%s", arn, enc)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "secrets.enc.yaml"), []byte(enc), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := r.run(t, env, sops, "decrypt", "secrets.enc.yaml"); got != string(plain) {
		t.Fatalf("sops decrypt = %q, want %q", got, plain)
	}

	// Without the endpoint sops would ask real AWS, which must not work
	// here: the recipe passes because of the variable.
	if out, _, err := r.try(t, nil, sops, "decrypt", "secrets.enc.yaml"); err == nil {
		t.Fatalf("sops decrypt without AWS_ENDPOINT_URL_KMS succeeded: %q", out)
	}
}
