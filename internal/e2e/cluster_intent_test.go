package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestAuditIntentOfLostNodeRecordedByAnother: on PostgreSQL, node A is
// killed between a CreateKey's commit and its event (the failpoint
// kill-before-record, compiled in by -tags trent_failpoints) and stays
// down; node B, which runs the jobs, records the CreateKey's event in its
// own chain, marked as recovered from A, once the intent is older than
// --audit-orphan-age. The cluster verifies; when A starts again after
// all, neither node writes the event a second time.
func TestAuditIntentOfLostNodeRecordedByAnother(t *testing.T) {
	in := initOnDatabase(t)
	dirA, dirB := t.TempDir()+"/a", t.TempDir()+"/b"
	bin := trentBinary(t)
	a := startTrentArgs(t, []string{"TRENT_FAILPOINT=kill-before-record:CreateKey"}, in.serveArgs(dirA)...)
	b := in.serveAt(t, dirB, "--job-interval", "300ms", "--audit-orphan-age", "2s")
	const desc = "intent of a node that never comes back"
	if _, err := in.rootClient(a).CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(desc)}); err == nil {
		t.Fatal("CreateKey answered: the failpoint did not kill node A (is the binary built with -tags trent_failpoints?)")
	}
	a.wait(t)
	arn := keyWithDescription(t, in.rootClient(b), desc)
	if arn == "" {
		t.Fatal("the key whose CreateKey was killed after its commit does not exist: the test crashed outside the window")
	}
	nodeA, nodeB := readNodeID(t, dirA), readNodeID(t, dirB)

	events := func(dir string) []map[string]any {
		var out []map[string]any
		for _, ev := range auditEvents(t, dir) {
			res, _ := ev["resources"].([]any)
			for _, r := range res {
				if m, _ := r.(map[string]any); ev["eventName"] == "CreateKey" && m["ARN"] == arn {
					out = append(out, ev)
				}
			}
		}
		return out
	}
	// B's job runner claims the intent once it is 2 s old and A's lease
	// is free (at once: A's session ended with its process), writes the
	// event, and deletes the intent once the event is durable. The line
	// is in B's file before its fsync returns, so B is stopped only once
	// the intent is gone: stopped in between, B would leave the intent to
	// its next start (which finds the event and deletes it), and the
	// checks below would see it.
	conn, err := pgx.Connect(t.Context(), in.URL)
	if err != nil {
		t.Fatal(err)
	}
	intentsLeft := func() int {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM audit_intents`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(events(dirB)) == 0 || intentsLeft() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("node B did not record the CreateKey of %s and delete its intent within 60 s of node A's death (%d events, %d intents)",
				arn, len(events(dirB)), intentsLeft())
		}
		time.Sleep(200 * time.Millisecond)
	}
	conn.Close(context.Background())
	if err := b.Stop(t); err != nil {
		t.Fatalf("stop B: %v", err)
	}
	check := func(when string) {
		t.Helper()
		evA, evB := events(dirA), events(dirB)
		if len(evA) != 0 || len(evB) != 1 {
			t.Fatalf("%s: CreateKey events naming the key: %d in A's log, %d in B's; want 0 and 1", when, len(evA), len(evB))
		}
		ev := evB[0]
		extra, _ := ev["additionalEventData"].(map[string]any)
		if extra["trentRecoveredFrom"] != nodeA || ev["trentNode"] != nodeB ||
			!strings.Contains(extra["trentRecovered"].(string), "stopped after this request's change was committed") {
			t.Errorf("%s: B's event = %v, want one in B's chain (%s) recovered from %s", when, ev, nodeB, nodeA)
		}
		if ui, _ := ev["userIdentity"].(map[string]any); ui["accessKeyId"] != in.AccessKeyID || ev["errorCode"] != nil || ev["eventType"] != "AwsApiCall" {
			t.Errorf("%s: B's event = %v, want a successful AwsApiCall by the caller's access key", when, ev)
		}
		conn, err := pgx.Connect(t.Context(), in.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var rows int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM audit_events WHERE event_id = $1`, ev["eventID"]).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("%s: the event table holds %d rows of the event (%v); want 1", when, rows, err)
		}
		var left int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM audit_intents`).Scan(&left); err != nil || left != 0 {
			t.Errorf("%s: %d audit intents left (%v); want none", when, left, err)
		}
		out, err := testcmd.Command(t, bin, "audit", "verify", "--database-url", in.URL, "--data-dir", dirA, "--data-dir", dirB).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verified 2 nodes") {
			t.Fatalf("%s: trent audit verify of the cluster: %v\n%s", when, err, out)
		}
	}
	check("with node A down")

	// A comes back after all: its intent is B's now, recorded and gone.
	a = in.serveAt(t, dirA)
	if err := a.Stop(t); err != nil {
		t.Fatalf("stop A: %v", err)
	}
	check("after node A started again")
}

// readNodeID is the node id a node's data dir keeps.
func readNodeID(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "audit", audit.NodeIDFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
