package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv"
)

var okLine = regexp.MustCompile(`(?m)^requests: +(\d+) ok, (\d+) errors in `)

// runBench runs the bench command and returns the successes and errors it
// reported.
func runBench(t *testing.T, args ...string) (ok, failed int, out string) {
	t.Helper()
	var stdout bytes.Buffer
	err := bench(args, &stdout)
	out = stdout.String()
	if err != nil {
		t.Fatalf("bench %q: %v\n%s", args, err, out)
	}
	m := okLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no result line in the output:\n%s", out)
	}
	ok, _ = strconv.Atoi(m[1])
	failed, _ = strconv.Atoi(m[2])
	return ok, failed, out
}

func TestBench(t *testing.T) {
	e := testenv.Start(t)
	common := []string{"--endpoint", e.URL, "--access-key-id", e.AccessKeyID, "--secret", e.Secret,
		"--region", e.Region, "--duration", "1s", "--connections", "4", "--max-requests", "500"}

	t.Run("new key", func(t *testing.T) {
		ok, failed, out := runBench(t, common...)
		if ok == 0 || failed != 0 {
			t.Fatalf("%d ok, %d errors; want some and none:\n%s", ok, failed, out)
		}
		if !strings.Contains(out, "created key ") || !strings.Contains(out, "req/s") || !strings.Contains(out, "p99 ") {
			t.Fatalf("output lacks the key, the rate or the latency:\n%s", out)
		}
	})

	key, err := e.KMS.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"Decrypt", "GenerateDataKey"} {
		t.Run(op, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", e.AccessKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", e.Secret)
			ok, failed, out := runBench(t, "--endpoint", e.URL, "--op", op, "--key-id", aws.ToString(key.KeyMetadata.KeyId),
				"--duration", "1s", "--connections", "2", "--max-requests", "200")
			if ok == 0 || failed != 0 {
				t.Fatalf("%d ok, %d errors; want some and none:\n%s", ok, failed, out)
			}
			if strings.Contains(out, "created key") {
				t.Fatalf("created a key though --key-id was given:\n%s", out)
			}
		})
	}

	t.Run("CreateKey", func(t *testing.T) {
		args := append([]string{"--op", "CreateKey"}, common...)
		ok, failed, out := runBench(t, args...)
		if ok == 0 || failed != 0 || strings.Contains(out, "created key ") {
			t.Fatalf("%d ok, %d errors; want some and none, and no key made beforehand:\n%s", ok, failed, out)
		}
	})

	for _, spread := range [][]string{{"--spread", "cycle"}, {"--spread", "hot", "--hot", "3"}} {
		t.Run("keys "+spread[1], func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "keys")
			args := append(append([]string{"--keys", "6", "--keys-file", file}, spread...), common...)
			ok, failed, out := runBench(t, args...)
			if ok == 0 || failed != 0 || !strings.Contains(out, "created 6 keys") {
				t.Fatalf("%d ok, %d errors; want some and none, after creating 6 keys:\n%s", ok, failed, out)
			}
			ids, err := os.ReadFile(file)
			if err != nil || len(strings.Fields(string(ids))) != 6 {
				t.Fatalf("key file %q, %v; want 6 ids", ids, err)
			}
			// The file names the keys that were made.
			for _, id := range strings.Fields(string(ids)) {
				if _, err := e.KMS.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)}); err != nil {
					t.Fatalf("DescribeKey %s: %v", id, err)
				}
			}
			// A second run reuses them.
			_, _, out = runBench(t, args...)
			if !strings.Contains(out, "using 6 keys from") {
				t.Fatalf("the second run did not reuse the key file:\n%s", out)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		args := append([]string(nil), common...)
		args[5] = "not-the-secret"
		var stdout bytes.Buffer
		err := bench(args, &stdout)
		if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
			t.Fatalf("bench with a wrong secret = %v\n%s", err, stdout.String())
		}
	})
}

func TestBenchRefuses(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--endpoint", "http://192.0.2.10:8080"}, "not a loopback address"},
		{[]string{"--endpoint", "http://192.0.2.10:8080"}, "--allow-remote"},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--op", "Sign"}, "--op must be one of"},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--connections", "0"}, "--connections"},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--duration", "0s"}, "--duration"},
		{[]string{}, "--endpoint is required"},
		{[]string{"--endpoint", "https://127.0.0.1:8443"}, "only http://"},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--region", "US"}, "--region"},
	} {
		var stdout bytes.Buffer
		err := bench(tt.args, &stdout)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("bench %q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if err := bench([]string{"--endpoint", "http://127.0.0.1:1"}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("bench without a secret = %v", err)
	}
}

// TestBenchWrkScript writes wrk scripts for the scale runs and checks that
// what they send is what was asked: one signed request per key, in the
// order --spread gives, each answered 200 — sent once over a plain TCP
// connection, then replayed by the real wrk.
func TestBenchWrkScript(t *testing.T) {
	e := testenv.Start(t)
	common := []string{"--endpoint", e.URL, "--access-key-id", e.AccessKeyID, "--secret", e.Secret, "--region", e.Region}
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "keys")

	tests := []struct {
		name  string
		args  []string
		count int // requests in the script
		keys  int // of the first this many keys
	}{
		{"cycle", []string{"--keys", "3", "--spread", "cycle"}, 3, 3},
		{"hot", []string{"--keys", "3", "--spread", "hot", "--hot", "2"}, 2, 2},
		{"one key", nil, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".lua")
			args := append(append([]string{"--wrk-script", script}, common...), tc.args...)
			if tc.keys > 0 {
				args = append(args, "--keys-file", keysFile)
			}
			var stdout bytes.Buffer
			if err := bench(args, &stdout); err != nil {
				t.Fatalf("bench %q: %v\n%s", args, err, stdout.String())
			}
			if !strings.Contains(stdout.String(), "wrote "+script) || strings.Contains(stdout.String(), "req/s") {
				t.Fatalf("bench wrote no script, or ran a load:\n%s", stdout.String())
			}
			reqs := readScriptRequests(t, script+".requests")
			if len(reqs) != tc.count {
				t.Fatalf("%d requests in the script, want %d", len(reqs), tc.count)
			}
			var ids []string
			if tc.keys > 0 {
				b, err := os.ReadFile(keysFile)
				if err != nil {
					t.Fatal(err)
				}
				ids = strings.Fields(string(b))[:tc.keys]
			}
			seen := map[string]bool{}
			for i, r := range reqs {
				// cycle sends the keys in the file's order.
				if tc.name == "cycle" && !bytes.Contains(r, []byte(`"KeyId":"`+ids[i]+`"`)) {
					t.Fatalf("request %d does not name key %d, %s:\n%s", i, i, ids[i], r)
				}
				if !bytes.Contains(r, []byte("\r\nX-Amz-Target: TrentService.Encrypt\r\n")) || !bytes.Contains(r, []byte("\r\nAuthorization: AWS4-HMAC-SHA256 ")) {
					t.Fatalf("not a signed Encrypt request:\n%s", r)
				}
				for _, id := range ids {
					if bytes.Contains(r, []byte(`"KeyId":"`+id+`"`)) {
						seen[id] = true
					}
				}
				if status := sendRaw(t, e.URL, r); status != 200 {
					t.Fatalf("the server answered %d to:\n%s", status, r)
				}
			}
			if len(seen) != len(ids) {
				t.Fatalf("the requests name %d of the keys %v, want each once", len(seen), ids)
			}
			runWrk(t, script, e.URL)
		})
	}

	t.Run("CreateKey refused", func(t *testing.T) {
		args := append([]string{"--wrk-script", filepath.Join(dir, "c.lua"), "--op", "CreateKey"}, common...)
		if err := bench(args, io.Discard); err == nil || !strings.Contains(err.Error(), "not CreateKey") {
			t.Fatalf("bench --wrk-script --op CreateKey = %v", err)
		}
	})
}

// readScriptRequests parses a --wrk-script requests file: each request as
// its length, a newline and its bytes.
func readScriptRequests(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var reqs [][]byte
	for len(data) > 0 {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		n, err := strconv.Atoi(string(line))
		if !ok || err != nil || n > len(rest) {
			t.Fatalf("bad length line %.40q in %s", line, path)
		}
		reqs = append(reqs, rest[:n])
		data = rest[n:]
	}
	return reqs
}

// sendRaw sends one request's bytes as they are on a new connection and
// returns the response's status.
func sendRaw(t *testing.T, endpoint string, req []byte) int {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// runWrk replays script with the real wrk for a second. Without wrk the
// check is skipped, unless TRENT_REQUIRE_WRK is set (as make test sets it).
func runWrk(t *testing.T, script, endpoint string) {
	t.Helper()
	bin := testenv.RequireTool(t, "TRENT_REQUIRE_WRK", "wrk", "Debian package wrk; scripts/test-deps.sh installs it")
	out, err := exec.Command(bin, "-t1", "-c2", "-d1s", "-s", script, endpoint).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^\s*(\d+) requests in `).FindSubmatch(out)
	if m == nil || string(m[1]) == "0" || !bytes.Contains(out, []byte("requests not 2xx: 0 ")) {
		t.Fatalf("wrk sent no request, or some were not answered 2xx:\n%s", out)
	}
}
