package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/seal/pkcs11"
	"github.com/trent-kms/trent/internal/store/sqlite"
	"github.com/trent-kms/trent/internal/testenv/softhsm"
)

// The pkcs11 tests run Trent against a real SoftHSM2 whose token directory
// is made for this test binary. The library reads SOFTHSM2_CONF once per
// process, and the at-rest test loads it in this process to unseal the
// root key as an attacker holding the token and PIN could: so the
// configuration is one per test binary, set in this process's environment
// before anything loads the library (and so inherited by every trent
// process the tests start). Each test that only runs trent initializes a
// token of its own in it. SoftHSM2 lists the tokens that existed when it
// was initialized, so a test that loads the library here uses the one
// token made with the configuration (inProcess), with keys of its own.
var hsm struct {
	once               sync.Once
	dir                string // removed by TestMain
	module, util, conf string
	inProcess          hsmToken
	problem            string
	broken             bool // installed but not working: fail, never skip
}

// needSoftHSM returns the SoftHSM2 module and softhsm2-util, skipping t
// with the reason when SoftHSM2 is not installed, unless
// TRENT_REQUIRE_SOFTHSM is set.
func needSoftHSM(t *testing.T) (module, util string) {
	t.Helper()
	hsm.once.Do(func() {
		var problem string
		hsm.module, hsm.util, problem = softhsm.Find()
		if problem != "" {
			hsm.problem = problem
			return
		}
		dir, err := os.MkdirTemp("", "trent-e2e-softhsm-")
		if err == nil {
			hsm.dir = dir
			hsm.conf, err = softhsm.WriteConf(dir)
		}
		if err == nil {
			err = os.Setenv(softhsm.ConfEnv, hsm.conf)
		}
		if err == nil {
			hsm.inProcess, err = makeToken(hsm.module, hsm.util, dir)
		}
		if err != nil {
			hsm.problem, hsm.broken = err.Error(), true
		}
	})
	switch {
	case hsm.problem == "":
		return hsm.module, hsm.util
	case hsm.broken:
		t.Fatalf("SoftHSM2 is installed but does not work: %s", hsm.problem)
	case os.Getenv(softhsm.RequireEnv) != "":
		t.Fatalf("%s is set but SoftHSM2 is not available: %s", softhsm.RequireEnv, hsm.problem)
	}
	t.Skipf("SoftHSM2 is not available: %s (set %s=1 to fail instead)", hsm.problem, softhsm.RequireEnv)
	return "", ""
}

// hsmToken is a token made for one test.
type hsmToken struct {
	module, util, label, pin, soPIN string
	pinFile                         string // holds pin, mode 0600
}

// newToken makes a token for t in the test binary's configuration.
func newToken(t *testing.T) hsmToken {
	t.Helper()
	module, util := needSoftHSM(t)
	tok, err := makeToken(module, util, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// makeToken initializes a token with a random label and PINs, and writes
// its PIN file in dir.
func makeToken(module, util, dir string) (hsmToken, error) {
	tok := hsmToken{module: module, util: util,
		label: "e2e-" + rand.Text()[:12], pin: "pin-" + rand.Text(), soPIN: "so-" + rand.Text()}
	if err := softhsm.InitToken(util, hsm.conf, tok.label, tok.soPIN, tok.pin); err != nil {
		return hsmToken{}, err
	}
	tok.pinFile = filepath.Join(dir, "pin-"+tok.label)
	if err := os.WriteFile(tok.pinFile, []byte(tok.pin+"\n"), 0o600); err != nil {
		return hsmToken{}, err
	}
	return tok, nil
}

func (tok hsmToken) initArgs(dir, keyLabel string) []string {
	return []string{"init", "--data-dir", dir, "--seal", "pkcs11", "--pkcs11-module", tok.module,
		"--pkcs11-token-label", tok.label, "--pkcs11-key-label", keyLabel}
}

type pkcs11Init struct{ Account, ID, Secret string }

// initPKCS11Dir runs `trent init --seal pkcs11 --format json`, with the PIN
// from the PIN file, and checks the object it prints.
func initPKCS11Dir(t *testing.T, tok hsmToken, dir, keyLabel string) pkcs11Init {
	t.Helper()
	args := append(tok.initArgs(dir, keyLabel), "--pkcs11-pin-file", tok.pinFile, "--format", "json")
	out, stderr, code := runCLI(t, "", []string{pkcs11.PINEnv + "="}, args...)
	if code == 0 {
		t.Fatalf("init with TRENT_PKCS11_PIN set (empty) and a PIN file: exit 0, want a refusal of two PINs\n%s", out)
	}
	if !strings.Contains(stderr, "give one") {
		t.Fatalf("init with two PIN sources: %s", stderr)
	}
	out, stderr, code = runCLI(t, "", nil, args...)
	if code != 0 {
		t.Fatalf("trent init --seal pkcs11: exit %d\n%s%s", code, out, stderr)
	}
	m, keys := jsonKeys(t, out)
	if want := []string{"access_key_id", "account_id", "secret_access_key"}; !slices.Equal(keys, want) {
		t.Fatalf("init --format json keys %v, want %v", keys, want)
	}
	return pkcs11Init{Account: m["account_id"].(string), ID: m["access_key_id"].(string), Secret: m["secret_access_key"].(string)}
}

// serveFails runs `trent serve` on dir, which must refuse to start: exit
// non-zero with a line naming want, and no panic.
func serveFails(t *testing.T, env []string, dir, want string, args ...string) {
	t.Helper()
	args = append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, args...)
	out, stderr, code := runCLI(t, "", env, args...)
	if code == 0 || code == 2 {
		t.Fatalf("trent %q: exit %d, want 1\n%s%s", args, code, out, stderr)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("trent %q crashed:\n%s", args, stderr)
	}
	var line string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "trent serve: ") {
			line = l
		}
	}
	if !strings.Contains(line, want) {
		t.Fatalf("trent %q: want one line `trent serve: …%s…`, got:\n%s", args, want, stderr)
	}
	if strings.Contains(out, "serving") || strings.Contains(stderr, "serving the AWS KMS API") {
		t.Fatalf("trent %q served:\n%s", args, stderr)
	}
}

// TestPKCS11SealLifecycle: init with the pkcs11 seal, serve (PIN from the
// environment), create a key and encrypt, stop, serve again (PIN from a
// file), decrypt. Then each way the token can fail at start: a wrong PIN,
// no PIN, the module gone, the token gone, the key gone — each a one-line
// error and a non-zero exit.
func TestPKCS11SealLifecycle(t *testing.T) {
	tok := newToken(t)
	dir := filepath.Join(t.TempDir(), "data")
	in := initPKCS11Dir(t, tok, dir, "trent-root")

	serve := []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}
	p := startTrentArgs(t, []string{pkcs11.PINEnv + "=" + tok.pin}, serve...)
	if st := sealStatus(t, p.URL); st["sealed"] != false || st["seal_type"] != "pkcs11" || st["threshold"] != float64(0) {
		t.Fatalf("status %v, want unsealed pkcs11", st)
	}
	if !strings.Contains(p.Stderr(), "seal pkcs11") {
		t.Fatalf("serve does not name its seal:\n%s", p.Stderr())
	}
	k := p.Client(in.ID, in.Secret)
	ctx := t.Context()
	ck, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("sealed by an HSM")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	enc, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("kept across restarts")})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if err := p.Stop(t); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}

	p = startTrentArgs(t, nil, append(serve, "--pkcs11-pin-file", tok.pinFile)...)
	k = p.Client(in.ID, in.Secret)
	dec, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "kept across restarts" {
		t.Fatalf("Decrypt after restart: %v", err)
	}
	if err := p.Stop(t); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}

	// Offline tools open the installation as serve does.
	out, stderr, code := runCLI(t, "", nil, "account", "create", "--data-dir", dir, "--pkcs11-pin-file", tok.pinFile, "--format", "json")
	if code != 0 {
		t.Fatalf("account create on a pkcs11 installation: exit %d\n%s%s", code, out, stderr)
	}
	if m, _ := jsonKeys(t, out); m["account_id"] == in.Account {
		t.Fatalf("account create: %v", m)
	}

	env := func(pin string) []string { return []string{pkcs11.PINEnv + "=" + pin} }
	serveFails(t, env("not-"+tok.pin), dir, "wrong PIN")
	serveFails(t, nil, dir, "no PIN given")
	// An empty TRENT_PKCS11_PIN counts as given: two PINs are refused.
	serveFails(t, env(""), dir, "give one", "--pkcs11-pin-file", tok.pinFile)
	serveFails(t, nil, dir, "does not apply", "--seal-key-file", filepath.Join(t.TempDir(), "seal.key"))

	// The library gone (as after an uninstall): the settings name a
	// module that is not there.
	moved := withStoredModule(t, dir, "/nonexistent/libsofthsm2.so")
	serveFails(t, env(tok.pin), dir, "cannot load PKCS#11 module")
	withStoredModule(t, dir, moved)

	// The token gone, then back under its label but empty: no key.
	if err := softhsm.DeleteToken(tok.util, hsm.conf, tok.label); err != nil {
		t.Fatal(err)
	}
	serveFails(t, env(tok.pin), dir, `no token labelled "`+tok.label+`"`)
	if err := softhsm.InitToken(tok.util, hsm.conf, tok.label, tok.soPIN, tok.pin); err != nil {
		t.Fatal(err)
	}
	serveFails(t, env(tok.pin), dir, `no secret key labelled "trent-root"`)
}

// withStoredModule rewrites the module path in the pkcs11 settings of the
// data dir and returns the one it replaced.
func withStoredModule(t *testing.T, dir, module string) (was string) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := st.GetSetting(t.Context(), "seal.pkcs11")
	if err != nil {
		t.Fatal(err)
	}
	s, err := pkcs11.ParseSettings(b)
	if err != nil {
		t.Fatal(err)
	}
	was, s.Module = s.Module, module
	if b, err = s.Marshal(); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSetting(t.Context(), "seal.pkcs11", b); err != nil {
		t.Fatal(err)
	}
	return was
}

// TestPKCS11InitFailsClearly: init with a token label no token has, or a
// wrong PIN, says so in one line and leaves no data dir; a rerun with the
// right label and PIN succeeds, and a second installation on the same
// token key works beside the first.
func TestPKCS11InitFailsClearly(t *testing.T) {
	tok := newToken(t)
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	for _, tt := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"missing token", []string{"init", "--data-dir", dir, "--seal", "pkcs11", "--pkcs11-module", tok.module,
			"--pkcs11-token-label", "no-such-token", "--pkcs11-key-label", "k"}, []string{pkcs11.PINEnv + "=" + tok.pin}, `no token labelled "no-such-token"`},
		{"wrong PIN", tok.initArgs(dir, "k"), []string{pkcs11.PINEnv + "=not-" + tok.pin}, "wrong PIN"},
		{"missing module", []string{"init", "--data-dir", dir, "--seal", "pkcs11", "--pkcs11-module", filepath.Join(base, "libnothing.so"),
			"--pkcs11-token-label", tok.label, "--pkcs11-key-label", "k"}, []string{pkcs11.PINEnv + "=" + tok.pin}, "cannot load PKCS#11 module"},
	} {
		out, stderr, code := runCLI(t, "", tt.env, tt.args...)
		if code == 0 || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Fatalf("%s: exit %d, want one line naming %q:\n%s%s", tt.name, code, tt.want, out, stderr)
		}
		if strings.Contains(stderr, "panic") || strings.Contains(stderr, tok.pin) {
			t.Fatalf("%s: crashed or quoted the PIN:\n%s", tt.name, stderr)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%s: the failed init left its data dir (%v)", tt.name, err)
		}
	}
	in := initPKCS11Dir(t, tok, dir, "k")
	other := filepath.Join(base, "other")
	in2 := initPKCS11Dir(t, tok, other, "k") // the key exists now: used, not made again
	for _, d := range []struct {
		dir string
		in  pkcs11Init
	}{{dir, in}, {other, in2}} {
		p := startTrentArgs(t, []string{pkcs11.PINEnv + "=" + tok.pin}, "serve", "--data-dir", d.dir, "--listen", "127.0.0.1:0")
		if _, err := p.Client(d.in.ID, d.in.Secret).ListKeys(t.Context(), &kms.ListKeysInput{}); err != nil {
			t.Fatalf("ListKeys on %s: %v", d.dir, err)
		}
		p.Kill(t)
	}
}

// TestNothingPlaintextAtRestPKCS11: a pkcs11 installation, served, used
// and killed, holds neither the PIN nor — as any seal — the root key,
// backing keys or secrets. The root key is recovered for the scan from
// the token, in this process.
func TestNothingPlaintextAtRestPKCS11(t *testing.T) {
	needSoftHSM(t)
	tok := hsm.inProcess
	keyLabel := "atrest-" + rand.Text()
	dir := filepath.Join(t.TempDir(), "data")
	in := initPKCS11Dir(t, tok, dir, keyLabel)
	p := startTrentArgs(t, []string{pkcs11.PINEnv + "=" + tok.pin}, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	plaintexts, marker := atRestWorkload(t, p.Client(in.ID, in.Secret))
	p.Kill(t)

	files := snapshotDir(t, dir)
	plaintexts = append(plaintexts, []byte(tok.pin), []byte(tok.soPIN))
	s := readStoredSecretsWith(t, dir, func(setting func(string) []byte, sealed []byte) ([]byte, error) {
		settings, err := pkcs11.ParseSettings(setting("seal.pkcs11"))
		if err != nil {
			return nil, err
		}
		if settings.TokenLabel != tok.label || settings.KeyLabel != keyLabel {
			t.Fatalf("stored settings %+v", settings)
		}
		prov, err := pkcs11.Open(settings, tok.pin)
		if err != nil {
			return nil, err
		}
		defer prov.Close()
		return prov.Unseal(sealed)
	})
	if got := s.accessKeys[in.ID]; string(got) != in.Secret {
		t.Fatalf("the store's secret of access key %s is not the one init printed", in.ID)
	}
	checkNothingAtRest(t, files, s, plaintexts, marker, 3+0+1+2, 1)
}
