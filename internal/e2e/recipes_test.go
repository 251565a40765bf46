package e2e

// The recipes of docs/clients.md, run as written against a real `trent
// serve --dev`. Each client is found (or installed by scripts/test-deps.sh);
// when it is missing the test skips, unless its TRENT_REQUIRE_* variable is
// set (as `make test` sets it), when it fails and says how to install it.
// The scripts the docs show live in testdata/recipes, and
// TestRecipesDocsShowTestdata keeps the two the same.

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// recipeTrent is a dev server with a known root key and an isolated client
// environment for it: AWS_* variables for that key and region, HOME and the
// AWS config files in a directory of the test's own, and nothing of the
// user's AWS setup, so a client that ignored its endpoint setting would try
// real AWS and fail (this machine has no route there) rather than pass.
type recipeTrent struct {
	*trentProc
	id, secret string
	dir        string   // the clients' working directory and HOME
	env        []string // the clients' environment, without an endpoint
}

// skipUnderRace skips a recipe test under -race: Trent and the clients run
// as other processes, none built with the race detector, so `make race`
// would run them a second time and find nothing new; `make unit` runs them.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceBuild {
		t.Skip("the recipes run other processes, none built with -race; `make unit` runs them")
	}
}

func startRecipeTrent(t *testing.T) *recipeTrent {
	t.Helper()
	id, secret := randomAccessKey(t)
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}, "--data-dir", data)
	dir := t.TempDir()
	env := append(awsClientEnv(t, dir, id, secret, "HOME=", "SOPS_"),
		"HOME="+dir, "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1")
	return &recipeTrent{trentProc: srv, id: id, secret: secret, dir: dir, env: env}
}

// kms is an SDK client for the server, to check what a recipe did.
func (r *recipeTrent) kms() *kms.Client { return r.Client(r.id, r.secret) }

// run runs a client command in the recipe directory with the recipe
// environment plus extra, and fails the test if it exits non-zero.
func (r *recipeTrent) run(t *testing.T, extra []string, name string, args ...string) string {
	t.Helper()
	out, errOut, err := r.try(t, extra, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nenv: %q\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, extra, out, errOut)
	}
	return out
}

// try is run that returns the error instead of failing.
func (r *recipeTrent) try(t *testing.T, extra []string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := testcmd.Command(t, name, args...)
	cmd.Dir = r.dir
	cmd.Env = append(append([]string(nil), r.env...), extra...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// mustDecrypt decrypts a base64 ciphertext a recipe printed with the Go SDK
// and checks the plaintext, which shows the recipe's ciphertext came from
// this server's key.
func (r *recipeTrent) mustDecrypt(t *testing.T, ctB64 string, encCtx map[string]string, want []byte) {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ctB64))
	if err != nil {
		t.Fatalf("ciphertext %q is not base64: %v", ctB64, err)
	}
	out, err := r.kms().Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: ct, EncryptionContext: encCtx})
	if err != nil {
		t.Fatalf("Decrypt of the recipe's ciphertext: %v", err)
	}
	if !bytes.Equal(out.Plaintext, want) {
		t.Fatalf("recipe's ciphertext decrypts to %q, want %q", out.Plaintext, want)
	}
}

// mustHaveKey checks that the key a recipe made is on the server.
func (r *recipeTrent) mustHaveKey(t *testing.T, keyID string) *kms.DescribeKeyOutput {
	t.Helper()
	out, err := r.kms().DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(strings.TrimSpace(keyID))})
	if err != nil {
		t.Fatalf("DescribeKey %q (made by the recipe): %v", keyID, err)
	}
	return out
}

// mustPrintKeyAndCiphertext checks what the SDK recipes print: the ARN of
// a key on the server, then a base64 ciphertext that decrypts to
// plaintext under the encryption context app=recipe.
func (r *recipeTrent) mustPrintKeyAndCiphertext(t *testing.T, out, plaintext string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("the recipe printed %q, want a key ARN and a ciphertext", out)
	}
	r.mustHaveKey(t, lines[0])
	r.mustDecrypt(t, lines[1], map[string]string{"app": "recipe"}, []byte(plaintext))
}

// recipesCache is where scripts/test-deps.sh installs the recipes' npm
// packages and Go-built tools: $TRENT_RECIPES_CACHE, or trent-recipes
// in the user's cache directory.
func recipesCache(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("TRENT_RECIPES_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for the recipes' tools: %v", err)
	}
	return filepath.Join(d, "trent-recipes")
}

// recipeFile returns the path of a testdata/recipes file.
func recipeFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "recipes", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)`)

// atLeast reports whether the first x.y.z in s is at least want.
func atLeast(s string, want [3]int) bool {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	for i := range 3 {
		n, _ := strconv.Atoi(m[i+1])
		if n != want[i] {
			return n > want[i]
		}
	}
	return true
}

func TestRecipesAtLeast(t *testing.T) {
	for _, c := range []struct {
		s    string
		want [3]int
		ok   bool
	}{
		{"aws-cli/1.45.11 Python/3.11.7", [3]int{1, 29, 0}, true},
		{"aws-cli/1.29.0", [3]int{1, 29, 0}, true},
		{"aws-cli/1.28.9", [3]int{1, 29, 0}, false},
		{"aws-cli/2.9.19 Python/3.11.2", [3]int{2, 13, 0}, false},
		{"aws-cli/2.13.0", [3]int{2, 13, 0}, true},
		{"no version", [3]int{0, 0, 1}, false},
	} {
		if got := atLeast(c.s, c.want); got != c.ok {
			t.Errorf("atLeast(%q, %v) = %v, want %v", c.s, c.want, got, c.ok)
		}
	}
}

// TestRecipesDocsShowTestdata checks that docs/clients.md shows every
// script the recipe tests run exactly as it is in testdata/recipes, so the
// docs cannot drift from what is tested.
func TestRecipesDocsShowTestdata(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "clients.md"))
	if err != nil {
		t.Fatal(err)
	}
	shown := []string{
		"boto3_kms.py",
		"node/kms.mjs",
		"node/esdk.mjs",
		"gosdk/main.go",
		"sops/.sops.yaml",
		"tofu/provider/main.tf",
		"tofu/state/main.tf",
	}
	for _, name := range shown {
		b, err := os.ReadFile(recipeFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, b) {
			t.Errorf("docs/clients.md does not show testdata/recipes/%s as it is", name)
		}
	}
}

// mustB64 decodes base64 a client printed.
func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("%q is not base64: %v", s, err)
	}
	return b
}
