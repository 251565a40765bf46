package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestAuditIntentRecoversKilledCreateKey kills the server (SIGKILL, from
// the failpoint kill-before-record, compiled in by -tags trent_failpoints)
// after a state-changing request's change is committed and before its
// event is written: the window the store's audit intents close. After a
// restart the change exists, the log holds exactly one event of the
// request — the one recovered from its intent — a second restart adds
// none, and `trent audit verify` passes. CreateKey goes through the
// group-committed key write, CreateUser through IAM's shared write.
func TestAuditIntentRecoversKilledCreateKey(t *testing.T) {
	for _, c := range []struct {
		op string
		// do makes the change; exists returns the resource the event
		// names ("" if none) once it finds the change, or fails.
		do     func(t *testing.T, n *crashNode, tag string) error
		exists func(t *testing.T, n *crashNode, tag string) (resource string)
	}{
		{"CreateKey",
			func(t *testing.T, n *crashNode, tag string) error {
				_, err := n.kms.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(tag)})
				return err
			},
			func(t *testing.T, n *crashNode, tag string) string {
				arn := keyWithDescription(t, n.kms, tag)
				if arn == "" {
					t.Fatal("the key whose CreateKey was killed after its commit does not exist: the test crashed outside the window")
				}
				return arn
			}},
		{"CreateUser",
			func(t *testing.T, n *crashNode, tag string) error {
				_, err := n.proc.IAM(n.id, n.secret).CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String(tag)})
				return err
			},
			func(t *testing.T, n *crashNode, tag string) string {
				if _, err := n.proc.IAM(n.id, n.secret).GetUser(t.Context(), &iam.GetUserInput{UserName: aws.String(tag)}); err != nil {
					t.Fatalf("the user whose CreateUser was killed after its commit: %v", err)
				}
				return ""
			}},
	} {
		t.Run(c.op, func(t *testing.T) { testIntentRecovery(t, c.op, c.do, c.exists) })
	}
}

func testIntentRecovery(t *testing.T, op string, do func(*testing.T, *crashNode, string) error, exists func(*testing.T, *crashNode, string) string) {
	id, secret := randomAccessKey(t)
	root := []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}
	n := &crashNode{dir: t.TempDir() + "/data", id: id, secret: secret,
		env: append(root, "TRENT_FAILPOINT=kill-before-record:"+op)}
	n.start(t)
	tag := "intent-" + strings.ToLower(id[len(id)-10:])
	if err := do(t, n, tag); err == nil {
		t.Fatalf("%s answered: the failpoint did not kill the server (is the binary built with -tags trent_failpoints?)", op)
	}
	n.proc.wait(t)

	n.env = root
	n.start(t)
	resource := exists(t, n, tag)
	check := func(when string) {
		t.Helper()
		var found []map[string]any
		for _, ev := range auditEvents(t, n.dir) {
			if ev["eventName"] != op {
				continue
			}
			if resource == "" {
				found = append(found, ev)
				continue
			}
			res, _ := ev["resources"].([]any)
			for _, r := range res {
				if m, _ := r.(map[string]any); m["ARN"] == resource {
					found = append(found, ev)
				}
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s: %d %s events (naming %q), want exactly 1 (the one recovered from its intent)", when, len(found), op, resource)
		}
		ev := found[0]
		extra, _ := ev["additionalEventData"].(map[string]any)
		if note, _ := extra["trentRecovered"].(string); !strings.Contains(note, "stopped after this request's change was committed") {
			t.Errorf("%s: the recovered event's additionalEventData = %v, want the recovery note", when, ev["additionalEventData"])
		}
		if ev["errorCode"] != nil || ev["responseElements"] != nil || ev["eventType"] != "AwsApiCall" {
			t.Errorf("%s: recovered event = %v, want a successful AwsApiCall with null responseElements", when, ev)
		}
		if ui, _ := ev["userIdentity"].(map[string]any); ui["accessKeyId"] != n.id {
			t.Errorf("%s: recovered event's userIdentity = %v, want the caller's access key %s", when, ui, n.id)
		}
	}
	if err := n.proc.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	check("after the first restart")

	n.start(t) // the intent is gone, or its event is found: nothing is written twice
	if err := n.proc.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	check("after a second restart")
	out, err := testcmd.Command(t, trentBinary(t), "audit", "verify", "--data-dir", n.dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verified") {
		t.Fatalf("trent audit verify after the recovery: %v\n%s", err, out)
	}
}

// keyWithDescription returns the ARN of the key described desc, or "".
func keyWithDescription(t *testing.T, c *kms.Client, desc string) string {
	t.Helper()
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		for _, k := range page.Keys {
			out, err := c.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				t.Fatalf("DescribeKey: %v", err)
			}
			if aws.ToString(out.KeyMetadata.Description) == desc {
				return aws.ToString(out.KeyMetadata.Arn)
			}
		}
	}
	return ""
}

// TestAuditIntentRecoveredByItsNode: on PostgreSQL, node A is killed
// between a CreateKey's commit and its event; node B, restarted
// meanwhile, leaves A's intent alone; A, restarted, writes the event into
// its own log, once, and that log verifies.
func TestAuditIntentRecoveredByItsNode(t *testing.T) {
	in := initOnDatabase(t)
	dirA, dirB := t.TempDir()+"/a", t.TempDir()+"/b"
	serveA := func(env ...string) *trentProc {
		return startTrentArgs(t, env, "serve", "--seal-key-file", in.SealKey, "--database-url", in.URL,
			"--listen", "127.0.0.1:0", "--data-dir", dirA)
	}
	a := serveA("TRENT_FAILPOINT=kill-before-record:CreateKey")
	b := in.serveAt(t, dirB)
	const desc = "intent on node A"
	if _, err := in.rootClient(a).CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(desc)}); err == nil {
		t.Fatal("CreateKey answered: the failpoint did not kill node A")
	}
	a.wait(t)
	arn := keyWithDescription(t, in.rootClient(b), desc)
	if arn == "" {
		t.Fatal("the key whose CreateKey was killed after its commit does not exist")
	}
	if err := b.Stop(t); err != nil {
		t.Fatalf("stop B: %v", err)
	}
	b = in.serveAt(t, dirB) // B's start recovers B's intents only
	if err := b.Stop(t); err != nil {
		t.Fatalf("stop B: %v", err)
	}
	a = serveA()
	if err := a.Stop(t); err != nil {
		t.Fatalf("stop A: %v", err)
	}
	count := func(dir string) int {
		n := 0
		for _, ev := range auditEvents(t, dir) {
			res, _ := ev["resources"].([]any)
			for _, r := range res {
				if m, _ := r.(map[string]any); ev["eventName"] == "CreateKey" && m["ARN"] == arn {
					n++
				}
			}
		}
		return n
	}
	if nA, nB := count(dirA), count(dirB); nA != 1 || nB != 0 {
		t.Fatalf("CreateKey events naming the key: %d in node A's log, %d in node B's; want 1 and 0", nA, nB)
	}
	out, err := testcmd.Command(t, trentBinary(t), "audit", "verify", "--data-dir", dirA).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verified") {
		t.Fatalf("trent audit verify of node A's log: %v\n%s", err, out)
	}
}
