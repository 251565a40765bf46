package e2e

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// devEnv is the environment of a dev server under test: the AWS_* pair a
// developer's shell typically holds, and the TRENT_ROOT_* pair (either may
// be empty).
func devEnv(awsID, awsSecret, rootID, rootSecret string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + awsID, "AWS_SECRET_ACCESS_KEY=" + awsSecret,
		"TRENT_ROOT_ACCESS_KEY_ID=" + rootID, "TRENT_ROOT_SECRET_ACCESS_KEY=" + rootSecret,
	}
}

// listKeysError calls ListKeys with the pair and returns the AWS error
// code, or "" on success.
func listKeysError(t *testing.T, p *trentProc, id, secret string) string {
	t.Helper()
	_, err := p.Client(id, secret).ListKeys(t.Context(), &kms.ListKeysInput{})
	if err == nil {
		return ""
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("ListKeys: %v", err)
	}
	return api.ErrorCode()
}

// TestDevRootCredentials checks where a dev server's root access key comes
// from: TRENT_ROOT_ACCESS_KEY_ID and TRENT_ROOT_SECRET_ACCESS_KEY when both
// are set, otherwise a new pair it prints — never the AWS_* variables,
// which on a developer's machine are often real AWS keys (the server used
// to adopt them and store the secret beside its key file).
func TestDevRootCredentials(t *testing.T) {
	awsID, awsSecret := randomAccessKey(t)

	t.Run("AWS variables are not adopted", func(t *testing.T) {
		p := startTrent(t, devEnv(awsID, awsSecret, "", ""))
		id, secret := printedCredentials(t, p.WaitStderr(t, "AWS_SECRET_ACCESS_KEY="))
		if id == awsID || secret == awsSecret {
			t.Fatalf("the printed pair is the environment's AWS pair")
		}
		if code := listKeysError(t, p, awsID, awsSecret); code != "UnrecognizedClientException" {
			t.Errorf("a request signed with the AWS_* pair: %q, want UnrecognizedClientException", code)
		}
		if code := listKeysError(t, p, id, secret); code != "" {
			t.Errorf("a request signed with the printed pair: %s", code)
		}
	})

	t.Run("TRENT_ROOT variables are", func(t *testing.T) {
		rootID, _ := randomAccessKey(t)
		rootSecret := "sixteen-chars-ok" // the minimum length
		p := startTrent(t, devEnv(awsID, awsSecret, rootID, rootSecret))
		if code := listKeysError(t, p, rootID, rootSecret); code != "" {
			t.Errorf("a request signed with the TRENT_ROOT_* pair: %s", code)
		}
		if code := listKeysError(t, p, awsID, awsSecret); code != "UnrecognizedClientException" {
			t.Errorf("a request signed with the AWS_* pair: %q, want UnrecognizedClientException", code)
		}
		out := p.Stderr()
		if !strings.Contains(out, rootID) {
			t.Errorf("the banner does not name the access key in use:\n%s", out)
		}
		if strings.Contains(out, rootSecret) {
			t.Errorf("the server printed the secret it was given:\n%s", out)
		}
	})
}

// TestDevRootCredentialsRefused checks that a dev server refuses a
// TRENT_ROOT_* pair it cannot use before it starts anything.
func TestDevRootCredentialsRefused(t *testing.T) {
	id, secret := randomAccessKey(t)
	for _, tt := range []struct {
		name, id, secret, want string
	}{
		{"15-character secret", id, "fifteen-chars-x", "at least 16"},
		{"only the id", id, "", "TRENT_ROOT_SECRET_ACCESS_KEY"},
		{"only the secret", "", secret, "TRENT_ROOT_ACCESS_KEY_ID"},
		{"malformed id", "AKIA-not/valid!!", secret, "TRENT_ROOT_ACCESS_KEY_ID"},
		{"short id", "AKIASHORT", secret, "TRENT_ROOT_ACCESS_KEY_ID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			cmd := testcmd.Command(t, trentBinary(t), "serve", "--dev", "--listen", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), append(devEnv(id, secret, tt.id, tt.secret), "TMPDIR="+tmp)...)
			out, err := cmd.CombinedOutput()
			if stoppedByTestcmd(string(out)) {
				t.Fatalf("trent served with TRENT_ROOT_ACCESS_KEY_ID=%q and a %d-character secret:\n%s", tt.id, len(tt.secret), out)
			}
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Fatalf("trent: %v, want a refusal naming %q:\n%s", err, tt.want, out)
			}
			if tt.secret != "" && strings.Contains(string(out), tt.secret) {
				t.Errorf("the refusal shows the secret:\n%s", out)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("a refused start left %v in TMPDIR", left)
			}
		})
	}
}
