package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestSurvivesKill runs a child process that records from 8 goroutines
// and kills itself with SIGKILL in the middle of that load, three times in
// a row on the same directory. Every event whose Record returned nil must
// be in the files, and the log must verify across the crashes — before
// and after the next Open has covered what the crashes left. (SIGKILL
// loses what the process holds, not the kernel's page cache: this shows
// that nothing is acknowledged before it is written; TestGroupCommit
// shows that nothing is acknowledged before its fsync returns.)
func TestSurvivesKill(t *testing.T) {
	if dir := os.Getenv("TRENT_AUDIT_KILL_CHILD"); dir != "" {
		killChild(dir, os.Getenv("TRENT_AUDIT_KILL_KEY"), 0, 300)
		return
	}
	survivesKill(t, "^TestSurvivesKill$")
}

// TestSurvivesKillPreallocated is TestSurvivesKill with small files and
// more events, so that the log writes into preallocated segments (256 KiB
// spares, made within milliseconds) when it is killed: the zeros and any
// torn write after the last acknowledged line are cut off at the next
// Open, and nothing acknowledged is lost.
func TestSurvivesKillPreallocated(t *testing.T) {
	if dir := os.Getenv("TRENT_AUDIT_KILL_CHILD"); dir != "" {
		killChild(dir, os.Getenv("TRENT_AUDIT_KILL_KEY"), 256<<10, 1500)
		return
	}
	survivesKill(t, "^TestSurvivesKillPreallocated$")
}

func survivesKill(t *testing.T, run string) {
	der, err := MarshalSigningKey(testSigner)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing-key.der")
	if err := os.WriteFile(keyFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "audit")
	var acked []string
	for round := range 3 {
		cmd := testcmd.Command(t, os.Args[0], "-test.run="+run)
		cmd.Env = append(os.Environ(), "TRENT_AUDIT_KILL_CHILD="+dir, "TRENT_AUDIT_KILL_KEY="+keyFile)
		out, err := cmd.Output()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("round %d: child: %v, want it killed; output:\n%s", round, err, out)
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, not SIGKILL; stderr:\n%s", round, err, exit.Stderr)
		}
		ids := strings.Fields(string(out))
		if len(ids) == 0 {
			t.Fatalf("round %d: the child acknowledged nothing; stderr:\n%s", round, exit.Stderr)
		}
		acked = append(acked, ids...)
		if files := eventFiles(t, dir); len(files) > 0 {
			data, err := os.ReadFile(files[len(files)-1])
			if err != nil {
				t.Fatal(err)
			}
			if _, tail, torn := splitSegment(data); tail > 0 {
				t.Logf("round %d: the newest of %d files ends with %d bytes not acknowledged (%d torn)", round, len(files), tail, len(torn))
			}
		}
	}

	// As the crash left it: the last run's events are not yet covered by
	// a digest, but every link holds.
	rep, err := Verify(dir, testSigner.Public())
	if err != nil {
		t.Fatalf("Verify after the crashes: %v", err)
	}
	t.Logf("after 3 kills: %d acknowledged, %d events in %d files, %d digests, %d not yet covered, torn tail %v",
		len(acked), rep.Events, rep.Files, rep.Digests, rep.Uncovered, rep.Torn)

	closeLog(t, openLog(t, dir, Options{}))
	rep = mustVerify(t, dir)
	if rep.Uncovered != 0 {
		t.Errorf("%d events uncovered after a clean open and close", rep.Uncovered)
	}
	written := map[string]bool{}
	for _, ln := range allLines(t, dir) {
		var e struct {
			EventID string `json:"eventID"`
		}
		if err := json.Unmarshal([]byte(ln), &e); err != nil {
			t.Fatal(err)
		}
		written[e.EventID] = true
	}
	for _, id := range acked {
		if !written[id] {
			t.Errorf("event %s was acknowledged but is not in the log", id)
		}
	}
}

// killChild records until killAt events are acknowledged, printing each
// id as its Record returns, then kills itself while the other goroutines
// are still recording.
func killChild(dir, keyFile string, maxFileBytes int64, killAt int) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	der, err := os.ReadFile(keyFile)
	if err != nil {
		fail(err)
	}
	signer, err := ParseSigningKey(der)
	if err != nil {
		fail(err)
	}
	l, err := Open(Options{Dir: dir, Signer: signer, MaxFileBytes: maxFileBytes, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fail(err)
	}
	var mu sync.Mutex
	acked := 0
	for g := range 8 {
		go func() {
			for i := 0; ; i++ {
				ev := testEvent(g*1_000_000 + i)
				if err := l.Record(context.Background(), ev); err != nil {
					fail(err)
				}
				mu.Lock()
				os.Stdout.WriteString(ev.EventID + "\n") // acknowledged: the parent holds us to it
				acked++
				if acked == killAt {
					p, _ := os.FindProcess(os.Getpid())
					p.Kill()
				}
				mu.Unlock()
			}
		}()
	}
	select {}
}
