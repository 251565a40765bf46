package audit

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClaimedIntentQueuedOnce: the event of a claimed intent that a
// refusing disk leaves queued is not queued again by the next rounds
// while it waits, and its intent is kept; once the disk takes it, a round
// finds it in the log and deletes the intent: one event, marked as
// recovered from the gone node.
func TestClaimedIntentQueuedOnce(t *testing.T) {
	defer func(d time.Duration) { intentSweepEvery = d }(intentSweepEvery)
	intentSweepEvery = time.Hour
	ctx := context.Background()
	db := openUsageStore(t, filepath.Join(t.TempDir(), "trent.db"))
	gone := openLog(t, t.TempDir(), Options{KeyUses: db, Intents: db})
	lost := intentEvent(t, gone, db, 1, testKeyARN)
	closeLog(t, gone)
	ins, err := db.AuditIntents(ctx, "")
	if err != nil || len(ins) != 1 {
		t.Fatalf("intents: %d, %v; want 1", len(ins), err)
	}
	// As ClaimOrphanedIntents returns it (SQLite has no claims: the
	// row's own node stays "", which this log's Open leaves alone).
	ins[0].Origin, ins[0].ClaimedAt = "n-gone", time.Now()

	dir := t.TempDir()
	fs := &faultFS{}
	l := openLog(t, dir, Options{KeyUses: db, Intents: db, NodeID: "n-claimer", FS: fs, Deadline: 2 * time.Second})
	fs.setFail(errors.New("injected: no space left on device"))
	for round := range 3 {
		if n, err := l.recordClaimed(ctx, ins); err != nil || n != 0 {
			t.Fatalf("round %d on a refusing disk: %d, %v; want 0 events durable, nil", round, n, err)
		}
		if q := l.queued.Load(); q != 1 {
			t.Fatalf("round %d on a refusing disk: %d events queued, want 1", round, q)
		}
		if left, _ := db.AuditIntents(ctx, ""); len(left) != 1 {
			t.Fatalf("round %d on a refusing disk: %d intents, want 1 kept", round, len(left))
		}
	}
	fs.setFail(nil)
	waitFor(t, "the queued event to be written", func() bool { return l.Ready() == nil && l.queued.Load() == 0 })
	if n, err := l.recordClaimed(ctx, ins); err != nil || n != 0 {
		t.Fatalf("round once the disk took the event: %d, %v; want nothing more written", n, err)
	}
	if left, _ := db.AuditIntents(ctx, ""); len(left) != 0 {
		t.Errorf("%d intents once the event is durable, want none", len(left))
	}
	closeLog(t, l)
	n, line := countLines(t, dir, `"eventID":"`+lost.EventID+`"`)
	if n != 1 || !strings.Contains(line, `"trentRecoveredFrom":"n-gone"`) || !strings.Contains(line, `"trentNode":"n-claimer"`) {
		t.Fatalf("the claimed event is in the log %d times (%s), want once, recovered from n-gone in n-claimer's chain", n, line)
	}
	mustVerify(t, dir)
}
