package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// runServe runs `trent serve ARGS` to its end (it must not start
// serving: the args are refused or ask for --print-config) and returns
// its stdout, stderr and exit code.
func runServe(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := testcmd.Command(t, trentBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "TRENT_ROOT_ACCESS_KEY_ID=", "TRENT_ROOT_SECRET_ACCESS_KEY=")
	cmd.Env = append(cmd.Env, env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if stoppedByTestcmd(errOut.String()) {
		t.Fatalf("trent serve %v did not exit: it served\n%s", args, errOut.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func configFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trent.toml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFileRefused: an unknown key and a bad value each stop serve
// before it starts, with an error naming the key and its line.
func TestConfigFileRefused(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{"unknown key", "dev = true\nlisten = \"127.0.0.1:0\"\ntls-certificate = \"/etc/cert.pem\"\n",
			[]string{"line 3", `unknown key "tls-certificate"`, `did you mean "tls-cert"`}},
		{"bad value parsed by the flag", "dev = true\nkey-cache-idle = \"a while\"\n",
			[]string{"line 2", "key-cache-idle", `invalid value "a while"`}},
		{"bad value checked after", "dev = true\n\nlog-format = \"xml\"\n",
			[]string{"--log-format", `"xml"`, "line 3"}},
		{"wrong type", "dev = \"true\"\n", []string{"line 1", "dev", "want true or false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := configFile(t, tt.content)
			_, stderr, code := runServe(t, nil, "--config", file)
			if code == 0 {
				t.Fatalf("exit 0 for %q", tt.content)
			}
			for _, w := range append(tt.want, file) {
				if !strings.Contains(stderr, w) {
					t.Errorf("error does not name %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestConfigPrecedence: flag > environment > file > default, as
// --print-config reports them; secrets from the environment are named
// but redacted.
func TestConfigPrecedence(t *testing.T) {
	file := configFile(t, `
dev = true
listen = "127.0.0.1:7001"
log-level = "warn"
key-cache-max-keys = 11
job-interval = "2m"
`)
	id, secret := randomAccessKey(t)
	env := []string{
		"TRENT_LOG_LEVEL=error", "TRENT_KEY_CACHE_MAX_KEYS=12", "TRENT_KEY_CACHE_IDLE=7s",
		"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret,
	}
	stdout, stderr, code := runServe(t, env, "--config", file, "--key-cache-max-keys", "13", "--print-config")
	if code != 0 {
		t.Fatalf("--print-config: exit %d\n%s", code, stderr)
	}
	lines := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " = "); ok && !strings.HasPrefix(k, "#") {
			lines[k] = v
		}
	}
	tests := []struct{ key, value, origin string }{
		{"key-cache-max-keys", "13", "# command line"},                      // flag > env > file
		{"log-level", `"error"`, "# environment TRENT_LOG_LEVEL"},           // env > file
		{"key-cache-idle", `"7s"`, "# environment TRENT_KEY_CACHE_IDLE"},    // env > default
		{"listen", `"127.0.0.1:7001"`, "# config file " + file + " line 3"}, // file > default
		{"job-interval", `"2m0s"`, "# config file " + file + " line 6"},     // file > default
		{"dev", "true", "# config file " + file + " line 2"},                //
		{"metrics-listen", `""`, "# default"},                               // default
		{"key-cache-max-bytes", `"64MiB"`, "# default"},                     //
	}
	for _, tt := range tests {
		got, ok := lines[tt.key]
		if !ok {
			t.Errorf("%s not printed:\n%s", tt.key, stdout)
			continue
		}
		value, origin, _ := strings.Cut(got, "  ")
		if strings.TrimSpace(value) != tt.value || strings.TrimSpace(origin) != tt.origin {
			t.Errorf("%s = %q, want %s %s", tt.key, got, tt.value, tt.origin)
		}
	}
	if strings.Contains(stdout, secret) {
		t.Errorf("--print-config printed the root secret:\n%s", stdout)
	}
	if !strings.Contains(stdout, `$TRENT_ROOT_SECRET_ACCESS_KEY = "<redacted>"`) {
		t.Errorf("the secret's variable is not named as redacted:\n%s", stdout)
	}
	// Every serve flag is a key: the printed file lists each one that
	// `serve -h` lists (but the run-only ones).
	_, help, _ := runServe(t, nil, "-h")
	for _, l := range strings.Split(help, "\n") {
		if !strings.HasPrefix(l, "  -") {
			continue // a flag's help, or the header
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(l, "  -"), " ")
		if name == "config" || name == "print-config" {
			continue
		}
		if _, ok := lines[name]; !ok {
			t.Errorf("flag --%s has no key in --print-config's output", name)
		}
	}
}

// TestConfigFileServesWithRequestLog: a server configured by a file alone
// (JSON logs at debug level) logs one line per request with its request
// id, operation, outcome and duration, and never a body.
func TestConfigFileServesWithRequestLog(t *testing.T) {
	file := configFile(t, `
dev = true
listen = "127.0.0.1:0"
log-level = "debug"
log-format = "json"
`)
	id, secret := randomAccessKey(t)
	srv := startTrentArgs(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}, "serve", "--config", file)
	c := srv.Client(id, secret)
	ctx := context.Background()
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	plaintext := []byte("never-in-a-log-4f1c")
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: plaintext})
	if err != nil {
		t.Fatal(err)
	}
	encID, _ := awsmiddleware.GetRequestIDMetadata(enc.ResultMetadata)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("not a ciphertext blob at all")})
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("Decrypt of garbage: %v", err)
	}
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/none")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFoundException" {
		t.Fatalf("DescribeKey: %v", err)
	}

	out := srv.WaitStderr(t, `"operation":"DescribeKey"`)
	type line struct {
		Level, Msg, RequestID, Service, Operation, Outcome string
		Duration                                           *float64
	}
	var reqs []line
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(l), &raw); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, l)
		}
		if raw["msg"] != "request" {
			continue
		}
		s := func(k string) string { v, _ := raw[k].(string); return v }
		var d *float64
		if v, ok := raw["duration_ms"].(float64); ok {
			d = &v
		}
		reqs = append(reqs, line{s("level"), s("msg"), s("request_id"), s("service"), s("operation"), s("outcome"), d})
	}
	if len(reqs) != 4 {
		t.Fatalf("%d request lines for 4 requests:\n%s", len(reqs), out)
	}
	want := []struct{ op, outcome string }{
		{"CreateKey", "ok"}, {"Encrypt", "ok"}, {"Decrypt", ae.ErrorCode()}, {"DescribeKey", "NotFoundException"},
	}
	want[2].outcome = "InvalidCiphertextException"
	for i, w := range want {
		r := reqs[i]
		if r.Level != "DEBUG" || r.Service != "kms" || r.Operation != w.op || r.Outcome != w.outcome || r.RequestID == "" || r.Duration == nil || *r.Duration < 0 {
			t.Errorf("request line %d = %+v, want %s %s", i, r, w.op, w.outcome)
		}
	}
	if reqs[1].RequestID != encID {
		t.Errorf("Encrypt's line has request id %q, the response %q", reqs[1].RequestID, encID)
	}
	for _, secret := range []string{string(plaintext), base64.StdEncoding.EncodeToString(plaintext), base64.StdEncoding.EncodeToString(enc.CiphertextBlob)} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a request or response body (%q)", secret)
		}
	}
}
