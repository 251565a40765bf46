package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
)

// TestArchiveAuditKeepsWhatIsNotShipped: a node whose shipper has not yet
// found what the database holds (Through 0) archives nothing, where a
// node without a shipper (SQLite) archives the same log's older part.
func TestArchiveAuditKeepsWhatIsNotShipped(t *testing.T) {
	signer, err := audit.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	logIn := func(dir string) *audit.Log {
		t.Helper()
		l, err := audit.Open(audit.Options{Dir: dir, Signer: signer})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	// Three runs of a log, each closed with a digest, then a fourth open:
	// enough for Archive to move event files.
	write := func(dir string) *audit.Log {
		t.Helper()
		var l *audit.Log
		for run := range 4 {
			if l != nil {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			l = logIn(dir)
			ev := audit.NewAPICall(time.Now(), audit.SourceKMS, "ListKeys", true)
			if err := l.Record(context.Background(), ev); err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
		}
		return l
	}
	for _, tc := range []struct {
		name    string
		shipper *audit.Shipper
		moves   bool
	}{
		{"no shipper", nil, true},
		{"shipper before its first round", audit.NewShipper(nil, nil), false},
	} {
		dir, to := t.TempDir(), filepath.Join(t.TempDir(), "archive")
		a := &App{Audit: write(dir), shipper: tc.shipper}
		if err := a.ArchiveAudit(context.Background(), to, 0, nil); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		moved, _ := filepath.Glob(filepath.Join(to, "audit-*.jsonl"))
		if (len(moved) > 0) != tc.moves {
			t.Errorf("%s: %d event files moved; want files moved: %v", tc.name, len(moved), tc.moves)
		}
	}
}
