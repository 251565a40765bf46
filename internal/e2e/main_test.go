// Package e2e tests Trent from outside: over HTTP with the AWS SDK and raw
// requests, through the AWS CLI, and as a built trent binary that is
// stopped, killed and restarted. Tests that need the binary build it once
// per run (trentBinary); those that do not never pay for the build.
package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	// Under TRENT_TEST_BACKEND=postgres testenv.Start puts installations on
	// a throwaway PostgreSQL cluster that lives as long as this binary.
	code := testenv.MainBackend(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if hsm.dir != "" {
		os.RemoveAll(hsm.dir)
	}
	os.Exit(code)
}

// buildTimeout bounds go build, which on a busy machine with a cold cache
// may take longer than testcmd.Timeout.
const buildTimeout = 10 * time.Minute

// stoppedByTestcmd reports whether out is the output of a Go child that
// testcmd stopped for outliving its bound: the runtime prints this line
// before the stacks.
func stoppedByTestcmd(out string) bool { return strings.Contains(out, "SIGQUIT: quit") }

// trentBinary builds cmd/trent once per test run and returns its path.
func trentBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		out, err := testcmd.Command(t, "go", "env", "GOMOD").Output()
		if err != nil {
			binErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			binErr = fmt.Errorf("not inside the trent module (go env GOMOD = %q)", gomod)
			return
		}
		binDir, binErr = os.MkdirTemp("", "trent-e2e-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "trent")
		// trent_failpoints compiles in the test-only failpoints, inert
		// unless TRENT_FAILPOINT names one (audit_intent_test.go).
		build := testcmd.CommandWithin(t, buildTimeout, "go", "build", "-tags", "trent_failpoints", "-o", binPath, "./cmd/trent")
		build.Dir = filepath.Dir(gomod)
		if out, err := build.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/trent: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("build trent: %v", binErr)
	}
	return binPath
}

// randomAccessKey returns a fresh access key pair in the form the dev
// server accepts from TRENT_ROOT_ACCESS_KEY_ID and
// TRENT_ROOT_SECRET_ACCESS_KEY (a 42-character secret).
func randomAccessKey(t testing.TB) (id, secret string) {
	t.Helper()
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "AKIAE2E" + strings.ToUpper(hex.EncodeToString(b[:5])), hex.EncodeToString(b[5:]) + "Secret/Key+1"
}

// trentProc is a trent binary running `serve --dev`.
type trentProc struct {
	URL    string
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited and stderr is drained
	err    error         // cmd.Wait's result, set before done is closed
	mu     sync.Mutex
	stderr bytes.Buffer
	grew   chan struct{} // closed and replaced whenever stderr grows
}

// startTrent starts `trent serve --dev --listen 127.0.0.1:0` with the given
// extra arguments and environment (appended to this process's environment)
// and waits until it reports its address and answers /healthz. The process
// is killed when the test ends if it is still running.
func startTrent(t testing.TB, env []string, args ...string) *trentProc {
	t.Helper()
	return startTrentArgs(t, env, append([]string{"serve", "--dev", "--listen", "127.0.0.1:0", "--log-level", "debug"}, args...)...)
}

// startTrentArgs is startTrent with the whole command line given.
func startTrentArgs(t testing.TB, env []string, args ...string) *trentProc {
	t.Helper()
	p, err := launchTrent(t, trentBinary(t), env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launchTrent is startTrentArgs with the binary given, returning an error
// where startTrentArgs fails the test. Of t it uses only Cleanup, so a
// goroutine other than the test's may call it (t.Fatal from there would
// stop only that goroutine).
func launchTrent(t testing.TB, bin string, env []string, args ...string) (*trentProc, error) {
	cmd := exec.Command(bin, args...)
	// The caller's env wins; a root key in the outer environment does not
	// leak into tests that expect the dev server to make one.
	cmd.Env = append(os.Environ(), "TRENT_ROOT_ACCESS_KEY_ID=", "TRENT_ROOT_SECRET_ACCESS_KEY=")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &trentProc{cmd: cmd, done: make(chan struct{}), grew: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start trent: %w", err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			close(p.grew)
			p.grew = make(chan struct{})
			p.mu.Unlock()
			if _, rest, ok := strings.Cut(line, "serving the AWS KMS API on "); ok && !found {
				found = true
				u, _, _ := strings.Cut(rest, " ")
				urlc <- u
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("trent stderr:\n%s", p.Stderr())
		}
	})
	select {
	case p.URL = <-urlc:
	case <-p.done:
		return nil, fmt.Errorf("trent exited before serving (%v):\n%s", p.err, p.Stderr())
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("trent did not report its address within 30s:\n%s", p.Stderr())
	}
	if strings.HasPrefix(p.URL, "https://") {
		return p, nil // a TLS test checks its own handshakes (tls_test.go)
	}
	resp, err := http.Get(p.URL + "/healthz")
	if err != nil {
		return nil, fmt.Errorf("GET /healthz: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /healthz: %s", resp.Status)
	}
	return p, nil
}

// Stderr returns what the process wrote to stderr so far.
func (p *trentProc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// WaitStderr waits until the process has written a line containing substr
// to stderr and returns everything written so far.
func (p *trentProc) WaitStderr(t testing.TB, substr string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		p.mu.Lock()
		out, grew := p.stderr.String(), p.grew
		p.mu.Unlock()
		if strings.Contains(out, substr) {
			return out
		}
		select {
		case <-grew:
		case <-p.done:
			t.Fatalf("trent exited without writing %q:\n%s", substr, p.Stderr())
		case <-timeout:
			t.Fatalf("trent did not write %q within 30s:\n%s", substr, out)
		}
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *trentProc) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL trent: %v", err)
	}
	p.wait(t)
}

// Stop sends SIGTERM and returns the process's exit error (nil for exit 0).
func (p *trentProc) Stop(t testing.TB) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM trent: %v", err)
	}
	p.wait(t)
	return p.err
}

func (p *trentProc) wait(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("trent did not exit within 30s")
	}
}

// Client returns an SDK client for the process that never retries
// (testenv.Config).
func (p *trentProc) Client(id, secret string) *kms.Client {
	return kms.NewFromConfig(testenv.Config(p.URL, "us-east-1", id, secret, ""))
}

// IAM returns an IAM client for the process that never retries.
func (p *trentProc) IAM(id, secret string) *iam.Client {
	return iam.NewFromConfig(testenv.Config(p.URL, "us-east-1", id, secret, ""))
}

// CloudTrail returns a CloudTrail client for the process that never
// retries.
func (p *trentProc) CloudTrail(id, secret string) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(testenv.Config(p.URL, "us-east-1", id, secret, ""))
}
