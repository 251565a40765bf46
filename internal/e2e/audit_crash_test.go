package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestAuditSurvivesKill: under concurrent load the server is killed with
// SIGKILL; every request that got a 200 has its event in the log after a
// restart, and the log verifies across the crash.
func TestAuditSurvivesKill(t *testing.T) {
	n := newCrashNode(t)
	key, err := n.kms.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("audit crash")})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		acked []string // request ids answered with success
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				out, err := n.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")})
				if err != nil {
					continue // the server is gone, or going
				}
				if id, ok := awsmw.GetRequestIDMetadata(out.ResultMetadata); ok {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	// Let load build up; the kill lands mid-flight.
	loadAtLeast(700*time.Millisecond, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 10 })
	n.proc.Kill(t)
	cancel()
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d requests acknowledged before the kill: the test saw no load", len(acked))
	}

	n.start(t) // Open cuts any torn tail and writes a digest
	if _, err := n.kms.ListKeys(t.Context(), &kms.ListKeysInput{}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if err := n.proc.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	logged := map[string]bool{}
	for _, ev := range auditEvents(t, n.dir) {
		if id, ok := ev["requestID"].(string); ok {
			logged[id] = true
		}
	}
	var missing int
	for _, id := range acked {
		if !logged[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged requests have no event after the crash", missing, len(acked))
	}
	out, err := testcmd.Command(t, trentBinary(t), "audit", "verify", "--data-dir", n.dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verified") {
		t.Fatalf("trent audit verify after the crash: %v\n%s", err, out)
	}
	t.Logf("%d acknowledged requests, all logged; %s", len(acked), strings.TrimSpace(string(out)))
}
