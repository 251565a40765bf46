package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestAuditIntentRecoversKilledCreateKey kills the server (SIGKILL, from
// the failpoint kill-before-record, compiled in by -tags trent_failpoints)
// after a CreateKey's change is committed and before its event is
// written: the window the store's audit intents close. After a restart the
// key exists, the log holds exactly one CreateKey event naming it — the
// one recovered from its intent — a second restart adds none, and
// `trent audit verify` passes.
func TestAuditIntentRecoversKilledCreateKey(t *testing.T) {
	id, secret := randomAccessKey(t)
	root := []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}
	n := &crashNode{dir: t.TempDir() + "/data", id: id, secret: secret,
		env: append(root, "TRENT_FAILPOINT=kill-before-record:CreateKey")}
	n.start(t)
	desc := "intent " + id
	_, err := n.kms.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(desc)})
	if err == nil {
		t.Fatal("CreateKey answered: the failpoint did not kill the server (is the binary built with -tags trent_failpoints?)")
	}
	n.proc.wait(t)

	n.env = root
	n.start(t)
	arn := keyWithDescription(t, n.kms, desc)
	if arn == "" {
		t.Fatal("the key whose CreateKey was killed after its commit does not exist: the test crashed outside the window")
	}
	check := func(when string) {
		t.Helper()
		var found []map[string]any
		for _, ev := range auditEvents(t, n.dir) {
			if ev["eventName"] != "CreateKey" {
				continue
			}
			res, _ := ev["resources"].([]any)
			for _, r := range res {
				if m, _ := r.(map[string]any); m["ARN"] == arn {
					found = append(found, ev)
				}
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s: %d CreateKey events name %s, want exactly 1 (the one recovered from its intent)", when, len(found), arn)
		}
		ev := found[0]
		extra, _ := ev["additionalEventData"].(map[string]any)
		if note, _ := extra["trentRecovered"].(string); !strings.Contains(note, "stopped after this request's change was committed") {
			t.Errorf("%s: the recovered event's additionalEventData = %v, want the recovery note", when, ev["additionalEventData"])
		}
		if ev["errorCode"] != nil || ev["responseElements"] != nil || ev["eventType"] != "AwsApiCall" {
			t.Errorf("%s: recovered event = %v, want a successful AwsApiCall with null responseElements", when, ev)
		}
		if ui, _ := ev["userIdentity"].(map[string]any); ui["accessKeyId"] != id {
			t.Errorf("%s: recovered event's userIdentity = %v, want the caller's access key %s", when, ui, id)
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
	out, err := exec.Command(trentBinary(t), "audit", "verify", "--data-dir", n.dir).CombinedOutput()
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
