package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

const (
	// buildTimeout bounds go build, which on a busy machine with a cold
	// cache may take longer than testcmd.Timeout.
	buildTimeout = 10 * time.Minute
	// refuseTimeout bounds a run that must refuse its flags and exit:
	// far longer than a refusal takes on any machine, and short enough
	// that dozens of runs which all started serving instead end well
	// within go test's -timeout, each with its stacks.
	refuseTimeout = time.Minute
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// trentBinary builds this command once per test run, into a temporary
// directory TestMain removes, and returns its path. The tests run the binary because what they check — exit status,
// panics, what is left on disk — is about the process, not a function.
func trentBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "trent-cmd-test-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "trent")
		out, err := testcmd.CommandWithin(t, buildTimeout, "go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// runTrent runs the binary with TMPDIR pointed at an empty directory of its
// own and returns its combined output and that directory. A run that is
// still going after refuseTimeout is stopped and fails the test: it started
// serving instead of refusing its flags.
func runTrent(t *testing.T, env []string, args ...string) (out string, exitCode int, tmp string) {
	t.Helper()
	return runTrentUnset(t, env, nil, args...)
}

// runTrentUnset is runTrent with the variables named in unset removed from
// the environment the binary inherits.
func runTrentUnset(t *testing.T, env, unset []string, args ...string) (out string, exitCode int, tmp string) {
	t.Helper()
	tmp = t.TempDir()
	cmd := testcmd.CommandWithin(t, refuseTimeout, trentBinary(t), args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(unset, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, append([]string{"TMPDIR=" + tmp}, env...)...)
	b, err := cmd.CombinedOutput()
	// A Go child that testcmd stopped prints this before its stacks.
	if bytes.Contains(b, []byte("SIGQUIT: quit")) {
		t.Fatalf("trent %q did not exit by itself (it started instead of refusing):\n%s", args, b)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		exitCode = exit.ExitCode()
	case err != nil:
		t.Fatalf("run trent %q: %v", args, err)
	}
	return string(b), exitCode, tmp
}

// TestFlagsRefusedBeforeAnythingStarts gives every subcommand a bad flag:
// the process must exit non-zero with a message naming the flag, without
// panicking and without leaving anything behind — no dev temp dir, no data
// dir. Before validation ran first, `--job-interval 0` panicked in the job
// runner after the listener was up and left trent-dev-* in TMPDIR, and a
// malformed region or listen address was noticed late or not at all.
func TestFlagsRefusedBeforeAnythingStarts(t *testing.T) {
	t.Parallel()
	keyDir := t.TempDir()
	// PIN files, outside keyDir (which must stay empty).
	pinDir := t.TempDir()
	pinFile, openPINFile := filepath.Join(pinDir, "pin"), filepath.Join(pinDir, "open-pin")
	if err := os.WriteFile(pinFile, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(openPINFile, []byte("1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openPINFile, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"job interval 0", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--job-interval", "0"}, "--job-interval"},
		{"job interval negative", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--job-interval", "-1m"}, "--job-interval"},
		{"listen without port", []string{"serve", "--dev", "--listen", "127.0.0.1"}, "--listen"},
		{"listen port too large", []string{"serve", "--dev", "--listen", "127.0.0.1:99999"}, "--listen"},
		{"listen port by name", []string{"serve", "--dev", "--listen", "127.0.0.1:http"}, "--listen"},
		{"listen bad host", []string{"serve", "--dev", "--listen", "bad host:8080"}, "--listen"},
		{"log level", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--log-level", "loud"}, "--log-level"},
		{"dev region", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--region", "US East"}, "--region"},
		{"dev region without number", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--region", "us-east"}, "--region"},
		{"serve positional", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "extra"}, "unexpected argument"},
		{"dev seal key file", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--seal-key-file", filepath.Join(keyDir, "k")}, "--seal-key-file"},
		{"serve without data dir", []string{"serve", "--listen", "127.0.0.1:0"}, "--data-dir"},
		{"production region", []string{"serve", "--data-dir", "DATA", "--region", "eu-west-1"}, "--region"},
		{"init region", []string{"init", "--data-dir", "DATA", "--seal-key-file", filepath.Join(keyDir, "a"), "--region", "us_east_1"}, "--region"},
		{"init account", []string{"init", "--data-dir", "DATA", "--seal-key-file", filepath.Join(keyDir, "b"), "--account", "12345"}, "--account"},
		{"init positional", []string{"init", "--data-dir", "DATA", "--seal-key-file", filepath.Join(keyDir, "c"), "extra"}, "unexpected argument"},
		{"init without data dir", []string{"init", "--seal-key-file", filepath.Join(keyDir, "d")}, "--data-dir"},
		{"unknown flag", []string{"serve", "--dev", "--jobinterval", "1m"}, "jobinterval"},
		{"init unknown seal", []string{"init", "--data-dir", "DATA", "--seal", "hsm"}, "--seal"},
		{"init shamir with a key file", []string{"init", "--data-dir", "DATA", "--seal", "shamir", "--seal-key-file", filepath.Join(keyDir, "e")}, "--seal-key-file"},
		{"init shamir threshold 1 of 3", []string{"init", "--data-dir", "DATA", "--seal", "shamir", "--key-shares", "3", "--key-threshold", "1"}, "threshold of 1"},
		{"init shamir threshold above shares", []string{"init", "--data-dir", "DATA", "--seal", "shamir", "--key-shares", "3", "--key-threshold", "4"}, "--key-threshold"},
		{"init shamir 256 shares", []string{"init", "--data-dir", "DATA", "--seal", "shamir", "--key-shares", "256", "--key-threshold", "3"}, "--key-shares"},
		{"init keyfile with shares", []string{"init", "--data-dir", "DATA", "--seal-key-file", filepath.Join(keyDir, "f"), "--key-shares", "3"}, "--key-shares"},
		{"init format", []string{"init", "--data-dir", "DATA", "--seal", "shamir", "--format", "yaml"}, "--format"},
		{"init keyfile with a pkcs11 module", []string{"init", "--data-dir", "DATA", "--seal-key-file", filepath.Join(keyDir, "g"), "--pkcs11-module", "/usr/lib/softhsm/libsofthsm2.so"}, "--pkcs11-module applies to --seal pkcs11 only"},
		{"init keyfile with a pkcs11 pin file", []string{"init", "--data-dir", "DATA", "--seal", "keyfile", "--seal-key-file", filepath.Join(keyDir, "h"), "--pkcs11-pin-file", "PIN"}, "--pkcs11-pin-file applies to --seal pkcs11 only"},
		{"init shamir with a pkcs11 token label", []string{"init", "--data-dir", "DATA", "--seal", "shamir", "--pkcs11-token-label", "t"}, "--pkcs11-token-label applies to --seal pkcs11 only"},
		{"init shamir with a pkcs11 key label", []string{"init", "--data-dir", "DATA", "--seal", "shamir", "--pkcs11-key-label", "k"}, "--pkcs11-key-label applies to --seal pkcs11 only"},
		{"init pkcs11 without module", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-token-label", "t", "--pkcs11-key-label", "k", "--pkcs11-pin-file", "PIN"}, "missing --pkcs11-module"},
		{"init pkcs11 without token label", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-module", "/no/such/lib.so", "--pkcs11-key-label", "k", "--pkcs11-pin-file", "PIN"}, "missing --pkcs11-token-label"},
		{"init pkcs11 without key label", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-module", "/no/such/lib.so", "--pkcs11-token-label", "t", "--pkcs11-pin-file", "PIN"}, "missing --pkcs11-key-label"},
		{"init pkcs11 without anything", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11"}, "missing --pkcs11-module, --pkcs11-token-label, --pkcs11-key-label"},
		{"init pkcs11 token label too long", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-module", "/no/such/lib.so", "--pkcs11-token-label", strings.Repeat("t", 33), "--pkcs11-key-label", "k", "--pkcs11-pin-file", "PIN"}, "token label"},
		{"init pkcs11 with a key file", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-module", "/no/such/lib.so", "--pkcs11-token-label", "t", "--pkcs11-key-label", "k", "--seal-key-file", filepath.Join(keyDir, "i")}, "--seal-key-file"},
		{"init pkcs11 with shares", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-module", "/no/such/lib.so", "--pkcs11-token-label", "t", "--pkcs11-key-label", "k", "--key-shares", "3"}, "--key-shares"},
		{"init pkcs11 without a PIN", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-module", "/no/such/lib.so", "--pkcs11-token-label", "t", "--pkcs11-key-label", "k"}, "no PIN given"},
		{"init pkcs11 PIN file missing", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-module", "/no/such/lib.so", "--pkcs11-token-label", "t", "--pkcs11-key-label", "k", "--pkcs11-pin-file", filepath.Join(keyDir, "no-pin")}, "PIN file"},
		{"init pkcs11 PIN file readable by others", []string{"init", "--data-dir", "DATA", "--seal", "pkcs11", "--pkcs11-module", "/no/such/lib.so", "--pkcs11-token-label", "t", "--pkcs11-key-label", "k", "--pkcs11-pin-file", "OPENPIN"}, "chmod 600"},
		{"dev pkcs11 pin file", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--pkcs11-pin-file", "PIN"}, "--pkcs11-pin-file"},
		{"serve key file and pin file", []string{"serve", "--data-dir", "DATA", "--listen", "127.0.0.1:0", "--seal-key-file", filepath.Join(keyDir, "j"), "--pkcs11-pin-file", "PIN"}, "exclude each other"},
		{"key cache max keys 0", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--key-cache-max-keys", "0"}, "--key-cache-max-keys"},
		{"key cache max keys not a number", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--key-cache-max-keys", "many"}, "key-cache-max-keys"},
		{"key cache max bytes 0", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--key-cache-max-bytes", "0"}, "--key-cache-max-bytes"},
		{"key cache max bytes negative", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--key-cache-max-bytes", "-1MiB"}, "--key-cache-max-bytes"},
		{"key cache max bytes unknown unit", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--key-cache-max-bytes", "64MB"}, "--key-cache-max-bytes"},
		{"key cache max bytes overflow", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--key-cache-max-bytes", "9999999999999GiB"}, "--key-cache-max-bytes"},
		{"key cache idle negative", []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--key-cache-idle", "-1s"}, "--key-cache-idle"},
		{"key cache idle not a duration", []string{"serve", "--data-dir", "DATA", "--listen", "127.0.0.1:0", "--key-cache-idle", "10"}, "key-cache-idle"},
		{"database timeout zero", []string{"serve", "--data-dir", "DATA", "--listen", "127.0.0.1:0", "--database-timeout", "0s"}, "--database-timeout must be positive"},
		{"database timeout not a duration", []string{"serve", "--data-dir", "DATA", "--listen", "127.0.0.1:0", "--database-timeout", "5"}, "database-timeout"},
		{"unseal without endpoint", []string{"unseal"}, "--endpoint"},
		{"unseal bad endpoint", []string{"unseal", "--endpoint", "127.0.0.1:8080"}, "--endpoint"},
		{"status format", []string{"status", "--endpoint", "http://127.0.0.1:1", "--format", "yaml"}, "--format"},
		{"seal without credentials", []string{"seal", "--endpoint", "http://127.0.0.1:1"}, "AWS_ACCESS_KEY_ID"},
		{"rotate-root without credentials", []string{"rotate-root", "--endpoint", "http://127.0.0.1:1"}, "AWS_ACCESS_KEY_ID"},
		{"seal positional", []string{"seal", "--endpoint", "http://127.0.0.1:1", "extra"}, "unexpected argument"},
		{"audit verify empty database url", []string{"audit", "verify", "--database-url", ""}, "--database-url is empty"},
		{"audit public-key empty database url", []string{"audit", "public-key", "--database-url="}, "--database-url is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// DATA stands for a data dir that must not come into being.
			data := filepath.Join(t.TempDir(), "data")
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				switch a {
				case "PIN":
					args[i] = pinFile
				case "OPENPIN":
					args[i] = openPINFile
				default:
					args[i] = strings.ReplaceAll(a, "DATA", data)
				}
			}
			// TRENT_PKCS11_PIN unset: the cases above give the PIN by file
			// or not at all.
			env := []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}
			out, code, tmp := runTrentUnset(t, env, []string{"TRENT_PKCS11_PIN"}, args...)
			if code == 0 {
				t.Fatalf("trent %q exited 0:\n%s", args, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("trent %q: output does not name %q:\n%s", args, tt.want, out)
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("trent %q panicked:\n%s", args, out)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("trent %q left %v in TMPDIR", args, left)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("trent %q created its data dir (%v)", args, err)
			}
		})
	}
	if left, _ := os.ReadDir(keyDir); len(left) != 0 {
		t.Errorf("a refused command created a key file: %v", left)
	}
}

// TestInitHardensProcess runs init where memory cannot be locked — a
// memlock limit it may not lift, without CAP_IPC_LOCK or CAP_SYS_RESOURCE
// — and checks that it tried (seal.HardenProcess warns, as serve does):
// init holds the root key and the root access key's secret in memory.
func TestInitHardensProcess(t *testing.T) {
	prlimit, err1 := exec.LookPath("prlimit")
	setpriv, err2 := exec.LookPath("setpriv")
	if err1 != nil || err2 != nil {
		t.Skip("needs prlimit and setpriv (util-linux)")
	}
	dir := t.TempDir()
	cmd := testcmd.Command(t, prlimit, "--memlock=65536:65536", setpriv, "--bounding-set", "-ipc_lock,-sys_resource",
		trentBinary(t), "init", "--data-dir", filepath.Join(dir, "data"), "--seal-key-file", filepath.Join(dir, "seal.key"))
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "setpriv:") || strings.Contains(string(out), "prlimit:") {
		t.Skipf("cannot drop capabilities or set limits here: %s", out)
	}
	if err != nil {
		t.Fatalf("trent init: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "could not fully protect key material in memory") {
		t.Fatalf("init under an unliftable memlock limit did not try to lock memory:\n%s", out)
	}
}

// TestServeRequireMlock runs serve where memory cannot be locked, as
// TestInitHardensProcess does: with --require-mlock it refuses to start,
// naming the flag, before it listens or makes its dev data dir.
func TestServeRequireMlock(t *testing.T) {
	prlimit, err1 := exec.LookPath("prlimit")
	setpriv, err2 := exec.LookPath("setpriv")
	if err1 != nil || err2 != nil {
		t.Skip("needs prlimit and setpriv (util-linux)")
	}
	tmp := t.TempDir()
	// A serve that does not end by itself started instead of refusing:
	// testcmd stops it and fails the test.
	cmd := testcmd.CommandWithin(t, refuseTimeout, prlimit, "--memlock=65536:65536", setpriv, "--bounding-set", "-ipc_lock,-sys_resource",
		trentBinary(t), "serve", "--dev", "--listen", "127.0.0.1:0", "--require-mlock")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "setpriv:") || strings.Contains(string(out), "prlimit:") {
		t.Skipf("cannot drop capabilities or set limits here: %s", out)
	}
	if err == nil || !strings.Contains(string(out), "--require-mlock") || !strings.Contains(string(out), "CAP_IPC_LOCK") {
		t.Fatalf("serve --require-mlock without lockable memory: err %v, output:\n%s", err, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("serve --require-mlock left %v in TMPDIR", left)
	}
}

// TestTakePINEnv: the PIN is read from TRENT_PKCS11_PIN once and the
// variable is gone from the environment afterwards, Go's and C's alike
// (what a child process or the PKCS#11 library would see).
func TestTakePINEnv(t *testing.T) {
	t.Setenv("TRENT_PKCS11_PIN", "1234-secret")
	lookup := takePINEnv()
	if pin, ok := lookup("TRENT_PKCS11_PIN"); !ok || pin != "1234-secret" {
		t.Fatalf("lookup = %q, %v; want the PIN", pin, ok)
	}
	if _, ok := lookup("HOME"); ok {
		t.Fatal("lookup answers for another variable")
	}
	if _, ok := os.LookupEnv("TRENT_PKCS11_PIN"); ok {
		t.Fatal("TRENT_PKCS11_PIN is still in the environment")
	}
	out, err := testcmd.Command(t, "env").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "1234-secret") {
		t.Fatal("a child process inherits TRENT_PKCS11_PIN")
	}
}
