package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
)

// writeAuditLog makes <dataDir>/audit with n events in one run, closed
// cleanly, and returns the signing key's public PEM in a file outside it.
func writeAuditLog(t *testing.T, dataDir string, n int) (pubFile string) {
	t.Helper()
	signer, err := audit.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(audit.Options{Dir: filepath.Join(dataDir, "audit"), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ev := audit.NewAPICall(time.Date(2026, 12, 6, 10, 0, i, 0, time.UTC), audit.SourceKMS, "Encrypt", false)
		ev.UserIdentity = audit.UserIdentity{Type: "Root", PrincipalID: "111122223333", ARN: "arn:aws:iam::111122223333:root", AccountID: "111122223333"}
		ev.RequestParameters = json.RawMessage(`{"keyId":"alias/app"}`)
		ev.RecipientAccountID = "111122223333"
		if err := l.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	pem, err := audit.PublicKeyPEM(signer)
	if err != nil {
		t.Fatal(err)
	}
	pubFile = filepath.Join(t.TempDir(), "audit-key.pem")
	if err := os.WriteFile(pubFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return pubFile
}

func TestAuditVerify(t *testing.T) {
	dataDir := t.TempDir()
	pub := writeAuditLog(t, dataDir, 5)

	out, code, _ := runTrent(t, nil, "audit", "verify", "--data-dir", dataDir, "--public-key", pub)
	if code != 0 || !strings.Contains(out, "verified 5 events and 1 digests in 1 files") || strings.Contains(out, "warning") {
		t.Fatalf("verify of an intact log: exit %d\n%s", code, out)
	}

	out, code, _ = runTrent(t, nil, "audit", "verify", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "warning: trusting the public key found beside the files") || !strings.Contains(out, "verified 5 events") {
		t.Fatalf("verify without --public-key: exit %d\n%s", code, out)
	}

	// An auditor's copy of the files alone.
	cp := t.TempDir()
	entries, _ := os.ReadDir(filepath.Join(dataDir, "audit"))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dataDir, "audit", e.Name()))
		if err := os.WriteFile(filepath.Join(cp, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, code, _ := runTrent(t, nil, "audit", "verify", "--data-dir", cp, "--public-key", pub); code != 0 {
		t.Fatalf("verify of a copy: exit %d\n%s", code, out)
	}

	// Another key: the digests were not signed by it.
	other := writeAuditLog(t, t.TempDir(), 1)
	out, code, _ = runTrent(t, nil, "audit", "verify", "--data-dir", dataDir, "--public-key", other)
	if code != 1 || !strings.Contains(out, "signed by another key") {
		t.Fatalf("verify with another key: exit %d\n%s", code, out)
	}

	// One byte edited in the second event.
	files, _ := filepath.Glob(filepath.Join(cp, "audit-*.jsonl"))
	data, _ := os.ReadFile(files[0])
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines[1] = bytes.Replace(lines[1], []byte(`"alias/app"`), []byte(`"alias/apq"`), 1)
	if err := os.WriteFile(files[0], bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code, _ = runTrent(t, nil, "audit", "verify", "--data-dir", cp, "--public-key", pub)
	want := "trent audit: verify failed: " + filepath.Base(files[0]) + " line 2: edited"
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("verify of an edited copy: exit %d, want 1 and %q\n%s", code, want, out)
	}
}

func TestAuditPublicKey(t *testing.T) {
	dataDir := t.TempDir()
	pub := writeAuditLog(t, dataDir, 1)
	want, _ := os.ReadFile(pub)
	out, code, _ := runTrent(t, nil, "audit", "public-key", "--data-dir", dataDir)
	if code != 0 || out != string(want) {
		t.Fatalf("public-key: exit %d\n%s\nwant\n%s", code, out, want)
	}
}

func TestAuditRefuses(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit"}, "usage:"},
		{[]string{"audit", "check"}, `unknown command "check"`},
		{[]string{"audit", "verify"}, "--data-dir is required"},
		{[]string{"audit", "verify", "--data-dir", empty}, "holds no audit log"},
		{[]string{"audit", "public-key", "--data-dir", empty}, "holds no audit log"},
		{[]string{"audit", "verify", "--data-dir", empty, "extra"}, "unexpected arguments"},
	} {
		out, code, _ := runTrent(t, nil, tc.args...)
		if code != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("trent %q: exit %d, want 1 and %q\n%s", tc.args, code, tc.want, out)
		}
	}
}

// TestAuditArchiveFlags: archive's required flags and bounds are checked
// before anything moves, and a log with one digest has nothing to move.
func TestAuditArchiveFlags(t *testing.T) {
	dataDir := t.TempDir()
	writeAuditLog(t, dataDir, 5)
	// A node of an installation on PostgreSQL: its log has a node id.
	nodeDir := t.TempDir()
	writeAuditLog(t, nodeDir, 5)
	if _, err := audit.NodeID(filepath.Join(nodeDir, "audit")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data-dir", dataDir}, "--data-dir and --to are required"},
		{[]string{"--to", t.TempDir()}, "--data-dir and --to are required"},
		{[]string{"--data-dir", dataDir, "--to", t.TempDir(), "--older-than", "-1h"}, "must not be negative"},
		{[]string{"--data-dir", dataDir, "--to", filepath.Join(dataDir, "audit", "old")}, "inside the log's directory"},
		{[]string{"--data-dir", dataDir, "--to", t.TempDir(), "--older-than", "0s"}, "nothing to archive"},
		{[]string{"--data-dir", dataDir, "--to", t.TempDir(), "--database-url", "postgres://x/y"}, "--database-url does not apply"},
		{[]string{"--data-dir", nodeDir, "--to", t.TempDir()}, "give its --database-url"},
	} {
		out, _, _ := runTrent(t, nil, append([]string{"audit", "archive"}, tc.args...)...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("audit archive %q:\n%s\nwant …%s…", tc.args, out, tc.want)
		}
	}
}
