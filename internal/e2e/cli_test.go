package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// awsCLI runs the AWS CLI against one endpoint in a directory of its own,
// isolated from the user's AWS configuration.
type awsCLI struct {
	bin, dir, endpoint string
	env                []string
}

// newAWSCLI finds the aws command. Without it the test is skipped, unless
// TRENT_REQUIRE_AWSCLI is set (as CI sets it), when it fails.
func newAWSCLI(t *testing.T, endpoint, id, secret string) *awsCLI {
	t.Helper()
	bin := testenv.RequireTool(t, "TRENT_REQUIRE_AWSCLI", "aws", "the AWS CLI; scripts/test-deps.sh installs it")
	dir := t.TempDir()
	env := append(awsClientEnv(t, dir, id, secret), "AWS_RETRY_MODE=standard")
	return &awsCLI{bin: bin, dir: dir, endpoint: endpoint, env: env}
}

// awsClientEnv writes empty AWS config and credentials files in dir and
// returns this process's environment without its AWS_ variables (nor
// those starting with a prefix of drop) and with what makes an AWS client
// sign as id and secret and nothing else: those files, no pager, no
// instance metadata, one attempt.
func awsClientEnv(t *testing.T, dir, id, secret string, drop ...string) []string {
	t.Helper()
	config := filepath.Join(dir, "aws-config")
	creds := filepath.Join(dir, "aws-credentials")
	for _, f := range []string{config, creds} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	drop = append(drop, "AWS_")
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+id,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_CONFIG_FILE="+config,
		"AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
	)
}

// run runs `aws --endpoint-url E --region us-east-1 kms ARGS…` and returns
// its stdout, stderr and error.
func (c *awsCLI) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := testcmd.Command(t, c.bin, append([]string{"--endpoint-url", c.endpoint, "--region", "us-east-1", "kms"}, args...)...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// mustRun is run that fails the test on a non-zero exit.
func (c *awsCLI) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := c.run(t, args...)
	if err != nil {
		t.Fatalf("aws kms %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func TestAWSCLI(t *testing.T) {
	id, secret := randomAccessKey(t)
	// No --data-dir: the dev server makes a temporary one and removes it
	// when it stops.
	srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret})
	dataDir := devDataDir(t, srv.Stderr())
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	cli := newAWSCLI(t, srv.URL, id, secret)

	var created struct {
		KeyMetadata struct {
			KeyId, Arn, Description, KeyState string
		}
	}
	out := cli.mustRun(t, "create-key", "--description", "app", "--output", "json")
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create-key output %q: %v", out, err)
	}
	md := created.KeyMetadata
	if md.KeyId == "" || md.Description != "app" || md.KeyState != "Enabled" || !strings.HasSuffix(md.Arn, ":key/"+md.KeyId) {
		t.Fatalf("create-key: %+v", md)
	}

	cli.mustRun(t, "create-alias", "--alias-name", "alias/app", "--target-key-id", md.KeyId)

	secretText := []byte("database password: hunter2\n\x00\xff binary tail")
	if err := os.WriteFile(filepath.Join(cli.dir, "secret.txt"), secretText, 0o600); err != nil {
		t.Fatal(err)
	}
	out = cli.mustRun(t, "encrypt", "--key-id", "alias/app", "--plaintext", "fileb://secret.txt",
		"--output", "text", "--query", "CiphertextBlob")
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil || len(ct) == 0 {
		t.Fatalf("encrypt output %q is not base64: %v", out, err)
	}
	if bytes.Contains(ct, secretText) {
		t.Fatal("the ciphertext contains the plaintext")
	}
	if err := os.WriteFile(filepath.Join(cli.dir, "ct.bin"), ct, 0o600); err != nil {
		t.Fatal(err)
	}

	// Plaintext (base64 in text output), and the key the
	// alias named, in one call: "<base64>\t<key ARN>".
	out = cli.mustRun(t, "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--output", "text", "--query", "[Plaintext,KeyId]")
	ptB64, keyARN, _ := strings.Cut(strings.TrimSpace(out), "\t")
	pt, err := base64.StdEncoding.DecodeString(ptB64)
	if err != nil {
		t.Fatalf("decrypt output %q is not base64: %v", out, err)
	}
	if !bytes.Equal(pt, secretText) {
		t.Fatalf("decrypt = %q, want %q", pt, secretText)
	}
	if keyARN != md.Arn {
		t.Fatalf("decrypt KeyId = %q, want %q (the key alias/app points at)", keyARN, md.Arn)
	}

	out = cli.mustRun(t, "schedule-key-deletion", "--key-id", md.KeyId, "--pending-window-in-days", "7", "--output", "json")
	var sched struct {
		KeyId, KeyState     string
		PendingWindowInDays int
	}
	if err := json.Unmarshal([]byte(out), &sched); err != nil {
		t.Fatalf("schedule-key-deletion output %q: %v", out, err)
	}
	if sched.KeyState != "PendingDeletion" || sched.PendingWindowInDays != 7 || sched.KeyId != md.Arn {
		t.Fatalf("schedule-key-deletion: %+v", sched)
	}

	out, errOut, err := cli.run(t, "encrypt", "--key-id", "alias/app", "--plaintext", "fileb://secret.txt")
	if err == nil {
		t.Fatalf("encrypt under a key pending deletion succeeded: %s", out)
	}
	if !strings.Contains(errOut, "is pending deletion") || !strings.Contains(errOut, "KMSInvalidStateException") {
		t.Fatalf("encrypt under a key pending deletion: stderr %q, want KMSInvalidStateException … is pending deletion", errOut)
	}

	// SIGTERM is a graceful stop: exit status 0, temporary data dir removed.
	if err := srv.Stop(t); err != nil {
		t.Fatalf("trent exited with %v after SIGTERM, want status 0\n%s", err, srv.Stderr())
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("dev data dir %s still exists after a graceful stop (%v)", dataDir, err)
	}
}

// devDataDir finds the data directory in the dev server's banner:
// "… (dev mode, account A, region R, data in DIR)".
func devDataDir(t *testing.T, stderr string) string {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, "serving the AWS KMS API on ") {
			continue
		}
		if _, rest, ok := strings.Cut(line, "data in "); ok {
			return strings.TrimSuffix(rest, ")")
		}
	}
	t.Fatalf("no data directory in trent's banner:\n%s", stderr)
	return ""
}

// TestAWSCLISignVerifiedByOpenSSL signs with the AWS CLI and has openssl,
// an implementation that shares nothing with Trent, verify the signature
// against the public key the CLI fetched.
func TestAWSCLISignVerifiedByOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not on PATH")
	}
	id, secret := randomAccessKey(t)
	srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret})
	cli := newAWSCLI(t, srv.URL, id, secret)
	keyID := strings.TrimSpace(cli.mustRun(t, "create-key", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY",
		"--output", "text", "--query", "KeyMetadata.KeyId"))

	file := func(name string, b []byte) string {
		p := filepath.Join(cli.dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b64 := func(out string) []byte {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("%q is not base64: %v", out, err)
		}
		return b
	}
	msg := file("msg.txt", []byte("release v1.2.3 checksum 0badc0de\n"))
	pub := b64(cli.mustRun(t, "get-public-key", "--key-id", keyID, "--output", "text", "--query", "PublicKey"))
	pubDER := file("pub.der", pub)
	sig := b64(cli.mustRun(t, "sign", "--key-id", keyID, "--message", "fileb://msg.txt", "--message-type", "RAW",
		"--signing-algorithm", "ECDSA_SHA_256", "--output", "text", "--query", "Signature"))
	sigFile := file("sig.der", sig)

	verify := func(sigPath string) ([]byte, error) {
		return testcmd.Command(t, openssl, "dgst", "-sha256", "-verify", pubDER, "-keyform", "DER", "-signature", sigPath, msg).CombinedOutput()
	}
	if out, err := verify(sigFile); err != nil {
		t.Fatalf("openssl rejects Trent's signature: %v\n%s", err, out)
	}
	bad := append([]byte(nil), sig...)
	bad[len(bad)-1] ^= 1
	if out, err := verify(file("bad.der", bad)); err == nil {
		t.Fatalf("openssl accepts a damaged signature:\n%s", out)
	}
	// And Trent's Verify agrees, through the CLI.
	out := cli.mustRun(t, "verify", "--key-id", keyID, "--message", "fileb://msg.txt", "--signature", "fileb://sig.der",
		"--signing-algorithm", "ECDSA_SHA_256", "--output", "text", "--query", "SignatureValid")
	if strings.TrimSpace(out) != "True" {
		t.Fatalf("aws kms verify: %q", out)
	}
}
