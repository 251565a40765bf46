package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestRecipeGoSDK builds docs/clients.md's aws-sdk-go-v2 program (a module
// of its own in testdata/recipes/gosdk, loading its configuration with
// config.LoadDefaultConfig as programs for AWS do) and runs it with
// BaseEndpoint set from -endpoint, and with AWS_ENDPOINT_URL_KMS alone.
func TestRecipeGoSDK(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	r := startRecipeTrent(t)
	bin := filepath.Join(t.TempDir(), "gosdk")
	build := testcmd.CommandWithin(t, buildTimeout, "go", "build", "-o", bin, ".")
	build.Dir = recipeFile(t, "gosdk")
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/recipes/gosdk: %v\n%s", err, out)
	}
	check := func(t *testing.T, out string) { r.mustPrintKeyAndCiphertext(t, out, "hello from go") }
	t.Run("BaseEndpoint", func(t *testing.T) {
		check(t, r.run(t, nil, bin, "-endpoint", r.URL))
	})
	t.Run("AWS_ENDPOINT_URL_KMS", func(t *testing.T) {
		check(t, r.run(t, []string{"AWS_ENDPOINT_URL_KMS=" + r.URL}, bin))
	})
}
