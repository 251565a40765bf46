package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// awsRun runs `aws --endpoint-url E --region R SERVICE ARGS…` with the
// CLI's isolated environment plus extra variables (a session token, other
// keys), and returns stdout, stderr and the error.
func (c *awsCLI) awsRun(t *testing.T, extra []string, service string, args ...string) (string, string, error) {
	t.Helper()
	cmd := testcmd.Command(t, c.bin, append([]string{"--endpoint-url", c.endpoint, "--region", "us-east-1", "--output", "json", service}, args...)...)
	cmd.Dir = c.dir
	cmd.Env = append(append([]string(nil), c.env...), extra...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func (c *awsCLI) awsJSON(t *testing.T, extra []string, service string, args ...string) map[string]any {
	t.Helper()
	out, errOut, err := c.awsRun(t, extra, service, args...)
	if err != nil {
		t.Fatalf("aws %s %s: %v\nstderr: %s", service, strings.Join(args, " "), err, errOut)
	}
	m := map[string]any{}
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("aws %s %s printed %q: %v", service, args[0], out, err)
		}
	}
	return m
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

func keysEnv(id, secret, token string) []string {
	env := []string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret}
	if token != "" {
		env = append(env, "AWS_SESSION_TOKEN="+token)
	}
	return env
}

// TestAWSCLIAccessControl drives access control the way a team would with
// the AWS CLI: a user with an inline policy may encrypt but not decrypt, a
// role session may decrypt, the simulator agrees with the real decisions,
// and sts get-caller-identity names each caller.
func TestAWSCLIAccessControl(t *testing.T) {
	e := testenv.Start(t)
	cli := newAWSCLI(t, e.URL, e.AccessKeyID, e.Secret)
	root := []string(nil)
	acct := e.Account

	who := cli.awsJSON(t, root, "sts", "get-caller-identity")
	if str(who, "Arn") != "arn:aws:iam::"+acct+":root" || str(who, "Account") != acct {
		t.Fatalf("root get-caller-identity = %v", who)
	}
	user := cli.awsJSON(t, root, "iam", "create-user", "--user-name", "cli-user")
	userARN := str(user, "User", "Arn")
	ak := cli.awsJSON(t, root, "iam", "create-access-key", "--user-name", "cli-user")
	uid, usecret := str(ak, "AccessKey", "AccessKeyId"), str(ak, "AccessKey", "SecretAccessKey")
	cli.awsJSON(t, root, "iam", "put-user-policy", "--user-name", "cli-user", "--policy-name", "encrypt",
		"--policy-document", policyDoc(`{"Effect":"Allow","Action":["kms:Encrypt","sts:AssumeRole"],"Resource":"*"}`))
	key := str(cli.awsJSON(t, root, "kms", "create-key", "--description", "cli"), "KeyMetadata", "Arn")

	plain := filepath.Join(cli.dir, "plain.txt")
	if err := os.WriteFile(plain, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	asUser := keysEnv(uid, usecret, "")
	if got := str(cli.awsJSON(t, asUser, "sts", "get-caller-identity"), "Arn"); got != userARN {
		t.Errorf("user get-caller-identity = %q, want %q", got, userARN)
	}
	enc := cli.awsJSON(t, asUser, "kms", "encrypt", "--key-id", key, "--plaintext", "fileb://"+plain)
	blob := filepath.Join(cli.dir, "blob")
	if err := os.WriteFile(blob, decodeB64(t, str(enc, "CiphertextBlob")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := cli.awsRun(t, asUser, "kms", "decrypt", "--ciphertext-blob", "fileb://"+blob)
	if err == nil || !strings.Contains(stderr, "AccessDeniedException") || !strings.Contains(stderr, "is not authorized to perform: kms:Decrypt") {
		t.Fatalf("user decrypt: err %v, stderr %s; want AccessDeniedException", err, stderr)
	}

	// The simulator agrees with what the server just decided.
	sim := cli.awsJSON(t, root, "iam", "simulate-principal-policy", "--policy-source-arn", userARN,
		"--action-names", "kms:Encrypt", "kms:Decrypt", "--resource-arns", key)
	got := map[string]string{}
	results, _ := sim["EvaluationResults"].([]any)
	for _, r := range results {
		m, _ := r.(map[string]any)
		got[str(m, "EvalActionName")] = str(m, "EvalDecision")
	}
	if got["kms:Encrypt"] != "allowed" || got["kms:Decrypt"] != "implicitDeny" {
		t.Errorf("simulate-principal-policy = %v, want Encrypt allowed and Decrypt implicitDeny", got)
	}

	// A role the account trusts, allowed to decrypt; the user assumes it.
	cli.awsJSON(t, root, "iam", "create-role", "--role-name", "decrypter", "--assume-role-policy-document",
		policyDoc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+acct+`:root"},"Action":"sts:AssumeRole"}`))
	cli.awsJSON(t, root, "iam", "put-role-policy", "--role-name", "decrypter", "--policy-name", "d",
		"--policy-document", policyDoc(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`))
	as := cli.awsJSON(t, asUser, "sts", "assume-role", "--role-arn", "arn:aws:iam::"+acct+":role/decrypter", "--role-session-name", "cli")
	session := keysEnv(str(as, "Credentials", "AccessKeyId"), str(as, "Credentials", "SecretAccessKey"), str(as, "Credentials", "SessionToken"))
	if got := str(cli.awsJSON(t, session, "sts", "get-caller-identity"), "Arn"); got != "arn:aws:sts::"+acct+":assumed-role/decrypter/cli" {
		t.Errorf("session get-caller-identity = %q", got)
	}
	dec := cli.awsJSON(t, session, "kms", "decrypt", "--ciphertext-blob", "fileb://"+blob)
	if string(decodeB64(t, str(dec, "Plaintext"))) != "hello" {
		t.Errorf("session decrypt = %v", dec)
	}
	if _, stderr, err := cli.awsRun(t, session, "kms", "encrypt", "--key-id", key, "--plaintext", "fileb://"+plain); err == nil || !strings.Contains(stderr, "AccessDeniedException") {
		t.Errorf("session encrypt: err %v, stderr %s; want AccessDeniedException", err, stderr)
	}
}

func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}
