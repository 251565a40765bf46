package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestKeyLastUsageSurvivesRestartAndKill: GetKeyLastUsage lives in the
// store, written in batches behind the audit log. After a clean restart
// every key reports its last acknowledged Encrypt; after SIGKILL under
// load — uses acknowledged but not yet in the store — the restarted
// server reads them back from the log's tail, and every key reports its
// last acknowledged Encrypt or one after it that was durable but never
// answered.
func TestKeyLastUsageSurvivesRestartAndKill(t *testing.T) {
	n := newCrashNode(t)
	const workers = 8
	keys := make([]string, workers)
	for i := range keys {
		k, err := n.kms.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(fmt.Sprint("last use ", i))})
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = aws.ToString(k.KeyMetadata.KeyId)
	}
	// Each worker uses its own key, one request at a time, so that a
	// key's last acknowledged use is known.
	load := func(d time.Duration, stop func()) [][]string {
		acked := make([][]string, workers)
		var answered [workers]atomic.Bool // acked[g] is not empty
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for g := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					out, err := n.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keys[g]), Plaintext: []byte("x")})
					if err != nil {
						continue // the server is gone, or going
					}
					id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
					acked[g] = append(acked[g], id)
					answered[g].Store(true)
				}
			}()
		}
		loadAtLeast(d, func() bool {
			for g := range answered {
				if !answered[g].Load() {
					return false
				}
			}
			return true
		})
		stop()
		cancel()
		wg.Wait()
		return acked
	}
	lastUses := func() []string {
		ids := make([]string, workers)
		for g, k := range keys {
			out, err := n.kms.GetKeyLastUsage(t.Context(), &kms.GetKeyLastUsageInput{KeyId: aws.String(k)})
			if err != nil {
				t.Fatalf("GetKeyLastUsage: %v", err)
			}
			if u := out.KeyLastUsage; u != nil && u.Operation == "Encrypt" {
				ids[g] = aws.ToString(u.KmsRequestId)
			}
		}
		return ids
	}

	// A clean stop: Close writes what is pending.
	acked1 := load(300*time.Millisecond, func() {})
	if err := n.proc.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	n.start(t)
	got1 := lastUses()

	// SIGKILL under load, then a restart.
	acked2 := load(1500*time.Millisecond, func() { n.proc.Kill(t) })
	n.start(t)
	n.proc.WaitStderr(t, "read the uses the store lacked from the log's tail")
	got2 := lastUses()
	if err := n.proc.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// The log orders the uses: what is reported must be the last
	// acknowledged use or a later one (a request cancelled or killed in
	// flight may have become durable without its answer reaching us).
	seq := map[string]float64{}
	for _, ev := range auditEvents(t, n.dir) {
		if id, ok := ev["requestID"].(string); ok && ev["eventName"] == "Encrypt" {
			seq[id], _ = ev["trentSeq"].(float64)
		}
	}
	total := 0
	for _, c := range []struct {
		name  string
		got   []string
		acked [][]string
	}{{"a clean restart", got1, acked1}, {"SIGKILL", got2, acked2}} {
		for g, id := range c.got {
			total += len(c.acked[g])
			if len(c.acked[g]) == 0 {
				t.Fatalf("%s: worker %d had no Encrypt acknowledged: no load", c.name, g)
			}
			last := c.acked[g][len(c.acked[g])-1]
			if id == "" || seq[id] == 0 || seq[id] < seq[last] {
				t.Errorf("key %d after %s: last use %q (seq %v), want %q (seq %v) or later", g, c.name, id, seq[id], last, seq[last])
			}
		}
	}
	t.Logf("%d Encrypts acknowledged; every key's last one reported after both restarts (%s)", total,
		strings.TrimSpace(lastLine(n.proc.Stderr(), "read the uses the store lacked")))
}

// lastLine returns the last line of s containing substr.
func lastLine(s, substr string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], substr) {
			return lines[i]
		}
	}
	return ""
}
