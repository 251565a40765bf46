package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// archivedLine is what a server logs when it has archived part of its log.
const archivedLine = "audit: archived the older part of the log"

// TestServeArchivesItsAuditLog: `trent serve --audit-archive-to` moves the
// older part of its own audit log on a schedule, as `trent audit archive`
// run from cron does; the server goes on serving, and the log's directory
// and the archive verify as one log. An archive inside the log's directory
// is refused at start.
func TestServeArchivesItsAuditLog(t *testing.T) {
	dir, archive := filepath.Join(t.TempDir(), "data"), filepath.Join(t.TempDir(), "archive")
	id, secret := randomAccessKey(t)
	env := []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}
	create := func(p *trentProc, desc string) {
		t.Helper()
		if _, err := p.Client(id, secret).CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(desc)}); err != nil {
			t.Fatalf("CreateKey %q: %v", desc, err)
		}
	}
	// Runs that each end with a digest, so that the server has digests
	// older than the newest to move, and event files they cover whole (a
	// digest's head stays with its file: see audit.Archive).
	for range 3 {
		p := startTrent(t, env, "--data-dir", dir)
		create(p, "before")
		if err := p.Stop(t); err != nil {
			t.Fatal(err)
		}
	}
	p := startTrent(t, env, "--data-dir", dir, "--audit-archive-to", archive,
		"--audit-archive-older-than", "0s", "--audit-housekeeping-interval", "200ms", "--metrics-listen", "127.0.0.1:0")
	p.WaitStderr(t, archivedLine)
	create(p, "after archiving")
	// Monitoring sees that the task runs and succeeds.
	_, rest, _ := strings.Cut(p.Stderr(), "serving Prometheus metrics on ")
	metricsURL, _, _ := strings.Cut(rest, "\n")
	_, fams, _ := scrape(t, metricsURL, nil)
	task := map[string]string{"task": "archive"}
	if at := value(fams, "trent_audit_housekeeping_last_success_timestamp_seconds", task); at < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("trent_audit_housekeeping_last_success_timestamp_seconds{task=archive} = %v, want the last few seconds", at)
	}
	if n := value(fams, "trent_audit_housekeeping_failures_total", task); n != 0 {
		t.Errorf("trent_audit_housekeeping_failures_total{task=archive} = %v, want 0", n)
	}
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	if moved, _ := filepath.Glob(filepath.Join(archive, "audit-*.jsonl")); len(moved) == 0 {
		t.Fatalf("the server said it archived, but %s holds no event file", archive)
	}
	bin := trentBinary(t)
	if out, err := testcmd.Command(t, bin, "audit", "verify", "--data-dir", dir, "--archive", archive).CombinedOutput(); err != nil || !strings.Contains(string(out), "verified") {
		t.Fatalf("verify with the archive: %v\n%s", err, out)
	}

	out, err := testcmd.Command(t, bin, "serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--audit-archive-to", filepath.Join(dir, "audit", "old")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "inside the log's directory") {
		t.Fatalf("serve with the archive inside the audit directory: %v\n%s; want a refusal at start", err, out)
	}
}

// TestClusterNodeArchivesAndPrunes: `trent audit archive` of a node's
// directory refuses to run without the database and moves what the node
// shipped with it; a node of an installation on PostgreSQL with
// --audit-archive-to and --audit-prune-older-than moves
// its older files and, as the node running the jobs, deletes LookupEvents'
// older rows; its shipper goes on from where it was (nothing unshipped
// was moved), LookupEvents finds a new event, and the cluster verifies
// with the archive.
func TestClusterNodeArchivesAndPrunes(t *testing.T) {
	in := initOnDatabase(t)
	dir, archive := filepath.Join(t.TempDir(), "node"), filepath.Join(t.TempDir(), "archive")
	for range 3 {
		p := in.serveAt(t, dir)
		if _, err := in.rootClient(p).CreateKey(t.Context(), &kms.CreateKeyInput{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Stop(t); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(t.Context(), in.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows := func() (n int, first uint64) {
		t.Helper()
		if err := conn.QueryRow(t.Context(), `SELECT count(*), coalesce(min(seq), 0) FROM audit_events`).Scan(&n, &first); err != nil {
			t.Fatal(err)
		}
		return n, first
	}
	before, _ := rows()

	// From cron, `trent audit archive` of a node's directory needs the
	// database, to move only what the node shipped (here: all of it, the
	// node having stopped cleanly).
	bin := trentBinary(t)
	cli := func(args ...string) (string, error) {
		out, err := testcmd.Command(t, bin, append([]string{"audit", "archive", "--data-dir", dir, "--to", archive, "--older-than", "0s"}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := cli(); err == nil || !strings.Contains(out, "give its --database-url") {
		t.Fatalf("trent audit archive of a node's directory without --database-url: %v\n%s; want a refusal", err, out)
	}
	if out, err := cli("--database-url", in.URL); err != nil || !strings.Contains(out, "moved ") {
		t.Fatalf("trent audit archive --database-url: %v\n%s", err, out)
	}
	// One more run, so that the server has a digest besides the newest
	// to archive by itself.
	p := in.serveAt(t, dir)
	if _, err := in.rootClient(p).CreateKey(t.Context(), &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}

	p = in.serveAt(t, dir, "--audit-archive-to", archive, "--audit-archive-older-than", "0s",
		"--audit-prune-older-than", "1ns", "--audit-housekeeping-interval", "200ms", "--job-interval", "200ms")
	p.WaitStderr(t, archivedLine)
	p.WaitStderr(t, "audit: pruned LookupEvents' rows")
	if moved, _ := filepath.Glob(filepath.Join(archive, "audit-*.jsonl")); len(moved) == 0 {
		t.Fatalf("the node said it archived, but %s holds no event file", archive)
	}
	after, first := rows()
	if after >= before || first < 2 {
		t.Fatalf("audit_events: %d rows from event %d after pruning, %d before; want fewer, from a later event", after, first, before)
	}
	out, err := in.rootClient(p).CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("after pruning")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	ct := p.CloudTrail(in.AccessKeyID, in.SecretAccessKey)
	// Shipped within the shipper's interval (100 ms).
	for deadline := time.Now().Add(30 * time.Second); len(lookupAll(t, ct, &cloudtrail.LookupEventsInput{
		LookupAttributes: attr(cttypes.LookupAttributeKeyResourceName, arn)})) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("LookupEvents did not find the CreateKey made after pruning within 30 s")
		}
	}
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	if s := p.Stderr(); strings.Contains(s, "cannot ship events") {
		t.Fatalf("the node's shipper failed after archiving:\n%s", s)
	}
	vout, err := testcmd.Command(t, bin, "audit", "verify", "--database-url", in.URL, "--data-dir", dir, "--archive", archive).CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "verified 1 node") {
		t.Fatalf("verify the cluster with the archive: %v\n%s", err, vout)
	}
}
