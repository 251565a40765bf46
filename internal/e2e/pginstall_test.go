package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv/pgtest"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// pgInstallation is an installation that `trent init --database-url` made
// in a fresh database of a throwaway PostgreSQL cluster, with a key-file
// seal, as the multi-node tests start from.
type pgInstallation struct {
	Cluster                      *pgtest.Cluster
	URL, SealKey                 string
	AccessKeyID, SecretAccessKey string // the root access key init printed
}

// initOnDatabase runs `trent init --database-url … --format json` with
// args added (e.g. --account) and returns the installation.
func initOnDatabase(t testing.TB, args ...string) *pgInstallation {
	t.Helper()
	c := pgtest.StartForTest(t)
	url, err := c.NewDatabase(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	in := &pgInstallation{Cluster: c, URL: url, SealKey: filepath.Join(t.TempDir(), "seal.key")}
	out, err := testcmd.Command(t, trentBinary(t), append([]string{"init", "--database-url", url,
		"--seal-key-file", in.SealKey, "--format", "json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("trent init --database-url: %v\n%s", err, out)
	}
	var res struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.AccessKeyID == "" {
		t.Fatalf("init --format json: %v: %s", err, out)
	}
	in.AccessKeyID, in.SecretAccessKey = res.AccessKeyID, res.SecretAccessKey
	return in
}

// serve starts a node on the installation, on a loopback port with a data
// dir of its own, with args added.
func (in *pgInstallation) serve(t testing.TB, args ...string) *trentProc {
	t.Helper()
	return in.serveAt(t, filepath.Join(t.TempDir(), "node"), args...)
}

// serveAt is serve with the node's data dir given: a node started again
// on its dir is the same node (its node id, its audit log).
func (in *pgInstallation) serveAt(t testing.TB, dataDir string, args ...string) *trentProc {
	t.Helper()
	return startTrentArgs(t, nil, in.serveArgs(dataDir, args...)...)
}

// serveArgs is the command line of a node serving the installation on
// dataDir, with args added.
func (in *pgInstallation) serveArgs(dataDir string, args ...string) []string {
	return append([]string{"serve", "--seal-key-file", in.SealKey, "--database-url", in.URL,
		"--listen", "127.0.0.1:0", "--data-dir", dataDir}, args...)
}

// rootClient is a KMS client of node p signing as the root access key.
func (in *pgInstallation) rootClient(p *trentProc) *kms.Client {
	return p.Client(in.AccessKeyID, in.SecretAccessKey)
}

// rootIAM is an IAM client of node p signing as the root access key.
func (in *pgInstallation) rootIAM(p *trentProc) *iam.Client {
	return p.IAM(in.AccessKeyID, in.SecretAccessKey)
}
