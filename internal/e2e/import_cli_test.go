package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestImportAWSCLI runs docs/import.md's symmetric recipe with the AWS CLI
// and openssl: create-key --origin EXTERNAL, get-parameters-for-import,
// openssl pkeyutl OAEP, import-key-material, encrypt and decrypt, then new
// material, rotate-key-on-demand, list-key-rotations and
// delete-imported-key-material.
func TestImportAWSCLI(t *testing.T) {
	if _, err := os.Stat(opensslPath); err != nil {
		t.Skipf("no %s: %v", opensslPath, err)
	}
	env := testenv.Start(t)
	cli := newAWSCLI(t, env.URL, env.AccessKeyID, env.Secret)
	dir := cli.dir
	path := func(name string) string { return filepath.Join(dir, name) }
	run := func(args ...string) {
		t.Helper()
		if out, ok := openssl(t, dir, args...); !ok {
			t.Fatalf("openssl %v: %s", args, out)
		}
	}
	key := strings.TrimSpace(cli.mustRun(t, "create-key", "--origin", "EXTERNAL", "--query", "KeyMetadata.KeyId", "--output", "text"))
	wrap := func(material string) {
		var p struct{ PublicKey, ImportToken []byte }
		out := cli.mustRun(t, "get-parameters-for-import", "--key-id", key,
			"--wrapping-algorithm", "RSAES_OAEP_SHA_256", "--wrapping-key-spec", "RSA_2048", "--output", "json")
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("get-parameters-for-import: %v: %s", err, out)
		}
		writeFile(t, dir, "WrappingPublicKey.bin", p.PublicKey)
		writeFile(t, dir, "ImportToken.bin", p.ImportToken)
		run("pkeyutl", "-encrypt", "-in", material, "-out", "EncryptedKeyMaterial.bin",
			"-inkey", "WrappingPublicKey.bin", "-keyform", "DER", "-pubin",
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
	}
	run("rand", "-out", "PlaintextKeyMaterial.bin", "32")
	wrap("PlaintextKeyMaterial.bin")
	cli.mustRun(t, "import-key-material", "--key-id", key,
		"--encrypted-key-material", "fileb://"+path("EncryptedKeyMaterial.bin"),
		"--import-token", "fileb://"+path("ImportToken.bin"),
		"--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
	writeFile(t, dir, "msg.txt", []byte("hello"))
	blob := cli.mustRun(t, "encrypt", "--key-id", key, "--plaintext", "fileb://"+path("msg.txt"), "--query", "CiphertextBlob", "--output", "text")
	writeFile(t, dir, "msg.enc", mustBase64(t, strings.TrimSpace(blob)))
	if got := openBlob(t, mustRead(t, path("PlaintextKeyMaterial.bin")), mustRead(t, path("msg.enc"))); string(got) != "hello" {
		t.Fatalf("the CLI's ciphertext opens to %q under openssl's material", got)
	}

	cli.mustRun(t, "delete-imported-key-material", "--key-id", key)
	if _, stderr, err := cli.run(t, "encrypt", "--key-id", key, "--plaintext", "fileb://"+path("msg.txt")); err == nil || !strings.Contains(stderr, "is pending import.") {
		t.Fatalf("encrypt under a PendingImport key: %v %s", err, stderr)
	}
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustBase64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}
