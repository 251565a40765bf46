package e2e

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/seal/shamir"
	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// runCLI runs the trent binary with stdin and extra environment and
// returns its stdout, stderr and exit code.
func runCLI(t *testing.T, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := testcmd.Command(t, trentBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("trent %q still running after 60s", args)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// jsonKeys decodes out as exactly one JSON object and returns it and its
// sorted keys.
func jsonKeys(t *testing.T, out string) (map[string]any, []string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value:\n%s", out)
	}
	return m, slices.Sorted(maps.Keys(m))
}

type shamirInit struct {
	Account, ID, Secret string
	Shares              []string
}

func initShamirDir(t *testing.T, dir string, n, k string) shamirInit {
	t.Helper()
	out, stderr, code := runCLI(t, "", nil, "init", "--data-dir", dir, "--seal", "shamir", "--key-shares", n, "--key-threshold", k, "--format", "json")
	if code != 0 {
		t.Fatalf("trent init --seal shamir: exit %d\n%s%s", code, out, stderr)
	}
	m, keys := jsonKeys(t, out)
	if want := []string{"access_key_id", "account_id", "secret_access_key", "unseal_shares"}; !slices.Equal(keys, want) {
		t.Fatalf("init --format json keys %v, want %v", keys, want)
	}
	r := shamirInit{Account: m["account_id"].(string), ID: m["access_key_id"].(string), Secret: m["secret_access_key"].(string)}
	for _, s := range m["unseal_shares"].([]any) {
		r.Shares = append(r.Shares, s.(string))
	}
	return r
}

// status runs `trent status --format json`, checks its keys, and returns
// it.
func sealStatus(t *testing.T, url string) map[string]any {
	t.Helper()
	out, stderr, code := runCLI(t, "", nil, "status", "--endpoint", url, "--format", "json")
	if code != 0 {
		t.Fatalf("trent status: exit %d\n%s%s", code, out, stderr)
	}
	m, keys := jsonKeys(t, out)
	if want := []string{"fips140", "progress", "seal_type", "sealed", "threshold", "version"}; !slices.Equal(keys, want) {
		t.Fatalf("status --format json keys %v, want %v", keys, want)
	}
	return m
}

func unseal(t *testing.T, url, share string) (out, stderr string, code int) {
	t.Helper()
	return runCLI(t, share+"\n", nil, "unseal", "--endpoint", url)
}

func clients(url, id, secret string) (*kms.Client, *iam.Client, *sts.Client) {
	cfg := testenv.Config(url, "us-east-1", id, secret, "")
	return kms.NewFromConfig(cfg), iam.NewFromConfig(cfg), sts.NewFromConfig(cfg)
}

// checkSealed: every KMS, IAM and STS request is a 503 saying Trent is
// sealed; the process is alive but not ready.
func checkSealed(t *testing.T, p *trentProc, id, secret string) {
	t.Helper()
	k, i, s := clients(p.URL, id, secret)
	ctx := t.Context()
	for _, tt := range []struct {
		api, code string
		call      func() error
	}{
		{"KMS ListKeys", "ServiceUnavailableException", func() error { _, err := k.ListKeys(ctx, &kms.ListKeysInput{}); return err }},
		{"IAM ListUsers", "ServiceUnavailable", func() error { _, err := i.ListUsers(ctx, &iam.ListUsersInput{}); return err }},
		{"STS GetCallerIdentity", "ServiceUnavailable", func() error { _, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); return err }},
	} {
		err := tt.call()
		var ae smithy.APIError
		var re *awshttp.ResponseError
		if !errors.As(err, &ae) || ae.ErrorCode() != tt.code || !strings.Contains(ae.ErrorMessage(), "sealed") ||
			!errors.As(err, &re) || re.HTTPStatusCode() != 503 {
			t.Fatalf("%s while sealed: %v; want %s, 503, a message saying sealed", tt.api, err, tt.code)
		}
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s while sealed = %d, want %d", path, resp.StatusCode, want)
		}
		if path == "/readyz" && strings.TrimSpace(string(body)) != `{"ready":false,"checks":{"audit":false,"store":true,"unsealed":false}}` {
			t.Fatalf("/readyz body %s", body)
		}
	}
}

func wantProgress(t *testing.T, url string, sealed bool, progress int) {
	t.Helper()
	st := sealStatus(t, url)
	if st["sealed"] != sealed || st["progress"] != float64(progress) || st["threshold"] != float64(3) || st["seal_type"] != "shamir" {
		t.Fatalf("status %v, want sealed=%v progress %d of 3", st, sealed, progress)
	}
}

// TestShamirSealLifecycle: init 5/3, served sealed, unsealed share by
// share (refusing corrupt, duplicate and foreign shares), data intact
// across a restart, reset, seal by the root only, sealed again.
func TestShamirSealLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	in := initShamirDir(t, dir, "5", "3")
	if len(in.Shares) != 5 || len(slices.Compact(slices.Sorted(slices.Values(in.Shares)))) != 5 {
		t.Fatalf("shares: %d (distinct?)", len(in.Shares))
	}
	serve := []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}
	p := startTrentArgs(t, nil, serve...)
	p.WaitStderr(t, "sealed")
	checkSealed(t, p, in.ID, in.Secret)
	wantProgress(t, p.URL, true, 0)

	for i, s := range in.Shares[:2] {
		out, stderr, code := unseal(t, p.URL, s)
		if code != 0 || !strings.Contains(out, "Share accepted") {
			t.Fatalf("unseal share %d: exit %d\n%s%s", i+1, code, out, stderr)
		}
	}
	wantProgress(t, p.URL, true, 2) // two shares are not enough
	checkSealed(t, p, in.ID, in.Secret)

	other := initShamirDir(t, filepath.Join(t.TempDir(), "other"), "5", "3")
	corrupt := []byte(in.Shares[2])
	corrupt[50] = map[bool]byte{true: 'b', false: 'a'}[corrupt[50] == 'a']
	for _, tt := range []struct{ name, share, want string }{
		{"corrupt", string(corrupt), "corrupt share: its checksum does not match"},
		{"truncated", in.Shares[2][:60], "corrupt share"},
		{"duplicate", in.Shares[0], "share 1 was already submitted"},
		{"another installation's", other.Shares[2], "not one of this installation's shares"},
	} {
		out, stderr, code := unseal(t, p.URL, tt.share)
		if code == 0 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "2 of 3") {
			t.Fatalf("unseal with a %s share: exit %d, want a refusal with %q and the progress:\n%s%s", tt.name, code, tt.want, out, stderr)
		}
		if strings.Contains(p.Stderr(), tt.share[20:50]) {
			t.Fatalf("the server logged a share")
		}
	}
	wantProgress(t, p.URL, true, 2)

	out, stderr, code := unseal(t, p.URL, in.Shares[2])
	if code != 0 || !strings.Contains(out, "Trent is unsealed") {
		t.Fatalf("third share: exit %d\n%s%s", code, out, stderr)
	}
	wantProgress(t, p.URL, false, 0)
	if resp, err := http.Get(p.URL + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz unsealed: %v %v", err, resp)
	}
	k, _, _ := clients(p.URL, in.ID, in.Secret)
	ctx := t.Context()
	ck, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("before restart")})
	if err != nil {
		t.Fatalf("CreateKey unsealed: %v", err)
	}
	enc, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("kept across seals")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(t); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}

	// Restarted: sealed again; shares reset; other shares unseal.
	p = startTrentArgs(t, nil, serve...)
	checkSealed(t, p, in.ID, in.Secret)
	for _, s := range []string{in.Shares[4], in.Shares[3]} {
		if out, stderr, code := unseal(t, p.URL, s); code != 0 {
			t.Fatalf("unseal: exit %d\n%s%s", code, out, stderr)
		}
	}
	wantProgress(t, p.URL, true, 2)
	if out, stderr, code := runCLI(t, "", nil, "unseal", "--endpoint", p.URL, "--reset"); code != 0 || !strings.Contains(out, "0 of 3") {
		t.Fatalf("unseal --reset: exit %d\n%s%s", code, out, stderr)
	}
	wantProgress(t, p.URL, true, 0)
	for _, s := range []string{in.Shares[0], in.Shares[2], in.Shares[4]} {
		if out, stderr, code := unseal(t, p.URL, s); code != 0 {
			t.Fatalf("unseal: exit %d\n%s%s", code, out, stderr)
		}
	}
	wantProgress(t, p.URL, false, 0)
	k, i, _ := clients(p.URL, in.ID, in.Secret)
	dec, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "kept across seals" {
		t.Fatalf("Decrypt after restart and unseal: %v", err)
	}

	// seal: refused to anyone but the first account's root.
	if _, err := i.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ops")}); err != nil {
		t.Fatal(err)
	}
	if _, err := i.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("ops"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
		t.Fatal(err)
	}
	ak, err := i.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ops")})
	if err != nil {
		t.Fatal(err)
	}
	env := func(id, secret string) []string {
		return []string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_SESSION_TOKEN="}
	}
	out, stderr, code = runCLI(t, "", env(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey), "seal", "--endpoint", p.URL)
	if code == 0 || !strings.Contains(stderr, "only the root user of account "+in.Account) {
		t.Fatalf("seal by an administrator user: exit %d\n%s%s", code, out, stderr)
	}
	wrong := "x" + in.Secret[1:]
	if wrong == in.Secret {
		wrong = "y" + in.Secret[1:] // the secret began with x: change it all the same
	}
	out, stderr, code = runCLI(t, "", env(in.ID, wrong), "seal", "--endpoint", p.URL)
	if code == 0 {
		t.Fatalf("seal with a wrong secret: exit 0\n%s%s", out, stderr)
	}
	wantProgress(t, p.URL, false, 0)
	out, stderr, code = runCLI(t, "", env(in.ID, in.Secret), "seal", "--endpoint", p.URL)
	if code != 0 || !strings.Contains(out, "sealed") {
		t.Fatalf("seal by the root: exit %d\n%s%s", code, out, stderr)
	}
	wantProgress(t, p.URL, true, 0)
	checkSealed(t, p, in.ID, in.Secret)
	if !strings.Contains(p.Stderr(), "dropped from memory") {
		t.Fatal("the server did not log the seal")
	}
	out, _, code = runCLI(t, "", nil, "status", "--endpoint", p.URL)
	if code != 0 || !strings.Contains(out, "Sealed:      true") || !strings.Contains(out, "Progress:    0 of 3") {
		t.Fatalf("trent status:\n%s", out)
	}
	// And unseals again, with the data there.
	for _, s := range in.Shares[1:4] {
		if out, stderr, code := unseal(t, p.URL, s); code != 0 {
			t.Fatalf("unseal: exit %d\n%s%s", code, out, stderr)
		}
	}
	if dec, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "kept across seals" {
		t.Fatalf("Decrypt after seal and unseal: %v", err)
	}
}

// TestKeyFileSealStatus: a key-file installation prints the same JSON keys
// (without shares), starts unsealed, can be sealed, and unseals only by a
// restart.
func TestKeyFileSealStatus(t *testing.T) {
	dir, key := filepath.Join(t.TempDir(), "data"), filepath.Join(t.TempDir(), "seal.key")
	out, stderr, code := runCLI(t, "", nil, "init", "--data-dir", dir, "--seal-key-file", key, "--format", "json")
	if code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, stderr)
	}
	m, keys := jsonKeys(t, out)
	if want := []string{"access_key_id", "account_id", "secret_access_key"}; !slices.Equal(keys, want) {
		t.Fatalf("init --format json keys %v, want %v", keys, want)
	}
	id, secret := m["access_key_id"].(string), m["secret_access_key"].(string)
	serve := []string{"serve", "--data-dir", dir, "--seal-key-file", key, "--listen", "127.0.0.1:0"}
	p := startTrentArgs(t, nil, serve...)
	if st := sealStatus(t, p.URL); st["sealed"] != false || st["seal_type"] != "keyfile" || st["threshold"] != float64(0) {
		t.Fatalf("status %v", st)
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_SESSION_TOKEN="}
	if out, stderr, code := runCLI(t, "", env, "seal", "--endpoint", p.URL); code != 0 {
		t.Fatalf("seal: exit %d\n%s%s", code, out, stderr)
	}
	checkSealed(t, p, id, secret)
	if out, stderr, code := unseal(t, p.URL, "00"); code == 0 || !strings.Contains(stderr, "restart") {
		t.Fatalf("unseal of a sealed key-file installation: exit %d\n%s%s", code, out, stderr)
	}
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	p = startTrentArgs(t, nil, serve...)
	k, _, _ := clients(p.URL, id, secret)
	if _, err := k.ListKeys(t.Context(), &kms.ListKeysInput{}); err != nil {
		t.Fatalf("ListKeys after restart: %v", err)
	}
}

// TestInitFailsMidway: an init that fails or dies partway leaves nothing
// that blocks running it again.
func TestInitFailsMidway(t *testing.T) {
	t.Run("unwritable key file path", func(t *testing.T) {
		base := t.TempDir()
		dir := filepath.Join(base, "data")
		blocker := filepath.Join(base, "not-a-dir")
		if err := os.WriteFile(blocker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		out, stderr, code := runCLI(t, "", nil, "init", "--data-dir", dir, "--seal-key-file", filepath.Join(blocker, "seal.key"))
		if code == 0 {
			t.Fatalf("init with a key file under a file: exit 0\n%s", out)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the failed init left its data dir (%v):\n%s", err, stderr)
		}
		key := filepath.Join(base, "seal.key")
		if out, stderr, code := runCLI(t, "", nil, "init", "--data-dir", dir, "--seal-key-file", key); code != 0 {
			t.Fatalf("rerun: exit %d\n%s%s", code, out, stderr)
		}
	})
	// Killed by SIGPIPE when it writes the credentials to a closed pipe:
	// after the store and key file are staged, before anything commits.
	for _, sealType := range []string{"keyfile", "shamir"} {
		t.Run("killed while printing/"+sealType, func(t *testing.T) {
			base := t.TempDir()
			dir, key := filepath.Join(base, "data"), filepath.Join(base, "seal.key")
			args := []string{"init", "--data-dir", dir, "--seal", sealType}
			if sealType == "keyfile" {
				args = append(args, "--seal-key-file", key)
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			cmd := testcmd.Command(t, trentBinary(t), args...)
			cmd.Stdout = w
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err = cmd.Run()
			w.Close()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGPIPE {
				t.Fatalf("init writing to a closed pipe: %v, want death by SIGPIPE\n%s", err, stderr.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "trent.db")); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("an init that died before printing committed an installation")
			}
			if _, err := os.Stat(key); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("an init that died before printing put its key file in place")
			}
			out, errOut, code := runCLI(t, "", nil, append(args, "--format", "json")...)
			if code != 0 {
				t.Fatalf("rerun after the crash: exit %d\n%s%s", code, out, errOut)
			}
			m, _ := jsonKeys(t, out)
			serve := []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}
			if sealType == "keyfile" {
				serve = append(serve, "--seal-key-file", key)
			}
			p := startTrentArgs(t, nil, serve...)
			if sealType == "shamir" {
				for _, s := range m["unseal_shares"].([]any)[:3] {
					if out, stderr, code := unseal(t, p.URL, s.(string)); code != 0 {
						t.Fatalf("unseal: exit %d\n%s%s", code, out, stderr)
					}
				}
			}
			k, _, _ := clients(p.URL, m["access_key_id"].(string), m["secret_access_key"].(string))
			if _, err := k.CreateKey(t.Context(), &kms.CreateKeyInput{}); err != nil {
				t.Fatalf("CreateKey on the rerun's installation: %v", err)
			}
			left, _ := filepath.Glob(filepath.Join(base, "*", "*.init*"))
			if more, _ := filepath.Glob(filepath.Join(base, "*.init*")); len(left)+len(more) != 0 {
				t.Fatalf("staging files left: %v %v", left, more)
			}
		})
	}
}

// TestNothingPlaintextAtRestShamir: a shamir installation, served,
// unsealed, used and killed, holds neither its shares nor the unseal key
// they make, nor — as any seal — the root key, backing keys or secrets.
func TestNothingPlaintextAtRestShamir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	in := initShamirDir(t, dir, "3", "2")
	p := startTrentArgs(t, nil, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	for _, s := range in.Shares[:2] {
		if out, stderr, code := unseal(t, p.URL, s); code != 0 {
			t.Fatalf("unseal: exit %d\n%s%s", code, out, stderr)
		}
	}
	plaintexts, marker := atRestWorkload(t, p.Client(in.ID, in.Secret))
	p.Kill(t)

	files := snapshotDir(t, dir)
	// The unseal key, rebuilt from the shares, and every share's bytes.
	var parsed []*shamir.Share
	for _, text := range in.Shares {
		sh, err := shamir.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, sh)
		raw, _ := hex.DecodeString(text)
		plaintexts = append(plaintexts, raw, raw[11:43]) // the whole share, and its y
	}
	kek, err := shamir.Combine(parsed)
	if err != nil {
		t.Fatal(err)
	}
	plaintexts = append(plaintexts, kek)
	s := readStoredSecretsWith(t, dir, func(setting func(string) []byte, sealed []byte) ([]byte, error) {
		cfg, err := seal.ParseShamirConfig(setting("seal.shamir"))
		if err != nil {
			return nil, err
		}
		u := seal.NewShareUnsealer(cfg)
		for _, text := range in.Shares[1:] {
			if err := u.Add(text); err != nil {
				return nil, err
			}
		}
		return u.Unseal(sealed)
	})
	if got := s.accessKeys[in.ID]; string(got) != in.Secret {
		t.Fatalf("the store's secret of access key %s is not the one init printed", in.ID)
	}
	checkNothingAtRest(t, files, s, plaintexts, marker, 3+0+1+2, 1)
}
