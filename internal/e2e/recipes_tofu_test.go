package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// OpenTofu and Terraform are too heavy to install for every test run, so
// these tests run when tofu or terraform is on PATH (TRENT_TOFU names
// another binary) and skip with the reason otherwise.

// tofuBinary returns tofu (or, if tofuOnly is false, terraform).
func tofuBinary(t *testing.T, tofuOnly bool) string {
	t.Helper()
	if p := os.Getenv("TRENT_TOFU"); p != "" {
		return p
	}
	if p, err := exec.LookPath("tofu"); err == nil {
		return p
	}
	if !tofuOnly {
		if p, err := exec.LookPath("terraform"); err == nil {
			return p
		}
		t.Skip("neither tofu nor terraform is on PATH (too heavy to install for the test suite; set TRENT_TOFU to a binary)")
	}
	if _, err := exec.LookPath("terraform"); err == nil {
		t.Skip("tofu is not on PATH, and terraform has no state encryption (set TRENT_TOFU to an OpenTofu 1.7+ binary)")
	}
	t.Skip("tofu is not on PATH (too heavy to install for the test suite; set TRENT_TOFU to an OpenTofu 1.7+ binary)")
	return ""
}

// tofuDir copies a testdata/recipes/tofu configuration into the recipe
// directory with the docs' endpoint replaced by the server's.
func tofuDir(t *testing.T, r *recipeTrent, name string) string {
	t.Helper()
	b, err := os.ReadFile(recipeFile(t, filepath.Join("tofu", name, "main.tf")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "http://127.0.0.1:8080") {
		t.Fatalf("tofu/%s/main.tf has no http://127.0.0.1:8080 to replace", name)
	}
	dir := filepath.Join(r.dir, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tf := strings.ReplaceAll(string(b), "http://127.0.0.1:8080", r.URL)
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tf), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tofuEnv is the environment for tofu: no checkpoint calls home, and the
// user's plugin cache and CLI configuration (the recipe's HOME hides them)
// passed on, so a machine with the AWS provider mirrored can run the
// provider recipe.
func tofuEnv(extra ...string) []string {
	env := []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"}
	if rc := os.Getenv("TF_CLI_CONFIG_FILE"); rc != "" {
		if _, err := os.Stat(rc); err != nil {
			// A named file that is not there only makes tofu warn on
			// stdout, into the output the tests read.
			env = append(env, "TF_CLI_CONFIG_FILE=")
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		for _, rc := range []string{".tofurc", ".terraformrc"} {
			if _, err := os.Stat(filepath.Join(home, rc)); err == nil {
				env = append(env, "TF_CLI_CONFIG_FILE="+filepath.Join(home, rc))
				break
			}
		}
	}
	return append(env, extra...)
}

// TestRecipeTofuProvider applies docs/clients.md's provider "aws"
// configuration (endpoints for kms, iam and sts): an aws_kms_key and an
// aws_kms_alias, which must then be on the server; then destroys them.
// Without a reachable provider registry or a local mirror of
// hashicorp/aws, `init` cannot get the provider and the test skips.
func TestRecipeTofuProvider(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	tofu := tofuBinary(t, false)
	r := startRecipeTrent(t)
	dir := tofuDir(t, r, "provider")
	env := tofuEnv()
	if out, errOut, err := r.try(t, env, tofu, "-chdir="+dir, "init", "-input=false", "-no-color"); err != nil {
		// tofu wraps its messages; compare them as one line.
		msg := strings.Join(strings.Fields(errOut), " ")
		if !strings.Contains(msg, "could not connect to registry") && !strings.Contains(msg, "Failed to install provider") {
			t.Fatalf("%s init: %v\n%s%s", tofu, err, out, errOut)
		}
		t.Skipf("%s is on PATH but init could not get the hashicorp/aws provider (no provider registry or mirror reachable from here): %s", tofu, errorLine(msg))
	}
	r.run(t, env, tofu, "-chdir="+dir, "apply", "-auto-approve", "-input=false", "-no-color")
	arn := strings.TrimSpace(r.run(t, env, tofu, "-chdir="+dir, "output", "-raw", "key_arn"))
	md := r.mustHaveKey(t, arn)
	if aws.ToString(md.KeyMetadata.Description) != "app" {
		t.Fatalf("key %s: description %q, want app", arn, aws.ToString(md.KeyMetadata.Description))
	}
	if _, err := r.kms().DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String("alias/app")}); err != nil {
		t.Fatalf("alias/app: %v", err)
	}
	r.run(t, env, tofu, "-chdir="+dir, "destroy", "-auto-approve", "-input=false", "-no-color")
	md = r.mustHaveKey(t, arn)
	if md.KeyMetadata.KeyState != "PendingDeletion" {
		t.Fatalf("after destroy the key is %s, want PendingDeletion", md.KeyMetadata.KeyState)
	}
}

// TestRecipeTofuStateEncryption applies docs/clients.md's OpenTofu state
// encryption configuration (key_provider "aws_kms", endpoint from
// AWS_ENDPOINT_URL_KMS) with only the built-in terraform_data resource, so
// it needs no provider download. The state file must be encrypted, its
// data key a Trent ciphertext under the key, tofu must read it back through
// Trent, and not once the key is disabled.
func TestRecipeTofuStateEncryption(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	tofu := tofuBinary(t, true)
	r := startRecipeTrent(t)
	key, err := r.kms().CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("tofu state")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.kms().CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String("alias/tofu-state"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	dir := tofuDir(t, r, "state")
	env := tofuEnv("AWS_ENDPOINT_URL_KMS=" + r.URL)
	r.run(t, env, tofu, "-chdir="+dir, "init", "-input=false", "-no-color")
	r.run(t, env, tofu, "-chdir="+dir, "apply", "-auto-approve", "-input=false", "-no-color")

	state, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	var enc struct {
		Meta          map[string][]byte `json:"meta"`
		EncryptedData []byte            `json:"encrypted_data"`
	}
	if err := json.Unmarshal(state, &enc); err != nil || len(enc.EncryptedData) == 0 {
		t.Fatalf("terraform.tfstate is not an encrypted state (%v):\n%s", err, state)
	}
	if strings.Contains(string(state), "kept in encrypted state") {
		t.Fatalf("the encrypted state holds the value in plaintext:\n%s", state)
	}
	// The state's data key is kept beside it as a Trent ciphertext under
	// the key alias/tofu-state names.
	var meta struct {
		CiphertextBlob []byte `json:"ciphertext_blob"`
	}
	if err := json.Unmarshal(enc.Meta["key_provider.aws_kms.trent"], &meta); err != nil || len(meta.CiphertextBlob) == 0 {
		t.Fatalf("no aws_kms key metadata in the state (%v):\n%s", err, state)
	}
	dk, err := r.kms().Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: meta.CiphertextBlob})
	if err != nil {
		t.Fatalf("Decrypt of the state's data key: %v", err)
	}
	if aws.ToString(dk.KeyId) != aws.ToString(key.KeyMetadata.Arn) || len(dk.Plaintext) != 32 {
		t.Fatalf("state's data key: key %s, %d bytes; want %s, 32 bytes", aws.ToString(dk.KeyId), len(dk.Plaintext), aws.ToString(key.KeyMetadata.Arn))
	}
	if got := strings.TrimSpace(r.run(t, env, tofu, "-chdir="+dir, "output", "-raw", "example")); got != "kept in encrypted state" {
		t.Fatalf("tofu output = %q, want the value back", got)
	}

	// With the key disabled, Trent refuses the key provider and tofu
	// cannot open its state.
	if _, err := r.kms().DisableKey(t.Context(), &kms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := r.try(t, env, tofu, "-chdir="+dir, "output", "-no-color", "-raw", "example")
	if err == nil || !strings.Contains(errOut, "DisabledException") {
		t.Fatalf("tofu output with the Trent key disabled: %v, want Trent's DisabledException\nstdout: %s\nstderr: %s", err, out, errOut)
	}
}

// errorLine returns the part of tofu's output (as one line) that says
// what failed.
func errorLine(msg string) string {
	if i := strings.Index(msg, "could not connect to registry"); i >= 0 {
		msg = msg[i:]
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}
