package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestRecipeAWSCLI runs docs/clients.md's AWS CLI recipes: --endpoint-url,
// the AWS_ENDPOINT_URL_KMS and AWS_ENDPOINT_URL variables, and a services
// section in the config file. The variables and the services section are
// read by AWS CLI 1.29.0+ and 2.13.0+; an older CLI (Debian bookworm's
// awscli is 2.9.19) gets those subtests skipped, and must keep working with
// --endpoint-url.
func TestRecipeAWSCLI(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	aws := testenv.RequireTool(t, "TRENT_REQUIRE_AWSCLI", "aws", "scripts/test-deps.sh installs it")
	r := startRecipeTrent(t)
	version := strings.TrimSpace(r.run(t, nil, aws, "--version"))
	t.Logf("%s", version)
	if err := os.WriteFile(filepath.Join(r.dir, "secret.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	// roundTrip is the recipe's create-key, encrypt, decrypt: with the
	// given endpoint arguments and environment.
	roundTrip := func(t *testing.T, env []string, endpoint ...string) {
		t.Helper()
		kms := func(args ...string) string {
			return strings.TrimSpace(r.run(t, env, aws, append(append(endpoint, "kms"), args...)...))
		}
		arn := kms("create-key", "--description", "app", "--query", "KeyMetadata.Arn", "--output", "text")
		r.mustHaveKey(t, arn)
		ct := kms("encrypt", "--key-id", arn, "--plaintext", "fileb://secret.txt", "--query", "CiphertextBlob", "--output", "text")
		r.mustDecrypt(t, ct, nil, []byte("hello"))
		if err := os.WriteFile(filepath.Join(r.dir, "secret.enc"), mustB64(t, ct), 0o600); err != nil {
			t.Fatal(err)
		}
		pt := kms("decrypt", "--ciphertext-blob", "fileb://secret.enc", "--query", "Plaintext", "--output", "text")
		if got := string(mustB64(t, pt)); got != "hello" {
			t.Fatalf("decrypt = %q, want hello", got)
		}
	}

	t.Run("endpoint-url", func(t *testing.T) {
		roundTrip(t, nil, "--endpoint-url", r.URL)
	})

	envSupported := atLeast(version, [3]int{1, 29, 0}) && !strings.HasPrefix(version, "aws-cli/2.") ||
		atLeast(version, [3]int{2, 13, 0})
	needEnv := func(t *testing.T) {
		if !envSupported {
			t.Skipf("%s predates AWS_ENDPOINT_URL* and services sections (AWS CLI 1.29.0 / 2.13.0)", version)
		}
	}

	// Each CLI start costs seconds, so the other ways of giving the
	// endpoint make one key each, which must then be on this server.
	createKey := func(t *testing.T, env []string) {
		t.Helper()
		r.mustHaveKey(t, r.run(t, env, aws, "kms", "create-key", "--query", "KeyMetadata.Arn", "--output", "text"))
	}

	t.Run("AWS_ENDPOINT_URL_KMS", func(t *testing.T) {
		needEnv(t)
		createKey(t, []string{"AWS_ENDPOINT_URL_KMS=" + r.URL})
	})

	t.Run("AWS_ENDPOINT_URL", func(t *testing.T) {
		needEnv(t)
		env := []string{"AWS_ENDPOINT_URL=" + r.URL}
		createKey(t, env)
		// Trent answers STS (and IAM) on the same endpoint.
		var who struct{ Account, Arn string }
		out := r.run(t, env, aws, "sts", "get-caller-identity", "--output", "json")
		if err := json.Unmarshal([]byte(out), &who); err != nil || who.Account == "" {
			t.Fatalf("sts get-caller-identity = %q (%v)", out, err)
		}
	})

	t.Run("config-services", func(t *testing.T) {
		needEnv(t)
		config := filepath.Join(r.dir, "trent-config")
		ini := "[profile trent]\nregion = us-east-1\nservices = trent\n\n[services trent]\nkms =\n  endpoint_url = " + r.URL + "\n"
		if err := os.WriteFile(config, []byte(ini), 0o600); err != nil {
			t.Fatal(err)
		}
		createKey(t, []string{"AWS_CONFIG_FILE=" + config, "AWS_PROFILE=trent"})
	})
}
