package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestAuditArchiveWhileServing: `trent audit archive` moves the older part
// of a running server's log to another directory; the server goes on
// serving and recording, LookupEvents finds what is left, the server
// starts again on the shortened log, and `trent audit verify --archive`
// checks the two directories as one log, which the log's directory alone
// no longer is.
func TestAuditArchiveWhileServing(t *testing.T) {
	defer catch(t)
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	bin := trentBinary(t)
	ctx := context.Background()
	describe := func(e *testenv.Env, desc string) string {
		k := must(e.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(desc)}))
		return aws.ToString(k.KeyMetadata.Arn)
	}
	// Three runs, each closed with a digest, then a fourth that serves on:
	// the newest digest stays, and what the two before it cover moves.
	var first string
	for run := range 3 {
		e := testenv.Start(t, testenv.WithDataDir(dir))
		arn := describe(e, "run")
		if run == 0 {
			first = arn
		}
		e.Close()
	}
	e := testenv.Start(t, testenv.WithDataDir(dir))
	defer e.Close()
	before := describe(e, "before archiving")

	out, err := testcmd.Command(t, bin, "audit", "archive", "--data-dir", dir, "--to", archive, "--older-than", "0s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "moved ") {
		t.Fatalf("trent audit archive: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	moved, _ := filepath.Glob(filepath.Join(archive, "audit-*.jsonl"))
	if len(moved) == 0 {
		t.Fatalf("nothing moved to %s", archive)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the archive directory: %v %v, want mode 0700", fi, err)
	}

	// Serving and recording go on; LookupEvents finds the events left and
	// not the ones moved.
	after := describe(e, "after archiving")
	ct := cloudTrailClient(e, e.AccessKeyID, e.Secret)
	found := func(arn string) bool {
		evs := lookupAll(t, ct, &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyResourceName, arn)})
		return len(evs) > 0
	}
	if !found(before) || !found(after) {
		t.Fatalf("LookupEvents after archiving: CreateKey of %s found %v, of %s found %v; want both", before, found(before), after, found(after))
	}
	if found(first) {
		t.Errorf("LookupEvents still finds the first run's CreateKey, whose file was moved")
	}
	e.Close()

	// The server starts again on the shortened log.
	e = testenv.Start(t, testenv.WithDataDir(dir))
	describe(e, "after a restart")
	e.Close()

	verify := func(args ...string) (string, error) {
		out, err := testcmd.Command(t, bin, append([]string{"audit", "verify", "--data-dir", dir}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := verify("--archive", archive); err != nil || !strings.Contains(out, "verified") {
		t.Fatalf("verify with the archive: %v\n%s", err, out)
	}
	if out, err := verify(); err == nil || !strings.Contains(out, "--archive") {
		t.Fatalf("verify of the log's directory alone: %v\n%s; want a failure that mentions --archive", err, out)
	}
	if _, err := os.Stat(filepath.Join(app.AuditDir(dir), "audit-public-key.pem")); err != nil {
		t.Fatal(err)
	}
}
