package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// boto3Python returns a python3 that imports boto3: the one on PATH, or
// Debian's /usr/bin/python3 (where scripts/test-deps.sh puts
// python3-boto3 when the first has none).
func boto3Python(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if testcmd.Command(t, p, "-c", "import boto3").Run() == nil {
			return p
		}
		tried = append(tried, p)
	}
	testenv.Missing(t, "TRENT_REQUIRE_BOTO3", "no python3 imports boto3 (tried "+strings.Join(tried, ", ")+"; scripts/test-deps.sh installs Debian's python3-boto3)")
	return ""
}

// TestRecipeBoto3 runs docs/clients.md's boto3 script (create a key,
// encrypt, decrypt, generate a data key), first with endpoint_url and then
// with AWS_ENDPOINT_URL_KMS where the installed botocore reads it, and
// decrypts what it printed with the Go SDK.
func TestRecipeBoto3(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	py := boto3Python(t)
	r := startRecipeTrent(t)
	script := recipeFile(t, "boto3_kms.py")
	t.Logf("%s: boto3 %s", py, strings.TrimSpace(r.run(t, nil, py, "-c", "import boto3; print(boto3.__version__)")))

	check := func(t *testing.T, out string) { r.mustPrintKeyAndCiphertext(t, out, "hello from boto3") }

	t.Run("endpoint_url", func(t *testing.T) {
		check(t, r.run(t, nil, py, script, r.URL))
	})
	t.Run("AWS_ENDPOINT_URL_KMS", func(t *testing.T) {
		// botocore 1.31.0 added the endpoint variables with this class;
		// Debian bookworm's python3-botocore (1.29) has neither.
		if testcmd.Command(t, py, "-c", "from botocore.configprovider import ConfiguredEndpointProvider").Run() != nil {
			t.Skip("this botocore predates AWS_ENDPOINT_URL_KMS (botocore 1.31.0)")
		}
		check(t, r.run(t, []string{"AWS_ENDPOINT_URL_KMS=" + r.URL}, py, script))
	})
}
